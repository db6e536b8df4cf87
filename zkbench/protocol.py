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
