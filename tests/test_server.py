"""zkbench.server: finding a distribution, starting and stopping real servers, ensembles surviving a leader kill."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from zkbench.fourlw import four_letter_word
from zkbench.protocol import ZkClient
from zkbench.server import (HOW_TO_GET_ZOOKEEPER, DistributionNotFound, LocalEnsemble, LocalServer,
                            ServerStartError, find_distribution)
from zkbench.server.local import _pid_alive
from zkbench.server.logs import failure_reason
from zkbench.server.ports import allocate, candidate_ranges, ephemeral_range, reserve


def test_debian_distribution_is_found():
    dist = find_distribution()
    assert dist.kind in ("debian", "home", "tarball")
    assert dist.version and dist.version.startswith("3.")
    assert dist.zkcli is None or dist.zkcli.name == "zkCli.sh"


def test_tarball_layout_is_found(tmp_path: Path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "zookeeper-3.9.3.jar").write_bytes(b"")
    (tmp_path / "lib" / "zookeeper-jute-3.9.3.jar").write_bytes(b"")
    dist = find_distribution(tmp_path)
    assert dist.kind == "home" and dist.version == "3.9.3"
    assert str(tmp_path / "lib" / "zookeeper-jute-3.9.3.jar") in dist.classpath


def test_none_found_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZOOKEEPER_HOME", str(tmp_path))
    with pytest.raises(DistributionNotFound) as info:
        find_distribution()
    message = str(info.value)
    assert "apt-get install zookeeper" in message and "docker compose" in message and "ZOOKEEPER_HOME" in message
    assert HOW_TO_GET_ZOOKEEPER in message


def test_standalone_server_starts_serves_and_leaves_no_process(tmp_path: Path):
    server = LocalServer(tmp_path / "zk", tick_time=250)
    server.start()
    pid = server.pid
    try:
        assert four_letter_word("127.0.0.1", server.client_port, "ruok") == "imok"
        conf = four_letter_word("127.0.0.1", server.client_port, "conf")
        assert f"clientPort={server.client_port}" in conf
        # the AdminServer answers too (Debian needs the servlet API added to the classpath for it)
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{server.admin_port}/commands/ruok", timeout=5) as reply:
            assert json.loads(reply.read())["error"] is None
        cfg = server.server.config_file.read_text()
        assert "4lw.commands.whitelist=*" in cfg and f"admin.serverPort={server.admin_port}" in cfg
        client = ZkClient(server.connect_string)
        client.start(10)
        # extended types are on: a TTL node can be created
        client.create_extended("/ttl", b"x", ttl_ms=60000)
        assert client.exists("/ttl") is not None
        client.stop()
        client.close()
    finally:
        server.stop()
    assert pid is not None and not _pid_alive(pid)


def test_owned_server_dies_with_a_crashed_parent(tmp_path: Path):
    """A Python process that SIGKILLs itself leaves no JVM behind (parent-death signal), even for a server it
    started from a thread that has ended since."""
    script = (
        "import os, signal, sys, threading\n"
        "from zkbench.server import LocalServer\n"
        f"s = LocalServer({str(tmp_path / 'zk')!r}, tick_time=250)\n"
        "t = threading.Thread(target=s.start)\n"
        "t.start(); t.join()\n"
        "print(s.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90)
    pid = int(proc.stdout.strip())
    deadline = time.monotonic() + 10
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pid_alive(pid), "the JVM outlived its crashed parent"


def test_server_restarted_from_a_short_lived_thread_outlives_the_thread(tmp_path: Path):
    """PR_SET_PDEATHSIG fires when the forking *thread* exits: the ensemble screen's `r` restarts a member from a
    thread worker that ends right after. The member must live on (it dies with the process, not the thread)."""
    server = LocalServer(tmp_path / "zk", tick_time=250)
    server.start()
    try:
        native: list[int] = []

        def restart() -> None:
            native.append(threading.get_native_id())
            server.restart()

        worker = threading.Thread(target=restart)
        worker.start()
        worker.join(90)
        task = Path(f"/proc/self/task/{native[0]}")
        deadline = time.monotonic() + 10
        while task.exists() and time.monotonic() < deadline:  # the OS thread is gone: a pdeathsig has been sent
            time.sleep(0.01)
        assert not task.exists()
        assert four_letter_word("127.0.0.1", server.client_port, "ruok") == "imok"
        assert server.server.running(), "the server died with the thread that restarted it"
    finally:
        server.stop()


def _listen(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_server_log_holds_zookeepers_own_log(zk_server: LocalServer):
    text = zk_server.server.log_file.read_text()
    assert "SLF4J: Failed to load class" not in text
    assert f"binding to port /127.0.0.1:{zk_server.client_port}" in text  # NIOServerCnxnFactory at INFO
    assert "INFO" in text and "QuorumPeerConfig" in text


def test_port_conflict_names_the_port_and_the_process_holding_it(tmp_path: Path):
    with _listen() as taken:
        port = taken.getsockname()[1]
        server = LocalServer(tmp_path / "zk", port=port, tick_time=250)
        with pytest.raises(ServerStartError) as info:
            server.start()
    first = str(info.value).splitlines()[0]
    print(first)
    assert f"port {port} (client port of server 1) is already in use" in first
    assert f"pid {os.getpid()}" in first and "python" in first and f"listening on 127.0.0.1:{port}" in first
    assert server.pid is None and not server.server.log_file.exists()  # checked before any JVM started


def test_bad_config_gives_zookeepers_reason_in_one_line_then_the_log(tmp_path: Path):
    server = LocalServer(tmp_path / "zk", tick_time=250, extra_config={"initLimit": "ten"})
    with pytest.raises(ServerStartError) as info:
        server.start()
    message = str(info.value)
    first, rest = message.split("\n", 1)
    print(first)
    assert first.startswith("ZooKeeper server 1 (127.0.0.1:") and "exited during start-up" in first
    assert 'NumberFormatException: For input string: "ten"' in first
    assert f"(initLimit=ten in {server.server.config_file})" in first
    assert rest.startswith(f"last lines of {server.server.log_file}:") and "Exiting JVM with code 2" in rest


def test_a_port_taken_after_it_was_chosen_is_chosen_again(tmp_path: Path):
    """Another program may take a chosen port before the server starts: zkbench picks another and starts."""
    server = LocalServer(tmp_path / "zk", tick_time=250)
    chosen = server.client_port
    with _listen(chosen):
        server.start()
        try:
            assert server.client_port != chosen
            assert four_letter_word("127.0.0.1", server.client_port, "ruok") == "imok"
        finally:
            server.stop()


def test_ports_are_outside_the_ephemeral_range_and_reserved_across_processes(tmp_path: Path):
    low, high = ephemeral_range()
    ensemble = LocalEnsemble(3, tmp_path / "ens", tick_time=250)  # ports chosen and reserved, nothing started
    try:
        ports = [p for m in ensemble.members for p in m.ports().values()]
        assert len(ports) == 12 == len(set(ports))
        assert all(not low <= p <= high for p in ports), (low, high, ports)
        assert all(any(a <= p <= b for a, b in candidate_ranges()) for p in ports)
        # another process cannot reserve them (this one can: its own reservations are shared)
        probe = subprocess.run([sys.executable, "-c", "import sys; from zkbench.server.ports import reserve; "
                                "print([p for p in map(int, sys.argv[1:]) if reserve(p) is not None])",
                                *map(str, ports)], capture_output=True, text=True, timeout=30)
        assert probe.stdout.strip() == "[]", probe.stderr
        mine = reserve(ports[0])
        assert mine is not None
        mine.release()
        # nor is a port of this process's own servers handed out again (a killed member's, awaiting restart)
        with pytest.raises(OSError, match="no 1 free ports"):
            allocate(1, ranges=[(ports[0], ports[0])])
    finally:
        ensemble.stop()
    probe = subprocess.run([sys.executable, "-c", "import sys; from zkbench.server.ports import reserve; "
                            "print(reserve(int(sys.argv[1])) is not None)", str(ports[0])],
                           capture_output=True, text=True, timeout=30)
    assert probe.stdout.strip() == "True"  # released with the ensemble


def test_failure_reason_reads_every_binding_format(tmp_path: Path):
    simple = ("12:00:01.100 [main] INFO org.apache.zookeeper.server.quorum.QuorumPeerConfig - Reading configuration\n"
              "12:00:01.200 [main] ERROR org.apache.zookeeper.server.ZooKeeperServerMain - Unexpected exception, "
              "exiting abnormally\n"
              "java.net.BindException: Address already in use\n"
              "\tat java.base/sun.nio.ch.Net.bind0(Native Method)\n")
    assert failure_reason(simple) == "Unexpected exception, exiting abnormally: BindException: Address already in use"
    logback = ("2026-12-02 12:00:01,200 [myid:] - ERROR [main:o.a.z.s.q.QuorumPeerMain@99] - Invalid config, "
               "exiting abnormally\n"
               "org.apache.zookeeper.server.quorum.QuorumPeerConfig$ConfigException: Address unresolved: "
               "nohost:2888\n"
               "\tat org.apache.zookeeper.server.quorum.QuorumPeerConfig.parse(QuorumPeerConfig.java:198)\n")
    assert failure_reason(logback) == ("Invalid config, exiting abnormally: ConfigException: Address unresolved: "
                                       "nohost:2888")
    jvm = ("Error occurred during initialization of VM\n"
           "Initial heap size set to a larger value than the maximum heap size\n")
    assert failure_reason(jvm) == ("Error occurred during initialization of VM: Initial heap size set to a larger "
                                   "value than the maximum heap size")
    assert failure_reason("Invalid maximum heap size: -Xmx512q\nError: Could not create the Java Virtual Machine.\n"
                          ) == "Invalid maximum heap size: -Xmx512q"
    assert failure_reason("2026-12-02 12:00:01,200 INFO  [main:X@1] - all fine\n") is None


@pytest.mark.ensemble
def test_ensemble_has_one_leader_and_survives_its_death(zk_ensemble: LocalEnsemble):
    modes = zk_ensemble.modes()
    assert sorted(modes.values()) == ["follower", "follower", "leader"]
    client = KazooClient(zk_ensemble.connect_string, timeout=6)
    client.start(15)
    try:
        path = client.create("/server-test-", b"before", sequence=True)
        leader = zk_ensemble.leader()
        assert leader is not None
        zk_ensemble.kill(leader)
        new_leader = zk_ensemble.wait_for_leader(timeout=30, exclude=leader)
        assert new_leader != leader
        # the client keeps working through the failover (kazoo retries on another member)
        client.retry(client.set, path, b"after")
        assert client.retry(client.get, path)[0] == b"after"
        zk_ensemble.restart(leader)
        assert zk_ensemble.member(leader).mode() in ("follower", "leader")
        client.delete(path)
    finally:
        client.stop()
        client.close()
        for member in zk_ensemble.members:
            if not member.running():
                zk_ensemble.restart(member.myid)


def test_cli_server_start_status_stop(tmp_path: Path):
    env = dict(os.environ, ZKBENCH_RUN_DIR=str(tmp_path / "run"))
    exe = [sys.executable, "-m", "zkbench"]
    started = subprocess.run([*exe, "server", "start", "--port", "0", "--tick-time", "250"], env=env,
                             capture_output=True, text=True, timeout=90)
    assert started.returncode == 0, started.stderr
    assert "standalone" in started.stdout and "connect with: zkbench --hosts 127.0.0.1:" in started.stdout
    try:
        status = subprocess.run([*exe, "server", "status"], env=env, capture_output=True, text=True, timeout=30)
        assert status.returncode == 0 and "standalone" in status.stdout
    finally:
        stopped = subprocess.run([*exe, "server", "stop"], env=env, capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    status = subprocess.run([*exe, "server", "status"], env=env, capture_output=True, text=True, timeout=30)
    assert status.returncode == 3 and "no server" in status.stdout
