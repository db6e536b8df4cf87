#!/usr/bin/env python3
"""Shell benchmark: subtree commands (count, dump, load, cp) against a naive one-request-at-a-time baseline.

    python benchmarks/shell.py [--sizes 1000,10000] [--hosts H] [--quick]

Starts its own local ZooKeeper (unless ``--hosts``), builds a tree per size (fan-out 10, 100-byte values), and
times each shell command through ``Shell.run`` next to the obvious sequential kazoo code that does the same
work (recursive get_children / get + get_acls / create, one request at a time). Prints a Markdown table:
seconds, znodes/s and the speed-up over the baseline in the same run. The shell pipelines requests a tree
level at a time, so the ratio grows with the round-trip time (loopback here: the lower bound).

Timings are wall-clock on a shared machine: compare ratios within one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from zkbench.connection import ConnectionSettings, connect  # noqa: E402
from zkbench.shell import ClientSession, Shell  # noqa: E402

VALUE = b"v" * 100


def build(client, root: str, size: int) -> None:  # noqa: ANN001
    """``size`` znodes under ``root`` (root included), fan-out 10, created a level at a time."""
    client.create(root, VALUE)
    level, made = [root], 1
    while made < size:
        nxt = []
        pending = []
        for parent in level:
            for i in range(10):
                if made >= size:
                    break
                path = f"{parent}/n{i}"
                pending.append(client.create_async(path, VALUE))
                nxt.append(path)
                made += 1
        for result in pending:
            result.get()
        level = nxt


def naive_count(client, path: str) -> int:  # noqa: ANN001
    return 1 + sum(naive_count(client, f"{path}/{c}") for c in client.get_children(path))


def naive_dump(client, path: str, out: list) -> None:  # noqa: ANN001
    data, _stat = client.get(path)
    acl, _ = client.get_acls(path)
    out.append((path, data, acl))
    for child in sorted(client.get_children(path)):
        naive_dump(client, f"{path}/{child}", out)


def naive_load(client, items: list, src: str, dst: str) -> None:  # noqa: ANN001
    for path, data, acl in items:
        client.create(dst + path[len(src):], data, acl=acl)


def timed(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(hosts: str, sizes: list[int]) -> list[tuple[str, int, float, float]]:
    client = connect(ConnectionSettings(hosts=hosts, session_timeout=30))
    shell = Shell(ClientSession(client, hosts))
    rows = []
    tmp = tempfile.mkdtemp(prefix="zkbench-shell-bench-")
    try:
        for size in sizes:
            root = f"/bench-shell-{size}"
            if client.exists(root):
                client.delete(root, recursive=True)
            build(client, root, size)

            def ok(line: str) -> None:
                outcome = shell.run(line, yes=True)
                if not outcome.ok:
                    raise SystemExit(f"{line}: {outcome.error}")

            base = timed(lambda: naive_count(client, root))
            ours = timed(lambda: ok(f"count {root}"))
            rows.append(("count (walk the subtree)", size, base, ours))

            items: list = []
            base = timed(lambda: naive_dump(client, root, items))
            dump_file = os.path.join(tmp, f"{size}.json")
            ours = timed(lambda: ok(f"dump {root} {dump_file}"))
            rows.append(("dump (data + ACL of every znode)", size, base, ours))

            base = timed(lambda: naive_load(client, items, root, root + "-naive"))
            ours = timed(lambda: ok(f"load {dump_file} {root}-loaded"))
            rows.append(("load (create every znode)", size, base, ours))

            ours = timed(lambda: ok(f"cp {root} {root}-copy"))
            rows.append(("cp (read + create every znode)", size, float("nan"), ours))

            for suffix in ("", "-naive", "-loaded", "-copy"):
                ok(f"deleteall {root}{suffix}")
    finally:
        client.stop()
        client.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--hosts")
    parser.add_argument("--quick", action="store_true", help="1,000 znodes only")
    args = parser.parse_args()
    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    server = None
    hosts = args.hosts
    if not hosts:
        from zkbench.server import LocalServer

        server = LocalServer()
        server.start()
        hosts = server.connect_string
    try:
        rows = run(hosts, sizes)
    finally:
        if server is not None:
            server.stop()
    print("| operation | znodes | baseline s | zkbench s | znodes/s | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, size, base, ours in rows:
        speed = "-" if base != base else f"{base / ours:.1f}x"
        base_s = "-" if base != base else f"{base:.2f}"
        print(f"| {name} | {size:,} | {base_s} | {ours:.2f} | {size / ours:,.0f} | {speed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
