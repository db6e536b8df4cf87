"""Pieces of the app frame that are not widgets: path completion from the mirror, help text, subtree export."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.suggester import Suggester

if TYPE_CHECKING:
    from textual.app import App

    from zkbench.workbench import Workbench

__all__ = ["MirrorPathSuggester", "help_markdown", "export_subtree", "complete_path"]


def complete_path(model: Any, value: str, limit: int = 50) -> list[str]:
    """Completions of ``value`` from the mirror's cache (no network): case-sensitive, children of the parent."""
    if model is None or not value.startswith("/"):
        return []
    finder = getattr(model, "paths_with_prefix", None)
    if finder is not None:
        return list(finder(value, limit))
    parent, _, stem = value.rpartition("/")
    parent = parent or "/"
    base = "" if parent == "/" else parent
    return [f"{base}/{name}" for name in model.children(parent) if name.startswith(stem)][:limit]


class MirrorPathSuggester(Suggester):
    """Inline suggestion of the first znode path that extends what was typed (Right arrow accepts it)."""

    def __init__(self, model: Any) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._model = model

    async def get_suggestion(self, value: str) -> str | None:
        matches = complete_path(self._model, value, 1)
        return matches[0] if matches else None


def _bindings_table(title: str, bindings: list[Any], keymap: dict[str, str]) -> list[str]:
    rows = [f"### {title}", "", "| keys | action |", "|---|---|"]
    seen: set[str] = set()
    for binding in bindings:
        if not binding.description or binding.description in seen:
            continue
        seen.add(binding.description)
        keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
        pretty = ", ".join(k.replace("question_mark", "?").replace("colon", ":").replace("ctrl+", "Ctrl+")
                           .replace("escape", "Esc") for k in keys.split(","))
        rows.append(f"| `{pretty}` | {binding.description} |")
    return rows + [""]


def help_markdown(app: "App[Any]") -> str:
    """Keys of the screen under the help, the app's keys, and the shell's commands."""
    keymap = dict(getattr(app, "_keymap", {}) or {})
    screen = app.screen
    lines = ["# zkbench help", "",
             "Esc closes this. Ctrl+P opens the command palette, which offers every action below.", ""]
    screen_bindings = [b for _, b in screen._bindings]  # noqa: SLF001 - Textual has no public accessor
    for widget in screen.query("*"):
        screen_bindings.extend(b for _, b in widget._bindings)  # noqa: SLF001
    if screen_bindings:
        lines += _bindings_table(f"This screen ({getattr(screen, 'NAV_TITLE', type(screen).__name__)})",
                                 screen_bindings, keymap)
    lines += _bindings_table("Everywhere", [b for _, b in app._bindings], keymap)  # noqa: SLF001
    lines += ["Remap keys in the settings file's `[keys]` table: binding id = \"key,key\". "
              "Ids: " + ", ".join(sorted({b.id for _, b in app._bindings if b.id})) + ".", ""]  # noqa: SLF001
    try:
        from zkbench.shell import help_rows  # type: ignore[attr-defined]
    except ImportError:
        help_rows = None
    if help_rows is not None:
        lines += ["### Shell commands", "", "| command | what it does |", "|---|---|"]
        for usage, summary in help_rows():
            lines.append(f"| `{usage}` | {summary} |")
        lines.append("")
    return "\n".join(lines)


def export_subtree(workbench: "Workbench", path: str, directory: Path) -> Path:
    """Dump ``path`` (data as base64 when binary, ACLs kept) to a timestamped JSON file in ``directory``."""
    from zkbench.shell.dump import dump_tree  # type: ignore[import-not-found]

    client = workbench.client
    if client is None:
        raise RuntimeError("not connected")
    directory.mkdir(parents=True, exist_ok=True)
    name = (path.strip("/").replace("/", "_") or "root") + time.strftime("-%Y%m%d-%H%M%S.json")
    target = directory / name
    document = dump_tree(client, path)
    target.write_text(json.dumps(document, indent=2))
    return target
