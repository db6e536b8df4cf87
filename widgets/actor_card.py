"""One card per demo actor: id, role, pid, session, recipe state, what it watches, its role's facts, last step.

The card only draws an :class:`~zkbench.demos.ActorCardState`; the screen owns the state and the actions. A card
is focusable (the focused card is the "selected actor" the stop/crash/pause keys act on); up/down move between
cards. A crashed or stopped actor's card stays, greyed or red, until dismissed.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

__all__ = ["ActorCard", "STATE_STYLE", "readable"]

# Recipe state -> card class (colours live in the CSS below, with theme variables).
STATE_STYLE = {
    "holding": "good", "leader": "good", "working": "good", "registered": "good", "watching": "good",
    "waiting": "wait", "follower": "wait", "idle": "wait", "starting": "wait",
    "suspended": "warn", "lost": "bad", "stopped": "dead", "done": "dead",
}


class ActorCard(Static, can_focus=True):
    """A bordered card for one actor."""

    DEFAULT_CSS = """
    ActorCard {
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        padding: 0 1;
        margin: 0 0 0 0;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ActorCard.-good { border: round $success; }
    ActorCard.-wait { border: round $secondary; }
    ActorCard.-warn { border: round $warning; }
    ActorCard.-bad { border: round $error; }
    ActorCard.-dead { border: round $panel-lighten-1; color: $text-muted; }
    ActorCard.-paused { border: dashed $warning; }
    ActorCard.-crashed { border: heavy $error; color: $text-muted; }
    ActorCard.-selected { border-title-background: $accent; border-title-color: $text; }
    ActorCard:focus { background-tint: $foreground 6%; }
    """

    BINDINGS = [
        Binding("up", "move(-1)", "Previous actor", id="demo_card_prev", show=False),
        Binding("down", "move(1)", "Next actor", id="demo_card_next", show=False),
    ]

    class Selected(Message):
        """The user focused or clicked this card."""

        def __init__(self, actor_id: str) -> None:
            super().__init__()
            self.actor_id = actor_id

    def __init__(self, state: Any, *, index: int = 0, compact: bool = False) -> None:
        super().__init__("", id=None, classes="actor-card")
        self.actor_id: str = state.id
        self.index = index
        self.compact = compact
        self._drawn: tuple[Any, ...] | None = None
        self.show_state(state, index)

    def show_state(self, state: Any, index: int | None = None) -> None:
        """Redraw from ``state`` (an ActorCardState) if anything visible changed."""
        if index is not None:
            self.index = index
        facts = tuple(sorted(state.facts.items()))
        key = (state.state, state.fate, state.pid, state.session, state.watching, state.last, facts, self.index,
               state.returncode, self.compact, state.node)
        if key == self._drawn:
            return
        self._drawn = key
        fate = getattr(state.fate, "value", str(state.fate))
        style = "dead" if fate in ("stopped", "failed") else STATE_STYLE.get(state.state, "wait")
        for name in ("good", "wait", "warn", "bad", "dead"):
            self.set_class(style == name, f"-{name}")
        self.set_class(fate == "paused", "-paused")
        self.set_class(fate == "crashed", "-crashed")
        number = f"{self.index}·" if 0 < self.index < 10 else ""
        self.border_title = f"{number}{state.id}"
        self.border_subtitle = _fate_text(state)
        self.update(self._body(state))

    def _body(self, s: Any) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        fate = getattr(s.fate, "value", str(s.fate))
        state = s.state.upper() if s.state in ("holding", "leader") else s.state
        if fate == "crashed":
            text.append("crashed", style="bold")
            text.append(f" (was {state})" if s.state not in ("stopped", "starting") else "", style="dim")
        else:
            text.append(f"{state:<11}", style="bold")
        if s.session:
            text.append(f" session {s.session}", style="dim")
        if s.pid:
            text.append(f"  pid {s.pid}", style="dim")
        text.append(f"  {s.role}", style="dim")
        text.append("\n")
        detail = Text(no_wrap=True, overflow="ellipsis")
        if s.watching:
            detail.append("watching ", style="dim")
            detail.append(readable(s.watching))
        elif s.node and fate not in ("stopped", "crashed", "failed"):
            detail.append("node ", style="dim")
            detail.append(readable(s.node))
        for k, v in s.facts.items():
            if detail.plain:
                detail.append("  ")
            detail.append(f"{k} ", style="dim")
            detail.append(str(v), style="bold red" if str(v).startswith("REJECTED") else "")
        if not detail.plain:
            detail.append("-", style="dim")
        text.append_text(detail)
        if not self.compact:
            text.append("\n")
            text.append(s.last or "", style="italic")
        return text

    def on_focus(self) -> None:
        self.post_message(self.Selected(self.actor_id))

    def on_click(self) -> None:
        self.focus()

    def action_move(self, delta: int) -> None:
        cards = [c for c in self.screen.query(ActorCard) if c.display]
        if self not in cards:
            return
        i = cards.index(self) + delta
        if 0 <= i < len(cards):
            cards[i].focus()
            cards[i].scroll_visible()


_PROTECTED = re.compile(r"(?<=/)_c_[0-9a-f]+-")


def readable(path: str) -> str:
    """``/locks/db/_c_3b7a20aaee31-lock-0000000001`` -> ``/locks/db/lock-0000000001``: the guid prefix of a
    protected create is how a recipe finds its own node after a lost reply, not something a learner needs."""
    return _PROTECTED.sub("", path)


def _fate_text(s: Any) -> str:
    fate = getattr(s.fate, "value", str(s.fate))
    if fate == "crashed":
        return "CRASHED (SIGKILL) · x dismisses"
    if fate == "paused":
        return "PAUSED (SIGSTOP)"
    if fate in ("stopped", "failed"):
        code = "" if s.returncode is None else f" exit {s.returncode}"
        return f"{fate}{code} · x dismisses"
    if fate == "stopping":
        return "stopping (SIGTERM)"
    return fate
