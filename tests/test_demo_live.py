"""Pilot tests of the demo screens against the live test server, with real actor processes.

Each demo: start its actors, crash the one the lesson says to crash (the holder, the leader, …), and check that the
screen shows the new holder/leader and that the invariant line stays green; leaving the demo stops every actor.
Actors use 1 s sessions (the test server's tickTime is 250 ms), so a crash shows within about a second.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.app import App

from zkbench.connection import ConnectionSettings
from zkbench.demos import Fate, Level
from zkbench.screens.demo import DemoScreen
from zkbench.widgets.actor_card import ActorCard
from zkbench.widgets.invariant_line import InvariantLine
from zkbench.workbench import Workbench

from app_pilot import palette_run

SESSION = 1.0


class DemoHost(App[None]):
    """Pushes one DemoScreen and drains the workbench's event queue into it, like ZkBenchApp does."""

    def __init__(self, workbench: Workbench, kind: str, **kwargs: Any) -> None:
        super().__init__()
        self.workbench = workbench
        self.kind = kind
        self.kwargs = kwargs
        self.demo: DemoScreen | None = None

    def on_mount(self) -> None:
        self.demo = DemoScreen(self.workbench, self.kind, session_timeout=SESSION, **self.kwargs)
        self.push_screen(self.demo)
        self.set_interval(0.05, self._drain)

    def _drain(self) -> None:
        batch = []
        while not self.workbench.events.empty():
            batch.append(self.workbench.events.get_nowait())
        if batch:
            for screen in self.screen_stack:
                apply = getattr(screen, "apply_events", None)
                if apply is not None:
                    apply(batch)


@pytest.fixture
def workbench(zk_chroot_hosts: str) -> Iterator[Workbench]:
    """A workbench on this test's chroot (so every demo uses its course paths); with the mirror when it exists."""
    wb = Workbench(ConnectionSettings(hosts=zk_chroot_hosts, session_timeout=4.0))
    wb.open(start_mirror=True)
    try:
        yield wb
    finally:
        wb.close()


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what or predicate}")


def cards_in(screen: DemoScreen, state: str, role: str | None = None) -> list[str]:
    return [c.id for c in screen.model.cards.values()
            if c.state == state and c.fate is Fate.RUNNING and (role is None or c.role == role)]


def card_text(screen: DemoScreen, actor_id: str) -> str:
    return str(screen._cards[actor_id].render())  # noqa: SLF001


def assert_green(screen: DemoScreen) -> None:
    screen._refresh_invariant(force=True)  # noqa: SLF001 - the line is redrawn at most 4x/s; read it current
    line = screen.query_one(InvariantLine)
    history = "\n".join(f"{e.time:.3f} {e.actor} {e.source} {e.kind} {e.state} {e.message}"
                        for e in screen.model.history[-60:])
    assert line.level == Level.OK.value, (f"invariant line not green: {line.text}\n"
                                          f"{screen.model.invariant().detail}\n{history}")
    assert screen.model.invariant().level is Level.OK


def pids_alive(pids: list[int]) -> list[int]:
    return [p for p in pids if os.path.exists(f"/proc/{p}") and
            open(f"/proc/{p}/stat").read().split(")")[-1].split()[0] != "Z"]


async def leave_and_check(app: DemoHost, pilot: Any) -> list[int]:
    """Press Escape (leave the demo): every actor it started must be gone."""
    screen = app.demo
    assert screen is not None
    pids = [c.pid for c in screen.model.cards.values() if c.pid]
    await pilot.press("escape")
    await wait_for(pilot, lambda: screen.closing is not None, what="the demo to start closing")
    screen.closing.join(10)
    assert not screen.closing.is_alive()
    assert pids_alive(pids) == [], "actors left running after leaving the demo"
    return pids


async def test_lock_demo_crash_holder_hands_over(workbench: Workbench, zk: Any) -> None:
    app = DemoHost(workbench, "lock", options={"lock": {"hold": 30.0}})
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.demo
        holder = (await wait_for(pilot, lambda: cards_in(screen, "holding"), what="a lock holder"))[0]
        await wait_for(pilot, lambda: len(cards_in(screen, "waiting")) == 2, what="two waiters")
        assert "HOLDING" in card_text(screen, holder)
        assert "watching /locks/db/" in card_text(screen, cards_in(screen, "waiting")[0])
        await wait_for(pilot, lambda: screen.query_one(InvariantLine).text.startswith(
            f"mutual exclusion: held by {holder}"), what="the holder on the invariant line")
        await pilot.press("K")  # crash the holder
        new = (await wait_for(pilot, lambda: [a for a in cards_in(screen, "holding") if a != holder],
                              what="a new holder"))[0]
        assert screen.model.cards[holder].fate is Fate.CRASHED
        assert "CRASHED" in screen._cards[holder].border_subtitle  # noqa: SLF001 - the card stays
        assert_green(screen)
        assert f"held by {new}" in screen.query_one(InvariantLine).text
        # the narration shows the crash and the handover, interleaved in time order
        def log_has(*words: str) -> bool:
            return any(all(w in str(line) for w in words) for line in screen.query_one("#demo-log").lines)

        await wait_for(pilot, lambda: log_has(holder, "SIGKILL") and log_has(new, "acquired lock"),
                       what="the narration")
        # a graceful stop hands over at once (no session timeout to wait for)
        screen.selected = new
        await pilot.press("s")
        third = (await wait_for(pilot, lambda: [a for a in cards_in(screen, "holding") if a not in (holder, new)],
                                what="the third holder"))[0]
        # the stopped holder exits cleanly (SIGTERM: exit 0), and its card says so instead of "crashed"
        await wait_for(pilot, lambda: screen.model.cards[new].fate is Fate.STOPPED, what=f"{new} to exit")
        assert screen.model.cards[new].returncode == 0
        assert screen._cards[new].border_subtitle.startswith("stopped exit 0")  # noqa: SLF001

        def handover(signal_kind: str, from_actor: str, to_actor: str) -> float:
            h = screen.model.history
            sent = next(e.time for e in h if e.kind == signal_kind and e.actor == from_actor)
            return next(e.time for e in h if e.kind == "acquired" and e.actor == to_actor) - sent

        # a crash hands over only when the session expires; a graceful stop at once
        after_crash = handover("crashed", holder, new)
        after_stop = handover("stop-requested", new, third)
        print(f"lock handover with {SESSION:g}s sessions: after SIGKILL {after_crash:.3f}s, "
              f"after SIGTERM {after_stop:.3f}s")
        assert after_crash >= 0.5 * SESSION, after_crash  # the last heartbeat may precede the kill
        assert after_stop < after_crash and after_stop < SESSION, (after_stop, after_crash)
        assert_green(screen)
        if workbench.mirror is not None:
            await wait_for(pilot, lambda: screen._tree.node_for("/locks/db") is not None, what="tree")  # noqa: SLF001
        await leave_and_check(app, pilot)
    assert zk.get_children("/locks/db") == []


async def test_lock_demo_gc_pause_lesson(workbench: Workbench) -> None:
    app = DemoHost(workbench, "lock", autostart=(("lock", 2),), options={"lock": {"hold": 30.0}})
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.demo
        holder = (await wait_for(pilot, lambda: cards_in(screen, "holding"), what="a holder"))[0]
        await wait_for(pilot, lambda: cards_in(screen, "waiting"), what="a waiter")
        await wait_for(pilot, lambda: "fence" in screen.model.cards[holder].facts, what="a fenced write")
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.model.lessons, timeout=30, what="the lesson")
        assert "both believed they held it" in screen.model.lessons[-1]
        await wait_for(pilot, lambda: screen.model.cards[holder].facts.get("fence", "").startswith("REJECTED"),
                       timeout=20, what="the stale write rejected")
        line = screen.query_one(InvariantLine)
        await wait_for(pilot, lambda: "both believed" in line.text and "stale write was rejected" in line.text,
                       what="the lesson on the invariant line")
        assert line.level == Level.NOTE.value  # amber, never red: fencing kept the resource safe
        await wait_for(pilot, lambda: "REJECTED" in str(screen.query_one("#demo-extra").render()),
                       what="the rejected write in the side panel")
        await leave_and_check(app, pilot)


async def test_election_demo_crash_leader(workbench: Workbench) -> None:
    app = DemoHost(workbench, "election")
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.demo
        leader = (await wait_for(pilot, lambda: cards_in(screen, "leader"), what="a leader"))[0]
        await wait_for(pilot, lambda: len(cards_in(screen, "follower")) == 2, what="two followers")
        assert_green(screen)
        assert screen.query_one(InvariantLine).text.startswith(f"1 leader: {leader}, epoch ")
        await pilot.press("K")
        new = (await wait_for(pilot, lambda: [a for a in cards_in(screen, "leader") if a != leader],
                              what="a new leader"))[0]
        assert_green(screen)
        assert screen.query_one(InvariantLine).text.startswith(f"1 leader: {new}, epoch ")
        assert int(screen.model.cards[new].facts["epoch"].split()[0]) > 0
        await leave_and_check(app, pilot)


async def test_election_demo_gc_pause_lesson(workbench: Workbench) -> None:
    app = DemoHost(workbench, "election", autostart=(("candidate", 2),))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.demo
        leader = (await wait_for(pilot, lambda: cards_in(screen, "leader"), what="a leader"))[0]
        await wait_for(pilot, lambda: cards_in(screen, "follower"), what="a follower")
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.model.lessons, timeout=30, what="the lesson")
        assert screen.model.lessons[-1].startswith(f"{leader} was paused while it believed it held leadership")
        await wait_for(pilot, lambda: screen.model.cards[leader].state != "leader", what="the old leader steps down")
        line = screen.query_one(InvariantLine)
        await wait_for(pilot, lambda: "both believed" in line.text, what="the lesson on the line")
        assert line.level == Level.NOTE.value
        await leave_and_check(app, pilot)


async def test_queue_demo_crash_working_worker(workbench: Workbench) -> None:
    app = DemoHost(workbench, "queue", options={"producer": {"interval": 0.3}, "worker": {"work": 3.0}})
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.demo
        busy = (await wait_for(pilot, lambda: cards_in(screen, "working", "queue-worker"), what="a busy worker"))[0]
        job = screen.model.cards[busy].facts["job"]
        await pilot.press("K")
        ended = await wait_for(pilot, lambda: screen.model.cards[busy].ended, what=f"{busy} to end")
        other = await wait_for(pilot, lambda: [e for e in screen.model.history if e.kind == "took"
                                               and e.actor != busy and e.time > ended],
                               what="another worker takes a job")
        # a crashed worker takes nothing more: every later "took" is a live worker's
        assert all(screen.model.cards[e.actor].fate is Fate.RUNNING and e.actor != busy for e in other)
        assert not [e for e in screen.model.history if e.actor == busy and e.kind == "took" and e.time > ended]
        await wait_for(pilot, lambda: any(e.kind == "done" and e.actor != busy for e in screen.model.history),
                       what="a job done")
        assert_green(screen)
        # the crashed worker's job is taken again (at-least-once), and the line says so in green
        await wait_for(pilot, lambda: any(e.kind == "took" and e.details.get("job") == job and e.actor != busy
                                          for e in screen.model.history), what=f"{job} taken again")
        assert_green(screen)
        await leave_and_check(app, pilot)


async def test_discovery_demo_crash_instance(workbench: Workbench) -> None:
    app = DemoHost(workbench, "discovery")
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.demo

        def pool() -> list[str]:
            lb = [c for c in screen.model.cards.values() if c.role == "discovery" and "pool" in c.facts]
            return lb[0].facts["pool"].split(", ") if lb else []

        await wait_for(pilot, lambda: len(pool()) == 3, what="3 instances in the pool")
        assert_green(screen)
        await pilot.press("w")  # start worker: the pool grows
        await wait_for(pilot, lambda: len(pool()) == 4, what="4 instances")
        await pilot.press("r")  # crash a random worker: it leaves the pool when its session expires
        await wait_for(pilot, lambda: len(pool()) == 3, what="the pool shrinks")
        crashed = [c for c in screen.model.cards.values() if c.fate is Fate.CRASHED]
        assert len(crashed) == 1 and crashed[0].facts["address"] not in pool()
        assert_green(screen)
        assert "load balancer sees all 3 live instance(s)" in screen.query_one(InvariantLine).text
        await leave_and_check(app, pilot)


async def test_barrier_demo_crash_member(workbench: Workbench) -> None:
    # each member works 5 s inside the barrier: under load the three may enter seconds apart, so wait for three
    # "entered" events rather than a moment when all three cards say "working" at once
    app = DemoHost(workbench, "barrier", options={"member": {"work": 5.0}})
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.demo
        await wait_for(pilot, lambda: len({e.actor for e in screen.model.history if e.kind == "entered"}) == 3,
                       what="all 3 entered")
        assert_green(screen)
        victim = (await wait_for(pilot, lambda: cards_in(screen, "working"), what="a member at work"))[0]
        screen.selected = victim
        await pilot.press("k")
        survivors = [a for a in screen.model.cards if a != victim]
        await wait_for(pilot, lambda: all(any(e.kind == "left" and e.actor == a for e in screen.model.history)
                                          for a in survivors), timeout=30, what="the survivors leave")
        assert_green(screen)
        # the simple barrier: raise the gate, a waiter blocks, lift it, the waiter passes
        await pilot.press("u")
        await wait_for(pilot, lambda: any(e.kind == "raised" for e in screen.model.history), what="gate raised")
        await pilot.press("w")
        await wait_for(pilot, lambda: any(e.kind == "waiting" and e.actor.startswith("waiter")
                                          for e in screen.model.history), what="a waiter")
        await pilot.press("l")
        await wait_for(pilot, lambda: any(e.kind == "passed" for e in screen.model.history), what="passed")
        assert_green(screen)
        await leave_and_check(app, pilot)


async def test_config_demo_crash_app_and_set_value(workbench: Workbench) -> None:
    app = DemoHost(workbench, "config")
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.demo
        await wait_for(pilot, lambda: len([c for c in screen.model.live() if "config" in c.facts
                                           and c.role == "config-app"]) == 3, what="3 apps loaded")
        assert_green(screen)
        victim = [c.id for c in screen.model.live() if c.role == "config-app"][0]
        screen.selected = victim
        await pilot.press("k")
        await wait_for(pilot, lambda: screen.model.cards[victim].fate is Fate.CRASHED, what="crashed")
        await pilot.press("v")
        field = await wait_for(pilot, lambda: next(iter(app.screen.query("#demo-config-input")), None),
                               what="the config input")
        field.value = '{"log_level": "DEBUG"}'
        await pilot.press("enter")
        await wait_for(pilot, lambda: 'all 2 apps see the latest config: {"log_level": "DEBUG"}'
                       in screen.query_one(InvariantLine).text, what="apps reloaded")
        assert_green(screen)
        await leave_and_check(app, pilot)


async def test_master_worker_demo_crash_master(workbench: Workbench) -> None:
    app = DemoHost(workbench, "master-worker", autostart=(("master", 2), ("worker", 1)),
                   options={"worker": {"work": 0.2}})
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.demo
        master = (await wait_for(pilot, lambda: cards_in(screen, "leader", "master"), what="an active master"))[0]
        await wait_for(pilot, lambda: cards_in(screen, "waiting", "worker"),
                       what="a registered worker")
        await pilot.press("t")
        await wait_for(pilot, lambda: sum(e.kind == "task-done" for e in screen.model.history) == 5,
                       what="5 tasks done")
        assert_green(screen)
        await pilot.press("K")
        new = (await wait_for(pilot, lambda: [a for a in cards_in(screen, "leader", "master") if a != master],
                              what="a new master"))[0]
        # the same control through the command palette
        await palette_run(pilot, "submit tasks", "Demo: Submit tasks")
        await wait_for(pilot, lambda: sum(e.kind == "task-done" for e in screen.model.history) == 10,
                       what="5 more tasks done under the new master")
        assert_green(screen)
        assert screen.query_one(InvariantLine).text.startswith(f"1 active master: {new}")
        await leave_and_check(app, pilot)


async def test_quitting_the_app_stops_every_actor(workbench: Workbench) -> None:
    app = DemoHost(workbench, "election")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.demo
        await wait_for(pilot, lambda: len([c for c in screen.model.cards.values() if c.pid]) == 3, what="3 pids")
        await wait_for(pilot, lambda: cards_in(screen, "leader"), what="a leader")
        pids = [c.pid for c in screen.model.cards.values()]
        assert len(app.screen.query(ActorCard)) == 3
        await pilot.press("2")  # select the second card; down moves to the third
        assert screen.selected == "cand-2"
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.selected == "cand-3" and screen._cards["cand-3"].has_class("-selected"),
                       what="the third card selected")  # noqa: SLF001
        await pilot.press("p")  # pause it: its card says so
        await wait_for(pilot, lambda: screen.model.cards["cand-3"].fate is Fate.PAUSED, what="paused")
        await wait_for(pilot, lambda: "PAUSED" in screen._cards["cand-3"].border_subtitle,  # noqa: SLF001
                       what="the card to say PAUSED")
        await pilot.press("ctrl+q")
    assert screen.closing is not None
    screen.closing.join(10)
    assert pids_alive(pids) == []


async def test_read_only_mode_starts_no_actor(workbench: Workbench) -> None:
    """Read-only means zkbench writes nothing: the demo says so instead of starting actors that would write."""
    workbench.read_only = True
    app = DemoHost(workbench, "lock")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.demo

        def refusals() -> int:
            return sum("Read-only mode is on" in n.message for n in app._notifications)  # noqa: SLF001

        await wait_for(pilot, refusals, what="the autostart refused")
        before = refusals()
        await pilot.press("a")
        await wait_for(pilot, lambda: refusals() > before, what="adding an actor refused")
        assert screen.model.cards == {} and screen.supervisor is None
        workbench.read_only = False
        screen.on_read_only_changed(False)  # what the app calls after F6
        await wait_for(pilot, lambda: len(screen.model.cards) == 3, what="the actors start")
        await leave_and_check(app, pilot)


def test_every_demo_offers_its_controls_in_the_palette() -> None:
    from zkbench.demos import DEMO_SPECS

    for kind, spec in DEMO_SPECS.items():
        screen = DemoScreen(None, kind, autostart=False)
        titles = [title for title, _help, _cb in screen.palette_commands()]
        for control in spec.controls:
            assert f"Demo: {control.title}" in titles, (kind, control)
            assert screen.check_action(control.action, ()) is True
        assert "Demo: crash selected actor" in titles and "Demo: leave" in titles
        others = {c.action for k, sp in DEMO_SPECS.items() if k != kind for c in sp.controls}
        for action in others - {c.action for c in spec.controls}:
            assert not screen.check_action(action, ()), (kind, action)


async def test_reachable_from_the_app_and_left_cleanly(zk_chroot_hosts: str) -> None:
    """`zkbench demo election` opens the app on the demo; Esc goes back and stops its actors; F4 picks another."""
    from zkbench.app import NavBar, ZkBenchApp

    workbench = Workbench(ConnectionSettings(hosts=zk_chroot_hosts, session_timeout=4.0))
    app = ZkBenchApp(workbench, start_screen="demo:election")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, DemoScreen) else None,
                                    what="the demo screen")
            await wait_for(pilot, lambda: cards_in(screen, "leader"), what="a leader")
            assert "Demo › Leader election" in str(screen.query_one(NavBar).render())
            pids = [c.pid for c in screen.model.cards.values()]
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, DemoScreen), what="back to the main screen")
            screen.closing.join(10)
            assert pids_alive(pids) == []
            await pilot.press("f4")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "DemoPicker", what="the demo picker")
            await pilot.press("enter")  # the first demo in the picker: lock
            lock = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, DemoScreen) else None,
                                  what="the lock demo")
            assert lock.kind == "lock"
            await wait_for(pilot, lambda: cards_in(lock, "holding"), what="a holder")
            pids = [c.pid for c in lock.model.cards.values()]
            await pilot.press("ctrl+q")
        lock.closing.join(10)
        assert pids_alive(pids) == []
    finally:
        workbench.close()
