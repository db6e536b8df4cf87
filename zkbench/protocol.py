"""zkbench's extension of kazoo: the one place where zkbench reaches into the ZooKeeper wire protocol.

kazoo 2.11 lacks requests newer servers speak (addWatch, removeWatches, multiRead, whoami, getEphemerals,
getAllChildrenNumber). :class:`ZkClient` is a :class:`~kazoo.client.KazooClient` subclass that adds them
without copying kazoo's code, and is also where the read-only guard sits: every request passes ``_call``.
"""

from __future__ import annotations

import logging

from kazoo.client import KazooClient
from kazoo.protocol.serialization import (Create, Create2, Delete, Reconfig, SetACL, SetData,
                                          Transaction)

from zkbench.errors import ReadOnlyError

__all__ = ["ZkClient", "WRITE_OPCODES"]

log = logging.getLogger(__name__)

#: Request types that change server state. Create2/TTL creates share these opcodes' family.
WRITE_OPCODES = frozenset({Create.type, Create2.type, Delete.type, SetData.type, SetACL.type,
                           Transaction.type, Reconfig.type, 19, 21})  # 19 = createContainer, 21 = createTTL


class ZkClient(KazooClient):
    """A KazooClient with zkbench's protocol additions and a read-only switch."""

    def __init__(self, *args: object, read_only: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.read_only = read_only

    def _call(self, request, async_object):  # noqa: ANN001 - kazoo's signature
        if self.read_only and getattr(request, "type", None) in WRITE_OPCODES:
            path = getattr(request, "path", None)
            what = f" {path}" if path else ""
            async_object.set_exception(ReadOnlyError(f"Read-only mode: refusing to write{what}"))
            return False
        return super()._call(request, async_object)


# --- requests used by the shell (whoami, getEphemerals, getAllChildrenNumber; jute layouts from zookeeper.jute)

from collections import namedtuple  # noqa: E402
from kazoo.client import _prefix_root  # noqa: E402
from kazoo.protocol.serialization import int_struct, read_string, write_string  # noqa: E402


class WhoAmI(namedtuple("WhoAmI", "")):
    """``whoAmI`` (opcode 107, ZooKeeper 3.8+): the (scheme, user) identities the server holds for this session."""

    type = 107

    def __bool__(self) -> bool:  # an empty namedtuple is falsy, and kazoo skips the reply of a falsy request
        return True

    def serialize(self) -> bytes:
        return b""

    @classmethod
    def deserialize(cls, buffer: bytes, offset: int) -> list[tuple[str, str]]:
        count = int_struct.unpack_from(buffer, offset)[0]
        offset += int_struct.size
        infos: list[tuple[str, str]] = []
        for _ in range(max(count, 0)):
            scheme, offset = read_string(buffer, offset)
            user, offset = read_string(buffer, offset)
            infos.append((scheme or "", user or ""))
        return infos


class GetEphemerals(namedtuple("GetEphemerals", "path")):
    """``getEphemerals`` (opcode 103, 3.6+): this session's ephemeral znodes under a path prefix."""

    type = 103

    def serialize(self) -> bytes:
        return bytes(write_string(self.path))

    @classmethod
    def deserialize(cls, buffer: bytes, offset: int) -> list[str]:
        count = int_struct.unpack_from(buffer, offset)[0]
        offset += int_struct.size
        paths: list[str] = []
        for _ in range(max(count, 0)):
            path, offset = read_string(buffer, offset)
            paths.append(path or "")
        return paths


class GetAllChildrenNumber(namedtuple("GetAllChildrenNumber", "path")):
    """``getAllChildrenNumber`` (opcode 104, 3.6+): how many descendants a znode has, counted by the server."""

    type = 104

    def serialize(self) -> bytes:
        return bytes(write_string(self.path))

    @classmethod
    def deserialize(cls, buffer: bytes, offset: int) -> int:
        return int_struct.unpack_from(buffer, offset)[0]


def _whoami(self: ZkClient) -> list[tuple[str, str]]:
    """The identities (scheme, user) the server associates with this session, e.g. ``[("ip", "127.0.0.1")]``."""
    result = self.handler.async_result()
    self._call(WhoAmI(), result)
    return result.get()


def _get_ephemerals(self: ZkClient, prefix: str = "/") -> list[str]:
    """Paths of the ephemeral znodes this session owns whose path starts with ``prefix`` (chroot applied)."""
    result = self.handler.async_result()
    self._call(GetEphemerals(_prefix_root(self.chroot, prefix)), result)
    paths = result.get()
    if self.chroot:
        paths = [self.unchroot(p) for p in paths if p == self.chroot or p.startswith(self.chroot + "/")]
    return sorted(paths)


def _get_all_children_number(self: ZkClient, path: str) -> int:
    """Number of descendants of ``path`` (children, grandchildren, ...), not counting the znode itself."""
    result = self.handler.async_result()
    self._call(GetAllChildrenNumber(_prefix_root(self.chroot, path)), result)
    return result.get()


ZkClient.whoami = _whoami  # type: ignore[attr-defined]
ZkClient.get_ephemerals = _get_ephemerals  # type: ignore[attr-defined]
ZkClient.get_all_children_number = _get_all_children_number  # type: ignore[attr-defined]

# --- extended creates used by the editors: containers (opcode 19) and TTL znodes (opcode 21), 3.5.3+/3.6+

from collections import namedtuple as _namedtuple  # noqa: E402

from kazoo.protocol.paths import _prefix_root as _prefix_chroot  # noqa: E402
from kazoo.protocol.serialization import Create2, long_struct  # noqa: E402


class CreateContainer(Create2):
    """``createContainer`` (opcode 19): same layout as Create2 with the CONTAINER flag (4); replies path + stat."""

    type = 19


class CreateTTL(_namedtuple("CreateTTL", "path data acl flags ttl")):
    """``createTTL`` (opcode 21): Create2's layout plus a trailing int64 TTL in ms; flags 5 or 6 (sequential)."""

    type = 21

    def serialize(self) -> bytes:
        return bytes(Create2(self.path, self.data, self.acl, self.flags).serialize() + long_struct.pack(self.ttl))

    deserialize = Create2.deserialize


def _create_extended(self: ZkClient, path: str, value: bytes = b"", *, container: bool = False,
                     ttl_ms: int | None = None, sequence: bool = False, acl=None):  # noqa: ANN001, ANN202
    """Create a container or TTL znode (kazoo has neither); returns ``(real_path, stat)`` like Create2."""
    from kazoo.security import OPEN_ACL_UNSAFE

    acl = acl or self.default_acl or OPEN_ACL_UNSAFE
    full = _prefix_chroot(self.chroot, path, trailing=sequence)
    if container:
        request = CreateContainer(full, value, acl, 4)
    else:
        request = CreateTTL(full, value, acl, 6 if sequence else 5, int(ttl_ms or 0))
    result = self.handler.async_result()
    self._call(request, result)
    real, stat = result.get()
    return self.unchroot(real), stat


ZkClient.create_extended = _create_extended  # type: ignore[attr-defined]
