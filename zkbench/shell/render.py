"""zkCli's output formats (stat lines, ACL lines, ``[a, b]`` lists) and the rich views of the same data."""

from __future__ import annotations

import base64
import time
from typing import Any

from kazoo.protocol.states import ZnodeStat
from kazoo.security import ACL, Id, Permissions
from rich.table import Table
from rich.text import Text

__all__ = ["java_date", "format_stat", "stat_dict", "stat_table", "format_acls", "acl_dict", "parse_acls",
           "perms_letters", "java_list", "encode_data", "decode_text", "event_line"]

_PERM_LETTERS = (("c", Permissions.CREATE), ("d", Permissions.DELETE), ("r", Permissions.READ),
                 ("w", Permissions.WRITE), ("a", Permissions.ADMIN))


def java_date(ms: int) -> str:
    """``Sun Nov 22 03:37:39 UTC 2026``: how zkCli prints ctime/mtime (java.util.Date.toString, local zone)."""
    return time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(ms / 1000))


_STAT_FIELDS = (("cZxid", "czxid", "hex"), ("ctime", "ctime", "date"), ("mZxid", "mzxid", "hex"),
                ("mtime", "mtime", "date"), ("pZxid", "pzxid", "hex"), ("cversion", "cversion", "int"),
                ("dataVersion", "version", "int"), ("aclVersion", "aversion", "int"),
                ("ephemeralOwner", "ephemeralOwner", "hex"), ("dataLength", "dataLength", "int"),
                ("numChildren", "numChildren", "int"))


def _field(stat: ZnodeStat, attr: str, kind: str) -> str:
    value = getattr(stat, attr)
    if kind == "hex":
        return hex(value) if value >= 0 else f"-{hex(-value)}"
    if kind == "date":
        return java_date(value)
    return str(value)


def format_stat(stat: ZnodeStat) -> str:
    """The eleven ``name = value`` lines zkCli prints for ``stat``/``get -s``/``ls -s``."""
    return "\n".join(f"{name} = {_field(stat, attr, kind)}" for name, attr, kind in _STAT_FIELDS)


def stat_dict(stat: ZnodeStat) -> dict[str, Any]:
    return {name: getattr(stat, attr) for name, attr, _kind in _STAT_FIELDS}


def stat_table(stat: ZnodeStat, *, session_id: int | None = None) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 1))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for name, attr, kind in _STAT_FIELDS:
        value = _field(stat, attr, kind)
        if attr == "ephemeralOwner" and stat.ephemeralOwner:
            value += " (this session)" if session_id and stat.ephemeralOwner == session_id else " (ephemeral)"
        table.add_row(name, Text(value))
    return table


def perms_letters(perms: int) -> str:
    return "".join(letter for letter, bit in _PERM_LETTERS if perms & bit)


def format_acls(acls: list[ACL]) -> str:
    """zkCli's getAcl output: ``'scheme,'id`` then ``: perms`` per entry."""
    lines: list[str] = []
    for acl in acls:
        lines.append(f"'{acl.id.scheme},'{acl.id.id}")
        lines.append(f": {perms_letters(acl.perms)}")
    return "\n".join(lines)


def acl_dict(acl: ACL) -> dict[str, Any]:
    return {"scheme": acl.id.scheme, "id": acl.id.id, "perms": perms_letters(acl.perms)}


def acl_from_dict(item: dict[str, Any]) -> ACL:
    return ACL(_perms_from_letters(str(item["perms"]), str(item)), Id(str(item["scheme"]), str(item["id"])))


def _perms_from_letters(letters: str, where: str) -> int:
    perms = 0
    table = dict(_PERM_LETTERS)
    for ch in letters.lower():
        if ch not in table:
            raise ValueError(f"unknown permission {ch!r} in {where!r} (use letters from cdrwa)")
        perms |= table[ch]
    return perms


def parse_acls(text: str) -> list[ACL]:
    """zkCli's ACL syntax: ``scheme:id:perms`` entries separated by commas, e.g. ``world:anyone:cdrwa``,
    ``digest:bob:HASH=:cdr``, ``ip:10.0.0.1:r``, ``auth::cdrwa``. The id may contain ``:``; perms is last."""
    acls: list[ACL] = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        first = entry.find(":")
        last = entry.rfind(":")
        if first < 0 or first == last:
            raise ValueError(f"ACL entry {entry!r} is not scheme:id:perms")
        scheme, ident, letters = entry[:first], entry[first + 1:last], entry[last + 1:]
        if not scheme:
            raise ValueError(f"ACL entry {entry!r} has no scheme")
        acls.append(ACL(_perms_from_letters(letters, entry), Id(scheme, ident)))
    if not acls:
        raise ValueError("empty ACL")
    return acls


def java_list(items: list[str]) -> str:
    """``[a, b]``: how zkCli prints a list (ls, getEphemerals)."""
    return "[" + ", ".join(items) + "]"


def decode_text(data: bytes | None) -> str:
    """Data as zkCli shows it: ``null`` for no data, text when it is UTF-8, escapes for other bytes."""
    if data is None:
        return "null"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and not any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        return text
    # bytes a terminal must not interpret: escape them, keep printable text readable
    out = []
    for ch in data.decode("latin-1"):
        code = ord(ch)
        out.append(ch if 32 <= code < 127 or ch in "\n\t" else f"\\x{code:02x}")
    return "".join(out)


def encode_data(data: bytes | None) -> dict[str, Any]:
    """For JSON output and dumps: UTF-8 text as is, anything else as base64 (never lossy)."""
    if data is None:
        return {"data": None, "encoding": "null"}
    try:
        return {"data": data.decode("utf-8"), "encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"data": base64.b64encode(data).decode("ascii"), "encoding": "base64"}


def decode_data(item: dict[str, Any]) -> bytes | None:
    encoding = item.get("encoding", "utf-8")
    value = item.get("data")
    if encoding == "null" or value is None:
        return b"" if encoding != "null" else None
    if encoding == "base64":
        return base64.b64decode(str(value), validate=True)
    if encoding == "utf-8":
        return str(value).encode("utf-8")
    raise ValueError(f"unknown data encoding {encoding!r}")


_EVENT_NAMES = {"CREATED": "NodeCreated", "DELETED": "NodeDeleted", "CHANGED": "NodeDataChanged",
                "CHILD": "NodeChildrenChanged", "NONE": "None"}
_STATE_NAMES = {"CONNECTED": "SyncConnected", "CONNECTED_RO": "ConnectedReadOnly", "CONNECTING": "Disconnected",
                "EXPIRED_SESSION": "Expired", "AUTH_FAILED": "AuthFailed", "CLOSED": "Closed"}


def event_line(event_type: str, state: str, path: str | None) -> str:
    """zkCli's watcher line: ``WatchedEvent state:SyncConnected type:NodeDataChanged path:/a``."""
    return (f"WatchedEvent state:{_STATE_NAMES.get(str(state), str(state))} "
            f"type:{_EVENT_NAMES.get(str(event_type), str(event_type))} path:{path}")
