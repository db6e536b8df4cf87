"""The narration of every actor, interleaved in time order, fed in batches (one ``write_lines`` per batch)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.widgets import Log

__all__ = ["NarrationLog", "narration_line"]

_SUPERVISOR_MARK = "» "


def narration_line(event: Any, t0: float, width: int = 10) -> str:
    """``  +12.345  lock-2      acquired lock …``: time since the demo started, the actor, its line.

    Lines the supervisor made (signals it sent, exits it saw) are marked with ``»``.
    """
    offset = max(0.0, event.time - t0)
    mark = _SUPERVISOR_MARK if getattr(event, "source", "actor") == "supervisor" else ""
    text = event.message or event.kind
    return f"{offset:8.3f}s  {event.actor:<{width}} {mark}{text}"


class NarrationLog(Log):
    """A plain-text log (never markup: znode names may contain brackets) of actor narration."""

    DEFAULT_CSS = """
    NarrationLog { scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, max_lines: int = 5000, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__(max_lines=max_lines, highlight=False, auto_scroll=True, id=id, classes=classes)
        self.t0: float | None = None
        self.width = 10

    def write_events(self, events: Iterable[Any], t0: float | None = None) -> int:
        """Append one line per event (already in time order); returns how many were written."""
        batch = [e for e in events if e.kind not in ("stderr",) or e.message]
        if not batch:
            return 0
        if self.t0 is None:
            self.t0 = t0 if t0 is not None else batch[0].time
        self.width = max(self.width, *(len(e.actor) for e in batch))
        self.write_lines([narration_line(e, self.t0, self.width) for e in batch])
        return len(batch)

    def note(self, text: str, when: float) -> None:
        """A line from the demo itself (the GC-pause lesson's steps, control errors)."""
        t0 = self.t0 if self.t0 is not None else when
        self.t0 = t0
        self.write_line(f"{max(0.0, when - t0):8.3f}s  {'demo':<{self.width}} {_SUPERVISOR_MARK}{text}")
