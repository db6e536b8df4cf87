"""The shell pane in the TUI: pilot tests against the live test server, and a snapshot of a few commands."""

from __future__ import annotations

import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import RichLog

from zkbench.connection import ConnectionSettings
from zkbench.events import ConnectionState
from zkbench.shell import COMMANDS
from zkbench.workbench import Workbench
from zkbench.widgets.shell_pane import ShellPane


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("ZKBENCH_STATE_DIR", str(state))
    return state


class PaneApp(App[None]):
    """A tiny host for the pane (the real app mounts it in the main screen's shell dock)."""

    def __init__(self, workbench: Any) -> None:
        super().__init__()
        self.workbench = workbench

    def compose(self) -> ComposeResult:
        yield ShellPane(self.workbench)

    def on_mount(self) -> None:
        self.query_one(ShellPane).focus_input()


async def wait_for(pilot, predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def type_line(pane: ShellPane, text: str) -> None:
    pane.input.value = text
    pane.input.cursor_position = len(text)


def log_text(pane: ShellPane) -> str:
    return "\n".join(strip.text for strip in pane.query_one(RichLog).lines)


async def run_line(pilot, pane: ShellPane, line: str) -> None:  # noqa: ANN001
    before = len(pane.query_one(RichLog).lines)
    type_line(pane, line)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not pane._busy and len(pane.query_one(RichLog).lines) > before)
    await pilot.pause()


@pytest.fixture
def workbench(zk_chroot_hosts: str):  # noqa: ANN201
    wb = Workbench(ConnectionSettings(hosts=zk_chroot_hosts, session_timeout=5.0))
    wb.open(start_mirror=False)
    yield wb
    wb.close()


async def test_pane_runs_commands_on_the_user_session(workbench: Workbench, zk_admin, zk_root: str) -> None:
    app = PaneApp(workbench)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ShellPane)
        await run_line(pilot, pane, "create /x hi")
        assert zk_admin.get(zk_root + "/x")[0] == b"hi"
        await run_line(pilot, pane, "create -e /mine 1")
        owner = zk_admin.exists(zk_root + "/mine").ephemeralOwner
        assert owner == workbench.connection.session_id  # ephemerals belong to the app's user session
        await run_line(pilot, pane, "get /nope")
        assert "Node does not exist: /nope" in log_text(pane)
        await run_line(pilot, pane, "cd x")
        assert "zk:/x" in str(pane.query_one("#shell-prompt").render())


async def test_create_in_the_pane_appears_in_the_tree(zk_chroot_hosts: str) -> None:
    """The pane in the main screen's shell dock, with the real mirror: what the shell writes shows in the tree."""
    from zkbench.screens.main import MainScreen

    wb = Workbench(ConnectionSettings(hosts=zk_chroot_hosts, session_timeout=5.0))
    wb.open(start_mirror=True)
    try:
        assert wb.mirror.ready.wait(10)

        class MainApp(App[None]):
            def on_mount(self) -> None:
                self.push_screen(MainScreen(wb, drain=True))

        app = MainApp()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            screen.on_workbench_ready()
            pane = ShellPane(wb)
            await screen.query_one("#shell-dock").mount(pane)
            screen.show_shell_dock(True)
            pane.focus_input()
            await pilot.pause()
            assert screen.tree.node_for("/x") is None
            await run_line(pilot, pane, "create /x hi")
            await wait_for(pilot, lambda: screen.tree.node_for("/x") is not None)
            type_line(pane, "get /")
            await pilot.press("tab")  # completes from the mirror's cache
            assert pane.input.value == "get /x"
    finally:
        wb.close()


async def test_pane_confirms_deleteall_inside_the_pane(workbench: Workbench, zk_admin, zk_root: str) -> None:
    for p in ("/d/a", "/d/b", "/d/a/c"):
        zk_admin.create(zk_root + p, makepath=True)
    app = PaneApp(workbench)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ShellPane)
        type_line(pane, "deleteall /d")
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane._confirming is not None)
        assert "4 znodes" in pane._confirming
        type_line(pane, "n")
        await pilot.press("enter")
        await pilot.pause()
        assert zk_admin.exists(zk_root + "/d") is not None  # said no: nothing deleted
        type_line(pane, "deleteall /d")
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane._confirming is not None)
        type_line(pane, "y")
        await pilot.press("enter")
        await wait_for(pilot, lambda: zk_admin.exists(zk_root + "/d") is None)


async def test_tab_completes_commands_and_paths_without_network(zk_admin, zk_root: str) -> None:
    """With a mirror, completion reads only the model: the client here would fail on any call."""

    class Model:
        def __init__(self) -> None:
            self.calls: list[str] = []
            self.tree = {"/": ("config", "consumers", "Zeta"), "/config": ("app", "db"), "/config/app": ()}

        def children(self, path: str) -> tuple[str, ...]:
            self.calls.append(path)
            return self.tree.get(path, ())

        def paths_with_prefix(self, prefix: str, limit: int) -> list[str]:
            raise AssertionError("not used")

        def __contains__(self, path: object) -> bool:
            return path in self.tree

    class NoNetwork:
        connected = True
        read_only = False

        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"network call {name} during completion")

    model = Model()
    wb = SimpleNamespace(client=NoNetwork(), hosts="x", mirror=model, read_only=False,
                         connection=SimpleNamespace(state=ConnectionState.CONNECTED, session_id=0))
    app = PaneApp(wb)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ShellPane)
        type_line(pane, "getA")
        await pilot.press("tab")
        assert pane.input.value == "getA"  # getAcl, getAllChildrenNumber: common prefix only
        type_line(pane, "getAc")
        await pilot.press("tab")
        assert pane.input.value == "getAcl "
        type_line(pane, "ls /con")
        await pilot.press("tab")
        assert pane.input.value == "ls /con"  # config, consumers
        assert "config  consumers" in log_text(pane)
        type_line(pane, "ls /conf")
        await pilot.press("tab")
        assert pane.input.value == "ls /config/"  # has children: ready to go deeper
        await pilot.press("a", "tab")
        assert pane.input.value == "ls /config/app"
        type_line(pane, "ls /z")
        await pilot.press("tab")
        assert pane.input.value == "ls /z"  # case-sensitive: Zeta is not a match


async def test_history_persists_across_runs_and_hides_secrets(workbench: Workbench, _state_dir: Path) -> None:
    app = PaneApp(workbench)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ShellPane)
        await run_line(pilot, pane, "ls /")
        await run_line(pilot, pane, "addauth digest bob:s3cret")
        await run_line(pilot, pane, "pwd")
    assert "s3cret" not in (_state_dir / "history").read_text()
    app = PaneApp(workbench)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ShellPane)
        await pilot.press("up")
        assert pane.input.value == "pwd"
        await pilot.press("up")
        assert pane.input.value == "addauth digest bob:***"
        await pilot.press("up", "down", "down")
        assert pane.input.value == "pwd"
        await pilot.press("down")
        assert pane.input.value == ""
        assert "s3cret" not in log_text(pane)


async def test_watch_streams_until_escape_and_ui_stays_responsive(workbench: Workbench, zk_admin,
                                                                   zk_root: str) -> None:
    zk_admin.create(zk_root + "/w", b"0")
    app = PaneApp(workbench)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ShellPane)
        await run_line(pilot, pane, "watch /w")
        # the watch is on the server once the worker that starts the stream (addWatch) is done; it is created
        # together with pane._stream, and leaves app.workers when it finishes
        await wait_for(pilot, lambda: pane._stream is not None and not [
            w for w in app.workers if w.group == "shell-stream-start" and not w.is_finished])
        zk_admin.set(zk_root + "/w", b"1")
        zk_admin.create(zk_root + "/w/child", b"c")
        await wait_for(pilot, lambda: "/w/child" in log_text(pane) and "changed  /w v1" in log_text(pane))
        await run_line(pilot, pane, "pwd")  # other commands still run while the watch streams
        await pilot.press("escape")
        await wait_for(pilot, lambda: pane._stream is None)
        assert "stopped" in log_text(pane)
        zk_admin.set(zk_root + "/w", b"2")
        await pilot.pause(0.3)
        assert "v2" not in log_text(pane)


async def test_fuzzed_input_keeps_the_app_alive(workbench: Workbench) -> None:
    lines = ["'", '"', "\\", ";;;", "ls -Z /", "create", "set /a", "get -v x /", "txn ;", "json get",
             "\x00", "ls /\x7f", "redo 99", "help nope", "getAcl -s", "setAcl / bad", "addWatch -m X /",
             "cd /nope", "tree / x", "load /nonexistent.json", "dump", "é/ü ", "a" * 3000]
    rng = random.Random(5)  # plus random lines: command names with junk arguments, and raw junk
    names = sorted(set(COMMANDS) - {"close", "connect", "addauth", "quit", "dump", "watch"})
    junk = ["/", "-s", "-v", "x", "'", '"a b"', ";", "-R", "..", "\\", "{}", "-1", "é", "*"]
    for _ in range(40):
        head = rng.choice(names) if rng.random() < 0.8 else "".join(rng.choice("ab-/;'\" ") for _ in range(6))
        lines.append(" ".join([head, *rng.choices(junk, k=rng.randint(0, 4))]))
    app = PaneApp(workbench)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ShellPane)
        for line in lines:
            await run_line(pilot, pane, line)
        await run_line(pilot, pane, "pwd")
        assert app.is_running
        assert "Internal error" not in log_text(pane)


def test_snapshot_after_a_few_commands(snap_compare, zk_hosts: str) -> None:
    """A frozen in-memory session so the picture is deterministic (no clock, session id or port)."""
    from shell_fakes import FakeClient

    client = FakeClient()
    wb = SimpleNamespace(client=client, hosts="zk1:2181", mirror=None, read_only=False,
                         connection=SimpleNamespace(state=ConnectionState.CONNECTED, session_id=0))

    async def run_before(pilot) -> None:  # noqa: ANN001
        pane = pilot.app.query_one(ShellPane)
        for line in ("create /app '{\"log_level\": \"INFO\", \"replicas\": 3}'", "create /app/db x",
                     "ls /app", "get /app", "delete /app", "lss /", "cd /app", "tree /"):
            await run_line(pilot, pane, line)

    assert snap_compare(PaneApp(wb), terminal_size=(90, 28), run_before=run_before)
