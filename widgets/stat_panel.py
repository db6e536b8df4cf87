"""Every Stat field of the selected znode in readable form, its ACL, and who owns it if it is ephemeral.

zxids are hex (as ZooKeeper's logs print them), times are local with the UTC offset, the ephemeral owner is the
session id in hex, marked "this session" when it is the user's own. The ACL is read through the user's session in
a thread worker (``acl_loader``), so a slow server never freezes the screen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from zkbench.dataformat import human_size
from zkbench.errors import explain
from zkbench.widgets.znode_tree import CONTAINER_OWNER, is_ttl_owner, znode_kind

__all__ = ["StatPanel", "format_acl", "format_time", "format_zxid", "perms_string"]

log = logging.getLogger(__name__)
_U64 = 0xFFFFFFFFFFFFFFFF


def format_zxid(zxid: int) -> str:
    """``0x100000003 (epoch 1, counter 3)``: the high 32 bits are the leader epoch."""
    zxid &= _U64
    return f"0x{zxid:x} (epoch {zxid >> 32}, counter {zxid & 0xFFFFFFFF})"


def format_time(ms: int) -> str:
    """Local time with milliseconds and the UTC offset; 0 means never."""
    if not ms:
        return "0 (never)"
    moment = datetime.fromtimestamp(ms / 1000).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d} " + moment.strftime("%z")


def perms_string(perms: int) -> str:
    """ZooKeeper's ``cdrwa`` letters (create, delete, read, write, admin), ``-`` where not granted."""
    letters = (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16))
    return "".join(ch if perms & bit else "-" for ch, bit in letters)


def format_acl(acls: Any) -> list[str]:
    return [f"{acl.id.scheme}:{acl.id.id}  {perms_string(acl.perms)}" for acl in acls]


class StatPanel(Static):
    """The stat of one znode. Call :meth:`show` with the path and its NodeInfo (or None)."""

    DEFAULT_CSS = """
    StatPanel { height: auto; padding: 0 1; }
    """

    class AclLoaded(Message):
        def __init__(self, path: str, lines: list[str], error: str | None) -> None:
            super().__init__()
            self.path, self.lines, self.error = path, lines, error

    def __init__(self, *, acl_loader: Callable[[str], Any] | None = None,
                 own_session: Callable[[], int] | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.acl_loader = acl_loader
        self.own_session = own_session or (lambda: 0)
        self.path: str | None = None
        self.info: Any = None
        self.created_mode: str | None = None
        self.acl_lines: list[str] | None = None
        self.acl_error: str | None = None
        self.deleted = False

    def show(self, path: str | None, info: Any, *, created_mode: str | None = None, reload_acl: bool = True,
             deleted: bool = False) -> None:
        same = path == self.path
        self.path, self.info, self.created_mode, self.deleted = path, info, created_mode, deleted
        if not same or reload_acl:
            if not same:
                self.acl_lines, self.acl_error = None, None
            if path is not None and info is not None and self.acl_loader is not None:
                self._load_acl(path)
        self._render_stat()

    @work(thread=True, exclusive=True, group="stat-acl", exit_on_error=False)
    def _load_acl(self, path: str) -> None:
        worker = get_current_worker()
        try:
            result = self.acl_loader(path)  # type: ignore[misc]
            acls = result[0] if isinstance(result, tuple) else result
            lines, error = format_acl(acls), None
        except Exception as exc:  # noqa: BLE001 - any failure is shown as one line in the panel
            log.info("could not read the ACL of %s: %s", path, exc)
            lines, error = [], explain(exc, path)
        if not worker.is_cancelled:
            self.post_message(self.AclLoaded(path, lines, error))

    def on_stat_panel_acl_loaded(self, message: AclLoaded) -> None:
        message.stop()
        if message.path == self.path:
            self.acl_lines, self.acl_error = message.lines, message.error
            self._render_stat()

    def _owner_line(self, owner: int) -> Text:
        owner &= _U64
        kind = znode_kind(owner, self.created_mode)
        if owner == CONTAINER_OWNER:
            return Text("container (server marker 0x8000000000000000)")
        if is_ttl_owner(owner):
            return Text(f"TTL znode, TTL {owner & 0xFFFFFFFFFF:,} ms")
        if owner:
            line = Text(f"0x{owner:x} (ephemeral: lives while this session does)")
            if owner == self.own_session() and owner:
                line.append("  ◆ this session", style="bold")
            return line
        if kind in ("container", "ttl"):
            what = "container" if kind == "container" else "persistent with TTL"
            return Text(f"0 ({what}, created here; the server reports 0 for containers and TTL znodes)")
        return Text("0 (persistent)")

    def _render_stat(self) -> None:
        if self.path is None:
            self.update(Text("Select a znode to see its stat.", style="dim"))
            return
        title = Text(self.path, style="bold")
        if self.deleted or self.info is None:
            title.append("  (deleted)" if self.deleted else "  (not in the tree)", style="italic")
            self.update(title)
            return
        stat = self.info.stat
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row("kind", znode_kind(stat.ephemeralOwner, self.created_mode))
        grid.add_row("cZxid", format_zxid(stat.czxid))
        grid.add_row("ctime", format_time(stat.ctime))
        grid.add_row("mZxid", format_zxid(stat.mzxid))
        grid.add_row("mtime", format_time(stat.mtime))
        grid.add_row("pZxid", format_zxid(stat.pzxid))
        grid.add_row("cversion", f"{stat.cversion:,}")
        grid.add_row("dataVersion", f"{stat.version:,}")
        grid.add_row("aclVersion", f"{stat.aversion:,}")
        grid.add_row("ephemeralOwner", self._owner_line(stat.ephemeralOwner))
        grid.add_row("dataLength", human_size(stat.dataLength))
        grid.add_row("numChildren", f"{stat.numChildren:,}")
        if self.acl_error:
            acl: Text = Text(self.acl_error, style="italic")
        elif self.acl_lines is None:
            acl = Text("reading…" if self.acl_loader else "(no session to read it)", style="dim")
        else:
            acl = Text("\n".join(self.acl_lines) or "(empty)")
        grid.add_row("ACL", acl)
        self.update(Group(title, grid))
