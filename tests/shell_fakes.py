"""A fixed in-memory stand-in for the user session, for the shell pane's snapshot only (deterministic stats:
no clock, session id or port on screen). Every behaviour test uses the live test server instead."""

from __future__ import annotations

from typing import Any

from kazoo import exceptions as kex
from kazoo.protocol.states import ZnodeStat

BASE_MS = 1_700_000_000_000


class _Done:
    def __init__(self, value: Any = None, exc: BaseException | None = None) -> None:
        self.value, self.exc = value, exc

    def get(self, timeout: float | None = None) -> Any:
        if self.exc is not None:
            raise self.exc
        return self.value


class FakeClient:
    connected = True
    read_only = False
    client_id = (0, b"")
    chroot = ""

    def __init__(self) -> None:
        self.zxid = 1
        self.nodes: dict[str, tuple[bytes, ZnodeStat]] = {"/": (b"", self._stat(b""))}

    def _stat(self, data: bytes, version: int = 0, children: int = 0) -> ZnodeStat:
        z = self.zxid
        return ZnodeStat(czxid=z, mzxid=z, ctime=BASE_MS + z * 1000, mtime=BASE_MS + z * 1000, version=version,
                         cversion=children, aversion=0, ephemeralOwner=0, dataLength=len(data),
                         numChildren=children, pzxid=z)

    def _kids(self, path: str) -> list[str]:
        base = path.rstrip("/") + "/"
        return sorted(p[len(base):] for p in self.nodes if p != path and p.startswith(base)
                      and "/" not in p[len(base):])

    def _with_children(self, path: str) -> ZnodeStat:
        data, stat = self.nodes[path]
        return stat._replace(numChildren=len(self._kids(path)))

    def create(self, path: str, value: bytes = b"", acl: Any = None, ephemeral: bool = False,
               sequence: bool = False, makepath: bool = False, include_data: bool = False) -> Any:
        if path in self.nodes:
            raise kex.NodeExistsError()
        parent = path.rsplit("/", 1)[0] or "/"
        if parent not in self.nodes:
            raise kex.NoNodeError()
        self.zxid += 1
        self.nodes[path] = (value, self._stat(value))
        return (path, self.nodes[path][1]) if include_data else path

    def get(self, path: str, watch: Any = None) -> tuple[bytes, ZnodeStat]:
        if path not in self.nodes:
            raise kex.NoNodeError()
        return self.nodes[path][0], self._with_children(path)

    def exists(self, path: str, watch: Any = None) -> ZnodeStat | None:
        return self._with_children(path) if path in self.nodes else None

    def get_children(self, path: str, watch: Any = None, include_data: bool = False) -> Any:
        if path not in self.nodes:
            raise kex.NoNodeError()
        kids = self._kids(path)
        return (kids, self._with_children(path)) if include_data else kids

    def get_children_async(self, path: str) -> _Done:
        try:
            return _Done(self.get_children(path))
        except kex.KazooException as exc:
            return _Done(exc=exc)

    def exists_async(self, path: str) -> _Done:
        return _Done(self.exists(path))

    def delete(self, path: str, version: int = -1, recursive: bool = False) -> None:
        if path not in self.nodes:
            raise kex.NoNodeError()
        if self._kids(path):
            raise kex.NotEmptyError()
        del self.nodes[path]
