#!/usr/bin/env python3
"""Mirror benchmark: naive recursion vs kazoo TreeCache vs zkbench's mirror (classic and persistent), side by side.

    python benchmarks/mirror.py --sizes 1000,10000,50000 [--json FILE] [--quick] [--hosts H] [--no-latency]

Starts its own local ZooKeeper (unless ``--hosts``), builds a deterministic tree per size (the shape of
``../shared/baselines/baseline.py``: fan-out 5-15, ~30% 100-byte payloads, ~50% short ones, 10% of the leaves
ephemeral), and mirrors it with each method in a fresh Python subprocess (clean heap, fresh session). Prints a
Markdown table: seconds, znodes/s, ratio to TreeCache in the same run, Python memory per znode (tracemalloc, a
separate run) and RSS per znode, and the server's watch counts. Then event latency: a writer process sets 1,000
mirrored znodes at 100/s, 1,000/s and as fast as it can (32 in flight); latency = write issued -> the mirror's
DataChanged event carrying that version leaves the mirror; "behind" = for every write, including ones coalesced
away, the time until the mirror held that version or newer.

Timings are wall-clock on a shared machine: compare ratios within one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import queue
import random
import resource
import socket
import subprocess
import sys
import threading
import time
from typing import Any

HERE = os.path.abspath(__file__)
ROOT_DIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT_DIR)

METHODS = ["naive", "treecache", "zkbench-classic", "zkbench-persistent"]
PREFIXES = ["svc", "inst", "cfg", "part", "shard", "rep"]
LAT_K = 1000


def log(*parts: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


def four_letter(hosts: str, cmd: str) -> str:
    host, port = hosts.split(",")[0].split("/")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(cmd.encode())
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def watch_counts(hosts: str) -> tuple[int, int]:
    """(``wchs`` total watches, ``mntr`` zk_watch_count). On 3.8 ``wchs`` counts data watches only."""
    total = 0
    for line in four_letter(hosts, "wchs").splitlines():
        if line.startswith("Total watches:"):
            total = int(line.split(":")[1])
    count = 0
    for line in four_letter(hosts, "mntr").splitlines():
        if line.startswith("zk_watch_count"):
            count = int(line.split()[1])
    return total, count


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def gen_tree(root: str, n: int, seed: int = 42) -> list[tuple[str, bytes, bool]]:
    """Deterministic tree of n znodes (root included), breadth-first."""
    rng = random.Random(seed)
    specs: list[list[Any]] = [[root, b"", False]]
    todo = collections.deque([(root, 0, 0)])
    has_children = {0: False}
    while len(specs) < n:
        parent, depth, index = todo.popleft()
        for j in range(rng.randint(5, 15)):
            if len(specs) >= n:
                break
            path = f"{parent}/{PREFIXES[depth % len(PREFIXES)]}-{j:04d}"
            roll = rng.random()
            if roll < 0.3:
                data = (f'{{"host":"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",'
                        f'"port":{rng.randrange(1024, 65535)},"weight":{rng.randrange(100)}}}').ljust(100).encode()
            elif roll < 0.8:
                data = f"v={rng.randrange(10 ** rng.randint(6, 26))}".encode()
            else:
                data = b""
            specs.append([path, data, False])
            has_children[index] = True
            has_children[len(specs) - 1] = False
            todo.append((path, depth + 1, len(specs) - 1))
    for index, spec in enumerate(specs):
        if index and not has_children[index] and rng.random() < 0.10:
            spec[2] = True
    return [tuple(s) for s in specs]  # type: ignore[misc]


def pipelined(calls: list[Any], window: int = 2000) -> None:
    sem = threading.Semaphore(window)
    done = threading.Event()
    left = [len(calls)]
    lock = threading.Lock()

    def finished(result: Any) -> None:
        try:
            result.get()
        except Exception as exc:  # NodeExists on re-runs is fine; report anything else
            if type(exc).__name__ not in ("NodeExistsError", "NoNodeError"):
                log("write failed:", repr(exc))
        sem.release()
        with lock:
            left[0] -= 1
            if left[0] == 0:
                done.set()

    if not calls:
        return
    for call in calls:
        sem.acquire()
        call().rawlink(finished)
    done.wait()


def make_client(hosts: str):  # noqa: ANN201
    from kazoo.client import KazooClient

    client = KazooClient(hosts=hosts, timeout=30)
    client.start(timeout=30)
    return client


# ---------------------------------------------------------------------------------------------- mirror methods

def _join(parent: str, name: str) -> str:
    return (parent if parent != "/" else "") + "/" + name


def mirror_naive(client: Any, root: str) -> tuple[Any, int]:
    """What a beginner writes: synchronous recursion, one-shot watches that do nothing."""
    nodes: dict[str, Any] = {}

    def watcher(event: Any) -> None:
        pass

    def walk(path: str) -> None:
        data, stat = client.get(path, watch=watcher)
        kids = client.get_children(path, watch=watcher)
        nodes[path] = (data, stat, kids)
        for kid in kids:
            walk(_join(path, kid))

    walk(root)
    return nodes, len(nodes)


def mirror_treecache(client: Any, root: str) -> tuple[Any, int]:
    from kazoo.recipe.cache import TreeCache, TreeEvent

    ready = threading.Event()
    cache = TreeCache(client, root)

    def on_event(event: Any) -> None:
        if event.event_type == TreeEvent.INITIALIZED:
            ready.set()

    cache.listen(on_event)
    cache.start()
    if not ready.wait(1800):
        raise RuntimeError("TreeCache not initialized")
    count, stack = 0, [cache._root]  # noqa: SLF001
    while stack:
        node = stack.pop()
        if node._data is not None:  # noqa: SLF001
            count += 1
        stack.extend(node._children.values())  # noqa: SLF001
    return cache, count


def start_drain(events: "queue.SimpleQueue[Any]", sink: list[Any] | None = None) -> threading.Thread:
    """What the app does: drain the mirror's queue in batches on a timer (20 Hz), not one wake-up per event."""
    def run() -> None:
        while True:
            time.sleep(0.05)
            while True:
                try:
                    event = events.get_nowait()
                except queue.Empty:
                    break
                if event is None:
                    return
                if sink is not None:
                    sink.append(event)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def role_mirror(args: argparse.Namespace) -> None:
    """Child process: mirror once, report, wait for the parent to read watch counts, exit."""
    import tracemalloc

    from zkbench.connection import ConnectionSettings

    memory = args.memory
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    keep: Any
    if args.method.startswith("zkbench-"):
        from zkbench.mirror import Mirror

        mirror = Mirror(ConnectionSettings(hosts=args.hosts, session_timeout=30.0),
                        strategy=args.method.split("-", 1)[1], root=args.root)
        drain = start_drain(mirror.events)
        if memory:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        mirror.start()
        mirror.ready.wait(1800)
        seconds = time.perf_counter() - t0
        count = len(mirror)
        keep = mirror
        data_bytes = sum(len(n.data or b"") for n in mirror._nodes.values())  # noqa: SLF001
    else:
        client = make_client(args.hosts)
        if memory:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        keep, count = (mirror_naive if args.method == "naive" else mirror_treecache)(client, args.root)
        seconds = time.perf_counter() - t0
        data_bytes = 0
    py_bytes = None
    if memory:
        mirror_obj = keep
        if args.method.startswith("zkbench-"):
            mirror_obj.events.put(None)
            drain.join(5)
        gc.collect()
        py_bytes = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    rss = rss_bytes() - rss0
    print(json.dumps({"seconds": seconds, "count": count, "rss": rss, "py_bytes": py_bytes,
                      "data_bytes": data_bytes}), flush=True)
    sys.stdin.readline()  # the parent reads the server's watch counts while our session is alive
    os._exit(0)  # noqa: SLF001 - skip teardown: the session closes with the socket


def run_mirror(hosts: str, method: str, root: str, memory: bool) -> dict[str, Any]:
    cmd = [sys.executable, HERE, "--role", "mirror", "--method", method, "--hosts", hosts, "--root", root]
    if memory:
        cmd.append("--memory")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise RuntimeError(f"{method} failed (exit {proc.returncode})")
    result = json.loads(line)
    if not memory:
        result["wchs"], result["watch_count"] = watch_counts(hosts)
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(60)
    result["process_seconds"] = time.perf_counter() - started
    # watches vanish with the session; wait until the server has cleaned up before the next method
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and watch_counts(hosts)[1] > 0:
        time.sleep(0.1)
    return result


# ---------------------------------------------------------------------------------------------- latency

def role_writer(args: argparse.Namespace) -> None:
    """Set node s % K to a payload with its sequence number; record time.time() just before each set."""
    client = make_client(args.hosts)
    paths = [f"{args.root}/k{i:04d}" for i in range(LAT_K)]
    count = args.count
    sent = [0.0] * count
    acks = [0.0] * count
    pad = b"x" * 100
    client.exists(paths[0])
    first = time.time()
    if args.rate:
        interval = 1.0 / args.rate
        nxt = time.monotonic()
        for s in range(count):
            now = time.monotonic()
            if nxt > now:
                time.sleep(nxt - now)
            sent[s] = time.time()
            client.set(paths[s % LAT_K], (b"%d:" % s + pad)[:100])
            acks[s] = time.time() - sent[s]
            nxt += interval
    else:
        sem = threading.Semaphore(32)
        done = threading.Event()
        left = [count]
        lock = threading.Lock()

        def acked(s: int, result: Any) -> None:
            acks[s] = time.time() - sent[s]
            sem.release()
            with lock:
                left[0] -= 1
                if left[0] == 0:
                    done.set()

        for s in range(count):
            sem.acquire()
            sent[s] = time.time()
            client.set_async(paths[s % LAT_K], (b"%d:" % s + pad)[:100]).rawlink(lambda r, s=s: acked(s, r))
        done.wait()
    last = time.time()
    with open(args.tfile, "w") as f:
        json.dump(sent, f)
    print(json.dumps({"count": count, "rate": count / (last - first), "last_ack": last,
                      "ack_p50": pct(acks, 0.5) * 1000, "ack_p99": pct(acks, 0.99) * 1000}), flush=True)
    client.stop()
    client.close()


def role_latmirror(args: argparse.Namespace) -> None:
    """Mirror the K latency znodes, record (index, version, timestamp) of every DataChanged; then evaluate."""
    from zkbench.connection import ConnectionSettings
    from zkbench.events import DataChanged
    from zkbench.mirror import Mirror

    mirror = Mirror(ConnectionSettings(hosts=args.hosts, session_timeout=30.0), strategy=args.method.split("-")[1],
                    root=args.root)
    seen: list[Any] = []
    drain = start_drain(mirror.events, seen)
    mirror.start()
    mirror.ready.wait(60)
    del seen[:]
    cpu0 = time.process_time()
    print("READY", flush=True)
    sys.stdin.readline()  # the writer has finished
    mirror.sync(60)
    done_at = time.time()
    cpu = time.process_time() - cpu0
    mirror.events.put(None)
    drain.join(10)
    with open(args.tfile) as f:
        sent = json.load(f)
    count = len(sent)
    base = len(args.root) + 2  # "/.../k" prefix
    # write s sets node s % K to version s // K + 1 (the nodes start at version 0)
    updates = []
    first_at: dict[tuple[int, int], float] = {}
    for ev in seen:
        if isinstance(ev, DataChanged) and ev.path[base - 1:base] == "k":
            index = int(ev.path[base:])
            version = ev.new_stat.version
            s = index + (version - 1) * LAT_K
            if 0 <= s < count:
                updates.append((ev.timestamp - sent[s]) * 1000)
            first_at.setdefault((index, version), ev.timestamp)
    # behind: for every write, the first time the mirror held that version or newer
    best: dict[int, list[tuple[int, float]]] = collections.defaultdict(list)
    for (index, version), ts in first_at.items():
        best[index].append((version, ts))
    behind = []
    for index, items in best.items():
        items.sort()
        earliest = float("inf")
        suffix_min = []
        for version, ts in reversed(items):
            earliest = min(earliest, ts)
            suffix_min.append((version, earliest))
        suffix_min.reverse()
        versions = [v for v, _ in suffix_min]
        import bisect

        for s in range(index, count, LAT_K):
            v = s // LAT_K + 1
            pos = bisect.bisect_left(versions, v)
            ts = suffix_min[pos][1] if pos < len(suffix_min) else done_at
            behind.append((ts - sent[s]) * 1000)
    print(json.dumps({"applied": len(updates), "coalesced": count - len(updates),
                      "p50": pct(updates, 0.5), "p99": pct(updates, 0.99),
                      "behind_p50": pct(behind, 0.5), "behind_p99": pct(behind, 0.99),
                      "behind_max": max(behind) if behind else float("nan"), "cpu_s": cpu,
                      "requests": mirror.stats["requests"], "ops": mirror.stats["ops"]}), flush=True)
    mirror.stop()


def run_latency(hosts: str, root: str, method: str, rate: int, count: int) -> dict[str, Any]:
    tfile = f"/tmp/zkbench-lat-{os.getpid()}.json"
    mirror = subprocess.Popen([sys.executable, HERE, "--role", "latmirror", "--method", method, "--hosts", hosts,
                               "--root", root, "--tfile", tfile], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert mirror.stdout is not None and mirror.stdin is not None
    if mirror.stdout.readline().strip() != "READY":
        raise RuntimeError("latency mirror failed to start")
    writer = subprocess.run([sys.executable, HERE, "--role", "writer", "--hosts", hosts, "--root", root,
                             "--count", str(count), "--rate", str(rate), "--tfile", tfile],
                            capture_output=True, text=True, check=True)
    wres = json.loads(writer.stdout.strip().splitlines()[-1])
    mirror.stdin.write("\n")
    mirror.stdin.flush()
    res = json.loads(mirror.stdout.readline())
    mirror.wait(60)
    os.unlink(tfile)
    res.update(writes=count, writer_rate=wres["rate"], ack_p50=wres["ack_p50"], ack_p99=wres["ack_p99"])
    return res


# ---------------------------------------------------------------------------------------------- orchestration

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000", help="tree sizes (znodes), comma-separated")
    parser.add_argument("--json", metavar="FILE", help="write the tree-mirroring rows as JSON")
    parser.add_argument("--quick", action="store_true", help="small sizes and short latency runs (a smoke run)")
    parser.add_argument("--hosts", help="use this server instead of starting one")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--no-latency", action="store_true")
    # internal roles
    parser.add_argument("--role", default="main", choices=["main", "mirror", "writer", "latmirror"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--tfile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "mirror":
        return role_mirror(args)
    if args.role == "writer":
        return role_writer(args)
    if args.role == "latmirror":
        return role_latmirror(args)

    sizes = [int(s) for s in (("300,2000" if args.quick else args.sizes).split(","))]
    methods = [m for m in args.methods.split(",") if m]
    server = None
    hosts = args.hosts
    if not hosts:
        from zkbench.server import LocalServer

        server = LocalServer(extra_config={"maxClientCnxns": "200"})
        server.start()
        hosts = server.connect_string
    try:
        bench(hosts, sizes, methods, args)
    finally:
        if server is not None:
            server.stop()


def bench(hosts: str, sizes: list[int], methods: list[str], args: argparse.Namespace) -> None:
    admin = make_client(hosts)
    version = four_letter(hosts, "srvr").splitlines()[0]
    print(f"#### zkbench mirror benchmark ({time.strftime('%Y-%m-%d %H:%M:%S')})\n")
    print(f"server: {version} | python {sys.version.split()[0]} | {os.cpu_count()} CPUs | "
          f"loadavg at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    admin.ensure_path("/bench")
    log("warm-up (JIT) on 3000 znodes")
    warm = gen_tree("/bench/warm", 3000, seed=7)
    pipelined([lambda p=p, d=d: admin.create_async(p, d) for p, d, _ in warm])
    for method in ("zkbench-persistent", "treecache"):
        run_mirror(hosts, method, "/bench/warm", False)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        root = f"/bench/n{n}"
        specs = gen_tree(root, n)
        log(f"populating {n} znodes")
        pipelined([lambda p=p, d=d, e=e: admin.create_async(p, d, ephemeral=e) for p, d, e in specs])
        data_total = sum(len(d) for _, d, _ in specs)
        for method in methods:
            log(f"n={n} {method}")
            res = run_mirror(hosts, method, root, False)
            if res["count"] != n:
                log(f"COUNT MISMATCH {method}: {res['count']} != {n}")
            mem = None
            if not args.no_memory:
                mem = run_mirror(hosts, method, root, True)
            rows.append({"method": method, "n": n, "seconds": round(res["seconds"], 3),
                         "znodes_per_s": round(n / res["seconds"]),
                         "py_bytes_per_znode": round(mem["py_bytes"] / n) if mem else None,
                         "py_bytes_beyond_data_per_znode": round((mem["py_bytes"] - data_total) / n) if mem else None,
                         "rss_bytes_per_znode": round(res["rss"] / n),
                         "server_watches": res["watch_count"], "wchs": res["wchs"], "count": res["count"],
                         "process_seconds": round(res["process_seconds"], 2)})
    print("##### Mirror a tree of N znodes (structure, stat and data; each method in a fresh process)\n")
    print("| N | method | seconds | znodes/s | vs TreeCache | Python B/znode (beyond data) | RSS B/znode "
          "| server watches (mntr) | wchs |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        tc = next((r for r in rows if r["n"] == row["n"] and r["method"] == "treecache"), None)
        ratio = f"{tc['seconds'] / row['seconds']:.2f}x" if tc else "-"
        mem = (f"{row['py_bytes_per_znode']} ({row['py_bytes_beyond_data_per_znode']})"
               if row["py_bytes_per_znode"] is not None else "-")
        print(f"| {row['n']} | {row['method']} | {row['seconds']:.2f} | {row['znodes_per_s']} | {ratio} | {mem} "
              f"| {row['rss_bytes_per_znode']} | {row['server_watches']} | {row['wchs']} |")
    mismatches = ", ".join(f"{r['method']}@{r['n']}" for r in rows if r["count"] != r["n"]) or "none"
    print("\n(vs TreeCache = TreeCache's seconds / this method's seconds; zkbench times include opening its "
          f"session; count mismatches: {mismatches})\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{k: r[k] for k in ("method", "n", "seconds", "znodes_per_s", "py_bytes_per_znode",
                                          "rss_bytes_per_znode", "server_watches")} | {"extra": r} for r in rows],
                      f, indent=1)
    if not args.no_latency:
        latency(hosts, admin, args.quick, [m for m in methods if m.startswith("zkbench-")])
    print(f"loadavg at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    admin.stop()
    admin.close()


def latency(hosts: str, admin: Any, quick: bool, methods: list[str]) -> None:
    root = "/bench/lat"
    admin.ensure_path(root)
    pipelined([lambda i=i: admin.create_async(f"{root}/k{i:04d}", b"") for i in range(LAT_K)])
    profiles = [(100, 300 if quick else 2000), (1000, 1000 if quick else 5000), (0, 2000 if quick else 10000)]
    print("##### Event latency (1,000 mirrored znodes; a writer process sets them round-robin)\n")
    print("| mirror | writer | writes | writer/s | writer ack p50 / p99 ms | events | coalesced "
          "| latency p50 / p99 ms | behind p50 / p99 / max ms | mirror CPU % | requests (ops) |")
    print("|---|---|---:|---:|---|---:|---:|---|---|---:|---:|")
    for method in methods:
        for rate, count in profiles:
            log(f"latency {method} rate={rate or 'max'}")
            # each run starts from version 0 again: recreate the nodes
            pipelined([lambda i=i: admin.set_async(f"{root}/k{i:04d}", b"") for i in range(LAT_K)])
            admin.delete(root, recursive=True)
            admin.ensure_path(root)
            pipelined([lambda i=i: admin.create_async(f"{root}/k{i:04d}", b"") for i in range(LAT_K)])
            res = run_latency(hosts, root, method, rate, count)
            label = f"{rate}/s" if rate else "max (32 in flight)"
            wall = count / res["writer_rate"]
            print(f"| {method} | {label} | {count} | {res['writer_rate']:.0f} | "
                  f"{res['ack_p50']:.2f} / {res['ack_p99']:.2f} | {res['applied']} | "
                  f"{res['coalesced']} | {res['p50']:.2f} / {res['p99']:.2f} | {res['behind_p50']:.2f} / "
                  f"{res['behind_p99']:.2f} / {res['behind_max']:.2f} | {100 * res['cpu_s'] / wall:.0f} | "
                  f"{res['requests']} ({res['ops']}) |", flush=True)
    print()


if __name__ == "__main__":
    main()
