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
