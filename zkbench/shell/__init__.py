"""The zkbench shell: zkCli's commands plus zk-shell's best, for the TUI pane, ``zkbench shell`` and ``exec``.

``Shell(session).run(line) -> Outcome`` is the one entry point; it never raises.
"""

from zkbench.shell.core import (COMMANDS, ClientSession, ConfirmationRequired, EventStream, Outcome, Result, Shell,
                                ShellError, redact)
from zkbench.shell import commands as _commands  # noqa: F401  (registers the command table)

__all__ = ["Shell", "ClientSession", "Outcome", "Result", "ShellError", "ConfirmationRequired", "EventStream",
           "COMMANDS", "redact"]
