"""``zkbench actor ROLE ...``: one recipe participant in this terminal, narrating each step."""

from __future__ import annotations

import argparse
from typing import Any

from zkbench.actors.runner import add_role_parsers

__all__ = ["register"]


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "actor", help="run one recipe actor (lock, election, queue, service, barrier, config, master, worker)",
        description="Run one actor: a process with its own ZooKeeper session playing one role of one recipe. "
                    "It prints one plain line per step (--json: raw events). Ctrl-C stops it gracefully.")
    sub = parser.add_subparsers(dest="role_name", metavar="ROLE", required=True)
    add_role_parsers(sub, [common])
