#!/usr/bin/env python3
"""What one app per browser tab costs under ``zkbench serve``: memory per tab for 1, 5 and 10 tabs.

    .venv/bin/python benchmarks/serve_rooms.py [--tabs 1,5,10] [--demo lock] [--settle 5]

Starts a local ZooKeeper and ``zkbench serve``, then opens N tabs in headless Chromium (Debian's chromium and
chromium-driver, driven as in tests/browser_room.py). Memory is measured twice: once when every tab shows the idle
main screen, and once after the demo has been opened in every tab through F4 and its actors all run.
A tab's cost is its app process plus everything the app started (the demo's actor processes), read from
/proc/PID/smaps_rollup:

- RSS counts every resident page, shared ones included, so summing RSS over tabs overstates the total;
- PSS splits each shared page between the processes that map it: the sum of PSS over all tabs is what the room
  really adds to the machine.

The named baseline is the same app in a terminal: ``zkbench`` (and ``zkbench demo KIND``) under tmux, at the
browser's terminal size, measured in the same way. The browser's own memory is on each learner's machine and is
not counted. All tabs share one ZooKeeper and the same demo path, as a room does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from browser_room import (  # noqa: E402
    Browser, ServedRoom, browser_available, children, descendants, memory_kib, wait_for, wait_gone,
)
from zkbench.app import DEMOS  # noqa: E402
from zkbench.server import LocalServer  # noqa: E402

# On screen once the demo's actors all run. Not "HOLDING": in a room every tab's lock demo shares /locks/db, so
# with 10 tabs most tabs' contenders wait for another tab's holder.
DEMO_READY = {"lock": "Actors (3 running)", "election": "Actors (3 running)"}


def tree_memory(pid: int) -> tuple[float, float, int]:
    """(RSS MiB, PSS MiB, processes) of ``pid`` and its descendants."""
    pids = [pid, *descendants(pid)]
    rss = pss = 0
    for p in pids:
        r, s = memory_kib(p)
        rss, pss = rss + r, pss + s
    return rss / 1024, pss / 1024, len(pids)


def settle(seconds: float) -> None:
    time.sleep(seconds)  # a benchmark, not a test: let start-up garbage and first repaints pass before sampling


def terminal_baseline(hosts: str, cols: int, rows: int, demo: str, settle_s: float) -> dict[str, tuple]:
    """The same app in a terminal (tmux), idle and with the demo open: {"idle": mem, "demo": mem}."""
    out: dict[str, tuple] = {}
    for state, argv in (("idle", []), ("demo", ["demo", demo])):
        session = f"zkbench-serve-bench-{os.getpid()}-{state}"
        command = [sys.executable, "-m", "zkbench", "--hosts", hosts, *argv]
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(cols), "-y", str(rows),
                        " ".join(command)], check=True)
        try:
            def pane_text() -> str:
                return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                      text=True).stdout

            wait_for(lambda: "connected" in pane_text() and (state == "idle" or DEMO_READY[demo] in pane_text()),
                     120, f"the terminal app ({state}) to be ready")
            pane_pid = int(subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"],
                                          capture_output=True, text=True, check=True).stdout.strip())
            app = pane_pid if "zkbench" in open(f"/proc/{pane_pid}/cmdline").read() else children(pane_pid)[0]
            settle(settle_s)
            out[state] = tree_memory(app)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    return out


def measure_room(hosts: str, tabs: int, demo: str, settle_s: float) -> dict[str, object]:
    room = ServedRoom(hosts).start()
    browser = Browser()
    try:
        opened = []
        for _ in range(tabs):
            before = set(room.apps())
            tab = browser.open_tab(room.url)
            new = wait_for(lambda: set(room.apps()) - before, 120, "the tab's app")  # noqa: B023
            opened.append((tab, new.pop()))
        for tab, _app in opened:
            tab.wait_for_text("● connected", timeout=180)
        screen = opened[0][0].screen() or {"cols": 0, "rows": 0}
        settle(settle_s)
        idle = [tree_memory(app) for _tab, app in opened]
        server_idle = memory_kib(room.pid)[0] / 1024
        from selenium.webdriver.common.keys import Keys

        for tab, _app in opened:
            tab.press(Keys.F4)
            tab.wait_for_text("Demos (Enter opens", timeout=120)
            index = [kind for kind, _title, _desc in DEMOS].index(demo)  # the picker's order
            tab.press(*([Keys.DOWN] * index), Keys.ENTER)
        for tab, _app in opened:
            tab.wait_for_text(DEMO_READY[demo], timeout=180)
        settle(settle_s)
        with_demo = [tree_memory(app) for _tab, app in opened]
        apps = [app for _tab, app in opened]
        for tab, _app in opened:
            tab.close()
        wait_gone(apps, 120, "every closed tab's app")
        return {"tabs": tabs, "idle": idle, "demo": with_demo, "server_mib": server_idle,
                "cols": screen["cols"], "rows": screen["rows"]}
    finally:
        browser.quit()
        room.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", default="1,5,10", help="tab counts to measure (default 1,5,10)")
    parser.add_argument("--demo", default="lock", choices=sorted(DEMO_READY), help="demo opened in every tab")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait before sampling memory")
    args = parser.parse_args()
    if not browser_available():
        print("needs Debian's chromium and chromium-driver: sh scripts/setup.sh installs them", file=sys.stderr)
        return 1
    server = LocalServer(tick_time=250)
    server.start()
    try:
        results = [measure_room(server.connect_string, int(n), args.demo, args.settle)
                   for n in args.tabs.split(",")]
        cols, rows = results[0]["cols"], results[0]["rows"]
        base = terminal_baseline(server.connect_string, cols, rows, args.demo, args.settle)
    finally:
        server.stop()

    print(f"\nOne app per tab, {cols}x{rows} cells; demo: {args.demo}. MiB per tab = median over the tabs of "
          "(app + its actor processes). Baseline: the same app in a terminal (tmux, same size).\n")
    print("| tabs | screen | RSS/tab | PSS/tab | processes/tab | PSS all tabs | server RSS | PSS/tab vs terminal |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for state in ("idle", "demo"):
        b_rss, b_pss, b_n = base[state]
        label = "main screen" if state == "idle" else f"{args.demo} demo"
        print(f"| terminal | {label} | {b_rss:.0f} | {b_pss:.0f} | {b_n} | - | - | 1.00x |")
        for r in results:
            mems = r[state]
            rss = statistics.median(m[0] for m in mems)
            pss = statistics.median(m[1] for m in mems)
            procs = statistics.median(m[2] for m in mems)
            total = sum(m[1] for m in mems)
            print(f"| {r['tabs']} | {label} | {rss:.0f} | {pss:.0f} | {procs:.0f} | {total:.0f} | "
                  f"{r['server_mib']:.0f} | {pss / b_pss:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
