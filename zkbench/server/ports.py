"""Ports for local servers: chosen outside the kernel's ephemeral range, reserved across processes, checked.

A port from the ephemeral range (``bind(0)`` hands those out) can be taken at any moment as the source port of
some outgoing connection on the machine, for instance between a member's kill and its restart. So ports come from
outside ``/proc/sys/net/ipv4/ip_local_port_range``. Several zkbench processes (test sessions, the app, ``zkbench
ensemble up``) may pick ports at the same time: each reserves its ports with an ``flock`` on a file under
``$TMPDIR/zkbench-ports``, held as long as the reserving process or the server it starts lives, and checks with a
real bind that nobody else (another program) has the port.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ephemeral_range", "candidate_ranges", "PortLock", "reserve", "allocate", "port_in_use",
           "port_holder"]

log = logging.getLogger(__name__)

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LINUX_DEFAULT_EPHEMERAL = (32768, 60999)
LOWEST = 20000  # below this live many well-known services (8080, 5432, 9092, ...)
_random = random.SystemRandom()  # two processes starting at the same instant must not draw the same sequence


def ephemeral_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The kernel's range for source ports of outgoing connections (Linux default 32768-60999)."""
    try:
        low, high = (int(x) for x in path.read_text().split()[:2])
    except (OSError, ValueError):
        return LINUX_DEFAULT_EPHEMERAL
    return low, high


def candidate_ranges(ephemeral: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """Inclusive port ranges to pick from: from 20000 up, minus the ephemeral range."""
    low, high = ephemeral or ephemeral_range()
    ranges = [(LOWEST, min(low - 1, 65535)), (max(high + 1, LOWEST), 65535)]
    ranges = [(a, b) for a, b in ranges if a <= b]
    if sum(b - a + 1 for a, b in ranges) < 1000:  # an odd kernel setting leaves (almost) nothing outside
        log.warning("the ephemeral port range %d-%d leaves few ports outside it; picking from 1024-65535", low, high)
        return [(1024, 65535)]
    return ranges


def _lock_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "zkbench-ports"
    if not path.is_dir():
        path.mkdir(exist_ok=True)
        try:
            path.chmod(0o1777)  # shared by every user's zkbench: a port is taken for all of them
        except OSError:
            pass
    return path


@dataclass(eq=False)
class PortLock:
    """An ``flock`` on ``zkbench-ports/<port>``: this process (and a child it passes ``fd`` to) owns the port.

    Within one process a port's lock is shared (``flock`` would refuse a second open of the same file even here):
    the file is closed when the last holder releases it.
    """

    port: int
    fd: int

    def release(self) -> None:
        if self.fd < 0:
            return
        with _held_lock:
            entry = _held.get(self.port)
            if entry is not None and entry[0] == self.fd:
                entry[1] -= 1
                if entry[1] == 0:
                    del _held[self.port]
                    os.close(self.fd)
        self.fd = -1


_held: dict[int, list[int]] = {}  # port -> [fd, holders] for the locks this process holds
_held_lock = threading.Lock()


def reserve(port: int) -> PortLock | None:
    """Reserve ``port`` against other zkbench processes; ``None`` when one of them holds it."""
    with _held_lock:
        entry = _held.get(port)
        if entry is not None:
            entry[1] += 1
            return PortLock(port, entry[0])
        path = _lock_dir() / str(port)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            log.warning("cannot reserve port %d in %s: %s", port, path.parent, exc)
            return PortLock(port, -1)  # no reservation possible: the bind check alone has to do
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        _held[port] = [fd, 1]
        return PortLock(port, fd)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could not listen on ``host:port`` now (bound the way the JVM binds: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def allocate(count: int, host: str = "127.0.0.1", *, exclude: set[int] | frozenset[int] = frozenset(),
             ranges: list[tuple[int, int]] | None = None) -> list[PortLock]:
    """``count`` distinct free ports outside the ephemeral range, each reserved for this process."""
    ranges = ranges or candidate_ranges()
    sizes = [b - a + 1 for a, b in ranges]
    locks: list[PortLock] = []
    taken = set(exclude)
    for _ in range(200 * count):
        if len(locks) == count:
            return locks
        a, b = _random.choices(ranges, weights=sizes)[0]
        port = _random.randint(a, b)
        if port in taken or port in _held:  # _held: this process's own, e.g. a killed member's awaiting restart
            continue
        taken.add(port)
        lock = reserve(port)
        if lock is None:
            continue
        if port_in_use(port, host):
            lock.release()
            continue
        locks.append(lock)
    if len(locks) == count:
        return locks
    for lock in locks:
        lock.release()
    raise OSError(errno.EADDRNOTAVAIL, f"no {count} free ports found in {ranges}")


_USERS = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


def _describe_pid(pid: int, name: str) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"{name} (pid {pid})"
    args = [a.decode(errors="replace") for a in argv if a]
    if "org.apache.zookeeper.server.quorum.QuorumPeerMain" in args:
        config = args[-1] if args[-1].endswith(".cfg") else ""
        return f"a ZooKeeper server, {name} (pid {pid}){' with ' + config if config else ''}"
    shown = re.sub(r"\s+", " ", " ".join(args)).strip() or name
    return f"{name} (pid {pid}: {shown[:60] + '...' if len(shown) > 60 else shown})"


def port_holder(port: int) -> str:
    """Who holds ``port``, from ``ss``: 'a ZooKeeper server, java (pid 123) ... listening' or a hint when unknown."""
    ss = shutil.which("ss")
    if ss is None:
        return "install iproute2 (ss) to see which process holds it"
    try:
        out = subprocess.run([ss, "-Htanp", f"sport = :{port}"], capture_output=True, text=True, timeout=5,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"ss failed: {exc}"
    rows = [line.split() for line in out.splitlines() if line.strip()]
    rows.sort(key=lambda r: r[0] != "LISTEN")  # a listener first: it is the one to stop
    for row in rows:
        state, local, peer = row[0], row[3], row[4]
        users = _USERS.findall(" ".join(row[5:]))
        how = f"listening on {local}" if state == "LISTEN" else f"{state.lower()} connection {local} -> {peer}"
        if users:
            name, pid = users[0]
            return f"held by {_describe_pid(int(pid), name)}, {how}"
        return f"held by a process ss cannot name (another user's? run as root), {how}"
    return "no process holds it now (it was released meanwhile, or is in another network namespace)"
