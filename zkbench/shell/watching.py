"""``watch path``: a stream of change lines for a znode or a subtree, until the user stops it.

Recursive watches use a persistent recursive watch (addWatch, ZooKeeper 3.6+) and read each new value; without
zkbench's addWatch they fall back to kazoo's TreeCache (one-shot watches re-armed on every znode, which can
coalesce fast changes). ``-d`` watches only the znode (DataWatch). Events
arrive on kazoo's thread; the sink must only enqueue or print.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kazoo import exceptions as kex
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.recipe.watchers import DataWatch

from zkbench.shell.core import EventStream, Shell

__all__ = ["make_watch_stream", "format_change"]

log = logging.getLogger(__name__)

_PREVIEW = 60


def _preview(data: bytes | None) -> str:
    if data is None:
        return ""
    text = data.decode("utf-8", errors="backslashreplace")
    text = text.replace("\n", "\\n")
    if len(text) > _PREVIEW:
        text = text[:_PREVIEW] + "…"
    return f" = {text!r}" if data else ""


def format_change(kind: str, path: str, data: bytes | None = None, version: int | None = None) -> str:
    """``03:40:01.123 changed /a v3 = 'x'``: one line per event."""
    now = time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
    ver = f" v{version}" if version is not None else ""
    return f"{stamp} {kind:<8} {path}{ver}{_preview(data)}"


def _start_persistent(client, path: str, sink: Callable[[str], None],  # noqa: ANN001
                      state: dict[str, object]) -> None:
    """A persistent recursive watch (addWatch, 3.6+): every create/change/delete below ``path``, none missed
    while connected. Each event is followed by a read of the new value; replies come back in request order,
    so lines stay in the order of the changes."""
    stopped = threading.Event()
    state["persistent"] = stopped
    kinds = {"CREATED": "created", "CHANGED": "changed", "DELETED": "deleted"}

    def emit(kind: str, znode: str, result) -> None:  # noqa: ANN001
        if stopped.is_set():
            return
        if kind == "deleted":
            sink(format_change(kind, znode))
            return
        try:
            data, stat = result.get()
        except kex.NoNodeError:
            sink(format_change(kind, znode) + " (already gone)")
            return
        except kex.KazooException as exc:
            sink(format_change(kind, znode) + f" (value not read: {type(exc).__name__})")
            return
        sink(format_change(kind, znode, data, stat.version))

    def on_note(note) -> None:  # noqa: ANN001 - WatchNotification, on kazoo's watch thread
        if stopped.is_set():
            return
        if note.path is None:
            sink(format_change("gap", path) + " (connection lost: changes until it is back are not shown)")
            return
        kind = kinds.get(str(note.type))
        if kind is None:
            return
        result = client.exists_async(note.path) if kind == "deleted" else client.get_async(note.path)
        result.rawlink(lambda r, k=kind, p=note.path: emit(k, p, r))

    client.add_watch(path, on_note, "persistent_recursive")


def make_watch_stream(shell: Shell, path: str, *, recursive: bool = True, limit: int | None = None,
                      seconds: float | None = None) -> EventStream:
    client = shell.client
    state: dict[str, object] = {}

    def start(sink: Callable[[str], None]) -> None:
        if recursive and callable(getattr(client, "add_watch", None)):
            _start_persistent(client, path, sink, state)
            shell.persistent_roots.add(path)
        elif recursive:
            cache = TreeCache(client, path)
            ready = threading.Event()

            def on_tree(event: TreeEvent) -> None:
                if event.event_type == TreeEvent.INITIALIZED:
                    ready.set()
                    return
                if not ready.is_set() or event.event_data is None:
                    if event.event_type in (TreeEvent.CONNECTION_LOST, TreeEvent.CONNECTION_SUSPENDED):
                        sink(format_change("lost", path) + " (connection; events may be missed)")
                    elif event.event_type == TreeEvent.CONNECTION_RECONNECTED:
                        sink(format_change("resumed", path))
                    return
                node = event.event_data
                kind = {TreeEvent.NODE_ADDED: "created", TreeEvent.NODE_UPDATED: "changed",
                        TreeEvent.NODE_REMOVED: "deleted"}.get(event.event_type, str(event.event_type))
                stat = node.stat
                sink(format_change(kind, node.path, None if kind == "deleted" else node.data,
                                   getattr(stat, "version", None) if kind != "deleted" else None))

            cache.listen(on_tree)
            cache.start()
            ready.wait(5.0)
            state["cache"] = cache
        else:
            first = threading.Event()
            stopped = threading.Event()
            state["stopped"] = stopped

            def on_data(data: bytes | None, stat, event) -> bool | None:  # noqa: ANN001
                if stopped.is_set():
                    return False
                if not first.is_set():
                    first.set()
                    return None
                if stat is None:
                    sink(format_change("deleted", path))
                else:
                    sink(format_change("created" if event is not None and event.type == "CREATED" else "changed",
                                       path, data, stat.version))
                return None

            DataWatch(client, path, on_data)

    def stop() -> None:
        persistent = state.pop("persistent", None)
        if persistent is not None:
            persistent.set()  # type: ignore[attr-defined]
            shell.persistent_roots.discard(path)
            try:
                client.remove_watches(path, "persistent_recursive")
            except (kex.NoWatcherError, kex.ConnectionClosedError, kex.ConnectionLoss, kex.SessionExpiredError,
                    kex.OperationTimeoutError) as exc:
                log.debug("removing the watch on %s: %s", path, exc)
        cache = state.pop("cache", None)
        if cache is not None:
            try:
                cache.close()  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - closing must not fail the shell; log why
                log.exception("closing the watch on %s failed", path)
        stopped = state.get("stopped")
        if isinstance(stopped, threading.Event):
            stopped.set()
        timer = state.pop("timer", None)
        if isinstance(timer, threading.Timer):
            timer.cancel()

    stream = EventStream(f"watch {path}", start, stop, limit=limit)
    if seconds:
        timer = threading.Timer(seconds, stream.stop)
        timer.daemon = True
        state["timer"] = timer
        original_start = stream._start

        def start_with_timer(sink: Callable[[str], None]) -> None:
            original_start(sink)
            timer.start()

        stream._start = start_with_timer
    return stream
