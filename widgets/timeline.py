"""Every change under the tree, newest first: time, kind, path, and for data changes old -> new size/version.

A line-API ScrollView over a bounded deque, so a burst of thousands of events costs one refresh and memory stays
flat. :meth:`Timeline.add_events` takes a batch of mirror events; :attr:`Timeline.prefix` filters by path prefix.
When the user has scrolled down into history, new entries do not move what they are reading.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from zkbench.dataformat import human_size

__all__ = ["Timeline", "TimelineEntry", "entry_for"]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    timestamp: float
    kind: str  # created / deleted / data / children / resync / connection
    path: str
    detail: str = ""


def _size(n: int) -> str:
    return human_size(n).split(" (")[0]


def entry_for(event: Any, now: float) -> TimelineEntry | None:
    """One timeline row for a mirror/connection event, or None for events the timeline does not show."""
    kind = type(event).__name__
    ts = getattr(event, "timestamp", None) or now
    if kind == "NodeAdded":
        stat = getattr(event, "stat", None)
        detail = f"{_size(stat.dataLength)}" if stat is not None else ""
        if stat is not None and stat.ephemeralOwner:
            detail += f", ephemeral of 0x{stat.ephemeralOwner & 0xFFFFFFFFFFFFFFFF:x}"
        return TimelineEntry(ts, "created", event.path, detail)
    if kind == "NodeRemoved":
        return TimelineEntry(ts, "deleted", event.path)
    if kind == "DataChanged":
        old, new = event.old_stat, event.new_stat
        if old is not None and new is not None and old.mzxid == new.mzxid and old.version == new.version \
                and old.dataLength == new.dataLength:
            # only pzxid/cversion/numChildren moved (a child came or went): the "children" row already says it
            return None
        if old is not None and new is not None:
            detail = f"{_size(old.dataLength)} v{old.version} -> {_size(new.dataLength)} v{new.version}"
        elif new is not None:
            detail = f"-> {_size(new.dataLength)} v{new.version}"
        else:
            detail = ""
        return TimelineEntry(ts, "data", event.path, detail)
    if kind == "ChildrenChanged":
        added, removed = tuple(event.added or ()), tuple(event.removed or ())
        parts = []
        if added:
            parts.append(f"+{len(added)}: " + ", ".join(added[:3]) + (" …" if len(added) > 3 else ""))
        if removed:
            parts.append(f"-{len(removed)}: " + ", ".join(removed[:3]) + (" …" if len(removed) > 3 else ""))
        return TimelineEntry(ts, "children", event.path, "; ".join(parts))
    if kind == "ResyncStarted":
        return TimelineEntry(ts, "resync", "/", f"re-walking the tree ({event.reason})")
    if kind == "ResyncFinished":
        return TimelineEntry(ts, "resync", "/", f"done in {event.seconds:.2f}s: +{event.added} -{event.removed} "
                                                f"~{event.changed}")
    if kind == "ConnectionStateChanged":
        state = getattr(event.state, "value", str(event.state))
        sid = f" session 0x{event.session_id:x}" if event.session_id else ""
        return TimelineEntry(ts, "session", getattr(event, "role", ""), f"{state}{sid}")
    return None


class Timeline(ScrollView, can_focus=True):
    """Newest-first event list with a path-prefix filter."""

    COMPONENT_CLASSES = {"timeline--time", "timeline--created", "timeline--deleted", "timeline--data",
                         "timeline--children", "timeline--other", "timeline--detail", "timeline--empty"}
    DEFAULT_CSS = """
    Timeline { height: 1fr; }
    Timeline > .timeline--time { color: $text-muted; }
    Timeline > .timeline--created { color: $success; text-style: bold; }
    Timeline > .timeline--deleted { color: $error; text-style: bold; }
    Timeline > .timeline--data { color: $warning; text-style: bold; }
    Timeline > .timeline--children { color: $accent; }
    Timeline > .timeline--other { color: $secondary; }
    Timeline > .timeline--detail { color: $text-muted; }
    Timeline > .timeline--empty { color: $text-muted; text-style: italic; }
    """

    prefix: reactive[str] = reactive("")

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.time,
                 id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.clock = clock
        self.entries: deque[TimelineEntry] = deque(maxlen=max_entries)
        self._view: list[TimelineEntry] = []  # filtered, oldest first

    # -------------------------------------------------------------- data
    def _matches(self, entry: TimelineEntry) -> bool:
        prefix = self.prefix
        if not prefix:
            return True
        if entry.kind in ("session", "resync"):
            return False
        return entry.path == prefix or entry.path.startswith(prefix.rstrip("/") + "/")

    def add_events(self, events: Iterable[Any]) -> int:
        """Append a batch; returns how many rows it added."""
        now = self.clock()
        new = [e for e in (entry_for(ev, now) for ev in events) if e is not None]
        return self.add_entries(new)

    def add_entries(self, new: list[TimelineEntry]) -> int:
        if not new:
            return 0
        overflow = len(self.entries) + len(new) - (self.entries.maxlen or 0)
        self.entries.extend(new)
        shown = [e for e in new if self._matches(e)]
        if overflow > 0 or len(self._view) + len(shown) > len(self.entries):
            self._rebuild()
        else:
            self._view.extend(shown)
        if shown:
            if self.scroll_y > 0:  # keep what the user is reading in place
                self.scroll_to(y=self.scroll_y + len(shown), animate=False, immediate=True)
            self._resize()
        return len(new)

    def watch_prefix(self) -> None:
        self._rebuild()
        self.scroll_to(y=0, animate=False)

    def _rebuild(self) -> None:
        self._view = [e for e in self.entries if self._matches(e)]
        self._resize()

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, max(1, len(self._view)))
        self.refresh()

    @property
    def visible_entries(self) -> list[TimelineEntry]:
        """Rows as shown, newest first."""
        return list(reversed(self._view))

    # -------------------------------------------------------------- rendering
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = self.scroll_offset.y + y
        if not self._view:
            if y == 0:
                msg = "no events yet" if not self.prefix else f"no events under {self.prefix}"
                return Strip([Segment(msg[:width], self.get_component_rich_style("timeline--empty"))])
            return Strip.blank(width)
        if index >= len(self._view):
            return Strip.blank(width)
        entry = self._view[len(self._view) - 1 - index]
        stamp = datetime.fromtimestamp(entry.timestamp).strftime("%H:%M:%S.") + \
            f"{int(entry.timestamp * 1000) % 1000:03d}"
        kind_class = f"timeline--{entry.kind}" if entry.kind in ("created", "deleted", "data", "children") \
            else "timeline--other"
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(stamp + " ", self.get_component_rich_style("timeline--time"))
        line.append(f"{entry.kind:<8} ", self.get_component_rich_style(kind_class))
        line.append(entry.path)
        if entry.detail:
            line.append("  " + entry.detail, self.get_component_rich_style("timeline--detail"))
        line.truncate(width, overflow="ellipsis")
        segments = list(line.render(self.app.console))
        strip = Strip(segments, line.cell_len).crop_extend(0, width, Style())
        return strip.apply_style(self.rich_style)
