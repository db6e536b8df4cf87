"""Helpers for the main-screen tests: an in-memory TreeModel that can also produce mirror-style events, a
stand-in workbench, and a small host App that drains the event queue like the real app does."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from typing import Any

from kazoo.protocol.states import ZnodeStat
from textual.app import App

from zkbench.events import ChildrenChanged, DataChanged, NodeAdded, NodeRemoved

BASE_MS = 1_700_000_000_000  # a fixed moment so stat times are deterministic


@dataclass(frozen=True, slots=True)
class NodeInfo:
    path: str
    stat: ZnodeStat
    data: bytes | None
    children: tuple[str, ...]


def _stat(zxid: int, data: bytes, owner: int = 0, version: int = 0, children: int = 0) -> ZnodeStat:
    return ZnodeStat(czxid=zxid, mzxid=zxid + version, ctime=BASE_MS + zxid * 1000, mtime=BASE_MS + zxid * 1000,
                     version=version, cversion=children, aversion=0, ephemeralOwner=owner, dataLength=len(data),
                     numChildren=children, pzxid=zxid)


class MemoryTree:
    """A fixed (or hand-mutated) tree following the TreeModel protocol."""

    def __init__(self) -> None:
        self.zxid = 0x100000000
        self.data: dict[str, bytes] = {"/": b""}
        self.stats: dict[str, ZnodeStat] = {"/": _stat(0, b"")}
        self.kids: dict[str, list[str]] = {"/": []}
        self.ready = True
        self.strategy = "persistent"

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> "MemoryTree":
        """``{"name": b"data" | {"_data": b"..", "_owner": 0x.., "child": ...}}``"""
        tree = cls()

        def walk(parent: str, items: dict[str, Any]) -> None:
            for name, value in items.items():
                if name.startswith("_"):
                    continue
                path = f"/{name}" if parent == "/" else f"{parent}/{name}"
                if isinstance(value, dict):
                    tree.add(path, value.get("_data", b""), owner=value.get("_owner", 0),
                             version=value.get("_version", 0))
                    walk(path, value)
                else:
                    tree.add(path, value)

        walk("/", spec)
        return tree

    # ---- protocol
    def get(self, path: str) -> NodeInfo | None:
        if path not in self.stats:
            return None
        return NodeInfo(path, self.stats[path], self.data[path], tuple(sorted(self.kids[path])))

    def children(self, path: str) -> tuple[str, ...]:
        return tuple(sorted(self.kids.get(path, ())))

    def __contains__(self, path: object) -> bool:
        return path in self.stats

    def __len__(self) -> int:
        return len(self.stats)

    def load_data(self, path: str) -> bytes | None:
        return self.data.get(path)

    def paths_with_prefix(self, prefix: str, limit: int = 100) -> list[str]:
        return sorted(p for p in self.stats if p.startswith(prefix))[:limit]

    # ---- mutation (returns the events a mirror would emit)
    def _bump_parent(self, parent: str, delta: int) -> None:
        s = self.stats[parent]
        self.stats[parent] = s._replace(numChildren=len(self.kids[parent]), cversion=s.cversion + 1,
                                        pzxid=self.zxid)

    def add(self, path: str, data: bytes = b"", owner: int = 0, version: int = 0) -> list[Any]:
        self.zxid += 1
        parent = path.rsplit("/", 1)[0] or "/"
        name = path.rsplit("/", 1)[1]
        self.data[path] = data
        self.stats[path] = _stat(self.zxid - 0x100000000, data, owner, version)
        self.kids[path] = []
        self.kids[parent].append(name)
        self._bump_parent(parent, 1)
        return [NodeAdded(path, self.stats[path]), ChildrenChanged(parent, (name,), ())]

    def remove(self, path: str) -> list[Any]:
        events: list[Any] = []
        for child in list(self.kids[path]):
            events += self.remove(f"{path}/{child}" if path != "/" else f"/{child}")
        parent = path.rsplit("/", 1)[0] or "/"
        name = path.rsplit("/", 1)[1]
        del self.data[path], self.stats[path], self.kids[path]
        self.kids[parent].remove(name)
        self.zxid += 1
        self._bump_parent(parent, -1)
        return events + [NodeRemoved(path), ChildrenChanged(parent, (), (name,))]

    def set(self, path: str, data: bytes) -> list[Any]:
        self.zxid += 1
        old = self.stats[path]
        self.data[path] = data
        self.stats[path] = old._replace(version=old.version + 1, mzxid=self.zxid, dataLength=len(data),
                                        mtime=old.mtime + 1000)
        return [DataChanged(path, old, self.stats[path])]


@dataclass
class FakeConnection:
    session_id: int = 0
    state: Any = None


@dataclass
class FakeWorkbench:
    """What MainScreen reads from a Workbench, with a fixed model (snapshots) and an optional real client."""

    mirror: Any
    session_id: int = 0x1000abc00000001
    read_only: bool = False
    client: Any = None
    server_label: str = "127.0.0.1:2181"
    mirror_strategy: str = "persistent"
    events: "queue.SimpleQueue[Any]" = field(default_factory=queue.SimpleQueue)

    def __post_init__(self) -> None:
        from zkbench.events import ConnectionState

        self.connection = FakeConnection(self.session_id, ConnectionState.CONNECTED)


class HostApp(App[None]):
    """Pushes one MainScreen that drains ``workbench.events`` itself."""

    def __init__(self, workbench: Any, **screen_kwargs: Any) -> None:
        super().__init__()
        self.workbench = workbench
        self.screen_kwargs = screen_kwargs

    def on_mount(self) -> None:
        from zkbench.screens.main import MainScreen

        self.main = MainScreen(self.workbench, drain=True, **self.screen_kwargs)
        self.push_screen(self.main)


def realistic_tree() -> MemoryTree:
    """A namespace like a workshop's: config, locks, services, a queue, an election, odd names."""
    return MemoryTree.from_dict({
        "app": {"config": b'{"log_level": "INFO", "replicas": 3, "features": ["a", "b"]}',
                "settings.yaml": b"server:\n  port: 8080\n  hosts:\n    - a\n    - b\n"},
        "election": {"node-0000000007": {"_owner": 0x1000abc00000001},
                     "node-0000000008": {"_owner": 0x1000abc00000002}},
        "locks": {"db": {"lock-0000000002": {"_owner": 0x1000abc00000002}}},
        "queue": {f"job-{i:010d}": f"job {i}".encode() for i in range(1, 4)},
        "services": {"payment": {"instance-0000000003": {"_data": b"127.0.0.1:8081", "_owner": 0x1000abc00000003}}},
        "weird": {"a[b]": b"markup?", "ünïcödé ✓": b"\xff\x00binary"},
        "zookeeper": {"quota": b""},
    })
