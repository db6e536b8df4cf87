"""The writes the editors make: create (every mode), set with the version it was read at, recursive delete.

Engine only (no Textual). Every function takes the user's :class:`~zkbench.protocol.ZkClient`, blocks, and
raises a :class:`~zkbench.errors.ZkBenchError` subclass (or a kazoo error that ``explain`` turns into one line).
Call them from a thread worker. Read-only mode refuses before anything reaches the server.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from kazoo import exceptions as kex
from kazoo.protocol.states import ZnodeStat

from zkbench.errors import ReadOnlyError, ZkBenchError

__all__ = ["CreateMode", "ConflictError", "CreateResult", "create", "set_data", "count_subtree", "delete",
           "DeleteResult", "validate_path", "MAX_TTL_MS"]

log = logging.getLogger(__name__)

#: ZooKeeper's upper bound for a TTL (EphemeralType.TTL: 40 bits of milliseconds less one).
MAX_TTL_MS = 0xFFFFFFFFFF


class CreateMode(enum.Enum):
    """ZooKeeper's CreateMode, spelled as users say it."""

    PERSISTENT = "persistent"
    PERSISTENT_SEQUENTIAL = "persistent sequential"
    EPHEMERAL = "ephemeral"
    EPHEMERAL_SEQUENTIAL = "ephemeral sequential"
    CONTAINER = "container"
    TTL = "persistent with TTL"
    TTL_SEQUENTIAL = "persistent sequential with TTL"

    @property
    def sequential(self) -> bool:
        return self in (CreateMode.PERSISTENT_SEQUENTIAL, CreateMode.EPHEMERAL_SEQUENTIAL, CreateMode.TTL_SEQUENTIAL)

    @property
    def needs_ttl(self) -> bool:
        return self in (CreateMode.TTL, CreateMode.TTL_SEQUENTIAL)


class ConflictError(ZkBenchError):
    """A set was made against a dataVersion that is no longer current; nothing was written."""

    def __init__(self, path: str, expected: int, actual: int | None) -> None:
        self.path, self.expected, self.actual = path, expected, actual
        if actual is None:
            msg = (f"Conflict: {path} was deleted by another client after you read it at dataVersion {expected}; "
                   f"nothing was written")
        else:
            msg = (f"Conflict: {path} changed since you read it (you edited dataVersion {expected}, "
                   f"the server now has dataVersion {actual}); nothing was written")
        super().__init__(msg)


@dataclass(frozen=True, slots=True)
class CreateResult:
    path: str  # the real path (with the sequence suffix for sequential modes)
    stat: ZnodeStat | None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    path: str
    deleted: int  # znodes removed by this call, the root included


def _guard(client, path: str) -> None:  # noqa: ANN001 - ZkClient
    if getattr(client, "read_only", False):
        raise ReadOnlyError(f"Read-only mode: refusing to write {path}")


def validate_path(path: str, *, sequential: bool = False) -> str:
    """ZooKeeper's path rules as one readable line (ValueError): absolute, no empty/relative parts, no NUL."""
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    if path != "/" and path.endswith("/") and not sequential:
        raise ValueError(f"path must not end with '/': {path!r}")
    parts = path.split("/")[1:]
    trimmed = parts[:-1] if (sequential and parts and parts[-1] == "") else parts
    for part in trimmed:
        if part == "":
            raise ValueError(f"empty path element in {path!r}")
        if part in (".", ".."):
            raise ValueError(f"relative path element {part!r} in {path!r}")
    if "\x00" in path or any(0xD800 <= ord(c) <= 0xF8FF or 0xFFF0 <= ord(c) <= 0xFFFF or
                             (0x01 <= ord(c) <= 0x1F) or (0x7F <= ord(c) <= 0x9F) for c in path):
        raise ValueError(f"path contains a character ZooKeeper does not allow: {path!r}")
    return path


def create(client, path: str, data: bytes = b"", mode: CreateMode = CreateMode.PERSISTENT,  # noqa: ANN001
           *, ttl_ms: int | None = None, makepath: bool = False) -> CreateResult:
    """Create one znode. TTL modes need ``ttl_ms`` (1 .. MAX_TTL_MS) and a server with extended types enabled."""
    _guard(client, path)
    validate_path(path, sequential=mode.sequential)
    if mode.needs_ttl:
        if ttl_ms is None or not 0 < ttl_ms <= MAX_TTL_MS:
            raise ValueError(f"a TTL znode needs a TTL between 1 and {MAX_TTL_MS} ms, got {ttl_ms}")
    if makepath and path.rstrip("/").count("/") > 1:
        parent = path.rstrip("/").rsplit("/", 1)[0]
        client.ensure_path(parent)
    if mode is CreateMode.CONTAINER:
        real, stat = client.create_extended(path, data, container=True)
        return CreateResult(real, stat)
    if mode.needs_ttl:
        try:
            real, stat = client.create_extended(path, data, ttl_ms=ttl_ms, sequence=mode.sequential)
        except kex.UnimplementedError:
            raise ZkBenchError("This server does not accept TTL znodes: start it with "
                               "-Dzookeeper.extendedTypesEnabled=true (ZooKeeper 3.5.3+)") from None
        return CreateResult(real, stat)
    ephemeral = mode in (CreateMode.EPHEMERAL, CreateMode.EPHEMERAL_SEQUENTIAL)
    real, stat = client.create(path, data, ephemeral=ephemeral, sequence=mode.sequential, include_data=True)
    return CreateResult(real, stat)


def set_data(client, path: str, data: bytes, expected_version: int) -> ZnodeStat:  # noqa: ANN001
    """Write ``data`` only if the znode is still at ``expected_version`` (-1 forces); ConflictError otherwise."""
    _guard(client, path)
    try:
        return client.set(path, data, version=expected_version)
    except kex.BadVersionError:
        stat = client.exists(path)
        raise ConflictError(path, expected_version, stat.version if stat else None) from None
    except kex.NoNodeError:
        if expected_version >= 0:
            raise ConflictError(path, expected_version, None) from None
        raise


def _walk(client, path: str) -> list[str]:  # noqa: ANN001
    """Every path under ``path`` (itself first), breadth first, reading one level's child lists in parallel."""
    order = [path]
    level = [path]
    while level:
        pending = [(p, client.get_children_async(p)) for p in level]
        level = []
        for parent, result in pending:
            try:
                names = result.get()
            except kex.NoNodeError:
                continue  # deleted meanwhile: nothing below it to count
            base = parent.rstrip("/")
            for name in names:
                level.append(f"{base}/{name}")
        order.extend(level)
    return order


def count_subtree(client, path: str) -> int:  # noqa: ANN001
    """How many znodes a recursive delete of ``path`` would remove right now (itself included)."""
    if client.exists(path) is None:
        raise kex.NoNodeError()
    return len(_walk(client, path))


def delete(client, path: str, *, recursive: bool = False, version: int = -1) -> DeleteResult:  # noqa: ANN001
    """Delete ``path`` (with its subtree if ``recursive``); return how many znodes this call removed.

    Deepest znodes go first, a level at a time with the deletes in flight together. Znodes that others delete
    meanwhile are skipped; children others create meanwhile are picked up by walking again.
    """
    _guard(client, path)
    if path == "/":
        raise ZkBenchError("Refusing to delete the root znode /")
    if not recursive:
        client.delete(path, version=version)
        return DeleteResult(path, 1)
    if client.exists(path) is None:
        raise kex.NoNodeError()
    deleted = 0
    for _attempt in range(20):
        paths = _walk(client, path)
        by_depth: dict[int, list[str]] = {}
        for p in paths:
            by_depth.setdefault(p.count("/"), []).append(p)
        try:
            for depth in sorted(by_depth, reverse=True):
                results = [(p, client.delete_async(p)) for p in by_depth[depth]]
                for p, result in results:
                    try:
                        result.get()
                        deleted += 1
                    except kex.NoNodeError:
                        log.debug("%s already gone", p)
            return DeleteResult(path, deleted)
        except kex.NotEmptyError:
            log.info("children appeared under %s while deleting it; walking again", path)
    raise ZkBenchError(f"Gave up deleting {path}: other clients keep creating children under it")
