"""The shell pane: zkCli's commands inside the TUI, on the user session (ephemerals here are "this session").

A prompt with the connection state and current directory, an Input with Tab completion (paths come from the
mirror's cache: no network call per keystroke) and Up/Down history persisted across runs, and a scrolling log
with tables and syntax colour. Commands run one at a time in a thread worker; ``watch`` streams into the log
through a deque drained on a timer until Escape or Ctrl-C. Dangerous commands ask for a yes inside the pane.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, RichLog

from zkbench.events import ConnectionState
from zkbench.shell import Shell, ShellError
from zkbench.shell.complete import common_prefix
from zkbench.shell.core import EventStream, Outcome, redact
from zkbench.shell.history import HistoryFile

__all__ = ["ShellPane", "ShellInput", "WorkbenchSession"]

log = logging.getLogger(__name__)

_STATE_STYLE = {
    ConnectionState.CONNECTED: ("●", "green"),
    ConnectionState.CONNECTED_READ_ONLY: ("●", "yellow"),
    ConnectionState.CONNECTING: ("○", "yellow"),
    ConnectionState.SUSPENDED: ("◌", "yellow"),
    ConnectionState.RECONNECTING: ("◌", "yellow"),
    ConnectionState.LOST: ("✕", "red"),
    ConnectionState.CLOSED: ("✕", "red"),
}


class WorkbenchSession:
    """The shell's view of the workbench's user session: ``close`` closes it, ``connect`` reopens it."""

    def __init__(self, workbench: Any) -> None:
        self.workbench = workbench

    @property
    def client(self):  # noqa: ANN201 - ZkClient | None
        return self.workbench.client

    @property
    def hosts(self) -> str:
        return self.workbench.hosts

    def connect(self, hosts: str | None) -> str:
        if hosts and hosts != self.workbench.hosts:
            raise ShellError("connect: the pane shares the app's session; to use another server start "
                             "`zkbench --hosts ...` or `zkbench shell --hosts ...`")
        from zkbench.connection import ConnectError

        connection = self.workbench.connection
        if connection.client is None or not connection.client.connected:
            if connection.client is not None:
                connection.close()
            try:
                connection.open()
            except ConnectError as exc:
                raise ShellError(str(exc)) from None
        return self.workbench.hosts

    def close(self) -> None:
        self.workbench.connection.close()


class ShellInput(Input):
    """The command line: Tab completes, Up/Down walk the history, Escape / Ctrl-C interrupt."""

    BINDINGS = [
        Binding("tab", "complete", "Complete", id="shell_complete", show=False),
        Binding("up", "history(-1)", "Previous command", id="shell_history_prev", show=False),
        Binding("down", "history(1)", "Next command", id="shell_history_next", show=False),
        Binding("escape", "interrupt", "Stop / cancel", id="shell_interrupt"),
        Binding("ctrl+c", "interrupt_or_copy", "Stop / copy", id="shell_interrupt_copy", show=False),
        Binding("ctrl+l", "clear_log", "Clear log", id="shell_clear"),
    ]

    def _pane(self) -> "ShellPane | None":
        for node in self.ancestors:
            if isinstance(node, ShellPane):
                return node
        return None

    def action_complete(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.complete()

    def action_history(self, step: int) -> None:
        pane = self._pane()
        if pane is not None:
            pane.history_step(step)

    def action_interrupt(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.interrupt()

    def action_interrupt_or_copy(self) -> None:
        if not self.selection.is_empty:
            self.action_copy()
            return
        self.action_interrupt()

    def action_clear_log(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.clear()


class ShellPane(Vertical):
    """``ShellPane(workbench)``: the shell on ``workbench.client``, completing from ``workbench.mirror``."""

    SCOPED_CSS = False  # one rule below is about the dock around the pane; every other starts with ShellPane
    DEFAULT_CSS = """
    ShellPane {
        height: 1fr;
        min-height: 6;
        border-top: solid $primary;
        background: $surface;
    }
    ShellPane > RichLog {
        height: 1fr;
        background: $surface;
        scrollbar-size-vertical: 1;
        padding: 0 1;
    }
    ShellPane > #shell-line {
        height: 1;
        background: $boost;
    }
    ShellPane #shell-prompt {
        width: auto;
        padding: 0 0 0 1;
        color: $text;
    }
    ShellPane ShellInput {
        width: 1fr;
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    ShellPane ShellInput:focus {
        border: none;
    }
    /* In the main screen's dock: the dock draws the top border. */
    #shell-dock > ShellPane {
        border-top: none;
    }
    ShellPane.-confirming #shell-prompt {
        color: $warning;
        text-style: bold;
    }
    """

    class CommandRan(Message):
        """A command finished (posted after its output is shown); ``paths`` it wrote, for the tree to select."""

        def __init__(self, line: str, ok: bool, error: str | None) -> None:
            super().__init__()
            self.line = line
            self.ok = ok
            self.error = error

    class _Done(Message):
        def __init__(self, outcome: Outcome, yes: bool) -> None:
            super().__init__()
            self.outcome = outcome
            self.yes = yes

    class _Completions(Message):
        def __init__(self, line: str, candidates: list[str]) -> None:
            super().__init__()
            self.line = line
            self.candidates = candidates

    def __init__(self, workbench: Any, *, history_path: Path | None = None, name: str | None = None,
                 id: str | None = "shell-pane", classes: str | None = None) -> None:  # noqa: A002
        super().__init__(name=name, id=id, classes=classes)
        self.workbench = workbench
        self.shell = Shell(WorkbenchSession(workbench), model=getattr(workbench, "mirror", None),
                           notify=self._enqueue)
        self._history_file = HistoryFile(history_path) if history_path else HistoryFile()
        self._history: list[str] = self._history_file.load()
        self._history_pos: int | None = None
        self._draft = ""
        self._pending: deque[str] = deque()
        self._lines: deque[str] = deque()  # from kazoo threads: watch events, WATCHER lines
        self._busy = False
        self._confirming: str | None = None
        self._stream: EventStream | None = None
        self._last_prompt: Text | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield RichLog(id="shell-log", wrap=True, markup=False, highlight=False, max_lines=5000, auto_scroll=True)
        with Horizontal(id="shell-line"):
            yield Label(self._prompt_text(), id="shell-prompt", markup=False)
            yield ShellInput(placeholder="zkCli command - help lists them, Tab completes", id="shell-input",
                             select_on_focus=False)

    def on_mount(self) -> None:
        self.set_interval(0.05, self._drain, name="shell-drain")
        self.query_one(RichLog).write(Text("zkbench shell - zkCli's commands plus cd, tree, find, txn, dump/load, "
                                           "watch. help lists them; Esc stops a watch.", style="dim"))

    @property
    def log_widget(self) -> RichLog:
        return self.query_one("#shell-log", RichLog)

    @property
    def input(self) -> ShellInput:
        return self.query_one("#shell-input", ShellInput)

    def focus_input(self) -> None:
        self.input.focus()

    # ------------------------------------------------------------------ model swap (the app starts the mirror late)
    def set_model(self, model: Any) -> None:
        self.shell.model = model

    # ------------------------------------------------------------------ prompt
    def _prompt_text(self) -> Text:
        if self._confirming is not None:
            return Text(self._confirming + " ", style="bold")
        state = getattr(getattr(self.workbench, "connection", None), "state", ConnectionState.CONNECTED)
        glyph, style = _STATE_STYLE.get(state, ("?", "yellow"))
        text = Text()
        text.append(glyph + " ", style=style)
        text.append(f"zk:{self.shell.cwd}")
        if getattr(self.workbench, "read_only", False):
            text.append(" (read-only)", style="bold yellow")
        if self._stream is not None:
            text.append(f" [{self._stream.description}: Esc stops]", style="italic")
        elif self._busy:
            text.append(" (running…)", style="dim")
        text.append(" > ")
        return text

    def _refresh_prompt(self) -> None:
        prompt = self._prompt_text()
        if prompt != self._last_prompt:
            self._last_prompt = prompt
            self.query_one("#shell-prompt", Label).update(prompt)

    # ------------------------------------------------------------------ input
    @on(Input.Submitted, "#shell-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value
        self.input.value = ""
        if self._confirming is not None:
            self._answer(line)
            return
        self.submit(line)

    def submit(self, line: str) -> None:
        """Run ``line`` as if typed (queued behind a running command)."""
        if not line.strip():
            return
        self._history_pos = None
        if not self._history or self._history[-1] != redact(line.strip()):
            self._history.append(redact(line.strip()))
            self._history_file.append(line)
        if self._busy:
            self._pending.append(line)
            return
        self._start(line, yes=False)

    def _start(self, line: str, *, yes: bool, echo: bool = True) -> None:
        self._busy = True
        if echo:
            self.log_widget.write(Text.assemble(self._echo_prompt(), (redact(line.strip()), "bold")))
        self._refresh_prompt()
        self._run(line, yes)

    def _echo_prompt(self) -> Text:
        return Text(f"zk:{self.shell.cwd} > ", style="dim")

    @work(thread=True, exclusive=True, group="shell-command", exit_on_error=False)
    def _run(self, line: str, yes: bool) -> None:
        outcome = self.shell.run(line, yes=yes, record=not yes)
        self.post_message(self._Done(outcome, yes))

    @on(_Done)
    def _done(self, message: _Done) -> None:
        outcome = message.outcome
        self._busy = False
        log_widget = self.log_widget
        if outcome.confirm is not None:
            self._confirming = outcome.confirm
            self._confirm_line = outcome.line
            self.add_class("-confirming")
            self.input.placeholder = "y to go ahead, anything else (or Esc) cancels"
        elif outcome.error is not None:
            log_widget.write(Text(outcome.error, style="bold red"))
        elif outcome.result is not None:
            result = outcome.result
            if result.rich is not None:
                log_widget.write(result.rich)
            elif result.text:
                log_widget.write(Text(result.text))
            if result.stream is not None:
                self._begin_stream(result.stream)
        if outcome.quit:
            log_widget.write(Text("(quit: close the pane with F2; the session stays open)", style="dim"))
        self._refresh_prompt()
        self.post_message(self.CommandRan(outcome.line, outcome.ok, outcome.error))
        if self._pending and self._confirming is None:
            self._start(self._pending.popleft(), yes=False)

    def _answer(self, answer: str) -> None:
        line = getattr(self, "_confirm_line", "")
        question = self._confirming or ""
        self._confirming = None
        self.remove_class("-confirming")
        self.input.placeholder = "zkCli command - help lists them, Tab completes"
        yes = answer.strip().lower() in ("y", "yes")
        self.log_widget.write(Text.assemble((question + " ", "yellow"), ("y" if yes else "n", "bold")))
        if yes:
            self._start(line, yes=True, echo=False)
        else:
            self.log_widget.write(Text("cancelled", style="dim"))
            self._refresh_prompt()
            if self._pending:
                self._start(self._pending.popleft(), yes=False)

    # ------------------------------------------------------------------ streams (watch) and watcher lines
    def _enqueue(self, line: str) -> None:
        """Called on kazoo's threads: only append (deque.append is thread-safe)."""
        self._lines.append(line)

    def _begin_stream(self, stream: EventStream) -> None:
        if self._stream is not None:
            self._stream.stop()
        self._stream = stream
        self._start_stream(stream)

    @work(thread=True, group="shell-stream-start", exit_on_error=False)
    def _start_stream(self, stream: EventStream) -> None:
        try:
            stream.start(self._enqueue)
        except Exception as exc:  # noqa: BLE001 - one line for the user, details in the log
            log.exception("starting %s failed", stream.description)
            from zkbench.errors import explain

            self._enqueue(f"{stream.description} failed: {explain(exc)}")
            stream.stop()

    def _drain(self) -> None:
        if self._lines:
            lines = []
            while self._lines and len(lines) < 500:
                lines.append(self._lines.popleft())
            log_widget = self.log_widget
            for line in lines:
                log_widget.write(Text(line, style="cyan"))
        if self._stream is not None and self._stream.done.is_set():
            self.log_widget.write(Text(f"{self._stream.description} stopped ({self._stream.count} events)",
                                       style="dim"))
            if self._stream in self.shell.streams:
                self.shell.streams.remove(self._stream)
            self._stream = None
        self._refresh_prompt()

    def interrupt(self) -> None:
        """Escape / Ctrl-C: cancel a question, stop a watch, or drop queued commands."""
        if self._confirming is not None:
            self._answer("")
            return
        if self._stream is not None:
            self._stream.stop()
            return
        if self._pending:
            self._pending.clear()
            self.log_widget.write(Text("queued commands dropped", style="dim"))
            return
        if self.input.value:
            self.input.value = ""

    def clear(self) -> None:
        self.log_widget.clear()

    # ------------------------------------------------------------------ history
    def history_step(self, step: int) -> None:
        if not self._history:
            return
        if self._history_pos is None:
            if step > 0:
                return
            self._draft = self.input.value
            pos = len(self._history) - 1
        else:
            pos = self._history_pos + step
        if pos >= len(self._history):
            self._history_pos = None
            self._set_input(self._draft)
            return
        pos = max(0, pos)
        self._history_pos = pos
        self._set_input(self._history[pos])

    def _set_input(self, value: str) -> None:
        self.input.value = value
        self.input.cursor_position = len(value)

    # ------------------------------------------------------------------ completion
    def complete(self) -> None:
        self.shell.model = getattr(self.workbench, "mirror", None)  # the app may start the mirror after us
        text = self.input.value[: self.input.cursor_position]
        if self.shell.model is not None or " " not in text.strip():
            self._apply_completions(text, self.shell.complete(text))  # in-memory: the mirror or the table
        else:
            self._complete_in_thread(text)  # no mirror: get_children, once per directory, off the UI thread

    @work(thread=True, exclusive=True, group="shell-complete", exit_on_error=False)
    def _complete_in_thread(self, text: str) -> None:
        self.post_message(self._Completions(text, self.shell.complete(text)))

    @on(_Completions)
    def _completions_ready(self, message: _Completions) -> None:
        if self.input.value[: self.input.cursor_position] == message.line:
            self._apply_completions(message.line, message.candidates)

    def _apply_completions(self, text: str, candidates: list[str]) -> None:
        if not candidates:
            self.app.bell()
            return
        rest = self.input.value[len(text):]
        if len(candidates) == 1:
            new = candidates[0]
        else:
            new = common_prefix(candidates)
            if len(new) <= len(text):
                shown = [c.rsplit(" ", 1)[-1].rstrip("/").rsplit("/", 1)[-1] or c for c in candidates[:200]]
                more = f"  … {len(candidates) - 200} more" if len(candidates) > 200 else ""
                self.log_widget.write(Text("  ".join(shown) + more, style="dim"))
                return
        self.input.value = new + rest
        self.input.cursor_position = len(new)

    def on_unmount(self) -> None:
        self.shell.stop_streams()
        if self._stream is not None:
            self._stream.stop()
