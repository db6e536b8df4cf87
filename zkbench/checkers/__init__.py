"""Invariants over recorded actor histories (lists of :class:`~zkbench.actors.protocol.ActorEvent`).

Each checker returns a :class:`CheckResult`: ``violations`` break the invariant; ``notes`` are the anomalies the
invariant allows and a person should still see (a stale holder that was paused past its session timeout, a
job run twice after its worker died).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from zkbench.actors.protocol import ActorEvent

__all__ = ["CheckResult", "check_mutual_exclusion", "check_fencing", "check_leaders", "check_queue",
           "check_barrier", "check_double_barrier", "check_master_worker"]

# "stopping" is not an end: a stopping actor still holds until it has deleted its node ("released"/"revoked")
_END_HOLD = {"released", "lost", "exited", "crashed", "gave-up"}
_END_LEAD = {"revoked", "left", "relinquished", "exited", "crashed"}


@dataclass
class CheckResult:
    name: str
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = f"{self.name}: {'OK' if self.ok else 'VIOLATED'} ({self.checked} checked"
        head += f", {len(self.notes)} note(s))" if self.notes else ")"
        return "\n  ".join([head, *self.violations, *(f"note: {n}" for n in self.notes)])


def _events(history: Iterable[ActorEvent | dict[str, Any]]) -> list[ActorEvent]:
    out = [e if isinstance(e, ActorEvent) else ActorEvent.from_dict(e) for e in history]
    return sorted(out, key=lambda e: e.time)


def _parent(path: str | None) -> str:
    return (path or "").rsplit("/", 1)[0] or "/"


@dataclass
class _Interval:
    actor: str
    start: float
    end: float
    label: str
    key: Any = None


def _impaired(events: list[ActorEvent]) -> dict[str, list[tuple[float, float, str]]]:
    """Per actor: periods when it could not know its session was valid (paused, connection suspended/lost)."""
    spans: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    open_: dict[tuple[str, str], float] = {}
    for e in events:
        if e.kind == "paused":
            open_[(e.actor, "paused")] = e.time
        elif e.kind == "resumed" and (e.actor, "paused") in open_:
            spans[e.actor].append((open_.pop((e.actor, "paused")), e.time, "paused"))
        elif e.kind in ("connection", "suspended", "lost") and e.state in ("suspended", "lost"):
            open_.setdefault((e.actor, "suspended"), e.time)
        elif e.kind in ("connection", "confirmed") and e.state != "suspended" and e.state != "lost":
            if (e.actor, "suspended") in open_:
                spans[e.actor].append((open_.pop((e.actor, "suspended")), e.time, "suspended"))
    for (actor, what), start in open_.items():
        spans[actor].append((start, math.inf, what))
    return spans


def _intervals(events: list[ActorEvent], start_kinds: set[str], end_kinds: set[str],
               key_of: Any) -> list[_Interval]:
    out: list[_Interval] = []
    current: dict[str, _Interval] = {}
    for e in events:
        if e.kind in start_kinds and e.source == "actor":
            if e.actor in current and current[e.actor].key == key_of(e):
                continue  # re-confirmed (e.g. re-elected in the same epoch after a suspension)
            current[e.actor] = _Interval(e.actor, e.time, math.inf, e.message, key_of(e))
        elif e.actor in current and (e.kind in end_kinds or (e.kind == "fenced-write" and
                                                             e.details.get("accepted") is False)):
            iv = current.pop(e.actor)
            iv.end = e.time
            out.append(iv)
    out.extend(current.values())  # still holding when the history ends: the interval stays open (end = inf)
    return out


def _overlaps(name: str, intervals: list[_Interval], impaired: dict[str, list[tuple[float, float, str]]],
              result: CheckResult, what: str) -> None:
    intervals = sorted(intervals, key=lambda iv: iv.start)
    for i, a in enumerate(intervals):
        for j in range(i + 1, len(intervals)):  # indices, not a slice: no copy per interval
            b = intervals[j]
            if b.start >= a.end:
                break  # sorted by start: no later interval can overlap ``a`` either
            if a.actor == b.actor:
                continue
            why = [f"{kind} {s:.3f}-{e:.3f}" for s, e, kind in impaired.get(a.actor, []) if a.start <= s <= b.start]
            line = (f"{a.actor} {what} from {a.start:.3f} to {a.end:.3f} overlaps {b.actor} "
                    f"from {b.start:.3f}")
            if why:
                who = "leader" if what == "led" else "holder"
                result.notes.append(f"stale {who}: {line}; {a.actor} had been {', '.join(why)}")
            else:
                result.violations.append(f"{name}: {line} with no pause or suspension to explain it")


def check_mutual_exclusion(history: Iterable[ActorEvent | dict[str, Any]]) -> CheckResult:
    """At most one holder per lock at a time among actors whose session was valid; stale holders are notes."""
    events = _events(history)
    result = CheckResult("lock mutual exclusion")
    impaired = _impaired(events)
    by_lock: dict[str, list[_Interval]] = defaultdict(list)
    for iv in _intervals(events, {"acquired"}, _END_HOLD, lambda e: e.path):
        by_lock[_parent(iv.key)].append(iv)
    for lock, ivs in by_lock.items():
        result.checked += len(ivs)
        _overlaps(lock, ivs, impaired, result, "held the lock")
    return result


def check_fencing(history: Iterable[ActorEvent | dict[str, Any]]) -> CheckResult:
    """Per fenced resource, accepted write tokens never decrease; rejected writes are noted."""
    result = CheckResult("fencing tokens")
    highest: dict[str, tuple[int, str]] = {}
    writes = [e for e in _events(history) if e.kind == "fenced-write"]
    # accepted writes in the server's order (the znode version each produced) when known, else by time
    accepted = sorted((e for e in writes if e.details.get("accepted") and "version" in e.details),
                      key=lambda e: int(e.details["version"]))
    rest = [e for e in writes if not (e.details.get("accepted") and "version" in e.details)]
    for e in accepted + rest:
        result.checked += 1
        token = int(e.details.get("token", -1))
        if e.details.get("accepted"):
            prev = highest.get(e.path or "")
            if prev is not None and token < prev[0]:
                result.violations.append(f"{e.path}: {e.actor} wrote token {token} after {prev[1]} wrote {prev[0]}")
            if prev is None or token >= prev[0]:
                highest[e.path or ""] = (token, e.actor)
        else:
            result.notes.append(f"{e.actor}'s write with stale token {token} to {e.path} was rejected")
    return result


def check_leaders(history: Iterable[ActorEvent | dict[str, Any]]) -> CheckResult:
    """At most one leader per epoch, epochs increasing, no two valid leaders at once."""
    events = _events(history)
    result = CheckResult("one leader per epoch")
    owners: dict[tuple[str, int], str] = {}
    last_epoch: dict[str, int] = {}
    for e in events:
        if e.kind != "elected" or e.source != "actor":
            continue
        result.checked += 1
        election, epoch = _parent(e.path), int(e.details.get("epoch", -1))
        owner = owners.setdefault((election, epoch), e.actor)
        if owner != e.actor:
            result.violations.append(f"{election}: epoch {epoch} claimed by {owner} and {e.actor}")
        prev = last_epoch.get(election)
        if prev is not None and epoch < prev:
            result.violations.append(f"{election}: epoch went back from {prev} to {epoch} ({e.actor})")
        last_epoch[election] = max(epoch, prev or epoch)
    by_election: dict[str, list[_Interval]] = defaultdict(list)
    for iv in _intervals(events, {"elected"}, _END_LEAD, lambda e: e.path):
        by_election[_parent(iv.key)].append(iv)
    impaired = _impaired(events)
    for election, ivs in by_election.items():
        _overlaps(election, ivs, impaired, result, "led")
    return result


def check_queue(history: Iterable[ActorEvent | dict[str, Any]], mode: str, *,
                remaining: Iterable[str] = ()) -> CheckResult:
    """No acknowledged job lost (except at-most-once with a dead taker); duplicates only where ``mode`` allows.

    ``remaining`` names jobs still in the queue at the end (not lost, just not done yet).
    """
    events = _events(history)
    result = CheckResult(f"queue ({mode})")
    added = {e.details["job"] for e in events if e.kind == "added" and "job" in e.details}
    done = Counter(e.details["job"] for e in events if e.kind == "done" and "job" in e.details)
    takers: dict[str, list[ActorEvent]] = defaultdict(list)
    for e in events:
        if e.kind == "took" and "job" in e.details:
            takers[e.details["job"]].append(e)
    died = {e.actor: e.time for e in events if e.kind in ("crashed",) or
            (e.kind == "exited" and int(e.details.get("returncode", 0)) < 0)}
    impaired = _impaired(events)
    left = set(remaining)
    result.checked = len(added)
    for job in sorted(added):
        if done[job] == 0 and job not in left:
            dead = [t.actor for t in takers[job] if t.actor in died]
            if mode == "delete" and dead:
                result.notes.append(f"{job} lost with its worker {dead[0]} (at-most-once allows this)")
            else:
                result.violations.append(f"{job} was added but never done")
        if len(takers[job]) > 1:
            first = takers[job][0]
            excused = first.actor in died or impaired.get(first.actor)
            if mode == "delete" or not excused:
                result.violations.append(f"{job} taken by {[t.actor for t in takers[job]]}")
            else:
                result.notes.append(f"{job} taken again after {first.actor} died or stalled: "
                                    f"{[t.actor for t in takers[job]]}")
        if done[job] > 1:
            result.violations.append(f"{job} finished {done[job]} times")
    return result


def check_barrier(history: Iterable[ActorEvent | dict[str, Any]]) -> CheckResult:
    """Nobody passed a barrier before it was removed."""
    events = _events(history)
    result = CheckResult("barrier")
    lifted: dict[str, float] = {}
    raised: dict[str, float] = {}
    for e in events:
        if e.kind == "raised":
            raised[e.path or ""] = e.time
            lifted.pop(e.path or "", None)
        elif e.kind in ("lifting", "lifted"):
            lifted.setdefault(e.path or "", e.time)  # the removal may take effect from "lifting" on
        elif e.kind == "passed":
            result.checked += 1
            path = e.path or ""
            if path in raised and (path not in lifted or e.time < lifted[path]):
                result.violations.append(f"{e.actor} passed {path} at {e.time:.3f} before it was removed")
    return result


def check_double_barrier(history: Iterable[ActorEvent | dict[str, Any]], n: int) -> CheckResult:
    """Nobody entered before ``n`` had arrived; nobody finished leaving before all had started leaving."""
    events = _events(history)
    result = CheckResult(f"double barrier (n={n})")
    by_path: dict[str, list[ActorEvent]] = defaultdict(list)
    for e in events:
        if e.kind in ("arrived", "entered", "leaving", "left"):
            by_path[_parent(e.path)].append(e)
    for path, evs in by_path.items():
        arrivals = sorted(e.time for e in evs if e.kind == "arrived")
        entered = [e for e in evs if e.kind == "entered"]
        leaving = [e.time for e in evs if e.kind == "leaving"]
        result.checked += len(entered)
        if entered and len(arrivals) < n:
            result.violations.append(f"{path}: {len(entered)} entered but only {len(arrivals)} arrived")
        elif entered:
            nth = arrivals[n - 1]
            for e in entered:
                if e.time < nth:
                    result.violations.append(f"{path}: {e.actor} entered at {e.time:.3f} before member {n} "
                                             f"arrived at {nth:.3f}")
        last_leaving = max(leaving) if leaving else None
        for e in evs:
            if e.kind == "left" and last_leaving is not None and e.time < last_leaving:
                result.violations.append(f"{path}: {e.actor} left at {e.time:.3f} while others were still working")
    return result


def check_master_worker(history: Iterable[ActorEvent | dict[str, Any]]) -> CheckResult:
    """Every submitted task done exactly once; no task assigned to a worker after its tasks were reassigned."""
    events = _events(history)
    result = CheckResult("master-worker")
    submitted = [e.details["task"] for e in events if e.kind == "submitted" and "task" in e.details]
    done = Counter(e.details["task"] for e in events if e.kind == "task-done" and "task" in e.details)
    result.checked = len(submitted)
    for task in submitted:
        if done[task] == 0:
            result.violations.append(f"{task} was submitted but never done")
        elif done[task] > 1:
            result.violations.append(f"{task} was done {done[task]} times")
    declared_dead: dict[str, float] = {}
    for e in events:
        worker = e.details.get("worker")
        if e.kind == "reassigned" and worker:
            declared_dead.setdefault(worker, e.time)
        elif e.kind == "registered" and e.actor in declared_dead:
            declared_dead.pop(e.actor)  # it came back with a new session: assignable again
        elif e.kind == "assigned" and worker in declared_dead and e.time > declared_dead[worker]:
            result.violations.append(f"{e.details.get('task')} assigned to {worker} after its tasks were "
                                     "reassigned (it is dead)")
    reassigned = sum(1 for e in events if e.kind == "reassigned")
    if reassigned:
        result.notes.append(f"{reassigned} task(s) reassigned from dead workers")
    return result
