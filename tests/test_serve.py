"""`zkbench serve` answers HTTP on loopback, and warns loudly when bound elsewhere (browser mode for workshop rooms).

tests/test_serve_browser.py drives it from a real browser.
"""

from __future__ import annotations

import urllib.request

from browser_room import ServedRoom, wait_for


def test_serve_answers_on_loopback(zk_hosts):
    room = ServedRoom(zk_hosts).start()  # waits until the page answers 200
    try:
        with urllib.request.urlopen(room.url, timeout=10) as response:
            body = response.read()
        assert b"zkbench" in body
        assert b"fonts.googleapis.com" not in body  # a room without internet access must not wait for fonts
    finally:
        room.stop()
    assert "serving the app at" in "\n".join(room.stderr_lines)
    assert not any("WARNING" in line for line in room.stderr_lines)  # loopback: no warning about exposure


def test_serve_warns_loudly_off_loopback(zk_hosts):
    room = ServedRoom(zk_hosts, host="0.0.0.0").start()
    try:
        warning = wait_for(lambda: [line for line in room.stderr_lines if "WARNING" in line], 30,
                           lambda: f"the warning on stderr; it shows: {room.stderr_text()}")
        # A learner reaches the room at some address of the server's (here 127.0.0.2): the page's scripts and
        # websocket must come from that address, not from the 0.0.0.0 it binds (the learner's own machine).
        with urllib.request.urlopen(f"http://127.0.0.2:{room.port}/", timeout=10) as response:
            page = response.read().decode()
    finally:
        room.stop()
    assert "NO authentication" in warning[0] and "0.0.0.0" in warning[0]
    assert f'data-session-websocket-url="ws://127.0.0.2:{room.port}/ws"' in page
    assert f'src="http://127.0.0.2:{room.port}/static/js/textual.js"' in page
    assert "0.0.0.0" not in page
