"""The app frame: navigation between every screen and back, palette, keymap, read-only toggle, help, resilience.

Pilot tests run against the live test server (each in its own chroot); snapshots render a fixed model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zkbench.app import ConnectionBanner, DemoPicker, HelpScreen, NavBar, ZkBenchApp
from zkbench.connection import ConnectionSettings
from zkbench.mirror import StaticTree
from zkbench.settings import Settings
from zkbench.workbench import Workbench

from app_pilot import live_app, palette_run, wait_for


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZKBENCH_STATE_DIR", str(tmp_path / "state"))


async def test_navigation_between_every_screen_and_back(zk_chroot_hosts, zk):
    zk.create("/app/config", b'{"log_level": "INFO"}', makepath=True)
    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            main = app.screen
            await wait_for(pilot, lambda: app.workbench.mirror is not None and "/app/config" in app.workbench.mirror,
                           what="the mirror to hold /app/config")
            assert main.query_one(NavBar) and main.query_one(ConnectionBanner)
            assert not main.query_one(ConnectionBanner).has_class("-visible")

            await pilot.press("f3")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "EnsembleScreen", what="ensemble screen")
            assert app.screen.query(NavBar)
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is main, what="back to the tree")

            await pilot.press("f4")
            await wait_for(pilot, lambda: isinstance(app.screen, DemoPicker), what="demo picker")
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is main, what="back from the picker")

            app.open_demo("lock")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "DemoScreen", what="lock demo")
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is main, what="back from the demo")

            await pilot.press("f1")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
            markdown = app.screen.help_text
            assert "deleteall" in markdown and "F2" in markdown.replace("f2", "F2")
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is main, what="back from help")

            # the shell pane opens below the tree, keeps its state while hidden, and acts on the live tree
            await pilot.press("f2")
            from zkbench.widgets.shell_pane import ShellPane

            await wait_for(pilot, lambda: bool(main.query(ShellPane)), what="shell pane")
            pane = main.query_one(ShellPane)
            await wait_for(pilot, lambda: pane.has_focus_within, what="shell focus")
            await pilot.press(*"create /from-shell hi")
            await pilot.press("enter")
            await wait_for(pilot, lambda: "/from-shell" in app.workbench.mirror, what="/from-shell in the mirror")
            assert zk.get("/from-shell")[0] == b"hi"
            await pilot.press("f2")  # focus is in the pane: F2 hides it
            await wait_for(pilot, lambda: not main.query_one("#shell-dock").display, what="shell hidden")
            await pilot.press("f2")
            await wait_for(pilot, lambda: main.query_one("#shell-dock").display, what="shell shown again")
            assert main.query_one(ShellPane) is pane  # the same pane: history and output kept
    finally:
        app.workbench.close()


async def test_palette_offers_every_action_and_runs_them(zk_chroot_hosts):
    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            titles = {c.title for c in app.get_system_commands(app.screen)}
            for expected in ("Go to path", "Open shell", "Ensemble view", "Demo: Distributed lock",
                             "Demo: Master-worker", "Toggle read-only", "Reconnect", "Export subtree", "Help",
                             "Theme", "Quit"):
                assert expected in titles
            await wait_for(pilot, lambda: app.workbench.client is not None, what="user session")
            assert not app.workbench.read_only
            await palette_run(pilot, "toggle read", "Toggle read-only")
            await wait_for(pilot, lambda: app.workbench.read_only, what="read-only on")
            assert "READ-ONLY" in str(app.screen.query_one(NavBar).render())
    finally:
        app.workbench.close()


async def test_read_only_toggle_refuses_writes_from_the_shell(zk_chroot_hosts, zk):
    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.workbench.client is not None, what="user session")
            await pilot.press("f6")
            assert app.workbench.read_only and app.workbench.client.read_only
            await pilot.press("f2")
            from zkbench.widgets.shell_pane import ShellPane

            await wait_for(pilot, lambda: bool(app.screen.query(ShellPane)) and app.screen.query_one(ShellPane)
                           .has_focus_within, what="the shell pane, focused")
            pane = app.screen.query_one(ShellPane)
            await pilot.press(*"create /nope x")
            await pilot.press("enter")
            await wait_for(pilot, lambda: "Read-only mode: refusing to create /nope" in "\n".join(
                strip.text for strip in pane.query_one("RichLog").lines), what="the refusal in the pane")
            assert zk.exists("/nope") is None
            await pilot.press("escape")
            await pilot.press("f6")
            assert not app.workbench.read_only
    finally:
        app.workbench.close()


async def test_remapped_key_from_settings(zk_chroot_hosts):
    app = live_app(zk_chroot_hosts, keys={"ensemble": "f9", "help": "f10"})
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("f3")  # no longer bound (a bound key pushes its screen before press() returns)
            await pilot.pause()
            assert type(app.screen).__name__ == "MainScreen"
            await pilot.press("f9")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "EnsembleScreen", what="ensemble via f9")
            await pilot.press("escape")
            await pilot.press("f10")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help via f10")
            assert "F9\tEnsemble" in app.screen.help_text
    finally:
        app.workbench.close()


async def test_dead_server_is_one_line_and_the_app_keeps_running():
    from zkbench.server import free_port

    port = free_port()
    workbench = Workbench(ConnectionSettings(hosts=f"127.0.0.1:{port}", connect_timeout=1.0))
    app = ZkBenchApp(workbench, Settings())
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.connect_error is not None, what="the connect error")
            assert "\n" not in app.connect_error and "connection refused" in app.connect_error
            banner = app.screen.query_one(ConnectionBanner)
            assert banner.has_class("-visible") and "F5 to retry" in str(banner.render())
            await pilot.press("f1")  # still usable
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
    finally:
        workbench.close()


async def test_unexpected_exception_is_logged_and_shown_not_fatal(tmp_path: Path):
    workbench = Workbench(ConnectionSettings(hosts="127.0.0.1:1"))
    workbench.mirror = StaticTree.from_dict({"/a": b"x"})
    app = ZkBenchApp(workbench, Settings(), resilient=True, open_on_mount=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app._handle_exception(RuntimeError("boom"))
        log = tmp_path / "state" / "errors.log"
        await wait_for(pilot, lambda: log.exists() and "RuntimeError: boom" in log.read_text(), what="errors.log")
        await wait_for(pilot, lambda: any("boom" in str(n.message) for n in app._notifications),
                       what="the error notification")
        assert app.is_running


# ---------------------------------------------------------------------------------------------- snapshots
SNAP_TREE = {
    "/app": b"",
    "/app/config": b'{"log_level": "INFO", "features": ["a", "b"]}',
    "/app/locks/db/lock-0000000001": (b"", {"ephemeralOwner": 0x1000001234}),
    "/services/payment/instance-0000000003": (b"127.0.0.1:8081", {"ephemeralOwner": 0x1000005678}),
    "/zookeeper/config": b"",
    "/zookeeper/quota": b"",
}


def snapshot_app() -> ZkBenchApp:
    workbench = Workbench(ConnectionSettings(hosts="127.0.0.1:2181"))
    workbench.mirror = StaticTree.from_dict(SNAP_TREE)
    return ZkBenchApp(workbench, Settings(), open_on_mount=False)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
def test_snapshot_main_screen(snap_compare, size):
    async def ready(pilot):
        main = pilot.app.screen
        main.on_workbench_ready()
        await wait_for(pilot, lambda: main._mirror_ready and not main.tree.pending and main.tree.root.is_expanded,
                       what="the tree drawn")
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=ready)


def test_snapshot_help_screen(snap_compare):
    async def open_help(pilot):
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen) and pilot.app.screen.is_mounted,
                       what="the help screen")
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=(100, 40), run_before=open_help)


async def test_theme_choice_is_remembered(zk_chroot_hosts, tmp_path: Path):
    app = live_app(zk_chroot_hosts)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            app.theme = "nord"
            state = tmp_path / "state" / "ui.json"
            await wait_for(pilot, lambda: state.exists() and '"theme": "nord"' in state.read_text(),
                           what="the theme saved")
    finally:
        app.workbench.close()
    assert '"theme": "nord"' in (tmp_path / "state" / "ui.json").read_text()
    again = live_app(zk_chroot_hosts)
    assert again.theme == "nord"
    again.workbench.close()


async def test_lost_server_shows_a_banner_until_it_comes_back(tmp_path: Path):
    from zkbench.server import LocalServer

    server = LocalServer(tmp_path / "zk", tick_time=250)
    server.start()
    app = live_app(server.connect_string)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: app.workbench.client is not None and app.conn_state is not None,
                           what="connected")
            banner = app.screen.query_one(ConnectionBanner)
            assert not banner.has_class("-visible")
            server.server.stop()
            await wait_for(pilot, lambda: banner.has_class("-visible"), what="the banner")
            assert "suspended" in str(banner.render()).lower()
            server.start()
            await wait_for(pilot, lambda: not banner.has_class("-visible"), timeout=30, what="the banner to go")
            assert app.is_running
    finally:
        app.workbench.close()
        server.stop()


def test_demo_command_help_names_every_demo(capsys: pytest.CaptureFixture[str]):
    from zkbench.cli import build_parser
    from zkbench.demos import DEMO_SPECS

    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for kind in DEMO_SPECS:
        assert kind in text
