"""The demo's live invariant line: green when it holds, amber for an allowed anomaly, red when violated."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

__all__ = ["InvariantLine"]

_MARK = {"ok": "✔ ", "note": "! ", "violated": "✘ "}


class InvariantLine(Static):
    """One line (wrapping if it must) stating the demo's invariant and whether it holds right now."""

    DEFAULT_CSS = """
    InvariantLine {
        height: auto;
        padding: 0 1;
        text-style: bold;
        background: $success 20%;
        color: $text-success;
    }
    InvariantLine.-note { background: $warning 20%; color: $text-warning; }
    InvariantLine.-violated { background: $error; color: $text; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__("", id=id, classes=classes)
        self.level = "ok"
        self.text = ""

    def show(self, level: str, text: str, detail: str = "") -> None:
        """Draw ``text`` at ``level`` ("ok", "note" or "violated"); ``detail`` becomes the tooltip."""
        if (level, text) == (self.level, self.text) and self.tooltip == (detail or None):
            return
        self.level, self.text = level, text
        for name in ("ok", "note", "violated"):
            self.set_class(level == name and name != "ok", f"-{name}")
        self.update(Text(_MARK.get(level, "") + text))
        self.tooltip = detail or None
