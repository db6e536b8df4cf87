"""Pieces of the app frame that are not widgets: the help text and subtree export."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App

    from zkbench.workbench import Workbench

__all__ = ["help_content", "export_subtree", "pretty_keys"]


_HIDDEN_ACTIONS = {"focus_next", "focus_previous", "copy_text", "app.focus_next", "app.focus_previous"}
_KEY_NAMES = {"question_mark": "?", "colon": ":", "slash": "/", "escape": "Esc", "enter": "Enter",
              "space": "Space", "delete": "Del", "grave_accent": "`"}


def pretty_keys(keys: str) -> str:
    """``f1,question_mark`` -> ``F1, ?``."""
    out = []
    for key in keys.split(","):
        key = key.strip()
        name = _KEY_NAMES.get(key, key)
        if name.startswith("ctrl+"):
            name = "Ctrl+" + name[5:]
        if len(name) in (2, 3) and name[0] == "f" and name[1:].isdigit():
            name = name.upper()
        out.append(name)
    return ", ".join(out)


def _bindings_rows(bindings: list[Any], keymap: dict[str, str]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for binding in bindings:
        # zkbench's bindings all carry an id; Textual's built-ins (cursor keys, scrolling, copy) do not
        if not binding.id or not binding.description or binding.action in _HIDDEN_ACTIONS \
                or binding.description in seen:
            continue
        seen.add(binding.description)
        keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
        rows.append((pretty_keys(keys), binding.description))
    return rows


def help_content(app: "App[Any]") -> tuple[Any, str]:
    """The help screen's renderable and the same content as plain text: this screen's keys, the app's keys,
    and the shell's commands."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from zkbench.shell import COMMANDS

    keymap = dict(getattr(app, "_keymap", {}) or {})
    screen = app.screen
    screen_bindings = [b for _, b in screen._bindings]  # noqa: SLF001 - Textual has no public accessor
    for widget in screen.query("*"):
        if type(widget).__module__.startswith("zkbench."):  # ours; Textual's own (Input editing, scrolling) are noise
            screen_bindings.extend(b for _, b in widget._bindings)  # noqa: SLF001
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    title = getattr(screen, "NAV_TITLE", None) or "Tree"
    if screen_bindings:
        sections.append((f"This screen ({title})", _bindings_rows(screen_bindings, keymap)))
    sections.append(("Everywhere", _bindings_rows([b for _, b in app._bindings], keymap)))  # noqa: SLF001
    shell_rows = [(cmd.usage, cmd.summary) for cmd in
                  sorted(COMMANDS.values(), key=lambda c: (c.group != "zkcli", c.name.lower()))]
    sections.append(("Shell commands (F2 or : opens the shell; `help CMD` there says more)", shell_rows))

    parts: list[Any] = [Text("Esc closes this. Ctrl+P opens the command palette, which offers every action.",
                             style="dim")]
    plain: list[str] = []
    for heading, rows in sections:
        table = Table(title=heading, title_justify="left", title_style="bold", box=None, show_header=False,
                      padding=(0, 2, 0, 0), expand=False)
        table.add_column(style="bold", no_wrap=heading != sections[-1][0], max_width=40)
        table.add_column()
        plain.append(heading)
        for keys, text in rows:
            table.add_row(Text(keys), Text(text))
            plain.append(f"{keys}\t{text}")
        parts += [Text(""), table]
    ids = ", ".join(sorted({b.id for _, b in app._bindings if b.id}))  # noqa: SLF001
    remap = f"Remap keys in the settings file's [keys] table (binding id = \"key,key\"). App binding ids: {ids}."
    parts += [Text(""), Text(remap, style="dim")]
    plain.append(remap)
    return Group(*parts), "\n".join(plain)


def export_subtree(workbench: "Workbench", path: str, directory: Path) -> Path:
    """Dump ``path`` (data as base64 when binary, ACLs kept) to a timestamped JSON file in ``directory``."""
    from zkbench.errors import ZkBenchError
    from zkbench.shell import ClientSession, Shell

    client = workbench.client
    if client is None:
        raise ZkBenchError("Not connected: cannot export")
    directory.mkdir(parents=True, exist_ok=True)
    name = (path.strip("/").replace("/", "_") or "root") + time.strftime("-%Y%m%d-%H%M%S.json")
    target = directory / name
    outcome = Shell(ClientSession(client, workbench.hosts)).run(f"dump {shlex.quote(path)} {shlex.quote(str(target))}",
                                                                 record=False)
    if not outcome.ok:
        raise ZkBenchError(outcome.error or f"export of {path} failed")
    return target
