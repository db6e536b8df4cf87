"""Modal editors: create a znode, set its data, delete it (recursive deletes say how many znodes go first).

Each dialog is given the engine call to make (a function bound to the user's client, from zkbench.edits) and runs
it in its own thread worker. A failure stays in the dialog as one line so the user can fix and retry; success
dismisses with the result. A set that loses a race shows both dataVersions and offers an explicit overwrite.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, TextArea
from textual.worker import get_current_worker

from zkbench.dataformat import DataKind, detect, human_size
from zkbench.edits import ConflictError, CreateMode, validate_path
from zkbench.errors import explain

__all__ = ["CreateDialog", "SetDataDialog", "DeleteDialog", "parse_hex"]

log = logging.getLogger(__name__)

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90%; max-width: 100; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 0 1;
}}
{name} .dialog-title {{ text-style: bold; width: 1fr; margin-bottom: 1; }}
{name} .dialog-error {{ color: $error; text-style: bold; height: auto; display: none; }}
{name} .dialog-error.-visible {{ display: block; }}
{name} .dialog-buttons {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} .dialog-buttons Button {{ margin-left: 1; }}
{name} .dialog-hint {{ color: $text-muted; height: auto; }}
{name} TextArea {{ height: 8; }}
{name} Input, {name} Select {{ margin-bottom: 1; }}
"""


def parse_hex(text: str) -> bytes:
    """Hex digits with any spacing (``de ad be ef`` or ``deadbeef``); ValueError with one line otherwise."""
    cleaned = "".join(text.split())
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError("hex data must be pairs of hex digits, e.g. 'de ad be ef'") from None


class _Dialog(ModalScreen[Any]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _error(self, message: str | None) -> None:
        err = self.query_one(".dialog-error", Static)
        err.update(Text(message or ""))
        err.set_class(bool(message), "-visible")

    @property
    def error_text(self) -> str:
        """The one-line error currently shown (empty when none); for tests and screen readers."""
        err = self.query_one(".dialog-error", Static)
        return str(err.render()) if err.has_class("-visible") else ""


class CreateDialog(_Dialog):
    """Create a znode: path, data, mode (persistent/ephemeral/sequential/container/TTL) and TTL."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="CreateDialog")
    BINDINGS = [*_Dialog.BINDINGS, Binding("ctrl+s", "submit", "Create", id="dialog.create")]

    def __init__(self, parent: str, submit: Callable[..., Any]) -> None:
        super().__init__()
        self.parent_path = parent
        self.submit = submit

    def compose(self) -> ComposeResult:
        start = "/" if self.parent_path == "/" else self.parent_path + "/"
        with Vertical():
            yield Label("Create a znode", classes="dialog-title")
            yield Input(value=start, placeholder="/path/of/znode", id="create-path")
            yield Select([(m.value, m) for m in CreateMode], value=CreateMode.PERSISTENT, allow_blank=False,
                         id="create-mode")
            yield Input(placeholder="TTL in ms (TTL modes only)", id="create-ttl", type="integer", disabled=True)
            yield Label("Data (UTF-8 text, or hex with the box ticked):", classes="dialog-hint")
            yield TextArea("", id="create-data", soft_wrap=True)
            yield Checkbox("data is hex", id="create-hex")
            yield Static("", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Create", variant="primary", id="ok")

    def on_mount(self) -> None:
        path = self.query_one("#create-path", Input)
        path.focus()
        path.cursor_position = len(path.value)

    @on(Select.Changed, "#create-mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        mode = event.value
        self.query_one("#create-ttl", Input).disabled = not (isinstance(mode, CreateMode) and mode.needs_ttl)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#create-path")
    def action_submit(self) -> None:
        try:
            request = self._request()
        except ValueError as exc:
            self._error(explain(exc))
            return
        self._error(None)
        self._run(request)

    def _request(self) -> dict[str, Any]:
        mode = self.query_one("#create-mode", Select).value
        assert isinstance(mode, CreateMode)
        path = self.query_one("#create-path", Input).value.strip()
        validate_path(path, sequential=mode.sequential)
        if path == "/":
            raise ValueError("give the new znode a name")
        raw = self.query_one("#create-data", TextArea).text
        data = parse_hex(raw) if self.query_one("#create-hex", Checkbox).value else raw.encode("utf-8")
        ttl_ms: int | None = None
        if mode.needs_ttl:
            ttl_text = self.query_one("#create-ttl", Input).value.strip()
            if not ttl_text:
                raise ValueError("a TTL znode needs a TTL in milliseconds")
            ttl_ms = int(ttl_text)
        return {"path": path, "data": data, "mode": mode, "ttl_ms": ttl_ms}

    @work(thread=True, exclusive=True, group="dialog-create", exit_on_error=False)
    def _run(self, request: dict[str, Any]) -> None:
        worker = get_current_worker()
        try:
            result = self.submit(**request)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the dialog's one error line
            log.info("create %s failed: %s", request["path"], exc)
            if not worker.is_cancelled:
                self.app.call_from_thread(self._error, explain(exc, request["path"]))
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self.dismiss, (result, request["mode"]))


class SetDataDialog(_Dialog):
    """Edit a znode's data against the dataVersion it was read at; a lost race shows both versions."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="SetDataDialog")
    BINDINGS = [*_Dialog.BINDINGS, Binding("ctrl+s", "submit", "Save", id="dialog.save")]

    def __init__(self, path: str, data: bytes, version: int, submit: Callable[[bytes, int], Any]) -> None:
        super().__init__()
        self.path = path
        self.original = data
        self.version = version
        self.submit = submit
        self.conflict: ConflictError | None = None
        self.as_hex = detect(data) is DataKind.BINARY

    def compose(self) -> ComposeResult:
        text = " ".join(f"{b:02x}" for b in self.original) if self.as_hex else self.original.decode("utf-8")
        with Vertical():
            yield Label(Text(f"Set data of {self.path}"), classes="dialog-title")
            yield Static(Text(f"editing dataVersion {self.version} ({human_size(len(self.original))}); saving "
                              f"fails if anyone changes it first"), classes="dialog-hint", id="set-version")
            yield TextArea(text, id="set-data", soft_wrap=True)
            yield Checkbox("data is hex", value=self.as_hex, id="set-hex")
            yield Static("", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Overwrite anyway", variant="error", id="overwrite", disabled=True)
                yield Button("Save", variant="primary", id="ok")

    def on_mount(self) -> None:
        self.query_one("#overwrite", Button).display = False
        self.query_one("#set-data", TextArea).focus()

    def _data(self) -> bytes:
        raw = self.query_one("#set-data", TextArea).text
        return parse_hex(raw) if self.query_one("#set-hex", Checkbox).value else raw.encode("utf-8")

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#ok")
    def action_submit(self) -> None:
        self._save(self.version)

    @on(Button.Pressed, "#overwrite")
    def _overwrite(self) -> None:
        if self.conflict is not None and self.conflict.actual is not None:
            self._save(self.conflict.actual)

    def _save(self, version: int) -> None:
        try:
            data = self._data()
        except ValueError as exc:
            self._error(explain(exc))
            return
        self._error(None)
        self._run(data, version)

    @work(thread=True, exclusive=True, group="dialog-set", exit_on_error=False)
    def _run(self, data: bytes, version: int) -> None:
        worker = get_current_worker()
        try:
            stat = self.submit(data, version)
        except ConflictError as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self.show_conflict, exc)
            return
        except Exception as exc:  # noqa: BLE001 - every failure becomes the dialog's one error line
            log.info("set %s failed: %s", self.path, exc)
            if not worker.is_cancelled:
                self.app.call_from_thread(self._error, explain(exc, self.path))
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self.dismiss, stat)

    def show_conflict(self, exc: ConflictError) -> None:
        """Show the two versions; offer an explicit overwrite of the version now on the server."""
        self.conflict = exc
        self._error(str(exc))
        button = self.query_one("#overwrite", Button)
        if exc.actual is not None:
            button.label = f"Overwrite dataVersion {exc.actual}"
            button.disabled = False
            button.display = True
        else:
            button.display = False


class DeleteDialog(_Dialog):
    """Confirm a delete; for a znode with children, count the subtree first and say how many will go."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="DeleteDialog")
    BINDINGS = [*_Dialog.BINDINGS, Binding("ctrl+s", "submit", "Delete", id="dialog.delete")]

    def __init__(self, path: str, count: Callable[[], int], submit: Callable[[bool], Any]) -> None:
        super().__init__()
        self.path = path
        self.count = count
        self.submit = submit
        self.total: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Delete {self.path}?"), classes="dialog-title")
            yield Static(Text("counting the znodes under it…"), id="delete-count")
            yield Static("", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Delete", variant="error", id="ok", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._count()

    @work(thread=True, exclusive=True, group="dialog-count", exit_on_error=False)
    def _count(self) -> None:
        try:
            total = self.count()
        except Exception as exc:  # noqa: BLE001 - shown as the dialog's error line
            log.info("counting %s failed: %s", self.path, exc)
            self.app.call_from_thread(self._error, explain(exc, self.path))
            return
        self.app.call_from_thread(self._counted, total)

    def _counted(self, total: int) -> None:
        self.total = total
        below = total - 1
        if below <= 0:
            msg = "It has no children. This cannot be undone."
            label = "Delete"
        else:
            msg = (f"This is a recursive delete: it removes {total:,} znodes ({self.path} and {below:,} "
                   f"below it). This cannot be undone.")
            label = f"Delete {total:,} znodes"
        self.query_one("#delete-count", Static).update(Text(msg))
        ok = self.query_one("#ok", Button)
        ok.label = label
        ok.disabled = False

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#ok")
    def action_submit(self) -> None:
        if self.total is None:
            return
        self.query_one("#ok", Button).disabled = True
        self._run(self.total > 1)

    @work(thread=True, exclusive=True, group="dialog-delete", exit_on_error=False)
    def _run(self, recursive: bool) -> None:
        try:
            result = self.submit(recursive)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the dialog's one error line
            log.info("delete %s failed: %s", self.path, exc)
            self.app.call_from_thread(self._error, explain(exc, self.path))
            self.app.call_from_thread(setattr, self.query_one("#ok", Button), "disabled", False)
            return
        self.app.call_from_thread(self.dismiss, result)
