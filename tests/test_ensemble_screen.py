"""EnsembleScreen: pilot tests against a real 3-node ensemble (failover, a down member, kill/restart from the
screen) and the real test server (clients view, ephemerals of a session); snapshots from fixed health records."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from zkbench.connection import ConnectionSettings, connect
from zkbench.ensemble import (EnsembleMonitor, EnsembleSnapshot, EnsembleUpdate, Mode, ServerHealth, ServerTarget,
                              Zxid, recorded_ensemble, targets_from_local)
from zkbench.screens.ensemble import EnsembleScreen
from zkbench.server import LocalEnsemble, LocalServer
from zkbench.widgets.ensemble_card import ServerCard

SHOTS = Path(os.environ.get("ZKBENCH_SHOTS", "/tmp/zkbench-shots"))


class HostApp(App[None]):
    """A bare app that opens the screen under test on top of an empty default screen."""

    def __init__(self, make_screen: Callable[[], EnsembleScreen]) -> None:
        super().__init__()
        self.make_screen = make_screen

    def compose(self) -> ComposeResult:
        yield Static("host", id="host")

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())


async def wait_until(pilot, predicate: Callable[[], object], timeout: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await pilot.pause(0.1)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def _cards(app: App) -> dict[int | None, ServerCard]:
    return {card.target.myid: card for card in app.screen.query(ServerCard)}


def _timeline(app: App) -> str:
    return "\n".join(app.screen.timeline_lines)


def _save(app: App, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    app.save_screenshot(str(SHOTS / f"{name}.svg"))


@pytest.mark.ensemble
async def test_screen_shows_leader_failover_and_restart(zk_ensemble: LocalEnsemble) -> None:
    old = zk_ensemble.wait_for_leader(30)
    app = HostApp(lambda: EnsembleScreen(targets_from_local(zk_ensemble), zk_ensemble, timeout=0.5))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: any(c.has_class("-leader") for c in _cards(app).values()), 20, "a leader")
        cards = _cards(app)
        assert sorted(cards) == [1, 2, 3]
        assert cards[old].has_class("-leader") and "LEADER" in str(cards[old].border_title)
        assert sum(c.has_class("-leader") for c in cards.values()) == 1
        assert f"new leader: server {old}" in _timeline(app)
        _save(app, "ensemble-120x36")

        cards[old].focus()
        await pilot.press("k")  # kill the leader from the screen
        try:
            polls_before = app.screen._polls
            await wait_until(pilot, lambda: _cards(app)[old].has_class("-down"), 6, "the killed member to turn red")
            assert app.screen._polls - polls_before <= 3  # the kill itself triggers a poll; red within two more
            new = await wait_until(pilot, lambda: next((m for m, c in _cards(app).items()
                                                        if c.has_class("-leader") and m != old), None),
                                   20, "a new leader on screen")
            assert "DOWN" in str(_cards(app)[old].border_title)
            text = _timeline(app)
            assert f"server {old} is DOWN" in text and f"new leader: server {new} (was server {old})" in text
            summary = str(app.screen.query_one("#ensemble-summary", Static).render())
            assert "2/3 servers answering" in summary and f"leader: server {new}" in summary
            _save(app, "ensemble-failover-120x36")
        finally:
            _cards(app)[old].focus()
            await pilot.press("r")
            await wait_until(pilot, lambda: _cards(app)[old].health is not None
                             and _cards(app)[old].health.mode is Mode.FOLLOWER, 60, "the old leader to rejoin")
        await wait_until(pilot, lambda: f"server {old} is back: follower" in _timeline(app), 10,
                         "the timeline to say the old leader is back")
        await pilot.press("escape")
        assert not isinstance(app.screen, EnsembleScreen)
    assert zk_ensemble.member(old).mode() == "follower"


@pytest.mark.ensemble
async def test_screen_finds_a_recorded_ensemble_by_connect_string(zk_ensemble: LocalEnsemble, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`zkbench ensemble up` records its members; the screen opened on that connect string can kill/restart."""
    monkeypatch.setenv("ZKBENCH_RUN_DIR", str(tmp_path))
    (tmp_path / "ensemble").mkdir()
    state = tmp_path / "ensemble" / "state.json"
    zk_ensemble.save_state(state, "ensemble")
    hosts = zk_ensemble.connect_string.replace("127.0.0.1", "localhost")
    found = recorded_ensemble(hosts)
    assert found is not None and [m.pid for m in found.members] == [m.pid for m in zk_ensemble.members]
    assert recorded_ensemble(zk_ensemble.members[0].address) is None  # a different set of servers
    assert recorded_ensemble(hosts + "/chroot") is not None  # a chroot does not change the servers

    app = HostApp(lambda: EnsembleScreen(hosts, timeout=0.5))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: any(c.has_class("-leader") for c in _cards(app).values()), 20, "a leader")
        assert app.screen.ensemble is not None and app.screen.check_action("kill_member", ()) is True
        assert sorted(_cards(app)) == [1, 2, 3]  # labelled by myid, from the recorded members
        summary = str(app.screen.query_one("#ensemble-summary", Static).render())
        assert "k kill, r restart" in summary

    state.write_text("{not json")
    assert recorded_ensemble(hosts) is None  # a broken state file is ignored (and logged), never raised


async def test_clients_view_lists_sessions_and_their_ephemerals(zk_server: LocalServer, zk_root: str) -> None:
    # a session that outlives a loaded machine's stalls: with 2 s it expired under a CPU hog, and the new
    # session's id was not the one the test looks for
    client = connect(ConnectionSettings(hosts=zk_server.connect_string, session_timeout=15))
    try:
        path = client.create(f"{zk_root}/worker-", b"", ephemeral=True, sequence=True)
        sid = f"0x{client.client_id[0]:x}"
        app = HostApp(lambda: EnsembleScreen(zk_server.connect_string, timeout=0.5))
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: _cards(app) and next(iter(_cards(app).values())).health, 10,
                             "the first poll")
            card = next(iter(_cards(app).values()))
            assert card.health.mode is Mode.STANDALONE
            await pilot.press("c")
            table = app.screen.query_one("#clients-table", DataTable)
            await wait_until(pilot, lambda: any(sid in str(k.value) for k in table.rows), 30, "our session row")
            row = next(i for i, k in enumerate(table.rows) if sid in str(k.value))
            table.move_cursor(row=row)
            await pilot.press("enter")
            ephemerals = app.screen.query_one("#ephemerals", Static)
            await wait_until(pilot, lambda: path in str(ephemerals.render()), 30, "the session's ephemerals")
            assert f"session {sid} owns 1 ephemeral znode(s)" in str(ephemerals.render())
            _save(app, "ensemble-clients-100x30")
    finally:
        client.stop()
        client.close()


async def test_kill_is_disabled_without_a_local_ensemble(zk_server: LocalServer) -> None:
    app = HostApp(lambda: EnsembleScreen(zk_server.connect_string, timeout=0.5))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, EnsembleScreen), 10, "the ensemble screen")
        assert app.screen.check_action("kill_member", ()) is None
        await pilot.press("k")
        assert zk_server.server.running()


# ------------------------------------------------------------------------------------------- snapshots


T = [ServerTarget("10.0.0.1", 2181, 8080, 1), ServerTarget("10.0.0.2", 2181, 8080, 2),
     ServerTarget("10.0.0.3", 2181, 8080, 3)]


def _fixed_update() -> EnsembleUpdate:
    """A leader, a lagging follower read partly through the AdminServer, and a dead server; 20 polls of history."""
    monitor = EnsembleMonitor(T, clock=lambda: 0.0)
    base = 1_700_000_000.0
    update = None
    events = []
    for i in range(20):
        now = base + i
        servers = (
            ServerHealth(T[0], Mode.FOLLOWER, source="4lw", version="3.8.0", zxid=Zxid(0x300000000 + 40 + i),
                         latency_min=0, latency_avg=0.4 + (i % 5) / 10, latency_max=12, received=1000 + 40 * i,
                         sent=1000 + 40 * i, outstanding=0, connections=4, znodes=120, watches=8, watched_paths=5,
                         ephemerals=3, data_size=4096, ruok=True, taken_at=now),
            ServerHealth(T[1], Mode.LEADER if i >= 5 else Mode.FOLLOWER, source="4lw", zxid=Zxid(0x300000000 + 44 + i),
                         latency_min=0, latency_avg=1.5, latency_max=30, received=5000 + 120 * i + (i % 3) * 50,
                         sent=5000 + 120 * i, outstanding=2, connections=9, znodes=120, watches=21, watched_paths=9,
                         ephemerals=3, data_size=4096, ruok=True, synced_followers=1, taken_at=now),
            ServerHealth(T[2], Mode.LEADER if i < 5 else Mode.DOWN, source="4lw" if i < 5 else None,
                         error=None if i < 5 else "10.0.0.3:2181 unreachable for 'srvr': Connection refused",
                         zxid=Zxid(0x300000000 + 44) if i < 5 else None, taken_at=now),
        )
        if i == 19:
            servers = (servers[0], ServerHealth(
                T[1], Mode.LEADER, source="4lw + AdminServer", zxid=Zxid(0x300000000 + 44 + i), latency_min=0,
                latency_avg=1.5, latency_max=30, received=5000 + 120 * i, sent=5000 + 120 * i, outstanding=2,
                connections=9, znodes=120, watches=21, watched_paths=9, ephemerals=3, data_size=4096, ruok=True,
                synced_followers=1, taken_at=now,
                notes=("mntr not whitelisted: read from AdminServer /commands/monitor",)), servers[2])
        update = monitor.record(EnsembleSnapshot(servers, now))
        events.extend(update.events)
    monitor.close()
    assert update is not None
    return EnsembleUpdate(update.snapshot, tuple(events), update.history)  # the timeline shows every change


class FixedMonitor:
    """Stands in for EnsembleMonitor with a frozen poll, so the snapshot does not depend on a server or a clock."""

    def __init__(self) -> None:
        self.targets = T
        self.clients = False
        self._first = True
        self._update = _fixed_update()

    def poll(self) -> EnsembleUpdate:
        update, self._first = (self._update if self._first else EnsembleUpdate(
            self._update.snapshot, (), self._update.history)), False
        return update

    def close(self) -> None:
        pass


def _snapshot_app() -> HostApp:
    return HostApp(lambda: EnsembleScreen(T, monitor=FixedMonitor(), interval=0))


async def _settle(pilot) -> None:  # noqa: ANN001
    await pilot.app.workers.wait_for_complete()
    await wait_until(pilot, lambda: pilot.app.screen._polls >= 1, 10, "the poll drawn")  # noqa: SLF001
    card = pilot.app.screen.query_one("#card-0", ServerCard)
    card.focus()
    await wait_until(pilot, lambda: card.has_focus, 10, "the first card focused")
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_snapshot_ensemble_80x24(snap_compare, utc) -> None:  # noqa: ANN001
    assert snap_compare(_snapshot_app(), terminal_size=(80, 24), run_before=_settle)


def test_snapshot_ensemble_200x60(snap_compare, utc) -> None:  # noqa: ANN001
    assert snap_compare(_snapshot_app(), terminal_size=(200, 60), run_before=_settle)
