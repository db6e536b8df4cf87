"""``zkbench monitor``: the course's ensemble report (mode, latency min/avg/max, received, sent) per server.

Which servers: ``--hosts`` (or ``ZKBENCH_HOSTS`` / the settings file), widened to the ensemble's membership as
the servers report it (``conf``); without hosts, the ensemble (or server) started by ``zkbench ensemble up`` /
``zkbench server start``, whose AdminServer ports are known; otherwise ``127.0.0.1:2181``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from zkbench.connection import DEFAULT_HOSTS
from zkbench.ensemble import (DEFAULT_ADMIN_PORT, EnsembleMonitor, EnsembleSnapshot, EnsembleUpdate, Mode,
                              ServerTarget, discover_targets, targets_from_connect_string)
from zkbench.errors import ZkBenchError
from zkbench.server.cli import run_dir
from zkbench.settings import load_settings

__all__ = ["register", "resolve_targets", "format_report", "run_monitor"]

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # noqa: SLF001
    parser = sub.add_parser(
        "monitor", parents=[common], help="health report of every ensemble server (four-letter words)",
        description="Ask every server of the ensemble how it is (srvr, mntr, ruok, wchs; the AdminServer when "
                    "four-letter words are not whitelisted) and print the course's report: mode, latency "
                    "min/avg/max, packets received and sent, plus zxid, follower lag and connections.",
        epilog="Exit status: 0 when every server answered, 1 when some did not, 2 on a usage error.")
    parser.add_argument("--watch", "-w", type=float, metavar="N",
                        help="repeat every N seconds (Ctrl-C stops), printing leader changes and failures")
    parser.add_argument("--count", type=int, metavar="K", help="with --watch: stop after K reports")
    parser.add_argument("--json", action="store_true", help="JSON: one object per report (JSON lines with --watch)")
    parser.add_argument("--timeout", type=float, default=1.0, metavar="SECONDS",
                        help="per-request timeout for each server (default 1)")
    parser.add_argument("--admin-port", type=int, metavar="PORT",
                        help=f"AdminServer port to fall back to when four-letter words are not whitelisted "
                             f"(default {DEFAULT_ADMIN_PORT}, or the ports zkbench's own servers use)")
    parser.add_argument("--no-discover", action="store_true",
                        help="only the servers of the connect string, not the rest of the ensemble's membership")
    parser.add_argument("--clients", action="store_true", help="also list each server's client sessions (cons)")
    parser.set_defaults(func=run_monitor)


def _local_targets() -> list[ServerTarget] | None:
    """Servers recorded by ``zkbench ensemble up`` / ``zkbench server start`` (they know their admin ports)."""
    for kind in ("ensemble", "server"):
        path = Path(run_dir()) / kind / "state.json"
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", path, exc)
            continue
        members = state.get("members") or []
        if members:
            return [ServerTarget(str(m.get("host", "127.0.0.1")), int(m["client_port"]),
                                 int(m["admin_port"]) if m.get("admin_port") else None, int(m["myid"]))
                    for m in members]
    return None


def _norm(host: str) -> str:
    return "127.0.0.1" if host in ("localhost", "127.0.0.1") else host


def _configured_hosts(args: argparse.Namespace) -> str | None:
    if getattr(args, "hosts", None):
        return args.hosts
    return load_settings(args).hosts


def resolve_targets(args: argparse.Namespace) -> list[ServerTarget]:
    """The servers ``zkbench monitor`` reports on (see the module docstring)."""
    hosts = _configured_hosts(args)
    admin_port = args.admin_port if getattr(args, "admin_port", None) else DEFAULT_ADMIN_PORT
    if hosts:
        try:
            seeds = targets_from_connect_string(hosts, admin_port)
        except ValueError as exc:
            raise ZkBenchError(f"bad connect string {hosts!r}: {exc}") from exc
        if not getattr(args, "admin_port", None):
            # servers zkbench started know their own AdminServer ports (and myids): use them for those hosts
            recorded = {(_norm(t.host), t.port): t for t in _local_targets() or ()}
            seeds = [recorded.get((_norm(t.host), t.port), t) for t in seeds]
    else:
        seeds = _local_targets() or targets_from_connect_string(DEFAULT_HOSTS, admin_port)
        if getattr(args, "admin_port", None):
            seeds = [ServerTarget(t.host, t.port, args.admin_port, t.myid) for t in seeds]
    if getattr(args, "no_discover", False):
        return seeds
    return discover_targets(seeds, timeout=getattr(args, "timeout", 1.0))


_COLUMNS = ("server", "mode", "latency min/avg/max", "received", "sent", "zxid", "lag", "conns", "source")


def report_rows(snapshot: EnsembleSnapshot) -> list[tuple[str, ...]]:
    rows = []
    for h in snapshot.servers:
        name = h.target.address + (f" ({h.target.myid})" if h.target.myid is not None else "")
        mode = h.mode.value.upper() if h.mode is Mode.LEADER else h.mode.value
        rows.append((name, mode, h.latency_text(), _num(h.received), _num(h.sent),
                     str(h.zxid) if h.zxid else "-", snapshot.lag_text(h) if h.up else "-",
                     _num(h.connections), h.source or "-"))
    return rows


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)


def format_report(snapshot: EnsembleSnapshot, *, clients: bool = False) -> str:
    """The plain-text table, then one line per server that is down or read through a fallback."""
    rows = [_COLUMNS, *report_rows(snapshot)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    right = {3, 4, 7}
    lines = ["  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                       for i, cell in enumerate(row)).rstrip() for row in rows]
    leader = snapshot.leader
    if leader is not None:
        lines.append(f"leader: {leader.label} ({leader.target.address})")
    elif any(h.mode in (Mode.FOLLOWER, Mode.NOT_SERVING) for h in snapshot.servers):
        lines.append("leader: none answering (an election is running, or the leader is down)")
    for h in snapshot.servers:
        if h.error:
            lines.append(f"{h.label}: {h.error}")
        for note in h.notes:
            lines.append(f"{h.label}: {note}")
        if clients and h.clients is not None:
            for c in h.clients:
                lat = f"{c.latency_min}/{c.latency_avg}/{c.latency_max}" if c.latency_min is not None else "-"
                lines.append(f"  {h.label} client {c.address} session {c.session_hex} "
                             f"recv {c.received} sent {c.sent} lop {c.last_operation or '-'} latency {lat}")
    return "\n".join(lines)


def run_monitor(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.watch is not None and args.watch <= 0:
        print("zkbench monitor: --watch needs a positive number of seconds", file=sys.stderr)
        return 2
    try:
        targets = resolve_targets(args)
    except ZkBenchError as exc:
        print(f"zkbench monitor: {exc}", file=sys.stderr)
        return 2
    monitor = EnsembleMonitor(targets, timeout=args.timeout, clients=args.clients)
    status = 0
    reports = 0
    try:
        while True:
            started = time.monotonic()
            update = monitor.poll()
            status = 0 if all(h.up for h in update.snapshot.servers) else 1
            _emit(update, args, out, first=reports == 0)
            reports += 1
            if args.watch is None or (args.count is not None and reports >= args.count):
                return status
            time.sleep(max(0.0, args.watch - (time.monotonic() - started)))
    finally:
        monitor.close()


def _emit(update: EnsembleUpdate, args: argparse.Namespace, out: TextIO, *, first: bool) -> None:
    snap = update.snapshot
    if args.json:
        data = snap.to_json()
        data["events"] = [{"kind": e.kind.value, "text": e.text, "timestamp": e.timestamp, "server": e.server}
                          for e in update.events if not first]
        out.write(json.dumps(data, separators=(",", ":") if args.watch else (", ", ": "),
                             indent=None if args.watch else 2) + "\n")
        out.flush()
        return
    if args.watch is not None:
        if not first:
            out.write("\n")
        out.write(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.taken_at)) + "\n")
        if not first:
            for event in update.events:
                out.write(f"* {event.text}\n")
    out.write(format_report(snap, clients=args.clients) + "\n")
    out.flush()
