"""The mirror: a fast, correct, watched copy of a ZooKeeper namespace, with its own session.

How it stays correct
--------------------
Everything the server tells the mirror (read replies and watch notifications) is applied by ONE thread in the
order it came off the wire. ZooKeeper processes a session's reads in order and never concurrently with a write,
and queues a notification before any later reply, so wire order is a consistent order: a reply that arrives after
a notification already reflects that change. Hence the rule for re-reads: a change notification for a path with a
read already queued or in flight needs no new read (that read will see the change); otherwise one read is queued.
Replies are additionally guarded: a stat older than the held one (czxid, mzxid, pzxid) is ignored; a known path is
never "created" again and an unknown one never "deleted".

Strategies
----------
- ``persistent`` (ZooKeeper 3.6+): one ``addWatch(root, PERSISTENT_RECURSIVE)`` (O(1) server watches); reads are
  batched with ``multiRead`` (opcode 22), up to ``window`` batches in flight. Recursive watches deliver no
  children-changed events, so structure comes from created/deleted events; the parent's stat is re-read on each.
- ``classic`` (any server): one-shot data and child watches on every znode, set by pipelined getData/getChildren
  and re-armed when they fire (what the course teaches; 2 watches and 2 requests per znode).

After a reconnect (the server drops a connection's watches; kazoo does not send SetWatches) or a session expiry
(a new session; ZkClient re-adds the persistent watch either way), the mirror re-walks the tree and emits exactly
the differences, bracketed by ResyncStarted/ResyncFinished.

Storage is compact: per znode a 3-slot record holding the 68 stat bytes as they came off the wire, the data (or
None when larger than ``lazy_data_over``; :meth:`Mirror.load_data` fetches it) and a sorted list of child names.
"""

from __future__ import annotations

import bisect
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kazoo.client import KazooState
from kazoo.exceptions import ConnectionClosedError, ConnectionLoss, NoAuthError, NoNodeError, SessionExpiredError
from kazoo.protocol.serialization import Exists, GetChildren2, GetData, Sync, stat_struct
from kazoo.protocol.states import EventType, ZnodeStat

from zkbench.connection import Connection, ConnectionSettings
from zkbench.errors import ZkBenchError
from zkbench.events import (ChildrenChanged, DataChanged, NodeAdded, NodeRemoved, ResyncFinished, ResyncStarted,
                            SyncProgress)
from zkbench.protocol import MultiRead, ReadChildren, ReadData, WatchNotification, ZkClient

__all__ = ["NodeInfo", "TreeModel", "StaticTree", "Mirror", "MirrorError", "STRATEGIES"]

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "classic", "persistent")

_unpack_stat = stat_struct.unpack
# offsets in the 68 stat bytes: czxid 0, mzxid 8, ctime 16, mtime 24, version 32, cversion 36, aversion 40,
# ephemeralOwner 44, dataLength 52, numChildren 56, pzxid 60
_EMPTY: tuple[str, ...] = ()
#: Never leave more requests unsent in kazoo's queue: replies are applied on kazoo's connection thread, which must
#: not block on its own wake-up socketpair (see ZkClient.submit).
MAX_UNSENT = 128


class MirrorError(ZkBenchError):
    """The mirror cannot do what was asked (e.g. persistent strategy on a server older than 3.6)."""


def _stat(raw: bytes) -> ZnodeStat:
    return ZnodeStat._make(_unpack_stat(raw))


def _zxids(raw: bytes) -> tuple[int, int, int]:
    return (int.from_bytes(raw[0:8], "big", signed=True), int.from_bytes(raw[8:16], "big", signed=True),
            int.from_bytes(raw[60:68], "big", signed=True))


def _num_children(raw: bytes) -> int:
    return int.from_bytes(raw[56:60], "big", signed=True)


def _parent(path: str) -> str:
    parent = path.rsplit("/", 1)[0]
    return parent or "/"


def _join(parent: str, name: str) -> str:
    return parent + name if parent == "/" else parent + "/" + name


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One znode as the mirror holds it. ``data`` is None when not loaded (large: see ``load_data``)."""

    path: str
    stat: ZnodeStat
    data: bytes | None
    children: tuple[str, ...]  # sorted child names


@runtime_checkable
class TreeModel(Protocol):
    """What the UI reads. :class:`Mirror` and :class:`StaticTree` implement it."""

    def get(self, path: str) -> NodeInfo | None: ...
    def children(self, path: str) -> tuple[str, ...]: ...
    def __contains__(self, path: object) -> bool: ...
    def __len__(self) -> int: ...
    def load_data(self, path: str) -> bytes | None: ...
    def paths_with_prefix(self, prefix: str, limit: int) -> list[str]: ...


class _Node:
    """Compact per-znode record (see module docstring)."""

    __slots__ = ("stat", "data", "kids")

    def __init__(self, stat: bytes, data: bytes | None, kids: list[str] | None) -> None:
        self.stat = stat
        self.data = data
        self.kids = kids


class _Store:
    """The path -> record map and the TreeModel reads over it; subclasses fill it."""

    def __init__(self) -> None:
        self._nodes: dict[str, _Node] = {}
        self._lock = threading.RLock()

    def get(self, path: str) -> NodeInfo | None:
        with self._lock:
            node = self._nodes.get(path)
            if node is None:
                return None
            return NodeInfo(path, _stat(node.stat), node.data, tuple(node.kids) if node.kids else _EMPTY)

    def children(self, path: str) -> tuple[str, ...]:
        with self._lock:
            node = self._nodes.get(path)
            return tuple(node.kids) if node is not None and node.kids else _EMPTY

    def __contains__(self, path: object) -> bool:
        return path in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def paths(self) -> list[str]:
        with self._lock:
            return list(self._nodes)

    def load_data(self, path: str) -> bytes | None:
        with self._lock:
            node = self._nodes.get(path)
            return None if node is None else node.data

    def paths_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Completions for a typed path: children of its directory part whose names start with the rest."""
        if not prefix.startswith("/"):
            prefix = "/" + prefix
        directory, _, partial = prefix.rpartition("/")
        directory = directory or "/"
        with self._lock:
            node = self._nodes.get(directory)
            kids = node.kids if node is not None and node.kids else []
            start = bisect.bisect_left(kids, partial)
            out: list[str] = []
            for name in kids[start:]:
                if not name.startswith(partial) or len(out) >= limit:
                    break
                out.append(_join(directory, name))
            return out

    def snapshot(self) -> dict[str, tuple[bytes | None, ZnodeStat]]:
        """path -> (data, stat) of everything held (for tests and checks)."""
        with self._lock:
            return {p: (n.data, _stat(n.stat)) for p, n in self._nodes.items()}


class StaticTree(_Store):
    """A fixed in-memory model for UI snapshot tests: deterministic stats, no server."""

    BASE_TIME_MS = 1_700_000_000_000

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "StaticTree":
        """``{"/app": b"x", "/app/config": (b'{"a":1}', {"ephemeralOwner": 0x1234}), "/empty": None}``.

        Missing parents are created empty; stats are fixed (zxids by sorted path order) unless given.
        """
        tree = cls()
        items: dict[str, tuple[bytes, dict[str, int]]] = {"/": (b"", {})}
        for path, value in spec.items():
            if not path.startswith("/") or (path != "/" and path.endswith("/")):
                raise ValueError(f"bad znode path {path!r}")
            if isinstance(value, tuple):
                data, overrides = value
            else:
                data, overrides = value, {}
            if isinstance(data, str):
                data = data.encode()
            items[path] = (data or b"", dict(overrides))
            parent = _parent(path)
            while parent not in items:
                items[parent] = (b"", {})
                parent = _parent(parent)
        kids: dict[str, list[str]] = {p: [] for p in items}
        for path in items:
            if path != "/":
                kids[_parent(path)].append(path.rsplit("/", 1)[1])
        for index, path in enumerate(sorted(items), start=1):
            data, overrides = items[path]
            names = sorted(kids[path])
            fields = dict(czxid=index, mzxid=index, ctime=cls.BASE_TIME_MS + index * 1000,
                          mtime=cls.BASE_TIME_MS + index * 1000, version=0, cversion=len(names), aversion=0,
                          ephemeralOwner=0, dataLength=len(data), numChildren=len(names), pzxid=index)
            unknown = set(overrides) - set(fields)
            if unknown:
                raise ValueError(f"unknown stat fields for {path}: {sorted(unknown)}")
            fields.update(overrides)
            raw = stat_struct.pack(*(fields[f] for f in ZnodeStat._fields))
            tree._nodes[path] = _Node(raw, data, names or None)
        return tree


class _Inline:
    """The mirror's "inbox": items are applied at once, on the calling thread (kazoo's connection thread for
    replies, notifications and state changes), under the mirror's lock. Wire order is kept for free and no
    thread hand-off sits between a notification, the re-read it causes and the event (each hand-off can cost a
    GIL switch interval, 5 ms)."""

    __slots__ = ("mirror",)

    def __init__(self, mirror: "Mirror") -> None:
        self.mirror = mirror

    def put(self, item: tuple) -> None:
        self.mirror._deliver(item)  # noqa: SLF001


class _Sink:
    """kazoo calls set/set_exception on its connection thread, in wire order."""

    __slots__ = ("inbox", "ops")

    def __init__(self, inbox: _Inline, ops: list[tuple[int, str]] | Any) -> None:
        self.inbox = inbox
        self.ops = ops

    def set(self, value: Any) -> None:
        self.inbox.put((_RESULT, self.ops, value))

    def set_exception(self, exc: BaseException) -> None:
        self.inbox.put((_FAILED, self.ops, exc))


class _RawWatchedGetData(GetData):
    """getData with the watch flag set (notification to the default watcher), stat kept as wire bytes."""

    def __new__(cls, path: str) -> "_RawWatchedGetData":
        return super().__new__(cls, path, None)

    def serialize(self) -> bytes:
        return bytes(GetData(self.path, None).serialize()[:-1]) + b"\x01"

    @classmethod
    def deserialize(cls, buffer: bytes, offset: int) -> tuple[bytes | None, bytes]:
        length = int.from_bytes(buffer[offset:offset + 4], "big", signed=True)
        offset += 4
        data = None if length < 0 else bytes(buffer[offset:offset + length])
        offset += max(length, 0)
        return data, bytes(buffer[offset:offset + 68])


class _WatchedGetChildren2(GetChildren2):
    """getChildren2 with the watch flag set: children and the parent's stat from one atomic read (classic mode
    needs the stat: a child change between a child watch firing and its re-arm changes it silently)."""

    def __new__(cls, path: str) -> "_WatchedGetChildren2":
        return super().__new__(cls, path, None)

    def serialize(self) -> bytes:
        return bytes(GetChildren2(self.path, None).serialize()[:-1]) + b"\x01"

    @classmethod
    def deserialize(cls, buffer: bytes, offset: int) -> tuple[list[str], bytes]:
        count = int.from_bytes(buffer[offset:offset + 4], "big", signed=True)
        offset += 4
        names = []
        for _ in range(max(count, 0)):
            length = int.from_bytes(buffer[offset:offset + 4], "big", signed=True)
            offset += 4
            names.append(buffer[offset:offset + length].decode("utf-8"))
            offset += length
        return names, bytes(buffer[offset:offset + 68])


class _RawExists(Exists):
    """exists (stat only; needs no READ permission): the fallback for znodes whose data we may not read."""

    def __new__(cls, path: str, watch: bool) -> "_RawExists":
        return super().__new__(cls, path, watch or None)

    def serialize(self) -> bytes:
        return bytes(Exists(self.path, None).serialize()[:-1]) + (b"\x01" if self[1] else b"\x00")

    @property
    def watcher(self) -> None:  # noqa: D401 - keep kazoo from registering a one-shot watcher for it
        return None

    @classmethod
    def deserialize(cls, buffer: bytes, offset: int) -> bytes | None:
        raw = bytes(buffer[offset:offset + 68])
        return None if raw[:8] == b"\xff" * 8 else raw


# inbox item kinds
_RESULT, _FAILED, _NOTE, _STATE, _SYNCED, _SYNC_FAILED, _WALK = range(7)
# op kinds
_DATA, _KIDS, _STAT = 0, 1, 2


class _Waiter:
    __slots__ = ("event", "mark", "error")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.mark: int | None = None
        self.error: BaseException | None = None


class Mirror(_Store):
    """A live copy of the tree under ``root`` with its own session (see the module docstring)."""

    def __init__(self, settings: ConnectionSettings, *, strategy: str = "auto", root: str = "/",
                 events: "queue.SimpleQueue[Any] | None" = None, lazy_data_over: int = 64 * 1024,
                 batch_size: int = 1000, window: int = 4, steady_window: int = 1,
                 classic_window: int = 1000) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        if not root.startswith("/") or (root != "/" and root.endswith("/")):
            raise ValueError(f"bad root path {root!r}")
        self.settings = settings
        self.requested_strategy = strategy
        self.strategy = strategy if strategy != "auto" else ""
        self.root = root
        self.events: queue.SimpleQueue[Any] = events if events is not None else queue.SimpleQueue()
        self.lazy_data_over = lazy_data_over
        self.batch_size = batch_size
        self.window = window
        self.steady_window = steady_window
        self.classic_window = classic_window
        self.ready = threading.Event()
        self.client: ZkClient | None = None
        self._connection: Connection | None = None
        self._inbox = _Inline(self)
        self._running = False
        self._pumping = False
        self._handlers = {_RESULT: self._on_result, _FAILED: self._on_failed, _NOTE: self._handle_note,
                          _STATE: self._handle_state, _SYNCED: self._on_synced, _SYNC_FAILED: self._on_sync_failed,
                          _WALK: self._begin_walk}
        self._todo: deque[tuple[int, str]] = deque()
        # path -> (origin seq, part of a walk) for reads queued or in flight
        self._pend: tuple[dict[str, tuple[int, bool]], ...] = ({}, {}, {})
        self._inflight = 0
        self._seq = 0
        self._walk: dict[str, Any] | None = None   # the walk (initial sync or resync) in progress
        self._walk_outstanding = 0
        self._waiters: list[_Waiter] = []
        self._connected = False
        self._lost = False
        self._last_progress = 0.0
        self._root_missing = False
        self.stats = {"requests": 0, "ops": 0, "notifications": 0, "stale_ignored": 0, "unreadable": 0}

    # ------------------------------------------------------------------------------------------ lifecycle
    @property
    def session_id(self) -> int:
        client = self.client
        sid = client.client_id if client is not None and client.connected else None
        return sid[0] if sid else 0

    def start(self) -> None:
        """Open the mirror's own session and start the initial sync in the background (returns quickly)."""
        if self._running or self._connection is not None:
            raise MirrorError("mirror already started")
        self._connection = Connection(self.settings, role="mirror", on_event=self.events.put)
        client = self._connection.open()
        self.client = client
        try:
            features = client.server_features()
            if self.requested_strategy == "auto":
                self.strategy = "persistent" if features.add_watch and features.multi_read else "classic"
            elif self.requested_strategy == "persistent" and not (features.add_watch and features.multi_read):
                version = ".".join(map(str, features.version)) if features.version else "unknown"
                raise MirrorError(f"persistent watches need ZooKeeper 3.6 or newer (server is {version})")
            self._connected = True
            client.add_listener(self._on_state)
            if self.strategy == "persistent":
                client.add_watch_async(self.root, self._on_note, "persistent_recursive", inline=True)
            else:
                client.default_watcher = self._on_note
        except BaseException:
            self._connection.close()
            raise
        self._running = True
        self._inbox.put((_WALK, "initial sync"))

    def stop(self) -> None:
        """Stop applying updates and close the mirror's session."""
        with self._lock:
            self._running = False
        if self._connection is not None:
            client = self.client
            if client is not None:
                client.remove_listener(self._on_state)
                client.default_watcher = None
            self._connection.close()
        for waiter in self._waiters:
            waiter.error = MirrorError("mirror stopped")
            waiter.event.set()
        self._waiters = []

    def __enter__(self) -> "Mirror":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sync(self, timeout: float = 30.0) -> None:
        """Block until the mirror reflects everything the server had committed when this was called.

        Sends ZooKeeper's ``sync`` on the mirror's session; its reply arrives after every notification for
        earlier changes, and this returns once all reads those caused (and any walk) have been applied.
        """
        deadline = time.monotonic() + timeout
        while True:
            client = self.client
            if client is None or not self._running:
                raise MirrorError("mirror is not running")
            waiter = _Waiter()
            inbox = self._inbox

            class _SyncSink:
                def set(self, value: Any) -> None:
                    inbox.put((_SYNCED, waiter))

                def set_exception(self, exc: BaseException) -> None:
                    inbox.put((_SYNC_FAILED, waiter, exc))

            client.submit(Sync(client._full(self.root)), _SyncSink())  # noqa: SLF001
            if not waiter.event.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"mirror did not catch up within {timeout:g}s")
            if waiter.error is None:
                return
            if not isinstance(waiter.error, (ConnectionLoss, SessionExpiredError)):
                raise waiter.error
            while not (self._connected and client.connected):  # wait for the reconnect, then ask again
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mirror did not reconnect within {timeout:g}s")
                time.sleep(0.02)

    def resync(self, reason: str = "requested") -> None:
        """Re-walk the whole tree now and emit the differences (ResyncStarted ... ResyncFinished), e.g. for a
        "refresh" action: ZooKeeper sends no notifications about znodes this session may not READ."""
        if not self._running:
            raise MirrorError("mirror is not running")
        self._inbox.put((_WALK, reason))

    def load_data(self, path: str) -> bytes | None:
        """The znode's data; fetched from the server when it was too large to keep (None if gone)."""
        with self._lock:
            node = self._nodes.get(path)
            if node is None:
                return None
            if node.data is not None or _stat(node.stat).dataLength == 0:
                return node.data if node.data is not None else b""
        client = self.client
        if client is None:
            return None
        try:
            data, _ = client.get(path)
        except NoNodeError:
            return None
        return data

    # ------------------------------------------------------------------------------------------ kazoo threads
    def _on_note(self, note: WatchNotification) -> None:
        self._inbox.put((_NOTE, note))

    def _on_state(self, state: str) -> None:
        self._inbox.put((_STATE, state))

    # ------------------------------------------------------------------------------------------ the applier
    def _deliver(self, item: tuple) -> None:
        with self._lock:
            if not self._running:
                return
            try:
                self._handlers[item[0]](*item[1:])
            except Exception:  # keep mirroring; a resync repairs what this item would have done
                log.exception("mirror failed to apply %r", item[:2])
            self._finish_walk_if_done()
            self._release_waiters()
            if self._pumping:
                return  # a reply delivered from inside _pump (request failed at once): the outer loop goes on
            self._pumping = True
            try:
                self._pump()
            except Exception:
                log.exception("mirror failed to send reads")
            finally:
                self._pumping = False

    def _queue_read(self, kind: int, path: str, origin: int, walk: bool) -> None:
        pend = self._pend[kind]
        current = pend.get(path)
        if current is None:
            pend[path] = (origin, walk)
            self._todo.append((kind, path))
            if walk:
                self._walk_outstanding += 1
        elif walk and not current[1]:
            pend[path] = (min(origin, current[0]), True)
            self._walk_outstanding += 1

    def _done_read(self, kind: int, path: str) -> bool:
        """Forget a finished read; returns whether it was part of a walk."""
        entry = self._pend[kind].pop(path, None)
        if entry is None:
            return False
        if entry[1]:
            self._walk_outstanding -= 1
            return True
        return False

    def _pump(self) -> None:
        client = self.client
        todo = self._todo
        if client is None or not todo or not self._connected:
            return
        if self.strategy == "persistent":
            # A walk keeps `window` batches in flight (throughput); afterwards one, so notifications that arrive
            # during a round trip coalesce into the next multiRead (fewer requests per update under churn).
            window = self.window if self._walk is not None else self.steady_window
            while todo and self._inflight < window and client.unsent_requests < MAX_UNSENT:
                ops: list[tuple[int, str]] = []
                reads = []
                full = client._full  # noqa: SLF001
                while todo and len(ops) < self.batch_size:
                    kind, path = todo.popleft()
                    if kind == _STAT:  # not allowed inside multiRead: on its own
                        self._inflight += 1
                        client.submit(_RawExists(full(path), False), _Sink(self._inbox, (kind, path)))
                        continue
                    ops.append((kind, path))
                    reads.append(ReadData(full(path)) if kind == _DATA else ReadChildren(full(path)))
                if not ops:
                    continue
                self._inflight += 1
                self.stats["requests"] += 1
                self.stats["ops"] += len(ops)
                client.submit(MultiRead(reads, raw_stat=True), _Sink(self._inbox, ops))
        else:
            while todo and self._inflight < self.classic_window and client.unsent_requests < MAX_UNSENT:
                kind, path = todo.popleft()
                full = client._full(path)  # noqa: SLF001
                if kind == _DATA:
                    request: Any = _RawWatchedGetData(full)
                elif kind == _KIDS:
                    request = _WatchedGetChildren2(full)
                else:
                    request = _RawExists(full, True)
                self._inflight += 1
                self.stats["requests"] += 1
                self.stats["ops"] += 1
                client.submit(request, _Sink(self._inbox, (kind, path)))

    def _on_result(self, ops: Any, value: Any) -> None:
        self._inflight -= 1
        if isinstance(ops, tuple):  # classic: one op per request
            self._apply(ops[0], ops[1], value)
            return
        for (kind, path), result in zip(ops, value):
            self._apply(kind, path, result)

    def _on_failed(self, ops: Any, exc: BaseException) -> None:
        self._inflight -= 1
        if isinstance(ops, tuple):
            self._apply(ops[0], ops[1], exc)
            return
        for kind, path in ops:
            self._apply(kind, path, exc)

    def _apply(self, kind: int, path: str, result: Any) -> None:
        origin = (self._pend[kind].get(path) or (self._seq, False))[0]
        walk = self._done_read(kind, path)
        if isinstance(result, BaseException):
            if isinstance(result, NoNodeError):
                self._gone(path)
                if path == self.root and kind == _DATA:
                    self._watch_missing_root(origin)
            elif isinstance(result, NoAuthError) and kind == _DATA:
                self._queue_read(_STAT, path, origin, walk)  # no READ permission: take the stat from exists
            elif isinstance(result, NoAuthError):
                self.stats["unreadable"] += 1
                log.info("mirror may not list the children of %s (ACL)", path)
            elif isinstance(result, (ConnectionLoss, SessionExpiredError, ConnectionClosedError)):
                self._connected = False  # kazoo fails pending replies before it tells listeners; stop sending
                self._lost = True        # the resync after the reconnect reads it again
            else:
                log.warning("mirror could not read %s: %s", path, type(result).__name__)
            return
        if kind == _DATA:
            self._apply_data(path, result[0], result[1], origin, walk)
        elif kind == _STAT:
            if result is None:
                self._gone(path)
            elif path == self.root and self._root_missing:
                self._root_missing = False  # it (re)appeared: read it properly
                self._queue_read(_DATA, path, origin, walk)
            else:
                self.stats["unreadable"] += 1
                self._apply_data(path, None, result, origin, walk)
        elif isinstance(result, tuple):  # classic: (names, stat)
            self._apply_kids(path, result[0], origin, walk)
            self._merge_child_stat(path, result[1], origin)
        else:
            self._apply_kids(path, result, origin, walk)

    def _merge_child_stat(self, path: str, raw: bytes, origin: int) -> None:
        """Take a getChildren2 stat when only child-related fields moved; if the data moved too, the stat
        must come with the data: make sure a data read is queued instead."""
        node = self._nodes.get(path)
        if node is None or raw == node.stat:
            return
        new_c, new_m, new_p = _zxids(raw)
        old_c, old_m, old_p = _zxids(node.stat)
        if new_c != old_c or new_m != old_m:
            if new_c > old_c or new_m > old_m:
                self._queue_read(_DATA, path, origin, False)
            return
        if new_p >= old_p:
            old = node.stat
            node.stat = raw
            self._emit(DataChanged(path, _stat(old), _stat(raw)), "changed")
        else:
            self.stats["stale_ignored"] += 1

    # -- applying replies
    def _apply_data(self, path: str, data: bytes | None, raw: bytes, origin: int, walk: bool) -> None:
        nodes = self._nodes
        if data is not None and len(data) > self.lazy_data_over:
            data = None
        node = nodes.get(path)
        classic = self.strategy == "classic"
        if node is None:
            if path != self.root:
                parent = nodes.get(_parent(path))
                if parent is None:
                    return  # its parent is not (or no longer) known; the parent's child list will bring it
            else:
                parent = None
                self._root_missing = False
            node = _Node(raw, data, None)
            nodes[path] = node
            self._emit(NodeAdded(path, _stat(raw)), "added")
            if parent is not None:
                self._add_kid(_parent(path), parent, path.rsplit("/", 1)[1])
            if classic or _num_children(raw) > 0:
                self._queue_read(_KIDS, path, origin, walk)
            return
        old = node.stat
        if raw != old:
            new_c, new_m, new_p = _zxids(raw)
            old_c, old_m, old_p = _zxids(old)
            if new_c != old_c:
                fresh = new_c > old_c
            else:
                fresh = new_m >= old_m and new_p >= old_p
            if not fresh:
                self.stats["stale_ignored"] += 1
            else:
                node.stat = raw
                node.data = data
                self._emit(DataChanged(path, _stat(old), _stat(raw)), "changed")
        elif data != node.data and data is not None:
            node.data = data  # same stat, data was lazily dropped before: keep the copy we now have
        if walk and (_num_children(node.stat) > 0 or node.kids):
            self._queue_read(_KIDS, path, origin, walk)
        elif not classic and _num_children(node.stat) > 0 and node.kids is None:
            self._queue_read(_KIDS, path, origin, walk)

    def _apply_kids(self, path: str, names: list[str], origin: int, walk: bool) -> None:
        node = self._nodes.get(path)
        if node is None:
            return
        new = sorted(names)
        old = node.kids or []
        if new != old:
            new_set, old_set = set(new), set(old)
            added = tuple(n for n in new if n not in old_set)
            removed = tuple(n for n in old if n not in new_set)
            for name in removed:
                child = _join(path, name)
                if child in self._nodes:
                    self._remove_subtree(child, notify_parent=False)
            node.kids = new or None
            self._emit(ChildrenChanged(path, added, removed), None)
        nodes = self._nodes
        for name in new:
            child = _join(path, name)
            if walk or child not in nodes:
                self._queue_read(_DATA, child, origin, walk)

    def _add_kid(self, parent_path: str, parent: _Node, name: str) -> None:
        kids = parent.kids
        if kids is None:
            parent.kids = [name]
        else:
            index = bisect.bisect_left(kids, name)
            if index < len(kids) and kids[index] == name:
                return
            kids.insert(index, name)
        self._emit(ChildrenChanged(parent_path, (name,), ()), None)

    def _gone(self, path: str) -> None:
        """``path`` does not exist (NoNode reply or deleted notification)."""
        if path in self._nodes:
            self._remove_subtree(path, notify_parent=True)
            return
        parent = self._nodes.get(_parent(path)) if path != self.root else None
        name = path.rsplit("/", 1)[1]
        if parent is not None and parent.kids:
            index = bisect.bisect_left(parent.kids, name)
            if index < len(parent.kids) and parent.kids[index] == name:
                del parent.kids[index]
                if not parent.kids:
                    parent.kids = None
                self._emit(ChildrenChanged(_parent(path), (), (name,)), None)

    def _remove_subtree(self, path: str, notify_parent: bool) -> None:
        nodes = self._nodes
        node = nodes.get(path)
        if node is None:
            return
        for name in list(node.kids or ()):
            self._remove_subtree(_join(path, name), notify_parent=False)
        del nodes[path]
        self._emit(NodeRemoved(path), "removed")
        if notify_parent and path != self.root:
            self._gone(path)  # now unknown: drops the name from the parent's list

    # -- notifications
    def _handle_note(self, note: WatchNotification) -> None:
        path = note.path
        if path is None or note.type == EventType.NONE:
            return
        self.stats["notifications"] += 1
        self._seq += 1
        origin = self._seq
        nodes = self._nodes
        kind = note.type
        if kind == EventType.CHANGED:
            self._queue_read(_DATA, path, origin, False)
        elif kind == EventType.CREATED:
            if path not in nodes:
                self._queue_read(_DATA, path, origin, False)
            if path != self.root and _parent(path) in nodes:
                self._queue_read(_DATA, _parent(path), origin, False)  # its cversion/pzxid/numChildren moved
        elif kind == EventType.DELETED:
            self._gone(path)
            if path == self.root:
                self._watch_missing_root(origin)
            if path != self.root and _parent(path) in nodes:
                self._queue_read(_DATA, _parent(path), origin, False)
        elif kind == EventType.CHILD:  # classic only: re-arm the child watch and refresh the stat
            if path in nodes:
                self._queue_read(_KIDS, path, origin, False)
                self._queue_read(_DATA, path, origin, False)

    def _watch_missing_root(self, origin: int) -> None:
        """Classic mode has no watch that sees a missing root appear: set an exists watch (persistent watches
        cover missing paths already)."""
        if self.strategy == "classic":
            self._root_missing = True
            self._queue_read(_STAT, self.root, origin, False)

    # -- connection states and walks
    def _handle_state(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            self._connected = True
            if self._lost:
                self._lost = False
                self._begin_walk("reconnected" if self.session_id == self._walk_session() else "new session")
        else:
            self._connected = False
            self._lost = True

    def _walk_session(self) -> int:
        return getattr(self, "_last_session", 0)

    def _begin_walk(self, reason: str) -> None:
        self._seq += 1
        initial = reason == "initial sync"
        self._walk = {"reason": reason, "start": time.monotonic(), "added": 0, "removed": 0, "changed": 0,
                      "initial": initial}
        self._last_session = self.session_id
        if not initial:
            self._emit(ResyncStarted(reason), None)
        # Forget queued reads: the walk re-reads everything (replies still in flight are applied when they come).
        for kind in (_DATA, _KIDS, _STAT):
            pend = self._pend[kind]
            for path in [p for p, (_, w) in pend.items() if not w]:
                del pend[path]
        self._todo = deque(op for op in self._todo if op[1] in self._pend[op[0]])
        self._queue_read(_DATA, self.root, self._seq, True)
        self._queue_read(_KIDS, self.root, self._seq, True)  # top level first, before the root's stat says so

    def _finish_walk_if_done(self) -> None:
        walk = self._walk
        if walk is None:
            return
        now = time.monotonic()
        if self._walk_outstanding > 0:
            if walk["initial"] and now - self._last_progress > 0.1:
                self._last_progress = now
                self.events.put(SyncProgress(len(self._nodes), False))
            return
        self._walk = None
        seconds = now - walk["start"]
        if walk["initial"]:
            self.events.put(SyncProgress(len(self._nodes), True))
            log.info("mirror: initial sync of %d znodes in %.2fs (%s)", len(self._nodes), seconds, self.strategy)
        else:
            self.events.put(ResyncFinished(walk["added"], walk["removed"], walk["changed"], seconds))
        self.ready.set()

    def _emit(self, event: Any, counter: str | None) -> None:
        walk = self._walk
        if counter is not None and walk is not None and not walk["initial"]:
            walk[counter] += 1
        self.events.put(event)

    # -- sync barrier
    def _on_synced(self, waiter: _Waiter) -> None:
        waiter.mark = self._seq
        self._waiters.append(waiter)

    def _on_sync_failed(self, waiter: _Waiter, exc: BaseException) -> None:
        waiter.error = exc
        waiter.event.set()

    def _release_waiters(self) -> None:
        if not self._waiters or self._walk is not None or not self._connected:
            return
        low = min((origin for pend in self._pend for origin, _ in pend.values()), default=None)
        keep = []
        for waiter in self._waiters:
            if low is None or waiter.mark < low:  # type: ignore[operator]
                waiter.event.set()
            else:
                keep.append(waiter)
        self._waiters = keep

    # ------------------------------------------------------------------------------------------ diagnostics
    def compare_with_server(self, client: ZkClient | None = None) -> list[str]:
        """Differences between the mirror and a fresh full read of the server (empty when equal)."""
        client = client or self.client
        assert client is not None
        server: dict[str, tuple[bytes, ZnodeStat]] = {}
        server_kids: dict[str, list[str]] = {}
        stack = [self.root]
        while stack:
            path = stack.pop()
            try:
                data, stat = client.get(path)
                names = client.get_children(path)
            except NoNodeError:
                continue
            server[path] = (data, stat)
            server_kids[path] = sorted(names)
            stack.extend(_join(path, n) for n in names)
        mine = self.snapshot()
        diffs = [f"missing {p}" for p in sorted(set(server) - set(mine))]
        diffs += [f"stale {p}" for p in sorted(set(mine) - set(server))]
        for path in sorted(set(server) & set(mine)):
            data, stat = server[path]
            my_data, my_stat = mine[path]
            if my_stat != stat:
                diffs.append(f"stat {path}: {my_stat} != {stat}")
            elif my_data is not None and my_data != data:
                diffs.append(f"data {path}")
            if list(self.children(path)) != server_kids[path]:
                diffs.append(f"children {path}")
        return diffs
