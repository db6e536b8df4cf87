"""Driving the real ZkBenchApp in pilot tests: a live app on a connect string, and a polling wait."""

from __future__ import annotations

import time
from collections.abc import Callable

from zkbench.app import ZkBenchApp
from zkbench.connection import ConnectionSettings
from zkbench.settings import Settings
from zkbench.workbench import Workbench


async def wait_for(pilot, predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:  # noqa: ANN001
    """Poll ``predicate`` between pilot pauses; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def live_app(hosts: str, **settings: object) -> ZkBenchApp:
    """The app on ``hosts`` with short sessions; the caller closes ``app.workbench``."""
    workbench = Workbench(ConnectionSettings(hosts=hosts, session_timeout=4.0))
    return ZkBenchApp(workbench, Settings(**settings))  # type: ignore[arg-type]


async def palette_run(pilot, search: str, title: str) -> None:  # noqa: ANN001
    """Open the command palette, type ``search``, wait until the highlighted hit is ``title``, and run it."""
    from textual.command import CommandList, CommandPalette

    app = pilot.app
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the command palette")
    palette = app.screen
    await pilot.press(*search)

    def highlighted() -> str:
        hits = palette.query_one(CommandList)
        if hits.highlighted is None or not hits.option_count:
            return ""
        return str(hits.get_option_at_index(hits.highlighted).prompt)

    await wait_for(pilot, lambda: title in highlighted(), what=f"{title!r} highlighted in the palette")
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is not palette, what="the palette to close")
