"""Ensemble health engine and ``zkbench monitor``: parsers on real server output, then a real 3-node ensemble
(leader/followers, failover, a down member, client sessions) and a real server with four-letter words disabled
(read through its AdminServer)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from zkbench.cli import main
from zkbench.connection import ConnectionSettings, connect
from zkbench.ensemble import (SOURCE_ADMIN, EnsembleMonitor, EnsembleSnapshot, EventKind, Mode, ServerHealth,
                              ServerTarget, Zxid, discover_targets, ephemerals_of_session, parse_cons,
                              parse_dump, parse_membership, parse_mntr, parse_srvr, parse_wchs, probe_all,
                              probe_server, targets_from_local)
from zkbench.server import LocalEnsemble, LocalServer, find_distribution

SRVR_LEADER = """Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
Latency min/avg/max: 0/1.5/20
Received: 12
Sent: 11
Connections: 2
Outstanding: 0
Zxid: 0x300000007
Mode: leader
Node count: 6
Proposal sizes last/min/max: 88/48/88
"""

CONS = """ /127.0.0.1:48516[1](queued=0,recved=3,sent=3,sid=0x1000006aa850000,lop=GETD,est=1795317788663,to=5000,lcxid=0x2,lzxid=0x100000002,lresp=437049,llat=2,minlat=0,avglat=12,maxlat=20)
 /127.0.0.1:48588[0](queued=0,recved=1,sent=0)

"""

DUMP = """SessionTracker dump:
Session Sets (1)/(1):
1 expire at Sun Nov 22 03:23:13 UTC 2026:
\t0x1000006aa850000
ephemeral nodes dump:
Sessions with Ephemerals (2):
0x1000006aa850000:
\t/eph
\t/app/worker-1
0x200000000000001:
\t/other
Connections dump:
Connections Sets (1)/(1):
1 expire at Sun Nov 22 03:23:21 UTC 2026:
\tip: /127.0.0.1:36024 sessionId: 0x0
"""


# ------------------------------------------------------------------------------------------------ parsers


def test_parse_srvr_reads_mode_zxid_and_latency() -> None:
    f = parse_srvr(SRVR_LEADER)
    assert f["mode"] is Mode.LEADER
    assert f["zxid"] == Zxid(0x300000007) and f["zxid"].epoch == 3 and f["zxid"].counter == 7
    assert (f["latency_min"], f["latency_avg"], f["latency_max"]) == (0, 1.5, 20)
    assert (f["received"], f["sent"], f["connections"], f["outstanding"], f["znodes"]) == (12, 11, 2, 0, 6)
    assert f["version"] == "3.8.0-${mvngit.commit.id}"


def test_parse_srvr_of_a_server_without_quorum() -> None:
    assert parse_srvr("This ZooKeeper instance is not currently serving requests\n") == {"mode": Mode.NOT_SERVING}


def test_parse_mntr_wchs_cons_dump() -> None:
    mntr = parse_mntr("zk_server_state\tfollower\nzk_ephemerals_count\t4\nzk_watch_count\t9\n"
                      "zk_approximate_data_size\t242\nzk_avg_latency\t0.25\nzk_packets_received\t7\n")
    assert mntr == {"mode": Mode.FOLLOWER, "ephemerals": 4, "watches": 9, "data_size": 242, "latency_avg": 0.25,
                    "received": 7}
    assert parse_wchs("3 connections watching 5 paths\nTotal watches:8\n") == {
        "watching_connections": 3, "watched_paths": 5, "watches": 8}
    (client,) = parse_cons(CONS)  # the 4lw connection itself (no sid) is left out
    assert client.session_id == 0x1000006aa850000 and client.session_hex == "0x1000006aa850000"
    assert client.address == "127.0.0.1:48516" and client.last_operation == "GETD"
    assert (client.latency_min, client.latency_avg, client.latency_max) == (0, 12.0, 20)
    assert client.last_zxid == Zxid(0x100000002) and client.session_timeout_ms == 5000
    assert parse_dump(DUMP) == {0x1000006aa850000: ("/eph", "/app/worker-1"), 0x200000000000001: ("/other",)}


def test_parse_membership_uses_client_address_and_replaces_wildcards() -> None:
    text = ("membership: \nserver.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n"
            "server.2=10.0.0.2:2888:3888:observer;10.0.0.2:2182\nserver.3=10.0.0.3:2888:3888\nversion=100000000\n")
    assert parse_membership(text) == [ServerTarget("10.0.0.1", 2181, myid=1), ServerTarget("10.0.0.2", 2182, myid=2),
                                      ServerTarget("10.0.0.3", 2181, myid=3)]


def test_lag_counts_transactions_behind_the_leader_in_the_same_epoch() -> None:
    t = [ServerTarget("h", p) for p in (1, 2, 3)]
    snap = EnsembleSnapshot((ServerHealth(t[0], Mode.LEADER, zxid=Zxid(0x300000010)),
                             ServerHealth(t[1], Mode.FOLLOWER, zxid=Zxid(0x30000000d)),
                             ServerHealth(t[2], Mode.FOLLOWER, zxid=Zxid(0x200000040))))
    assert snap.leader is snap.servers[0]
    assert snap.lag(snap.servers[1]) == 3 and snap.lag_text(snap.servers[1]) == "3 txn behind"
    # a serving follower in an older epoch has none of the new epoch's transactions: the leader's counter
    assert snap.lag(snap.servers[2]) == 0x10 and snap.lag_text(snap.servers[2]) == "16 txn behind"
    fresh = EnsembleSnapshot((ServerHealth(t[0], Mode.LEADER, zxid=Zxid(0x400000000)),
                              ServerHealth(t[1], Mode.FOLLOWER, zxid=Zxid(0x30000000d)),
                              ServerHealth(t[2], Mode.NOT_SERVING, zxid=Zxid(0x200000040))))
    assert fresh.lag_text(fresh.servers[1]) == "in sync"  # just after an election, nothing new written yet
    assert fresh.lag(fresh.servers[2]) is None and fresh.lag_text(fresh.servers[2]) == "epoch 2 vs 4"


def test_monitor_events_for_leader_change_and_down_server() -> None:
    a, b = ServerTarget("h", 1, myid=1), ServerTarget("h", 2, myid=2)
    mon = EnsembleMonitor([a, b])
    mon.record(EnsembleSnapshot((ServerHealth(a, Mode.LEADER, received=0, taken_at=1.0),
                                 ServerHealth(b, Mode.FOLLOWER, received=0, taken_at=1.0)), 1.0))
    update = mon.record(EnsembleSnapshot((ServerHealth(a, Mode.DOWN, error="connection refused", taken_at=2.0),
                                          ServerHealth(b, Mode.LEADER, received=50, taken_at=2.0)), 2.0))
    kinds = {e.kind: e.text for e in update.events}
    assert kinds[EventKind.DOWN] == "server 1 is DOWN: connection refused"
    assert kinds[EventKind.LEADER] == "new leader: server 2 (was server 1)"
    assert update.history["h:2"]["requests_per_s"] == (0.0, 50.0)
    mon.close()


def test_a_restarted_member_is_announced_back_only_once_it_serves() -> None:
    a, b = ServerTarget("h", 1, myid=1), ServerTarget("h", 2, myid=2)
    mon = EnsembleMonitor([a, b])
    steps = [Mode.FOLLOWER, Mode.DOWN, Mode.NOT_SERVING, Mode.NOT_SERVING, Mode.FOLLOWER, Mode.DOWN, Mode.FOLLOWER]
    lines = []
    for i, mode in enumerate(steps):
        update = mon.record(EnsembleSnapshot((ServerHealth(a, Mode.LEADER, taken_at=i),
                                              ServerHealth(b, mode, error="refused", taken_at=i)), float(i)))
        lines.append([e.text for e in update.events if e.server == "h:2"])
    assert lines[1] == ["server 2 is DOWN: refused"]
    assert lines[2] == ["server 2 answers again, not serving yet (joining the quorum)"]
    assert lines[3] == []
    assert lines[4] == ["server 2 is back: follower"]  # not "not serving -> follower"
    assert lines[6] == ["server 2 is back: follower"]  # straight from down to serving
    mon.close()


# -------------------------------------------------------------------------------------- real servers


def _wait_for(predicate, timeout: float, what: str):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")


def test_standalone_server_is_probed_over_4lw(zk_server: LocalServer, zk_root: str, zk) -> None:  # noqa: ANN001
    zk.create("/eph", b"x", ephemeral=True)
    zk.get("/eph", watch=lambda event: None)
    health = probe_server(targets_from_local(zk_server)[0], clients=True)
    assert health.mode is Mode.STANDALONE and health.source == "4lw" and health.ruok is True
    assert health.znodes and health.znodes >= 3 and health.ephemerals and health.ephemerals >= 1
    assert health.watches and health.watches >= 1 and health.zxid is not None and health.error is None
    session_id = zk.client_id[0]
    assert session_id in {c.session_id for c in health.clients or ()}
    source, paths = ephemerals_of_session(session_id, targets_from_local(zk_server))
    assert source.startswith("dump") and f"{zk_root}/eph" in paths


def test_a_hung_server_does_not_stall_the_others(zk_server: LocalServer) -> None:
    """A socket that accepts and never answers (a SIGSTOPped JVM looks like this) costs one timeout."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    try:
        targets = [ServerTarget("127.0.0.1", hole.getsockname()[1], None), targets_from_local(zk_server)[0]]
        started = time.monotonic()
        hung, live = probe_all(targets, timeout=0.5)
        elapsed = time.monotonic() - started
    finally:
        hole.close()
    assert hung.mode is Mode.DOWN and "did not answer" in (hung.error or "")
    assert live.mode is Mode.STANDALONE
    assert elapsed < 1.5


@pytest.mark.ensemble
def test_ensemble_has_one_leader_and_two_followers(zk_ensemble: LocalEnsemble) -> None:
    first = zk_ensemble.members[0]
    targets = discover_targets([ServerTarget(first.host, first.client_port, first.admin_port)])
    assert sorted(t.myid for t in targets) == [1, 2, 3]  # found through `conf` membership from one seed
    client = connect(ConnectionSettings(hosts=zk_ensemble.connect_string, session_timeout=2))
    client.create("/lag-probe-", b"", sequence=True)  # a write in the current epoch, so zxids are comparable
    client.stop()
    client.close()
    monitor = EnsembleMonitor(targets_from_local(zk_ensemble))
    try:
        snap = _wait_for(lambda: (s := monitor.poll().snapshot).leader and all(s.lag(h) == 0 for h in s.servers
                                                                            if h.mode is Mode.FOLLOWER) and s,
                         30, "followers in sync with the leader")
    finally:
        monitor.close()
    modes = sorted(h.mode.value for h in snap.servers)
    assert modes == ["follower", "follower", "leader"]
    for health in snap.servers:
        assert health.source == "4lw" and health.zxid is not None and health.latency_min is not None
        if health.mode is Mode.FOLLOWER:
            assert snap.lag_text(health) == "in sync"
    assert snap.leader.synced_followers == 2


@pytest.mark.ensemble
def test_killing_the_leader_elects_a_new_one_and_monitor_shows_it(zk_ensemble: LocalEnsemble,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    old = zk_ensemble.wait_for_leader(30)
    monitor = EnsembleMonitor(targets_from_local(zk_ensemble), timeout=0.5)
    try:
        monitor.poll()
        zk_ensemble.kill(old)
        events = []
        started = time.monotonic()

        def new_leader():  # noqa: ANN202
            update = monitor.poll()
            events.extend(update.events)
            leader = update.snapshot.leader
            return leader if leader is not None and leader.target.myid != old else None

        leader = _wait_for(new_leader, 20, "a new leader")
        failover = time.monotonic() - started
        snap = monitor.last
        killed = next(h for h in snap.servers if h.target.myid == old)
        assert killed.mode is Mode.DOWN and "refused" in (killed.error or "")
        assert any(e.kind is EventKind.DOWN and e.server == killed.target.address for e in events)
        assert any(e.kind is EventKind.LEADER and f"server {leader.target.myid}" in e.text for e in events)
        assert failover < 15

        code = main(["monitor", "--hosts", zk_ensemble.connect_string, "--json", "--timeout", "0.5"])
        report = json.loads(capsys.readouterr().out)
        assert code == 1  # one server does not answer
        assert report["leader"] == leader.target.address
        by_addr = {s["address"]: s for s in report["servers"]}
        assert by_addr[killed.target.address]["mode"] == "down"
        assert sorted(s["mode"] for s in report["servers"]) == ["down", "follower", "leader"]
    finally:
        monitor.close()
        zk_ensemble.restart(old)
    back = _wait_for(lambda: zk_ensemble.member(old).mode() == "follower", 30, "the old leader to rejoin")
    assert back


@pytest.mark.ensemble
def test_monitor_uses_the_admin_ports_of_an_ensemble_zkbench_started(
        zk_ensemble: LocalEnsemble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZKBENCH_RUN_DIR", str(tmp_path))
    (tmp_path / "ensemble").mkdir()
    zk_ensemble.save_state(tmp_path / "ensemble" / "state.json", "ensemble")
    hosts = zk_ensemble.connect_string.replace("127.0.0.1", "localhost")
    assert main(["monitor", "--hosts", hosts, "--json", "--no-discover"]) == 0
    report = json.loads(capsys.readouterr().out)
    got = {(s["target"]["port"], s["target"]["admin_port"], s["target"]["myid"]) for s in report["servers"]}
    assert got == {(m.client_port, m.admin_port, m.myid) for m in zk_ensemble.members}


@pytest.mark.ensemble
def test_monitor_text_report_has_the_course_columns(zk_ensemble: LocalEnsemble,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    zk_ensemble.wait_for_leader(30)
    first = zk_ensemble.members[0]
    code = main(["monitor", "--hosts", first.address, "--timeout", "1"])  # the rest found via membership
    out = capsys.readouterr().out
    assert code == 0, out
    header, *rows = out.splitlines()
    for column in ("mode", "latency min/avg/max", "received", "sent"):
        assert column in header
    assert sum("LEADER" in r for r in rows[:3]) == 1 and sum(" follower " in r for r in rows[:3]) == 2
    for m in zk_ensemble.members:
        assert any(r.startswith(f"{m.address} ({m.myid})") for r in rows)


@pytest.mark.ensemble
def test_monitor_watch_prints_repeated_reports(zk_ensemble: LocalEnsemble, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["monitor", "--hosts", zk_ensemble.connect_string, "--watch", "0.2", "--count", "2", "--json"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) == 2
    assert all(len(json.loads(line)["servers"]) == 3 for line in lines)


@pytest.mark.ensemble
def test_session_ephemerals_are_found_from_any_member(zk_ensemble: LocalEnsemble) -> None:
    client = connect(ConnectionSettings(hosts=zk_ensemble.members[1].address, session_timeout=2))
    try:
        path = client.create("/eph-owner-", b"", ephemeral=True, sequence=True)
        sid = client.client_id[0]
        targets = targets_from_local(zk_ensemble)
        member = probe_server(targets[1], clients=True)
        assert sid in {c.session_id for c in member.clients or ()}
        source, paths = ephemerals_of_session(sid, [targets[0]])  # a server the session is not connected to
        assert path in paths and "dump" in source
    finally:
        client.stop()
        client.close()


# ------------------------------------------------------------------------ four-letter words disabled


def _dist_with_admin_server():  # noqa: ANN202
    """Debian's zookeeper.jar manifest omits the servlet API Jetty needs, so its AdminServer never starts;
    putting servlet-api.jar on the classpath makes it serve (see the report to the server runner's owner)."""
    dist = find_distribution()
    servlet = Path("/usr/share/java/servlet-api.jar")
    if dist.kind == "debian" and servlet.exists() and str(servlet) not in dist.classpath:
        dist = replace(dist, classpath=(*dist.classpath, str(servlet)))
    return dist


@pytest.fixture(scope="module")
def no_4lw_server() -> Iterator[LocalServer]:
    server = LocalServer(tick_time=250, dist=_dist_with_admin_server(),
                         extra_config={"4lw.commands.whitelist": ""})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_server_without_four_letter_words_is_read_through_admin_server(no_4lw_server: LocalServer) -> None:
    client = connect(ConnectionSettings(hosts=no_4lw_server.connect_string, session_timeout=2))
    try:
        client.create("/owned", ephemeral=True)
        client.get("/owned", watch=lambda event: None)
        target = targets_from_local(no_4lw_server)[0]
        # a generous timeout: the fallback path is under test, not latency (Jetty's first answers can take over
        # the default 1 s on a loaded machine, and then the probe rightly reports 4lw alone)
        health = probe_server(target, 10.0, clients=True)
        assert health.mode is Mode.STANDALONE
        assert health.source == f"4lw + {SOURCE_ADMIN}"  # srvr is always allowed; the rest came over HTTP
        assert any(n.startswith("mntr not whitelisted: read from AdminServer") for n in health.notes)
        assert health.ephemerals == 1 and health.watches == 1 and health.ruok is True and health.data_size
        sid = client.client_id[0]
        assert sid in {c.session_id for c in health.clients or ()}
        source, paths = ephemerals_of_session(sid, [target])
        assert source.startswith("AdminServer dump") and paths == ("/owned",)

        without_admin = probe_server(replace(target, admin_port=None))
        assert without_admin.ephemerals is None
        assert "mntr not whitelisted (no AdminServer port to fall back to)" in without_admin.notes
    finally:
        client.stop()
        client.close()


def test_monitor_command_names_the_admin_server_source(no_4lw_server: LocalServer,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["monitor", "--hosts", no_4lw_server.connect_string, "--admin-port", str(no_4lw_server.admin_port),
                 "--timeout", "10"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4lw + AdminServer" in out and "not whitelisted: read from AdminServer /commands/monitor" in out
