"""Recipe benchmarks: lock handoff latency, lock throughput vs kazoo's Lock, election failover (actors).

Run: ``.venv/bin/python benchmarks/recipes.py [--quick]``. Starts its own local ZooKeeper (tickTime 250 ms) and
prints tables; kazoo's ``Lock`` on the same server in the same run is the baseline (ratio = zkbench / kazoo).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable

from kazoo.recipe.lock import Lock as KazooLock

from zkbench.actors import Supervisor
from zkbench.connection import ConnectionSettings, connect
from zkbench.protocol import ZkClient
from zkbench.recipes import Lock
from zkbench.server import LocalServer

LockFactory = Callable[[ZkClient, str, str], object]
IMPLS: dict[str, LockFactory] = {
    "zkbench Lock": lambda c, path, ident: Lock(c, path, ident),
    "kazoo Lock": lambda c, path, ident: KazooLock(c, path, ident),
}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def handoff(hosts: str, make: LockFactory, rounds: int, tag: str) -> list[float]:
    """Latency from the holder's release() call to the waiter's acquire() returning, in ms."""
    a = connect(ConnectionSettings(hosts=hosts))
    b = connect(ConnectionSettings(hosts=hosts))
    path = f"/bench/handoff-{tag}"
    out: list[float] = []
    try:
        for _ in range(rounds):
            la, lb = make(a, path, "a"), make(b, path, "b")
            la.acquire()
            got = threading.Event()
            stamp: list[float] = []

            def waiter() -> None:
                lb.acquire()
                stamp.append(time.perf_counter())
                got.set()

            t = threading.Thread(target=waiter)
            t.start()
            # wait until b's node is queued (two children) so we time a real handoff, not a race
            while len(a.get_children(path)) < 2:
                time.sleep(0.001)
            time.sleep(0.005)
            t0 = time.perf_counter()
            la.release()
            got.wait(10)
            t.join()
            out.append((stamp[0] - t0) * 1000)
            lb.release()
    finally:
        for c in (a, b):
            c.stop()
            c.close()
    return out


def throughput(hosts: str, make: LockFactory, contenders: int, seconds: float, tag: str) -> float:
    """Acquire/release cycles per second summed over ``contenders`` sessions hammering one lock."""
    clients = [connect(ConnectionSettings(hosts=hosts)) for _ in range(contenders)]
    path = f"/bench/tp-{tag}-{contenders}"
    counts = [0] * contenders
    stop = threading.Event()

    def run(i: int) -> None:
        lock = make(clients[i], path, f"c{i}")
        while not stop.is_set():
            lock.acquire()
            counts[i] += 1
            lock.release()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(contenders)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(30)
    elapsed = time.perf_counter() - t0
    for c in clients:
        c.stop()
        c.close()
    return sum(counts) / elapsed


def failover(hosts: str, signal_name: str, rounds: int, session_timeout: float) -> list[float]:
    """Seconds from signalling the leader actor (SIGTERM / SIGKILL) to the next candidate's 'elected' event."""
    out = []
    with Supervisor(hosts, session_timeout=session_timeout) as sup:
        n = 0
        for _ in range(2):
            sup.spawn("election", f"c{n}", path=f"/bench/election-{signal_name}")
            n += 1
        for _ in range(rounds):
            leader = sup.wait_for(lambda e: e.kind == "elected" and sup.get(e.actor).alive
                                  and sup.get(e.actor).state == "leader", 30)
            sup.wait_for(lambda e: e.kind == "following" and sup.get(e.actor).alive and e.actor != leader.actor, 30)
            mark = sup.mark()
            t0 = time.time()
            if signal_name == "SIGTERM":
                sup.stop(leader.actor, wait=False)
            else:
                sup.crash(leader.actor, wait=False)
            nxt = sup.wait_for(lambda e: e.kind == "elected", 30, since=mark)
            out.append(nxt.time - t0)
            sup.spawn("election", f"c{n}", path=f"/bench/election-{signal_name}")
            n += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    rounds = 30 if args.quick else 200
    seconds = 1.0 if args.quick else 2.0
    trials = 1 if args.quick else 3
    fo_rounds = 2 if args.quick else 5
    session_timeout = 2.0

    with LocalServer(tick_time=250) as server:
        hosts = server.connect_string
        admin = connect(ConnectionSettings(hosts=hosts))
        admin.ensure_path("/bench")
        print(f"ZooKeeper {hosts} (local, tickTime 250 ms); {rounds} handoffs, {seconds:g}s per throughput cell\n")

        print("Lock handoff latency after a clean release (ms)")
        print(f"{'implementation':<16}{'p50':>9}{'p99':>9}{'mean':>9}{'ratio p50':>11}")
        base = None
        rows = []
        for name, make in IMPLS.items():
            lat = handoff(hosts, make, rounds, name.split()[0])
            rows.append((name, lat))
        base = pct(rows[1][1], 50)
        for name, lat in rows:
            print(f"{name:<16}{pct(lat, 50):>9.2f}{pct(lat, 99):>9.2f}{statistics.mean(lat):>9.2f}"
                  f"{pct(lat, 50) / base:>11.2f}")

        print(f"\nLock acquire/release throughput (cycles/s, all contenders together; median of {trials} "
              "interleaved runs)")
        print(f"{'contenders':<12}{'zkbench':>10}{'kazoo':>10}{'ratio':>8}")
        for n in (1, 5, 20):
            ours, theirs = [], []
            for trial in range(trials):  # interleaved, so load from elsewhere hits both alike
                ours.append(throughput(hosts, IMPLS["zkbench Lock"], n, seconds, f"zkbench{trial}"))
                theirs.append(throughput(hosts, IMPLS["kazoo Lock"], n, seconds, f"kazoo{trial}"))
            a, b = statistics.median(ours), statistics.median(theirs)
            print(f"{n:<12}{a:>10.0f}{b:>10.0f}{a / b:>8.2f}")

        print(f"\nElection failover (actors, session timeout {session_timeout:g}s): signal -> next leader elected")
        print(f"{'signal':<10}{'median s':>10}{'max s':>8}{'x timeout':>11}")
        for sig in ("SIGTERM", "SIGKILL"):
            fo = failover(hosts, sig, fo_rounds, session_timeout)
            med = statistics.median(fo)
            print(f"{sig:<10}{med:>10.3f}{max(fo):>8.3f}{med / session_timeout:>11.2f}")
        admin.stop()
        admin.close()


if __name__ == "__main__":
    main()
