"""One actor = one OS process running one role of one recipe, with its own ZooKeeper session.

It narrates on stdout (plain lines, or JSON lines with ``--json``) and reacts to signals like a real program:
SIGTERM/SIGINT stop gracefully (release, close the session: ephemerals vanish at once), SIGKILL is a crash (the
session expires after its timeout), SIGSTOP/SIGCONT pause it (past the session timeout: the GC-pause hazard).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, KazooException, OperationTimeoutError, SessionExpiredError

from zkbench.actors.protocol import ActorEvent, format_plain
from zkbench.connection import DEFAULT_HOSTS, ConnectError, connect
from zkbench.errors import ZkBenchError, explain
from zkbench.recipes import (Barrier, ConfigWatcher, DoubleBarrier, FencedResource, JobQueue, LeaderLatch, Lock,
                             Master, ServiceRegistry, ServiceWatcher, StaleTokenError, Step, TakeMode, Worker,
                             delete_config, set_config, submit_task)
from zkbench.recipes._common import session_id, wait_connected
from zkbench.recipes.lock import LockLostError
from zkbench.settings import load_settings
from zkbench.recipes.queue import GUARANTEES

__all__ = ["ROLES", "add_role_parsers", "run_actor", "parse_duration", "Stop"]

log = logging.getLogger(__name__)


class Stop(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT: unwinds through the recipe, which cleans up its znodes."""


def parse_duration(text: str) -> float:
    """``10s``, ``500ms``, ``2m``, ``1.5`` (seconds) -> seconds."""
    t = text.strip().lower()
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if t.endswith(suffix) and t[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(t[: -len(suffix)]) * scale
    try:
        value = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 10s, 500ms, 2m)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"negative duration: {text!r}")
    return value


class Emitter:
    """Writes events to stdout, one line each, from any thread."""

    def __init__(self, actor: str, role: str, as_json: bool, stream: Any = None) -> None:
        self.actor, self.role, self.as_json = actor, role, as_json
        self.stream = stream or sys.stdout
        self.client: KazooClient | None = None
        self._lock = threading.RLock()  # re-entrant: a signal handler may emit while the main thread is emitting

    def session(self) -> str:
        sid = session_id(self.client) if self.client is not None else 0
        return f"0x{sid:x}" if sid else ""

    def emit(self, kind: str, message: str, *, state: str | None = None, path: str | None = None,
             watching: str | None = None, at: float | None = None, **details: Any) -> None:
        event = ActorEvent(self.actor, kind, message, role=self.role, session=self.session(), state=state,
                           path=path, watching=watching, details=details, time=at or time.time())
        line = event.to_json() if self.as_json else format_plain(event)
        with self._lock:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):  # the reader went away: keep working, stop talking
                pass

    def step(self, step: Step) -> None:
        self.emit(step.kind, step.message, state=step.state.value if step.state else None, path=step.path,
                  watching=step.watching, at=step.timestamp, recipe=step.recipe, **dict(step.details))


# -- roles -----------------------------------------------------------------------------------------------------
class Context:
    def __init__(self, args: argparse.Namespace, client: KazooClient, out: Emitter) -> None:
        self.args, self.client, self.out, self.id = args, client, out, args.id
        self.stop = threading.Event()

    def sleep(self, seconds: float) -> None:
        """Sleep that a SIGTERM interrupts (through :class:`Stop`)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))

    def idle(self) -> None:
        while True:
            time.sleep(3600)

    def run_until_signalled(self, run: Callable[[threading.Event], object], stop: threading.Event,
                            name: str) -> None:
        """Run ``run(stop)`` on a thread while this actor idles; on the way out (a signal), set ``stop`` and
        give the thread 5 s to finish."""
        thread = threading.Thread(target=run, args=(stop,), name=name, daemon=True)
        thread.start()
        try:
            self.idle()
        finally:
            stop.set()
            thread.join(5)


def role_lock(ctx: Context) -> None:
    a, out = ctx.args, ctx.out
    fenced = FencedResource(ctx.client, a.fence) if a.fence else None
    cycle = 0
    while a.repeat == 0 or cycle < a.repeat:
        cycle += 1
        lock = Lock(ctx.client, a.path, ctx.id, narrate=out.step)
        try:
            try:
                if not lock.acquire(timeout=a.timeout):
                    continue
            except LockLostError as exc:  # the session expired while we waited: queue up again
                out.emit("retrying", f"{exc}; queueing again with the new session", state="waiting")
                wait_connected(ctx.client, 30)
                cycle -= 1  # this attempt does not count
                continue
            token = lock.token or 0
            out.emit("working", f"acquired lock, working for {a.hold:g}s", state="holding", path=lock.node,
                     token=token)
            end = time.monotonic() + a.hold
            while True:
                if fenced is not None and not _fenced_write(ctx, fenced, token, cycle):
                    break
                left = end - time.monotonic()
                if left <= 0:
                    break
                if fenced is None and lock.lost.is_set():
                    out.emit("stopped-work", "lock lost: stopped working", state="lost")
                    break
                # with --fence we keep writing, like a holder that has not noticed: the fence refuses it
                ctx.sleep(min(left, a.work_interval if fenced is not None else 0.1))
        finally:
            lock.close()
        if a.pause_between:
            ctx.sleep(a.pause_between)


def _fenced_write(ctx: Context, fenced: FencedResource, token: int, cycle: int) -> bool:
    value = f"{ctx.id} cycle {cycle} at {time.time():.3f}"
    deadline = time.monotonic() + 30
    while True:
        try:
            record = fenced.write(token, value, ctx.id)
            ctx.out.emit("fenced-write", f"wrote {fenced.path} with token {token}", path=fenced.path, token=token,
                         accepted=True, version=record["version"])
            return True
        except StaleTokenError as exc:
            ctx.out.emit("fenced-write", f"{exc}: I no longer hold the lock", state="lost", path=fenced.path,
                         token=token, accepted=False)
            return False
        except (ConnectionLoss, SessionExpiredError, OperationTimeoutError):
            if time.monotonic() > deadline or not wait_connected(ctx.client, 10):
                raise


def role_election(ctx: Context) -> None:
    a = ctx.args
    latch = LeaderLatch(ctx.client, a.path, ctx.id, narrate=ctx.out.step).start()
    try:
        while True:
            if a.lead_for and latch.wait_for_leadership(0.2):
                ctx.sleep(a.lead_for)
                ctx.out.emit("relinquishing", f"led for {a.lead_for:g}s; stepping down", state="follower")
                latch.relinquish()
                ctx.sleep(0.2)
            else:
                ctx.sleep(0.5)
    finally:
        latch.close()


def role_queue_producer(ctx: Context) -> None:
    a = ctx.args
    q = JobQueue(ctx.client, a.path, narrate=ctx.out.step)
    n = 0
    while a.count == 0 or n < a.count:
        n += 1
        q.put(a.data.format(n=n, actor=ctx.id))
        if a.interval:
            ctx.sleep(a.interval)
    ctx.out.emit("finished", f"added {n} job(s)", state="done", count=n)


def role_queue_worker(ctx: Context) -> None:
    a = ctx.args
    q = JobQueue(ctx.client, a.path, mode=a.mode, worker=ctx.id, narrate=ctx.out.step)
    ctx.out.emit("mode", f"taking jobs from {a.path} in {q.mode.value} mode: {GUARANTEES[q.mode]}",
                 state="waiting", mode=q.mode.value)
    done = 0
    while a.max_jobs == 0 or done < a.max_jobs:
        try:
            job = q.take(timeout=1.0)
        except LockLostError as exc:
            ctx.out.emit("retrying", f"{exc}; trying again", state="waiting")
            wait_connected(ctx.client, 30)
            continue
        if job is None:
            continue
        try:
            ctx.sleep(a.work)
        except Stop:
            if q.mode is not TakeMode.DELETE:
                q.abandon(job)
            raise
        q.done(job)
        done += 1


def role_service(ctx: Context) -> None:
    a = ctx.args
    reg = ServiceRegistry(ctx.client, a.name, a.address, base=a.base, narrate=ctx.out.step)
    reg.register()
    try:
        ctx.idle()
    finally:
        reg.unregister()


def role_discovery(ctx: Context) -> None:
    a = ctx.args
    watcher = ServiceWatcher(ctx.client, a.name, base=a.base, narrate=ctx.out.step).start()
    try:
        ctx.idle()
    finally:
        watcher.close()


def role_barrier(ctx: Context) -> None:
    a = ctx.args
    if a.members:
        b = DoubleBarrier(ctx.client, a.path, a.members, ctx.id, narrate=ctx.out.step)
        if not b.enter(a.timeout):
            return
        ctx.out.emit("working", f"working for {a.work:g}s", state="working")
        ctx.sleep(a.work)
        b.leave(a.timeout)
        return
    barrier = Barrier(ctx.client, a.path, narrate=ctx.out.step)
    if a.action == "raise":
        barrier.create()
    elif a.action == "lift":
        barrier.remove()
    else:
        barrier.wait(a.timeout)


def role_config_app(ctx: Context) -> None:
    watcher = ConfigWatcher(ctx.client, ctx.args.path, narrate=ctx.out.step).start()
    try:
        ctx.idle()
    finally:
        watcher.close()


def role_config_set(ctx: Context) -> None:
    a = ctx.args
    if a.delete:
        gone = delete_config(ctx.client, a.path)
        ctx.out.emit("deleted", f"deleted {a.path}" if gone else f"{a.path} did not exist", path=a.path)
        return
    try:
        value: Any = json.loads(a.value)
    except ValueError:
        value = a.value
    version = set_config(ctx.client, a.path, value)
    ctx.out.emit("set", f"set {a.path} = {json.dumps(value)} (version {version})", path=a.path, version=version)


def role_master(ctx: Context) -> None:
    stop = threading.Event()
    master = Master(ctx.client, ctx.args.root, ctx.id, narrate=ctx.out.step)
    ctx.run_until_signalled(master.run, stop, "master")


def role_worker(ctx: Context) -> None:
    stop = threading.Event()
    work = ctx.args.work
    worker = Worker(ctx.client, ctx.args.root, ctx.id, process=lambda _d: stop.wait(work), narrate=ctx.out.step)
    ctx.run_until_signalled(worker.run, stop, "worker")


def role_task_submit(ctx: Context) -> None:
    a = ctx.args
    for n in range(1, a.count + 1):
        name = submit_task(ctx.client, a.root, a.data.format(n=n, actor=ctx.id))
        ctx.out.emit("submitted", f"submitted {a.root.rstrip('/')}/jobs/{name}", path=f"{a.root}/jobs/{name}",
                     task=name)


Role = Callable[[Context], None]
ROLES: dict[str, tuple[Role, str]] = {
    "lock": (role_lock, "contend for a lock, hold it, release it (course project 3)"),
    "election": (role_election, "a leader-election candidate (course project 6)"),
    "queue-producer": (role_queue_producer, "add jobs to a queue (course project 5)"),
    "queue-worker": (role_queue_worker, "take jobs from a queue (course project 5)"),
    "service": (role_service, "register a service instance (course project 4)"),
    "discovery": (role_discovery, "keep a live list of a service's instances (course project 4)"),
    "barrier": (role_barrier, "wait at a barrier, or enter/leave a double barrier"),
    "config-app": (role_config_app, "read and watch a JSON config znode (course project 2)"),
    "config-set": (role_config_set, "update (or delete) the config znode"),
    "master": (role_master, "a master candidate of master-worker (course project 10)"),
    "worker": (role_worker, "a worker of master-worker (course project 10)"),
    "task-submit": (role_task_submit, "submit tasks to master-worker"),
}


def _add_role_options(role: str, p: argparse.ArgumentParser) -> None:
    dur = parse_duration
    if role == "lock":
        p.add_argument("--path", default="/locks/db", help="lock znode (default /locks/db)")
        p.add_argument("--hold", type=dur, default=10.0, help="how long to hold it (default 10s)")
        p.add_argument("--repeat", type=int, default=1, help="acquire/release cycles, 0 = forever (default 1)")
        p.add_argument("--pause-between", type=dur, default=0.0, help="wait between cycles")
        p.add_argument("--timeout", type=dur, default=None, help="give up waiting after this long")
        p.add_argument("--fence", metavar="ZNODE",
                       help="while holding, write to this fenced znode with the fencing token; the writes go on "
                            "after a lost session, as a holder that has not noticed would, and the fence refuses them")
        p.add_argument("--work-interval", type=dur, default=0.5, help="time between fenced writes (default 0.5s)")
    elif role == "election":
        p.add_argument("--path", default="/election", help="election znode (default /election)")
        p.add_argument("--lead-for", type=dur, default=0.0, help="relinquish after leading this long (0: never)")
    elif role in ("queue-producer", "queue-worker"):
        p.add_argument("--path", default="/queue", help="queue znode (default /queue)")
        if role == "queue-producer":
            p.add_argument("--count", type=int, default=10, help="jobs to add, 0 = forever (default 10)")
            p.add_argument("--interval", type=dur, default=0.5, help="time between jobs (default 0.5s)")
            p.add_argument("--data", default="job {n} from {actor}", help="job data ({n}, {actor} substituted)")
        else:
            p.add_argument("--mode", choices=[m.value for m in TakeMode], default="locked",
                           help="locked (course), delete (at-most-once), claim (at-least-once, recovers)")
            p.add_argument("--work", type=dur, default=1.0, help="time to process one job (default 1s)")
            p.add_argument("--max-jobs", type=int, default=0, help="stop after this many, 0 = never")
    elif role in ("service", "discovery"):
        p.add_argument("--name", default="payment", help="service name (default payment)")
        p.add_argument("--base", default="/services", help="registry root (default /services)")
        if role == "service":
            p.add_argument("--address", default="127.0.0.1:8080", help="host:port to register")
    elif role == "barrier":
        p.add_argument("--path", default="/barrier", help="barrier znode (default /barrier)")
        p.add_argument("--members", type=int, default=0, help="double barrier of N members (0: simple barrier)")
        p.add_argument("--action", choices=["wait", "raise", "lift"], default="wait",
                       help="simple barrier: wait for it, raise it, or lift it")
        p.add_argument("--work", type=dur, default=1.0, help="double barrier: work between enter and leave")
        p.add_argument("--timeout", type=dur, default=None, help="give up after this long")
    elif role in ("config-app", "config-set"):
        p.add_argument("--path", default="/app/config", help="config znode (default /app/config)")
        if role == "config-set":
            p.add_argument("--value", default='{"log_level": "INFO"}', help="JSON value to store")
            p.add_argument("--delete", action="store_true", help="delete the config znode instead")
    elif role in ("master", "worker", "task-submit"):
        p.add_argument("--root", default="/mw", help="master-worker root (default /mw)")
        if role == "worker":
            p.add_argument("--work", type=dur, default=1.0, help="time to process one task (default 1s)")
        if role == "task-submit":
            p.add_argument("--count", type=int, default=5, help="tasks to submit (default 5)")
            p.add_argument("--data", default="task {n}", help="task data ({n} substituted)")


def add_role_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """One sub-parser per role, each with the shared actor options and ``func=run_actor``."""
    for role, (_fn, help_text) in ROLES.items():
        p = sub.add_parser(role, parents=parents, help=help_text, description=help_text)
        p.add_argument("--id", default=None, help="actor id shown in narration (default: ROLE-PID)")
        p.add_argument("--json", action="store_true", help="print raw JSON-lines events instead of narration")
        _add_role_options(role, p)
        p.set_defaults(func=run_actor, role=role)


# -- process plumbing ------------------------------------------------------------------------------------------
def _die_with_parent_if_asked() -> None:
    """Supervised actors die with their supervisor (Linux parent-death signal), even if it is SIGKILLed."""
    if os.environ.get("ZKBENCH_ACTOR_PDEATHSIG") != "1":
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError as exc:
        log.warning("no parent-death signal: %s", exc)
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        os._exit(1)


def run_actor(args: argparse.Namespace) -> int:
    _die_with_parent_if_asked()
    role = args.role
    args.id = args.id or f"{role}-{os.getpid()}"
    out = Emitter(args.id, role, args.json)
    stopping = threading.Event()
    try:
        settings = load_settings(args)
        hosts = settings.hosts or DEFAULT_HOSTS  # actors share one ensemble: never a private server
        conn = settings.connection_settings(hosts)
        if os.environ.get("ZKBENCH_CONNECT_TIMEOUT"):
            conn = replace(conn, connect_timeout=float(os.environ["ZKBENCH_CONNECT_TIMEOUT"]))
    except (ZkBenchError, ValueError) as exc:
        out.emit("error", explain(exc), state="stopped")
        return 2

    def on_term(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            out.emit("stopping", f"{signal.Signals(signum).name}: stopping gracefully", state="stopped")
            raise Stop(signal.Signals(signum).name)

    def on_cont(_signum: int, _frame: Any) -> None:  # emit from a thread: the handler may interrupt a write
        threading.Thread(target=out.emit, args=("resumed", "resumed after a pause (SIGCONT)"),
                         daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGCONT, on_cont)
    client: KazooClient | None = None
    listeners: list[Callable[[str], Any]] = []
    try:
        client = connect(conn)
        out.client = client
        out.emit("started", f"{role} actor {args.id} connected to {hosts}, session {out.session()}",
                 state="idle", pid=os.getpid(), hosts=hosts, session_timeout=conn.session_timeout)

        def on_state(state: str) -> None:
            if state == KazooState.SUSPENDED:
                out.emit("connection", "connection suspended: server unreachable, session may still be alive",
                         state="suspended")
            elif state == KazooState.LOST:
                out.emit("connection", "session expired: all my ephemeral znodes are gone", state="lost")
            else:
                out.emit("connection", f"connected, session {out.session()}", connection="connected")

        client.add_listener(on_state)
        listeners.append(on_state)
        ROLES[role][0](Context(args, client, out))
        out.emit("finished", f"{role} actor finished", state="done")
        return 0
    except Stop:
        return 0
    except ConnectError as exc:
        out.emit("error", str(exc), state="stopped")
        return 2
    except (KazooException, ZkBenchError, ValueError, OSError) as exc:
        log.debug("actor failed", exc_info=True)
        out.emit("error", explain(exc), state="stopped", error=type(exc).__name__)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if client is not None:
            for listener in listeners:  # our own close is not a session loss to narrate
                client.remove_listener(listener)
            try:
                client.stop()
                client.close()
            except KazooException as exc:
                log.debug("close failed: %s", exc)
            out.emit("stopped", "session closed", state="stopped")


def main(argv: list[str] | None = None) -> int:
    from zkbench.cli import add_connection_options

    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common)
    parser = argparse.ArgumentParser(prog="python -m zkbench.actors",
                                     description="Run one zkbench actor (one role of one recipe).")
    sub = parser.add_subparsers(dest="role_name", metavar="ROLE", required=True)
    add_role_parsers(sub, [common])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    return run_actor(args)
