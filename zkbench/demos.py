"""Engine side of the workshop demo screens: what each demo runs, and what its cards and invariant line say.

A :class:`DemoSpec` per recipe names the actor roles to spawn (with their options), the demo's base path (the
live tree is scoped to it), the learner's note, the demo-specific controls, and the invariant function. A
:class:`DemoModel` folds the actors' events (``zkbench.actors.ActorEvent``, from the supervisor) into one
:class:`ActorCardState` per actor and computes the live :class:`Invariant` through ``zkbench.checkers``.

No Textual here: the screen (``zkbench.screens.demo``) only draws a model, and snapshot tests feed a model fixed
events.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from zkbench.actors.protocol import ActorEvent
from zkbench.checkers import (CheckResult, check_barrier, check_double_barrier, check_fencing, check_leaders,
                              check_master_worker, check_mutual_exclusion, check_queue)

__all__ = ["DemoSpec", "RoleSpec", "DemoControl", "DemoModel", "ActorCardState", "Fate", "Invariant", "Level",
           "DEMO_SPECS", "demo_spec", "side_summary", "DOUBLE_BARRIER_MEMBERS", "QUEUE_MODE"]

log = logging.getLogger(__name__)

DOUBLE_BARRIER_MEMBERS = 3
HISTORY_LIMIT = 250_000  # events kept in memory (a long workshop); the oldest fifth goes when it is reached
LESSON_SECONDS = 30.0  # how long a GC-pause finding keeps the invariant line amber
LIVE_WINDOW = 5_000  # events the live invariant checks (benchmarks/demo_invariants.py: ~10-20 ms at this size)
QUEUE_MODE = "locked"  # the course's version: a lock around take-process-delete (at-least-once)



class Level(str, enum.Enum):
    """How the invariant line is drawn: green, amber (allowed anomaly, e.g. a stale holder), red."""

    OK = "ok"
    NOTE = "note"
    VIOLATED = "violated"


@dataclass(frozen=True, slots=True)
class Invariant:
    level: Level
    text: str
    detail: str = ""  # the checker's full sentence (a tooltip / the log), when there is one


class Fate(str, enum.Enum):
    """What happened to the actor's process (independent of its recipe state)."""

    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"   # exited after a graceful stop or on its own
    CRASHED = "crashed"   # SIGKILL (its session lingers until the session timeout)
    FAILED = "failed"     # exited with an error


@dataclass
class ActorCardState:
    """Everything one actor card shows."""

    id: str
    role: str
    pid: int = 0
    session: str = ""
    state: str = "starting"
    watching: str | None = None
    fate: Fate = Fate.STARTING
    last: str = ""
    node: str | None = None
    facts: dict[str, str] = field(default_factory=dict)  # role-specific: token, epoch, job, pool, config
    started: float = 0.0
    ended: float | None = None
    returncode: int | None = None

    @property
    def alive(self) -> bool:
        return self.fate in (Fate.STARTING, Fate.RUNNING, Fate.PAUSED, Fate.STOPPING)


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """One kind of actor a demo can start: its zkbench.actors role, id prefix and options (from the base)."""

    role: str
    prefix: str
    label: str
    options: Callable[[str, int], dict[str, Any]]  # (base path, n-th actor of this role) -> spawn options
    oneshot: bool = False  # does its job and exits (an updater, a batch producer): its card goes on clean exit


@dataclass(frozen=True, slots=True)
class DemoControl:
    """A demo-specific control: a screen action, its key and what it does (binding + command palette)."""

    action: str
    key: str
    title: str
    description: str


@dataclass(frozen=True, slots=True)
class DemoSpec:
    kind: str
    title: str
    base: str
    note: str
    roles: dict[str, RoleSpec]  # the first one is what "add actor" starts
    start: tuple[tuple[str, int], ...]  # what the demo starts on open: (role key, count)
    controls: tuple[DemoControl, ...]
    invariant: Callable[["DemoModel"], Invariant]
    crash_hint: str  # which actor the lesson says to crash ("the holder", "the leader")

    @property
    def default_role(self) -> str:
        return next(iter(self.roles))

    def with_base(self, base: str) -> "DemoSpec":
        from dataclasses import replace

        return replace(self, base=base.rstrip("/") or "/")


def _num(value: Any) -> str:
    """A zxid-like number (fencing token, epoch) as the recipes narrate it (decimal) and as zkCli shows it (hex)."""
    n = int(value)
    return f"{n} (0x{n:x})"


def _join(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


# ----------------------------------------------------------------------------------------------------- model
class DemoModel:
    """The cards and the history of one demo, fed actor events in batches."""

    def __init__(self, spec: DemoSpec) -> None:
        self.spec = spec
        self.cards: dict[str, ActorCardState] = {}
        self.history: list[ActorEvent] = []
        self.highest: dict[str, int] = {}  # role key -> highest number used for an id
        self.lessons: list[str] = []  # GC-pause findings, in the order they happened
        self.lesson_times: list[float] = []
        self._invariant: Invariant | None = None
        self._pause_marks: dict[str, tuple[float, str | None]] = {}  # actor -> (paused at, what it believed)
        self._last_line: dict[str, tuple[str, str]] = {}  # actor -> (kind, message) of its last shown line
        self.repeats = 0  # lines not shown because the actor said the same thing again
        self.negotiated_timeout: float | None = None  # what the server granted the actors (from "started")
        self.violations: list[str] = []  # every violation line shown so far (they stay red)
        self.t0: float | None = None  # time of the first event: the narration counts from here

    # -- ids
    def next_id(self, role_key: str) -> str:
        prefix = self.spec.roles[role_key].prefix
        n = self.highest.get(role_key, 0) + 1
        while f"{prefix}-{n}" in self.cards:
            n += 1
        self.highest[role_key] = n
        return f"{prefix}-{n}"

    def role_key_of(self, card: ActorCardState) -> str | None:
        for key, role in self.spec.roles.items():
            if card.id.startswith(role.prefix + "-") and role.role == card.role:
                return key
        return None

    def is_oneshot(self, card: ActorCardState) -> bool:
        key = self.role_key_of(card)
        return bool(key and self.spec.roles[key].oneshot)

    # -- events
    def apply(self, events: Iterable[ActorEvent]) -> list[ActorEvent]:
        """Fold a batch into the cards (in time order); returns what the narration log should show.

        An actor repeating the same line (a master re-listing unchanged workers, an idle worker re-checking) is
        shown once; the repeats still count for the cards and the checkers.
        """
        batch = sorted(events, key=lambda e: e.time)
        if batch and self.t0 is None:
            self.t0 = batch[0].time
        shown: list[ActorEvent] = []
        for event in batch:
            self.history.append(event)
            self._apply_one(event)
            key = (event.kind, event.message)
            if event.source == "actor" and self._last_line.get(event.actor) == key:
                self.repeats += 1
                continue
            self._last_line[event.actor] = key
            shown.append(event)
        if batch:
            self._invariant = None
        if len(self.history) > HISTORY_LIMIT:
            del self.history[: len(self.history) - HISTORY_LIMIT * 4 // 5]
        return shown

    def _apply_one(self, e: ActorEvent) -> None:
        card = self.cards.get(e.actor)
        if card is None:
            card = self.cards[e.actor] = ActorCardState(e.actor, e.role or "?", started=e.time)
        if e.role and card.role == "?":
            card.role = e.role
        if e.session:
            card.session = e.session
        d = e.details or {}
        if e.source == "supervisor":
            self._apply_supervisor(card, e)
            return
        if card.fate is Fate.STARTING:
            card.fate = Fate.RUNNING
        if e.kind == "started" and d.get("pid"):
            card.pid = int(d["pid"])
        if e.kind == "started" and d.get("session_timeout"):
            try:
                self.negotiated_timeout = float(d["session_timeout"])
            except (TypeError, ValueError):
                log.debug("bad session_timeout in %s", e)
        if e.state:
            card.state = e.state
        if e.watching is not None or e.kind in ("acquired", "elected", "released", "lost", "woken", "idle",
                                                   "left", "took", "done"):
            card.watching = e.watching
        if e.kind in ("created", "registered", "arrived") and e.path:
            card.node = e.path
        if e.message:
            card.last = e.message
        self._facts(card, e)

    def _apply_supervisor(self, card: ActorCardState, e: ActorEvent) -> None:
        d = e.details or {}
        if e.kind == "spawned":
            card.pid = int(d.get("pid", card.pid) or 0)
            card.fate = Fate.STARTING
            card.started = e.time
        elif e.kind == "paused":
            card.fate = Fate.PAUSED
            self._pause_marks[card.id] = (e.time, card.state)
        elif e.kind == "resumed":
            if card.fate is Fate.PAUSED:
                card.fate = Fate.RUNNING
            self._note_resume(card, e)
        elif e.kind == "stop-requested":
            card.fate = Fate.STOPPING
        elif e.kind == "crashed":
            card.fate = Fate.CRASHED
        elif e.kind == "exited":
            code = int(d.get("returncode", 0) or 0)
            card.returncode = code
            card.ended = e.time
            if card.fate is not Fate.CRASHED:
                card.fate = Fate.CRASHED if code == -9 else (Fate.STOPPED if code in (0, -15) else Fate.FAILED)
            card.watching = None
            card.facts.pop("token", None)  # it holds nothing any more (what it wrote stays under "fence")
            card.facts.pop("epoch", None)
            if card.fate is Fate.CRASHED:
                card.last = e.message + "; its session lives until the session timeout"
            elif card.fate is Fate.FAILED and not card.last:
                card.last = e.message
        elif e.kind == "stderr" and not card.last:
            card.last = e.message

    def _note_resume(self, card: ActorCardState, e: ActorEvent) -> None:
        """The GC-pause lesson: did someone else take over what this actor believed it had while it was paused?"""
        mark = self._pause_marks.pop(card.id, None)
        if mark is None:
            return
        paused_at, believed = mark
        if believed not in ("holding", "leader"):
            return
        verb = "elected" if believed == "leader" else "acquired"
        others = [x for x in self.history if x.kind == verb and x.source == "actor" and x.actor != card.id
                  and paused_at <= x.time <= e.time]
        if others:
            other = others[-1]
            what = "the lock" if believed == "holding" else "leadership"
            self.lesson_times.append(e.time)
            self.lessons.append(f"{card.id} was paused while it believed it held {what}; {other.actor} "
                                f"{verb} it meanwhile: both believed they held it")

    def _facts(self, card: ActorCardState, e: ActorEvent) -> None:
        d = e.details or {}
        f = card.facts
        if e.kind == "acquired" and "token" in d:
            f["token"] = _num(d["token"])
        elif e.kind in ("released", "gave-up", "lost"):
            f.pop("token", None)
        elif e.kind == "fenced-write":
            if d.get("accepted") is False:
                f["fence"] = f"REJECTED (stale token {int(d.get('token', 0))})"
            else:
                f["fence"] = f"write ok (token {int(d.get('token', 0))})"
        elif e.kind == "elected" and "epoch" in d:
            f["epoch"] = _num(d["epoch"])
        elif e.kind in ("revoked", "relinquished", "left"):
            f.pop("epoch", None)
        elif e.kind == "took" and "job" in d:
            f["job"] = str(d["job"])
        elif e.kind == "done" and "job" in d:
            f.pop("job", None)
            f["done"] = str(int(f.get("done", "0")) + 1)
        elif e.kind == "added" and "job" in d:
            f["added"] = str(int(f.get("added", "0")) + 1)
        elif e.kind in ("initial", "changed") and "addresses" in d:
            f["pool"] = ", ".join(str(a) for a in d["addresses"]) or "(empty)"
        elif e.kind == "registered" and card.role == "service":
            f["address"] = e.message.rsplit(" = ", 1)[-1] if " = " in e.message else ""
        elif e.kind == "loaded":
            f["config"] = e.message.split(": ", 1)[-1]
        elif e.kind == "set":
            f["config"] = e.message.split(" = ", 1)[-1].rsplit(" (version", 1)[0]
        elif e.kind == "working" and "task" in d:
            f["task"] = str(d["task"])
        elif e.kind == "task-done":
            f.pop("task", None)
            f["done"] = str(int(f.get("done", "0")) + 1)
        elif e.kind == "workers" and "workers" in d:
            f["workers"] = ", ".join(d["workers"]) or "(none)"

    # -- queries
    def recent_lesson(self) -> str | None:
        """The latest GC-pause finding while it is news (:data:`LESSON_SECONDS` of events); the side panel keeps
        them all."""
        if not self.lessons or not self.history:
            return None
        return self.lessons[-1] if self.history[-1].time - self.lesson_times[-1] <= LESSON_SECONDS else None

    def live(self, state: str | None = None) -> list[ActorCardState]:
        return [c for c in self.cards.values() if c.alive and (state is None or c.state == state)]

    def believers(self, state: str) -> list[ActorCardState]:
        """Actors whose process is alive (running or paused) and who believe they are in ``state``."""
        return [c for c in self.cards.values() if c.fate in (Fate.RUNNING, Fate.PAUSED, Fate.STOPPING)
                and c.state == state]

    @property
    def stale(self) -> bool:
        """New events arrived since the invariant was last computed."""
        return self._invariant is None

    def window(self) -> list[ActorEvent]:
        """The recent history the live invariant is checked over (the checkers are not linear in its length)."""
        return self.history[-LIVE_WINDOW:] if len(self.history) > LIVE_WINDOW else self.history

    def invariant(self) -> Invariant:
        if self._invariant is None:
            try:
                self._invariant = self.spec.invariant(self)
            except Exception as exc:  # noqa: BLE001 - a checker bug must show, not crash the screen
                log.exception("invariant of %s failed", self.spec.kind)
                self._invariant = Invariant(Level.NOTE, f"invariant not computed: {type(exc).__name__}: {exc}")
            if self._invariant.level is Level.VIOLATED:
                if self._invariant.text not in self.violations:
                    log.warning("%s demo invariant violated: %s", self.spec.kind, self._invariant.detail)
                    self.violations.append(self._invariant.text)
            elif self.violations:
                # A violation stays on screen: the window it was found in may have moved on, the fact has not.
                first = self.violations[0]
                self._invariant = Invariant(Level.VIOLATED, f"{first} (earlier; now: {self._invariant.text})",
                                            "\n".join(self.violations))
        return self._invariant

    def dismiss(self, actor_id: str) -> bool:
        card = self.cards.get(actor_id)
        if card is None or card.alive:
            return False
        del self.cards[actor_id]
        self._invariant = None
        return True


# ----------------------------------------------------------------------------------------------- invariants
def _from_check(result: CheckResult, ok_text: str, model: DemoModel) -> Invariant:
    """Violations are red; a GC-pause finding is amber; anomalies the guarantee allows stay green, with a note."""
    if result.violations:
        return Invariant(Level.VIOLATED, f"VIOLATED: {result.violations[0]}", "\n".join(result.violations))
    lesson = model.recent_lesson()
    if lesson:
        return Invariant(Level.NOTE, f"{ok_text} · {lesson}", "\n".join([*model.lessons, *result.notes]))
    if result.notes:
        return Invariant(Level.OK, f"{ok_text} · allowed: {result.notes[-1]}", "\n".join(result.notes))
    return Invariant(Level.OK, ok_text)


def _names(cards: list[ActorCardState]) -> str:
    ids = [c.id for c in cards]
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


def _overlap_pair(violation: str, verb: str) -> tuple[str, str] | None:
    """The two actors of a checker's overlap line ("A held the lock from t1 to t2 overlaps B from t3 ...")."""
    m = re.search(rf"(\S+) {verb} from \S+ to \S+ overlaps (\S+) from", violation)
    return (m.group(1), m.group(2)) if m else None


def lock_invariant(model: DemoModel) -> Invariant:
    exclusion = check_mutual_exclusion(model.window())
    fencing = check_fencing(model.window())
    holders = model.believers("holding")
    valid = [c for c in holders if c.fate is not Fate.PAUSED]
    if exclusion.violations or fencing.violations:
        who = _names(holders) if len(holders) > 1 else ""
        first = (exclusion.violations or fencing.violations)[0]
        pair = _overlap_pair(first, "held the lock")
        text = (f"VIOLATED: {who} both hold the lock" if who else
                f"VIOLATED: {pair[0]} and {pair[1]} held the lock at the same time" if pair else f"VIOLATED: {first}")
        return Invariant(Level.VIOLATED, text, "\n".join(exclusion.violations + fencing.violations))
    if len(holders) > 1:
        stale = [c for c in holders if c.fate is Fate.PAUSED]
        if stale:
            text = (f"mutual exclusion: held by {valid[-1].id if valid else '?'}; {_names(stale)} only believe"
                    f"{'s' if len(stale) == 1 else ''} it (paused past the session timeout: fencing rejects "
                    "stale writes)")
            return Invariant(Level.NOTE, text)
        # Two running holders and the checker has not seen an overlap (yet): the lock is changing hands and the
        # old holder's "released" line is still in its pipe.
        return Invariant(Level.OK, f"mutual exclusion: lock changing hands ({_names(holders)})")
    base = "mutual exclusion: held"
    if holders:
        token = holders[0].facts.get("token")
        base += f" by {holders[0].id}" + (f", fencing token {token}" if token else "")
    else:
        base += " (nobody holds the lock right now)"
    rejected = list(fencing.notes)
    lesson = model.recent_lesson()
    detail = "\n".join([*model.lessons, *exclusion.notes, *rejected])
    if lesson:
        tail = lesson + ("; the stale write was rejected" if rejected else "")
        return Invariant(Level.NOTE, f"{base} · {tail}", detail)
    if rejected and not model.lessons:  # a stale holder we did not pause ourselves (a real suspension)
        return Invariant(Level.NOTE, f"{base} · {rejected[-1]}", detail)
    return Invariant(Level.OK, base, detail)


def leader_invariant(model: DemoModel) -> Invariant:
    result = check_leaders(model.window())
    leaders = model.believers("leader")
    valid = [c for c in leaders if c.fate is not Fate.PAUSED]
    if result.violations:
        who = _names(leaders) if len(leaders) > 1 else ""
        pair = _overlap_pair(result.violations[0], "led")
        text = (f"VIOLATED: {who} both lead" if who else
                f"VIOLATED: {pair[0]} and {pair[1]} led at the same time" if pair else
                f"VIOLATED: {result.violations[0]}")
        return Invariant(Level.VIOLATED, text, "\n".join(result.violations))
    if not leaders:
        crashed = [c for c in model.cards.values() if c.fate is Fate.CRASHED and "epoch" in c.facts]
        text = "no leader right now"
        if crashed:
            text += f": waiting for {crashed[-1].id}'s session to expire"
        return _from_check(result, text, model)
    if len(leaders) > 1:
        stale = [c for c in leaders if c.fate is Fate.PAUSED]
        if not stale:
            return Invariant(Level.OK, f"leadership changing hands ({_names(leaders)})")
        return Invariant(Level.NOTE, f"1 leader: {valid[-1].id if valid else '?'}; {_names(stale)} only "
                                     "believes it (paused past its session timeout)")
    epoch = leaders[0].facts.get("epoch", "?")
    return _from_check(result, f"1 leader: {leaders[0].id}, epoch {epoch}", model)


def queue_invariant(model: DemoModel) -> Invariant:
    history = model.history
    added = sum(1 for e in history if e.kind == "added" and e.source == "actor")
    done = sum(1 for e in history if e.kind == "done" and e.source == "actor")
    working = [c for c in model.live("working")]
    # Jobs not done yet are still in the queue (or with a live worker): only judge duplicates and double finishes.
    pending = {str(e.details["job"]) for e in history if e.kind == "added" and "job" in (e.details or {})}
    result = check_queue(history, QUEUE_MODE, remaining=pending)
    text = f"each job done once: {added} added, {done} done, {len(working)} in progress"
    return _from_check(result, text, model)


def discovery_invariant(model: DemoModel) -> Invariant:
    services = [c for c in model.cards.values() if c.role == "service"]
    registered = sorted(c.facts.get("address", "") for c in services if c.alive and c.state == "registered")
    lingering = sorted(c.facts.get("address", "") for c in services
                       if c.fate is Fate.CRASHED and c.facts.get("address"))
    balancers = [c for c in model.live() if c.role == "discovery" and "pool" in c.facts]
    if not balancers:
        return Invariant(Level.OK, f"{len(registered)} instance(s) registered; no load balancer running")
    pool = sorted(a for a in balancers[-1].facts["pool"].split(", ") if a and a != "(empty)")
    if pool == registered:
        return Invariant(Level.OK, f"load balancer sees all {len(pool)} live instance(s): {', '.join(pool) or '-'}")
    extra = [a for a in pool if a not in registered]
    if extra and all(a in lingering for a in extra):
        return Invariant(Level.OK, f"load balancer still lists {', '.join(extra)} (crashed: its ephemeral znode "
                                   "goes when the session expires)")
    return Invariant(Level.NOTE, f"load balancer catching up: sees {len(pool)}, {len(registered)} registered")


def barrier_invariant(model: DemoModel) -> Invariant:
    double = check_double_barrier(model.window(), DOUBLE_BARRIER_MEMBERS)
    simple = check_barrier(_lift_race_adjusted(model.window()))
    if double.violations or simple.violations:
        v = double.violations + simple.violations
        return Invariant(Level.VIOLATED, f"VIOLATED: {v[0]}", "\n".join(v))
    arrived = {e.actor for e in model.history if e.kind == "arrived"}
    entered = {e.actor for e in model.history if e.kind == "entered"}
    left = {e.actor for e in model.history if e.kind == "left"}
    waiting = [c for c in model.live("waiting") if c.role == "barrier" and c.id not in arrived]
    text = (f"nobody entered early: {len(arrived)} arrived, {len(entered)} entered, {len(left)} left "
            f"(double barrier of {DOUBLE_BARRIER_MEMBERS})")
    if waiting:
        text += f"; {len(waiting)} waiting at the gate"
    return Invariant(Level.OK, text)


def _lift_race_adjusted(history: list[ActorEvent]) -> list[ActorEvent]:
    """The lifting actor prints "removed" after its delete returns; a waiter woken by that same delete can print
    "passed" a few milliseconds earlier. Date each "lifted" line back by :data:`LIFT_RACE_SECONDS` so that race is
    not reported as passing early (a waiter passing a whole second before the lift still is)."""
    from dataclasses import replace

    return [replace(e, time=e.time - LIFT_RACE_SECONDS) if e.kind == "lifted" else e for e in history]


LIFT_RACE_SECONDS = 0.5


def config_invariant(model: DemoModel) -> Invariant:
    apps = [c for c in model.live() if c.role == "config-app"]
    sets = [e for e in model.history if e.kind == "set" and e.source == "actor"]
    latest = sets[-1].message.split(" = ", 1)[-1].rsplit(" (version", 1)[0] if sets else None
    seen = {c.id: c.facts.get("config") for c in apps}
    if not apps:
        return Invariant(Level.OK, "no config app running" + (f"; config is {latest}" if latest else ""))
    if latest is None:
        values = set(seen.values())
        if len(values) == 1:
            return Invariant(Level.OK, f"all {len(apps)} apps agree: {values.pop() or '(no config yet)'}")
        return Invariant(Level.NOTE, f"apps still loading: {len(values)} different views")
    behind = [cid for cid, value in seen.items() if not value or _norm(value) != _norm(latest)]
    if not behind:
        return Invariant(Level.OK, f"all {len(apps)} apps see the latest config: {latest}")
    return Invariant(Level.NOTE, f"{len(behind)} of {len(apps)} app(s) reloading ({', '.join(behind)}): "
                                 f"latest is {latest}")


def _norm(text: str) -> str:
    try:
        return json.dumps(json.loads(text), sort_keys=True)
    except ValueError:
        return text.strip()


def master_worker_invariant(model: DemoModel) -> Invariant:
    leaders = check_leaders(model.window())
    masters = [c for c in model.believers("leader") if c.role == "master"]
    submitted = {str(e.details["task"]) for e in model.history if e.kind == "submitted" and "task" in e.details}
    done_events = [e for e in model.history if e.kind == "task-done" and "task" in (e.details or {})]
    # Tasks still being worked on are not failures of a live system: judge only finished work and assignments.
    finished = {str(e.details["task"]) for e in done_events}
    pending = [e for e in model.history if not (e.kind == "submitted" and str(e.details.get("task")) not in finished)]
    tasks = check_master_worker(pending)
    violations = leaders.violations + tasks.violations
    if violations:
        who = _names(masters) if len(masters) > 1 else ""
        text = f"VIOLATED: {who} both act as master" if who else f"VIOLATED: {violations[0]}"
        return Invariant(Level.VIOLATED, text, "\n".join(violations))
    workers = [c for c in model.live() if c.role == "worker"]
    if masters:
        head = f"1 active master: {masters[-1].id}, epoch {masters[-1].facts.get('epoch', '?')}"
        if len(masters) > 1:
            head = f"1 active master: {masters[-1].id}; {_names(masters[:-1])} only believe it (paused)"
    else:
        head = "no active master right now"
    text = f"{head} · {len(workers)} worker(s) · {len(finished)} of {len(submitted)} task(s) done once"
    notes = leaders.notes + tasks.notes
    lesson = model.recent_lesson()
    if lesson:
        return Invariant(Level.NOTE, f"{text} · {lesson}", "\n".join([*model.lessons, *notes]))
    return Invariant(Level.OK, text, "\n".join(notes))


# ------------------------------------------------------------------------------------------------ the specs
NOTES: dict[str, str] = {
    "lock": """\
**Distributed lock** (`/locks/db`)

Each contender creates an **ephemeral-sequential** znode `lock-N`. The lowest number holds the lock.

Everyone else watches **only the znode just ahead of it**: a release wakes exactly one waiter, not the whole
herd.

The znode is ephemeral, so the **session is the failure detector**: stop a holder (graceful) and its znode goes
at once; crash it and the znode stays until its session times out.

A holder **paused** past its session timeout (a long GC pause) still *believes* it holds the lock after it wakes.
That is why writes carry a **fencing token** (the lock znode's czxid): `/locks/resource` rejects a token older
than one it has seen. Try **g**.""",
    "election": """\
**Leader election** (`/election`)

Candidates create **ephemeral-sequential** znodes `node-N`; the lowest leads. Its czxid is the **epoch**.

Each follower watches **only its predecessor**, so a leader's death wakes one candidate, not all of them.

Crash the leader: its znode lives until its **session expires**, then the next candidate takes over with a
higher epoch. A graceful stop hands over at once.""",
    "queue": """\
**Job queue** (`/queue/jobs`)

Producers add **persistent-sequential** `job-N` znodes: the sequence gives the order.

Workers take the lowest job under a **lock** (`jobs-lock`), process it and delete it. Idle workers are woken by
a **child watch**, never by polling.

Crash a working worker: the lock goes with its session and the next worker takes the *same* job again:
**at-least-once**. Press **j** to add jobs.""",
    "discovery": """\
**Service discovery** (`/services/payment`)

Each service registers an **ephemeral** `instance-N` znode holding its `host:port`.

The load balancer lists the children and sets a **child watch**; a watch fires **once**, so it re-registers it
after every change.

Start a worker (**w**) and the pool grows. Crash one (**r**): its instance vanishes when its **session
expires**, and the pool shrinks. Ephemeral znodes make sessions a failure detector.""",
    "barrier": """\
**Barriers** (`/barrier`)

**Double barrier** (`/barrier/double`, n = 3): each member creates an ephemeral znode; when n have arrived, a
`ready` znode lets everyone **enter** together. To **leave**, everyone waits until all have left.

**Simple barrier** (`/barrier/gate`): waiters block while the gate znode exists; removing it releases them all.
Raise it with **u**, add waiters with **w**, lift it with **l**.

A crashed member's znode stays until its session expires: the others wait for it.""",
    "config": """\
**Dynamic config** (`/app/config`)

Every app reads the JSON config and sets a **data watch**. A watch fires **once**: on each change the app
re-reads and sets it again, so many updates in a row are all seen.

Press **v** to set a new value: every app reloads. Delete and recreate the znode (**d**) and the apps wait for
it with an `exists` watch.""",
    "master-worker": """\
**Master-worker** (`/mw`)

Masters run a **leader election** under `masters/`; one is active. Workers register **ephemeral** znodes under
`workers/`.

The active master assigns submitted tasks (`jobs/`) to workers (`tasks/<worker>/`). Its writes are a `multi`
that first **checks its own election znode**, so a deposed master cannot write.

Crash the master: another takes over. Crash a worker: when its session expires, its tasks go back to `jobs/`.
Press **t** to submit tasks.""",
}


def _lock_options(base: str, _n: int) -> dict[str, Any]:
    return {"path": _join(base, "db"), "hold": 8.0, "repeat": 0, "pause_between": 1.0,
            "fence": _join(base, "resource"), "work_interval": 0.5}


def _queue_worker(base: str, _n: int) -> dict[str, Any]:
    return {"path": _join(base, "jobs"), "mode": QUEUE_MODE, "work": 2.0}


def _queue_feeder(base: str, _n: int) -> dict[str, Any]:
    return {"path": _join(base, "jobs"), "count": 0, "interval": 4.0}


def _queue_batch(base: str, _n: int) -> dict[str, Any]:
    return {"path": _join(base, "jobs"), "count": 5, "interval": 0.0}


def _service(base: str, n: int) -> dict[str, Any]:
    return {"name": "payment", "base": base, "address": f"127.0.0.1:{8079 + n}"}


def _balancer(base: str, _n: int) -> dict[str, Any]:
    return {"name": "payment", "base": base}


def _double_member(base: str, _n: int) -> dict[str, Any]:
    return {"path": _join(base, "double"), "members": DOUBLE_BARRIER_MEMBERS, "work": 3.0}


def _gate(action: str) -> Callable[[str, int], dict[str, Any]]:
    return lambda base, _n: {"path": _join(base, "gate"), "action": action}


def _config_app(base: str, _n: int) -> dict[str, Any]:
    return {"path": _join(base, "config")}


def _config_set(base: str, _n: int) -> dict[str, Any]:
    return {"path": _join(base, "config"), "value": '{"log_level": "INFO"}'}


def _mw(extra: dict[str, Any] | None = None) -> Callable[[str, int], dict[str, Any]]:
    return lambda base, _n: {"root": base, **(extra or {})}


_SPECS: tuple[DemoSpec, ...] = (
    DemoSpec("lock", "Distributed lock", "/locks", NOTES["lock"],
             {"lock": RoleSpec("lock", "lock", "lock contender", _lock_options)},
             (("lock", 3),),
             (DemoControl("gc_pause", "g", "GC-pause lesson",
                          "Pause the holder past its session timeout, let another take the lock, resume it"),),
             lock_invariant, "the holder"),
    DemoSpec("election", "Leader election", "/election", NOTES["election"],
             {"candidate": RoleSpec("election", "cand", "election candidate", lambda b, _n: {"path": b})},
             (("candidate", 3),),
             (DemoControl("gc_pause", "g", "GC-pause lesson",
                          "Pause the leader past its session timeout, let another lead, resume it"),),
             leader_invariant, "the leader"),
    DemoSpec("queue", "Job queue", "/queue", NOTES["queue"],
             {"worker": RoleSpec("queue-worker", "worker", "queue worker", _queue_worker),
              "producer": RoleSpec("queue-producer", "producer", "producer (a job every 4 s)", _queue_feeder),
              "batch": RoleSpec("queue-producer", "batch", "producer of 5 jobs", _queue_batch, oneshot=True)},
             (("producer", 1), ("worker", 2)),
             (DemoControl("add_jobs", "j", "Add 5 jobs", "Start a producer that adds 5 jobs and exits"),
              DemoControl("add_producer", "P", "Add producer", "Start a producer that adds a job every 4 s")),
             queue_invariant, "the working worker"),
    DemoSpec("discovery", "Service discovery", "/services", NOTES["discovery"],
             {"service": RoleSpec("service", "svc", "service instance", _service),
              "balancer": RoleSpec("discovery", "lb", "load balancer", _balancer)},
             (("balancer", 1), ("service", 3)),
             (DemoControl("start_worker", "w", "Start worker", "Register one more service instance"),
              DemoControl("crash_random", "r", "Crash random worker", "SIGKILL a random live service instance")),
             discovery_invariant, "a service instance"),
    DemoSpec("barrier", "Barriers", "/barrier", NOTES["barrier"],
             {"member": RoleSpec("barrier", "member", "double-barrier member", _double_member),
              "waiter": RoleSpec("barrier", "waiter", "waits at the gate", _gate("wait")),
              "raise": RoleSpec("barrier", "raise", "raises the gate", _gate("raise"), oneshot=True),
              "lift": RoleSpec("barrier", "lift", "lifts the gate", _gate("lift"), oneshot=True)},
             (("member", 3),),
             (DemoControl("raise_gate", "u", "Raise gate", "Create the simple barrier znode /barrier/gate"),
              DemoControl("add_waiter", "w", "Add waiter", "Start an actor that waits at the gate"),
              DemoControl("lift_gate", "l", "Lift gate", "Delete the gate znode: every waiter passes")),
             barrier_invariant, "a member"),
    DemoSpec("config", "Dynamic config", "/app", NOTES["config"],
             {"app": RoleSpec("config-app", "app", "config app", _config_app),
              "setter": RoleSpec("config-set", "set", "config updater", _config_set, oneshot=True)},
             (("setter", 1), ("app", 3)),
             (DemoControl("set_config", "v", "Set config value", "Write a new JSON value to /app/config"),
              DemoControl("delete_config", "d", "Delete config", "Delete /app/config (apps wait for it)")),
             config_invariant, "an app"),
    DemoSpec("master-worker", "Master-worker", "/mw", NOTES["master-worker"],
             {"worker": RoleSpec("worker", "worker", "worker", _mw({"work": 2.0})),
              "master": RoleSpec("master", "master", "master candidate", _mw()),
              "submit": RoleSpec("task-submit", "submit", "submits 5 tasks", _mw({"count": 5}), oneshot=True)},
             (("master", 2), ("worker", 2)),
             (DemoControl("add_master", "M", "Add master", "Start one more master candidate"),
              DemoControl("submit_tasks", "t", "Submit tasks", "Submit 5 tasks to /mw/jobs")),
             master_worker_invariant, "the active master"),
)

DEMO_SPECS: dict[str, DemoSpec] = {spec.kind: spec for spec in _SPECS}


def demo_spec(kind: str) -> DemoSpec:
    try:
        return DEMO_SPECS[kind]
    except KeyError:
        raise ValueError(f"no demo named {kind!r}; demos are {', '.join(DEMO_SPECS)}") from None


# ------------------------------------------------------------------------------------------- side summaries
def side_summary(model: DemoModel) -> list[str]:
    """A few live lines under the learner's note: what the recipe's shared state looks like right now."""
    kind, h = model.spec.kind, model.history
    lines: list[str] = []
    if model.lessons:
        lines.append("GC-pause lesson:")
        lines.extend(f"  {lesson}" for lesson in model.lessons[-3:])
        lines.append("")
    if kind == "lock":
        writes = [e for e in h if e.kind == "fenced-write"]
        accepted = [e for e in writes if e.details.get("accepted") is not False]
        rejected = [e for e in writes if e.details.get("accepted") is False]
        lines.append(f"Fenced resource {_join(model.spec.base, 'resource')}:")
        if accepted:
            last = accepted[-1]
            lines.append(f"  last write token {_num(last.details.get('token', 0))} by {last.actor}")
            lines.append(f"  {len(accepted)} write(s) accepted")
        else:
            lines.append("  no write yet")
        for e in rejected[-3:]:
            lines.append(f"  REJECTED {e.actor}: stale token {_num(e.details.get('token', 0))}")
    elif kind in ("election", "master-worker"):
        elected = [e for e in h if e.kind == "elected" and e.source == "actor"]
        lines.append("Leaders so far (epoch = czxid of the leader's znode):")
        for e in elected[-5:]:
            lines.append(f"  {_num(e.details.get('epoch', 0)):<16} {e.actor}")
        if not elected:
            lines.append("  none yet")
        if kind == "master-worker":
            submitted = sum(1 for e in h if e.kind == "submitted")
            done = sum(1 for e in h if e.kind == "task-done")
            reassigned = sum(1 for e in h if e.kind == "reassigned")
            lines.append(f"Tasks: {submitted} submitted, {done} done, {reassigned} reassigned")
    elif kind == "queue":
        added = sum(1 for e in h if e.kind == "added")
        done = sum(1 for e in h if e.kind == "done")
        lines.append(f"Jobs: {added} added, {done} done, {max(0, added - done)} waiting or in progress")
        lines.append(f"Mode: {QUEUE_MODE} (a lock around take-process-delete)")
        taken: dict[str, list[str]] = {}
        for e in h:
            if e.kind == "took" and "job" in e.details:
                taken.setdefault(str(e.details["job"]), []).append(e.actor)
        again = {j: a for j, a in taken.items() if len(a) > 1}
        for job, actors in list(again.items())[-3:]:
            lines.append(f"  {job} taken again: {' then '.join(actors)}")
    elif kind == "discovery":
        balancers = [c for c in model.cards.values() if c.role == "discovery" and "pool" in c.facts]
        lines.append("Load balancer pool:")
        if balancers:
            for address in balancers[-1].facts["pool"].split(", "):
                lines.append(f"  {address}")
        else:
            lines.append("  (no load balancer running)")
    elif kind == "barrier":
        for label, kinds in (("arrived", "arrived"), ("entered", "entered"), ("left", "left"),
                             ("passed the gate", "passed")):
            who = [e.actor for e in h if e.kind == kinds]
            lines.append(f"{label}: {', '.join(who) if who else '-'}")
    elif kind == "config":
        sets = [e for e in h if e.kind == "set"]
        lines.append("Latest value written:")
        lines.append("  " + (sets[-1].message.split(" = ", 1)[-1] if sets else "(none yet)"))
    return lines
