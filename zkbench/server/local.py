"""Run real ZooKeeper servers on loopback: one standalone server, or an N-node ensemble.

Every server gets a free client port, its own data dir and a generated ``zoo.cfg`` with all four-letter words
whitelisted, extended types (TTL nodes) enabled and the AdminServer on a free loopback port. A server started
with ``owned=True`` (the default) dies with the Python process that started it, even on SIGKILL, through
Linux's parent-death signal; ``owned=False`` servers are detached, for ``zkbench server start``.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from zkbench.fourlw import FourLetterWordError, four_letter_word
from zkbench.server.distribution import Distribution, find_distribution

__all__ = ["free_port", "LocalServer", "LocalEnsemble", "Member", "ServerStartError"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_live_members: "set[Member]" = set()
_live_lock = threading.Lock()


class ServerStartError(RuntimeError):
    """A local server did not come up; the message names the log file to read."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _stop_all_owned() -> None:
    with _live_lock:
        members = list(_live_members)
    for member in members:
        if member.owned:
            member.kill()


atexit.register(_stop_all_owned)


@dataclass(eq=False)
class Member:
    """One ZooKeeper server process (standalone, or ``myid`` of an ensemble)."""

    myid: int
    workdir: Path
    client_port: int
    admin_port: int
    quorum_port: int = 0
    election_port: int = 0
    host: str = "127.0.0.1"
    owned: bool = True
    pid: int | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        return self.workdir / "server.log"

    @property
    def config_file(self) -> Path:
        return self.workdir / "zoo.cfg"

    def write_config(self, tick_time: int, peers: list["Member"] | None, extra: dict[str, str]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = {
            "tickTime": str(tick_time),
            "initLimit": "10",
            "syncLimit": "5",
            "dataDir": str(self.data_dir),
            "clientPort": str(self.client_port),
            "clientPortAddress": self.host,
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "true",
            "admin.serverAddress": self.host,
            "admin.serverPort": str(self.admin_port),
            "maxClientCnxns": "0",
            "autopurge.snapRetainCount": "3",
            "autopurge.purgeInterval": "1",
        }
        if peers:
            (self.data_dir / "myid").write_text(f"{self.myid}\n")
            lines["standaloneEnabled"] = "false"
            lines["reconfigEnabled"] = "true"
            lines["electionPortBindRetry"] = "10"
            for peer in peers:
                lines[f"server.{peer.myid}"] = (
                    f"{peer.host}:{peer.quorum_port}:{peer.election_port};{peer.host}:{peer.client_port}")
        lines.update(extra)
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))

    def start(self, dist: Distribution, jvm_opts: list[str]) -> None:
        if self.running():
            return
        cmd = [
            shutil.which("java") or "java",
            *jvm_opts,
            "-Dzookeeper.extendedTypesEnabled=true",
            "-Dzookeeper.admin.enableServer=true",
            f"-Dzookeeper.log.dir={self.workdir}",
            "-Dzookeeper.root.logger=INFO,CONSOLE",
            "-cp", dist.classpath_str,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.config_file),
        ]
        out = open(self.log_file, "ab")
        try:
            self._proc = subprocess.Popen(
                cmd, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if self.owned else None,
                start_new_session=True,  # Ctrl-C in the terminal goes to us; we stop the JVM ourselves
            )
        except FileNotFoundError as exc:
            raise ServerStartError("java not found: install a JRE (apt-get install default-jre-headless)") from exc
        finally:
            out.close()
        self.pid = self._proc.pid
        with _live_lock:
            _live_members.add(self)

    def running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        if self.pid is None:
            return False
        return _pid_alive(self.pid)

    def serving(self, timeout: float = 1.0) -> bool:
        """True when the server answers ``srvr`` with a mode (it is in a quorum, or standalone)."""
        try:
            return "Mode:" in four_letter_word(self.host, self.client_port, "srvr", timeout)
        except FourLetterWordError:
            return False

    def mode(self, timeout: float = 1.0) -> str:
        """``leader``, ``follower``, ``standalone``, ``observer``, or ``down``."""
        try:
            reply = four_letter_word(self.host, self.client_port, "srvr", timeout)
        except FourLetterWordError:
            return "down"
        for line in reply.splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return "down"

    def wait_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.serving(0.5):
                return
            if not self.running():
                raise ServerStartError(
                    f"ZooKeeper server {self.myid} exited during start-up; see {self.log_file}:\n"
                    + _tail(self.log_file))
            time.sleep(0.1)
        raise ServerStartError(f"ZooKeeper server {self.myid} at {self.address} did not answer within "
                               f"{timeout:g}s; see {self.log_file}")

    def _signal(self, sig: int, wait: float) -> None:
        if not self.running():
            self._forget()
            return
        try:
            os.kill(self.pid, sig)  # type: ignore[arg-type]
        except ProcessLookupError:
            self._forget()
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and self.running():
            time.sleep(0.05)
        if self.running():
            os.kill(self.pid, signal.SIGKILL)  # type: ignore[arg-type]
            while self.running():
                time.sleep(0.05)
        self._forget()

    def stop(self, timeout: float = 10.0) -> None:
        """A clean stop (SIGTERM), escalating to SIGKILL after ``timeout`` seconds."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """A crash: SIGKILL, no goodbye to clients or peers."""
        self._signal(signal.SIGKILL, 5.0)

    def _forget(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self._proc = None
        self.pid = None
        with _live_lock:
            _live_members.discard(self)

    def to_json(self) -> dict[str, object]:
        return {"myid": self.myid, "workdir": str(self.workdir), "client_port": self.client_port,
                "admin_port": self.admin_port, "quorum_port": self.quorum_port,
                "election_port": self.election_port, "host": self.host, "pid": self.pid}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "Member":
        return cls(myid=int(data["myid"]), workdir=Path(str(data["workdir"])),  # type: ignore[arg-type]
                   client_port=int(data["client_port"]), admin_port=int(data["admin_port"]),  # type: ignore
                   quorum_port=int(data.get("quorum_port") or 0),  # type: ignore[arg-type]
                   election_port=int(data.get("election_port") or 0),  # type: ignore[arg-type]
                   host=str(data.get("host", "127.0.0.1")), owned=False,
                   pid=int(data["pid"]) if data.get("pid") else None)  # type: ignore[arg-type]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


DEFAULT_JVM_OPTS = ["-Xms32m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true"]


class _Cluster:
    """What a standalone server and an ensemble share: a work dir, a distribution, start/stop, JSON state."""

    def __init__(self, workdir: str | os.PathLike[str] | None, dist: Distribution | None, tick_time: int,
                 jvm_opts: list[str] | None, owned: bool, extra_config: dict[str, str] | None) -> None:
        self._tmp = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="zkbench-zk-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dist = dist or find_distribution()
        self.tick_time = tick_time
        self.jvm_opts = list(jvm_opts if jvm_opts is not None else DEFAULT_JVM_OPTS)
        self.owned = owned
        self.extra_config = dict(extra_config or {})
        self.members: list[Member] = []

    @property
    def connect_string(self) -> str:
        return ",".join(m.address for m in self.members)

    def member(self, myid: int) -> Member:
        for m in self.members:
            if m.myid == myid:
                return m
        raise KeyError(f"no server {myid}; servers are {', '.join(str(m.myid) for m in self.members)}")

    def running(self) -> bool:
        return any(m.running() for m in self.members)

    def stop(self) -> None:
        """Stop every member and, for a temporary work dir, remove it."""
        for m in self.members:
            m.stop()
        if self._tmp and self.owned:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):  # noqa: ANN204 - returns the concrete subclass
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def save_state(self, path: Path, kind: str) -> None:
        path.write_text(json.dumps({"kind": kind, "workdir": str(self.workdir), "tick_time": self.tick_time,
                                    "members": [m.to_json() for m in self.members]}, indent=2))


class LocalServer(_Cluster):
    """One standalone ZooKeeper server on 127.0.0.1 at a free port.

    >>> with LocalServer() as server:          # doctest: +SKIP
    ...     KazooClient(server.connect_string)
    """

    def __init__(self, workdir: str | os.PathLike[str] | None = None, *, port: int | None = None,
                 dist: Distribution | None = None, tick_time: int = 2000, jvm_opts: list[str] | None = None,
                 owned: bool = True, extra_config: dict[str, str] | None = None) -> None:
        super().__init__(workdir, dist, tick_time, jvm_opts, owned, extra_config)
        self.members = [Member(1, self.workdir, port or free_port(), free_port(), owned=owned)]

    @property
    def server(self) -> Member:
        return self.members[0]

    @property
    def client_port(self) -> int:
        return self.server.client_port

    @property
    def admin_port(self) -> int:
        return self.server.admin_port

    @property
    def pid(self) -> int | None:
        return self.server.pid

    def start(self, timeout: float = 60.0) -> None:
        """Write ``zoo.cfg``, launch the JVM and wait until it serves requests."""
        self.server.write_config(self.tick_time, None, self.extra_config)
        self.server.start(self.dist, self.jvm_opts)
        try:
            self.server.wait_serving(timeout)
        except ServerStartError:
            self.server.kill()
            raise
        log.info("standalone ZooKeeper serving at %s (pid %s)", self.connect_string, self.pid)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop and start again on the same port with the same data (clients reconnect, sessions survive)."""
        self.server.stop()
        self.start(timeout)


class LocalEnsemble(_Cluster):
    """An N-node ZooKeeper ensemble (default 3) on loopback, with per-member stop, kill and restart."""

    def __init__(self, size: int = 3, workdir: str | os.PathLike[str] | None = None, *,
                 dist: Distribution | None = None, tick_time: int = 2000, jvm_opts: list[str] | None = None,
                 owned: bool = True, extra_config: dict[str, str] | None = None,
                 base_port: int | None = None) -> None:
        if size < 1:
            raise ValueError("an ensemble needs at least one server")
        super().__init__(workdir, dist, tick_time, jvm_opts, owned, extra_config)
        for myid in range(1, size + 1):
            if base_port:
                ports = (base_port + myid - 1, base_port + 100 + myid, base_port + 200 + myid,
                         base_port + 300 + myid)
            else:
                ports = (free_port(), free_port(), free_port(), free_port())
            self.members.append(Member(myid, self.workdir / f"server{myid}", ports[0], ports[1],
                                       quorum_port=ports[2], election_port=ports[3], owned=owned))

    def start(self, timeout: float = 90.0) -> None:
        """Start every member and wait until all of them serve (a quorum formed)."""
        for m in self.members:
            m.workdir.mkdir(parents=True, exist_ok=True)
            m.write_config(self.tick_time, self.members, self.extra_config)
        for m in self.members:
            m.start(self.dist, self.jvm_opts)
        try:
            for m in self.members:
                m.wait_serving(timeout)
        except ServerStartError:
            for m in self.members:
                m.kill()
            raise
        log.info("ensemble of %d serving at %s", len(self.members), self.connect_string)

    def modes(self) -> dict[int, str]:
        """``{myid: mode}`` as each server reports it right now (``down`` when it does not answer)."""
        return {m.myid: m.mode() for m in self.members}

    def leader(self) -> int | None:
        """The myid of the current leader, or ``None`` during an election."""
        for myid, mode in self.modes().items():
            if mode == "leader":
                return myid
        return None

    def wait_for_leader(self, timeout: float = 30.0, exclude: int | None = None) -> int:
        """Wait until some member (other than ``exclude``) says it leads; return its myid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None and leader != exclude:
                return leader
            time.sleep(0.1)
        raise TimeoutError(f"no leader elected within {timeout:g}s: {self.modes()}")

    def kill(self, myid: int) -> None:
        """SIGKILL one member: a crash, to show failover."""
        self.member(myid).kill()

    def stop_member(self, myid: int) -> None:
        """Stop one member cleanly."""
        self.member(myid).stop()

    def restart(self, myid: int, timeout: float = 60.0) -> None:
        """Start a stopped or killed member again with its old data; it rejoins the quorum."""
        m = self.member(myid)
        m.stop()
        m.start(self.dist, self.jvm_opts)
        m.wait_serving(timeout)
