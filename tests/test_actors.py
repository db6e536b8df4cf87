"""Actors as real processes against the real test server: course milestones, faults, and the checkers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from zkbench.actors import ActorError, ActorEvent, Supervisor
from zkbench.checkers import (check_barrier, check_double_barrier, check_fencing, check_leaders,
                              check_master_worker, check_mutual_exclusion, check_queue)

TIMEOUT = 1.0  # session timeout of every actor: crashes and pauses show within about a second


@pytest.fixture
def sup(zk_chroot_hosts: str) -> Iterator[Supervisor]:
    with Supervisor(zk_chroot_hosts, session_timeout=TIMEOUT) as s:
        yield s


def is_(actor: str, kind: str, **details: object):
    return lambda e: e.actor == actor and e.kind == kind and all(e.details.get(k) == v for k, v in details.items())


def kinds(sup: Supervisor, actor: str) -> list[str]:
    return [e.kind for e in sup.history if e.actor == actor and e.source == "actor"]


def test_plain_narration_in_a_terminal(zk_chroot_hosts):
    out = subprocess.run([sys.executable, "-m", "zkbench.actors", "lock", "--hosts", zk_chroot_hosts,
                          "--id", "a1", "--hold", "0.1", "--path", "/locks/db"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = [line.split("  ", 1)[1] for line in out.stdout.splitlines()]
    assert lines[0].startswith("lock actor a1 connected to")
    assert lines[1].startswith("created lock node /locks/db/_c_") and lines[1].endswith("lock-0000000000")
    assert lines[2].startswith("acquired lock lock-0000000000 (fencing token ")
    assert lines[3] == "acquired lock, working for 0.1s"
    assert lines[4].startswith("released (deleted ")
    assert out.stderr == ""


def test_json_events_and_bad_hosts_is_one_line(zk_chroot_hosts):
    out = subprocess.run([sys.executable, "-m", "zkbench.actors", "config-set", "--hosts", zk_chroot_hosts,
                          "--json", "--id", "c", "--value", '{"log_level": "DEBUG"}'],
                         capture_output=True, text=True, timeout=30)
    events = [ActorEvent.from_json(line) for line in out.stdout.splitlines()]
    assert [e.kind for e in events] == ["started", "set", "finished", "stopped"]
    assert events[1].message == 'set /app/config = {"log_level": "DEBUG"} (version 0)'
    assert events[0].session.startswith("0x")
    bad = subprocess.run([sys.executable, "-m", "zkbench.actors", "lock", "--hosts", "127.0.0.1:1",
                          "--session-timeout", "1"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "ZKBENCH_CONNECT_TIMEOUT": "2"})
    assert bad.returncode == 2 and "Could not connect" in bad.stdout and "Traceback" not in bad.stderr


def test_lock_milestones_wait_release_and_crash_handoff(sup, zk):
    sup.spawn("lock", "a1", path="/locks/db", hold=30)
    sup.wait_for(is_("a1", "working"))
    sup.spawn("lock", "a2", path="/locks/db", hold=0.3)
    sup.spawn("lock", "a3", path="/locks/db", hold=0.3)
    w2 = sup.wait_for(is_("a2", "waiting"))
    w3 = sup.wait_for(is_("a3", "waiting"))
    assert w2.state == "waiting" and w2.message.startswith("lock held by lock-")
    assert {w2.watching, w3.watching} != {w2.watching}  # each watches a different node
    handle = sup.get("a1")
    assert handle.state == "holding" and handle.alive
    t0 = time.time()
    sup.crash("a1")  # killing the holder hands the lock to the next in line, once its session expires
    nxt = sup.wait_for(lambda e: e.kind == "acquired" and e.actor in ("a2", "a3"), 10)
    assert nxt.time - t0 < TIMEOUT + 2.0
    sup.wait_for(lambda e: e.kind == "released" and e.actor in ("a2", "a3") and e.actor != nxt.actor, 10)
    result = check_mutual_exclusion(sup.history)
    assert result.ok, result
    assert result.checked == 3
    assert [h.id for h in sup.list()] == ["a1", "a2", "a3"]
    assert zk.get_children("/locks/db") == []


def test_graceful_stop_hands_lock_over_at_once(sup):
    sup.spawn("lock", "a1", path="/locks/s", hold=30)
    sup.wait_for(is_("a1", "working"))
    sup.spawn("lock", "a2", path="/locks/s", hold=30)
    sup.wait_for(is_("a2", "waiting"))
    t0 = time.time()
    assert sup.stop("a1") == 0
    got = sup.wait_for(is_("a2", "acquired"), 5)
    assert got.time - t0 < TIMEOUT  # no session timeout to wait for: the ephemeral went with the session
    assert kinds(sup, "a1")[-3:] == ["stopping", "released", "stopped"]
    with pytest.raises(ActorError, match="not running"):
        sup.pause("a1")
    with pytest.raises(ActorError, match="unknown actor role 'lok'"):
        sup.spawn("lok", "x")
    with pytest.raises(ActorError, match="already running"):
        sup.spawn("lock", "a2")


def test_gc_pause_past_session_timeout_stale_write_is_fenced(sup, zk):
    sup.spawn("lock", "a1", path="/locks/f", hold=8, fence="/fenced", work_interval=0.2)
    sup.wait_for(is_("a1", "fenced-write", accepted=True))
    sup.spawn("lock", "a2", path="/locks/f", hold=1.0, fence="/fenced", work_interval=0.2)
    sup.wait_for(is_("a2", "waiting"))
    sup.pause("a1")  # a long GC pause: no heartbeats, the session expires, a2 gets the lock
    sup.wait_for(is_("a2", "fenced-write", accepted=True), 10)
    sup.resume("a1")
    rejected = sup.wait_for(is_("a1", "fenced-write", accepted=False), 15)
    assert "rejected: token" in rejected.message and "no longer hold the lock" in rejected.message
    sup.wait_for(is_("a2", "released"), 10)
    mutex = check_mutual_exclusion(sup.history)
    assert mutex.ok, mutex
    assert any("stale holder" in n and "paused" in n for n in mutex.notes), mutex
    fencing = check_fencing(sup.history)
    assert fencing.ok and fencing.notes, fencing
    assert json.loads(zk.get("/fenced")[0])["writer"] == "a2"


def test_paused_waiter_loses_its_place_and_queues_again(sup):
    sup.spawn("lock", "a1", path="/locks/p", hold=30)
    sup.wait_for(is_("a1", "working"))
    sup.spawn("lock", "a2", path="/locks/p", hold=0.2)
    sup.wait_for(is_("a2", "waiting"))
    sup.pause("a2")
    time.sleep(TIMEOUT + 0.6)  # past the session timeout: its lock node is gone
    mark = sup.mark()
    sup.resume("a2")
    retry = sup.wait_for(is_("a2", "retrying"), 10, since=mark)
    assert "session" in retry.message
    sup.wait_for(is_("a2", "waiting"), 10, since=mark)  # queued again with a new session
    sup.stop("a1")
    got = sup.wait_for(is_("a2", "acquired"), 5)
    started = [e.session for e in sup.history if e.actor == "a2" and e.kind == "started"][0]
    assert got.session != started
    assert check_mutual_exclusion(sup.history).ok


def test_checker_flags_overlap_without_pause():
    ev = [ActorEvent("a", "acquired", path="/l/n1", time=1.0), ActorEvent("b", "acquired", path="/l/n2", time=2.0),
          ActorEvent("a", "released", path="/l/n1", time=3.0), ActorEvent("b", "released", path="/l/n2", time=4.0)]
    bad = check_mutual_exclusion(ev)
    assert not bad.ok and "overlaps b" in bad.violations[0]
    paused = ev[:1] + [ActorEvent("a", "paused", source="supervisor", time=1.5)] + ev[1:]
    assert check_mutual_exclusion(paused).ok
    writes = [ActorEvent("a", "fenced-write", path="/f", details={"token": 5, "accepted": True}, time=1),
              ActorEvent("b", "fenced-write", path="/f", details={"token": 3, "accepted": True}, time=2)]
    assert not check_fencing(writes).ok
    two = [ActorEvent("a", "elected", path="/e/n1", details={"epoch": 7}, time=1),
           ActorEvent("b", "elected", path="/e/n2", details={"epoch": 7}, time=2)]
    assert "claimed by a and b" in check_leaders(two).violations[0]


def test_election_failover_after_kill_and_stop(sup):
    for i in range(3):
        sup.spawn("election", f"c{i}", path="/election")
        sup.wait_for(lambda e, i=i: e.actor == f"c{i}" and e.kind in ("elected", "following"))
    leader = sup.wait_for(lambda e: e.kind == "elected")
    assert leader.actor == "c0" and leader.state == "leader"
    follow = sup.wait_for(is_("c2", "following"))
    assert follow.message.startswith("leader is node-") and "I follow; watching node-" in follow.message
    mark = sup.mark()
    sup.crash("c0")
    second = sup.wait_for(lambda e: e.kind == "elected", 10, since=mark)
    assert second.actor == "c1" and second.details["epoch"] > leader.details["epoch"]
    mark = sup.mark()
    sup.stop("c1")
    third = sup.wait_for(lambda e: e.kind == "elected", 5, since=mark)
    assert third.actor == "c2"
    result = check_leaders(sup.history)
    assert result.ok and result.checked == 3, result


def test_killed_service_leaves_discovery_list(sup):
    sup.spawn("discovery", "lb", name="payment")
    sup.wait_for(is_("lb", "initial"))
    sup.spawn("service", "s1", name="payment", address="127.0.0.1:8080")
    sup.spawn("service", "s2", name="payment", address="127.0.0.1:8081")
    sup.wait_for(lambda e: e.actor == "lb" and e.details.get("addresses") == ["127.0.0.1:8080", "127.0.0.1:8081"]
                 or e.actor == "lb" and e.details.get("addresses") == ["127.0.0.1:8081", "127.0.0.1:8080"])
    sup.crash("s1")
    shrunk = sup.wait_for(lambda e: e.actor == "lb" and e.details.get("addresses") == ["127.0.0.1:8081"], 10)
    assert shrunk.message == "service pool changed: ['127.0.0.1:8081']"


def test_config_app_and_updater(sup):
    sup.spawn("config-set", "u0", value='{"log_level": "INFO"}')
    sup.wait_for(is_("u0", "finished"))
    sup.spawn("config-app", "app")
    sup.wait_for(is_("app", "loaded"))
    sup.spawn("config-set", "u1", value='{"log_level": "DEBUG"}')
    sup.wait_for(lambda e: e.actor == "app" and e.message == 'current config: {"log_level": "DEBUG"}')
    sup.spawn("config-set", "u2", delete=True)
    sup.wait_for(is_("app", "deleted"))
    sup.spawn("config-set", "u3", value='{"log_level": "WARN"}')
    sup.wait_for(lambda e: e.actor == "app" and e.message == 'current config: {"log_level": "WARN"}')
    msgs = [e.message for e in sup.history if e.actor == "app" and e.source == "actor"][1:5]
    assert msgs[:2] == ["reading config from /app/config", 'current config: {"log_level": "INFO"}']
    assert "config changed, reloading" in msgs


def test_queue_worker_crash_claim_mode_loses_nothing(sup, zk):
    sup.spawn("queue-producer", "p", count=8, interval=0)
    sup.wait_for(is_("p", "finished"))
    for i in range(3):
        sup.spawn("queue-worker", f"w{i}", mode="claim", work=0.3)
    victim = sup.wait_for(lambda e: e.kind == "took" and e.actor.startswith("w"))
    sup.crash(victim.actor)  # dies mid-job: its ephemeral claim vanishes and another worker redoes the job
    deadline = time.time() + 20
    while zk.get_children("/queue") and time.time() < deadline:
        time.sleep(0.1)
    assert zk.get_children("/queue") == []
    result = check_queue(sup.history, "claim")
    assert result.ok, result
    assert any(victim.details["job"] in n for n in result.notes)


def test_double_barrier_actors(sup):
    for i in range(3):
        sup.spawn("barrier", f"m{i}", path="/db", members=3, work=0.2 * (i + 1))
    for i in range(3):
        sup.wait_for(is_(f"m{i}", "left"), 15)
    result = check_double_barrier(sup.history, 3)
    assert result.ok and result.checked == 3, result


def test_simple_barrier_actors(sup):
    sup.spawn("barrier", "r", path="/b", action="raise")
    sup.wait_for(is_("r", "raised"))
    sup.spawn("barrier", "w", path="/b")
    sup.wait_for(is_("w", "waiting"))
    sup.spawn("barrier", "l", path="/b", action="lift")
    sup.wait_for(is_("w", "passed"), 10)
    assert check_barrier(sup.history).ok


def test_master_worker_survives_master_and_worker_death(sup, zk):
    sup.spawn("master", "m1")
    sup.wait_for(is_("m1", "elected"))
    sup.spawn("master", "m2")
    sup.wait_for(is_("m2", "following"))
    sup.spawn("worker", "w1", work=0.2)
    sup.spawn("worker", "w2", work=5)
    sup.wait_for(is_("w1", "registered"))
    sup.wait_for(is_("w2", "registered"))
    sup.spawn("task-submit", "client", count=6)
    sup.wait_for(is_("w2", "working"), 10)
    sup.crash("w2")  # a worker dies holding tasks
    sup.crash("m1")  # and the active master dies
    sup.wait_for(is_("m2", "elected"), 10)
    deadline = time.time() + 20
    while len(zk.get_children("/mw/done")) < 6 and time.time() < deadline:
        time.sleep(0.1)
    result = check_master_worker(sup.history)
    assert result.ok and result.checked == 6, result
    assert any(e.kind == "reassigned" and e.details["worker"] == "w2" for e in sup.history)


def test_no_orphans_when_supervisor_is_killed(zk_chroot_hosts, tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from zkbench.actors import Supervisor
        sup = Supervisor({zk_chroot_hosts!r}, session_timeout=1)
        h = sup.spawn("election", "orphan?")
        sup.wait_for(lambda e: e.kind == "elected", 20)
        print(h.pid, flush=True)
        time.sleep(60)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("actor survived its supervisor")


async def test_async_event_stream(sup):
    seen = []
    sup.spawn("election", "solo", path="/e")
    async for event in sup.events():
        seen.append(event.kind)
        if event.kind == "elected":
            break
    assert "created" in seen
