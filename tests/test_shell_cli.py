"""``zkbench exec`` and ``zkbench shell`` as real subprocesses against the live test server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["ZKBENCH_STATE_DIR"] = str(tmp_path / "state")
    e["ZKBENCH_CONFIG"] = str(tmp_path / "no-config.toml")
    for key in ("ZKBENCH_HOSTS", "ZKBENCH_AUTH", "ZKBENCH_READ_ONLY"):
        e.pop(key, None)
    return e


def zkbench(*args: str, env: dict[str, str], stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zkbench", *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=timeout)


def test_exec_runs_commands_and_prints_like_zkcli(zk_chroot_hosts: str, env: dict[str, str], zk) -> None:  # noqa: ANN001
    proc = zkbench("exec", "--hosts", zk_chroot_hosts, "create /app 'hello world'", "get /app", "ls /",
                   env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Created /app\nhello world\n[app]\n"
    assert zk.get("/app")[0] == b"hello world"


def test_exec_stops_at_the_first_failure(zk_chroot_hosts: str, env: dict[str, str], zk) -> None:  # noqa: ANN001
    env["ZKBENCH_HOSTS"] = zk_chroot_hosts  # the environment works as well as --hosts
    proc = zkbench("exec", "create /x", "create /x", "create /y", env=env)
    assert proc.returncode == 1
    assert proc.stdout == "Created /x\n"
    assert proc.stderr.strip() == "Node already exists: /x"
    assert zk.exists("/y") is None


def test_exec_json_is_machine_readable(zk_chroot_hosts: str, env: dict[str, str], zk) -> None:  # noqa: ANN001
    zk.create("/j/k", b"\xff\x01", makepath=True)
    proc = zkbench("exec", "--json", "--hosts", zk_chroot_hosts, "ls /j", "get /j/k", "stat /nope", env=env)
    assert proc.returncode == 1
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rows[0] == {"command": "ls /j", "ok": True, "output": "[k]", "data": {"path": "/j", "children": ["k"]},
                       "error": None}
    assert rows[1]["data"]["encoding"] == "base64" and rows[1]["data"]["data"] == "/wE="
    assert rows[2]["ok"] is False and rows[2]["error"] == "Node does not exist: /nope"


def test_exec_dangerous_commands_need_yes(zk_chroot_hosts: str, env: dict[str, str], zk) -> None:  # noqa: ANN001
    zk.create("/tree/a/b", makepath=True)
    proc = zkbench("exec", "--hosts", zk_chroot_hosts, "deleteall /tree", env=env)
    assert proc.returncode == 3
    assert "delete 3 znodes" in proc.stderr and "--yes" in proc.stderr
    assert zk.exists("/tree") is not None
    proc = zkbench("exec", "--yes", "--hosts", zk_chroot_hosts, "deleteall /tree", env=env)
    assert proc.returncode == 0 and zk.exists("/tree") is None


def test_exec_script_file_and_stdin(zk_chroot_hosts: str, env: dict[str, str], tmp_path: Path, zk) -> None:  # noqa: ANN001
    script = tmp_path / "setup.zk"
    script.write_text("# set up the app\ncreate /s one\n\ncreate /s/t two  \nls /s\n")
    proc = zkbench("exec", "--hosts", zk_chroot_hosts, "-f", str(script), env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["Created /s", "Created /s/t", "[t]"]
    proc = zkbench("exec", "--hosts", zk_chroot_hosts, "-f", "-", env=env, stdin="get /s/t\n")
    assert proc.stdout == "two\n"
    proc = zkbench("exec", "--hosts", zk_chroot_hosts, "-f", str(tmp_path / "missing.zk"), env=env)
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_exec_unreachable_server_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "fast.toml"
    config.write_text("connect_timeout = 1\n")
    env["ZKBENCH_CONFIG"] = str(config)
    from zkbench.server.local import free_port

    proc = zkbench("exec", "--hosts", f"127.0.0.1:{free_port()}", "ls /", env=env)
    assert proc.returncode == 4
    assert proc.stderr.count("\n") == 1 and "connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exec_watch_streams_until_count(zk_chroot_hosts: str, env: dict[str, str], zk) -> None:  # noqa: ANN001
    zk.create("/w", b"0")
    proc = subprocess.Popen([sys.executable, "-m", "zkbench", "exec", "--hosts", zk_chroot_hosts, "watch /w -n 2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("watching /w")
        time.sleep(0.3)
        zk.set("/w", b"1")
        zk.create("/w/new", b"n")
        out, errs = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, errs
    lines = out.splitlines()
    assert len(lines) == 2 and "changed  /w v1 = '1'" in lines[0] and "created  /w/new v0 = 'n'" in lines[1]


def test_shell_with_piped_stdin_prints_a_transcript(zk_chroot_hosts: str, env: dict[str, str], zk) -> None:  # noqa: ANN001
    script = "ls /\ncreate /r 'a b'\ncd r\nget .\naddauth digest bob:hunter2\nlss /\ndeleteall /r\npwd\n"
    proc = zkbench("shell", "--hosts", zk_chroot_hosts, env=env, stdin=script)
    assert proc.returncode == 1  # lss and the unconfirmed deleteall failed
    assert proc.stdout.splitlines() == [
        "zk:/ > ls /", "[]",
        "zk:/ > create /r 'a b'", "Created /r",
        "zk:/ > cd r",
        "zk:/r > get .", "a b",
        "zk:/r > addauth digest bob:***",
        "zk:/r > lss /",
        "zk:/r > deleteall /r",
        "zk:/r > pwd", "/r",
    ]
    assert "Unknown command 'lss' - did you mean 'ls'?" in proc.stderr
    assert "refusing without --yes" in proc.stderr
    history = (Path(env["ZKBENCH_STATE_DIR"]) / "history").read_text()
    assert "addauth digest bob:***" in history and "hunter2" not in history
    assert "hunter2" not in proc.stdout + proc.stderr
    proc = zkbench("shell", "--yes", "--hosts", zk_chroot_hosts, env=env, stdin="deleteall /r\n")
    assert proc.returncode == 0 and zk.exists("/r") is None


def test_shell_read_only_flag(zk_chroot_hosts: str, env: dict[str, str], zk) -> None:  # noqa: ANN001
    proc = zkbench("shell", "--read-only", "--hosts", zk_chroot_hosts, env=env, stdin="create /nope\nls /\n")
    assert "Read-only mode: refusing to create /nope" in proc.stderr
    assert zk.exists("/nope") is None and proc.returncode == 1


def test_shell_close_and_connect(zk_chroot_hosts: str, zk_hosts: str, env: dict[str, str], zk) -> None:  # noqa: ANN001
    zk.create("/here")
    script = f"create -e /mine\nclose\nls /\nconnect\nls /\nconnect {zk_hosts}\nls /t\n"
    proc = zkbench("shell", "--hosts", zk_chroot_hosts, env=env, stdin=script)
    out = proc.stdout.splitlines()
    assert out[out.index("zk:/ > close") + 1] == "Closed"
    assert "zk:/ (disconnected) > ls /" in out and "Not connected" in proc.stderr
    assert out[out.index("zk:/ (disconnected) > connect") + 1] == f"Connected to {zk_chroot_hosts}"
    assert "[here]" in out  # a new session: /mine went with the old one
    assert out[out.index(f"zk:/ > connect {zk_hosts}") + 1] == f"Connected to {zk_hosts}"
    assert out[-1].startswith("[") and zk_chroot_hosts.rsplit("/", 1)[-1] in out[-1]
