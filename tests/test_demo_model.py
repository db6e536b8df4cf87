"""Engine tests of zkbench.demos (no Textual, no server): cards folded from actor events, the invariant line's
levels and texts, one-shot actors, ids, and the GC-pause finding."""

from __future__ import annotations

import pytest

from test_demo_snapshots import (crashed, discovery_events, ev, lock_events, queue_events, spawned)
from zkbench.demos import DEMO_SPECS, DemoModel, Fate, Level, demo_spec, side_summary


def model_of(kind: str, events: list) -> DemoModel:
    m = DemoModel(demo_spec(kind))
    m.apply(events)
    return m


def test_every_demo_has_a_note_controls_and_starting_actors() -> None:
    from zkbench.actors.runner import ROLES

    for kind, spec in DEMO_SPECS.items():
        assert spec.note and spec.base.startswith("/")
        assert spec.start and all(role in spec.roles for role, _n in spec.start)
        for role in spec.roles.values():
            assert role.role in ROLES, (kind, role.role)  # a role zkbench.actors can run
            options = role.options(spec.base, 1)
            assert all(isinstance(k, str) for k in options)


def test_cards_follow_the_events() -> None:
    m = model_of("lock", lock_events())
    one, two, three = m.cards["lock-1"], m.cards["lock-2"], m.cards["lock-3"]
    assert one.fate is Fate.CRASHED and one.returncode == -9 and "token" not in one.facts
    assert two.state == "holding" and two.facts["token"] == "8 (0x8)" and two.pid == 4102
    assert two.session == "0x1000000ab0002"
    assert three.state == "waiting" and three.watching == "/locks/db/lock-0000000001"
    assert [c.id for c in m.live()] == ["lock-2", "lock-3"]


def test_lock_line_is_green_and_names_the_holder() -> None:
    inv = model_of("lock", lock_events()).invariant()
    assert inv.level is Level.OK
    assert inv.text == "mutual exclusion: held by lock-2, fencing token 8 (0x8)"


def test_two_holders_without_a_pause_turn_red_and_stay_red() -> None:
    events = lock_events() + [
        ev(5.0, "lock-3", "acquired", "acquired lock lock-0000000002 (fencing token 9)", role="lock",
           state="holding", path="/locks/db/lock-0000000002", n=3, token=9),
        ev(5.5, "lock-3", "fenced-write", "wrote", role="lock", path="/locks/resource", n=3, token=9, accepted=True),
    ]
    m = model_of("lock", events)
    assert m.invariant().level is Level.VIOLATED
    assert m.invariant().text == "VIOLATED: lock-2 and lock-3 both hold the lock"
    m.apply([ev(6.0, "lock-2", "released", "released", role="lock", state="idle", path="/locks/db/lock-0000000001",
                n=2)])
    inv = m.invariant()
    assert inv.level is Level.VIOLATED
    assert inv.text == "VIOLATED: lock-2 and lock-3 held the lock at the same time"


def test_gc_pause_is_amber_with_the_lesson_and_the_rejected_write() -> None:
    node = "/locks/db/lock-{:010d}".format
    events = spawned(0, "lock-1", "lock", 1) + spawned(0, "lock-2", "lock", 2) + [
        ev(1.0, "lock-1", "acquired", "acquired", role="lock", state="holding", path=node(0), n=1, token=5),
        ev(1.1, "lock-2", "waiting", "waiting", role="lock", state="waiting", path=node(1), watching=node(0), n=2),
        ev(2.0, "lock-1", "paused", "sent SIGSTOP", role="lock", state="holding", source="supervisor"),
        ev(4.0, "lock-2", "acquired", "acquired", role="lock", state="holding", path=node(1), n=2, token=9),
        ev(4.1, "lock-2", "fenced-write", "wrote", role="lock", path="/locks/resource", n=2, token=9, accepted=True),
    ]
    m = model_of("lock", events)
    inv = m.invariant()
    assert inv.level is Level.NOTE and "lock-1 only believes it" in inv.text
    m.apply([ev(6.0, "lock-1", "resumed", "sent SIGCONT", role="lock", state="holding", source="supervisor"),
             ev(6.1, "lock-1", "lost", "session expired: lock LOST", role="lock", state="lost", path=node(0), n=1),
             ev(6.2, "lock-1", "fenced-write", "rejected", role="lock", state="lost", path="/locks/resource", n=1,
                token=5, accepted=False)])
    inv = m.invariant()
    assert inv.level is Level.NOTE
    assert "lock-1 was paused while it believed it held the lock; lock-2 acquired it meanwhile" in inv.text
    assert "the stale write was rejected" in inv.text
    assert m.cards["lock-1"].facts["fence"] == "REJECTED (stale token 5)"
    assert any("REJECTED lock-1" in line for line in side_summary(m))
    # the line goes back to green once the lesson is old news; the side panel keeps it
    m.apply([ev(6.2 + 31, "lock-2", "fenced-write", "wrote", role="lock", path="/locks/resource", n=2, token=9,
                accepted=True)])
    assert m.invariant().level is Level.OK
    assert any("both believed they held it" in line for line in side_summary(m))


def test_queue_retake_after_a_crash_is_allowed_and_green() -> None:
    events = queue_events() + crashed(3.0, "worker-2", "queue-worker", "working") + [
        ev(4.0, "worker-1", "took", "taking job-0000000001", role="queue-worker", state="working",
           path="/queue/jobs/job-0000000001", n=2, job="job-0000000001"),
    ]
    inv = model_of("queue", events).invariant()
    assert inv.level is Level.OK and "allowed: job-0000000001 taken again" in inv.text


def test_discovery_lists_a_crashed_instance_until_its_session_expires() -> None:
    events = discovery_events() + crashed(6.0, "svc-2", "service", "registered")
    m = model_of("discovery", events)
    inv = m.invariant()
    assert inv.level is Level.OK and "still lists 127.0.0.1:8081" in inv.text
    m.apply([ev(7.5, "lb-1", "changed", "service pool changed", role="discovery", state="watching", n=1,
                addresses=["127.0.0.1:8080", "127.0.0.1:8082"])])
    assert m.invariant().text.startswith("load balancer sees all 2 live instance(s)")


def test_config_apps_converge_on_the_latest_value() -> None:
    events = spawned(0, "app-1", "config-app", 1) + spawned(0, "app-2", "config-app", 2) + [
        ev(1, "app-1", "loaded", 'current config: {"log_level": "INFO"}', role="config-app", state="watching", n=1),
        ev(1, "app-2", "loaded", 'current config: {"log_level": "INFO"}', role="config-app", state="watching", n=2),
        ev(2, "set-1", "set", 'set /app/config = {"log_level": "DEBUG"} (version 1)', role="config-set", n=3),
        ev(2.1, "app-1", "loaded", 'current config: {"log_level":"DEBUG"}', role="config-app", state="watching",
           n=1),
    ]
    m = model_of("config", events)
    assert m.invariant().level is Level.NOTE and "1 of 2 app(s) reloading (app-2)" in m.invariant().text
    m.apply([ev(2.2, "app-2", "loaded", 'current config: {"log_level": "DEBUG"}', role="config-app",
                state="watching", n=2)])
    assert m.invariant().text == 'all 2 apps see the latest config: {"log_level": "DEBUG"}'


def test_barrier_lift_race_is_not_a_violation_but_passing_early_is() -> None:
    gate = "/barrier/gate"
    base = [ev(0, "raise-1", "raised", f"barrier {gate} raised", role="barrier", path=gate, n=1),
            ev(1, "waiter-1", "waiting", "waiting", role="barrier", state="waiting", path=gate, n=2)]
    race = base + [ev(5.00, "waiter-1", "passed", "passing", role="barrier", path=gate, n=2),
                   ev(5.02, "lift-1", "lifted", "removed", role="barrier", path=gate, n=3)]
    assert model_of("barrier", race).invariant().level is Level.OK
    early = base + [ev(3.0, "waiter-1", "passed", "passing", role="barrier", path=gate, n=2),
                    ev(5.0, "lift-1", "lifted", "removed", role="barrier", path=gate, n=3)]
    assert model_of("barrier", early).invariant().level is Level.VIOLATED


def test_ids_one_shot_cards_and_dismissal() -> None:
    m = DemoModel(demo_spec("config"))
    assert [m.next_id("app"), m.next_id("app"), m.next_id("setter")] == ["app-1", "app-2", "set-1"]
    m.apply(spawned(0, "set-1", "config-set", 1) + [
        ev(1, "set-1", "exited", "process ended (exit code 0)", role="config-set", state="stopped",
           source="supervisor", returncode=0)])
    assert m.is_oneshot(m.cards["set-1"]) and m.cards["set-1"].fate is Fate.STOPPED
    m.apply(spawned(0, "app-1", "config-app", 2))
    assert not m.dismiss("app-1")  # still running: a card is dismissed only once its actor ended
    m.apply(crashed(2, "app-1", "config-app", "watching"))
    assert m.dismiss("app-1") and "app-1" not in m.cards


def test_repeated_lines_are_shown_once() -> None:
    m = DemoModel(demo_spec("master-worker"))
    line = dict(role="master", state="leader", n=1, workers=["w1"])
    shown = m.apply([ev(1, "master-1", "workers", "workers: ['w1']", **line),
                     ev(1.5, "master-1", "workers", "workers: ['w1']", **line),
                     ev(2, "master-1", "workers", "workers: ['w1', 'w2']", **line)])
    assert [e.time for e in shown] == [pytest.approx(1_700_000_001.0), pytest.approx(1_700_000_002.0)]
    assert len(m.history) == 3 and m.repeats == 1
