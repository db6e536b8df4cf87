"""Run real ZooKeeper servers on loopback: one standalone server, or an N-node ensemble.

Every server gets ports outside the kernel's ephemeral range (see :mod:`zkbench.server.ports`), its own data dir,
a generated ``zoo.cfg`` with all four-letter words whitelisted, extended types (TTL nodes) enabled and the
AdminServer on loopback, and writes ZooKeeper's own log to ``server.log``. A server that does not come up raises
:class:`ServerStartError` whose first line is the reason ZooKeeper gave (address in use and by whom, bad config).
A server started with ``owned=True`` (the default) dies with the Python process that started it, even on SIGKILL
(see :mod:`zkbench.server.spawn`); ``owned=False`` servers are detached, for ``zkbench server start``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from zkbench.fourlw import FourLetterWordError, four_letter_word
from zkbench.server import logs
from zkbench.server.distribution import NO_LOG_BINDING_HINT, Distribution, find_distribution
from zkbench.server.ports import PortLock, allocate, port_holder, port_in_use, reserve
from zkbench.server.spawn import popen_tied_to_process

__all__ = ["free_port", "LocalServer", "LocalEnsemble", "Member", "ServerStartError", "PortConflict"]

log = logging.getLogger(__name__)

_live_members: "set[Member]" = set()
_live_lock = threading.Lock()
START_ATTEMPTS = 3  # fresh ports after an "address in use" on ports zkbench chose itself


class ServerStartError(RuntimeError):
    """A local server did not come up. The first line of the message is the reason; the log's tail follows."""

    @property
    def reason(self) -> str:
        return str(self).splitlines()[0] if str(self) else ""


class PortConflict(ServerStartError):
    """A port the server needs is taken (before start, or ZooKeeper's own BindException)."""

    def __init__(self, message: str, member: "Member", role: str | None) -> None:
        super().__init__(message)
        self.member = member
        self.role = role  # "client", "admin", "quorum", "election"; None when ZooKeeper did not say which


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now, outside the ephemeral range (not reserved: for one-off uses)."""
    lock = allocate(1, host)[0]
    lock.release()
    return lock.port


def _stop_all_owned() -> None:
    with _live_lock:
        members = list(_live_members)
    for member in members:
        if member.owned:
            member.kill()


atexit.register(_stop_all_owned)

PORT_ROLES = ("client", "admin", "quorum", "election")


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
    _locks: dict[str, PortLock] = field(default_factory=dict, repr=False)  # role -> reservation
    _log_offset: int = field(default=0, repr=False)  # where this start's part of server.log begins
    _dist: Distribution | None = field(default=None, repr=False)

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

    def ports(self) -> dict[str, int]:
        """``{role: port}`` for every port this member listens on (quorum/election only in an ensemble)."""
        return {role: port for role in PORT_ROLES if (port := getattr(self, f"{role}_port"))}

    def set_port(self, role: str, lock: PortLock) -> None:
        """Use the reserved port ``lock`` for ``role`` (replacing and releasing an earlier reservation)."""
        old = self._locks.pop(role, None)
        if old is not None:
            old.release()
        setattr(self, f"{role}_port", lock.port)
        self._locks[role] = lock

    def release_ports(self) -> None:
        for lock in self._locks.values():
            lock.release()
        self._locks.clear()

    def _what(self, role: str) -> str:
        return f"{role} port of server {self.myid}"

    def check_ports(self) -> None:
        """Reserve every port against other zkbench processes and check that nothing else listens on it.

        Raises :class:`PortConflict` naming the port, what it is for, and which process holds it.
        """
        for role, port in self.ports().items():
            if port_in_use(port, self.host):
                raise PortConflict(f"port {port} ({self._what(role)}) is already in use: {port_holder(port)}",
                                   self, role)
            lock = self._locks.get(role)
            if lock is None or lock.port != port:
                lock = reserve(port)
                if lock is None:
                    raise PortConflict(f"port {port} ({self._what(role)}) is reserved by another zkbench process "
                                       "(one of its servers uses it, or is being restarted on it)", self, role)
                self._locks[role] = lock

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
        """Launch the JVM (after checking every port); :meth:`wait_serving` says whether it came up."""
        if self.running():
            return
        self.check_ports()
        cmd = [
            shutil.which("java") or "java",
            *jvm_opts,
            "-Dzookeeper.extendedTypesEnabled=true",
            "-Dzookeeper.admin.enableServer=true",
            *logs.jvm_logging_args(dist, self.workdir),
            "-cp", dist.classpath_str,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.config_file),
        ]
        self._dist = dist
        out = open(self.log_file, "ab")
        self._log_offset = out.tell()
        try:
            popen = popen_tied_to_process if self.owned else subprocess.Popen
            self._proc = popen(
                cmd, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal goes to us; we stop the JVM ourselves
                # a detached server keeps its ports reserved against other zkbench processes while it lives
                pass_fds=tuple(lock.fd for lock in self._locks.values() if lock.fd >= 0),
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
        """Wait until the server answers; raise :class:`ServerStartError` with ZooKeeper's reason if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.serving(0.5):
                return
            if not self.running():
                raise self._start_failure("exited during start-up")
            time.sleep(0.1)
        raise self._start_failure(f"did not answer within {timeout:g}s")

    def _start_failure(self, what: str) -> ServerStartError:
        """The error for a start that failed: the reason in one line, then the end of this start's log."""
        text = logs.read_from(self.log_file, self._log_offset)
        reason = logs.failure_reason(text, self.config_file)
        if reason is None:
            reason = ("ZooKeeper logged no error" if text.strip() else "ZooKeeper logged nothing")
            if self._dist is not None and self._dist.log_binding == "none":
                reason += f" ({NO_LOG_BINDING_HINT})"
        if "BindException" in reason or "Address already in use" in reason:
            for role, port in self.ports().items():
                if port_in_use(port, self.host):
                    message = (f"ZooKeeper server {self.myid} {what}: port {port} ({self._what(role)}) is already "
                               f"in use: {port_holder(port)}")
                    return PortConflict(f"{message}\n{self._log_tail(text)}", self, role)
            return PortConflict(f"ZooKeeper server {self.myid} {what}: {reason}\n{self._log_tail(text)}", self, None)
        return ServerStartError(f"ZooKeeper server {self.myid} ({self.address}) {what}: {reason}\n"
                                f"{self._log_tail(text)}")

    def _log_tail(self, text: str) -> str:
        return f"last lines of {self.log_file}:\n{logs.tail(text) or '(empty)'}"

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
        self._chosen: set[tuple[int, str]] = set()  # (myid, role) of ports zkbench chose: free to choose again

    def _choose_ports(self, member: Member, roles: tuple[str, ...]) -> None:
        """Give ``member`` fresh reserved ports (outside the ephemeral range) for ``roles``."""
        in_use = {p for m in self.members for p in m.ports().values()}
        for role, lock in zip(roles, allocate(len(roles), member.host, exclude=in_use)):
            member.set_port(role, lock)
            self._chosen.add((member.myid, role))

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
        """Stop every member, give up its ports and, for a temporary work dir, remove it."""
        for m in self.members:
            m.stop()
            m.release_ports()
        if self._tmp and self.owned:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):  # noqa: ANN204 - returns the concrete subclass
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        """Write the config, launch every member and wait until all serve.

        On "address in use" for a port zkbench chose (another program took it since), choose again and retry;
        a port the caller asked for (``port=``, ``base_port=``) fails at once with the port and its holder.
        """
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once(timeout)
                return
            except PortConflict as exc:
                for m in self.members:
                    m.kill()
                if attempt == START_ATTEMPTS or exc.role is None or (exc.member.myid, exc.role) not in self._chosen:
                    raise
                log.info("%s; choosing another port", exc.reason)
                self._choose_ports(exc.member, (exc.role,))
            except ServerStartError:
                for m in self.members:
                    m.kill()
                raise

    def _start_once(self, timeout: float) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def save_state(self, path: Path, kind: str) -> None:
        path.write_text(json.dumps({"kind": kind, "workdir": str(self.workdir), "tick_time": self.tick_time,
                                    "members": [m.to_json() for m in self.members]}, indent=2))


class LocalServer(_Cluster):
    """One standalone ZooKeeper server on 127.0.0.1 (ports outside the ephemeral range unless ``port``).

    >>> with LocalServer() as server:          # doctest: +SKIP
    ...     KazooClient(server.connect_string)
    """

    def __init__(self, workdir: str | os.PathLike[str] | None = None, *, port: int | None = None,
                 dist: Distribution | None = None, tick_time: int = 2000, jvm_opts: list[str] | None = None,
                 owned: bool = True, extra_config: dict[str, str] | None = None) -> None:
        super().__init__(workdir, dist, tick_time, jvm_opts, owned, extra_config)
        member = Member(1, self.workdir, port or 0, 0, owned=owned)
        self.members = [member]
        self._choose_ports(member, ("admin",) if port else ("client", "admin"))

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

    def _start_once(self, timeout: float) -> None:
        self.server.write_config(self.tick_time, None, self.extra_config)
        self.server.start(self.dist, self.jvm_opts)
        self.server.wait_serving(timeout)
        log.info("standalone ZooKeeper serving at %s (pid %s)", self.connect_string, self.pid)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop and start again on the same port with the same data (clients reconnect, sessions survive)."""
        self.server.stop()
        self.server.start(self.dist, self.jvm_opts)
        self.server.wait_serving(timeout)


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
            member = Member(myid, self.workdir / f"server{myid}", 0, 0, owned=owned)
            self.members.append(member)
            if base_port:
                member.client_port, member.admin_port = base_port + myid - 1, base_port + 100 + myid
                member.quorum_port, member.election_port = base_port + 200 + myid, base_port + 300 + myid
            else:
                self._choose_ports(member, PORT_ROLES)

    def _start_once(self, timeout: float) -> None:
        for m in self.members:
            m.workdir.mkdir(parents=True, exist_ok=True)
            m.write_config(self.tick_time, self.members, self.extra_config)
        for m in self.members:
            m.check_ports()  # every port of every member before any JVM starts
        for m in self.members:
            m.start(self.dist, self.jvm_opts)
        deadline = time.monotonic() + timeout
        for m in self.members:
            m.wait_serving(max(1.0, deadline - time.monotonic()))
        log.info("ensemble of %d serving at %s", len(self.members), self.connect_string)

    def start(self, timeout: float = 90.0) -> None:
        """Start every member and wait until all of them serve (a quorum formed)."""
        super().start(timeout)

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

    def wait_whole(self, timeout: float = 60.0) -> int:
        """Wait until every member serves and one of them leads; return the leader's myid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            modes = self.modes()
            leaders = [myid for myid, mode in modes.items() if mode == "leader"]
            if len(leaders) == 1 and all(mode in ("leader", "follower", "observer") for mode in modes.values()):
                return leaders[0]
            time.sleep(0.1)
        raise TimeoutError(f"the ensemble is not whole within {timeout:g}s: {self.modes()}")

    def kill(self, myid: int) -> None:
        """SIGKILL one member: a crash, to show failover."""
        self.member(myid).kill()

    def stop_member(self, myid: int) -> None:
        """Stop one member cleanly."""
        self.member(myid).stop()

    def restart(self, myid: int, timeout: float = 60.0) -> None:
        """Start a stopped or killed member again with its old data and ports; it rejoins the quorum."""
        m = self.member(myid)
        m.stop()
        m.start(self.dist, self.jvm_opts)
        m.wait_serving(timeout)
