"""Snapshots of the main screen on a fixed model (zkbench.mirror.StaticTree): empty root, a realistic tree with
live badges and timeline rows, a binary znode in hex, a JSON znode, an ephemeral's stat panel, a conflict message.

Deterministic: TZ is UTC (stat times and timeline stamps are local times), the session id is hidden, event
timestamps are fixed, badges do not fade during a run, and the ACL comes from a fixed stand-in (no server here; the
live behaviour is covered by tests/test_main_screen.py).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl

from main_screen_support import FakeWorkbench, HostApp
from zkbench.edits import ConflictError
from zkbench.events import ChildrenChanged, DataChanged, NodeAdded, NodeRemoved
from zkbench.mirror import StaticTree
from zkbench.widgets.data_view import DataView
from zkbench.widgets.edit_dialogs import SetDataDialog
from zkbench.widgets.stat_panel import StatPanel

OWN_SESSION = 0x1000ABC00000001
FIXED_TS = 1_700_000_100.25  # 2023-11-14 22:15:00.250 UTC

REALISTIC = {
    "/app/config": b'{"log_level": "INFO", "replicas": 3, "features": ["a", "b"], "limits": {"cpu": 2}}',
    "/app/settings.yaml": b"server:\n  port: 8080\n  hosts:\n    - a\n    - b\n",
    "/app/banner.txt": "Bienvenue au café ☃\nline two\n".encode(),
    "/app/blob": (bytes(range(0, 256, 3)) + b"\xff\xfe\x00binary", {"version": 7}),
    "/election/node-0000000007": (b"", {"ephemeralOwner": OWN_SESSION}),
    "/election/node-0000000008": (b"worker-2", {"ephemeralOwner": 0x1000ABC00000002}),
    "/locks/db/lock-0000000002": (b"", {"ephemeralOwner": 0x1000ABC00000002}),
    "/queue/job-0000000001": b"job 1",
    "/queue/job-0000000002": b"job 2",
    "/queue/job-0000000003": b"job 3",
    "/services/payment/instance-0000000003": (b"127.0.0.1:8081", {"ephemeralOwner": 0x1000ABC00000003}),
    "/weird/a[b]": b"[bold]not markup[/bold]",
    "/weird/café-☃": b"unicode name",
    "/zookeeper/quota": b"",
}


class FixedAclClient:
    """Only what the stat panel asks of a client: the ACL of a path (fixed, so the snapshot is stable)."""

    def get_acls(self, path: str) -> tuple[list[Any], Any]:
        if path.startswith("/locks"):
            return [make_digest_acl("admin", "secret", all=True)], None
        return list(OPEN_ACL_UNSAFE), None


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(spec: dict[str, Any]) -> HostApp:
    workbench = FakeWorkbench(StaticTree.from_dict(spec), session_id=OWN_SESSION, client=FixedAclClient())
    return HostApp(workbench, hide_session=True, badge_seconds=3600, clock=lambda: FIXED_TS)


async def until(pilot, predicate, timeout: float = 10.0, what: str = "the screen") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def tree_loaded(pilot) -> None:
    """The screen's first repaint tick found the model ready and drew it (a reveal before it would be redrawn)."""
    main = pilot.app.main
    await until(pilot, lambda: main._mirror_ready and not main.tree.pending, what="the tree")  # noqa: SLF001


async def settle(pilot, predicate=lambda: True, timeout: float = 10.0) -> None:
    """Wait until the stat panel's ACL and the data view's bytes are in (thread workers), and ``predicate``."""
    main = pilot.app.main

    def ready() -> bool:
        stat, data = main.query_one(StatPanel), main.query_one(DataView)
        return stat.acl_lines is not None and data.formatted is not None and predicate()

    await until(pilot, ready, timeout, what="the selected znode's details")
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def reveal(path: str, *, expand: tuple[str, ...] = ()):
    async def run_before(pilot) -> None:
        main = pilot.app.main
        await tree_loaded(pilot)
        for p in expand:
            main.tree.reveal(p)
            main.tree.node_for(p).expand()
        main.tree.reveal(path)
        await settle(pilot, lambda: main.query_one(StatPanel).path == path)

    return run_before


def test_empty_root(snap_compare):
    assert snap_compare(make_app({}), terminal_size=(140, 36), run_before=reveal("/"))


def test_realistic_tree_with_badges_and_timeline(snap_compare):
    async def run_before(pilot) -> None:
        app: HostApp = pilot.app
        main = app.main
        await tree_loaded(pilot)
        for p in ("/app", "/election", "/queue", "/weird"):
            main.tree.reveal(p)
            main.tree.node_for(p).expand()
        main.tree.reveal("/app/config")
        model = app.workbench.mirror
        stat = model.get("/queue/job-0000000003").stat
        cfg = model.get("/app/config").stat
        events = [
            NodeAdded("/queue/job-0000000003", stat, timestamp=FIXED_TS),
            ChildrenChanged("/queue", ("job-0000000003",), (), timestamp=FIXED_TS + 0.1),
            DataChanged("/app/config", cfg._replace(version=0, dataLength=40), cfg, timestamp=FIXED_TS + 1.5),
            NodeRemoved("/queue/job-0000000000", timestamp=FIXED_TS + 2),
        ]
        main.apply_events(events)
        assert main.tree.pending
        await until(pilot, lambda: not main.tree.pending, what="the flush tick to draw the events")
        await settle(pilot, lambda: main.query_one(StatPanel).path == "/app/config")

    assert snap_compare(make_app(REALISTIC), terminal_size=(160, 44), run_before=run_before)


def test_binary_znode_in_hex(snap_compare):
    # 200 columns: the very wide layout, stat and data side by side with a full 16-bytes-per-line dump
    assert snap_compare(make_app(REALISTIC), terminal_size=(200, 44), run_before=reveal("/app/blob"))


def test_json_znode(snap_compare):
    assert snap_compare(make_app(REALISTIC), terminal_size=(160, 40), run_before=reveal("/app/config"))


def test_ephemeral_stat_panel_of_this_session(snap_compare):
    assert snap_compare(make_app(REALISTIC), terminal_size=(160, 40),
                        run_before=reveal("/election/node-0000000007"))


def test_narrow_terminal(snap_compare):
    assert snap_compare(make_app(REALISTIC), terminal_size=(90, 30), run_before=reveal("/weird/a[b]"))


def test_conflict_message(snap_compare):
    async def run_before(pilot) -> None:
        app: HostApp = pilot.app
        await tree_loaded(pilot)

        def submit(data: bytes, version: int) -> Any:
            raise ConflictError("/app/config", version, 4)

        dialog = SetDataDialog("/app/config", b'{"log_level": "INFO"}', 3, submit)
        await settle(pilot)
        await app.push_screen(dialog)
        await until(pilot, lambda: dialog.is_mounted and app.screen is dialog, what="the dialog")
        for editor in dialog.query("TextArea, Input"):
            editor.cursor_blink = False  # a blinking cursor is caught on or off at random: flaky baselines
        dialog.query_one("#ok").press()
        await until(pilot, lambda: dialog.error_text, what="the conflict message")
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(make_app(REALISTIC), terminal_size=(120, 36), run_before=run_before)
