"""Checkers on small hand-written histories: each invariant is shown both holding and broken."""

from __future__ import annotations

from zkbench.actors import ActorEvent
from zkbench.checkers import (check_barrier, check_double_barrier, check_leaders, check_master_worker,
                              check_mutual_exclusion, check_queue)


def ev(actor: str, kind: str, t: float, path: str | None = None, source: str = "actor", state: str | None = None,
       **details: object) -> ActorEvent:
    return ActorEvent(actor, kind, path=path, time=t, source=source, state=state, details=details)


def test_mutual_exclusion_sequential_holders_and_crash_end_a_hold():
    h = [ev("a", "acquired", 1, "/l/n1"), ev("a", "released", 2, "/l/n1"), ev("b", "acquired", 2.1, "/l/n2"),
         ev("b", "crashed", 3, source="supervisor"), ev("c", "acquired", 4, "/l/n3")]
    result = check_mutual_exclusion(h)
    assert result.ok and result.checked == 3
    # different locks never conflict
    assert check_mutual_exclusion([ev("a", "acquired", 1, "/l1/n"), ev("b", "acquired", 1.5, "/l2/n")]).ok


def test_mutual_exclusion_suspension_explains_overlap_but_not_after_the_fact():
    base = [ev("a", "acquired", 1, "/l/n1"), ev("b", "acquired", 3, "/l/n2"), ev("a", "released", 4, "/l/n1")]
    suspended = base[:1] + [ev("a", "connection", 2, state="suspended")] + base[1:]
    assert check_mutual_exclusion(suspended).ok
    assert "stale holder" in check_mutual_exclusion(suspended).notes[0]
    late = base + [ev("a", "connection", 3.5, state="suspended")]  # suspended only after b acquired
    assert not check_mutual_exclusion(late).ok


def test_leaders_epochs_must_grow_and_overlap_needs_an_excuse():
    ok = [ev("a", "elected", 1, "/e/n1", epoch=5), ev("a", "revoked", 2, "/e/n1"),
          ev("b", "elected", 2.5, "/e/n2", epoch=9), ev("b", "revoked", 3, "/e/n2"),
          ev("b", "elected", 3.5, "/e/n2", epoch=9)]  # re-elected in its own epoch after a suspension
    assert check_leaders(ok).ok
    back = [ev("a", "elected", 1, "/e/n1", epoch=9), ev("a", "crashed", 2, source="supervisor"),
            ev("b", "elected", 3, "/e/n2", epoch=5)]
    assert "went back" in check_leaders(back).violations[0]
    overlap = [ev("a", "elected", 1, "/e/n1", epoch=5), ev("b", "elected", 2, "/e/n2", epoch=9)]
    assert not check_leaders(overlap).ok


def test_queue_loss_and_duplicates_depend_on_mode():
    added = [ev("p", "added", 0, job="job-1"), ev("p", "added", 0, job="job-2")]
    lost_with_worker = added + [ev("w1", "took", 1, job="job-1"), ev("w1", "crashed", 2, source="supervisor"),
                                ev("w2", "took", 3, job="job-2"), ev("w2", "done", 4, job="job-2")]
    assert check_queue(lost_with_worker, "delete").ok  # at-most-once allows it (as a note)
    assert check_queue(lost_with_worker, "delete").notes
    assert not check_queue(lost_with_worker, "claim").ok  # the safe queue must not lose it
    rerun = added + [ev("w1", "took", 1, job="job-1"), ev("w1", "crashed", 2, source="supervisor"),
                     ev("w2", "took", 3, job="job-1"), ev("w2", "done", 4, job="job-1"),
                     ev("w2", "took", 5, job="job-2"), ev("w2", "done", 6, job="job-2")]
    assert check_queue(rerun, "claim").ok
    assert not check_queue(rerun, "delete").ok  # a job taken twice is impossible when claiming by delete
    twice = added + [ev("w1", "took", 1, job="job-1"), ev("w2", "took", 1.1, job="job-1"),
                     ev("w1", "done", 2, job="job-1"), ev("w2", "done", 2.1, job="job-1")]
    assert not check_queue(twice, "locked", remaining=["job-2"]).ok
    pending = added + [ev("w1", "took", 1, job="job-1"), ev("w1", "done", 2, job="job-1")]
    assert check_queue(pending, "claim", remaining=["job-2"]).ok


def test_barriers():
    simple = [ev("r", "raised", 0, "/b"), ev("w", "passed", 1, "/b"), ev("l", "lifting", 2, "/b")]
    assert not check_barrier(simple).ok
    assert check_barrier(simple[:1] + simple[2:] + [ev("w", "passed", 2.1, "/b")]).ok
    arrivals = [ev(f"m{i}", "arrived", i, f"/db/m{i}") for i in range(3)]
    good = arrivals + [ev(f"m{i}", "entered", 3, f"/db/m{i}") for i in range(3)]
    assert check_double_barrier(good, 3).ok
    early = arrivals + [ev("m0", "entered", 1.5, "/db/m0")]
    assert not check_double_barrier(early, 3).ok
    left_early = good + [ev("m0", "leaving", 4, "/db/m0"), ev("m0", "left", 4.5, "/db/m0"),
                         ev("m1", "leaving", 5, "/db/m1")]
    assert not check_double_barrier(left_early, 3).ok


def test_master_worker_every_task_once_and_no_assignment_to_the_dead():
    h = [ev("c", "submitted", 0, task="t1"), ev("c", "submitted", 0, task="t2"),
         ev("m", "assigned", 1, task="t1", worker="w1"), ev("m", "assigned", 1, task="t2", worker="w2"),
         ev("m", "reassigned", 2, task="t2", worker="w2"), ev("m", "assigned", 2.1, task="t2", worker="w1"),
         ev("w1", "task-done", 3, task="t1"), ev("w1", "task-done", 4, task="t2")]
    assert check_master_worker(h).ok
    bad = h + [ev("m", "assigned", 5, task="t3", worker="w2")]
    assert "after its tasks were reassigned" in check_master_worker(bad).violations[0]
    assert not check_master_worker(h[:-1]).ok  # t2 never done
    assert not check_master_worker(h + [ev("w2", "task-done", 6, task="t2")]).ok  # done twice
