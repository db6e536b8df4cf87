"""Event records shared by the engine (connection, mirror, actors) and the UI. Frozen, slotted, cheap."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from kazoo.protocol.states import ZnodeStat

__all__ = ["ConnectionState", "ConnectionStateChanged", "NodeAdded", "NodeRemoved", "DataChanged",
           "ChildrenChanged", "ResyncStarted", "ResyncFinished", "SyncProgress", "MirrorEvent"]


class ConnectionState(enum.Enum):
    """What the user sees in the header. kazoo's SUSPENDED/LOST plus the moments in between."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    CONNECTED_READ_ONLY = "connected (server read-only)"
    SUSPENDED = "suspended"
    RECONNECTING = "reconnecting"
    LOST = "lost"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ConnectionStateChanged:
    """The user (or mirror) session changed state; ``session_id`` is 0 when there is none."""

    state: ConnectionState
    server: str | None
    session_id: int
    timestamp: float = field(default_factory=time.time)
    role: str = "user"  # "user" for the shell/editors session, "mirror" for the mirror's own session


# --- mirror events (zkbench.mirror puts these into its queue; paths are relative to the chroot)


@dataclass(frozen=True, slots=True)
class NodeAdded:
    """A znode the mirror did not know (created, or found by the initial sync or a resync)."""

    path: str
    stat: "ZnodeStat"
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class NodeRemoved:
    """A znode the mirror knew is gone."""

    path: str
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class DataChanged:
    """A known znode's data and/or stat changed (``old_stat`` None if it was not known before)."""

    path: str
    old_stat: "ZnodeStat | None"
    new_stat: "ZnodeStat"
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ChildrenChanged:
    """The child list of a known znode changed: names added and removed (sorted)."""

    path: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ResyncStarted:
    """The mirror re-walks the tree (after a reconnect or a new session) and will emit only the differences."""

    reason: str
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ResyncFinished:
    """A resync is complete: how many znodes it found added, removed and changed, and how long it took."""

    added: int
    removed: int
    changed: int
    seconds: float
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Initial-sync progress for a "loading…" display: znodes known so far; ``done`` once complete."""

    known: int
    done: bool
    timestamp: float = field(default_factory=time.time)


MirrorEvent = Union[NodeAdded, NodeRemoved, DataChanged, ChildrenChanged, ResyncStarted, ResyncFinished,
                    SyncProgress, ConnectionStateChanged]
