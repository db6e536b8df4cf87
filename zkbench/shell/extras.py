"""Commands beyond zkCli (the best of zk-shell and more): cd/pwd, tree, find, grep, du, count, cp, mv, rm, diff,
json get/set, txn, dump/load. Registered into the same table as zkCli's commands."""

from __future__ import annotations

import fnmatch
import json
import logging
import posixpath
import time
from pathlib import Path
from typing import Any

from kazoo import exceptions as kex
from kazoo.security import OPEN_ACL_UNSAFE
from rich.syntax import Syntax
from rich.text import Text
from rich.tree import Tree

from zkbench import edits
from zkbench.errors import explain
from zkbench.shell.core import Result, Shell, ShellError, command
from zkbench.shell.parser import ParseError, Token, parse_options, split_on_separator
from zkbench.shell.render import acl_dict, acl_from_dict, decode_data, encode_data, java_list

log = logging.getLogger(__name__)

DUMP_FORMAT = "zkbench-dump"


def _c():  # late import: commands imports this module at its end
    from zkbench.shell import commands

    return commands


def _args(args: list[str], lo: int, hi: int, name: str) -> list[str]:
    return _c()._args(args, lo, hi, name)


# ---------------------------------------------------------------------------------------------------- navigation

@command("cd", "cd [path|-|..]", "change the current directory (relative paths work everywhere)", group="zkbench")
def cmd_cd(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("cd", words).args, 0, 1, "cd")
    target = args[0] if args else "/"
    if target == "-":
        target = getattr(shell, "_previous_cwd", "/")
    path = shell.resolve(target).rstrip("/") or "/"
    if shell.client.exists(path) is None:
        raise ShellError(f"Node does not exist: {path}")
    shell._previous_cwd = shell.cwd  # type: ignore[attr-defined]
    shell.cwd = path
    return Result("", data={"cwd": path})


@command("pwd", "pwd", "print the current directory", group="zkbench")
def cmd_pwd(shell: Shell, words: list[str]) -> Result:
    _args(shell.parse("pwd", words).args, 0, 0, "pwd")
    return Result(shell.cwd, data={"cwd": shell.cwd})


@command("tree", "tree [path] [depth]", "draw the subtree (to depth levels)", group="zkbench")
def cmd_tree(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("tree", words).args, 0, 2, "tree")
    path = shell.resolve(args[0] if args else None)
    depth: int | None = None
    if len(args) > 1:
        try:
            depth = int(args[1])
        except ValueError:
            raise ParseError(f"tree: depth must be a number, got {args[1]!r}") from None
    entries = _c().walk(shell, path, max_depth=depth)
    root = Tree(Text(path, style="bold"))
    nodes: dict[str, Tree] = {path: root}
    lines = [path]
    # text form: box drawing like tree(1)
    last_at_depth: dict[int, bool] = {}
    for i, (p, d) in enumerate(entries):
        if d == 0:
            continue
        parent = posixpath.dirname(p) or "/"
        name = posixpath.basename(p)
        node = nodes.get(parent, root).add(Text(name))
        nodes[p] = node
        is_last = not any(dd == d for _pp, dd in _siblings_after(entries, i, d))
        last_at_depth[d] = is_last
        prefix = "".join("    " if last_at_depth.get(k) else "│   " for k in range(1, d))
        lines.append(prefix + ("└── " if is_last else "├── ") + name)
    return Result("\n".join(lines), root, data={"path": path, "paths": [p for p, _ in entries]})


def _siblings_after(entries: list[tuple[str, int]], i: int, depth: int):  # noqa: ANN202
    for p, d in entries[i + 1:]:
        if d < depth:
            return
        if d == depth:
            yield p, d
            return


@command("find", "find [path] pattern", "znodes under path whose name matches a glob (or whose path contains text)",
         "A pattern with * ? [ is a glob on the znode name (or on the relative path if it has a /); "
         "otherwise any path containing the text matches.", group="zkbench")
def cmd_find(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("find", words).args, 1, 2, "find")
    path, pattern = (shell.resolve(args[0]), args[1]) if len(args) == 2 else (shell.resolve(None), args[0])
    globby = any(ch in pattern for ch in "*?[")
    found = []
    for p in _c()._walk_paths(shell, path):
        rel = p[len(path):].lstrip("/") if path != "/" else p.lstrip("/")
        if globby:
            hit = fnmatch.fnmatchcase(rel if "/" in pattern else posixpath.basename(p), pattern)
        else:
            hit = pattern in p
        if hit:
            found.append(p)
    return Result("\n".join(found), data={"path": path, "pattern": pattern, "matches": found})


@command("grep", "grep [-i] [path] text", "znodes under path whose data contains text (prints matching lines)",
         group="zkbench")
def cmd_grep(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("grep", words, "i")
    args = _args(opts.args, 1, 2, "grep")
    path, needle = (shell.resolve(args[0]), args[1]) if len(args) == 2 else (shell.resolve(None), args[0])
    fold = opts.has("i")
    key = needle.lower() if fold else needle
    nodes = _c()._fetch_all(shell, _c()._walk_paths(shell, path))
    lines, matches = [], []
    for p in sorted(nodes):
        data = nodes[p][0]
        if not data:
            continue
        text = data.decode("utf-8", errors="backslashreplace")
        hits = [line for line in text.splitlines() if key in (line.lower() if fold else line)]
        if hits:
            matches.append({"path": p, "lines": hits})
            lines.extend(f"{p}: {line}" for line in hits)
    return Result("\n".join(lines), data={"path": path, "text": needle, "matches": matches})


def _stats(shell: Shell, paths: list[str]) -> dict[str, Any]:
    """Stats of many znodes (batched reads); vanished ones are left out."""
    return {p: stat for p, (_data, stat) in _c()._fetch_all(shell, paths).items()}


@command("du", "du [path]", "bytes of data stored in the subtree", group="zkbench")
def cmd_du(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("du", words).args, 0, 1, "du")
    path = shell.resolve(args[0] if args else None)
    stats = _stats(shell, _c()._walk_paths(shell, path))
    total = sum(s.dataLength for s in stats.values())
    return Result(str(total), data={"path": path, "bytes": total, "znodes": len(stats)})


@command("count", "count [path]", "znodes in the subtree (the znode itself included) and how many are ephemeral",
         group="zkbench")
def cmd_count(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("count", words).args, 0, 1, "count")
    path = shell.resolve(args[0] if args else None)
    stats = _stats(shell, _c()._walk_paths(shell, path))
    eph = sum(1 for s in stats.values() if s.ephemeralOwner)
    return Result(f"{len(stats)} znodes ({eph} ephemeral)", data={"path": path, "znodes": len(stats),
                                                                  "ephemeral": eph})


# ---------------------------------------------------------------------------------------------------- copy / move

def _snapshot(shell: Shell, root: str) -> list[dict[str, Any]]:
    """Everything under root (itself first, parents before children): relative path, data, stat, ACL."""
    client = shell.client
    paths = _c()._walk_paths(shell, root)
    data_pending = [(p, client.get_async(p)) for p in paths]
    acl_pending = {p: client.get_acls_async(p) for p in paths}
    nodes = []
    for p, result in data_pending:
        try:
            data, stat = result.get()
            acls, _ = acl_pending[p].get()
        except kex.NoNodeError:
            continue
        nodes.append({"path": p, "rel": _c()._relative(root, p), "data": data, "stat": stat, "acl": acls})
    return nodes


_TXN_OPS = 200  # creates per multi request
_TXN_BYTES = 512 * 1024  # and bytes per multi request (jute.maxbuffer is ~1 MB)


def _set_existing(client, items: list[tuple[str, bytes | None]]) -> int:  # noqa: ANN001
    pending = [(path, client.set_async(path, data or b"")) for path, data in items]
    for path, result in pending:
        try:
            result.get()
        except kex.KazooException as exc:
            raise ShellError(f"stopped at {path}: {explain(exc, path)}") from None
    return len(pending)


def _create_by_level(client, items: list[tuple[str, bytes | None, list[Any]]]) -> int:  # noqa: ANN001
    """Create ``(path, data, acl)`` items a depth level at a time, each level's creates in flight together
    (one round trip per level instead of one per znode). A znode with children to come and a restrictive ACL
    gets its ACL at the end, deepest first, so that it does not block its own children."""
    by_depth: dict[int, list[tuple[str, bytes | None, list[Any]]]] = {}
    parents = {posixpath.dirname(path) for path, _d, _a in items}
    for item in items:
        by_depth.setdefault(item[0].count("/"), []).append(item)
    created = 0
    deferred: list[tuple[str, list[Any]]] = []
    for depth in sorted(by_depth):
        batches: list[list[tuple[str, bytes, list[Any]]]] = [[]]
        size = 0
        for path, data, acl in by_depth[depth]:
            acl = list(acl or OPEN_ACL_UNSAFE)
            if path in parents and acl != list(OPEN_ACL_UNSAFE):
                deferred.append((path, acl))
                acl = list(OPEN_ACL_UNSAFE)
            cost = len(data or b"") + 2 * len(path) + 64 * (1 + len(acl))
            if batches[-1] and (len(batches[-1]) >= _TXN_OPS or size + cost > _TXN_BYTES):
                batches.append([])
                size = 0
            batches[-1].append((path, data or b"", acl))
            size += cost
        # Each batch is one multi request (all or nothing); a level's batches are in flight together.
        pending = []
        for batch in batches:
            if not batch:
                continue
            txn = client.transaction()
            for path, data, acl in batch:
                txn.create(path, data, acl=acl)
            pending.append((batch, txn.commit_async()))
        for batch, result in pending:
            outcomes = result.get()
            for (path, _data, _acl), outcome in zip(batch, outcomes):
                if isinstance(outcome, Exception) and not isinstance(outcome, (kex.RolledBackError,
                                                                                 kex.RuntimeInconsistency)):
                    raise ShellError(f"stopped at {path}: {explain(outcome, path)} ({created} znodes created "
                                     f"before it)")
            created += len(batch)
    acl_results = [(path, client.set_acls_async(path, acl))
                   for path, acl in sorted(deferred, key=lambda item: -item[0].count("/"))]
    for path, result in acl_results:
        try:
            result.get()
        except kex.KazooException as exc:
            raise ShellError(f"could not set the ACL of {path}: {explain(exc, path)}") from None
    return created


def _check_target(src: str, dst: str) -> None:
    if dst == src or dst.startswith(src.rstrip("/") + "/"):
        raise ShellError(f"Cannot copy {src} into itself ({dst})")


@command("cp", "cp src dst", "copy a subtree with its data and ACLs (dst must not exist)",
         "Ephemeral znodes are copied as persistent ones (the copy cannot belong to their session).",
         writes=True, group="zkbench")
def cmd_cp(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("cp", words).args, 2, 2, "cp")
    src, dst = shell.resolve(args[0]), shell.resolve(args[1])
    _check_target(src, dst)
    client = shell.client
    if client.exists(dst) is not None:
        raise ShellError(f"Node already exists: {dst} (cp does not overwrite)")
    nodes = _snapshot(shell, src)
    if not nodes:
        raise ShellError(f"Node does not exist: {src}")
    parent = posixpath.dirname(dst) or "/"
    if client.exists(parent) is None:
        raise ShellError(f"Node does not exist: {parent} (parent of {dst})")
    created = _create_by_level(client, [(_c()._join(dst, n["rel"]), n["data"], n["acl"]) for n in nodes])
    eph = sum(1 for n in nodes if n["stat"].ephemeralOwner)
    shell.invalidate(dst)
    note = f" ({eph} ephemeral copied as persistent)" if eph else ""
    return Result(f"Copied {created} znode{'s' if created != 1 else ''} from {src} to {dst}{note}",
                  data={"src": src, "dst": dst, "copied": created})


@command("mv", "mv src dst", "move a subtree (atomic for subtrees that fit in one transaction; asks first)",
         "Refuses subtrees with ephemeral znodes (their sessions would lose them). --yes skips the question.",
         writes=True, group="zkbench")
def cmd_mv(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("mv", words)
    args = _args(opts.args, 2, 2, "mv")
    src, dst = shell.resolve(args[0]), shell.resolve(args[1])
    if src == "/":
        raise ShellError("Cannot move the root znode /")
    _check_target(src, dst)
    client = shell.client
    nodes = _snapshot(shell, src)
    if not nodes:
        raise ShellError(f"Node does not exist: {src}")
    eph = [n["path"] for n in nodes if n["stat"].ephemeralOwner]
    if eph:
        raise ShellError(f"mv: {eph[0]} is ephemeral; moving would take it from its session - refusing")
    if client.exists(dst) is not None:
        raise ShellError(f"Node already exists: {dst} (mv does not overwrite)")
    _c()._confirm(opts, f"mv {src} {dst}: move {len(nodes)} znode{'s' if len(nodes) != 1 else ''}? [y/N]")
    size = sum(len(n["data"] or b"") + len(n["path"]) * 2 + 64 for n in nodes)
    if len(nodes) <= 2000 and size < 512 * 1024:
        txn = client.transaction()
        for n in nodes:
            txn.create(_c()._join(dst, n["rel"]), n["data"] or b"", acl=n["acl"] or OPEN_ACL_UNSAFE)
        for n in reversed(nodes):
            txn.delete(n["path"], version=n["stat"].version)
        results = txn.commit()
        failure = next((r for r in results if isinstance(r, Exception) and not isinstance(
            r, (kex.RolledBackError, kex.RuntimeInconsistency))), None)
        if failure is not None:
            raise ShellError(f"mv failed, nothing moved: {explain(failure)} (the tree changed meanwhile?)")
        how = "atomically"
    else:
        _create_by_level(client, [(_c()._join(dst, n["rel"]), n["data"], n["acl"]) for n in nodes])
        edits.delete(client, src, recursive=True)
        how = "copy then delete (too large for one transaction)"
    shell.invalidate(src, dst)
    return Result(f"Moved {len(nodes)} znode{'s' if len(nodes) != 1 else ''} from {src} to {dst} ({how})",
                  data={"src": src, "dst": dst, "moved": len(nodes)})


@command("rm", "rm [-r] path", "delete a znode; -r deletes the subtree (asks first, like deleteall)",
         writes=True, group="zkbench")
def cmd_rm(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("rm", words, "rRf")
    args = _args(opts.args, 1, 1, "rm")
    if opts.has("r") or opts.has("R"):
        return _c().cmd_deleteall(shell, [args[0]] + (["--yes"] if opts.yes else []))
    return _c().cmd_delete(shell, [args[0]])


@command("diff", "diff a b", "compare two subtrees: znodes only in a (-), only in b (+), data differs (~)",
         group="zkbench")
def cmd_diff(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("diff", words).args, 2, 2, "diff")
    a, b = shell.resolve(args[0]), shell.resolve(args[1])
    left = {n["rel"]: n for n in _snapshot(shell, a)}
    right = {n["rel"]: n for n in _snapshot(shell, b)}
    lines, changes = [], []
    for rel in sorted(set(left) | set(right), key=lambda r: r.split("/")):
        shown = rel or "."
        if rel not in right:
            lines.append(f"- {shown}")
            changes.append({"path": rel, "change": "only_in_a"})
        elif rel not in left:
            lines.append(f"+ {shown}")
            changes.append({"path": rel, "change": "only_in_b"})
        elif (left[rel]["data"] or b"") != (right[rel]["data"] or b""):
            la, lb = len(left[rel]["data"] or b""), len(right[rel]["data"] or b"")
            lines.append(f"~ {shown} (data differs: {la} vs {lb} bytes)")
            changes.append({"path": rel, "change": "data"})
    text = "\n".join(lines) if lines else f"{a} and {b} are identical (data and structure)"
    rich = Text("\n").join(Text(line, style={"-": "red", "+": "green", "~": "yellow"}[line[0]]) for line in lines)
    return Result(text, rich if lines else None, data={"a": a, "b": b, "changes": changes})


# ---------------------------------------------------------------------------------------------------- json

def _json_path(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for part in key.split("."):
        if part == "":
            raise ParseError(f"json: empty key in {key!r}")
        parts.append(int(part) if part.lstrip("-").isdigit() else part)
    return parts


def _load_json(shell: Shell, path: str) -> tuple[Any, Any]:
    data, stat = shell.client.get(path)
    try:
        return json.loads((data or b"").decode("utf-8")), stat
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShellError(f"{path} does not hold JSON: {exc}") from None


def _dig(doc: Any, parts: list[str | int], path: str, key: str) -> Any:
    cur = doc
    for part in parts:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            raise ShellError(f"json: no key {key!r} in {path}") from None
    return cur


@command("json", "json get path [key.sub] | json set path key.sub value",
         "read or change one value inside a JSON znode",
         "json set parses value as JSON when it can (1, true, {\"a\": 1}) and stores a string otherwise; it "
         "writes only if nobody changed the znode since it was read (dataVersion check).", group="zkbench",
         writes=False)
def cmd_json(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("json", words).args, 2, 4, "json")
    action, path = args[0], shell.resolve(args[1])
    if action == "get":
        doc, _stat = _load_json(shell, path)
        value = _dig(doc, _json_path(args[2]), path, args[2]) if len(args) > 2 else doc
        if len(args) > 3:
            raise ParseError("json get: too many arguments")
        text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
        rich = Syntax(text, "json", background_color="default") if not isinstance(value, str) else Text(text)
        return Result(text, rich, data={"path": path, "value": value})
    if action == "set":
        if len(args) != 4:
            raise ParseError("json set: needs path key value")
        shell.require_writable(f"json set {path}")
        doc, stat = _load_json(shell, path)
        parts = _json_path(args[2])
        try:
            value = json.loads(args[3])
        except json.JSONDecodeError:
            value = args[3]
        container = _dig(doc, parts[:-1], path, args[2]) if len(parts) > 1 else doc
        try:
            if isinstance(container, list) and isinstance(parts[-1], int):
                container[parts[-1]] = value
            elif isinstance(container, dict):
                container[str(parts[-1])] = value
            else:
                raise TypeError
        except (IndexError, TypeError):
            raise ShellError(f"json: cannot set {args[2]!r} in {path}") from None
        encoded = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        try:
            shell.client.set(path, encoded, version=stat.version)
        except kex.BadVersionError:
            raise _c()._bad_version(shell, path, stat.version) from None
        return Result("", data={"path": path, "key": args[2], "value": value})
    raise ParseError(f"json: say get or set, not {action!r}")


# ---------------------------------------------------------------------------------------------------- txn

@command("txn", "txn op ; op ; ...", "several writes applied atomically (all or none)",
         "Operations, separated by ';' (quote data containing ';'):\n"
         "  create [-s] [-e] [-c] path [data]\n"
         "  set [-v version] path data\n"
         "  delete [-v version] path\n"
         "  check path version          (fails the transaction unless dataVersion matches)\n"
         "Example: txn create /a x ; set /b y ; delete /c ; check /d 3\n"
         "On failure nothing is applied and the failing operation is named.", writes=True, group="zkbench")
def cmd_txn(shell: Shell, words: list[str]) -> Result:
    tokens = list(shell.tokens) if [t.text for t in shell.tokens] == words else [Token(w) for w in words]
    statements = split_on_separator(tokens)
    if not statements:
        raise ParseError("txn: no operations")
    client = shell.client
    txn = client.transaction()
    described: list[str] = []
    for stmt in statements:
        op, rest = stmt[0], stmt[1:]
        if op == "create":
            o = parse_options("txn create", rest, "sec")
            a = _args(o.args, 1, 2, "txn create")
            path = shell.resolve(a[0])
            txn.create(path, (a[1] if len(a) > 1 else "").encode("utf-8"), ephemeral=o.has("e"),
                       sequence=o.has("s"))
            described.append(f"create {path}")
        elif op == "set":
            o = parse_options("txn set", rest, "", "v")
            a = _args(o.args, 2, 2, "txn set")
            path = shell.resolve(a[0])
            txn.set_data(path, a[1].encode("utf-8"), version=o.int_value("v", -1, "version"))
            described.append(f"set {path}")
        elif op == "delete":
            o = parse_options("txn delete", rest, "", "v")
            a = _args(o.args, 1, 1, "txn delete")
            path = shell.resolve(a[0])
            txn.delete(path, version=o.int_value("v", -1, "version"))
            described.append(f"delete {path}")
        elif op == "check":
            a = _args(parse_options("txn check", rest).args, 2, 2, "txn check")
            path = shell.resolve(a[0])
            try:
                version = int(a[1])
            except ValueError:
                raise ParseError(f"txn check: version must be a number, got {a[1]!r}") from None
            txn.check(path, version)
            described.append(f"check {path} {version}")
        else:
            raise ParseError(f"txn: unknown operation {op!r} (create, set, delete, check)")
    results = txn.commit()
    for i, r in enumerate(results):
        if isinstance(r, Exception) and not isinstance(r, (kex.RolledBackError, kex.RuntimeInconsistency)):
            what = described[i]
            reason = explain(r, what.split()[1])
            if isinstance(r, kex.BadVersionError):
                reason = f"Bad version ({what})"
            raise ShellError(f"Transaction failed at operation {i + 1} ({what}): {reason}; nothing was applied")
    lines = []
    for what, r in zip(described, results):
        if what.startswith("create"):
            lines.append(f"Created {r}")
        elif what.startswith("set"):
            lines.append(f"Set {what.split()[1]} (dataVersion {r.version})")
        elif what.startswith("delete"):
            lines.append(f"Deleted {what.split()[1]}")
        else:
            lines.append(f"Checked {what.split()[1]}")
    shell.invalidate()
    return Result("\n".join(lines), data={"operations": described, "ok": True})


# ---------------------------------------------------------------------------------------------------- dump/load

@command("dump", "dump [path] file.json", "back up a subtree to a JSON file (data base64 when binary, ACLs kept)",
         group="zkbench")
def cmd_dump(shell: Shell, words: list[str]) -> Result:
    args = _args(shell.parse("dump", words).args, 1, 2, "dump")
    path, file = (shell.resolve(args[0]), args[1]) if len(args) == 2 else (shell.resolve(None), args[0])
    nodes = _snapshot(shell, path)
    if not nodes:
        raise ShellError(f"Node does not exist: {path}")
    out = {"format": DUMP_FORMAT, "version": 1, "root": path, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                         time.gmtime()),
           "nodes": [{"path": n["rel"], **encode_data(n["data"]), "acl": [acl_dict(a) for a in n["acl"]],
                      "ephemeral": bool(n["stat"].ephemeralOwner),
                      **({"acl_hidden": True} if _hidden_digest(n["acl"]) else {})} for n in nodes]}
    target = Path(file).expanduser()
    target.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    eph = sum(1 for n in nodes if n["stat"].ephemeralOwner)
    hidden = sum(1 for n in nodes if _hidden_digest(n["acl"]))
    notes = []
    if eph:
        notes.append(f"{eph} ephemeral: a load will not restore them")
    if hidden:
        notes.append(f"{hidden} ACL{'s' if hidden != 1 else ''} with a hidden digest hash (not restorable; "
                     f"addauth first)")
    note = f" ({'; '.join(notes)})" if notes else ""
    return Result(f"Dumped {len(nodes)} znode{'s' if len(nodes) != 1 else ''} under {path} to {target}{note}",
                  data={"path": path, "file": str(target), "znodes": len(nodes), "ephemeral": eph,
                        "acl_hidden": hidden})


def _hidden_digest(acls: list[Any]) -> bool:
    """ZooKeeper 3.6+ answers getACL with ``user:x`` for digest entries unless the session may administer the
    znode; such an ACL cannot be restored (it would lock its user out)."""
    return any(a.id.scheme == "digest" and a.id.id.endswith(":x") for a in acls)


@command("load", "load file.json [path]", "restore a dump under path (asks before overwriting existing znodes)",
         "Data is restored byte for byte and ACLs are kept; ephemeral znodes are listed but not restored (they "
         "belonged to a session), null data comes back as empty data. --yes overwrites without asking.",
         writes=True, group="zkbench")
def cmd_load(shell: Shell, words: list[str]) -> Result:
    opts = shell.parse("load", words)
    args = _args(opts.args, 1, 2, "load")
    file = Path(args[0]).expanduser()
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ShellError(f"{file} is not a zkbench dump: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != DUMP_FORMAT or not isinstance(doc.get("nodes"), list):
        raise ShellError(f"{file} is not a zkbench dump (no \"format\": \"{DUMP_FORMAT}\")")
    root = shell.resolve(args[1]) if len(args) > 1 else str(doc.get("root") or "/")
    client = shell.client
    plan = []
    skipped: list[str] = []
    acl_skipped: list[str] = []
    for item in doc["nodes"]:
        rel = str(item.get("path", ""))
        target = _c()._join(root, rel)
        if item.get("ephemeral"):
            skipped.append(target)
            continue
        try:
            acl = [acl_from_dict(a) for a in item.get("acl") or []
                   if not (item.get("acl_hidden") and a.get("scheme") == "digest" and str(a.get("id")).endswith(":x"))]
            if item.get("acl_hidden"):
                acl_skipped.append(target)
            plan.append((target, decode_data(item), acl))
        except (ValueError, KeyError) as exc:
            raise ShellError(f"{file}: bad entry for {rel or '.'}: {exc}") from None
    plan.sort(key=lambda t: [p for p in t[0].split("/") if p])
    existing: set[str] = set()
    if plan and client.exists(root) is not None:
        existing = {p for p, _ in _c().walk(shell, root)} & {t for t, _d, _a in plan}
    if existing:
        _c()._confirm(opts, f"load {file} into {root}: {len(existing)} of {len(plan)} znodes already exist and "
                            f"will be overwritten? [y/N]")
    if plan and plan[0][0] != "/":
        top = posixpath.dirname(plan[0][0]) or "/"
        if client.exists(top) is None:
            client.ensure_path(top)
    updated = _set_existing(client, [(t, d) for t, d, _a in plan if t in existing])
    created = _create_by_level(client, [item for item in plan if item[0] not in existing])
    acl_results = [(t, client.set_acls_async(t, acl)) for t, _d, acl in reversed(plan) if acl and t in existing]
    for target, result in acl_results:
        try:
            result.get()
        except kex.KazooException as exc:
            raise ShellError(f"load: could not set the ACL of {target}: {explain(exc, target)}") from None
    shell.invalidate()
    lines = [f"Loaded {len(plan)} znode{'s' if len(plan) != 1 else ''} into {root} "
             f"({created} created, {updated} overwritten)"]
    if skipped:
        lines.append(f"Not restored ({len(skipped)} ephemeral): " + java_list(skipped))
    if acl_skipped:
        lines.append("ACL restored without its digest entries (hashes hidden in the dump): " + java_list(acl_skipped))
    return Result("\n".join(lines), data={"root": root, "created": created, "updated": updated,
                                          "ephemeral_not_restored": skipped, "acl_not_restored": acl_skipped})
