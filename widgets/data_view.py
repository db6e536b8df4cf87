"""A znode's value, recognised and pretty-printed (zkbench.dataformat), with its size and any truncation note.

The value is loaded through ``loader`` (the model's ``load_data``, which may block) in a thread worker owned by
this widget. ``x`` toggles between the recognised view and a hex dump of the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from zkbench.dataformat import DEFAULT_DISPLAY_LIMIT, DataKind, Formatted, format_data
from zkbench.errors import explain

__all__ = ["DataView"]

log = logging.getLogger(__name__)


class DataView(VerticalScroll, can_focus=True):
    """Shows one znode's data. :meth:`show` with the path and NodeInfo; loads lazily when data is None."""

    BINDINGS = [
        Binding("x", "toggle_hex", "Hex/auto", id="data.toggle_hex"),
    ]
    DEFAULT_CSS = """
    DataView { height: 1fr; padding: 0 1; }
    DataView > #data-summary { color: $text-muted; height: auto; }
    DataView > #data-note { color: $warning; text-style: bold; height: auto; display: none; }
    DataView > #data-note.-visible { display: block; }
    DataView > #data-body { height: auto; }
    """

    class Loaded(Message):
        def __init__(self, path: str, data: bytes | None, error: str | None) -> None:
            super().__init__()
            self.path, self.data, self.error = path, data, error

    def __init__(self, *, loader: Callable[[str], bytes | None] | None = None, limit: int = DEFAULT_DISPLAY_LIMIT,
                 id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.loader = loader
        self.limit = limit
        self.path: str | None = None
        self.data: bytes | None = None
        self.mzxid: int | None = None
        self.force_hex = False
        self.formatted: Formatted | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="data-summary")
        yield Static("", id="data-note")
        yield Static("", id="data-body")

    def show(self, path: str | None, info: Any, *, deleted: bool = False) -> None:
        """Show ``info``'s data, loading it (off the UI thread) when the model has not fetched it yet."""
        mzxid = info.stat.mzxid if info is not None and info.stat is not None else None
        if path == self.path and mzxid == self.mzxid and self.data is not None and not deleted:
            return
        self.path, self.mzxid = path, mzxid
        if path is None or info is None:
            self.data = None
            self._set(Text("(deleted)" if deleted else "", style="italic"), None, "")
            return
        if info.data is not None:
            self.data = info.data
            self._render_data()
        elif self.loader is not None:
            self.data = None
            self._set(Text("loading…", style="dim"), None, f"{info.stat.dataLength:,} bytes")
            self._load(path)
        else:
            self._set(Text("(data not loaded)", style="dim"), None, "")

    @work(thread=True, exclusive=True, group="data-load", exit_on_error=False)
    def _load(self, path: str) -> None:
        worker = get_current_worker()
        try:
            data, error = self.loader(path), None  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - shown as one line in the view
            log.info("could not load data of %s: %s", path, exc)
            data, error = None, explain(exc, path)
        if not worker.is_cancelled:
            self.post_message(self.Loaded(path, data, error))

    def on_data_view_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.path != self.path:
            return
        if message.error:
            self._set(Text(message.error, style="italic"), None, "could not load")
            return
        self.data = message.data
        self._render_data()

    def _render_data(self) -> None:
        force = DataKind.BINARY if self.force_hex else None
        f = format_data(self.data, limit=self.limit, force=force)
        self.formatted = f
        view = "hex" if self.force_hex and f.kind is DataKind.BINARY else f.kind.value
        self._set(f.renderable, f.note, f"{view}, {f.summary.split(', ', 1)[1]}  (x: hex/auto)")

    def _set(self, body: Any, note: str | None, summary: str) -> None:
        if not self.is_mounted:
            return
        self.query_one("#data-summary", Static).update(Text(summary))
        note_w = self.query_one("#data-note", Static)
        note_w.update(Text(f"⚠ {note}") if note else "")
        note_w.set_class(bool(note), "-visible")
        self.query_one("#data-body", Static).update(body)

    def action_toggle_hex(self) -> None:
        self.force_hex = not self.force_hex
        if self.data is not None:
            self._render_data()
