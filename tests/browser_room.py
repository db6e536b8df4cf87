"""Drive ``zkbench serve`` from a real headless browser (Debian's chromium + chromedriver, through Selenium).

Used by tests/test_serve_browser.py and benchmarks/serve_rooms.py.

How the tests see what the browser drew: xterm.js paints the terminal on a canvas (or WebGL), so the text is not in
the DOM. A script injected before the page's own code keeps a reference to each xterm ``Terminal`` that the page
creates: textual-serve's code assigns it to ``this.terminal``, and a setter on ``Object.prototype`` catches that
assignment. The test then reads xterm's screen buffer: the grid of cells that xterm parsed from the app's output,
which is exactly what it draws. :meth:`Tab.ink` checks the pixels as well. It takes a screenshot of the terminal
and measures how much of a given cell range differs from its background, so a parsed-but-never-painted screen fails.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from zkbench.server import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
T = TypeVar("T")

# Every flag matters on this machine: as root Chromium needs --no-sandbox. Without the background-networking
# flags it keeps dialling out, and the closed network refuses it. The resolver rule makes every name but localhost
# and 127.0.0.1 fail at once, so a page asking the internet for anything (fonts, say) gets an error, never a hang.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--window-size=1280,800",
)

_KEEP_TERMINALS = r"""
window.__zkbenchTerminals = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    window.__zkbenchTerminals.push(value);
  },
});
"""

_SCREEN_LINES = r"""
const term = window.__zkbenchTerminals[0];
if (!term) return null;
const buf = term.buffer.active, lines = [];
for (let y = 0; y < term.rows; y++) {
  const line = buf.getLine(buf.viewportY + y);
  lines.push(line ? line.translateToString(true) : "");
}
return {lines, cols: term.cols, rows: term.rows};
"""

# Share of the pixels in a box that differ clearly from the box's most common colour (its background).
_INK = r"""
const [png, box, done] = arguments;
const img = new Image();
img.onload = () => {
  const canvas = document.createElement("canvas");
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const x = Math.max(0, Math.floor(box.x)), y = Math.max(0, Math.floor(box.y));
  const w = Math.max(1, Math.min(img.width - x, Math.floor(box.w)));
  const h = Math.max(1, Math.min(img.height - y, Math.floor(box.h)));
  const data = ctx.getImageData(x, y, w, h).data, counts = new Map();
  for (let i = 0; i < data.length; i += 4) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  let bg = 0, best = -1;
  for (const [key, n] of counts) if (n > best) { best = n; bg = key; }
  const br = bg >> 16, bgg = (bg >> 8) & 255, bb = bg & 255;
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - br) + Math.abs(data[i + 1] - bgg) + Math.abs(data[i + 2] - bb) > 96) ink++;
  }
  done({ink: ink / (data.length / 4), colours: counts.size, width: img.width, height: img.height});
};
img.onerror = () => done(null);
img.src = "data:image/png;base64," + png;
"""


def browser_available() -> bool:
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


def wait_for(check: Callable[[], T], timeout: float, what: str | Callable[[], str], interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy (returned); after ``timeout`` s fail saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


# -- processes ---------------------------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc: each thread lists the children it forked)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out.extend(int(p) for p in fh.read().split())
        except OSError:
            pass
    return out


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB, from /proc/PID/smaps_rollup (PSS shares shared pages fairly)."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


# -- the server --------------------------------------------------------------------------------------------------
@dataclass
class ServedRoom:
    """A ``zkbench serve`` process on a free loopback port (its own process group, so it can be stopped whole)."""

    hosts: str
    env: dict[str, str] = field(default_factory=dict)
    options: list[str] = field(default_factory=list)  # zkbench options before `serve` (--auth, --read-only...)
    host: str = "127.0.0.1"  # the address to bind; the tests connect to 127.0.0.1 either way
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    stderr_lines: list[str] = field(default_factory=list)
    _stderr_reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> ServedRoom:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zkbench", "--hosts", self.hosts, *self.options, "serve", "--host", self.host,
             "--port", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, **self.env}, start_new_session=True)
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()
        wait_for(self._answers, timeout, lambda: f"{self.url} to answer; stderr: {self.stderr_text()}")
        return self

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode(errors="replace").rstrip())

    def stderr_text(self) -> str:
        return "\n".join(self.stderr_lines[-30:])

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"zkbench serve exited with {self.proc.returncode}: {self.stderr_text()}")
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def apps(self) -> list[int]:
        """The app processes, one per open tab (``exec`` leaves no shell in between)."""
        return [p for p in children(self.pid) if alive(p)]

    def stop(self) -> None:
        """SIGTERM to the whole process group (the server and any app still in it), SIGKILL if that hangs."""
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
            if not any(alive(p) for p in descendants(self.proc.pid)):
                break
        if self._stderr_reader is not None:
            self._stderr_reader.join(10)  # at EOF: every line the server wrote is in stderr_lines


# -- the browser -------------------------------------------------------------------------------------------------
class Browser:
    """One headless Chromium (new empty profile) driven by chromedriver; tabs share it like a learner's browser."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="zkbench-chromium-")
        options = Options()
        options.binary_location = CHROMIUM
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        # An explicit driver path: Selenium never tries to download one.
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(30)
        # The first window stays open on about:blank: closing a browser's last tab would end the session.
        self.home = self.driver.current_window_handle

    def open_tab(self, url: str) -> Tab:
        driver = self.driver
        driver.switch_to.new_window("tab")
        # Before the page's own scripts run, in this tab's every new document.
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _KEEP_TERMINALS})
        driver.get(url)
        return Tab(self, driver.current_window_handle)

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


@dataclass
class Tab:
    browser: Browser
    handle: str

    @property
    def driver(self) -> Any:
        return self.browser.driver

    def focus(self) -> Any:
        if self.driver.current_window_handle != self.handle:
            self.driver.switch_to.window(self.handle)
        return self.driver

    def screen(self) -> dict[str, Any] | None:
        """xterm's screen buffer: ``{"lines": [...], "cols": N, "rows": M}``, or None before xterm exists."""
        return self.focus().execute_script(_SCREEN_LINES)

    def text(self) -> str:
        screen = self.screen()
        return "\n".join(screen["lines"]) if screen else ""

    def wait_for_text(self, *needles: str, timeout: float = 60) -> str:
        """Wait until every needle is on screen; the screen's text."""
        return wait_for(lambda: (t := self.text()) and all(n in t for n in needles) and t, timeout,
                        lambda: f"{needles!r} on the browser's screen; it shows:\n{self.text()}", interval=0.2)

    def wait_for_no_text(self, needle: str, timeout: float = 60) -> str:
        return wait_for(lambda: (t := self.text()) and needle not in t and t, timeout,
                        lambda: f"{needle!r} to leave the browser's screen; it shows:\n{self.text()}", interval=0.2)

    def press(self, *keys: str) -> None:
        """Type into xterm's helper textarea, as a learner's keyboard does (``selenium...Keys`` for F1 etc.)."""
        from selenium.webdriver.common.by import By

        self.focus().find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(*keys)

    def resources(self) -> list[str]:
        """Every URL the page asked for (stylesheets, scripts, fonts, images) and every linked stylesheet."""
        return self.focus().execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".concat(Array.from(document.querySelectorAll('link[href]'), l => l.href))")

    def find(self, needle: str) -> tuple[int, int] | None:
        """(row, column) of ``needle`` on screen."""
        screen = self.screen()
        for row, line in enumerate(screen["lines"] if screen else []):
            col = line.find(needle)
            if col >= 0:
                return row, col
        return None

    def ink(self, row: int, col: int, width: int) -> float:
        """Share of the pixels in cells ``row, col .. col+width`` that the renderer painted in a colour other
        than the cells' background. It is about 0.1-0.3 for text, 0 where nothing is drawn."""
        from selenium.webdriver.common.by import By

        driver = self.focus()
        screen_el = driver.find_element(By.CSS_SELECTOR, ".xterm-screen")
        screen = self.screen()
        assert screen is not None
        png = base64.b64encode(screen_el.screenshot_as_png).decode()
        rect = screen_el.rect
        scale = driver.execute_script("return window.devicePixelRatio") or 1
        cell_w = rect["width"] * scale / screen["cols"]
        cell_h = rect["height"] * scale / screen["rows"]
        box = {"x": col * cell_w, "y": row * cell_h, "w": width * cell_w, "h": cell_h}
        result = driver.execute_async_script(_INK, png, box)
        assert result is not None, "the browser could not decode its own screenshot"
        return float(result["ink"])

    def close(self) -> None:
        """Close this tab, as a learner does; the browser keeps its other tabs."""
        driver = self.focus()
        driver.close()
        driver.switch_to.window(self.browser.home)


def wait_gone(pids: Iterable[int], timeout: float, what: str) -> None:
    pids = list(pids)
    wait_for(lambda: not any(alive(p) for p in pids), timeout,
             lambda: f"{what} to exit; still running: " + "; ".join(
                 f"{p} {cmdline(p)[:100]}" for p in pids if alive(p)))
