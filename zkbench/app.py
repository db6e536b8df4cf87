"""The Textual app: wiring, navigation, global bindings, command palette, and the event-draining timer.

Data flows one way: the engine (mirror, connection) puts events into ``workbench.events``; a timer drains it in
batches and hands each batch to every screen that has ``apply_events(batch)``. Commands flow back only through
the engine (the shell, zkbench.edits, the actor supervisor).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Iterable
from importlib import resources
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from zkbench.demos import DEMO_SPECS
from zkbench.errors import explain
from zkbench.events import ConnectionState, ConnectionStateChanged
from zkbench.settings import Settings, load_ui_state, save_ui_state, state_dir
from zkbench.workbench import Workbench

__all__ = ["ZkBenchApp", "DEMOS", "HelpScreen", "NavBar", "ConnectionBanner"]

log = logging.getLogger(__name__)

_DEMO_BLURBS = {
    "lock": "contenders queue as ephemeral-sequential znodes; each watches its predecessor",
    "election": "the lowest candidate leads; killing it promotes the next",
    "queue": "producers add sequential jobs, workers take the lowest one",
    "discovery": "services register ephemeral instances; a load balancer keeps a live list",
    "barrier": "a barrier holds everyone; a double barrier waits for N to enter and all to leave",
    "config": "apps watch their config znode and reload on every change",
    "master-worker": "one active master assigns tasks; dead workers' tasks are reassigned",
}
#: Demo screens reachable from the app: (kind, title, one-line description), from zkbench.demos' specs.
DEMOS: tuple[tuple[str, str, str], ...] = tuple(
    (kind, spec.title, _DEMO_BLURBS.get(kind, spec.crash_hint)) for kind, spec in DEMO_SPECS.items())

EVENT_BATCH_MAX = 20_000  # events per drain tick; the rest wait for the next tick (never starve the UI)


class NavBar(Static):
    """Where you are, and the few global keys."""

    def render_for(self, where: str, read_only: bool) -> None:
        text = Text()
        text.append("zkbench", style="bold")
        text.append(" › ")
        text.append(where, style="bold")
        text.append("   F1 help · F2 shell · F3 ensemble · F4 demos · ^p commands", style="dim")
        if read_only:
            text.append("   READ-ONLY", style="bold reverse")
        self.update(text)


class ConnectionBanner(Static):
    """Shown while the user session is not connected, with what zkbench is doing about it."""


class HelpScreen(ModalScreen[None]):
    """Keys of the current screen and the app, and the shell's commands."""

    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close", id="help_close")]

    def __init__(self, content: Any, text: str) -> None:
        super().__init__()
        self._content = content
        self.help_text = text  # the same content as plain text (tests, screen readers)

    def compose(self) -> ComposeResult:
        body = VerticalScroll(Static(self._content), id="help-body")
        body.border_title = "zkbench help"
        yield body

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class DemoPicker(ModalScreen[str | None]):
    """Choose a demo to open."""

    BINDINGS = [Binding("escape", "cancel", "Back", id="demo_picker_cancel")]

    def compose(self) -> ComposeResult:
        options = [Option(Text.assemble((f"{title:<18}", "bold"), (desc, "dim")), id=kind)
                   for kind, title, desc in DEMOS]
        yield OptionList(*options, id="demo-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).border_title = "Demos (Enter opens, Esc goes back)"

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PathPrompt(ModalScreen[str | None]):
    """Ask for a znode path (with completion from the mirror)."""

    BINDINGS = [Binding("escape", "cancel", "Back", id="path_prompt_cancel")]

    def __init__(self, title: str, model: Any = None, initial: str = "/") -> None:
        super().__init__()
        self._title = title
        self._model = model
        self._initial = initial

    def compose(self) -> ComposeResult:
        from zkbench.screens.main import PathSuggester

        with VerticalScroll(id="path-box"):
            yield Label(self._title)
            yield Input(self._initial, placeholder="/path/to/znode  (→ completes)", id="path-input",
                        suggester=PathSuggester(lambda: self._model))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ZkBenchApp(App[int]):
    """zkbench's full-screen app."""

    TITLE = "zkbench"
    CSS_PATH = str(resources.files("zkbench.styles").joinpath("app.tcss"))
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("f1,question_mark", "help", "Help", id="help"),
        Binding("f2,colon", "toggle_shell", "Shell", id="toggle_shell"),
        Binding("f3", "ensemble", "Ensemble", id="ensemble"),
        Binding("f4", "demos", "Demos", id="demos"),
        Binding("f5", "reconnect", "Reconnect", id="reconnect", show=False),
        Binding("f6", "toggle_read_only", "Read-only", id="toggle_read_only", show=False),
        Binding("ctrl+g", "go_to_path", "Go to path", id="go_to_path", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit", show=False, priority=True),
    ]

    def __init__(self, workbench: Workbench, settings: Settings | None = None, *, resilient: bool = False,
                 open_on_mount: bool = True, start_screen: str | None = None) -> None:
        super().__init__()
        self.workbench = workbench
        self.settings = settings or Settings()
        self.resilient = resilient
        self.open_on_mount = open_on_mount
        self.start_screen = start_screen
        self.conn_state: ConnectionStateChanged | None = None
        self.connect_error: str | None = None
        self._main: Screen | None = None
        self._dropped = 0
        if self.settings.keys:
            self.set_keymap(dict(self.settings.keys))
        theme = self.settings.theme or load_ui_state().get("theme")
        if theme and theme in self.available_themes:
            self.theme = theme

    # ------------------------------------------------------------------ start-up
    def on_mount(self) -> None:
        self.screen_change_signal.subscribe(self, self._on_screen_change)
        self.theme_changed_signal.subscribe(self, lambda theme: save_ui_state(theme=theme.name))
        self._main = self._make_main_screen()
        self.push_screen(self._main)
        self.set_interval(0.05, self._drain_events, name="drain-events")
        if self.open_on_mount:
            self._open_sessions()

    def _make_main_screen(self) -> Screen:
        from zkbench.screens.main import MainScreen

        return MainScreen(self.workbench)

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def _open_sessions(self) -> None:
        """Open the user session and the mirror off the UI thread; failures become one line and a banner."""
        try:
            self.workbench.open()
        except Exception as exc:  # noqa: BLE001 - every failure must become one line, not a crash
            log.exception("could not open sessions")
            self.call_from_thread(self._connect_failed, explain(exc))
            return
        self.call_from_thread(self._connected)

    def _connected(self) -> None:
        self.connect_error = None
        self._refresh_chrome()
        for screen in self.screen_stack:
            hook = getattr(screen, "on_workbench_ready", None)
            if hook is not None:
                hook()
        if self.start_screen:
            target, self.start_screen = self.start_screen, None
            self.open_target(target)

    def _connect_failed(self, message: str) -> None:
        self.connect_error = message
        self.notify(message, title="Connection failed", severity="error", markup=False, timeout=10)
        self._refresh_chrome()

    def open_target(self, target: str) -> None:
        """Open ``ensemble`` or ``demo:<kind>`` (used by ``zkbench demo lock`` and the palette)."""
        if target == "ensemble":
            self.action_ensemble()
        elif target.startswith("demo:"):
            self.open_demo(target.split(":", 1)[1])

    # ------------------------------------------------------------------ events
    def _drain_events(self) -> None:
        events = self.workbench.events
        batch: list[Any] = []
        try:
            while len(batch) < EVENT_BATCH_MAX:
                batch.append(events.get_nowait())
        except queue.Empty:
            pass
        if not batch:
            return
        chrome_dirty = False
        for event in batch:
            if isinstance(event, ConnectionStateChanged) and event.role == "user":
                self.conn_state = event
                chrome_dirty = True
        if chrome_dirty:
            self._refresh_chrome()
        for screen in list(self.screen_stack):
            apply = getattr(screen, "apply_events", None)
            if apply is None:
                continue
            try:
                apply(batch)
            except Exception as exc:  # noqa: BLE001 - one screen's bug must not stop the stream
                self._report_unexpected(exc)

    # ------------------------------------------------------------------ chrome
    def _on_screen_change(self, screen: Screen) -> None:
        if isinstance(screen, ModalScreen):
            return
        if not screen.query(NavBar):
            screen.mount(NavBar(), before=0 if screen.children else None)
        if not screen.query(ConnectionBanner):
            screen.mount(ConnectionBanner())
        self._refresh_chrome()

    def _where(self, screen: Screen) -> str:
        return str(getattr(screen, "NAV_TITLE", None) or getattr(screen, "title", None) or "Tree")

    def _refresh_chrome(self) -> None:
        screen = self.screen
        for nav in screen.query(NavBar):
            nav.render_for(self._where(screen), self.workbench.read_only)
        text, level = self._banner_text()
        for banner in screen.query(ConnectionBanner):
            banner.update(Text(text))
            banner.set_class(bool(text), "-visible")
            banner.set_class(level == "warning", "-warning")

    def _banner_text(self) -> tuple[str, str]:
        if self.connect_error:
            return f"{self.connect_error}  —  F5 to retry", "error"
        state = self.conn_state.state if self.conn_state else None
        if state is ConnectionState.SUSPENDED:
            return ("Connection suspended: the server stopped answering; kazoo is reconnecting "
                    "(the session survives if it comes back in time)", "warning")
        if state is ConnectionState.LOST:
            return "Session lost (expired or closed): reconnecting with a new session; ephemerals are gone", "error"
        if state is ConnectionState.RECONNECTING:
            return "Reconnecting…", "warning"
        if state is ConnectionState.CLOSED:
            return "Not connected  —  F5 to reconnect", "error"
        return "", ""

    # ------------------------------------------------------------------ actions
    def action_help(self) -> None:
        from zkbench.app_support import help_content

        self.push_screen(HelpScreen(*help_content(self)))

    async def action_toggle_shell(self) -> None:
        """Show the shell pane below the tree (mounting it the first time), or hide it; hidden, it keeps its
        history and output."""
        from zkbench.widgets.shell_pane import ShellPane

        if self._main is None:
            return
        if self.screen is not self._main:
            self.switch_to_main()
        dock = self._main.query_one("#shell-dock")
        panes = dock.query(ShellPane)
        if not panes:
            pane = ShellPane(self.workbench)
            await dock.mount(pane)
            self._main.show_shell_dock(True)
            pane.focus_input()
            return
        pane = panes.first()
        if dock.display and not pane.has_focus_within:
            pane.focus_input()
            return
        self._main.show_shell_dock(not dock.display)
        if dock.display:
            pane.focus_input()
        else:
            self._main.tree.focus()

    def switch_to_main(self) -> None:
        while len(self.screen_stack) > 1 and self.screen is not self._main:
            self.pop_screen()

    def action_ensemble(self) -> None:
        from zkbench.screens.ensemble import EnsembleScreen

        self.push_screen(EnsembleScreen(self.workbench))

    def action_demos(self) -> None:
        def chosen(kind: str | None) -> None:
            if kind:
                self.open_demo(kind)

        self.push_screen(DemoPicker(), chosen)

    def open_demo(self, kind: str) -> None:
        if kind not in {k for k, _, _ in DEMOS}:
            self.notify(f"No demo named {kind!r}; demos are {', '.join(k for k, _, _ in DEMOS)}",
                        severity="error", markup=False)
            return
        from zkbench.screens.demo import DemoScreen

        self.push_screen(DemoScreen(self.workbench, kind))

    def action_reconnect(self) -> None:
        self.connect_error = None
        self._refresh_chrome()
        self.notify("Reconnecting…", markup=False)
        self._reconnect()

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def _reconnect(self) -> None:
        try:
            self.workbench.reopen()
        except Exception as exc:  # noqa: BLE001
            log.exception("reconnect failed")
            self.call_from_thread(self._connect_failed, explain(exc))
            return
        self.call_from_thread(self._connected)

    def action_toggle_read_only(self) -> None:
        self.workbench.read_only = not self.workbench.read_only
        state = "on: every write is refused" if self.workbench.read_only else "off: writes allowed"
        self.notify(f"Read-only mode {state}", markup=False)
        self._refresh_chrome()
        for screen in self.screen_stack:
            hook = getattr(screen, "on_read_only_changed", None)
            if hook is not None:
                hook(self.workbench.read_only)

    def action_go_to_path(self) -> None:
        """The main screen's jump box (with completion), from anywhere."""
        if self._main is None:
            return
        self.switch_to_main()
        self._main.action_jump()

    def action_export_subtree(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self._export(path)

        self.push_screen(PathPrompt("Export subtree (writes a JSON dump to the state directory)",
                                    self.workbench.mirror), chosen)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export(self, path: str) -> None:
        from zkbench.app_support import export_subtree

        try:
            target = export_subtree(self.workbench, path, state_dir() / "exports")
        except Exception as exc:  # noqa: BLE001
            self.call_from_thread(self.notify, explain(exc, path), severity="error", markup=False)
            return
        self.call_from_thread(self.notify, f"Exported {path} to {target}", markup=False)

    # ------------------------------------------------------------------ palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Go to path", "Jump to a znode in the tree (Ctrl+G)", self.action_go_to_path)
        yield SystemCommand("Open shell", "Show the command shell beside the tree (F2 or :)",
                            self.action_toggle_shell)
        yield SystemCommand("Ensemble view", "Health of every server (F3)", self.action_ensemble)
        for kind, title, desc in DEMOS:
            yield SystemCommand(f"Demo: {title}", desc, lambda kind=kind: self.open_demo(kind))
        yield SystemCommand("Toggle read-only",
                            "Refuse every write (now " + ("on" if self.workbench.read_only else "off") + ") (F6)",
                            self.action_toggle_read_only)
        yield SystemCommand("Reconnect", "Open the sessions again (F5)", self.action_reconnect)
        yield SystemCommand("Export subtree", "Dump a subtree with data and ACLs to a JSON file",
                            self.action_export_subtree)
        yield SystemCommand("Help", "Keys and shell commands (F1 or ?)", self.action_help)
        yield from super().get_system_commands(screen)

    # ------------------------------------------------------------------ errors
    def _report_unexpected(self, exc: BaseException) -> None:
        path = state_dir() / "errors.log"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            import traceback

            with path.open("a") as fh:
                fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                fh.write("".join(traceback.format_exception(exc)))
        except OSError:
            log.exception("could not write %s", path)
        log.error("unexpected error", exc_info=exc)
        self.notify(f"Unexpected error: {explain(exc)} (details in {path})", severity="error", markup=False,
                    timeout=8)

    def _handle_exception(self, error: Exception) -> None:
        """In a user's session, an unexpected exception is logged and shown; tests still fail loudly."""
        if self.resilient:
            self._report_unexpected(error)
            return
        super()._handle_exception(error)
