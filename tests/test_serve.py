"""`zkbench serve` answers HTTP on loopback (browser mode for workshop rooms)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import urllib.request

from zkbench.server import free_port


def test_serve_answers_on_loopback(zk_hosts):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "zkbench", "--hosts", zk_hosts, "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        body = b""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    body = response.read()
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode()) from None
                time.sleep(0.3)
        assert b"zkbench" in body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert b"WARNING" not in err  # loopback: no warning about exposure


def test_serve_warns_loudly_off_loopback(zk_hosts):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "zkbench", "--hosts", zk_hosts, "serve", "--host", "0.0.0.0",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    err = b""
    try:
        deadline = time.monotonic() + 30  # the warning comes before the server listens: read until it is there
        while b"NO authentication" not in err and time.monotonic() < deadline and proc.poll() is None:
            if select.select([proc.stderr], [], [], 0.5)[0]:
                err += os.read(proc.stderr.fileno(), 65536)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        err += proc.communicate(timeout=20)[1]
    assert b"WARNING" in err and b"NO authentication" in err
