"""zkCli's commands, one function each: ``func(shell, words) -> Result``. Raise, never print.

Output text matches ZooKeeper 3.8's zkCli.sh where zkCli has the command (``Created /a``, ``[a, b]``, the stat
lines, ``'world,'anyone`` / ``: cdrwa``), so muscle memory and scripts that parse zkCli keep working.
"""

from __future__ import annotations

import base64
import binascii
import logging
import posixpath
import time
from typing import Any

from kazoo import exceptions as kex
from kazoo.protocol.states import ZnodeStat
from rich.console import Group
from rich.text import Text

from zkbench import edits
from zkbench.dataformat import format_data, hex_dump
from zkbench.shell.core import (COMMANDS, ConfirmationRequired, Result, Shell, ShellError, command, lookup)
from zkbench.shell.parser import ParseError
from zkbench.shell.render import (decode_text, encode_data, event_line, format_acls, format_stat, java_list,
                                  parse_acls, acl_dict, stat_dict, stat_table)

__all__ = ["MAX_VALUE_BYTES", "walk"]

log = logging.getLogger(__name__)

#: ZooKeeper's default jute.maxbuffer (0xfffff): a request carrying more is refused by the server.
MAX_VALUE_BYTES = 0xFFFFF


# ---------------------------------------------------------------------------------------------------- helpers

def _args(opts_args: list[str], usage_min: int, usage_max: int, name: str) -> list[str]:
    if not usage_min <= len(opts_args) <= usage_max:
        if len(opts_args) < usage_min:
            raise ParseError(f"{name}: missing argument")
        raise ParseError(f"{name}: too many arguments ({' '.join(opts_args[usage_max:])!r} left over; "
                         f"quote data with spaces)")
    return opts_args


def _session_id(shell: Shell) -> int:
    client = shell.session.client
    sid = getattr(client, "client_id", None) if client is not None else None
    return sid[0] if sid else 0


def _watcher(shell: Shell, path: str | None = None):  # noqa: ANN202
    """A one-shot watch callback that prints zkCli's WATCHER line (if printwatches is on)."""
    covering = [root for root in shell.persistent_roots
                if path is not None and (root == "/" or path == root or path.startswith(root + "/"))]
    if covering:
        shell.notify(f"warning: this session already has a persistent recursive watch on {covering[0]}; on "
                     f"ZooKeeper 3.8 a one-shot watch under it can silently end it (ZOOKEEPER-4466)")

    def on_event(event: Any) -> None:
        if shell.printwatches:
            shell.notify("WATCHER:: " + event_line(event.type, event.state, event.path))

    return on_event


def _version(opts: Any, default: int = -1) -> int:
    return opts.int_value("v", default, "version")


def _bad_version(shell: Shell, path: str, expected: int) -> ShellError:
    try:
        stat = shell.client.exists(path)
    except kex.KazooException:
        stat = None
    have = f"server has {stat.version}" if stat else "the znode no longer exists"
    return ShellError(f"Bad version: expected {expected}, {have} ({path})")


def _data_arg(value: str | None, b64: bool) -> bytes:
    if value is None:
        return b""
    if b64:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ShellError(f"Invalid base64 data: {value[:40]!r}") from None
    return value.encode("utf-8")


def _too_large(shell: Shell, path: str, size: int, exc: BaseException) -> ShellError:
    """A value over jute.maxbuffer: the server drops the connection. Say why, and wait for the session to return."""
    client = shell.session.client
    deadline = time.monotonic() + 10.0
    while client is not None and not client.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    state = "the session has recovered" if client is not None and client.connected else "the session is reconnecting"
    return ShellError(f"Value too large for {path}: {size:,} bytes is over the server's limit (jute.maxbuffer, "
                      f"{MAX_VALUE_BYTES + 1:,} bytes by default); the server refused it and dropped the "
                      f"connection - {state}")


def _write_data(shell: Shell, path: str, data: bytes | None, call):  # noqa: ANN001, ANN202
    try:
        return call()
    except (kex.ConnectionLoss, kex.ConnectionDropped) as exc:
        if data is not None and len(data) > MAX_VALUE_BYTES:
            raise _too_large(shell, path, len(data), exc) from None
        raise


_MULTI_READ_BATCH = 500
_DATA_BATCH = 100  # values can be large: keep one multiRead reply well under the client's patience


def _children_of(client, paths: list[str]) -> dict[str, list[str] | None]:  # noqa: ANN001
    """Children of many znodes: multiRead batches (3.6+, one request per 500 znodes) when the client has it,
    else pipelined getChildren. ``None`` for a znode deleted meanwhile; other errors (NoAuth) raise."""
    out: dict[str, list[str] | None] = {}
    multi_read = getattr(client, "multi_read", None)
    if callable(multi_read) and not getattr(client, "_shell_no_multi_read", False):
        try:
            for i in range(0, len(paths), _MULTI_READ_BATCH):
                chunk = paths[i:i + _MULTI_READ_BATCH]
                for path, result in zip(chunk, multi_read([("children", p) for p in chunk])):
                    if isinstance(result, kex.NoNodeError):
                        out[path] = None
                    elif isinstance(result, Exception):
                        raise result
                    else:
                        out[path] = list(result)
            return out
        except (kex.UnimplementedError, kex.BadArgumentsError):
            log.info("server has no multiRead: walking with one getChildren per znode")
            client._shell_no_multi_read = True  # noqa: SLF001 - remembered per client
            out.clear()
    pending = [(p, client.get_children_async(p)) for p in paths]
    for path, result in pending:
        try:
            out[path] = result.get()
        except kex.NoNodeError:
            out[path] = None
    return out


def walk(shell: Shell, root: str, *, max_depth: int | None = None) -> list[tuple[str, int]]:
    """``(path, depth)`` for ``root`` and everything below it in sorted depth-first order. Each level's child
    lists are read together (multiRead batches, or pipelined), so a tree costs a few requests per level."""
    client = shell.client
    if client.exists(root) is None:
        raise kex.NoNodeError()
    found: list[tuple[str, int]] = [(root, 0)]
    level = [root]
    depth = 0
    while level and (max_depth is None or depth < max_depth):
        children = _children_of(client, level)
        nxt: list[str] = []
        for parent in level:
            names = children.get(parent)
            if not names:
                continue  # a leaf, or deleted meanwhile
            base = parent.rstrip("/")
            nxt.extend(f"{base}/{name}" for name in names)
        level = nxt
        depth += 1
        found.extend((p, depth) for p in level)
    found.sort(key=lambda item: [part for part in item[0].split("/") if part])
    return found


def _walk_paths(shell: Shell, root: str) -> list[str]:
    return [p for p, _ in walk(shell, root)]


def _fetch_all(shell: Shell, paths: list[str]) -> dict[str, tuple[bytes | None, ZnodeStat]]:
    """Data and stat of many znodes: multiRead batches (3.6+) or pipelined getData; vanished ones are skipped,
    other errors (NoAuth) raise."""
    client = shell.client
    out: dict[str, tuple[bytes | None, ZnodeStat]] = {}
    multi_read = getattr(client, "multi_read", None)
    if callable(multi_read) and not getattr(client, "_shell_no_multi_read", False):
        try:
            for i in range(0, len(paths), _DATA_BATCH):
                chunk = paths[i:i + _DATA_BATCH]
                for path, result in zip(chunk, multi_read([("data", p) for p in chunk])):
                    if isinstance(result, kex.NoNodeError):
                        continue
                    if isinstance(result, Exception):
                        raise result
                    out[path] = result
            return out
        except (kex.UnimplementedError, kex.BadArgumentsError):
            client._shell_no_multi_read = True  # noqa: SLF001
            out.clear()
    pending = [(p, client.get_async(p)) for p in paths]
    for p, result in pending:
        try:
            out[p] = result.get()
        except kex.NoNodeError:
            continue
    return out


def _confirm(opts: Any, question: str) -> None:
    if not opts.yes:
        raise ConfirmationRequired(question)


def _join(base: str, rel: str) -> str:
    if not rel:
        return base
    return (base.rstrip("/") + "/" + rel) if base != "/" else "/" + rel


def _relative(root: str, path: str) -> str:
    if path == root:
        return ""
    prefix = root.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else path


# ---------------------------------------------------------------------------------------------------- zkCli

@command("ls", "ls [-s] [-w] [-R] path", "list the children of a znode",
         "-s adds the znode's stat, -w sets a child watch, -R lists the whole subtree (one path a line).")
def cmd_ls(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("ls", words, "swR")
    args = _args(opts.args, 0, 1, "ls")
    path = shell.resolve(args[0] if args else None)
    client = shell.client
    if opts.has("R"):
        paths = _walk_paths(shell, path)
        return Result("\n".join(paths), data={"path": path, "paths": paths})
    watch = _watcher(shell, path) if opts.has("w") else None
    children, stat = client.get_children(path, watch=watch, include_data=True)
    children = sorted(children)
    text = java_list(children)
    rich: Any = Text("  ".join(children) if children else "(no children)", style="" if children else "dim")
    data: dict[str, Any] = {"path": path, "children": children}
    if opts.has("s"):
        text += "\n" + format_stat(stat)
        rich = Group(rich, stat_table(stat, session_id=_session_id(shell)))
        data["stat"] = stat_dict(stat)
    return Result(text, rich, data)


_CREATE_MODES = {
    (False, False): edits.CreateMode.PERSISTENT, (True, False): edits.CreateMode.PERSISTENT_SEQUENTIAL,
    (False, True): edits.CreateMode.EPHEMERAL, (True, True): edits.CreateMode.EPHEMERAL_SEQUENTIAL,
}


@command("create", "create [-s] [-e] [-c] [-t ttl] [-p] [-b] path [data] [acl]", "create a znode",
         "-s sequential, -e ephemeral (this session), -c container, -t TTL in ms (persistent with TTL), "
         "-p also creates missing parents, -b takes the data as base64. acl is zkCli's scheme:id:perms list, "
         "e.g. world:anyone:r,digest:bob:HASH=:cdrwa.", writes=True)
def cmd_create(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("create", words, "secpb", "t")
    args = _args(opts.args, 1, 3, "create")
    sequential, ephemeral, container = opts.has("s"), opts.has("e"), opts.has("c")
    ttl = opts.int_value("t", 0, "ttl") if opts.get("t") is not None else None
    if container and (sequential or ephemeral or ttl is not None):
        raise ShellError("create: -c (container) cannot be combined with -s, -e or -t")
    if ttl is not None and ephemeral:
        raise ShellError("create: -t (TTL) applies to persistent znodes, not -e")
    path = shell.resolve(args[0], keep_trailing_slash=sequential)
    data = _data_arg(args[1], opts.has("b")) if len(args) > 1 else None  # no data: null, as zkCli stores it
    acl = parse_acls(args[2]) if len(args) > 2 else None
    client = shell.client
    if container:
        mode = edits.CreateMode.CONTAINER
    elif ttl is not None:
        mode = edits.CreateMode.TTL_SEQUENTIAL if sequential else edits.CreateMode.TTL
    else:
        mode = _CREATE_MODES[(sequential, ephemeral)]
    try:
        if acl is not None and mode in _CREATE_MODES.values():
            edits.validate_path(path, sequential=sequential)
            real = _write_data(shell, path, data, lambda: client.create(
                path, data, acl=acl, ephemeral=ephemeral, sequence=sequential, makepath=opts.has("p")))
        else:
            if acl is not None:
                raise ShellError("create: an ACL with -c or -t is not supported; set it afterwards with setAcl")
            real = _write_data(shell, path, data, lambda: edits.create(
                client, path, data, mode, ttl_ms=ttl, makepath=opts.has("p"))).path
    except kex.NoNodeError:
        parent = posixpath.dirname(path.rstrip("/")) or "/"
        raise ShellError(f"Node does not exist: {parent} (parent of {path}; create -p makes parents)") from None
    except kex.NodeExistsError:
        raise ShellError(f"Node already exists: {path}") from None
    except kex.NoChildrenForEphemeralsError:
        raise ShellError(f"Ephemerals cannot have children: {path}") from None
    shell.invalidate(real)
    return Result(f"Created {real}", data={"path": real})


@command("get", "get [-s] [-w] [-b|-x] path", "print a znode's data",
         "-s adds the stat, -w sets a data watch, -b prints the data as base64, -x as a hex dump. Without -b/-x "
         "text prints as is and other bytes as \\x escapes; in the pane JSON/XML/YAML get syntax colour.")
def cmd_get(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("get", words, "swbx")
    args = _args(opts.args, 1, 1, "get")
    path = shell.resolve(args[0])
    watch = _watcher(shell, path) if opts.has("w") else None
    data, stat = shell.client.get(path, watch=watch)
    if opts.has("b"):
        text = base64.b64encode(data or b"").decode("ascii")
        rich: Any = Text(text)
    elif opts.has("x"):
        text = hex_dump(data or b"")
        rich = Text(text, no_wrap=True)
    else:
        text = decode_text(data)
        rich = format_data(data or b"").renderable if data else Text(text, style="dim")
    payload: dict[str, Any] = {"path": path, **encode_data(data)}
    if opts.has("s"):
        text = (text + "\n" if text else "") + format_stat(stat)
        rich = Group(rich, stat_table(stat, session_id=_session_id(shell)))
        payload["stat"] = stat_dict(stat)
    return Result(text, rich, payload)


@command("set", "set [-s] [-v version] [-b] path data", "replace a znode's data",
         "-v writes only if the znode is still at that dataVersion, -s prints the new stat, -b takes base64.",
         writes=True)
def cmd_set(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("set", words, "sb", "v")
    args = _args(opts.args, 2, 2, "set")
    path = shell.resolve(args[0])
    data = _data_arg(args[1], opts.has("b"))
    version = _version(opts)
    client = shell.client
    try:
        stat = _write_data(shell, path, data, lambda: client.set(path, data, version=version))
    except kex.BadVersionError:
        raise _bad_version(shell, path, version) from None
    if opts.has("s"):
        return Result(format_stat(stat), stat_table(stat, session_id=_session_id(shell)),
                      {"path": path, "stat": stat_dict(stat)})
    return Result("", data={"path": path, "version": stat.version})


@command("stat", "stat [-w] path", "print a znode's stat", "-w sets an exists watch (fires on create too).")
def cmd_stat(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("stat", words, "w")
    args = _args(opts.args, 0, 1, "stat")
    path = shell.resolve(args[0] if args else None)
    watch = _watcher(shell, path) if opts.has("w") else None
    stat = shell.client.exists(path, watch=watch)
    if stat is None:
        raise ShellError(f"Node does not exist: {path}")
    return Result(format_stat(stat), stat_table(stat, session_id=_session_id(shell)),
                  {"path": path, "stat": stat_dict(stat)})


@command("delete", "delete [-v version] path", "delete a znode that has no children", writes=True)
def cmd_delete(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("delete", words, "", "v")
    args = _args(opts.args, 1, 1, "delete")
    path = shell.resolve(args[0])
    version = _version(opts)
    if path == "/":
        raise ShellError("Refusing to delete the root znode /")
    client = shell.client
    try:
        client.delete(path, version=version)
    except kex.NotEmptyError:
        try:
            n = client.exists(path).numChildren  # type: ignore[union-attr]
        except (kex.KazooException, AttributeError):
            n = None
        count = f" ({n} {'child' if n == 1 else 'children'})" if n is not None else ""
        raise ShellError(f"Node not empty: {path}{count} - use deleteall") from None
    except kex.BadVersionError:
        raise _bad_version(shell, path, version) from None
    shell.invalidate(path)
    return Result("", data={"path": path, "deleted": 1})


@command("deleteall", "deleteall path [-b batch]", "delete a znode and everything below it (asks first)",
         "Asks for confirmation with the number of znodes; --yes skips the question (scripts). -b is accepted "
         "for zkCli compatibility (deletes are pipelined a level at a time anyway).",
         aliases=("rmr",), writes=True)
def cmd_deleteall(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("deleteall", words, "", "b")
    args = _args(opts.args, 1, 1, "deleteall")
    path = shell.resolve(args[0])
    if path == "/":
        raise ShellError("Refusing to delete the root znode /")
    count = edits.count_subtree(shell.client, path)
    _confirm(opts, f"deleteall {path}: delete {count} znode{'s' if count != 1 else ''}? [y/N]")
    result = edits.delete(shell.client, path, recursive=True)
    shell.invalidate(path)
    return Result("", data={"path": path, "deleted": result.deleted})


@command("getAcl", "getAcl [-s] path", "print a znode's ACL", "-s adds the stat.")
def cmd_getacl(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("getAcl", words, "s")
    args = _args(opts.args, 1, 1, "getAcl")
    path = shell.resolve(args[0])
    acls, stat = shell.client.get_acls(path)
    text = format_acls(acls)
    data: dict[str, Any] = {"path": path, "acl": [acl_dict(a) for a in acls]}
    if opts.has("s"):
        text += "\n" + format_stat(stat)
        data["stat"] = stat_dict(stat)
    return Result(text, data=data)


@command("setAcl", "setAcl [-s] [-v version] [-R] path acl", "replace a znode's ACL",
         "acl: scheme:id:perms[,...] e.g. world:anyone:r or digest:bob:HASH=:cdrwa or auth::cdrwa. "
         "-v checks aclVersion, -R applies to the whole subtree, -s prints the new stat.", writes=True)
def cmd_setacl(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("setAcl", words, "sR", "v")
    args = _args(opts.args, 2, 2, "setAcl")
    path = shell.resolve(args[0])
    acls = parse_acls(args[1])
    version = _version(opts)
    client = shell.client
    targets = _walk_paths(shell, path) if opts.has("R") else [path]
    stat = None
    try:
        for i, target in enumerate(targets):
            stat = client.set_acls(target, acls, version=version if i == 0 else -1)
    except kex.BadVersionError:
        acl_stat = client.exists(path)
        have = f"server has aclVersion {acl_stat.aversion}" if acl_stat else "the znode no longer exists"
        raise ShellError(f"Bad version: expected aclVersion {version}, {have} ({path})") from None
    text = format_stat(stat) if opts.has("s") and stat is not None else ""
    return Result(text, data={"paths": targets, "acl": [acl_dict(a) for a in acls]})


@command("addauth", "addauth scheme auth", "add credentials to this session (e.g. addauth digest user:pw)",
         "The secret never reaches history or logs: they keep `addauth digest user:***`.")
def cmd_addauth(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("addauth", words)
    args = _args(opts.args, 2, 2, "addauth")
    scheme, credential = args
    try:
        shell.client.add_auth(scheme, credential)
    except kex.AuthFailedError:
        # kazoo keeps the credential and would send it again on every reconnect: forget it
        getattr(shell.session.client, "auth_data", set()).discard((scheme, credential))
        raise ShellError(f"Authentication failed: the server rejected the {scheme} credentials and closed the "
                         f"session (`connect` opens a new one)") from None
    return Result("", data={"scheme": scheme})


@command("whoami", "whoami", "the identities the server holds for this session")
def cmd_whoami(shell: Shell, words: list[str]) -> Result:
    _args(shell.parse("whoami", words).args, 0, 0, "whoami")
    infos = shell.client.whoami()  # type: ignore[attr-defined]
    lines = ["Auth scheme: User"] + [f"{scheme}: {user}" for scheme, user in infos]
    return Result("\n".join(lines), data=[{"scheme": s, "user": u} for s, u in infos])


@command("sync", "sync path", "make the connected server catch up with the leader for path")
def cmd_sync(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("sync", words).args, 1, 1, "sync")
    path = shell.resolve(args[0])
    shell.client.sync(path)
    return Result("Sync is OK", data={"path": path})


@command("printwatches", "printwatches on|off", "show or hide watch events set with -w / addWatch")
def cmd_printwatches(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("printwatches", words).args, 0, 1, "printwatches")
    if args:
        if args[0] not in ("on", "off"):
            raise ParseError("printwatches: say on or off")
        shell.printwatches = args[0] == "on"
    state = "on" if shell.printwatches else "off"
    return Result(f"printwatches is {state}", data={"printwatches": shell.printwatches})


@command("getEphemerals", "getEphemerals [path]", "this session's ephemeral znodes (under path)")
def cmd_getephemerals(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("getEphemerals", words).args, 0, 1, "getEphemerals")
    prefix = shell.resolve(args[0]) if args else "/"
    paths = shell.client.get_ephemerals(prefix)  # type: ignore[attr-defined]
    return Result(java_list(paths), data={"prefix": prefix, "ephemerals": paths})


@command("getAllChildrenNumber", "getAllChildrenNumber path", "how many znodes are below path (server count)")
def cmd_getallchildrennumber(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("getAllChildrenNumber", words).args, 0, 1, "getAllChildrenNumber")
    path = shell.resolve(args[0] if args else None)
    n = shell.client.get_all_children_number(path)  # type: ignore[attr-defined]
    return Result(str(n), data={"path": path, "count": n})


# -------------------------------------------------------------------- quotas (zkCli 3.8's on-disk format)

QUOTA_ROOT = "/zookeeper/quota"
_LIMITS = "zookeeper_limits"
_STATS = "zookeeper_stats"


def _parse_quota(text: str) -> dict[str, int]:
    """``count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1`` (3.8) or ``count=5,bytes=-1`` (older)."""
    values = {"count": -1, "bytes": -1, "countHardLimit": -1, "byteHardLimit": -1}
    for part in text.replace("=;", ";").replace(",", ";").split(";"):
        if "=" in part:
            key, _, value = part.partition("=")
            try:
                values[key.strip()] = int(value)
            except ValueError:
                continue
    return values


def _format_limits(q: dict[str, int]) -> str:
    return (f"count={q['count']},bytes={q['bytes']}=;byteHardLimit={q['byteHardLimit']};"
            f"countHardLimit={q['countHardLimit']}")


def _quota_usage(shell: Shell, path: str) -> tuple[int, int]:
    stats = _fetch_all(shell, _walk_paths(shell, path))
    return len(stats), sum(len(d or b"") for d, _s in stats.values())


@command("listquota", "listquota path", "show the quota set on path and its usage")
def cmd_listquota(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("listquota", words).args, 1, 1, "listquota")
    path = shell.resolve(args[0])
    limits = QUOTA_ROOT + path + "/" + _LIMITS
    client = shell.client
    try:
        raw, _ = client.get(limits)
    except kex.NoNodeError:
        raise ShellError(f"quota for {path} does not exist.") from None
    try:
        stats_raw, _ = client.get(QUOTA_ROOT + path + "/" + _STATS)
        stats = _parse_quota(stats_raw.decode())
    except kex.NoNodeError:
        count, size = _quota_usage(shell, path)
        stats = {"count": count, "bytes": size}
    quota = _parse_quota((raw or b"").decode())
    text = (f"absolute path is {limits}\nOutput quota for {path} {_format_limits(quota)}\n"
            f"Output stat for {path} count={stats['count']},bytes={stats['bytes']}")
    return Result(text, data={"path": path, "quota": quota, "usage": {"count": stats["count"],
                                                                          "bytes": stats["bytes"]}})


@command("setquota", "setquota -n|-b|-N|-B val path", "set a quota on path",
         "-n soft count, -b soft bytes, -N hard count, -B hard bytes (hard limits are enforced only when the "
         "server runs with zookeeper.enforceQuota=true).", writes=True)
def cmd_setquota(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("setquota", words, "", "nbNB")
    args = _args(opts.args, 1, 1, "setquota")
    if not opts.values:
        raise ParseError("setquota: give one of -n, -b, -N, -B")
    path = shell.resolve(args[0])
    if path == "/" or path.startswith("/zookeeper"):
        raise ShellError(f"Cannot set a quota on {path}")
    client = shell.client
    if client.exists(path) is None:
        raise ShellError(f"Node does not exist: {path}")
    for parent in _ancestors(path):
        if client.exists(QUOTA_ROOT + parent + "/" + _LIMITS) is not None:
            raise ShellError(f"{parent} already has a quota; quotas cannot nest")
    base = QUOTA_ROOT + path
    try:
        raw, _ = client.get(base + "/" + _LIMITS)
        quota = _parse_quota(raw.decode())
    except kex.NoNodeError:
        quota = _parse_quota("")
    keys = {"n": "count", "b": "bytes", "N": "countHardLimit", "B": "byteHardLimit"}
    for letter, key in keys.items():
        if letter in opts.values:
            quota[key] = opts.int_value(letter, -1, f"-{letter}")
    count, size = _quota_usage(shell, path)
    client.ensure_path(base)
    for name, value in ((_LIMITS, _format_limits(quota)), (_STATS, f"count={count},bytes={size}")):
        if client.exists(base + "/" + name) is None:
            client.create(base + "/" + name, value.encode())
        elif name == _LIMITS:
            client.set(base + "/" + name, value.encode())
    return Result(f"absolute path is {base}/{_LIMITS}", data={"path": path, "quota": quota})


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


@command("delquota", "delquota [-n|-b|-N|-B] path", "remove a quota (or one of its limits)", writes=True)
def cmd_delquota(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("delquota", words, "nbNB")
    args = _args(opts.args, 1, 1, "delquota")
    path = shell.resolve(args[0])
    base = QUOTA_ROOT + path
    client = shell.client
    try:
        raw, _ = client.get(base + "/" + _LIMITS)
    except kex.NoNodeError:
        raise ShellError(f"quota for {path} does not exist.") from None
    if not opts.flags:
        client.delete(base, recursive=True)
        return Result("", data={"path": path, "quota": None})
    quota = _parse_quota(raw.decode())
    keys = {"n": "count", "b": "bytes", "N": "countHardLimit", "B": "byteHardLimit"}
    for letter in opts.flags:
        quota[keys[letter]] = -1
    client.set(base + "/" + _LIMITS, _format_limits(quota).encode())
    return Result("", data={"path": path, "quota": quota})


def _get_config(shell: Shell, watch: Any) -> tuple[bytes, ZnodeStat]:
    """/zookeeper/config is outside any chroot (ZooKeeper.getConfig does not prepend it): ask for it raw."""
    from kazoo.protocol.serialization import GetData

    client = shell.client
    result = client.handler.async_result()
    client._call(GetData("/zookeeper/config", watch), result)  # noqa: SLF001 - no chroot on purpose
    try:
        return result.get(timeout=client._session_timeout / 1000.0 if hasattr(client, "_session_timeout") else 10)
    except kex.NoNodeError:
        raise ShellError("No configuration: /zookeeper/config does not exist on this server") from None


@command("config", "config [-c] [-w] [-s]", "the ensemble's dynamic configuration (/zookeeper/config)",
         "-c prints only the client connect string, -w sets a watch, -s adds the stat.")
def cmd_config(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("config", words, "cws")
    _args(opts.args, 0, 0, "config")
    data, stat = _get_config(shell, _watcher(shell) if opts.has("w") else None)
    text = (data or b"").decode("utf-8", errors="replace").strip()
    if opts.has("c"):
        servers = []
        for line in text.splitlines():
            if line.startswith("server.") and ";" in line:
                client_part = line.split(";", 1)[1]
                servers.append(client_part.replace("0.0.0.0", line.split("=", 1)[1].split(":", 1)[0]))
        text = ",".join(servers) or shell.session.hosts
    if opts.has("s"):
        text += "\n" + format_stat(stat)
    return Result(text, data={"config": text})


@command("history", "history", "the commands typed in this session, numbered for redo")
def cmd_history(shell: Shell, words: list[str]) -> Result:
    _args(shell.parse("history", words).args, 0, 0, "history")
    start = max(0, len(shell.history) - 20)
    lines = [f"{i} - {shell.history[i]}" for i in range(start, len(shell.history))]
    return Result("\n".join(lines), data=[{"n": i, "command": shell.history[i]}
                                          for i in range(start, len(shell.history))])


@command("redo", "redo cmdno", "run command number cmdno from history again")
def cmd_redo(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("redo", words).args, 1, 1, "redo")
    try:
        n = int(args[0])
    except ValueError:
        raise ParseError(f"redo: {args[0]!r} is not a history number") from None
    if not 0 <= n < len(shell.history):
        raise ShellError(f"redo: no command number {n} (see history)")
    line = shell.history[n]
    if line.rstrip().endswith("***") and line.lstrip().startswith("addauth"):
        raise ShellError("redo: the secret of an addauth is not kept; type it again")
    outcome = shell.run(line)
    if outcome.confirm:
        raise ConfirmationRequired(outcome.confirm)
    if not outcome.ok:
        raise ShellError(outcome.error or "redo failed")
    return outcome.result or Result()


@command("connect", "connect [host:port]", "reconnect, or connect to another server")
def cmd_connect(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("connect", words).args, 0, 1, "connect")
    hosts = shell.session.connect(args[0] if args else None)
    shell.invalidate()
    return Result(f"Connected to {hosts}", data={"hosts": hosts})


@command("close", "close", "close this session (ephemerals vanish); connect reopens")
def cmd_close(shell: Shell, words: list[str]) -> Result:
    _args(shell.parse("close", words).args, 0, 0, "close")
    shell.stop_streams()
    shell.session.close()
    return Result("Closed", data={"closed": True})


@command("version", "version", "zkbench, kazoo and server versions")
def cmd_version(shell: Shell, words: list[str]) -> Result:
    from importlib.metadata import PackageNotFoundError, version as pkg_version

    from zkbench import __version__

    try:
        kazoo_version = pkg_version("kazoo")
    except PackageNotFoundError:
        kazoo_version = "?"
    server = "not connected"
    try:
        srvr = _four_letter(shell, "srvr")
        for line in srvr.splitlines():
            if line.startswith("Zookeeper version:"):
                server = line.split(":", 1)[1].strip()
    except ShellError as exc:
        server = str(exc)
    text = f"zkbench {__version__} (kazoo {kazoo_version})\nZooKeeper server version: {server}"
    return Result(text, data={"zkbench": __version__, "kazoo": kazoo_version, "server": server})


@command("help", "help [command]", "list commands, or explain one")
def cmd_help(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("help", words).args, 0, 1, "help")
    if args:
        cmd = lookup(args[0])
        if cmd is None:
            raise ShellError(f"help: no command {args[0]!r}")
        lines = [f"{cmd.usage}", f"    {cmd.summary}"]
        if cmd.details:
            lines += ["", *("    " + line for line in cmd.details.splitlines())]
        if cmd.aliases:
            lines.append(f"    aliases: {', '.join(cmd.aliases)}")
        return Result("\n".join(lines), data={"command": cmd.name, "usage": cmd.usage})
    from rich.table import Table

    lines: list[str] = []
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
    table.add_column(style="bold", ratio=1)
    table.add_column(ratio=1)
    for group in ("zkCli", "zkbench"):
        title = "ZooKeeper (zkCli) commands:" if group == "zkCli" else "zkbench commands:"
        lines.append(title)
        table.add_row(Text(title, style="bold underline"), "")
        for cmd in sorted((c for c in COMMANDS.values() if c.group == group), key=lambda c: c.name.lower()):
            lines.append(f"\t{cmd.usage:<58} {cmd.summary}")
            table.add_row(Text(cmd.usage), Text(cmd.summary, style="dim"))
    footer = "Paths may be relative to the current directory (cd). `help CMD` explains one command."
    lines.append(footer)
    return Result("\n".join(lines), Group(table, Text(footer, style="italic")), data=sorted(COMMANDS))


@command("quit", "quit", "leave the shell", aliases=("exit",))
def cmd_quit(shell: Shell, words: list[str]) -> Result:  # handled in Shell.run
    return Result()


# ---------------------------------------------------------------------------------------------------- watches

def _add_watch_supported(shell: Shell) -> bool:
    return callable(getattr(shell.client, "add_watch", None))


@command("addWatch", "addWatch [-m mode] path", "a persistent watch: PERSISTENT or PERSISTENT_RECURSIVE (default)",
         "Events print as WATCHER lines while printwatches is on; removewatches path ends the watch.")
def cmd_addwatch(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("addWatch", words, "", "m")
    args = _args(opts.args, 1, 1, "addWatch")
    path = shell.resolve(args[0])
    mode = (opts.get("m") or "PERSISTENT_RECURSIVE").upper()
    if mode not in ("PERSISTENT", "PERSISTENT_RECURSIVE"):
        raise ParseError(f"addWatch: mode must be PERSISTENT or PERSISTENT_RECURSIVE, not {mode!r}")
    if not _add_watch_supported(shell):
        raise ShellError("addWatch: this zkbench build's client has no persistent watches yet")
    client = shell.client

    def on_event(event: Any) -> None:
        if shell.printwatches:
            shell.notify("WATCHER:: " + event_line(getattr(event, "type", "?"), getattr(event, "state", "?"),
                                                   getattr(event, "path", None)))

    client.add_watch(path, on_event, mode.lower())  # type: ignore[attr-defined]
    if mode == "PERSISTENT_RECURSIVE":
        shell.persistent_roots.add(path)
    return Result("", data={"path": path, "mode": mode})


@command("removewatches", "removewatches path [-c|-d|-a] [-l]", "remove watches on path",
         "-c child watches, -d data watches, -a all (default, persistent ones included); -l is accepted for zkCli "
         "compatibility.")
def cmd_removewatches(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("removewatches", words, "cdal")
    args = _args(opts.args, 1, 1, "removewatches")
    path = shell.resolve(args[0])
    kind = "children" if opts.has("c") else "data" if opts.has("d") else "any"
    client = shell.client
    remove = getattr(client, "remove_watches", None)
    if not callable(remove):
        raise ShellError("removewatches: this zkbench build's client cannot remove watches yet")
    try:
        remove(path, kind)
        if kind == "any":
            shell.persistent_roots.discard(path)
    except kex.NoWatcherError:
        raise ShellError(f"No watch of that kind on {path}") from None
    return Result("", data={"path": path, "type": kind})


@command("watch", "watch path [-n count] [-t seconds] [-d]", "stream changes under path until Ctrl-C / Escape",
         "Watches every znode of the subtree (one-shot watches re-armed, so every server version works) and "
         "prints one line per create/change/delete with the new value; -d watches only path itself. "
         "-n stops after count events, -t after seconds.",
         group="zkbench")
def cmd_watch(shell: Shell, words: list[str]) -> Result:
    from zkbench.shell.watching import make_watch_stream

    opts = shell.parse("watch", words, "d", "nt")
    args = _args(opts.args, 0, 1, "watch")
    path = shell.resolve(args[0] if args else None)
    if shell.client.exists(path) is None:
        raise ShellError(f"Node does not exist: {path}")
    limit = opts.int_value("n", 0, "count") or None
    seconds = float(opts.get("t")) if opts.get("t") else None
    stream = make_watch_stream(shell, path, recursive=not opts.has("d"), limit=limit, seconds=seconds)
    shell.streams.append(stream)
    return Result(f"watching {path} (Ctrl-C or Esc stops)", data={"path": path}, stream=stream)


# ---------------------------------------------------------------------------------------------------- four letter

def _server_address(shell: Shell) -> tuple[str, int]:
    client = shell.client
    try:
        host, port = client._connection._socket.getpeername()[:2]  # noqa: SLF001 - kazoo has no API for it
        return host, port
    except (AttributeError, OSError):
        raise ShellError("Not connected: no server to ask") from None


def _four_letter(shell: Shell, word: str) -> str:
    from zkbench.fourlw import NOT_WHITELISTED, FourLetterWordError, four_letter_word

    host, port = _server_address(shell)
    try:
        reply = four_letter_word(host, port, word)
    except FourLetterWordError as exc:
        raise ShellError(str(exc)) from None
    if NOT_WHITELISTED in reply:
        raise ShellError(f"{host}:{port} refuses '{word}': add it to 4lw.commands.whitelist")
    return reply


def _fourlw_command(word: str, summary: str) -> None:
    @command(word, word, summary, group="zkbench")
    def run(shell: Shell, words: list[str]) -> Result:
        _args(shell.parse(word, words).args, 0, 0, word)
        reply = _four_letter(shell, word).rstrip("\n")
        data: Any = reply
        if word == "mntr":
            data = dict(line.split("\t", 1) for line in reply.splitlines() if "\t" in line)
        return Result(reply, data=data)


_fourlw_command("mntr", "the connected server's metrics (four-letter word)")
_fourlw_command("srvr", "the connected server's mode, zxid, latency (four-letter word)")
_fourlw_command("ruok", "is the connected server running? (imok)")


# import the zkbench extensions so that they register too
from zkbench.shell import extras  # noqa: E402,F401
