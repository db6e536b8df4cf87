"""The actor JSON-lines protocol: one :class:`ActorEvent` per stdout line.

Fields: ``time`` (epoch seconds), ``actor`` (id), ``role``, ``session`` ("0x…" or ""), ``kind`` (stable word:
started, created, waiting, acquired, released, lost, elected, …, stopped; plus supervisor-made ``paused``,
``resumed``, ``crashed``, ``exited``), ``state`` (waiting/holding/leader/follower/working/… for a status card),
``message`` (the plain narration line), ``path``, ``watching`` (the znode a watch is set on) and ``details``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ActorEvent", "format_plain"]


@dataclass(frozen=True, slots=True)
class ActorEvent:
    actor: str
    kind: str
    message: str = ""
    role: str = ""
    session: str = ""
    state: str | None = None
    path: str | None = None
    watching: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
    source: str = "actor"  # "actor" (a line it printed) or "supervisor" (a signal it sent, an exit it saw)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, line: str) -> "ActorEvent":
        """Parse one line; raise ``ValueError`` if it is not an actor event."""
        data = json.loads(line)
        if not isinstance(data, dict) or "actor" not in data or "kind" not in data:
            raise ValueError(f"not an actor event: {line[:80]!r}")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ActorEvent":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def format_plain(event: ActorEvent) -> str:
    """The line a terminal shows: ``12:00:01.250 lock-1  acquired lock, working``."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time)) + f".{int(event.time * 1000) % 1000:03d}"
    return f"{stamp} {event.actor}  {event.message or event.kind}"
