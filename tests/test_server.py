"""zkbench.server: finding a distribution, starting and stopping real servers, ensembles surviving a leader kill."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from zkbench.fourlw import four_letter_word
from zkbench.protocol import ZkClient
from zkbench.server import (HOW_TO_GET_ZOOKEEPER, DistributionNotFound, LocalEnsemble, LocalServer,
                            find_distribution)
from zkbench.server.local import _pid_alive


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
    """A Python process that SIGKILLs itself leaves no JVM behind (parent-death signal)."""
    script = (
        "import os, signal, sys\n"
        "from zkbench.server import LocalServer\n"
        f"s = LocalServer({str(tmp_path / 'zk')!r}, tick_time=250)\n"
        "s.start()\n"
        "print(s.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90)
    pid = int(proc.stdout.strip())
    deadline = time.monotonic() + 10
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pid_alive(pid), "the JVM outlived its crashed parent"


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
