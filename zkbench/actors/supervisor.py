"""Start, signal and watch actor processes; collect their events into one stream and one history.

Usable from plain code and tests (sync methods, callbacks, :meth:`Supervisor.subscribe` queues,
:meth:`Supervisor.wait_for`) and from a Textual async worker (:meth:`Supervisor.events`, an async iterator;
``spawn``/``stop(wait=False)``/``crash``/``pause``/``resume`` never block). Signals are real: ``stop`` is SIGTERM
(graceful: the session closes, ephemerals vanish now), ``crash`` SIGKILL (the session expires after its timeout),
``pause``/``resume`` SIGSTOP/SIGCONT (a pause past the session timeout is the GC-pause hazard).

No orphans: processes are started from one long-lived thread with Linux's parent-death signal (SIGKILL), every
supervisor kills its actors in :meth:`close`, and ``atexit`` closes the ones still open.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, Any

from zkbench.actors.protocol import ActorEvent

__all__ = ["Supervisor", "ActorHandle", "ActorError"]

log = logging.getLogger(__name__)

_open_supervisors: "weakref.WeakSet[Supervisor]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for sup in list(_open_supervisors):
        sup.close(timeout=1.0)


class ActorError(RuntimeError):
    """Unknown actor id, duplicate id, or an actor that could not be started."""


@dataclass(eq=False)
class ActorHandle:
    """One supervised actor. ``state``/``session``/``watching`` follow its latest events."""

    id: str
    role: str
    pid: int
    hosts: str
    argv: list[str]
    started: float = field(default_factory=time.time)
    state: str | None = None
    session: str = ""
    watching: str | None = None
    paused: bool = False
    returncode: int | None = None
    _proc: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


def options_to_argv(options: dict[str, Any]) -> list[str]:
    """``hold=2.5, repeat=3, fence="/f", json=True`` -> ``--hold 2.5 --repeat 3 --fence /f --json``."""
    argv: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        argv.append(flag) if value is True else argv.extend([flag, str(value)])
    return argv


class _Spawner(threading.Thread):
    """Forks every actor from one thread that lives as long as the process: the parent-death signal fires when
    the *thread* that forked the child ends, so forking from a short-lived worker thread would kill actors."""

    def __init__(self) -> None:
        super().__init__(name="actor-spawner", daemon=True)
        self.requests: queue.Queue[tuple[list[str], dict[str, str], Future[subprocess.Popen[str]]]] = queue.Queue()

    def run(self) -> None:
        while True:
            argv, env, fut = self.requests.get()
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1, env=env,
                                        start_new_session=True)  # Ctrl-C reaches us, not the actors
                fut.set_result(proc)
            except OSError as exc:
                fut.set_exception(exc)


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
            _spawner.start()
    fut: Future[subprocess.Popen[str]] = Future()
    _spawner.requests.put((argv, env, fut))
    return fut.result(timeout=30)


class Supervisor:
    """Actors against one ensemble. ``hosts`` is the default connect string; ``session_timeout`` the default."""

    def __init__(self, hosts: str, *, session_timeout: float | None = None, python: str = sys.executable,
                 history_limit: int = 200_000, extra_env: dict[str, str] | None = None) -> None:
        self.hosts = hosts
        self.session_timeout = session_timeout
        self.python = python
        self.extra_env = extra_env or {}
        self._actors: dict[str, ActorHandle] = {}
        self._history: collections.deque[ActorEvent] = collections.deque(maxlen=history_limit)
        self._cond = threading.Condition()
        self._listeners: list[Callable[[ActorEvent], None]] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        _open_supervisors.add(self)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def spawn(self, role: str, actor_id: str, hosts: str | None = None, **options: Any) -> ActorHandle:
        """Start ``python -m zkbench.actors ROLE --json --id ACTOR_ID ...``; options become flags."""
        if self._closed:
            raise ActorError("supervisor is closed")
        from zkbench.actors.runner import ROLES  # the role table lives with the actor code

        if role not in ROLES:
            raise ActorError(f"unknown actor role {role!r} (roles: {', '.join(ROLES)})")
        with self._cond:
            old = self._actors.get(actor_id)
            if old is not None and old.alive:
                raise ActorError(f"actor {actor_id} is already running (pid {old.pid})")
        hosts = hosts or self.hosts
        opts = dict(options)
        if self.session_timeout is not None:
            opts.setdefault("session_timeout", self.session_timeout)
        argv = [self.python, "-m", "zkbench.actors", role, "--json", "--id", actor_id, "--hosts", hosts,
                *options_to_argv(opts)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "ZKBENCH_ACTOR_PDEATHSIG": "1", **self.extra_env}
        try:
            proc = _spawn(argv, env)
        except OSError as exc:
            raise ActorError(f"could not start actor {actor_id}: {exc}") from exc
        handle = ActorHandle(actor_id, role, proc.pid, hosts, argv, _proc=proc)
        with self._cond:
            self._actors[actor_id] = handle
        self._record(ActorEvent(actor_id, "spawned", f"started {role} actor {actor_id} (pid {proc.pid})",
                                role=role, source="supervisor", details={"pid": proc.pid}))
        for stream, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
            t = threading.Thread(target=self._read, args=(handle, stream, name), name=f"actor {actor_id} {name}",
                                 daemon=True)
            t.start()
            self._threads.append(t)
        return handle

    def stop(self, actor_id: str, *, wait: bool = True, timeout: float = 10.0) -> int | None:
        """SIGTERM: the actor releases what it holds and closes its session. Returns the exit code if waited."""
        handle = self.get(actor_id)
        self._signal(handle, signal.SIGTERM, "stop-requested", "sent SIGTERM (graceful stop)")
        if handle.paused:  # a stopped process only sees SIGTERM once continued
            self._signal(handle, signal.SIGCONT, "resumed", "sent SIGCONT so it can stop")
            handle.paused = False
        return self.wait(actor_id, timeout) if wait else None

    def crash(self, actor_id: str, *, wait: bool = True) -> None:
        """SIGKILL: no cleanup; its session (and ephemerals) live until the session timeout."""
        handle = self.get(actor_id)
        self._signal(handle, signal.SIGKILL, "crashed", "sent SIGKILL (crash): session lingers until it expires")
        handle.paused = False
        if wait:
            self.wait(actor_id, 5.0)

    def pause(self, actor_id: str) -> None:
        """SIGSTOP: the process freezes (heartbeats stop too, like a long GC pause)."""
        handle = self.get(actor_id)
        self._signal(handle, signal.SIGSTOP, "paused", "sent SIGSTOP (paused, like a long GC pause)")
        handle.paused = True

    def resume(self, actor_id: str) -> None:
        handle = self.get(actor_id)
        self._signal(handle, signal.SIGCONT, "resumed", "sent SIGCONT (resumed)")
        handle.paused = False

    def wait(self, actor_id: str, timeout: float | None = None) -> int | None:
        """Block until the actor exits (its exit code) or ``timeout`` passes (None)."""
        handle = self.get(actor_id)
        assert handle._proc is not None
        try:
            return handle._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def list(self) -> list[ActorHandle]:
        with self._cond:
            return list(self._actors.values())

    def get(self, actor_id: str) -> ActorHandle:
        with self._cond:
            handle = self._actors.get(actor_id)
        if handle is None:
            raise ActorError(f"no actor named {actor_id}")
        return handle

    def close(self, timeout: float = 5.0) -> None:
        """Stop every live actor (SIGTERM, then SIGKILL after ``timeout``) and forget them."""
        self._closed = True
        live = [h for h in self.list() if h.alive]
        for h in live:
            try:
                os.kill(h.pid, signal.SIGTERM)
                os.kill(h.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for h in live:
            assert h._proc is not None
            try:
                h._proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                h._proc.kill()
                h._proc.wait()
        for t in self._threads:
            t.join(1.0)
        _open_supervisors.discard(self)

    def __enter__(self) -> "Supervisor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ------------------------------------------------------------------------------------------------
    @property
    def history(self) -> list[ActorEvent]:
        """Every event so far, in arrival order (what the checkers take)."""
        with self._cond:
            return list(self._history)

    def add_listener(self, callback: Callable[[ActorEvent], None]) -> None:
        """``callback(event)`` runs on a reader thread for every event: it must only record or enqueue."""
        with self._cond:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[ActorEvent], None]) -> None:
        with self._cond:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def subscribe(self) -> "queue.Queue[ActorEvent]":
        """A thread-safe queue that receives every event from now on (``unsubscribe`` it when done)."""
        q: queue.Queue[ActorEvent] = queue.Queue()
        self.add_listener(q.put)
        return q

    def unsubscribe(self, q: "queue.Queue[ActorEvent]") -> None:
        self.remove_listener(q.put)

    async def events(self) -> AsyncIterator[ActorEvent]:
        """Every event from now on, for an asyncio consumer (a Textual async worker)."""
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[ActorEvent] = asyncio.Queue()

        def bridge(event: ActorEvent) -> None:
            loop.call_soon_threadsafe(q.put_nowait, event)

        self.add_listener(bridge)
        try:
            while True:
                yield await q.get()
        finally:
            self.remove_listener(bridge)

    def wait_for(self, predicate: Callable[[ActorEvent], bool], timeout: float = 10.0, *,
                 since: int = 0) -> ActorEvent:
        """The first event in the history (from index ``since``) matching ``predicate``, waiting for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in list(self._history)[since:]:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching actor event within {timeout:g}s")
                self._cond.wait(left)

    def mark(self) -> int:
        """The current history length: pass it as ``since`` to wait only for newer events."""
        with self._cond:
            return len(self._history)

    # -- internals ---------------------------------------------------------------------------------------------
    def _signal(self, handle: ActorHandle, sig: signal.Signals, kind: str, message: str) -> None:
        if not handle.alive:
            raise ActorError(f"actor {handle.id} is not running")
        self._record(ActorEvent(handle.id, kind, message, role=handle.role, session=handle.session,
                                state=handle.state, source="supervisor", details={"signal": sig.name}))
        try:
            os.kill(handle.pid, sig)
        except ProcessLookupError:
            raise ActorError(f"actor {handle.id} is not running") from None

    def _record(self, event: ActorEvent) -> None:
        with self._cond:
            self._history.append(event)
            listeners = list(self._listeners)
            handle = self._actors.get(event.actor)
            if handle is not None and event.source == "actor":
                if event.state:
                    handle.state = event.state
                if event.session:
                    handle.session = event.session
                if "recipe" in event.details:  # every recipe step carries what is watched now
                    handle.watching = event.watching
            self._cond.notify_all()
        for callback in listeners:
            try:
                callback(event)
            except Exception:  # one broken consumer must not starve the others
                log.exception("actor event listener failed")

    def _read(self, handle: ActorHandle, stream: IO[str] | None, name: str) -> None:
        if stream is None:
            return
        for line in _lines(stream):
            if name == "stderr":
                log.warning("actor %s stderr: %s", handle.id, line)
                self._record(ActorEvent(handle.id, "stderr", line, role=handle.role, source="supervisor"))
                continue
            try:
                event = ActorEvent.from_json(line)
            except ValueError:
                event = ActorEvent(handle.id, "output", line, role=handle.role, source="supervisor")
            self._record(event)
        if name == "stdout":
            assert handle._proc is not None
            code = handle._proc.wait()
            handle.returncode = code
            handle.paused = False
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            self._record(ActorEvent(handle.id, "exited", f"process ended ({how})", role=handle.role,
                                    session=handle.session, state="stopped", source="supervisor",
                                    details={"returncode": code}))
            handle.state = "stopped"


def _lines(stream: IO[str]) -> Iterable[str]:
    try:
        for raw in stream:
            line = raw.rstrip("\n")
            if line:
                yield line
    except (OSError, ValueError) as exc:  # the pipe closed under us
        log.debug("actor pipe closed: %s", exc)
    finally:
        stream.close()
