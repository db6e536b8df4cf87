"""Event records shared by the engine (connection, mirror, actors) and the UI. Frozen, slotted, cheap."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

__all__ = ["ConnectionState", "ConnectionStateChanged"]


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
