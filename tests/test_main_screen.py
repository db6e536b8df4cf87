"""The main screen against the live test server: the tree follows another client, the stat panel follows sets,
odd names render as is, and the editors create / set (with conflict detection) / delete (asking first).

Each test runs the real app (ZkBenchApp + Workbench) in its own chroot; the ``zk`` fixture is the "other client".
"""

from __future__ import annotations

import re

from pathlib import Path

import pytest
from textual.widgets import Button, Select, TextArea

from zkbench.app import ZkBenchApp
from zkbench.edits import CreateMode
from zkbench.screens.main import MainScreen
from zkbench.widgets.edit_dialogs import CreateDialog, DeleteDialog, SetDataDialog
from zkbench.widgets.stat_panel import StatPanel
from zkbench.widgets.timeline import Timeline
from zkbench.widgets.zk_header import ZkHeader

from app_pilot import live_app, wait_for


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZKBENCH_STATE_DIR", str(tmp_path / "state"))


async def _main(app: ZkBenchApp, pilot) -> MainScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
    await wait_for(pilot, lambda: app.workbench.client is not None and app.workbench.mirror is not None
                   and app.workbench.mirror.ready.is_set(), what="sessions and a ready mirror")
    return app.screen  # type: ignore[return-value]


def _label(main: MainScreen, path: str) -> str | None:
    node = main.tree.node_for(path)
    return None if node is None else node.label.plain


def _stat_text(main: MainScreen) -> str:
    return _render_plain(main.query_one(StatPanel))


def _render_plain(widget) -> str:
    """The text a Static shows (renders Rich renderables such as the stat grid to plain text)."""
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    content = widget.content
    console.print(content.plain if hasattr(content, "plain") else content)
    return console.export_text()


async def test_tree_follows_another_client(zk_chroot_hosts, zk):
    zk.create("/app", b"")
    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            main = await _main(app, pilot)
            tree = main.tree
            await wait_for(pilot, lambda: tree.node_for("/app") is not None, what="/app in the tree")
            # the header: ready mirror means no "syncing" left over, and the real server is named
            header = main.query_one(ZkHeader)
            await wait_for(pilot, lambda: header.syncing == "", what="syncing cleared")
            assert header.server.startswith(zk_chroot_hosts.split("/")[0].split(",")[0].rsplit(":", 1)[0])
            assert "znodes" in str(header.render())

            # created by the other client: appears with its created badge
            zk.create("/fresh", b"v0")
            await wait_for(pilot, lambda: tree.node_for("/fresh") is not None, what="/fresh in the tree")
            assert tree.badge("/fresh") == "created"
            # the node can be drawn by the parent's child-list change one tick before its NodeAdded relabels it
            await wait_for(pilot, lambda: "created" in _label(main, "/fresh").lower(), what="/fresh badged created")

            # odd names render as is (no markup parsing, unicode kept)
            zk.create("/a[b]", b"x")
            zk.create("/café-☃", b"y")
            zk.create("/[bold]x[b]", b"")
            await wait_for(pilot, lambda: all(tree.node_for(p) is not None for p in ("/a[b]", "/café-☃",
                                                                                   "/[bold]x[b]")),
                           what="odd names in the tree")
            assert _label(main, "/a[b]").startswith("a[b]")
            assert _label(main, "/café-☃").startswith("café-☃")
            assert _label(main, "/[bold]x[b]").startswith("[bold]x[b]")

            # stat panel follows a set by the other client
            assert tree.reveal("/fresh")
            await wait_for(pilot, lambda: "dataVersion 0" in " ".join(_stat_text(main).split()),
                           what="dataVersion 0 shown")
            zk.set("/fresh", b"v1")
            zk.set("/fresh", b"v2-longer")
            await wait_for(pilot, lambda: "dataVersion 2" in " ".join(_stat_text(main).split()),
                           what="dataVersion 2 shown")
            assert "9 B" in _stat_text(main) or "9 bytes" in _stat_text(main)
            timeline = main.query_one(Timeline)
            # the change to version 2 with old -> new size and version (from v1, or from v0 when the mirror's
            # re-read after the first notification already returned version 2: the two sets coalesce)
            await wait_for(pilot, lambda: any(e.kind == "data" and e.path == "/fresh" and re.fullmatch(
                r"2 bytes v[01] -> 9 bytes v2", e.detail) for e in timeline.visible_entries),
                what="timeline data entry")
            # the parent's stat-only change (pzxid/cversion) is not listed as a data change
            assert not any(e.kind == "data" and e.path == "/" for e in timeline.visible_entries)
            assert any(e.kind == "children" and e.path == "/" for e in timeline.visible_entries)

            # deleted by the other client: disappears (after its deleted badge fades)
            zk.delete("/a[b]")
            await wait_for(pilot, lambda: tree.badge("/a[b]") == "deleted" or tree.node_for("/a[b]") is None,
                           what="/a[b] marked deleted")
            await wait_for(pilot, lambda: tree.node_for("/a[b]") is None, timeout=15, what="/a[b] gone")
            assert "/a[b]" not in app.workbench.mirror
    finally:
        app.workbench.close()


async def _open_create(pilot, main: MainScreen, app: ZkBenchApp) -> CreateDialog:
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, CreateDialog), what="create dialog")
    return app.screen  # type: ignore[return-value]


async def test_create_persistent_and_ephemeral_through_the_dialog(zk_chroot_hosts, zk):
    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            main = await _main(app, pilot)
            main.tree.focus()
            dialog = await _open_create(pilot, main, app)
            dialog.query_one("#create-path").value = "/made"
            dialog.query_one("#create-data", TextArea).text = '{"k": 1}'
            dialog.query_one("#ok", Button).press()
            await wait_for(pilot, lambda: app.screen is main, what="dialog closed")
            assert zk.get("/made")[0] == b'{"k": 1}'
            assert zk.exists("/made").ephemeralOwner == 0
            await wait_for(pilot, lambda: main.tree.node_for("/made") is not None, what="/made in the tree")

            dialog = await _open_create(pilot, main, app)
            dialog.query_one("#create-path").value = "/eph"
            dialog.query_one("#create-mode", Select).value = CreateMode.EPHEMERAL
            dialog.query_one("#ok", Button).press()
            await wait_for(pilot, lambda: app.screen is main, what="dialog closed")
            stat = zk.exists("/eph")
            assert stat is not None and stat.ephemeralOwner == app.workbench.connection.session_id
            await wait_for(pilot, lambda: main.tree.node_for("/eph") is not None, what="/eph in the tree")
            assert "ephemeral (this session)" in _label(main, "/eph")
            main.tree.reveal("/eph")
            await wait_for(pilot, lambda: "this session" in _stat_text(main), what="own ephemeral in stat panel")

            # an error stays in the dialog as one line (creating what exists)
            dialog = await _open_create(pilot, main, app)
            dialog.query_one("#create-path").value = "/made"
            dialog.query_one("#ok", Button).press()
            await wait_for(pilot, lambda: dialog.error_text != "", what="error line")
            assert "\n" not in dialog.error_text.strip() and "exists" in dialog.error_text.lower()
            await pilot.press("escape")
    finally:
        app.workbench.close()


async def test_set_data_conflict_shows_both_versions_and_never_overwrites(zk_chroot_hosts, zk):
    zk.create("/cfg", b"original")
    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            main = await _main(app, pilot)
            await wait_for(pilot, lambda: main.tree.reveal("/cfg"), what="/cfg revealed")
            main.tree.focus()
            await wait_for(pilot, lambda: main.tree.has_focus and main.tree.selected_path == "/cfg",
                           what="/cfg selected in the focused tree")
            await pilot.press("e")
            # the dialog is app.screen before it has composed its buttons: wait for them
            await wait_for(pilot, lambda: isinstance(app.screen, SetDataDialog) and bool(app.screen.query("#ok")),
                           what="set dialog with its buttons")
            dialog: SetDataDialog = app.screen  # type: ignore[assignment]
            assert dialog.version == 0 and dialog.original == b"original"
            zk.set("/cfg", b"theirs")  # the concurrent change by the other client
            dialog.query_one("#set-data", TextArea).text = "mine"
            dialog.query_one("#ok", Button).press()
            await wait_for(pilot, lambda: dialog.error_text != "", what="conflict message")
            text = dialog.error_text
            assert "dataVersion 0" in text and "dataVersion 1" in text and "nothing was written" in text
            assert zk.get("/cfg")[0] == b"theirs"  # never a silent overwrite
            assert app.screen is dialog
            # the explicit overwrite writes against the version now on the server
            overwrite = dialog.query_one("#overwrite", Button)
            assert overwrite.display and "1" in str(overwrite.label)
            overwrite.press()
            await wait_for(pilot, lambda: app.screen is main, what="dialog closed")
            data, stat = zk.get("/cfg")
            assert data == b"mine" and stat.version == 2

            # a plain save without a race works and the stat panel follows
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, SetDataDialog), what="set dialog")
            dialog = app.screen  # type: ignore[assignment]
            assert dialog.version == 2
            dialog.query_one("#set-data", TextArea).text = "again"
            dialog.query_one("#ok", Button).press()
            await wait_for(pilot, lambda: app.screen is main, what="saved")
            assert zk.get("/cfg")[1].version == 3
            await wait_for(pilot, lambda: "dataVersion 3" in " ".join(_stat_text(main).split()),
                           what="stat panel at v3")
    finally:
        app.workbench.close()


async def test_recursive_delete_asks_first_with_the_count(zk_chroot_hosts, zk):
    for p in ("/doomed/a/x", "/doomed/a/y", "/doomed/b"):
        zk.create(p, b"", makepath=True)
    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            main = await _main(app, pilot)
            await wait_for(pilot, lambda: main.tree.reveal("/doomed"), what="/doomed revealed")
            main.tree.focus()
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, DeleteDialog), what="delete dialog")
            dialog: DeleteDialog = app.screen  # type: ignore[assignment]
            await wait_for(pilot, lambda: dialog.total is not None, what="count")
            assert dialog.total == 5
            assert "5 znodes" in _render_plain(dialog.query_one("#delete-count"))
            assert zk.exists("/doomed") is not None  # nothing removed before the confirmation
            await pilot.press("escape")  # cancelling keeps everything
            await wait_for(pilot, lambda: app.screen is main, what="cancelled")
            assert zk.exists("/doomed/a/x") is not None

            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, DeleteDialog), what="delete dialog")
            dialog = app.screen  # type: ignore[assignment]
            await wait_for(pilot, lambda: dialog.total == 5, what="count")
            dialog.query_one("#ok", Button).press()
            await wait_for(pilot, lambda: app.screen is main, what="deleted")
            assert zk.exists("/doomed") is None
            await wait_for(pilot, lambda: "/doomed" not in app.workbench.mirror, what="mirror without /doomed")
            await wait_for(pilot, lambda: main.tree.node_for("/doomed") is None, what="tree without /doomed")
    finally:
        app.workbench.close()


async def test_read_only_mode_hides_and_refuses_edits(zk_chroot_hosts, zk):
    zk.create("/keep", b"k")
    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            main = await _main(app, pilot)
            await wait_for(pilot, lambda: main.tree.reveal("/keep"), what="/keep revealed")
            main.tree.focus()
            await pilot.press("f6")
            assert app.workbench.read_only
            for action in ("create", "set_data", "delete"):
                assert main.check_action(action, ()) is False
            shown = {b.binding.action for b in main.active_bindings.values() if b.binding.show and b.enabled}
            assert not shown & {"create", "set_data", "delete"}
            for key in ("c", "e", "d"):
                await pilot.press(key)
                await pilot.pause(0.3)
                assert app.screen is main
            main.action_delete()  # called directly (e.g. from a palette): refused with a notification
            await pilot.pause(0.3)
            assert app.screen is main
            assert zk.get("/keep")[0] == b"k"
            assert "READ-ONLY" in str(main.query_one(ZkHeader).render())
    finally:
        app.workbench.close()


async def test_shell_dock_sits_above_the_footer_and_header_names_a_private_server(zk_chroot_hosts):
    from textual.widgets import Footer

    from zkbench.widgets.shell_pane import ShellPane

    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            main = await _main(app, pilot)
            await pilot.press("f2")
            await wait_for(pilot, lambda: bool(main.query(ShellPane)) and main.query_one("#shell-dock").display,
                           what="shell pane shown")
            await wait_for(pilot, lambda: main.query_one("#shell-dock").region.height > 3, what="the dock laid out")
            await pilot.pause()
            dock = main.query_one("#shell-dock").region
            footer = main.query_one(Footer).region
            body = main.query_one("#main-body").region
            assert dock.height > 3 and footer.height == 1
            assert dock.bottom <= footer.y, (dock, footer)  # the footer never covers the shell's input row
            assert body.bottom <= dock.y, (body, dock)
            await pilot.press("f2")

            # when zkbench started the server itself, the header says so (workbench.server_label)
            app.workbench.local_server = object()  # only server_label looks at it here; reset before close()
            try:
                header = main.query_one(ZkHeader)
                await wait_for(pilot, lambda: "(private local server started by zkbench)" in header.server,
                               what="private server in the header")
                assert "private local server started by zkbench" in str(header.render())
            finally:
                app.workbench.local_server = None
    finally:
        app.workbench.close()
