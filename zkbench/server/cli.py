"""``zkbench server ...`` and ``zkbench ensemble ...``: run local ZooKeeper servers that outlive the command.

State (ports, pids, work dirs) is kept in a run directory so a later command finds what an earlier one started:
``$ZKBENCH_RUN_DIR``, else ``$XDG_STATE_HOME/zkbench/run``, else ``~/.local/state/zkbench/run``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from zkbench.server.distribution import DistributionNotFound, find_distribution
from zkbench.server.local import DEFAULT_JVM_OPTS, LocalEnsemble, LocalServer, Member, PortConflict, ServerStartError

__all__ = ["register", "run_dir"]


def run_dir() -> Path:
    """Where ``zkbench server``/``ensemble`` keep their state."""
    explicit = os.environ.get("ZKBENCH_RUN_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "zkbench" / "run"


def _state_file(kind: str) -> Path:
    return run_dir() / kind / "state.json"


def _load(kind: str) -> tuple[dict[str, object], list[Member]] | None:
    path = _state_file(kind)
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    return state, [Member.from_json(m) for m in state["members"]]  # type: ignore[union-attr]


def _save(kind: str, state: dict[str, object], members: list[Member]) -> None:
    state = dict(state, members=[m.to_json() for m in members])
    _state_file(kind).write_text(json.dumps(state, indent=2))


def _err(message: str) -> int:
    print(f"zkbench: {message}", file=sys.stderr)
    return 1


def _print_members(members: list[Member]) -> None:
    for m in members:
        alive = m.running()
        mode = m.mode() if alive else "down"
        pid = m.pid if alive else "-"
        print(f"server {m.myid}  {m.address:<21}  {mode:<10}  pid {pid:<8}  admin http://{m.host}:{m.admin_port}"
              f"/commands  data {m.data_dir}")


# ---------------------------------------------------------------- server
def _start(kind: str, args: argparse.Namespace, make, port_flag: str) -> int:  # noqa: ANN001
    """Start a detached server or ensemble (``make(workdir, dist)``) unless one is recorded and running."""
    loaded = _load(kind)
    if loaded and any(m.running() for m in loaded[1]):
        print("already running (stop it first):")
        _print_members(loaded[1])
        return 0
    try:
        dist = find_distribution(args.zk_home)
    except DistributionNotFound as exc:
        return _err(str(exc))
    workdir = run_dir() / kind
    if args.fresh and workdir.exists():
        shutil.rmtree(workdir)
    try:
        cluster = make(workdir, dist)
        cluster.start()
    except PortConflict as exc:
        reason, _, rest = str(exc).partition("\n")
        return _err(f"{reason} - choose other ports with {port_flag}" + (f"\n{rest}" if rest else ""))
    except (ServerStartError, OSError) as exc:
        return _err(str(exc))
    _save(kind, {"kind": kind, "zk_home": args.zk_home}, cluster.members)
    print(f"{dist.describe()}:")
    _print_members(cluster.members)
    print(f"connect with: zkbench --hosts {cluster.connect_string}")
    return 0


def _server_start(args: argparse.Namespace) -> int:
    return _start("server", args, lambda workdir, dist: LocalServer(
        workdir, port=args.port or None, dist=dist, tick_time=args.tick_time, owned=False),
        "--port N (0: any free port)")


def _stop(kind: str, done: str) -> int:
    """Stop every recorded member of ``kind`` and forget it."""
    loaded = _load(kind)
    if loaded is None:
        print(f"no {kind} started by zkbench is recorded in {run_dir()}")
        return 0
    for m in loaded[1]:
        m.stop()
    _state_file(kind).unlink(missing_ok=True)
    print(done)
    return 0


def _server_stop(args: argparse.Namespace) -> int:
    return _stop("server", "stopped")


def _server_status(args: argparse.Namespace) -> int:
    loaded = _load("server")
    if loaded is None:
        print("no server started by zkbench (run `zkbench server start`)")
        return 3
    _print_members(loaded[1])
    return 0 if all(m.running() for m in loaded[1]) else 3


# ---------------------------------------------------------------- ensemble
def _ensemble_up(args: argparse.Namespace) -> int:
    return _start("ensemble", args, lambda workdir, dist: LocalEnsemble(
        args.size, workdir, dist=dist, tick_time=args.tick_time, owned=False, base_port=args.base_port or None),
        "--base-port N (0: any free ports)")


def _ensemble_down(args: argparse.Namespace) -> int:
    return _stop("ensemble", "ensemble stopped")


def _ensemble_status(args: argparse.Namespace) -> int:
    loaded = _load("ensemble")
    if loaded is None:
        print("no ensemble started by zkbench (run `zkbench ensemble up`)")
        return 3
    _print_members(loaded[1])
    down = [m for m in loaded[1] if not m.running() or not m.serving()]
    if down:
        print(f"{len(down)} of {len(loaded[1])} down: " + ", ".join(f"server {m.myid}" for m in down))
    return 3 if down else 0


def _matches(m: Member, which: str) -> bool:
    """``which`` is a server id (``2``) or a client address (``127.0.0.1:2183``, ``localhost:2183``, ``:2183``)."""
    if which.isdigit():
        return m.myid == int(which)
    host, sep, port = which.rpartition(":")
    if not sep or not port.isdigit():
        return False
    return int(port) == m.client_port and host in {"", "localhost", "127.0.0.1", m.host}


def _member(args: argparse.Namespace) -> tuple[dict[str, object], list[Member], Member] | None:
    loaded = _load("ensemble")
    if loaded is None:
        _err("no ensemble started by zkbench (run `zkbench ensemble up`)")
        return None
    state, members = loaded
    for m in members:
        if _matches(m, args.member):
            return state, members, m
    _err(f"no server {args.member}; servers are " + ", ".join(f"{m.myid} ({m.address})" for m in members))
    return None


def _ensemble_kill(args: argparse.Namespace) -> int:
    found = _member(args)
    if found is None:
        return 1
    state, members, m = found
    if not m.running():
        print(f"server {m.myid} is already down")
        return 0
    m.kill()
    _save("ensemble", state, members)
    print(f"killed server {m.myid} (SIGKILL)")
    return 0


def _ensemble_restart(args: argparse.Namespace) -> int:
    found = _member(args)
    if found is None:
        return 1
    state, members, m = found
    try:
        dist = find_distribution(state.get("zk_home") or args.zk_home)  # type: ignore[arg-type]
    except DistributionNotFound as exc:
        return _err(str(exc))
    m.stop()
    try:
        m.start(dist, DEFAULT_JVM_OPTS)
        m.wait_serving(60)
    except ServerStartError as exc:
        m.kill()
        return _err(str(exc))
    finally:
        _save("ensemble", state, members)
    print(f"server {m.myid} back as {m.mode()} (pid {m.pid})")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # noqa: SLF001
    """Add ``server`` and ``ensemble`` to the ``zkbench`` command."""
    zk_home = argparse.ArgumentParser(add_help=False)
    zk_home.add_argument("--zk-home", metavar="DIR", help="ZooKeeper distribution (env ZOOKEEPER_HOME)")
    zk_home.add_argument("--tick-time", type=int, default=2000, metavar="MS",
                         help="tickTime in ms (sessions may be 2x..20x this long; default 2000)")
    zk_home.add_argument("--fresh", action="store_true", help="start from an empty data directory")

    server = sub.add_parser("server", help="run a standalone local ZooKeeper server in the background",
                            description="Run one local ZooKeeper server (127.0.0.1) that outlives this command. "
                                        f"State is kept in {run_dir()}.")
    ssub = server.add_subparsers(dest="server_command", metavar="ACTION", required=True)
    p = ssub.add_parser("start", parents=[zk_home], help="start it (port 2181 unless --port)")
    p.add_argument("--port", type=int, default=2181, help="client port (0 = any free port; default 2181)")
    p.set_defaults(func=_server_start)
    ssub.add_parser("stop", help="stop it cleanly").set_defaults(func=_server_stop)
    ssub.add_parser("status", help="show address, mode and pid").set_defaults(func=_server_status)

    ens = sub.add_parser("ensemble", help="run an N-node local ZooKeeper ensemble on loopback",
                         description="Run an N-node ZooKeeper ensemble on 127.0.0.1 that outlives this command, "
                                     "and kill or restart members to show failover. "
                                     f"State is kept in {run_dir()}.")
    esub = ens.add_subparsers(dest="ensemble_command", metavar="ACTION", required=True)
    p = esub.add_parser("up", parents=[zk_home], help="start the ensemble and wait for a quorum")
    p.add_argument("--size", type=int, default=3, help="number of servers (default 3)")
    p.add_argument("--base-port", type=int, default=2181,
                   help="client ports base..base+N-1 (default 2181, like docker-compose.yml; 0 = free ports)")
    p.set_defaults(func=_ensemble_up)
    esub.add_parser("down", help="stop every member").set_defaults(func=_ensemble_down)
    esub.add_parser("status", help="mode, pid and ports of every member",
                    epilog="Exit status: 0 when every member serves, 3 when one is down or nothing is recorded."
                    ).set_defaults(func=_ensemble_status)
    member_help = "server id (1..N) or client address as `zkbench monitor` prints it (127.0.0.1:2183)"
    p = esub.add_parser("kill", help="SIGKILL one member (a crash)")
    p.add_argument("member", metavar="MEMBER", help=member_help)
    p.set_defaults(func=_ensemble_kill)
    p = esub.add_parser("restart", parents=[zk_home], help="start a killed or stopped member again")
    p.add_argument("member", metavar="MEMBER", help=member_help)
    p.set_defaults(func=_ensemble_restart)
