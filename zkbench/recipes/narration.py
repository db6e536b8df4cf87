"""Typed narration: every recipe step becomes one :class:`Step`, a plain line plus the fields a UI card needs.

A recipe takes ``narrate=<callable(Step)>``; the callable runs on whatever thread the step happened on (the
caller's, or kazoo's callback thread) and must only record or enqueue. Every step is also logged at DEBUG.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["Step", "Narrator", "RecipeState", "Narrated", "short"]

log = logging.getLogger(__name__)


class RecipeState(str, enum.Enum):
    """What a participant is doing right now, for a status card (``state`` field of a step)."""

    IDLE = "idle"
    WAITING = "waiting"
    HOLDING = "holding"
    SUSPENDED = "suspended"
    LOST = "lost"
    LEADER = "leader"
    FOLLOWER = "follower"
    WORKING = "working"
    REGISTERED = "registered"
    WATCHING = "watching"
    DONE = "done"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Step:
    """One narrated step of a recipe.

    ``kind`` is a stable machine word ("created", "waiting", "acquired", ...), ``message`` the plain line a
    terminal prints, ``path`` the znode the step is about, ``watching`` the znode a watch is now set on,
    ``state`` the participant's state after the step, ``details`` extra data (tokens, epochs, job names).
    """

    recipe: str
    kind: str
    message: str
    path: str | None = None
    state: RecipeState | None = None
    watching: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))


Narrator = Callable[[Step], None]


def short(path: str) -> str:
    """The last component of a znode path: what narration names a sibling by."""
    return path.rsplit("/", 1)[-1]


class Narrated:
    """Mixin: ``self._say(kind, message, ...)`` builds a :class:`Step` and hands it to the narrator."""

    recipe_name = "recipe"
    _narrate: Narrator | None = None
    state: RecipeState = RecipeState.IDLE
    watching: str | None = None

    def _say(self, kind: str, message: str, *, path: str | None = None, state: RecipeState | None = None,
             watching: str | None | type(...) = ..., at: float | None = None, **details: Any) -> Step:
        """Narrate one step; ``at`` backdates it (e.g. to just before a delete whose effect others may see
        before our reply arrives), so histories order cause before effect."""
        if state is not None:
            self.state = state
        if watching is not ...:
            self.watching = watching  # type: ignore[assignment]
        step = Step(self.recipe_name, kind, message, path=path, state=self.state, watching=self.watching,
                    details=details, **({"timestamp": at} if at is not None else {}))
        log.debug("%s %s: %s", self.recipe_name, kind, message)
        if self._narrate is not None:
            try:
                self._narrate(step)
            except Exception:  # a broken consumer must not break the recipe (it may run on kazoo's thread)
                log.exception("narration consumer failed on %s", kind)
        return step
