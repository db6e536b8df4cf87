"""One typed settings object. Precedence: CLI flag > ``ZKBENCH_*`` environment > config file > default.

The config file is TOML at ``$ZKBENCH_CONFIG``, else ``$XDG_CONFIG_HOME/zkbench/config.toml`` (usually
``~/.config/zkbench/config.toml``)::

    theme = "nord"                 # any Textual theme name
    mirror_strategy = "auto"       # auto | classic | persistent
    session_timeout = 10
    hosts = "127.0.0.1:2181"       # default connect string

    [keys]                         # binding id = keys (comma-separated), see `?` in the app
    toggle_shell = "ctrl+j"

    [connections.prod]             # `zkbench --connect prod`
    hosts = "zk1:2181,zk2:2181,zk3:2181/app"
    read_only = true
    auth_env = "PROD_ZK_AUTH"      # digest user:password read from this variable, never stored here
    tls_ca = "/etc/ssl/zk-ca.pem"

``--connect NAME`` picks a saved connection; its fields count as command-line choices, except that an explicit
``--hosts``/``--auth``/``--read-only`` flag still wins. Things the app remembers (the chosen theme) live in a
separate state file, so zkbench never rewrites the user's config.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from zkbench.connection import ConnectionSettings
from zkbench.errors import ZkBenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Settings", "SavedConnection", "SettingsError", "load_settings", "config_path", "state_dir",
           "load_ui_state", "save_ui_state"]

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "classic", "persistent")


class SettingsError(ZkBenchError):
    """The config file or a setting is invalid; the message says where and why."""


@dataclass(frozen=True, slots=True)
class SavedConnection:
    """A named connection from the config file."""

    name: str
    hosts: str
    read_only: bool = False
    auth_env: str | None = None
    auth: str | None = None  # discouraged (secret on disk) but accepted
    session_timeout: float | None = None
    tls_certfile: str | None = None
    tls_keyfile: str | None = None
    tls_ca: str | None = None

    def credentials(self, environ: "os._Environ[str] | dict[str, str] | None" = None) -> tuple[tuple[str, str], ...]:
        env = os.environ if environ is None else environ
        if self.auth_env:
            value = env.get(self.auth_env)
            if not value:
                raise SettingsError(f"connection {self.name!r}: environment variable {self.auth_env} is not set")
            return (("digest", value),)
        return (("digest", self.auth),) if self.auth else ()


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything zkbench can be told, resolved."""

    hosts: str | None = None  # None: try 127.0.0.1:2181, else start a private local server
    connection_name: str | None = None
    auth: tuple[tuple[str, str], ...] = ()
    session_timeout: float = 10.0
    connect_timeout: float = 10.0
    read_only: bool = False
    tls_certfile: str | None = None
    tls_keyfile: str | None = None
    tls_ca: str | None = None
    zk_home: str | None = None
    mirror_strategy: str = "auto"
    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    connections: dict[str, SavedConnection] = field(default_factory=dict)
    config_file: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # setting -> "cli" | "env" | "file" | "default"

    def connection_settings(self, hosts: str | None = None) -> ConnectionSettings:
        """The connection part, for ``hosts`` (defaults to :attr:`hosts`)."""
        target = hosts or self.hosts
        if not target:
            raise SettingsError("no hosts to connect to")
        return ConnectionSettings(hosts=target, session_timeout=self.session_timeout,
                                  connect_timeout=self.connect_timeout, auth=self.auth, read_only=self.read_only,
                                  tls_certfile=self.tls_certfile, tls_keyfile=self.tls_keyfile, tls_ca=self.tls_ca)


def config_path(explicit: str | None = None) -> Path:
    """The config file in effect (it need not exist)."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("ZKBENCH_CONFIG")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "zkbench" / "config.toml"


def state_dir() -> Path:
    """Where zkbench keeps what it remembers (shell history, theme): ``$ZKBENCH_STATE_DIR`` or XDG state."""
    env = os.environ.get("ZKBENCH_STATE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "zkbench"


def load_ui_state() -> dict[str, Any]:
    path = state_dir() / "ui.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}


def save_ui_state(**values: Any) -> None:
    """Merge ``values`` into the remembered UI state (best effort: a read-only home is not an error)."""
    state = load_ui_state()
    state.update(values)
    path = state_dir() / "ui.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state, indent=2))
    except OSError as exc:
        log.warning("could not remember UI state in %s: %s", path, exc)


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{where}: expected true/false, got {value!r}")


def _float(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{where}: expected a number of seconds, got {value!r}") from None
    if number <= 0:
        raise SettingsError(f"{where}: must be positive, got {value!r}")
    return number


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"{path}: {exc.strerror or exc}") from None


def _connections(data: dict[str, Any], path: Path) -> dict[str, SavedConnection]:
    result: dict[str, SavedConnection] = {}
    known = {f.name for f in fields(SavedConnection)} - {"name"}
    for name, spec in (data.get("connections") or {}).items():
        if not isinstance(spec, dict) or "hosts" not in spec:
            raise SettingsError(f"{path}: [connections.{name}] needs hosts = \"host:port,...\"")
        unknown = set(spec) - known
        if unknown:
            raise SettingsError(f"{path}: [connections.{name}] unknown keys: {', '.join(sorted(unknown))}")
        values = dict(spec)
        if "read_only" in values:
            values["read_only"] = _bool(values["read_only"], f"connections.{name}.read_only")
        if "session_timeout" in values:
            values["session_timeout"] = _float(values["session_timeout"], f"connections.{name}.session_timeout")
        result[name] = SavedConnection(name=name, **values)
    return result


FILE_KEYS = {"hosts", "session_timeout", "connect_timeout", "read_only", "zk_home", "mirror_strategy", "theme",
             "keys", "connections", "tls_certfile", "tls_keyfile", "tls_ca"}


def load_settings(args: argparse.Namespace | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Resolve settings from ``args`` (parsed by :func:`zkbench.cli.build_parser`), the environment and the file."""
    env = os.environ if environ is None else environ
    cli = vars(args) if args is not None else {}
    path = config_path(cli.get("config") or env.get("ZKBENCH_CONFIG"))
    data = _read_file(path)
    unknown = set(data) - FILE_KEYS
    if unknown:
        raise SettingsError(f"{path}: unknown settings: {', '.join(sorted(unknown))}")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def put(key: str, value: Any, source: str) -> None:
        values[key] = value
        sources[key] = source

    # config file
    for key in ("hosts", "zk_home", "theme", "tls_certfile", "tls_keyfile", "tls_ca"):
        if key in data:
            put(key, str(data[key]), "file")
    for key in ("session_timeout", "connect_timeout"):
        if key in data:
            put(key, _float(data[key], f"{path}: {key}"), "file")
    if "read_only" in data:
        put("read_only", _bool(data["read_only"], f"{path}: read_only"), "file")
    if "mirror_strategy" in data:
        put("mirror_strategy", str(data["mirror_strategy"]), "file")
    keys = data.get("keys") or {}
    if not isinstance(keys, dict):
        raise SettingsError(f"{path}: [keys] must be a table of binding-id = \"key,key\"")
    values["keys"] = {str(k): str(v) for k, v in keys.items()}
    values["connections"] = _connections(data, path)

    # environment
    if env.get("ZKBENCH_HOSTS"):
        put("hosts", env["ZKBENCH_HOSTS"], "env")
    if env.get("ZKBENCH_AUTH"):
        put("auth", (("digest", env["ZKBENCH_AUTH"]),), "env")
    if env.get("ZKBENCH_READ_ONLY"):
        put("read_only", _bool(env["ZKBENCH_READ_ONLY"], "ZKBENCH_READ_ONLY"), "env")
    if env.get("ZKBENCH_SESSION_TIMEOUT"):
        put("session_timeout", _float(env["ZKBENCH_SESSION_TIMEOUT"], "ZKBENCH_SESSION_TIMEOUT"), "env")
    if env.get("ZKBENCH_MIRROR_STRATEGY"):
        put("mirror_strategy", env["ZKBENCH_MIRROR_STRATEGY"], "env")
    if env.get("ZKBENCH_THEME"):
        put("theme", env["ZKBENCH_THEME"], "env")
    if env.get("ZOOKEEPER_HOME"):
        put("zk_home", env["ZOOKEEPER_HOME"], "env")

    # a saved connection chosen on the command line
    name = cli.get("connect")
    if name:
        saved = values["connections"].get(name)
        if saved is None:
            have = ", ".join(sorted(values["connections"])) or "none defined"
            raise SettingsError(f"no saved connection {name!r} in {path} ({have})")
        put("hosts", saved.hosts, "cli")
        put("read_only", saved.read_only, "cli")
        creds = saved.credentials(env)
        if creds:
            put("auth", creds, "cli")
        if saved.session_timeout:
            put("session_timeout", saved.session_timeout, "cli")
        for key in ("tls_certfile", "tls_keyfile", "tls_ca"):
            if getattr(saved, key):
                put(key, getattr(saved, key), "cli")
        values["connection_name"] = name

    # command-line flags
    if cli.get("hosts"):
        put("hosts", cli["hosts"], "cli")
    if cli.get("auth"):
        put("auth", tuple(("digest", a) for a in cli["auth"]), "cli")
    if cli.get("read_only"):
        put("read_only", True, "cli")
    if cli.get("session_timeout"):
        put("session_timeout", _float(cli["session_timeout"], "--session-timeout"), "cli")
    for flag, key in (("tls_cert", "tls_certfile"), ("tls_key", "tls_keyfile"), ("tls_ca", "tls_ca")):
        if cli.get(flag):
            put(key, cli[flag], "cli")
    if cli.get("zk_home"):
        put("zk_home", cli["zk_home"], "cli")
    if cli.get("mirror_strategy"):
        put("mirror_strategy", cli["mirror_strategy"], "cli")
    if cli.get("theme"):
        put("theme", cli["theme"], "cli")

    if values.get("mirror_strategy", "auto") not in STRATEGIES:
        raise SettingsError(f"mirror_strategy must be one of {', '.join(STRATEGIES)}, "
                            f"got {values['mirror_strategy']!r}")
    for key in {f.name for f in fields(Settings)} - set(sources) - {"keys", "connections", "connection_name"}:
        sources[key] = "default"
    return replace(Settings(), **values, config_file=str(path), sources=sources)
