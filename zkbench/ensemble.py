"""Ensemble health: ask every ZooKeeper server how it is, and turn the answers into typed records.

Each server is probed over TCP with four-letter words (``srvr``, ``mntr``, ``ruok``, ``wchs``, and on demand
``cons``, ``conf``, ``dump``). A command the server refuses ("not in the whitelist") is asked again through the
AdminServer's HTTP API (``/commands/monitor``, ...), and the record says which source answered. Servers are
probed concurrently with a per-server deadline, so one dead or hung server never stalls the others.

:class:`EnsembleMonitor` polls repeatedly, keeps short histories for sparklines and turns differences between
polls into :class:`EnsembleEvent` lines (a new leader, a server down or back). The TUI screen and
``zkbench monitor`` both use it. Nothing here imports Textual.
"""

from __future__ import annotations

import enum
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zkbench.connection import parse_connect_string
from zkbench.fourlw import NOT_WHITELISTED, FourLetterWordError, four_letter_word
from zkbench.server.distribution import DistributionNotFound, find_distribution
from zkbench.server.local import LocalEnsemble, Member

if TYPE_CHECKING:
    from zkbench.server import LocalServer

__all__ = [
    "Mode", "Zxid", "ServerTarget", "ClientConnection", "ServerHealth", "EnsembleSnapshot", "EnsembleEvent",
    "EnsembleUpdate", "EnsembleMonitor", "EventKind", "probe_server", "probe_all", "targets_from_connect_string",
    "targets_from_local", "targets_from_membership", "parse_membership", "discover_targets",
    "ephemerals_of_session", "recorded_ensemble", "RecordedEnsemble", "parse_srvr", "parse_mntr", "parse_wchs", "parse_cons", "parse_dump",
    "DEFAULT_ADMIN_PORT", "SOURCE_4LW", "SOURCE_ADMIN",
]

log = logging.getLogger(__name__)

#: The AdminServer's port when the server's configuration does not say otherwise (``admin.serverPort``).
DEFAULT_ADMIN_PORT = 8080
SOURCE_4LW = "4lw"
SOURCE_ADMIN = "AdminServer"
NOT_SERVING = "not currently serving requests"


class Mode(enum.Enum):
    """What a server says it is. ``NOT_SERVING`` is up but without a quorum (electing, or cut off)."""

    LEADER = "leader"
    FOLLOWER = "follower"
    OBSERVER = "observer"
    STANDALONE = "standalone"
    READ_ONLY = "read-only"
    NOT_SERVING = "not serving"
    DOWN = "down"

    @classmethod
    def parse(cls, text: str) -> "Mode":
        text = text.strip().lower()
        for mode in cls:
            if mode.value == text:
                return mode
        if text in ("leading",):
            return cls.LEADER
        if text in ("following",):
            return cls.FOLLOWER
        if text in ("observing",):
            return cls.OBSERVER
        return cls.NOT_SERVING

    @property
    def serving(self) -> bool:
        return self not in (Mode.NOT_SERVING, Mode.DOWN)


@dataclass(frozen=True, slots=True, order=True)
class Zxid:
    """A ZooKeeper transaction id: the leader's epoch in the high 32 bits, a counter in the low 32."""

    value: int

    @property
    def epoch(self) -> int:
        return self.value >> 32

    @property
    def counter(self) -> int:
        return self.value & 0xFFFFFFFF

    @classmethod
    def parse(cls, text: str | int) -> "Zxid":
        if isinstance(text, int):
            return cls(text)
        text = text.strip()
        return cls(int(text, 16) if text.lower().startswith("0x") else int(text))

    def __str__(self) -> str:
        return f"0x{self.value:x}"


@dataclass(frozen=True, slots=True)
class ServerTarget:
    """Where to ask: the client port for four-letter words, and the AdminServer port (None: do not try HTTP)."""

    host: str
    port: int
    admin_port: int | None = DEFAULT_ADMIN_PORT
    myid: int | None = None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        return f"server {self.myid}" if self.myid is not None else self.address


@dataclass(frozen=True, slots=True)
class ClientConnection:
    """One line of ``cons`` (or one entry of the AdminServer's ``connections``)."""

    address: str
    session_id: int | None
    queued: int = 0
    received: int = 0
    sent: int = 0
    last_operation: str | None = None
    session_timeout_ms: int | None = None
    last_zxid: Zxid | None = None
    latency_min: int | None = None
    latency_avg: float | None = None
    latency_max: int | None = None

    @property
    def session_hex(self) -> str:
        return f"0x{self.session_id:x}" if self.session_id is not None else "-"


@dataclass(frozen=True, slots=True)
class ServerHealth:
    """Everything one poll learned about one server. Fields a source did not report are ``None``."""

    target: ServerTarget
    mode: Mode
    source: str | None = None  # "4lw", "AdminServer" or "4lw + AdminServer"; None when nothing answered
    error: str | None = None  # one line: why the server is down or not serving
    notes: tuple[str, ...] = ()  # e.g. "mntr not whitelisted: read from AdminServer"
    version: str | None = None
    zxid: Zxid | None = None
    latency_min: int | None = None
    latency_avg: float | None = None
    latency_max: int | None = None
    received: int | None = None
    sent: int | None = None
    outstanding: int | None = None
    connections: int | None = None
    znodes: int | None = None
    watches: int | None = None
    watched_paths: int | None = None
    watching_connections: int | None = None
    ephemerals: int | None = None
    data_size: int | None = None
    ruok: bool | None = None
    synced_followers: int | None = None
    quorum_size: int | None = None
    uptime_ms: int | None = None
    clients: tuple[ClientConnection, ...] | None = None
    probe_ms: float = 0.0
    taken_at: float = 0.0  # wall clock (time.time()) when the probe finished

    @property
    def up(self) -> bool:
        return self.mode is not Mode.DOWN

    @property
    def label(self) -> str:
        return self.target.label

    def latency_text(self) -> str:
        if self.latency_min is None:
            return "-"
        return f"{self.latency_min}/{_fmt_float(self.latency_avg)}/{self.latency_max}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mode"] = self.mode.value
        data["zxid"] = str(self.zxid) if self.zxid else None
        data["zxid_epoch"] = self.zxid.epoch if self.zxid else None
        data["zxid_counter"] = self.zxid.counter if self.zxid else None
        data["address"] = self.target.address
        data["notes"] = list(self.notes)
        if self.clients is not None:
            data["clients"] = [dict(asdict(c), session_id=c.session_hex if c.session_id is not None else None,
                                    last_zxid=str(c.last_zxid) if c.last_zxid else None) for c in self.clients]
        return data


def _fmt_float(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


# ---------------------------------------------------------------------------------------------- parsers


def parse_srvr(text: str) -> dict[str, Any]:
    """``srvr``/``stat`` output into a dict: version, latency, received, sent, connections, outstanding, zxid,
    mode, znodes. A server without a quorum answers one sentence; that gives ``{"mode": NOT_SERVING}``."""
    out: dict[str, Any] = {}
    if NOT_SERVING in text:
        out["mode"] = Mode.NOT_SERVING
        return out
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Zookeeper version":
            out["version"] = value.split(",")[0]
        elif key == "Latency min/avg/max":
            parts = value.split("/")
            if len(parts) == 3:
                out["latency_min"], out["latency_avg"], out["latency_max"] = (
                    int(parts[0]), float(parts[1]), int(parts[2]))
        elif key == "Received":
            out["received"] = int(value)
        elif key == "Sent":
            out["sent"] = int(value)
        elif key == "Connections":
            out["connections"] = int(value)
        elif key == "Outstanding":
            out["outstanding"] = int(value)
        elif key == "Zxid":
            out["zxid"] = Zxid.parse(value)
        elif key == "Mode":
            out["mode"] = Mode.parse(value)
        elif key == "Node count":
            out["znodes"] = int(value)
    return out


#: ``mntr`` key (without ``zk_``) -> ServerHealth field. The AdminServer's ``monitor`` uses the same names.
_MNTR_FIELDS = {
    "version": "version", "server_state": "mode", "avg_latency": "latency_avg", "min_latency": "latency_min",
    "max_latency": "latency_max", "packets_received": "received", "packets_sent": "sent",
    "num_alive_connections": "connections", "outstanding_requests": "outstanding", "znode_count": "znodes",
    "watch_count": "watches", "ephemerals_count": "ephemerals", "approximate_data_size": "data_size",
    "synced_followers": "synced_followers", "quorum_size": "quorum_size", "uptime": "uptime_ms",
}


def _mntr_values(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, fld in _MNTR_FIELDS.items():
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        if fld == "mode":
            out[fld] = Mode.parse(str(value))
        elif fld == "version":
            out[fld] = str(value).split(",")[0]
        elif fld == "latency_avg":
            out[fld] = float(value)
        else:
            try:
                out[fld] = int(float(value))
            except (TypeError, ValueError):
                continue
    return out


def parse_mntr(text: str) -> dict[str, Any]:
    """``mntr`` (tab-separated ``zk_key value`` lines) into ServerHealth fields."""
    if NOT_SERVING in text:
        return {"mode": Mode.NOT_SERVING}
    raw: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        if sep and key.startswith("zk_"):
            raw[key[3:]] = value.strip()
    return _mntr_values(raw)


_WCHS_RE = re.compile(r"(\d+) connections watching (\d+) paths\s+Total watches:\s*(\d+)", re.S)


def parse_wchs(text: str) -> dict[str, Any]:
    """``wchs``: "N connections watching P paths / Total watches:W"."""
    match = _WCHS_RE.search(text)
    if not match:
        return {}
    return {"watching_connections": int(match.group(1)), "watched_paths": int(match.group(2)),
            "watches": int(match.group(3))}


_CONS_RE = re.compile(r"^\s*/?(?P<addr>\S+?)\[(?P<interest>[0-9a-fx]+)\]\((?P<kv>[^)]*)\)\s*$")


def parse_cons(text: str) -> tuple[ClientConnection, ...]:
    """``cons``: one connection per line, ``/addr[interest](key=value,...)``. Lines without a session id (the
    four-letter-word connection asking, a handshake in progress) are left out."""
    out: list[ClientConnection] = []
    for line in text.splitlines():
        match = _CONS_RE.match(line)
        if not match:
            continue
        kv = dict(item.split("=", 1) for item in match.group("kv").split(",") if "=" in item)
        if "sid" not in kv:
            continue
        out.append(ClientConnection(
            address=match.group("addr"),
            session_id=int(kv["sid"], 16),
            queued=int(kv.get("queued", 0)),
            received=int(kv.get("recved", 0)),
            sent=int(kv.get("sent", 0)),
            last_operation=kv.get("lop") if kv.get("lop") not in (None, "NA") else None,
            session_timeout_ms=int(kv["to"]) if "to" in kv else None,
            last_zxid=Zxid.parse(kv["lzxid"]) if kv.get("lzxid", "").startswith("0x") else None,
            latency_min=int(kv["minlat"]) if "minlat" in kv else None,
            latency_avg=float(kv["avglat"]) if "avglat" in kv else None,
            latency_max=int(kv["maxlat"]) if "maxlat" in kv else None,
        ))
    return tuple(out)


def _connections_from_admin(data: dict[str, Any]) -> tuple[ClientConnection, ...]:
    out: list[ClientConnection] = []
    for conn in list(data.get("connections") or []) + list(data.get("secure_connections") or []):
        sid = _parse_sid(conn.get("session_id"))
        if not sid:  # the AdminServer request itself, or a handshake in progress
            continue
        lzxid = conn.get("last_zxid")
        out.append(ClientConnection(
            address=str(conn.get("remote_socket_address", "?")).lstrip("/"),
            session_id=sid,
            queued=int(conn.get("outstanding_requests", 0) or 0),
            received=int(conn.get("packets_received", 0) or 0),
            sent=int(conn.get("packets_sent", 0) or 0),
            last_operation=conn.get("last_operation") if conn.get("last_operation") not in (None, "NA") else None,
            session_timeout_ms=conn.get("session_timeout"),
            last_zxid=Zxid.parse(lzxid) if isinstance(lzxid, (int, str)) and str(lzxid) not in ("", "-1") else None,
            latency_min=conn.get("min_latency"),
            latency_avg=float(conn["avg_latency"]) if conn.get("avg_latency") is not None else None,
            latency_max=conn.get("max_latency"),
        ))
    return tuple(out)


def parse_dump(text: str) -> dict[int, tuple[str, ...]]:
    """``dump``: the "Sessions with Ephemerals" part, as ``{session_id: (path, ...)}``."""
    out: dict[int, list[str]] = {}
    in_ephemerals = False
    current: int | None = None
    for line in text.splitlines():
        if line.startswith("Sessions with Ephemerals"):
            in_ephemerals = True
            continue
        if not in_ephemerals:
            continue
        if line.startswith("Connections dump") or (line and not line[0].isspace() and not line.startswith("0x")):
            break
        stripped = line.strip()
        if line.startswith("0x") and stripped.endswith(":"):
            current = int(stripped[:-1], 16)
            out.setdefault(current, [])
        elif stripped.startswith("/") and current is not None:
            out[current].append(stripped)
    return {sid: tuple(paths) for sid, paths in out.items()}


_MEMBER_RE = re.compile(r"^server\.(\d+)=([^;\s]+)(?:;(\S+))?\s*$")


def parse_membership(text: str, default_client_port: int = 2181) -> list[ServerTarget]:
    """Dynamic-config lines (``conf``'s membership, or the ``/zookeeper/config`` znode) into targets.

    ``server.2=10.0.0.2:2888:3888:participant;0.0.0.0:2181``: the client address after ``;`` is used; a wildcard
    client host means "the same host as the quorum address". Servers without a client address get the default
    port. The AdminServer port is not part of the membership; the ZooKeeper default (8080) is assumed.
    """
    targets: list[ServerTarget] = []
    for line in text.splitlines():
        match = _MEMBER_RE.match(line.strip())
        if not match:
            continue
        myid = int(match.group(1))
        quorum_host = match.group(2).rsplit(":", 3)[0] if match.group(2).count(":") <= 3 else match.group(2)
        quorum_host = quorum_host.split(":")[0].strip("[]")
        client = match.group(3)
        if client:
            host, _, port = client.rpartition(":")
            if not host:  # ";2181": port only
                host = quorum_host
            host = host.strip("[]")
            if host in ("0.0.0.0", "::", "0:0:0:0:0:0:0:0"):
                host = quorum_host
            targets.append(ServerTarget(host, int(port), myid=myid))
        else:
            targets.append(ServerTarget(quorum_host, default_client_port, myid=myid))
    return targets


# --------------------------------------------------------------------------------------------- targets


def targets_from_connect_string(hosts: str, admin_port: int | None = DEFAULT_ADMIN_PORT) -> list[ServerTarget]:
    """One target per host of a connect string (the chroot is irrelevant to four-letter words)."""
    return [ServerTarget(host, port, admin_port) for host, port in parse_connect_string(hosts).hosts]


def targets_from_local(cluster: "LocalEnsemble | LocalServer") -> list[ServerTarget]:
    """A local server or ensemble started by zkbench knows every member's myid and AdminServer port."""
    return [ServerTarget(m.host, m.client_port, m.admin_port, m.myid) for m in cluster.members]


def recorded_ensemble(hosts: str) -> "LocalEnsemble | None":
    """The ensemble a ``zkbench ensemble up`` started, when its members are exactly the servers of ``hosts``.

    Read from the run directory's ``ensemble/state.json`` (see ``zkbench.server.cli.run_dir``). The object can
    kill and restart members like any :class:`LocalEnsemble`, and writes the new pids back to the state file so
    ``zkbench ensemble down`` / ``status`` still find a member restarted from the screen. ``None`` when nothing is
    recorded, the members differ from ``hosts`` (another ensemble), or no member is running.
    """
    from zkbench.server.cli import run_dir  # the CLI module owns where state lives

    path = run_dir() / "ensemble" / "state.json"
    if not path.exists():
        return None
    try:
        cs = parse_connect_string(hosts)
        state = json.loads(path.read_text())
        members = [Member.from_json(m) for m in state["members"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the recorded ensemble in %s: %s", path, exc)
        return None
    wanted = {(_norm_host(h), p) for h, p in cs.hosts}
    if not members or {(_norm_host(m.host), m.client_port) for m in members} != wanted:
        return None
    if not any(m.running() for m in members):
        return None
    try:
        return RecordedEnsemble(path, state, members)
    except DistributionNotFound as exc:
        log.warning("the recorded ensemble cannot be restarted from here: %s", exc)
        return None


class RecordedEnsemble(LocalEnsemble):
    """A :class:`LocalEnsemble` read back from ``state.json``; writes the pids back after every kill / restart."""

    def __init__(self, path: Path, state: dict[str, Any], members: list[Member]) -> None:
        zk_home = state.get("zk_home")
        # base_port=1 only avoids probing for free ports: the members are replaced by the recorded ones
        super().__init__(len(members), members[0].workdir.parent, dist=find_distribution(zk_home), owned=False,
                         base_port=1)
        self.members = members
        self.state_path = path
        self.state = state

    def _save(self) -> None:
        data = dict(self.state, members=[m.to_json() for m in self.members])
        self.state_path.write_text(json.dumps(data, indent=2))

    def kill(self, myid: int) -> None:
        try:
            super().kill(myid)
        finally:
            self._save()

    def restart(self, myid: int, timeout: float = 60.0) -> None:
        try:
            super().restart(myid, timeout)
        finally:
            self._save()


def targets_from_membership(target: ServerTarget, timeout: float = 2.0) -> list[ServerTarget]:
    """Ask one server for the ensemble's membership (``conf``, or the AdminServer's ``voting_view``)."""
    try:
        text = four_letter_word(target.host, target.port, "conf", timeout)
    except FourLetterWordError as exc:
        log.info("conf from %s failed: %s", target.address, exc)
        text = ""
    if text and NOT_WHITELISTED not in text:
        found = parse_membership(text, target.port)
        return [replace(t, admin_port=target.admin_port) for t in found]
    if target.admin_port is None:
        return []
    try:
        data = _admin_get(target.host, target.admin_port, "voting_view", timeout)
    except _AdminError as exc:
        log.info("voting_view from %s failed: %s", target.address, exc)
        return []
    lines = [f"server.{sid}={spec}" for sid, spec in (data.get("current_config") or {}).items()]
    return [replace(t, admin_port=target.admin_port) for t in parse_membership("\n".join(lines), target.port)]


def discover_targets(seeds: Sequence[ServerTarget], timeout: float = 2.0,
                     config_text: str | None = None) -> list[ServerTarget]:
    """The seeds plus every member the ensemble's configuration names, seeds first, without duplicates.

    ``config_text`` is the ``/zookeeper/config`` znode's data when the caller has a session; otherwise the first
    seed that answers ``conf`` (or ``voting_view``) supplies the membership. A standalone server has none.
    """
    members: list[ServerTarget] = parse_membership(config_text) if config_text else []
    if not members:
        for seed in seeds:
            members = targets_from_membership(seed, timeout)
            if members:
                break
    admin_default = seeds[0].admin_port if seeds else DEFAULT_ADMIN_PORT
    by_address: dict[tuple[str, int], ServerTarget] = {}
    for seed in seeds:
        by_address[(_norm_host(seed.host), seed.port)] = seed
    for member in members:
        key = (_norm_host(member.host), member.port)
        if key in by_address:
            seed = by_address[key]
            if seed.myid is None:
                by_address[key] = replace(seed, myid=member.myid)
        else:
            by_address[key] = replace(member, admin_port=admin_default)
    return sorted(by_address.values(), key=lambda t: (t.myid is None, t.myid or 0, t.address))


def _norm_host(host: str) -> str:
    return "127.0.0.1" if host in ("localhost", "::1", "127.0.0.1") else host


# ----------------------------------------------------------------------------------------------- probing


class _AdminError(Exception):
    """The AdminServer could not be reached or answered with an error."""


def _admin_get(host: str, port: int, command: str, timeout: float) -> dict[str, Any]:
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/commands/{command}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - http to a configured server
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raise _AdminError(f"AdminServer {host}:{port} answered HTTP {exc.code} for {command}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or str(reason)
        raise _AdminError(f"AdminServer {host}:{port} unreachable: {reason}") from exc
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise _AdminError(f"AdminServer {host}:{port} sent something that is not JSON for {command}") from exc
    if not isinstance(data, dict):
        raise _AdminError(f"AdminServer {host}:{port} sent an unexpected reply for {command}")
    if data.get("error"):
        raise _AdminError(f"AdminServer {host}:{port}: {command}: {data['error']}")
    return data


class _Probe:
    """One server, one poll: four-letter words first, AdminServer for what they refuse."""

    def __init__(self, target: ServerTarget, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self.sources: set[str] = set()
        self.notes: list[str] = []
        self.fields: dict[str, Any] = {}
        self._admin_down: str | None = None

    def word(self, command: str) -> str | None:
        """The reply, or None when the command is not whitelisted (a note says so). Raises when unreachable."""
        text = four_letter_word(self.target.host, self.target.port, command, self.timeout)
        if NOT_WHITELISTED in text:
            return None
        self.sources.add(SOURCE_4LW)
        return text

    def admin(self, command: str, why: str) -> dict[str, Any] | None:
        """Ask the AdminServer; None (with a note) when it cannot answer."""
        if self.target.admin_port is None:
            self.notes.append(f"{why} not whitelisted (no AdminServer port to fall back to)")
            return None
        if self._admin_down is not None:
            self.notes.append(f"{why} not whitelisted and AdminServer unavailable")
            return None
        try:
            data = _admin_get(self.target.host, self.target.admin_port, command, self.timeout)
        except _AdminError as exc:
            self._admin_down = str(exc)
            self.notes.append(f"{why} not whitelisted; {exc}")
            return None
        self.sources.add(SOURCE_ADMIN)
        self.notes.append(f"{why} not whitelisted: read from AdminServer /commands/{command}")
        return data

    def run(self, *, clients: bool) -> ServerHealth:
        start = time.monotonic()
        try:
            return self._run(clients=clients, start=start)
        except FourLetterWordError as exc:
            return self._down(str(exc), start)

    def _down(self, reason: str, start: float) -> ServerHealth:
        # srvr is refused only by servers older than 3.5 with 4lw off; the AdminServer may still answer.
        return ServerHealth(self.target, Mode.DOWN, source=None, error=reason, notes=tuple(self.notes),
                            probe_ms=(time.monotonic() - start) * 1000, taken_at=time.time())

    def _run(self, *, clients: bool, start: float) -> ServerHealth:
        f = self.fields
        srvr = self.word("srvr")
        if srvr is not None:
            f.update(parse_srvr(srvr))
        else:
            data = self.admin("server_stats", "srvr")
            if data is None:
                return self._down(self._admin_down or "srvr refused and no AdminServer answered", start)
            f.update(_server_stats_values(data))
        mode = f.get("mode", Mode.NOT_SERVING)
        if mode is Mode.NOT_SERVING:
            ruok = self.word("ruok")
            f["ruok"] = ruok is not None and ruok.strip() == "imok" if ruok is not None else None
            return self._finish(start, error="up, but not serving requests: no quorum (an election is running, "
                                             "or this server cannot reach a majority)")
        mntr = self.word("mntr")
        if mntr is not None:
            values = parse_mntr(mntr)
        else:
            data = self.admin("monitor", "mntr")
            values = _mntr_values(data) if data is not None else {}
        for key, value in values.items():  # srvr's zxid/latency are kept; mntr adds what srvr lacks
            if key not in f or key in ("watches", "ephemerals", "data_size", "synced_followers", "quorum_size"):
                f[key] = value
        ruok = self.word("ruok")
        if ruok is not None:
            f["ruok"] = ruok.strip() == "imok"
        else:
            data = self.admin("ruok", "ruok")
            f["ruok"] = True if data is not None else None
        wchs = self.word("wchs")
        if wchs is not None:
            f.update(parse_wchs(wchs))
        else:
            data = self.admin("watch_summary", "wchs")
            if data is not None:
                f.update({"watching_connections": data.get("num_connections"),
                          "watched_paths": data.get("num_paths"), "watches": data.get("num_total_watches")})
        if clients:
            cons = self.word("cons")
            if cons is not None:
                f["clients"] = parse_cons(cons)
            else:
                data = self.admin("connections", "cons")
                f["clients"] = _connections_from_admin(data) if data is not None else None
        return self._finish(start)

    def _finish(self, start: float, error: str | None = None) -> ServerHealth:
        mode = self.fields.pop("mode", Mode.NOT_SERVING)
        source = " + ".join(s for s in (SOURCE_4LW, SOURCE_ADMIN) if s in self.sources) or None
        return ServerHealth(self.target, mode, source=source, error=error, notes=tuple(self.notes),
                            probe_ms=(time.monotonic() - start) * 1000, taken_at=time.time(), **self.fields)


def _server_stats_values(data: dict[str, Any]) -> dict[str, Any]:
    """The AdminServer's ``server_stats`` (the JSON ``srvr``)."""
    stats = data.get("server_stats") or {}
    out: dict[str, Any] = {}
    if data.get("version"):
        out["version"] = str(data["version"]).split(",")[0]
    if stats.get("server_state"):
        out["mode"] = Mode.parse(str(stats["server_state"]))
    if stats.get("last_processed_zxid") is not None:
        out["zxid"] = Zxid(int(stats["last_processed_zxid"]))
    for src, dst in (("min_latency", "latency_min"), ("max_latency", "latency_max"),
                     ("packets_received", "received"), ("packets_sent", "sent"),
                     ("num_alive_client_connections", "connections"), ("outstanding_requests", "outstanding")):
        if stats.get(src) is not None:
            out[dst] = int(stats[src])
    if stats.get("avg_latency") is not None:
        out["latency_avg"] = float(stats["avg_latency"])
    if data.get("node_count") is not None:
        out["znodes"] = int(data["node_count"])
    return out


def probe_server(target: ServerTarget, timeout: float = 1.0, *, clients: bool = False) -> ServerHealth:
    """Probe one server (blocking; each request waits at most ``timeout`` seconds)."""
    return _Probe(target, timeout).run(clients=clients)


def probe_all(targets: Sequence[ServerTarget], timeout: float = 1.0, *, clients: bool = False,
              executor: ThreadPoolExecutor | None = None) -> tuple[ServerHealth, ...]:
    """Probe every target concurrently; a server still silent after its deadline is reported down.

    The deadline is generous (four requests' worth of ``timeout``) so a slow but live server is not called down;
    a dead one answers "connection refused" at once, and a hung one costs one ``timeout``.
    """
    own = executor is None
    pool = executor or ThreadPoolExecutor(max_workers=max(1, len(targets)), thread_name_prefix="zk-probe")
    try:
        futures: list[Future[ServerHealth]] = [pool.submit(probe_server, t, timeout, clients=clients)
                                               for t in targets]
        deadline = timeout * (5 if clients else 4) + 0.5
        wait_futures(futures, timeout=deadline)
        results: list[ServerHealth] = []
        for target, future in zip(targets, futures):
            if future.done() and future.exception() is None:
                results.append(future.result())
            else:
                exc = future.exception() if future.done() else None
                if exc is not None:
                    log.warning("probing %s failed", target.address, exc_info=exc)
                reason = (f"probe failed: {type(exc).__name__}: {exc}" if exc is not None
                          else f"{target.address} did not finish answering within {deadline:g}s")
                results.append(ServerHealth(target, Mode.DOWN, error=reason, probe_ms=deadline * 1000,
                                            taken_at=time.time()))
        return tuple(results)
    finally:
        if own:
            pool.shutdown(wait=False, cancel_futures=True)


def ephemerals_of_session(session_id: int, targets: Sequence[ServerTarget], timeout: float = 2.0,
                          client: Any = None) -> tuple[str, tuple[str, ...]]:
    """The ephemeral znodes owned by ``session_id``, and which source said so.

    ZooKeeper's ``getEphemerals`` (3.6+) only lists the *calling* session's ephemerals, so it is used when
    ``client`` is that session (and has ``get_ephemerals``); any other session is looked up with ``dump``
    (4lw, or the AdminServer's ``/commands/dump``), which every server answers from the replicated tree.
    """
    if client is not None and hasattr(client, "get_ephemerals"):
        client_id = getattr(client, "client_id", None)
        if client_id and client_id[0] == session_id:
            return "getEphemerals", tuple(sorted(client.get_ephemerals("/")))
    errors: list[str] = []
    for target in targets:
        try:
            text = four_letter_word(target.host, target.port, "dump", timeout)
        except FourLetterWordError as exc:
            errors.append(str(exc))
            continue
        if NOT_WHITELISTED not in text:
            return f"dump from {target.label}", tuple(sorted(parse_dump(text).get(session_id, ())))
        if target.admin_port is None:
            errors.append(f"{target.label}: dump not whitelisted")
            continue
        try:
            data = _admin_get(target.host, target.admin_port, "dump", timeout)
        except _AdminError as exc:
            errors.append(f"{target.label}: dump not whitelisted; {exc}")
            continue
        paths = (data.get("session_id_to_ephemeral_paths") or {})
        for sid, items in paths.items():
            if _parse_sid(sid) == session_id:
                return f"AdminServer dump from {target.label}", tuple(sorted(items))
        return f"AdminServer dump from {target.label}", ()
    raise LookupError("no server answered dump: " + "; ".join(errors) if errors else "no servers to ask")


def _parse_sid(value: Any) -> int | None:
    if value is None:
        return None
    try:
        text = str(value)
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------- snapshots, events


@dataclass(frozen=True, slots=True)
class EnsembleSnapshot:
    """One poll of every server."""

    servers: tuple[ServerHealth, ...]
    taken_at: float = 0.0

    @property
    def leader(self) -> ServerHealth | None:
        for health in self.servers:
            if health.mode is Mode.LEADER:
                return health
        return None

    def lag(self, health: ServerHealth) -> int | None:
        """How many transactions ``health`` is behind the leader; None when it cannot be said.

        In the same epoch it is the difference of the counters. A *serving* follower still in an older epoch
        synced with the leader when it joined and has applied none of the new epoch's transactions, so it lags
        by the leader's counter (right after an election the leader is at ``<epoch>00000000``: in sync, although
        the follower still reports its last zxid of the old epoch).
        """
        leader = self.leader
        if leader is None or leader.zxid is None or health.zxid is None or health is leader:
            return None
        if health.zxid.epoch == leader.zxid.epoch:
            return max(0, leader.zxid.counter - health.zxid.counter)
        if health.zxid.epoch < leader.zxid.epoch and health.mode.serving:
            return leader.zxid.counter
        return None

    def lag_text(self, health: ServerHealth) -> str:
        leader = self.leader
        if health.mode is Mode.LEADER:
            return "leader"
        if leader is None or leader.zxid is None or health.zxid is None:
            return "-"
        lag = self.lag(health)
        if lag is None:
            return f"epoch {health.zxid.epoch} vs {leader.zxid.epoch}"
        return "in sync" if lag == 0 else f"{lag} txn behind"

    def to_json(self) -> dict[str, Any]:
        leader = self.leader
        return {"taken_at": self.taken_at, "leader": leader.target.address if leader else None,
                "servers": [dict(h.to_json(), lag=self.lag(h)) for h in self.servers]}


class EventKind(enum.Enum):
    LEADER = "leader"
    DOWN = "down"
    UP = "up"
    MODE = "mode"
    NO_LEADER = "no-leader"
    ACTION = "action"


@dataclass(frozen=True, slots=True)
class EnsembleEvent:
    """A line for the timeline: something changed between two polls (or the user did something)."""

    kind: EventKind
    text: str
    timestamp: float
    server: str | None = None

    def line(self) -> str:
        return f"{time.strftime('%H:%M:%S', time.localtime(self.timestamp))}  {self.text}"


@dataclass(frozen=True, slots=True)
class EnsembleUpdate:
    """What the monitor hands the UI after each poll: the snapshot, what changed, and the histories."""

    snapshot: EnsembleSnapshot
    events: tuple[EnsembleEvent, ...]
    history: dict[str, dict[str, tuple[float, ...]]] = field(default_factory=dict)  # address -> metric -> values


def diff_snapshots(before: EnsembleSnapshot | None, after: EnsembleSnapshot,
                   last_leader: ServerHealth | None = None,
                   returning: set[str] | None = None) -> list[EnsembleEvent]:
    """Leader changes, servers going down or coming back, and mode changes between two polls.

    ``last_leader`` is the last leader seen in any earlier poll, so a leader elected after a poll that saw none
    is still announced as "new leader: X (was Y)".

    A restarted member usually answers before it serves (it is still joining the quorum). It is announced as
    "back" only once it serves again; in between the timeline says it answers but is not serving yet.
    ``returning`` (kept by the caller between polls, updated here) holds the addresses in that state.
    """
    if returning is None:
        returning = set()
    now = after.taken_at
    events: list[EnsembleEvent] = []
    old = {h.target.address: h for h in before.servers} if before else {}
    for health in after.servers:
        prev = old.get(health.target.address)
        name = health.label
        if prev is None:
            if before is None:
                what = health.mode.value + (f" ({health.error})" if health.mode is Mode.DOWN else "")
                events.append(EnsembleEvent(EventKind.MODE, f"{name} ({health.target.address}): {what}", now,
                                            health.target.address))
            continue
        address = health.target.address
        if prev.up and not health.up:
            returning.discard(address)
            events.append(EnsembleEvent(EventKind.DOWN, f"{name} is DOWN: {health.error}", now, address))
        elif not prev.up and health.up and not health.mode.serving:
            returning.add(address)
            events.append(EnsembleEvent(EventKind.MODE, f"{name} answers again, not serving yet (joining the "
                                        "quorum)", now, address))
        elif health.mode.serving and (not prev.up or address in returning):
            returning.discard(address)
            events.append(EnsembleEvent(EventKind.UP, f"{name} is back: {health.mode.value}", now, address))
        elif prev.mode is not health.mode and health.mode is not Mode.LEADER:
            events.append(EnsembleEvent(EventKind.MODE, f"{name}: {prev.mode.value} -> {health.mode.value}", now,
                                        health.target.address))
    old_leader = before.leader if before else None
    known = old_leader or last_leader
    new_leader = after.leader
    if new_leader is not None and (old_leader is None or
                                   old_leader.target.address != new_leader.target.address):
        epoch = f", epoch {new_leader.zxid.epoch}" if new_leader.zxid else ""
        if known is not None and known.target.address == new_leader.target.address:
            text = f"leader again: {new_leader.label}{epoch}"
        else:
            was = f" (was {known.label})" if known else ""
            text = f"new leader: {new_leader.label}{was}{epoch}"
        events.append(EnsembleEvent(EventKind.LEADER, text, now, new_leader.target.address))
    elif new_leader is None and old_leader is not None:
        events.append(EnsembleEvent(EventKind.NO_LEADER, f"no leader: {old_leader.label} gone, election running",
                                    now, old_leader.target.address))
    return events


#: Metrics kept per server for sparklines (None values are kept as 0).
HISTORY_METRICS = ("latency_avg", "outstanding", "connections", "znodes", "watches", "requests_per_s")


class EnsembleMonitor:
    """Repeated polls of a fixed set of servers: snapshots, events between them, and short histories.

    ``poll()`` is blocking and must not be called from two threads at once (the screen and the CLI each run
    one poll at a time; a lock makes a mistake harmless rather than racy).
    """

    def __init__(self, targets: Sequence[ServerTarget], *, timeout: float = 0.8, history: int = 60,
                 clients: bool = False, clock: Callable[[], float] = time.time) -> None:
        if not targets:
            raise ValueError("no servers to monitor")
        self.targets = list(targets)
        self.timeout = timeout
        self.clients = clients
        self._clock = clock
        self._history_len = history
        self._history: dict[str, dict[str, deque[float]]] = {}
        self._last: EnsembleSnapshot | None = None
        self._last_leader: ServerHealth | None = None
        self._returning: set[str] = set()  # answering again after being down, not serving yet
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(2, len(self.targets)), thread_name_prefix="zk-probe")

    @property
    def last(self) -> EnsembleSnapshot | None:
        return self._last

    def set_targets(self, targets: Iterable[ServerTarget]) -> None:
        targets = list(targets)
        if targets:
            self.targets = targets
            if len(targets) > self._pool._max_workers:  # noqa: SLF001 - grow the pool with the ensemble
                self._pool.shutdown(wait=False)
                self._pool = ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="zk-probe")

    def poll(self) -> EnsembleUpdate:
        with self._lock:
            servers = probe_all(self.targets, self.timeout, clients=self.clients, executor=self._pool)
            snapshot = EnsembleSnapshot(servers, self._clock())
            return self.record(snapshot)

    def record(self, snapshot: EnsembleSnapshot) -> EnsembleUpdate:
        """Fold a snapshot (polled, or given by a test) into the histories and compute the events."""
        events = diff_snapshots(self._last, snapshot, self._last_leader, self._returning)
        if snapshot.leader is not None:
            self._last_leader = snapshot.leader
        prev = {h.target.address: h for h in self._last.servers} if self._last else {}
        for health in snapshot.servers:
            series = self._history.setdefault(
                health.target.address, {m: deque(maxlen=self._history_len) for m in HISTORY_METRICS})
            before = prev.get(health.target.address)
            rate = 0.0
            if (before is not None and before.received is not None and health.received is not None
                    and health.taken_at > before.taken_at and health.received >= before.received):
                rate = (health.received - before.received) / (health.taken_at - before.taken_at)
            for metric in HISTORY_METRICS:
                value = rate if metric == "requests_per_s" else getattr(health, metric)
                series[metric].append(float(value or 0))
        self._last = snapshot
        history = {addr: {m: tuple(v) for m, v in series.items()} for addr, series in self._history.items()}
        return EnsembleUpdate(snapshot, tuple(events), history)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
