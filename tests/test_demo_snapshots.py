"""Snapshot tests of every demo screen in a fixed state: fixed actor ids, pids, sessions and times, and a fixed
tree (``zkbench.mirror.StaticTree``). The model is fed recorded-style actor events, so the cards, the narration,
the invariant line and the side panel are exactly what the live screen draws for those events."""

from __future__ import annotations

import time

from typing import Any

import pytest
from textual.app import App

from zkbench.actors.protocol import ActorEvent
from zkbench.demos import DemoModel, Level, demo_spec
from zkbench.mirror import StaticTree
from zkbench.screens.demo import DemoScreen

T0 = 1_700_000_000.0
NOW = T0 + 100.0
OWNER = 0x1000000AB0000


class FixedWorkbench:
    hosts = "127.0.0.1:2181"
    mirror = None


def ev(t: float, actor: str, kind: str, message: str = "", *, role: str = "", state: str | None = None,
       source: str = "actor", path: str | None = None, watching: str | None = None, n: int = 1,
       **details: Any) -> ActorEvent:
    session = f"0x{OWNER + n:x}" if source == "actor" else ""
    return ActorEvent(actor, kind, message, role=role, session=session, state=state, path=path, watching=watching,
                      details=details, time=T0 + t, source=source)


def spawned(t: float, actor: str, role: str, n: int) -> list[ActorEvent]:
    return [ev(t, actor, "spawned", f"started {role} actor {actor} (pid {4100 + n})", role=role,
               source="supervisor", pid=4100 + n),
            ev(t + 0.5, actor, "started", f"{role} actor {actor} connected, session 0x{OWNER + n:x}", role=role,
               state="idle", n=n, pid=4100 + n)]


def crashed(t: float, actor: str, role: str, state: str) -> list[ActorEvent]:
    return [ev(t, actor, "crashed", "sent SIGKILL (crash): session lingers until it expires", role=role,
               state=state, source="supervisor", signal="SIGKILL"),
            ev(t + 0.01, actor, "exited", "process ended (killed by SIGKILL)", role=role, state="stopped",
               source="supervisor", returncode=-9)]


def lock_events() -> list[ActorEvent]:
    r = "lock"
    out = spawned(0, "lock-1", r, 1) + spawned(0.1, "lock-2", r, 2) + spawned(0.2, "lock-3", r, 3)
    node = "/locks/db/lock-{:010d}".format
    out += [
        ev(1.0, "lock-1", "created", f"created lock node {node(0)}", role=r, state="waiting", path=node(0), n=1),
        ev(1.01, "lock-1", "acquired", "acquired lock lock-0000000000 (fencing token 5)", role=r, state="holding",
           path=node(0), n=1, token=5),
        ev(1.02, "lock-1", "fenced-write", "wrote /locks/resource with token 5", role=r, path="/locks/resource",
           n=1, token=5, accepted=True),
        ev(1.1, "lock-2", "created", f"created lock node {node(1)}", role=r, state="waiting", path=node(1), n=2),
        ev(1.11, "lock-2", "waiting", "lock held by lock-0000000000, watching it", role=r, state="waiting",
           path=node(1), watching=node(0), n=2),
        ev(1.2, "lock-3", "created", f"created lock node {node(2)}", role=r, state="waiting", path=node(2), n=3),
        ev(1.21, "lock-3", "waiting", "lock held by lock-0000000000; 2 ahead of me, watching only lock-0000000001",
           role=r, state="waiting", path=node(2), watching=node(1), n=3),
    ]
    out += crashed(3.0, "lock-1", r, "holding")
    out += [
        ev(4.0, "lock-2", "woken", "lock-0000000000 deleted, re-checking", role=r, path=node(1), n=2),
        ev(4.01, "lock-2", "acquired", "acquired lock lock-0000000001 (fencing token 8)", role=r, state="holding",
           path=node(1), n=2, token=8),
        ev(4.02, "lock-2", "fenced-write", "wrote /locks/resource with token 8", role=r, path="/locks/resource",
           n=2, token=8, accepted=True),
    ]
    return out


def lock_tree() -> StaticTree:
    return StaticTree.from_dict({
        "/locks/db/lock-0000000001": (b"lock-2", {"ephemeralOwner": OWNER + 2}),
        "/locks/db/lock-0000000002": (b"lock-3", {"ephemeralOwner": OWNER + 3}),
        "/locks/resource": b'{"token": 8, "value": "lock-2 cycle 1", "writer": "lock-2"}',
    })


def election_events() -> list[ActorEvent]:
    r = "election"
    node = "/election/node-{:010d}".format
    out = spawned(0, "cand-1", r, 1) + spawned(0.1, "cand-2", r, 2) + spawned(0.2, "cand-3", r, 3)
    out += [
        ev(1.0, "cand-1", "created", f"created {node(7)}", role=r, state="follower", path=node(7), n=1),
        ev(1.01, "cand-1", "elected", "I am the leader (epoch 31)", role=r, state="leader", path=node(7),
           watching=node(7), n=1, epoch=31),
        ev(1.1, "cand-2", "created", f"created {node(8)}", role=r, state="follower", path=node(8), n=2),
        ev(1.11, "cand-2", "following", "leader is node-0000000007, I follow; watching node-0000000007", role=r,
           state="follower", path=node(8), watching=node(7), n=2),
        ev(1.2, "cand-3", "created", f"created {node(9)}", role=r, state="follower", path=node(9), n=3),
        ev(1.21, "cand-3", "following", "leader is node-0000000007, I follow; watching node-0000000008", role=r,
           state="follower", path=node(9), watching=node(8), n=3),
    ]
    return out


def election_tree() -> StaticTree:
    return StaticTree.from_dict({f"/election/node-{i:010d}": (b"", {"ephemeralOwner": OWNER + i - 6})
                                 for i in (7, 8, 9)})


def queue_events() -> list[ActorEvent]:
    out = spawned(0, "producer-1", "queue-producer", 1) + spawned(0.1, "worker-1", "queue-worker", 2)
    out += spawned(0.2, "worker-2", "queue-worker", 3)
    job = "/queue/jobs/job-{:010d}".format
    for i in range(4):
        out.append(ev(1.0 + i, "producer-1", "added", f"added job {job(i)}", role="queue-producer", path=job(i),
                      n=1, job=f"job-{i:010d}"))
    out += [
        ev(1.3, "worker-1", "trying-lock", "worker worker-1 trying lock /queue/jobs-lock", role="queue-worker",
           n=2),
        ev(1.31, "worker-1", "took", 'taking job-0000000000: "job 1 from producer-1"', role="queue-worker",
           state="working", path=job(0), n=2, job="job-0000000000"),
        ev(2.4, "worker-1", "done", "done, deleted job-0000000000", role="queue-worker", state="idle", path=job(0),
           n=2, job="job-0000000000"),
        ev(2.5, "worker-2", "took", 'taking job-0000000001: "job 2 from producer-1"', role="queue-worker",
           state="working", path=job(1), n=3, job="job-0000000001"),
        ev(2.6, "worker-1", "trying-lock", "worker worker-1 trying lock /queue/jobs-lock", role="queue-worker",
           state="waiting", n=2),
    ]
    return out


def queue_tree() -> StaticTree:
    return StaticTree.from_dict({
        **{f"/queue/jobs/job-{i:010d}": f"job {i + 1} from producer-1".encode() for i in (1, 2, 3)},
        "/queue/jobs-lock/lock-0000000004": (b"worker-2", {"ephemeralOwner": OWNER + 3}),
    })


def discovery_events() -> list[ActorEvent]:
    out = spawned(0, "lb-1", "discovery", 1)
    pool = []
    for i in (1, 2, 3):
        out += spawned(0.1 * i, f"svc-{i}", "service", i + 1)
        address = f"127.0.0.1:{8079 + i}"
        node = f"/services/payment/instance-{i - 1:010d}"
        out.append(ev(1.0 + i, f"svc-{i}", "registered", f"registered {node} = {address}", role="service",
                      state="registered", path=node, n=i + 1))
        pool.append(address)
        out.append(ev(1.05 + i, "lb-1", "changed", f"service pool changed: {pool}", role="discovery",
                      state="watching", path="/services/payment", watching="/services/payment", n=1,
                      addresses=list(pool)))
    return out


def discovery_tree() -> StaticTree:
    return StaticTree.from_dict({f"/services/payment/instance-{i:010d}": (f"127.0.0.1:{8080 + i}".encode(),
                                                                           {"ephemeralOwner": OWNER + i + 2})
                                 for i in range(3)})


def barrier_events() -> list[ActorEvent]:
    out: list[ActorEvent] = []
    for i in (1, 2, 3):
        out += spawned(0.1 * i, f"member-{i}", "barrier", i)
        out.append(ev(1.0 + 0.1 * i, f"member-{i}", "arrived", f"created /barrier/double/member-{i}; {i} of 3 here",
                      role="barrier", state="waiting", path=f"/barrier/double/member-{i}", n=i))
    out.append(ev(1.35, "member-3", "ready", "all 3 arrived; created /barrier/double/ready", role="barrier",
                  path="/barrier/double/ready", n=3))
    for i in (1, 2, 3):
        out.append(ev(1.4, f"member-{i}", "entered", "/barrier/double/ready exists: entering", role="barrier",
                      state="working", path=f"/barrier/double/member-{i}", n=i))
    return out


def barrier_tree() -> StaticTree:
    return StaticTree.from_dict({**{f"/barrier/double/member-{i}": (b"", {"ephemeralOwner": OWNER + i})
                                    for i in (1, 2, 3)}, "/barrier/double/ready": b""})


def config_events() -> list[ActorEvent]:
    out = spawned(0, "set-1", "config-set", 9)
    out.append(ev(0.8, "set-1", "set", 'set /app/config = {"log_level": "INFO"} (version 0)', role="config-set",
                  path="/app/config", n=9, version=0))
    out += [ev(0.9, "set-1", "exited", "process ended (exit code 0)", role="config-set", state="stopped",
               source="supervisor", returncode=0)]
    for i in (1, 2, 3):
        out += spawned(0.1 * i, f"app-{i}", "config-app", i)
        out.append(ev(1.0 + 0.1 * i, f"app-{i}", "reading", "reading config from /app/config", role="config-app",
                      state="watching", path="/app/config", n=i))
        out.append(ev(1.05 + 0.1 * i, f"app-{i}", "loaded", 'current config: {"log_level": "INFO"}',
                      role="config-app", state="watching", path="/app/config", watching="/app/config", n=i))
    return out


def config_tree() -> StaticTree:
    return StaticTree.from_dict({"/app/config": b'{"log_level": "INFO"}'})


def master_worker_events() -> list[ActorEvent]:
    out = spawned(0, "master-1", "master", 1) + spawned(0.1, "master-2", "master", 2)
    out += spawned(0.2, "worker-1", "worker", 3) + spawned(0.3, "worker-2", "worker", 4)
    m = "/mw/masters/node-{:010d}".format
    out += [
        ev(1.0, "worker-1", "registered", "registered /mw/workers/worker-1", role="worker", state="registered",
           path="/mw/workers/worker-1", n=3),
        ev(1.01, "worker-2", "registered", "registered /mw/workers/worker-2", role="worker", state="registered",
           path="/mw/workers/worker-2", n=4),
        ev(1.1, "master-1", "created", f"created {m(0)}", role="master", state="follower", path=m(0), n=1),
        ev(1.11, "master-1", "elected", "I am the leader (epoch 21)", role="master", state="leader", path=m(0),
           watching=m(0), n=1, epoch=21),
        ev(1.2, "master-2", "created", f"created {m(1)}", role="master", state="follower", path=m(1), n=2),
        ev(1.21, "master-2", "following", "leader is node-0000000000, I follow; watching node-0000000000",
           role="master", state="follower", path=m(1), watching=m(0), n=2),
        ev(1.3, "master-1", "workers", "workers: ['worker-1', 'worker-2']", role="master", state="leader",
           path="/mw/workers", watching="/mw/workers", n=1, workers=["worker-1", "worker-2"]),
        *spawned(1.5, "submit-1", "task-submit", 5),
        ev(2.0, "submit-1", "submitted", "submitted /mw/jobs/task-0000000000", role="task-submit",
           path="/mw/jobs/task-0000000000", n=5, task="task-0000000000"),
        ev(2.05, "submit-1", "exited", "process ended (exit code 0)", role="task-submit", state="stopped",
           source="supervisor", returncode=0),
        ev(2.1, "master-1", "assigned", "assigned task-0000000000 to worker-1 (/mw/tasks/worker-1/task-0000000000)",
           role="master", path="/mw/tasks/worker-1/task-0000000000", n=1, task="task-0000000000", worker="worker-1"),
        ev(2.2, "worker-1", "working", "working on task-0000000000: 'task 1'", role="worker", state="working",
           path="/mw/tasks/worker-1/task-0000000000", n=3, task="task-0000000000"),
        ev(2.3, "worker-2", "idle", "no tasks under /mw/tasks/worker-2; waiting", role="worker", state="waiting",
           path="/mw/tasks/worker-2", watching="/mw/tasks/worker-2", n=4),
    ]
    return out


def master_worker_tree() -> StaticTree:
    return StaticTree.from_dict({
        "/mw/masters/node-0000000000": (b"master-1", {"ephemeralOwner": OWNER + 1}),
        "/mw/masters/node-0000000001": (b"master-2", {"ephemeralOwner": OWNER + 2}),
        "/mw/workers/worker-1": (b"", {"ephemeralOwner": OWNER + 3}),
        "/mw/workers/worker-2": (b"", {"ephemeralOwner": OWNER + 4}),
        "/mw/tasks/worker-1/task-0000000000": b"task 1",
        "/mw/jobs": None, "/mw/done": None,
    })


SCENARIOS = {
    "lock": (lock_events, lock_tree),
    "election": (election_events, election_tree),
    "queue": (queue_events, queue_tree),
    "discovery": (discovery_events, discovery_tree),
    "barrier": (barrier_events, barrier_tree),
    "config": (config_events, config_tree),
    "master-worker": (master_worker_events, master_worker_tree),
}


class SnapshotHost(App[None]):
    def __init__(self, kind: str, events: list[ActorEvent] | None = None) -> None:
        super().__init__()
        self.kind = kind
        make_events, make_tree = SCENARIOS[kind]
        self.events = make_events() if events is None else events
        self.tree_model = make_tree()

    def on_mount(self) -> None:
        self.demo = DemoScreen(FixedWorkbench(), self.kind, autostart=False, tree_model=self.tree_model,
                               clock=lambda: NOW, session_timeout=5.0)
        self.push_screen(self.demo)
        self.call_after_refresh(self.demo.feed, self.events)


async def until(pilot: Any, predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def _tree_expanded(screen: DemoScreen) -> bool:
    """Every znode of the demo's (small) subtree that has children is drawn expanded."""
    tree = screen._tree  # noqa: SLF001
    if tree is None:
        return True
    if tree.model is None or tree.pending:
        return False
    stack = [screen.spec.base]
    while stack:
        path = stack.pop()
        kids = list(tree.model.children(path)) if path in tree.model else []
        node = tree.node_for(path)
        if kids and (node is None or not node.is_expanded):
            return False
        stack.extend(f"{path.rstrip('/')}/{k}" for k in kids[:50])
    return True


async def settle(pilot: Any) -> None:
    """Wait until the fed events are all drawn: model, narration, cards, invariant line and the expanded tree."""
    app, screen = pilot.app, pilot.app.demo

    def drawn() -> bool:
        return (len(screen.model.history) >= len(app.events) and not screen._pending_log  # noqa: SLF001
                and not screen.model.stale and len(screen._cards) == len(screen.model.cards)  # noqa: SLF001
                and all(card.is_mounted for card in screen._cards.values())  # noqa: SLF001
                and _tree_expanded(screen))

    await until(pilot, drawn, "the demo screen to draw its events")
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_demo_snapshot_wide(kind: str, snap_compare: Any) -> None:
    assert snap_compare(SnapshotHost(kind), terminal_size=(200, 60), run_before=settle)


@pytest.mark.parametrize("kind", ["lock", "discovery"])
def test_demo_snapshot_80x24(kind: str, snap_compare: Any) -> None:
    assert snap_compare(SnapshotHost(kind), terminal_size=(80, 24), run_before=settle)


def test_demo_snapshot_80x24_note_toggled(snap_compare: Any) -> None:
    async def run(pilot: Any) -> None:
        await settle(pilot)
        screen = pilot.app.demo
        side = screen.query_one("#demo-side")
        assert screen.has_class("-narrow") and not side.display  # at 80x24 the note replaces the tree
        await pilot.press("n")
        await until(pilot, lambda: side.display and side.region.height > 0, "the note")
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(SnapshotHost("lock"), terminal_size=(80, 24), run_before=run)


def test_demo_snapshot_violation_is_red(snap_compare: Any) -> None:
    """Two running, unpaused holders of one lock: the line turns red and names them."""
    events = lock_events()[:-3] + [
        ev(3.5, "lock-3", "acquired", "acquired lock lock-0000000002 (fencing token 9)", role="lock",
           state="holding", path="/locks/db/lock-0000000002", n=3, token=9),
        ev(3.6, "lock-2", "acquired", "acquired lock lock-0000000001 (fencing token 8)", role="lock",
           state="holding", path="/locks/db/lock-0000000001", n=2, token=8),
        ev(4.0, "lock-3", "fenced-write", "wrote /locks/resource with token 9", role="lock", path="/locks/resource",
           n=3, token=9, accepted=True),
    ]
    model = DemoModel(demo_spec("lock"))
    model.apply(events)
    inv = model.invariant()
    assert inv.level is Level.VIOLATED and inv.text == "VIOLATED: lock-2 and lock-3 both hold the lock"
    assert snap_compare(SnapshotHost("lock", events), terminal_size=(120, 30), run_before=settle)
