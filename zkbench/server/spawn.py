"""Start child processes that die with this *process*, even when it is SIGKILLed.

Linux's parent-death signal (``PR_SET_PDEATHSIG``) fires when the *thread* that forked the child exits, not when
the process does. A server restarted from a Textual thread worker or a pytest executor thread would be killed as
soon as that short-lived thread ended. So every such child is forked by one long-lived daemon thread, which ends
only with the process.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import threading
from typing import Any

__all__ = ["popen_tied_to_process"]

_PR_SET_PDEATHSIG = 1


def _die_with(parent_pid: int) -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        return
    if os.getppid() != parent_pid:  # the parent died between fork and prctl: the signal will never come
        os._exit(1)


class _Request:
    """One Popen call handed to the forker thread, and its outcome."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args, self.kwargs = args, kwargs
        self.done = threading.Event()
        self.result: subprocess.Popen[bytes] | None = None
        self.error: BaseException | None = None


class _Forker:
    """One daemon thread that runs ``subprocess.Popen`` for everyone (a new one after ``os.fork``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue[_Request] | None = None
        self._pid = 0

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        kwargs["preexec_fn"] = lambda parent=os.getpid(): _die_with(parent)
        request = _Request(args, kwargs)
        self._queue().put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _queue(self) -> queue.SimpleQueue:
        with self._lock:
            if self._requests is None or self._pid != os.getpid():
                self._requests = queue.SimpleQueue()
                self._pid = os.getpid()
                threading.Thread(target=self._run, args=(self._requests,), name="zkbench-forker",
                                 daemon=True).start()
            return self._requests

    @staticmethod
    def _run(requests: queue.SimpleQueue) -> None:
        while True:
            request = requests.get()
            try:
                request.result = subprocess.Popen(*request.args, **request.kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who re-raises it
                request.error = exc
            request.done.set()


_forker = _Forker()


def popen_tied_to_process(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` whose child gets SIGKILL when this process ends, from whichever thread asks."""
    return _forker.popen(*args, **kwargs)
