"""The engine side of one running zkbench: settings, the user session, the mirror, and a private local server.

The Textual app owns one :class:`Workbench`; every screen receives it in its constructor and reads from it.
Nothing here imports Textual. Events for the UI (connection state, mirror changes) go into ``events``, a
thread-safe queue the app drains on a timer.
"""

from __future__ import annotations

import logging
import queue
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from zkbench.connection import Connection, ConnectionSettings, parse_connect_string
from zkbench.fourlw import FourLetterWordError, four_letter_word

if TYPE_CHECKING:
    from zkbench.server import LocalServer

__all__ = ["Workbench", "probe_default_server"]

log = logging.getLogger(__name__)


def probe_default_server(hosts: str, timeout: float = 0.5) -> bool:
    """True when the first host of ``hosts`` answers ``ruok`` with ``imok``."""
    cs = parse_connect_string(hosts)
    for host, port in cs.hosts:
        try:
            if four_letter_word(host, port, "ruok", timeout).strip() == "imok":
                return True
        except FourLetterWordError:
            continue
    return False


class Workbench:
    """One connection target and the sessions zkbench keeps to it."""

    def __init__(self, settings: ConnectionSettings, *, mirror_strategy: str = "auto",
                 local_server: "LocalServer | None" = None, events: "queue.SimpleQueue[Any] | None" = None) -> None:
        self.settings = settings
        self.mirror_strategy = mirror_strategy
        self.local_server = local_server
        self.events: queue.SimpleQueue[Any] = events if events is not None else queue.SimpleQueue()
        self.connection = Connection(settings, role="user", on_event=self.events.put)
        self.mirror: Any = None  # zkbench.mirror.Mirror once started

    @property
    def hosts(self) -> str:
        return self.settings.hosts

    @property
    def client(self):  # noqa: ANN201 - ZkClient
        return self.connection.client

    @property
    def read_only(self) -> bool:
        return self.connection.read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        self.settings = replace(self.settings, read_only=value)
        self.connection.read_only = value

    @property
    def server_label(self) -> str:
        """For the header: where we are connected, and whether zkbench started that server itself."""
        label = self.connection.server or self.hosts
        if self.local_server is not None:
            label += " (private local server started by zkbench)"
        return label

    def open(self, *, start_mirror: bool = True) -> None:
        """Open the user session, then the mirror's own session (both raise ConnectError with one line)."""
        self.connection.open()
        if start_mirror:
            from zkbench.mirror import Mirror  # the mirror is optional for shell/exec use

            self.mirror = Mirror(self.settings, strategy=self.mirror_strategy, events=self.events)
            self.mirror.start()

    def reopen(self) -> None:
        """Close the sessions (not a private server) and open them again: the F5 "reconnect" action."""
        self._close_sessions()
        self.connection = Connection(self.settings, role="user", on_event=self.events.put)
        self.open()

    def _close_sessions(self) -> None:
        if self.mirror is not None:
            try:
                self.mirror.stop()
            finally:
                self.mirror = None
        self.connection.close()

    def close(self) -> None:
        """Close the mirror, the user session and any private server, in that order."""
        try:
            self._close_sessions()
        finally:
            if self.local_server is not None:
                server, self.local_server = self.local_server, None
                server.stop()
