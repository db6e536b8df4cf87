"""`zkbench serve` in a real headless browser: what a room of learners without a terminal gets.

Debian's chromium and chromium-driver (installed by scripts/setup.sh), driven by Selenium. See tests/browser_room.py
for how the test reads what xterm.js drew. The tests share one server and one browser; each opens its own tabs.
The demo actors get 60 s sessions: when their ephemeral znodes vanish within 30 s of a tab closing, the sessions
were closed by a graceful stop, not expired after a crash.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Iterator

import pytest
from kazoo.security import make_digest_acl
from selenium.webdriver.common.keys import Keys

from browser_room import Browser, ServedRoom, Tab, alive, browser_available, children, cmdline, wait_for, wait_gone
from zkbench.connection import ConnectionSettings, connect
from zkbench.protocol import ZkClient

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available() and not os.environ.get("CI"),
                       reason="needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)"),
]

ROOM_AUTH = ("learner", "room-secret")  # `zkbench --auth learner:room-secret serve`: every tab's app has it
SESSION_TIMEOUT = 60  # the demo actors' (the test server allows up to 60 s)
GONE_WITHIN = 30  # well under SESSION_TIMEOUT: znodes gone this fast were deleted by a closed session
_rooms = itertools.count(1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.quit()


def _room_root(zk_admin: ZkClient) -> str:
    path = f"/t/browser-room-{os.getpid()}-{next(_rooms)}"
    zk_admin.create(path)
    return path


def _serve(zk_hosts: str, root: str, tmp_path_factory: pytest.TempPathFactory) -> ServedRoom:
    env = {"ZKBENCH_DEMO_SESSION_TIMEOUT": str(SESSION_TIMEOUT),
           "ZKBENCH_STATE_DIR": str(tmp_path_factory.mktemp("serve-state"))}
    return ServedRoom(zk_hosts + root, env=env, options=["--auth", ":".join(ROOM_AUTH)]).start()


@pytest.fixture(scope="module")
def room_root(zk_admin: ZkClient) -> str:
    return _room_root(zk_admin)


@pytest.fixture(scope="module")
def room(zk_hosts: str, room_root: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRoom]:
    served = _serve(zk_hosts, room_root, tmp_path_factory)
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def room_zk(zk_hosts: str, room_root: str) -> Iterator[ZkClient]:
    """A kazoo client of the test's own, chrooted where the room's apps are."""
    client = connect(ConnectionSettings(hosts=zk_hosts + room_root))
    try:
        yield client
    finally:
        client.stop()
        client.close()


def _open(browser: Browser, room: ServedRoom, url: str | None = None) -> tuple[Tab, int]:
    """A new tab on the room (at ``url``, default the room's), with its app connected; (tab, the app's pid)."""
    before = set(room.apps())
    tab = browser.open_tab(url or room.url)
    new = wait_for(lambda: set(room.apps()) - before, 60, "the tab's app process to start")
    assert len(new) == 1, f"one tab started {len(new)} apps: {new}"
    tab.wait_for_text("● connected")
    return tab, new.pop()


def _actors(app_pid: int, role: str) -> list[int]:
    return [p for p in children(app_pid) if f"zkbench.actors {role} " in cmdline(p) and alive(p)]


def _ephemerals(zk: ZkClient, path: str) -> list[str]:
    if not zk.exists(path):
        return []
    return [c for c in zk.get_children(path) if (s := zk.exists(f"{path}/{c}")) and s.ephemeralOwner]


def test_the_tree_renders_in_the_browser(browser, room, room_zk):
    names = ["seen-in-browser-alpha", "seen-in-browser-beta"]
    for name in names:
        room_zk.create(f"/{name}", b"hello")
    # The learner types a name, not the address the server binds: the page must load everything from there.
    typed = room.url.replace("127.0.0.1", "localhost")
    tab, app = _open(browser, room, typed)
    try:
        tab.wait_for_text(*names)
        # Everything came from the address typed, nothing from outside the machine (textual-serve's page links
        # Google Fonts: zkbench serves the fonts textual-serve ships instead, so a room without internet never
        # waits for them).
        elsewhere = [url for url in tab.resources() if not url.startswith(typed)]
        assert not elsewhere, f"the page asked for {elsewhere}"
        loaded = tab.focus().execute_script(
            "return Array.from(document.fonts).filter(f => f.status === 'loaded').map(f => f.family)")
        assert any("Roboto Mono" in family for family in loaded), f"fonts loaded: {loaded}"
        # Drawn, not only parsed: the cells holding a name carry ink, blank cells beside them none.
        row, col = tab.find(names[0])
        line = tab.screen()["lines"][row]
        blank = line.find("      ", col + len(names[0]))
        assert blank > 0, f"no blank cells after the name on {line!r}"
        assert tab.ink(row, col, len(names[0])) > 0.05
        assert tab.ink(row, blank, 6) < 0.005
        # Live: a znode created now appears in the open page.
        room_zk.create("/appeared-while-watching")
        tab.wait_for_text("appeared-while-watching")
    finally:
        tab.close()
    wait_gone([app], GONE_WITHIN, "the closed tab's app")


def test_keys_typed_in_the_browser_reach_the_app(browser, room, room_zk):
    tab, app = _open(browser, room)
    try:
        tab.press(Keys.F1)
        tab.wait_for_text("zkbench help", "This screen (Tree)")
        tab.press(Keys.ESCAPE)
        tab.wait_for_no_text("zkbench help")
        # A dialog, then text typed into it: the znode really exists afterwards.
        tab.press("c")
        tab.wait_for_text("Create a znode")
        tab.press("typed-in-browser", Keys.ENTER)
        wait_for(lambda: room_zk.exists("/typed-in-browser"), 30, "/typed-in-browser to be created")
        tab.wait_for_text("Created /typed-in-browser")
        # The shell, with the room's --auth credential: a znode only that user may read.
        room_zk.create("/room-only", b"for-the-room-only", acl=[make_digest_acl(*ROOM_AUTH, all=True)])
        tab.press(Keys.F2)
        tab.wait_for_text("zk:")
        tab.press("get /room-only", Keys.ENTER)
        tab.wait_for_text("for-the-room-only")
    finally:
        tab.close()
    wait_gone([app], GONE_WITHIN, "the closed tab's app")


def test_a_demo_opens_and_closing_its_tab_stops_its_app_and_actors(browser, room, room_zk):
    idle, idle_app = _open(browser, room)
    tab, app = _open(browser, room)
    tab.press(Keys.F4)
    tab.wait_for_text("Demos (Enter opens")
    tab.press(Keys.ENTER)  # the first demo: the distributed lock
    tab.wait_for_text("Distributed lock", "HOLDING")
    actors = wait_for(lambda: len(a := _actors(app, "lock")) == 3 and a, 30, "3 lock actor processes")
    wait_for(lambda: len(_ephemerals(room_zk, "/locks/db")) == 3, 30, "3 ephemeral lock znodes")

    tab.close()
    wait_gone([app, *actors], GONE_WITHIN, "the closed tab's app and its actors")
    wait_for(lambda: not _ephemerals(room_zk, "/locks/db"), GONE_WITHIN,
             lambda: f"the actors' ephemerals to go (still {_ephemerals(room_zk, '/locks/db')})")
    # Only that tab's app: the other tab's app runs on and still answers keys.
    assert alive(idle_app)
    idle.press(Keys.F1)
    idle.wait_for_text("zkbench help")
    idle.close()
    wait_gone([idle_app], GONE_WITHIN, "the other tab's app, once closed too")


def test_apps_and_actors_stop_when_the_server_dies(browser, zk_hosts, zk_admin, tmp_path_factory):
    """Even a SIGKILLed server leaves nothing running: each app gets SIGTERM from Linux when its parent dies."""
    root = _room_root(zk_admin)
    served = _serve(zk_hosts, root, tmp_path_factory)
    zk = connect(ConnectionSettings(hosts=zk_hosts + root))
    try:
        tab, app = _open(browser, served)
        tab.press(Keys.CONTROL, "p")  # the command palette, this time
        tab.wait_for_text("Search for commands")
        tab.press("Leader election")
        tab.wait_for_text("Demo: Leader election")
        tab.press(Keys.ENTER)
        tab.wait_for_text("Leader election", "LEADER")
        actors = wait_for(lambda: len(a := _actors(app, "election")) == 3 and a, 30, "3 election candidates")
        wait_for(lambda: len(_ephemerals(zk, "/election")) == 3, 30, "3 ephemeral candidate znodes")

        os.kill(served.pid, signal.SIGKILL)  # the server alone; its apps and actors must follow
        served.proc.wait(10)
        wait_gone([app, *actors], GONE_WITHIN, "the dead server's app and its actors")
        wait_for(lambda: not _ephemerals(zk, "/election"), GONE_WITHIN,
                 lambda: f"the candidates' ephemerals to go (still {_ephemerals(zk, '/election')})")
        tab.close()
    finally:
        zk.stop()
        zk.close()
        served.stop()
