"""The shell engine: a command table, the session it runs against, and :meth:`Shell.run`, which never raises.

Front ends (the TUI pane, ``zkbench shell``, ``zkbench exec``) call ``shell.run(line)`` and get an
:class:`Outcome`: plain zkCli-style text, an optional rich renderable, JSON-able data, an error line, a question
to confirm (then call again with ``yes=True``) or an event stream (``watch``). No Textual here.
"""

from __future__ import annotations

import difflib
import logging
import posixpath
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kazoo import exceptions as kex
from rich.console import RenderableType

from zkbench.errors import ReadOnlyError, ZkBenchError, explain
from zkbench.shell.parser import Options, ParseError, Token, parse_options, tokenize

if TYPE_CHECKING:
    from zkbench.protocol import ZkClient

__all__ = ["ShellError", "ConfirmationRequired", "Result", "Outcome", "Command", "COMMANDS", "command",
           "Shell", "Session", "ClientSession", "EventStream", "redact", "PathModel"]

log = logging.getLogger(__name__)


class ShellError(ZkBenchError):
    """A command failed; the message is the one line the user sees."""


class ConfirmationRequired(ShellError):
    """A dangerous command needs a yes; ``question`` says what will happen (with a count)."""

    def __init__(self, question: str) -> None:
        super().__init__(question)
        self.question = question


class EventStream:
    """A stream of lines (``watch``): the front end calls :meth:`start` with a sink and :meth:`stop` on Ctrl-C.

    The sink is called on kazoo's threads with one line per event; it must only enqueue or print.
    """

    def __init__(self, description: str, start: Callable[[Callable[[str], None]], None],
                 stop: Callable[[], None], *, limit: int | None = None) -> None:
        self.description = description
        self._start = start
        self._stop = stop
        self.limit = limit
        self.count = 0
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._stopped = False

    def start(self, sink: Callable[[str], None]) -> None:
        def counted(line: str) -> None:
            with self._lock:
                if self._stopped:
                    return
                self.count += 1
                reached = self.limit is not None and self.count >= self.limit
            sink(line)
            if reached:
                self.stop()

        self._start(counted)

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self._stop()
        finally:
            self.done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


@dataclass
class Result:
    """What a command produced. ``text`` is zkCli-compatible plain output; ``rich`` a richer view of the same."""

    text: str = ""
    rich: RenderableType | None = None
    data: Any = None
    stream: EventStream | None = None

    @property
    def renderable(self) -> RenderableType | str:
        return self.rich if self.rich is not None else self.text


@dataclass
class Outcome:
    """The result of running one line."""

    line: str
    ok: bool
    result: Result | None = None
    error: str | None = None
    confirm: str | None = None  # ask this, then run the same line again with yes=True
    quit: bool = False

    @property
    def text(self) -> str:
        if self.error is not None:
            return self.error
        if self.confirm is not None:
            return self.confirm
        return self.result.text if self.result else ""


class PathModel(Protocol):
    """The mirror's read API the completer uses (no network per keystroke)."""

    def children(self, path: str) -> tuple[str, ...]: ...

    def paths_with_prefix(self, prefix: str, limit: int) -> list[str]: ...

    def __contains__(self, path: object) -> bool: ...


class Session(Protocol):
    """Where the shell's client comes from; ``connect``/``close`` are zkCli's commands of the same names."""

    @property
    def client(self) -> "ZkClient | None": ...

    @property
    def hosts(self) -> str: ...

    def connect(self, hosts: str | None) -> str: ...

    def close(self) -> None: ...


class ClientSession:
    """A session around a client someone else opened (tests, the pane); ``connect`` can only reopen it."""

    def __init__(self, client: "ZkClient", hosts: str = "") -> None:
        self._client: "ZkClient | None" = client
        self._hosts = hosts

    @property
    def client(self) -> "ZkClient | None":
        return self._client

    @property
    def hosts(self) -> str:
        return self._hosts

    def connect(self, hosts: str | None) -> str:
        if self._client is None:
            raise ShellError("Closed: this session cannot be reopened here")
        if hosts and hosts != self._hosts:
            raise ShellError("connect: this shell shares its session with the app; "
                             "use `zkbench shell --hosts ...` for another server")
        if not self._client.connected:
            # stop first: after an auth failure kazoo's connection loop is still retrying, and start() alone
            # would wait forever for it to end
            self._client.stop()
            self._client.start()
        return self._hosts

    def close(self) -> None:
        if self._client is not None:
            self._client.stop()


@dataclass(frozen=True)
class Command:
    """One entry of the command table."""

    name: str
    func: Callable[["Shell", list[str]], Result]
    usage: str
    summary: str
    details: str = ""
    aliases: tuple[str, ...] = ()
    writes: bool = False
    group: str = "zkCli"


COMMANDS: dict[str, Command] = {}
_ALIASES: dict[str, str] = {}


def command(name: str, usage: str, summary: str, details: str = "", *, aliases: tuple[str, ...] = (),
            writes: bool = False, group: str = "zkCli") -> Callable[[Callable[["Shell", list[str]], Result]],
                                                                    Callable[["Shell", list[str]], Result]]:
    """Register ``func(shell, words) -> Result`` as command ``name``."""

    def deco(func: Callable[["Shell", list[str]], Result]) -> Callable[["Shell", list[str]], Result]:
        COMMANDS[name] = Command(name, func, usage, summary, details.strip(), aliases, writes, group)
        for alias in aliases:
            _ALIASES[alias] = name
        return func

    return deco


def lookup(name: str) -> Command | None:
    if name in COMMANDS:
        return COMMANDS[name]
    if name in _ALIASES:
        return COMMANDS[_ALIASES[name]]
    lowered = {k.lower(): k for k in COMMANDS}  # zkCli is case-sensitive (getAcl); be kind about case
    if name.lower() in lowered:
        return COMMANDS[lowered[name.lower()]]
    return None


def suggest(name: str) -> str | None:
    names = list(COMMANDS) + list(_ALIASES)
    match = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if not match:
        match = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=1, cutoff=0.6)
        if match:
            match = [next(n for n in names if n.lower() == match[0])]
    return match[0] if match else None


_SECRET_COMMANDS = re.compile(r"^(\s*addauth\s+\S+\s+)(\S.*)$")


def redact(line: str) -> str:
    """The line as history and logs may keep it: ``addauth digest bob:secret`` -> ``addauth digest bob:***``."""
    m = _SECRET_COMMANDS.match(line)
    if not m:
        return line
    cred = m.group(2).strip()
    user = cred.split(":", 1)[0] if ":" in cred else ""
    return f"{m.group(1)}{user + ':' if user else ''}***"


class _RedactAuthFilter(logging.Filter):
    """kazoo logs every request at DEBUG, ``Auth(..., auth='bob:secret')`` included: keep the secret out of
    zkbench's debug log (``--log-file``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(type(a).__name__ == "Auth" for a in args):
            record.args = tuple(f"Auth(scheme={a.scheme!r}, auth='***')" if type(a).__name__ == "Auth" else a
                                for a in args)
        return True


_REDACT_FILTER = _RedactAuthFilter()
logging.getLogger("kazoo.client").addFilter(_REDACT_FILTER)


class Shell:
    """One shell: a session, a current directory, history and zkCli's toggles. Thread-safe enough for one
    command at a time (the front ends run commands one by one, in a worker)."""

    def __init__(self, session: Session, *, model: PathModel | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        self.session = session
        self.model = model
        self.cwd = "/"
        self.history: list[str] = []  # redacted lines, numbered from 0 like zkCli
        self.printwatches = True
        self.notify = notify or (lambda line: log.info("%s", line))  # one-shot watch events (-w), etc.
        self._children_cache: dict[str, tuple[str, ...]] = {}
        self._cache_lock = threading.Lock()
        self.current_path: str | None = None
        self.streams: list[EventStream] = []
        self.tokens: list[Token] = []
        self.persistent_roots: set[str] = set()  # persistent recursive watches this session holds (ZOOKEEPER-4466)

    # ---------------------------------------------------------------- state the commands share

    @property
    def client(self) -> "ZkClient":
        client = self.session.client
        if client is None:
            raise ShellError("Not connected: use `connect host:port`")
        if not client.connected:
            raise ShellError("Not connected: the session is closed or reconnecting (`connect` reopens it)")
        return client

    @property
    def read_only(self) -> bool:
        client = self.session.client
        return bool(getattr(client, "read_only", False))

    @property
    def connected(self) -> bool:
        client = self.session.client
        return bool(client is not None and client.connected)

    def resolve(self, path: str | None, *, keep_trailing_slash: bool = False) -> str:
        """An absolute, normalised path; relative paths are taken from :attr:`cwd`. A trailing slash is dropped
        (``ls /a/`` is ``ls /a``) unless ``keep_trailing_slash`` (``create -s /jobs/`` names ``/jobs/0000000001``)."""
        if path is None or path == "":
            path = self.cwd
        if not path.startswith("/"):
            path = posixpath.join(self.cwd, path)
        trailing = path.endswith("/") and path != "/"
        norm = posixpath.normpath(path)
        if norm.startswith("//"):
            norm = "/" + norm.lstrip("/")
        if keep_trailing_slash and trailing and not norm.endswith("/"):
            norm += "/"
        self.current_path = norm
        return norm

    def parse(self, name: str, words: list[str], flags: str = "", valued: str = "",
              long_flags: tuple[str, ...] = ()) -> Options:
        return parse_options(name, words, flags, valued, long_flags)

    def require_writable(self, what: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"Read-only mode: refusing to {what}")

    # ---------------------------------------------------------------- completion cache (no mirror)

    def cached_children(self, path: str) -> tuple[str, ...]:
        """Children of ``path`` for completion: from the mirror when there is one, else a small cache."""
        if self.model is not None:
            try:
                return tuple(self.model.children(path))
            except (KeyError, LookupError):
                return ()
        with self._cache_lock:
            hit = self._children_cache.get(path)
        if hit is not None:
            return hit
        client = self.session.client
        if client is None or not client.connected:
            return ()
        try:
            names = tuple(sorted(client.get_children(path)))
        except kex.KazooException as exc:
            log.debug("completion: cannot list %s: %s", path, exc)
            names = ()
        with self._cache_lock:
            if len(self._children_cache) > 512:
                self._children_cache.clear()
            self._children_cache[path] = names
        return names

    def invalidate(self, *paths: str) -> None:
        """Forget cached children of the parents of ``paths`` (after a write)."""
        with self._cache_lock:
            if not paths:
                self._children_cache.clear()
            for p in paths:
                self._children_cache.pop(posixpath.dirname(p.rstrip("/")) or "/", None)
                self._children_cache.pop(p, None)

    def complete(self, line: str) -> list[str]:
        """Completions for the last word of ``line``: command names first, then znode paths (case-sensitive)."""
        from zkbench.shell.complete import complete_line

        return complete_line(self, line)

    # ---------------------------------------------------------------- running

    def run(self, line: str, *, yes: bool = False, record: bool = True) -> Outcome:
        """Run one line. Never raises: every failure becomes ``Outcome(ok=False, error=<one line>)``."""
        try:
            return self._run(line, yes=yes, record=record)
        except Exception as exc:  # noqa: BLE001 - last line of defence: the user sees one line, the log the rest
            log.exception("shell command failed unexpectedly: %s", redact(line))
            return Outcome(line, False, error=f"Internal error: {type(exc).__name__}: {exc}")

    def _run(self, line: str, *, yes: bool, record: bool) -> Outcome:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return Outcome(line, True, Result())
        try:
            tokens = tokenize(stripped)
        except ParseError as exc:
            return Outcome(line, False, error=f"Syntax error: {exc}")
        if not tokens:
            return Outcome(line, True, Result())
        name = tokens[0].text
        words = [t.text for t in tokens[1:]]
        self.tokens = tokens[1:]  # txn needs to tell a quoted ";" (data) from the separator
        if record and name not in ("history", "redo"):
            self.history.append(redact(stripped))
        cmd = lookup(name)
        if cmd is None:
            hint = suggest(name)
            msg = f"Unknown command '{name}'" + (f" - did you mean '{hint}'?" if hint else " - try 'help'")
            return Outcome(line, False, error=msg)
        if yes:
            words = [*words, "--yes"]
        if name in ("quit", "exit"):
            return Outcome(line, True, Result(), quit=True)
        self.current_path = None
        try:
            if cmd.writes:
                self.require_writable(cmd.name + (" " + " ".join(w for w in words if w.startswith("/"))[:80]
                                                   if any(w.startswith("/") for w in words) else ""))
            result = cmd.func(self, words)
        except ConfirmationRequired as exc:
            return Outcome(line, False, confirm=exc.question)
        except ParseError as exc:
            return Outcome(line, False, error=f"{exc} (usage: {cmd.usage})")
        except ZkBenchError as exc:
            return Outcome(line, False, error=str(exc))
        except kex.ConnectionLoss as exc:
            return Outcome(line, False, error=explain(exc, self.current_path))
        except (kex.KazooException, ValueError) as exc:
            return Outcome(line, False, error=explain(exc, self.current_path))
        except OSError as exc:
            return Outcome(line, False, error=f"{exc.strerror or exc}" + (f": {exc.filename}" if
                                                                        exc.filename else ""))
        return Outcome(line, True, result)

    def stop_streams(self) -> None:
        for stream in list(self.streams):
            stream.stop()
        self.streams.clear()
