"""Shell history shared by the TUI pane and ``zkbench shell``: persisted, capped, secrets redacted."""

from __future__ import annotations

import logging
from pathlib import Path

from zkbench.shell.core import redact

__all__ = ["HistoryFile"]

log = logging.getLogger(__name__)


class HistoryFile:
    """Shell history shared by the pane and ``zkbench shell``: one line per command, secrets redacted,
    in ``$ZKBENCH_STATE_DIR/history`` (else ``~/.local/state/zkbench/history``), capped at ``limit`` lines."""

    def __init__(self, path: Path | None = None, limit: int = 1000) -> None:
        if path is None:
            from zkbench.settings import state_dir

            path = state_dir() / "history"
        self.path = path
        self.limit = limit

    def load(self) -> list[str]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("cannot read shell history %s: %s", self.path, exc)
            return []
        return [line for line in lines if line.strip()][-self.limit:]

    def append(self, line: str) -> None:
        line = redact(line.strip())
        if not line:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line.replace("\n", " ") + "\n")
            if self.path.stat().st_size > self.limit * 200:
                kept = self.load()
                self.path.write_text("\n".join(kept) + "\n", encoding="utf-8")
        except OSError as exc:
            log.warning("cannot write shell history %s: %s", self.path, exc)
