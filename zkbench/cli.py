"""The ``zkbench`` command: with no subcommand it opens the TUI; subcommands script the same engine.

Each subsystem registers its own subcommands: a module listed in :data:`COMMAND_MODULES` defines
``register(subparsers, common)`` which adds parsers (with ``parents=[common]`` for the connection options) and
sets ``func=<callable(args) -> int>`` as their default.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from zkbench import __version__

__all__ = ["main", "build_parser", "COMMAND_MODULES", "add_connection_options"]

log = logging.getLogger(__name__)

#: Modules that add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: list[str] = [
    "zkbench.server.cli",
    "zkbench.app_cli",
    "zkbench.ensemble_cli",
    "zkbench.actors.cli",
    "zkbench.shell.cli",
]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that talks to ZooKeeper shares."""
    # SUPPRESS: a flag given before the subcommand must not be reset by the subcommand's own default.
    group = parser.add_argument_group("connection")
    group.add_argument("--hosts", "-H", metavar="CONNECT",
                       help="connect string host:port[,host:port...][/chroot] (env ZKBENCH_HOSTS). Without it, "
                            "zkbench tries 127.0.0.1:2181 and otherwise starts a private local server")
    group.add_argument("--connect", "-c", metavar="NAME",
                       help="a saved connection from the settings file (see `zkbench settings`)")
    group.add_argument("--auth", metavar="USER:PASSWORD", action="append",
                       help="digest credentials added to the session (repeatable; env ZKBENCH_AUTH)")
    group.add_argument("--session-timeout", type=float, metavar="SECONDS",
                       help="session timeout asked of the server (default 10)")
    group.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                       help="refuse every write (env ZKBENCH_READ_ONLY=1)")
    group.add_argument("--tls-cert", metavar="FILE", help="client certificate (PEM) for TLS")
    group.add_argument("--tls-key", metavar="FILE", help="client key (PEM) for TLS")
    group.add_argument("--tls-ca", metavar="FILE", help="CA bundle (PEM) to verify the server")
    group.add_argument("--zk-home", metavar="DIR",
                       help="ZooKeeper distribution to run local servers from (env ZOOKEEPER_HOME)")
    group.add_argument("--config", metavar="FILE", help="settings file (env ZKBENCH_CONFIG)")
    for action in group._group_actions:  # noqa: SLF001 - argparse has no public accessor
        action.default = argparse.SUPPRESS


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common)
    parser = argparse.ArgumentParser(
        prog="zkbench",
        parents=[common],
        description="A terminal workbench for Apache ZooKeeper. With no command, opens the full-screen app: "
                    "a live znode tree, stat and data panels, a shell, ensemble health and recipe demos.",
        epilog="Run `zkbench COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"zkbench {__version__}")
    parser.add_argument("--log-file", metavar="FILE", help="write a debug log to FILE")
    parser.add_argument("--mirror-strategy", choices=("auto", "classic", "persistent"),
                        help="how the live tree is kept in sync: one-shot watches on every znode (classic, any "
                             "server) or one persistent recursive watch (persistent, ZooKeeper 3.6+); default auto")
    parser.add_argument("--theme", metavar="NAME", help="Textual theme (remembered when changed in the app)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub, common)
    return parser


def _setup_logging(path: str | None) -> None:
    if path:
        logging.basicConfig(filename=path, level=logging.DEBUG,
                            format="%(asctime)s %(levelname)s %(name)s %(threadName)s: %(message)s")
    else:
        logging.basicConfig(level=logging.WARNING, format="zkbench: %(levelname)s: %(message)s")
        logging.getLogger("kazoo").setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.log_file)
    func = getattr(args, "func", None)
    if func is None:
        from zkbench.tui import run_tui

        args.start_screen = None
        func = run_tui
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
