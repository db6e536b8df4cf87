"""``zkbench shell`` (a classic REPL) and ``zkbench exec`` (commands for scripts and pipes).

Exit codes of ``exec``: 0 all commands succeeded, 1 a command failed (the rest were not run), 2 usage error,
3 a dangerous command needed ``--yes``, 4 could not connect. ``zkbench shell`` with piped stdin behaves like a
transcript (``zk:/ > ls /`` then the output) and exits 1 if any command failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from zkbench.connection import DEFAULT_HOSTS, ConnectError, Connection, ConnectionSettings
from zkbench.errors import ZkBenchError
from zkbench.settings import load_settings
from zkbench.shell.core import Outcome, Shell, ShellError, redact
from zkbench.shell.history import HistoryFile

__all__ = ["register", "connection_settings", "ConnectionSession", "run_shell", "run_exec", "HistoryFile",
           "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_CONFIRM", "EXIT_CONNECT"]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIRM, EXIT_CONNECT = 0, 1, 2, 3, 4


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # noqa: SLF001
    shell = sub.add_parser(
        "shell", parents=[common], help="a zkCli-compatible REPL (plus cd, tree, find, txn, dump/load, watch)",
        description="An interactive ZooKeeper shell in the terminal: zkCli's commands with their flags, relative "
                    "paths, Tab completion and history. With piped stdin it runs the lines as a transcript.",
        epilog="Type `help` inside for the commands. Without --hosts: $ZKBENCH_HOSTS, the settings file, "
               f"then {DEFAULT_HOSTS}.")
    shell.add_argument("--yes", action="store_true", help="answer yes to every confirmation (deleteall, mv, load)")
    shell.add_argument("--rich", action="store_true",
                       help="tables and syntax colour instead of zkCli's exact text (terminals only)")
    shell.set_defaults(func=run_shell)

    ex = sub.add_parser(
        "exec", parents=[common], help="run shell commands non-interactively (exit code, --json)",
        description="Run shell commands and exit: 0 when all succeed, 1 at the first failure (later commands are "
                    "not run), 3 when a dangerous command needs --yes, 4 when no server answers.",
        epilog='Example: zkbench exec "create /app x" "get /app"    zkbench exec -f backup.zk --json')
    ex.add_argument("commands", nargs="*", metavar="COMMAND", help="one shell command per argument (quote it)")
    ex.add_argument("-f", "--file", metavar="SCRIPT",
                    help="read commands from SCRIPT, one per line (# comments); - reads stdin")
    ex.add_argument("--json", action="store_true",
                    help="one JSON object per command: command, ok, output, data, error")
    ex.add_argument("--yes", action="store_true", help="confirm dangerous commands (deleteall, mv, load)")
    ex.set_defaults(func=run_exec)


def connection_settings(args: argparse.Namespace) -> ConnectionSettings:
    """Flags > ZKBENCH_* > settings file > 127.0.0.1:2181 (the one place to change when settings evolve)."""
    settings = load_settings(args)
    return settings.connection_settings(settings.hosts or DEFAULT_HOSTS)


class ConnectionSession:
    """The shell's own session (``zkbench shell``/``exec``); ``connect host:port`` switches servers."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self.connection: Connection | None = None

    @property
    def client(self):  # noqa: ANN201 - ZkClient | None
        return self.connection.client if self.connection is not None else None

    @property
    def hosts(self) -> str:
        return self.settings.hosts

    def open(self) -> None:
        self.connection = Connection(self.settings, role="user")
        self.connection.open()

    def connect(self, hosts: str | None) -> str:
        new = self.settings.with_hosts(hosts) if hosts else self.settings
        old = self.connection
        candidate = Connection(new, role="user")
        try:
            candidate.open()
        except ConnectError as exc:
            raise ShellError(str(exc)) from None
        if old is not None:
            old.close()
        self.settings, self.connection = new, candidate
        return new.hosts

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# ------------------------------------------------------------------------------------------------ output

class _Printer:
    """Prints outcomes: zkCli's exact text (always in pipes), or rich views on a terminal with --rich."""

    def __init__(self, out: TextIO, err: TextIO, *, plain: bool) -> None:
        self.out, self.err = out, err
        self.plain = plain or not out.isatty()
        self.lock = threading.Lock()
        self._console = None
        if not self.plain:
            from rich.console import Console

            self._console = Console(file=out, highlight=False)

    def outcome(self, outcome: Outcome) -> None:
        with self.lock:
            if outcome.error is not None:
                print(outcome.error, file=self.err, flush=True)
                return
            result = outcome.result
            if result is None:
                return
            if self._console is not None and result.rich is not None:
                self._console.print(result.rich)
            elif result.text:
                print(result.text, file=self.out, flush=True)

    def line(self, text: str, *, err: bool = False) -> None:
        with self.lock:
            print(text, file=self.err if err else self.out, flush=True)


def _stream(outcome: Outcome, printer: _Printer, shell: Shell, *, as_json: bool = False) -> None:
    """Print a watch's events until it ends (-n/-t) or Ctrl-C."""
    stream = outcome.result.stream if outcome.result else None
    if stream is None:
        return
    if as_json:
        stream.start(lambda line: printer.line(json.dumps({"stream": stream.description, "event": line},
                                                          ensure_ascii=False)))
    else:
        stream.start(printer.line)
    try:
        while not stream.wait(0.2):
            pass
    except KeyboardInterrupt:
        printer.line("(watch stopped)", err=True)
    finally:
        stream.stop()
        if stream in shell.streams:
            shell.streams.remove(stream)


def _open(args: argparse.Namespace, printer: _Printer) -> tuple[ConnectionSession | None, int]:
    try:
        settings = connection_settings(args)
    except ZkBenchError as exc:
        printer.line(f"zkbench: {exc}", err=True)
        return None, EXIT_USAGE
    session = ConnectionSession(settings)
    try:
        session.open()
    except ConnectError as exc:
        printer.line(f"zkbench: {exc}", err=True)
        return None, EXIT_CONNECT
    return session, EXIT_OK


# ------------------------------------------------------------------------------------------------ exec

def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {"command": redact(outcome.line.strip()), "ok": outcome.ok,
            "output": outcome.result.text if outcome.result else "",
            "data": _jsonable(outcome.result.data) if outcome.result else None,
            "error": outcome.error or outcome.confirm}


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def _script_lines(args: argparse.Namespace) -> list[str]:
    lines = list(args.commands or [])
    if args.file:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).expanduser().read_text(encoding="utf-8")
        lines += [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return lines


def run_exec(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    printer = _Printer(out or sys.stdout, err or sys.stderr, plain=True)
    try:
        lines = _script_lines(args)
    except OSError as exc:
        printer.line(f"zkbench exec: cannot read {args.file}: {exc.strerror or exc}", err=True)
        return EXIT_USAGE
    if not lines:
        printer.line("zkbench exec: no commands (give them as arguments or with -f FILE)", err=True)
        return EXIT_USAGE
    session, code = _open(args, printer)
    if session is None:
        return code
    shell = Shell(session, notify=printer.line)
    try:
        for line in lines:
            outcome = shell.run(line, yes=bool(args.yes))
            if args.json:
                printer.line(json.dumps(_outcome_json(outcome), ensure_ascii=False))
            elif outcome.confirm is not None:
                printer.line(f"{outcome.confirm.removesuffix(' [y/N]')} - refusing without --yes", err=True)
            else:
                printer.outcome(outcome)
            if outcome.confirm is not None:
                return EXIT_CONFIRM
            if not outcome.ok:
                return EXIT_FAILED
            if outcome.quit:
                break
            if outcome.result is not None and outcome.result.stream is not None:
                _stream(outcome, printer, shell, as_json=bool(args.json))
        return EXIT_OK
    finally:
        shell.stop_streams()
        session.close()


# ------------------------------------------------------------------------------------------------ shell

def _setup_readline(shell: Shell, history: list[str]) -> Any:
    try:
        import readline
    except ImportError:  # pragma: no cover - e.g. Windows without pyreadline
        return None
    readline.set_auto_history(False)  # we add redacted lines ourselves
    readline.clear_history()
    for line in history:
        readline.add_history(line)
    readline.set_completer_delims(" \t")

    matches: list[str] = []

    def completer(text: str, state: int) -> str | None:
        nonlocal matches
        if state == 0:
            buffer = readline.get_line_buffer()[:readline.get_endidx()]
            try:
                lines = shell.complete(buffer)
            except Exception:  # noqa: BLE001 - completion must never kill the REPL; log why
                log.exception("completion failed")
                lines = []
            head = buffer[: len(buffer) - len(text)]
            matches = [line[len(head):] for line in lines if line.startswith(head)]
        return matches[state] if state < len(matches) else None

    readline.set_completer(completer)
    readline.parse_and_bind("tab: complete")
    return readline


def _prompt(shell: Shell) -> str:
    state = "" if shell.connected else "(disconnected) "
    ro = "(read-only) " if shell.read_only else ""
    return f"zk:{shell.cwd} {state}{ro}> "


def run_shell(args: argparse.Namespace, *, stdin: TextIO | None = None, out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    printer = _Printer(out or sys.stdout, err or sys.stderr, plain=not getattr(args, "rich", False))
    interactive = stdin.isatty() and printer.out.isatty()
    session, code = _open(args, printer)
    if session is None:
        return code
    shell = Shell(session, notify=printer.line)
    history = HistoryFile()
    failed = False
    if interactive:
        _setup_readline(shell, history.load())
        printer.line(f"Connected to {session.hosts}. Type help for commands, quit or Ctrl-D to leave.")
    try:
        while True:
            try:
                if interactive:
                    line = input(_prompt(shell))
                else:
                    line = stdin.readline()
                    if not line:
                        break
                    line = line.rstrip("\n")
                    if line.strip():
                        printer.line(_prompt(shell) + redact(line))
            except EOFError:
                if interactive:
                    printer.line("")
                break
            except KeyboardInterrupt:
                printer.line("^C")
                continue
            if not line.strip():
                continue
            if interactive:
                import readline

                readline.add_history(redact(line))
            history.append(line)
            outcome = shell.run(line, yes=bool(getattr(args, "yes", False)))
            if outcome.confirm is not None:
                if interactive:
                    try:
                        answer = input(outcome.confirm + " ")
                    except (EOFError, KeyboardInterrupt):
                        answer = ""
                    if answer.strip().lower() in ("y", "yes"):
                        outcome = shell.run(line, yes=True, record=False)
                    else:
                        printer.line("cancelled")
                        continue
                else:
                    printer.line(f"{outcome.confirm.removesuffix(' [y/N]')} - refusing without --yes", err=True)
                    failed = True
                    continue
            printer.outcome(outcome)
            if not outcome.ok:
                failed = True
            if outcome.quit:
                break
            if outcome.result is not None and outcome.result.stream is not None:
                _stream(outcome, printer, shell)
    finally:
        shell.stop_streams()
        session.close()
    return EXIT_FAILED if failed and not interactive else EXIT_OK
