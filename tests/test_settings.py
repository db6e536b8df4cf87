"""Settings precedence: CLI flag > ZKBENCH_* environment > config file > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkbench.cli import build_parser
from zkbench.settings import SettingsError, load_settings

CONFIG = """
hosts = "file-host:2181"
session_timeout = 7
mirror_strategy = "classic"
theme = "nord"

[keys]
toggle_shell = "ctrl+j"

[connections.prod]
hosts = "zk1:2181,zk2:2181/app"
read_only = true
auth_env = "PROD_ZK_AUTH"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def settings_for(argv: list[str], env: dict[str, str]):
    return load_settings(build_parser().parse_args(argv), environ=env)


def test_defaults_without_file(tmp_path: Path):
    s = settings_for(["--config", str(tmp_path / "missing.toml")], {})
    assert s.hosts is None and s.session_timeout == 10.0 and s.mirror_strategy == "auto"
    assert s.sources["hosts"] == "default"


def test_file_then_env_then_cli(config: Path):
    s = settings_for(["--config", str(config)], {})
    assert (s.hosts, s.session_timeout, s.mirror_strategy, s.theme) == ("file-host:2181", 7.0, "classic", "nord")
    assert s.keys == {"toggle_shell": "ctrl+j"} and s.sources["hosts"] == "file"

    env = {"ZKBENCH_HOSTS": "env-host:2181", "ZKBENCH_SESSION_TIMEOUT": "5", "ZKBENCH_READ_ONLY": "1"}
    s = settings_for(["--config", str(config)], env)
    assert (s.hosts, s.session_timeout, s.read_only) == ("env-host:2181", 5.0, True)
    assert s.sources["hosts"] == "env"

    s = settings_for(["--config", str(config), "--hosts", "cli-host:2181", "--session-timeout", "3"], env)
    assert (s.hosts, s.session_timeout) == ("cli-host:2181", 3.0) and s.sources["hosts"] == "cli"


def test_saved_connection_with_credentials_from_env(config: Path):
    s = settings_for(["--config", str(config), "--connect", "prod"], {"PROD_ZK_AUTH": "ops:pw"})
    assert s.hosts == "zk1:2181,zk2:2181/app" and s.read_only and s.auth == (("digest", "ops:pw"),)
    assert s.connection_settings().hosts == "zk1:2181,zk2:2181/app"
    # an explicit flag still wins over the saved connection
    s = settings_for(["--config", str(config), "--connect", "prod", "--hosts", "other:1"], {"PROD_ZK_AUTH": "x:y"})
    assert s.hosts == "other:1"


def test_errors_are_one_line(config: Path, tmp_path: Path):
    with pytest.raises(SettingsError, match="PROD_ZK_AUTH is not set"):
        settings_for(["--config", str(config), "--connect", "prod"], {})
    with pytest.raises(SettingsError, match="no saved connection 'dev'"):
        settings_for(["--config", str(config), "--connect", "dev"], {})
    bad = tmp_path / "bad.toml"
    bad.write_text("hosts = \n")
    with pytest.raises(SettingsError, match="invalid TOML"):
        settings_for(["--config", str(bad)], {})
    bad.write_text("colour = 'red'\n")
    with pytest.raises(SettingsError, match="unknown settings: colour"):
        settings_for(["--config", str(bad)], {})
    with pytest.raises(SettingsError, match="mirror_strategy"):
        settings_for(["--config", str(config)], {"ZKBENCH_MIRROR_STRATEGY": "magic"})
