"""`zkbench ensemble up|down|status|kill|restart`: one test per verb, each against real detached servers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkbench.fourlw import four_letter_word
from zkbench.server import Member, free_port
from zkbench.server.local import _pid_alive

pytestmark = pytest.mark.ensemble


def zkbench(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zkbench", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def recorded(env: dict[str, str]) -> list[Member]:
    state = json.loads((Path(env["ZKBENCH_RUN_DIR"]) / "ensemble" / "state.json").read_text())
    return [Member.from_json(m) for m in state["members"]]


def _kill_leftovers(env: dict[str, str]) -> None:
    try:
        members = recorded(env)
    except FileNotFoundError:
        return
    for m in members:
        if m.pid and _pid_alive(m.pid):
            os.kill(m.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cli_ensemble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], str]]:
    """A 3-node ensemble started by `zkbench ensemble up` (free ports); yields (env, the command's stdout)."""
    env = dict(os.environ, ZKBENCH_RUN_DIR=str(tmp_path_factory.mktemp("run")))
    up = zkbench(env, "ensemble", "up", "--base-port", "0", "--tick-time", "250")
    try:
        assert up.returncode == 0, up.stderr
        yield env, up.stdout
    finally:
        zkbench(env, "ensemble", "down")
        _kill_leftovers(env)


@pytest.fixture
def whole(cli_ensemble: tuple[dict[str, str], str]) -> Iterator[dict[str, str]]:
    """The CLI ensemble's environment; every member is restarted after the test if it left one down."""
    env = cli_ensemble[0]
    yield env
    for m in recorded(env):
        if not m.running():
            done = zkbench(env, "ensemble", "restart", str(m.myid))
            assert done.returncode == 0, done.stderr


def test_up_starts_a_quorum_and_says_how_to_connect(cli_ensemble: tuple[dict[str, str], str]) -> None:
    env, out = cli_ensemble
    members = recorded(env)
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("server ")] == [
        ["server", str(m.myid)] for m in members]
    connect = ",".join(m.address for m in members)
    assert f"connect with: zkbench --hosts {connect}" in out
    modes = sorted(four_letter_word(m.host, m.client_port, "srvr").split("Mode: ")[1].split()[0] for m in members)
    assert modes == ["follower", "follower", "leader"]
    again = zkbench(env, "ensemble", "up")
    assert again.returncode == 0 and "already running" in again.stdout
    assert [m.pid for m in recorded(env)] == [m.pid for m in members]  # nothing new started


def test_up_with_its_port_taken_names_the_port_and_the_holder(tmp_path: Path) -> None:
    env = dict(os.environ, ZKBENCH_RUN_DIR=str(tmp_path / "run"))
    port = free_port()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        up = zkbench(env, "ensemble", "up", "--base-port", str(port), timeout=60)
    first = up.stderr.splitlines()[0]
    print(first)
    assert up.returncode == 1
    assert first.startswith(f"zkbench: port {port} (client port of server 1) is already in use: held by python")
    assert f"(pid {os.getpid()}:" in first and f"listening on 127.0.0.1:{port}" in first
    assert first.endswith("choose other ports with --base-port N (0: any free ports)")
    assert not (tmp_path / "run" / "ensemble" / "state.json").exists()


def test_status_exits_nonzero_while_a_member_is_down(whole: dict[str, str]) -> None:
    status = zkbench(whole, "ensemble", "status")
    assert status.returncode == 0, status.stdout
    assert len([line for line in status.stdout.splitlines() if line.startswith("server ")]) == 3
    victim = recorded(whole)[1]
    os.kill(victim.pid, signal.SIGKILL)  # a crash outside zkbench: status must notice
    status = zkbench(whole, "ensemble", "status")
    assert status.returncode == 3, status.stdout
    line = next(x for x in status.stdout.splitlines() if x.startswith(f"server {victim.myid} "))
    assert " down " in line
    assert f"1 of 3 down: server {victim.myid}" in status.stdout


def test_kill_takes_a_server_id_or_the_address_monitor_prints(whole: dict[str, str]) -> None:
    first, second = recorded(whole)[0], recorded(whole)[2]
    killed = zkbench(whole, "ensemble", "kill", str(first.myid))
    assert killed.returncode == 0 and f"killed server {first.myid} (SIGKILL)" in killed.stdout
    assert not _pid_alive(first.pid)
    killed = zkbench(whole, "ensemble", "kill", second.address)
    assert killed.returncode == 0 and f"killed server {second.myid} (SIGKILL)" in killed.stdout
    assert not _pid_alive(second.pid)
    assert [m.pid for m in recorded(whole)] == [None, recorded(whole)[1].pid, None]  # the state file knows
    again = zkbench(whole, "ensemble", "kill", second.address)
    assert again.returncode == 0 and "already down" in again.stdout
    unknown = zkbench(whole, "ensemble", "kill", "127.0.0.1:1")
    assert unknown.returncode == 1 and "no server 127.0.0.1:1; servers are 1 (127.0.0.1:" in unknown.stderr


def test_restart_by_address_rejoins_the_quorum(whole: dict[str, str]) -> None:
    victim = recorded(whole)[0]
    os.kill(victim.pid, signal.SIGKILL)
    back = zkbench(whole, "ensemble", "restart", f"localhost:{victim.client_port}")
    assert back.returncode == 0, back.stderr
    assert f"server {victim.myid} back as " in back.stdout
    mode = back.stdout.split(" back as ")[1].split()[0]
    assert mode in ("follower", "leader")
    pid = recorded(whole)[0].pid
    assert pid and pid != victim.pid and _pid_alive(pid)
    assert zkbench(whole, "ensemble", "status").returncode == 0


def test_down_stops_every_member_and_forgets_them(tmp_path: Path) -> None:
    env = dict(os.environ, ZKBENCH_RUN_DIR=str(tmp_path / "run"))
    up = zkbench(env, "ensemble", "up", "--size", "1", "--base-port", "0", "--tick-time", "250")
    try:
        assert up.returncode == 0, up.stderr
        pids = [m.pid for m in recorded(env)]
        down = zkbench(env, "ensemble", "down")
        assert down.returncode == 0 and "ensemble stopped" in down.stdout
        assert pids and not any(_pid_alive(pid) for pid in pids)
        status = zkbench(env, "ensemble", "status")
        assert status.returncode == 3 and "no ensemble started by zkbench" in status.stdout
    finally:
        _kill_leftovers(env)
