"""Fault runs: random crashes and pauses of lock holders and leaders, a server restart, a leader kill in a
3-node ensemble, and the herd check. Every run records a history and passes it through the checkers."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest
from kazoo.exceptions import KazooException

from zkbench.actors import Supervisor
from zkbench.checkers import check_fencing, check_leaders, check_mutual_exclusion
from zkbench.connection import ConnectionSettings, connect
from zkbench.fourlw import four_letter_word
from zkbench.recipes import Lock, LockLostError, Step


def watches_by_path(host_port: str) -> dict[str, int]:
    """``wchp``: how many sessions watch each path, as the server counts them."""
    host, port = host_port.rsplit(":", 1)
    out: dict[str, int] = {}
    path = None
    for line in four_letter_word(host, int(port), "wchp").splitlines():
        if line.startswith("/"):
            path = line.strip()
            out[path] = 0
        elif line.strip().startswith("0x") and path:
            out[path] += 1
    return out


def test_herd_releasing_lock_with_20_waiters_wakes_exactly_one(zk, zk_chroot_hosts, zk_server, zk_root):
    holder = Lock(zk, "/locks/herd", "holder")
    holder.acquire()
    steps: list[Step] = []
    record = threading.Lock()

    def narrate(step: Step) -> None:
        with record:
            steps.append(step)

    clients = [connect(ConnectionSettings(hosts=zk_chroot_hosts, session_timeout=5)) for _ in range(20)]
    waiters = [Lock(c, "/locks/herd", f"w{i}", narrate=narrate) for i, c in enumerate(clients)]
    def wait_for_lock(lock: Lock) -> None:
        try:
            lock.acquire()
        except (LockLostError, KazooException):
            pass  # the test closes the sessions of the waiters still queued (LockLost or ConnectionLoss)

    threads = [threading.Thread(target=wait_for_lock, args=(w,), daemon=True) for w in waiters]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while sum(s.kind == "waiting" for s in steps) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sum(s.kind == "waiting" for s in steps) == 20
        # the server's view: every lock node is watched by at most one session, 20 watches in all
        counts = {p: n for p, n in watches_by_path(zk_server.connect_string).items()
                  if p.startswith(f"{zk_root}/locks/herd/")}
        assert len(counts) == 20 and set(counts.values()) == {1}
        holder.release()
        deadline = time.monotonic() + 5
        while not any(w.is_held for w in waiters) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # give any (wrong) extra wake-ups time to show
        woken = [s for s in steps if s.kind == "woken"]
        assert len(woken) == 1
        assert sum(w.is_held for w in waiters) == 1
        assert [w for w in waiters if w.is_held][0].node.rsplit("/", 1)[1] == woken[0].path.rsplit("/", 1)[1]
    finally:
        for w, c in zip(waiters, clients):
            w.close() if w.is_held else None
            c.stop()
            c.close()


@pytest.fixture
def sup(zk_chroot_hosts: str) -> Iterator[Supervisor]:
    with Supervisor(zk_chroot_hosts, session_timeout=1.0) as s:
        yield s


def test_random_crashes_and_pauses_of_lock_holders(sup, zk):
    rng = random.Random(6)
    ids = iter(f"a{i}" for i in range(100))
    live = []
    for _ in range(4):
        aid = next(ids)
        sup.spawn("lock", aid, path="/locks/chaos", hold=0.15, repeat=0, pause_between=0.05, fence="/fenced",
                  work_interval=0.05)
        live.append(aid)
    sup.wait_for(lambda e: e.kind == "acquired", 10)
    faults = []
    for _ in range(6):
        time.sleep(0.4)
        holders = [h.id for h in sup.list() if h.alive and h.state == "holding"] or \
                  [h.id for h in sup.list() if h.alive]
        victim = rng.choice(holders)
        action = rng.choice(["crash", "pause", "stop"])
        faults.append((action, victim))
        if action == "pause":
            sup.pause(victim)
            time.sleep(1.6)  # longer than the 1 s session timeout: a GC pause that costs the session
            sup.resume(victim)
        else:
            sup.crash(victim) if action == "crash" else sup.stop(victim, timeout=5)
            aid = next(ids)
            sup.spawn("lock", aid, path="/locks/chaos", hold=0.15, repeat=0, pause_between=0.05, fence="/fenced",
                      work_interval=0.05)
    time.sleep(0.5)
    sup.close()
    history = sup.history
    mutex, fencing = check_mutual_exclusion(history), check_fencing(history)
    assert mutex.ok, mutex
    assert fencing.ok, fencing
    assert mutex.checked >= 8, (mutex, faults)
    assert len({e.actor for e in history if e.kind == "acquired"}) >= 4
    assert any("paused" in n for n in mutex.notes) == any(a == "pause" for a, _ in faults) or mutex.notes == []


def test_random_leader_kills_keep_one_leader_per_epoch(sup):
    rng = random.Random(7)
    n = 0
    for _ in range(3):
        sup.spawn("election", f"c{n}", path="/election")
        n += 1
    for _ in range(4):
        leader = sup.wait_for(lambda e: e.kind == "elected" and sup.get(e.actor).alive
                              and sup.get(e.actor).state == "leader", 10)
        mark = sup.mark()
        action = rng.choice(["crash", "stop", "pause"])
        if action == "pause":
            sup.pause(leader.actor)
            sup.wait_for(lambda e: e.kind == "elected", 10, since=mark)
            sup.resume(leader.actor)
            sup.wait_for(lambda e: e.actor == leader.actor and e.kind in ("revoked", "created"), 10, since=mark)
        else:
            sup.crash(leader.actor) if action == "crash" else sup.stop(leader.actor)
            sup.wait_for(lambda e: e.kind == "elected", 10, since=mark)
            sup.spawn("election", f"c{n}", path="/election")
            n += 1
    result = check_leaders(sup.history)
    assert result.ok, result
    assert result.checked >= 5


def test_server_restart_keeps_sessions_and_the_lock(zk_chroot_hosts, zk_server):
    # a session timeout longer than the restart, so sessions survive it (the server persists them)
    with Supervisor(zk_chroot_hosts, session_timeout=8.0) as sup:
        sup.spawn("lock", "r1", path="/locks/restart", hold=60)
        sup.wait_for(lambda e: e.actor == "r1" and e.kind == "working", 10)
        sup.spawn("lock", "r2", path="/locks/restart", hold=0.1)
        sup.wait_for(lambda e: e.actor == "r2" and e.kind == "waiting", 10)
        sup.spawn("election", "e1", path="/election")
        first = sup.wait_for(lambda e: e.actor == "e1" and e.kind == "elected", 10)
        mark = sup.mark()
        zk_server.restart()
        # the holder is told it may have lost the lock, then that it still holds it (same session)
        suspended = sup.wait_for(lambda e: e.actor == "r1" and e.kind == "suspended", 10)
        assert suspended.state == "suspended" and "the lock may be lost" in suspended.message
        confirmed = sup.wait_for(lambda e: e.actor == "r1" and e.kind == "confirmed", 20)
        assert confirmed.state == "holding"
        # the leader steps down while it cannot be sure, and leads again in the same epoch once reconnected
        down = sup.wait_for(lambda e: e.actor == "e1" and e.kind == "revoked", 10, since=mark)
        assert "suspended" in down.message
        again = sup.wait_for(lambda e: e.actor == "e1" and e.kind == "elected", 20, since=mark)
        assert again.details["epoch"] == first.details["epoch"]
        sup.stop("r1")
        got = sup.wait_for(lambda e: e.actor == "r2" and e.kind == "acquired", 10)
        started = {e.actor: e.session for e in sup.history if e.kind == "started"}
        assert got.session == started["r2"] and confirmed.session == started["r1"]  # sessions survived
        sup.close()
        result = check_mutual_exclusion(sup.history)
        assert result.ok, result
        assert check_leaders(sup.history).ok


@pytest.mark.ensemble
def test_ensemble_leader_kill_lock_and_election_survive(zk_ensemble, zk_admin):
    client = connect(ConnectionSettings(hosts=zk_ensemble.connect_string))
    root = f"/faults-{int(time.time() * 1000)}"
    client.ensure_path(root)
    killed = None
    try:
        with Supervisor(zk_ensemble.connect_string + root, session_timeout=4.0) as sup:
            for i in range(3):
                sup.spawn("lock", f"l{i}", path="/locks/e", hold=0.1, repeat=0, pause_between=0.05)
            for i in range(2):
                sup.spawn("election", f"c{i}", path="/election")
            sup.wait_for(lambda e: e.kind == "elected", 20)
            sup.wait_for(lambda e: e.kind == "released", 20)
            killed = zk_ensemble.leader()
            zk_ensemble.kill(killed)
            zk_ensemble.wait_for_leader(30, exclude=killed)
            mark = sup.mark()
            sup.wait_for(lambda e: e.kind == "acquired", 30, since=mark)
            sup.close()
            history = sup.history
        assert check_mutual_exclusion(history).ok, check_mutual_exclusion(history)
        assert check_leaders(history).ok, check_leaders(history)
    finally:
        if killed is not None:
            zk_ensemble.restart(killed)
        client.stop()
        client.close()
