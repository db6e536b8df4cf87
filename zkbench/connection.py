"""Settings in, a started client out: connect strings, chroot, digest auth, TLS, timeouts, read-only.

Also turns kazoo's state changes into :class:`~zkbench.events.ConnectionStateChanged` events and connection
failures into one readable line (which hosts were tried, and why each failed).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from kazoo.client import KazooState
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import make_digest_acl_credential

from zkbench.errors import ZkBenchError
from zkbench.events import ConnectionState, ConnectionStateChanged
from zkbench.protocol import ZkClient

__all__ = ["ConnectString", "parse_connect_string", "ConnectionSettings", "ConnectError", "connect",
           "Connection", "DEFAULT_HOSTS"]

log = logging.getLogger(__name__)

DEFAULT_HOSTS = "127.0.0.1:2181"


class ConnectError(ZkBenchError):
    """Could not reach any server; the message lists the hosts tried and why."""


@dataclass(frozen=True, slots=True)
class ConnectString:
    """``h1:p1,h2:p2/chroot`` taken apart."""

    hosts: tuple[tuple[str, int], ...]
    chroot: str | None = None

    @property
    def hosts_str(self) -> str:
        return ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)

    def __str__(self) -> str:
        return self.hosts_str + (self.chroot or "")


def parse_connect_string(text: str, default_port: int = 2181) -> ConnectString:
    """Parse a ZooKeeper connect string; raise ``ValueError`` with a one-line reason when it is malformed."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty connect string")
    chroot: str | None = None
    slash = raw.find("/")
    if slash >= 0:
        raw, chroot = raw[:slash], raw[slash:]
        chroot = chroot.rstrip("/") or None
        if chroot and ("//" in chroot or any(part in (".", "..") for part in chroot.split("/")[1:])):
            raise ValueError(f"invalid chroot {chroot!r}")
    hosts: list[tuple[str, int]] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            raise ValueError(f"empty host in connect string {text!r}")
        if item.startswith("["):  # [ipv6]:port
            end = item.find("]")
            if end < 0:
                raise ValueError(f"unclosed '[' in {item!r}")
            host, rest = item[1:end], item[end + 1:]
            port_s = rest[1:] if rest.startswith(":") else ""
        elif item.count(":") == 1:
            host, port_s = item.split(":")
        elif ":" in item:
            raise ValueError(f"write IPv6 hosts as [addr]:port, not {item!r}")
        else:
            host, port_s = item, ""
        if not host:
            raise ValueError(f"missing host in {item!r}")
        try:
            port = int(port_s) if port_s else default_port
        except ValueError:
            raise ValueError(f"port {port_s!r} in {item!r} is not a number") from None
        if not 0 < port < 65536:
            raise ValueError(f"port {port} in {item!r} is out of range")
        hosts.append((host, port))
    return ConnectString(tuple(hosts), chroot)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Everything needed to open one session."""

    hosts: str = DEFAULT_HOSTS
    session_timeout: float = 10.0
    connect_timeout: float = 10.0
    auth: tuple[tuple[str, str], ...] = ()  # (scheme, credential), e.g. ("digest", "user:password")
    read_only: bool = False
    tls_certfile: str | None = None
    tls_keyfile: str | None = None
    tls_ca: str | None = None
    tls_verify: bool = True
    client_kwargs: dict[str, object] = field(default_factory=dict)

    def with_hosts(self, hosts: str) -> "ConnectionSettings":
        return replace(self, hosts=hosts)

    def redacted_auth(self) -> str:
        """For logs and headers: schemes and user names only, never secrets."""
        return ", ".join(f"{scheme}:{cred.split(':', 1)[0]}:***" if scheme == "digest" else f"{scheme}:***"
                         for scheme, cred in self.auth)


def _probe(host: str, port: int, timeout: float = 1.0) -> str:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "accepts TCP but no ZooKeeper session was established"
    except socket.gaierror:
        return "unknown host"
    except socket.timeout:
        return "no answer (timed out)"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as exc:
        return exc.strerror or str(exc)


def _failure_line(cs: ConnectString, timeout: float) -> str:
    reasons = "; ".join(f"{h}:{p} {_probe(h, p)}" for h, p in cs.hosts)
    return f"Could not connect to ZooKeeper within {timeout:g}s - {reasons}"


def make_client(settings: ConnectionSettings) -> ZkClient:
    """A configured but not yet started :class:`ZkClient`."""
    cs = parse_connect_string(settings.hosts)
    kwargs: dict[str, object] = dict(hosts=str(cs), timeout=settings.session_timeout,
                                     read_only=settings.read_only)
    if settings.auth:
        kwargs["auth_data"] = list(settings.auth)
    if settings.tls_certfile or settings.tls_ca:
        kwargs.update(use_ssl=True, certfile=settings.tls_certfile, keyfile=settings.tls_keyfile,
                      ca=settings.tls_ca, verify_certs=settings.tls_verify)
    kwargs.update(settings.client_kwargs)
    return ZkClient(**kwargs)  # type: ignore[arg-type]


def connect(settings: ConnectionSettings) -> ZkClient:
    """Start a client and wait for its session; raise :class:`ConnectError` with one readable line."""
    try:
        cs = parse_connect_string(settings.hosts)
    except ValueError as exc:
        raise ConnectError(f"Bad connect string {settings.hosts!r}: {exc}") from None
    reasons = [_probe(h, p, timeout=min(1.0, settings.connect_timeout)) for h, p in cs.hosts]
    if all(r in ("connection refused", "unknown host") for r in reasons):
        # nobody can answer: say so now instead of letting kazoo retry for the whole connect timeout
        raise ConnectError("Could not connect to ZooKeeper - "
                           + "; ".join(f"{h}:{p} {r}" for (h, p), r in zip(cs.hosts, reasons)))
    client = make_client(settings)
    try:
        client.start(timeout=settings.connect_timeout)
    except KazooTimeoutError:
        client.stop()
        client.close()
        raise ConnectError(_failure_line(cs, settings.connect_timeout)) from None
    except KazooException as exc:
        client.stop()
        client.close()
        raise ConnectError(f"Could not connect to {cs.hosts_str}: {exc or type(exc).__name__}") from None
    return client


def digest_acl_credential(user: str, password: str) -> str:
    """The ``user:base64(sha1)`` form that a digest ACL stores."""
    return make_digest_acl_credential(user, password)


class Connection:
    """One live session plus the state events the UI shows about it.

    ``on_event`` is called on kazoo's thread: it must only enqueue.
    """

    def __init__(self, settings: ConnectionSettings, role: str = "user",
                 on_event: Callable[[ConnectionStateChanged], None] | None = None) -> None:
        self.settings = settings
        self.role = role
        self.on_event = on_event
        self.client: ZkClient | None = None
        self.state = ConnectionState.CONNECTING
        self._lock = threading.Lock()

    @property
    def read_only(self) -> bool:
        return self.client.read_only if self.client else self.settings.read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        self.settings = replace(self.settings, read_only=value)
        if self.client is not None:
            self.client.read_only = value

    @property
    def session_id(self) -> int:
        client = self.client
        if client is None or not client.connected:
            return 0
        sid = client.client_id
        return sid[0] if sid else 0

    @property
    def server(self) -> str | None:
        client = self.client
        if client is None or not client.connected:
            return None
        try:
            host, port = client._connection._socket.getpeername()[:2]  # noqa: SLF001 - kazoo has no API
        except (AttributeError, OSError):
            return None
        return f"{host}:{port}"

    def open(self) -> ZkClient:
        self._emit(ConnectionState.CONNECTING)
        self.client = connect(self.settings)
        self.client.add_listener(self._listener)
        self._emit(ConnectionState.CONNECTED)
        return self.client

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.remove_listener(self._listener)
            try:
                client.stop()
            finally:
                client.close()
        self._emit(ConnectionState.CLOSED)

    def _listener(self, state: str) -> None:
        mapping = {KazooState.CONNECTED: ConnectionState.CONNECTED,
                   KazooState.SUSPENDED: ConnectionState.SUSPENDED,
                   KazooState.LOST: ConnectionState.LOST}
        new = mapping.get(state, ConnectionState.RECONNECTING)
        if new is ConnectionState.CONNECTED and self.client is not None and self.client.client_state == "CONNECTED_RO":
            new = ConnectionState.CONNECTED_READ_ONLY
        # kazoo calls listeners on its connection thread; the session id is only current after CONNECTED.
        self._emit(new)

    def _emit(self, state: ConnectionState) -> None:
        self.state = state
        if self.on_event is not None:
            try:
                self.on_event(ConnectionStateChanged(state, self.server, self.session_id, role=self.role))
            except Exception:  # a broken consumer must not kill kazoo's thread
                log.exception("connection event consumer failed")


def env_auth() -> tuple[tuple[str, str], ...]:
    """Digest credentials from ``ZKBENCH_AUTH`` (``user:password``), so none need be written to disk."""
    value = os.environ.get("ZKBENCH_AUTH")
    return (("digest", value),) if value else ()
