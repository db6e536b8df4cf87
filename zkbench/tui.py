"""Start the full-screen app: resolve settings, find or start a server, run :class:`~zkbench.app.ZkBenchApp`."""

from __future__ import annotations

import argparse
import logging
import sys

from zkbench.connection import DEFAULT_HOSTS
from zkbench.errors import ZkBenchError
from zkbench.server import DistributionNotFound, LocalServer, ServerStartError, find_distribution
from zkbench.settings import Settings, load_settings
from zkbench.workbench import Workbench, probe_default_server

__all__ = ["run_tui", "prepare_workbench", "workbench_for_args"]

log = logging.getLogger(__name__)


def prepare_workbench(settings: Settings, say=print) -> Workbench:  # noqa: ANN001 - a print-like callable
    """A workbench for ``settings``: the given hosts, else 127.0.0.1:2181 if it answers, else a private server.

    Raises :class:`ZkBenchError` subclasses (one line each) when a private server cannot be started.
    """
    local: LocalServer | None = None
    hosts = settings.hosts
    if not hosts:
        if probe_default_server(DEFAULT_HOSTS):
            hosts = DEFAULT_HOSTS
        else:
            dist = find_distribution(settings.zk_home)
            say(f"zkbench: nothing answers at {DEFAULT_HOSTS}; starting a private local ZooKeeper "
                f"({dist.describe()}), stopped when zkbench exits")
            local = LocalServer(dist=dist)
            local.start()
            hosts = local.connect_string
    return Workbench(settings.connection_settings(hosts), mirror_strategy=settings.mirror_strategy,
                     local_server=local)


def workbench_for_args(args: argparse.Namespace) -> tuple[Settings, Workbench] | None:
    """Settings and a workbench for a command line, or ``None`` after printing the one-line reason why not."""
    try:
        settings = load_settings(args)
        return settings, prepare_workbench(settings, say=lambda msg: print(msg, file=sys.stderr))
    except (ZkBenchError, DistributionNotFound, ServerStartError) as exc:
        print(f"zkbench: {exc}", file=sys.stderr)
        return None


def run_tui(args: argparse.Namespace) -> int:
    """``zkbench`` with no subcommand."""
    from zkbench.serve import stop_with_server

    stop_with_server()  # a no-op unless this app serves a browser tab for `zkbench serve`
    resolved = workbench_for_args(args)
    if resolved is None:
        return 1
    settings, workbench = resolved
    from zkbench.app import ZkBenchApp  # Textual is imported only for the TUI

    app = ZkBenchApp(workbench, settings, resilient=True, start_screen=getattr(args, "start_screen", None))
    try:
        app.run()
    finally:
        workbench.close()
    return app.return_code or 0
