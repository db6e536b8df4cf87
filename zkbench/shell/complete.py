"""Tab completion: command names for the first word, znode paths after it (case-sensitive, from the mirror's
cache or the shell's small children cache; never one network call per keystroke when a mirror is there)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zkbench.shell.core import Shell

__all__ = ["complete_line", "complete_word", "common_prefix"]

_FILE_ARGS = {"dump": 1, "load": 0}  # which argument is a local file (0-based)


def common_prefix(items: list[str]) -> str:
    return os.path.commonprefix(items) if items else ""


def complete_word(shell: "Shell", word: str, *, command_position: bool) -> list[str]:
    """Full replacements for ``word``."""
    from zkbench.shell.core import COMMANDS, _ALIASES

    if command_position:
        names = sorted(set(COMMANDS) | set(_ALIASES))
        return [n for n in names if n.startswith(word)]
    if word.startswith("-"):
        return []
    if "/" in word:
        head, _, prefix = word.rpartition("/")
        parent = shell.resolve(head or "/") if head or word.startswith("/") else shell.cwd
        base = head + "/"
    else:
        prefix, parent, base = word, shell.cwd, ""
    parent = parent.rstrip("/") or "/"
    names = shell.cached_children(parent)
    out = [base + n for n in sorted(names) if n.startswith(prefix)]
    if len(out) == 1:  # descend: a lone directory-like match gets a trailing slash when it has children
        child = (parent.rstrip("/") + "/" + out[0][len(base):]) if parent != "/" else "/" + out[0][len(base):]
        if shell.cached_children(child):
            out = [out[0] + "/"]
    return out


def complete_line(shell: "Shell", line: str) -> list[str]:
    """Completions of the last word of ``line`` (the text before the cursor); each is the whole new line."""
    words = line.split(" ")
    command_position = len(words) == 1
    word = words[-1]
    name = words[0] if words else ""
    if not command_position and name in _FILE_ARGS:
        return []
    candidates = complete_word(shell, word, command_position=command_position)
    prefix = " ".join(words[:-1])
    joined = [(prefix + " " if prefix else "") + c for c in candidates]
    if command_position and len(joined) == 1:
        joined = [joined[0] + " "]
    return joined
