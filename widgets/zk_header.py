"""One line about the connection: state, server, session id, the mirror's watch strategy and the znode count.

Reusable by any screen: call :meth:`ZkHeader.set_connection` with ConnectionStateChanged values and
:meth:`ZkHeader.set_mirror` with the strategy and the count. ``hide_session`` keeps snapshots deterministic.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

__all__ = ["ZkHeader"]


class ZkHeader(Static):
    """Connection state · server · session · watch strategy · znode count."""

    DEFAULT_CSS = """
    ZkHeader { width: 1fr; height: 1; background: $panel; color: $text; padding: 0 1; }
    ZkHeader.-connected { background: $primary-muted; }
    ZkHeader.-suspended { background: $warning-muted; }
    ZkHeader.-lost { background: $error-muted; }
    """

    state: reactive[str] = reactive("connecting")
    server: reactive[str] = reactive("")
    session_id: reactive[int] = reactive(0)
    strategy: reactive[str] = reactive("")
    count: reactive[int | None] = reactive(None)
    read_only: reactive[bool] = reactive(False)
    syncing: reactive[str] = reactive("")

    def __init__(self, *, hide_session: bool = False, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.hide_session = hide_session

    def set_connection(self, state: str, server: str | None, session_id: int) -> None:
        self.state, self.server, self.session_id = state, server or "", session_id

    def set_mirror(self, strategy: str | None, count: int | None) -> None:
        self.strategy, self.count = strategy or "", count

    def watch_state(self, state: str) -> None:
        # classes change here, not in render(): a class set while rendering repaints only the text's cells, and
        # the rest of the row keeps the previous background
        self.set_class(state.startswith("connected"), "-connected")
        self.set_class(state in ("suspended", "reconnecting", "connecting"), "-suspended")
        self.set_class(state in ("lost", "closed"), "-lost")

    def render(self) -> Text:
        state = self.state
        icon = {"connected": "●", "suspended": "◐", "reconnecting": "◐", "lost": "○", "closed": "○"}.get(
            state.split(" ")[0], "◌")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{icon} {state}", style="bold")
        if self.server:
            text.append(f"  {self.server}")
        if self.session_id and not self.hide_session:
            text.append(f"  session 0x{self.session_id:x}")
        if self.strategy:
            text.append(f"  watches: {self.strategy}")
        if self.count is not None:
            text.append(f"  {self.count:,} znode" + ("" if self.count == 1 else "s"))
        if self.syncing:
            text.append(f"  {self.syncing}", style="italic")
        if self.read_only:
            text.append("  READ-ONLY", style="bold reverse")
        return text
