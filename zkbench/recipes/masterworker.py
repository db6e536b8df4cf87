"""Master-worker (course project 10): masters elect one active master; workers register ephemeral znodes; the
master assigns submitted tasks to workers and gives back the tasks of workers that died.

Layout under ``root`` (default ``/mw``)::

    masters/node-…           election (LeaderLatch)
    workers/<worker>         ephemeral: the worker is alive
    jobs/task-…              submitted, not yet assigned
    tasks/<worker>/task-…    assigned to <worker>
    done/task-…              finished (data: JSON with the worker's name)

Every write of the master is a ``multi`` that starts with a ``check`` of its own election node, so a deposed
master (paused past its session timeout, say) cannot assign anything: the check fails with NoNode. A worker
finishes a task with a ``multi`` that creates ``done/<task>`` and deletes its assignment, so a task that was
reassigned while a stale worker was still busy is recorded as done exactly once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, NodeExistsError, NoNodeError, OperationTimeoutError, SessionExpiredError

from zkbench.recipes._common import RecipeError, join, sort_by_sequence
from zkbench.recipes.election import LeaderLatch
from zkbench.recipes.narration import Narrated, Narrator, RecipeState

__all__ = ["submit_task", "Master", "Worker", "NotMasterError", "layout"]

log = logging.getLogger(__name__)


class NotMasterError(RecipeError):
    """The master's guarded write failed: its election node is gone, so it is no longer the master."""


def layout(root: str) -> dict[str, str]:
    root = root.rstrip("/")
    return {k: f"{root}/{k}" for k in ("masters", "workers", "jobs", "tasks", "done")}


def submit_task(client: KazooClient, root: str, data: bytes | str) -> str:
    """Submit a task (persistent-sequential ``jobs/task-…``); returns its name."""
    payload = data.encode() if isinstance(data, str) else data
    path = client.create(join(layout(root)["jobs"], "task-"), payload, sequence=True, makepath=True)
    return path.rsplit("/", 1)[-1]


def _failed(results: list[object]) -> list[Exception]:
    return [r for r in results if isinstance(r, Exception)]


class Master(Narrated):
    """A master candidate. ``run(stop)`` blocks: it campaigns, and while it leads it assigns and reassigns."""

    recipe_name = "master"

    def __init__(self, client: KazooClient, root: str = "/mw", identifier: str = "master", *,
                 narrate: Narrator | None = None) -> None:
        self.client = client
        self.paths = layout(root)
        self.identifier = identifier
        self._narrate = narrate
        self._wake = threading.Event()
        self._known_workers: list[str] | None = None
        self.latch = LeaderLatch(client, self.paths["masters"], identifier, narrate=narrate,
                                 on_elected=lambda _epoch: self._wake.set(),
                                 on_revoked=self._on_revoked)

    def _on_revoked(self) -> None:
        self._known_workers = None  # narrate the pool again when we lead again
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """Campaign; while leading, reconcile once on election and then only when a watch (or reconnect) fires."""
        for p in self.paths.values():
            self.client.ensure_path(p)
        self.client.add_listener(self._on_connection_state)
        self.latch.start()
        pending = False
        try:
            while not stop.is_set():
                if self._wake.wait(0.5):
                    self._wake.clear()
                    pending = True
                if not pending or not self.latch.is_leader():
                    continue
                try:
                    self.reconcile()
                    pending = False
                except NotMasterError as exc:
                    self._say("deposed", str(exc), state=RecipeState.FOLLOWER)
                    pending = False
                except (ConnectionLoss, SessionExpiredError, OperationTimeoutError) as exc:
                    log.info("master reconcile interrupted: %s; retrying", exc)
                    stop.wait(0.2)
        finally:
            self.client.remove_listener(self._on_connection_state)
            self.latch.close()

    def _on_connection_state(self, state: str) -> None:  # kazoo resets watches on reconnect: look again
        if state == KazooState.CONNECTED:
            self._wake.set()

    def _guarded(self) -> "object":
        node = self.latch.node
        if node is None or not self.latch.is_leader():
            raise NotMasterError("not the master any more: no election node")
        tx = self.client.transaction()
        tx.check(node, -1)
        return tx

    def _commit(self, tx: object, what: str) -> None:
        results = tx.commit()  # type: ignore[attr-defined]
        failed = _failed(results)
        if failed:
            if isinstance(results[0], NoNodeError):
                raise NotMasterError(f"write refused ({what}): my election node is gone, I am not the master")
            raise RecipeError(f"{what} failed: {type(failed[0]).__name__}")

    def reconcile(self) -> None:
        """One pass: reassign the tasks of dead workers, then assign pending jobs to the least-loaded worker."""
        wake = lambda _e: self._wake.set()  # noqa: E731
        workers = sorted(self.client.get_children(self.paths["workers"], watch=wake))
        if workers != self._known_workers:
            self._known_workers = workers
            self._say("workers", f"workers: {workers}", path=self.paths["workers"], state=RecipeState.LEADER,
                      watching=self.paths["workers"], workers=workers)
        for owner in sorted(self.client.get_children(self.paths["tasks"])):
            if owner in workers:
                continue
            owner_dir = join(self.paths["tasks"], owner)
            for task in sort_by_sequence(self.client.get_children(owner_dir), "task-"):
                try:
                    data, _ = self.client.get(join(owner_dir, task))
                except NoNodeError:
                    continue
                tx = self._guarded()
                tx.create(join(self.paths["jobs"], task), data)  # type: ignore[attr-defined]
                tx.delete(join(owner_dir, task))  # type: ignore[attr-defined]
                try:
                    self._commit(tx, f"reassign {task}")
                except NotMasterError:
                    raise
                except RecipeError as exc:
                    log.info("%s", exc)
                    continue
                self._say("reassigned", f"worker {owner} is gone: {task} back to {self.paths['jobs']}",
                          path=join(owner_dir, task), task=task, worker=owner)
            tx = self._guarded()
            tx.delete(owner_dir)  # type: ignore[attr-defined]
            try:
                self._commit(tx, f"remove {owner_dir}")
            except NotMasterError:
                raise
            except RecipeError as exc:
                log.info("%s", exc)
        jobs = sort_by_sequence(self.client.get_children(self.paths["jobs"], watch=wake), "task-")
        if not jobs:
            return
        if not workers:
            self._say("no-workers", f"{len(jobs)} task(s) waiting; no worker registered", path=self.paths["jobs"])
            return
        load = {}
        for w in workers:
            self.client.ensure_path(join(self.paths["tasks"], w))
            load[w] = len(self.client.get_children(join(self.paths["tasks"], w)))
        for task in jobs:
            worker = min(workers, key=lambda w: (load[w], w))
            try:
                data, _ = self.client.get(join(self.paths["jobs"], task))
            except NoNodeError:
                continue
            tx = self._guarded()
            target = join(join(self.paths["tasks"], worker), task)
            tx.create(target, data)  # type: ignore[attr-defined]
            tx.delete(join(self.paths["jobs"], task))  # type: ignore[attr-defined]
            try:
                self._commit(tx, f"assign {task}")
            except NotMasterError:
                raise
            except RecipeError as exc:
                log.info("%s", exc)
                continue
            load[worker] += 1
            self._say("assigned", f"assigned {task} to {worker} ({target})", path=target, task=task, worker=worker)


class Worker(Narrated):
    """A worker: registers ``workers/<id>`` (ephemeral) and processes ``tasks/<id>/…`` in order."""

    recipe_name = "worker"

    def __init__(self, client: KazooClient, root: str = "/mw", identifier: str = "worker", *,
                 process: Callable[[bytes], None] | None = None, narrate: Narrator | None = None) -> None:
        self.client = client
        self.paths = layout(root)
        self.identifier = identifier
        self.process = process or (lambda _data: None)
        self._narrate = narrate
        self.node = join(self.paths["workers"], identifier)
        self.mine = join(self.paths["tasks"], identifier)
        self._wake = threading.Event()

    def register(self) -> None:
        if self.client.exists(self.node) is not None:
            return
        try:
            self.client.create(self.node, self.identifier.encode(), ephemeral=True, makepath=True)
        except NodeExistsError:
            # left by our previous session that has not expired yet: wait for it to go, then register
            raise RecipeError(f"{self.node} still exists (an older session of {self.identifier}?)") from None
        self._say("registered", f"registered {self.node}", path=self.node, state=RecipeState.REGISTERED)

    def run(self, stop: threading.Event) -> None:
        """Register and process assigned tasks; list them again only when the child watch or a reconnect fires."""
        for p in self.paths.values():
            self.client.ensure_path(p)
        self.client.add_listener(self._on_connection_state)
        look = True
        idle_said = False
        try:
            while not stop.is_set():
                if not look:
                    if not self._wake.wait(0.5):
                        continue
                self._wake.clear()
                look = False
                try:
                    self.register()
                    self.client.ensure_path(self.mine)
                    tasks = sort_by_sequence(
                        self.client.get_children(self.mine, watch=lambda _e: self._wake.set()), "task-")
                    if not tasks:
                        if not idle_said:
                            self._say("idle", f"no tasks under {self.mine}; waiting", path=self.mine,
                                      state=RecipeState.WAITING, watching=self.mine)
                            idle_said = True
                        continue
                    idle_said = False
                    for task in tasks:
                        if stop.is_set():
                            return
                        self._do(task)
                    look = True  # more may have arrived while we worked
                except RecipeError as exc:
                    self._say("error", str(exc), path=self.node)
                    look = True
                    stop.wait(0.5)
                except (ConnectionLoss, SessionExpiredError, OperationTimeoutError) as exc:
                    log.info("worker loop interrupted: %s", exc)
                    look = True
                    stop.wait(0.2)
        finally:
            self.client.remove_listener(self._on_connection_state)

    def _on_connection_state(self, state: str) -> None:  # re-register / re-list after a reconnect
        if state == KazooState.CONNECTED:
            self._wake.set()

    def _do(self, task: str) -> None:
        path = join(self.mine, task)
        try:
            data, _ = self.client.get(path)
        except NoNodeError:
            return
        self._say("working", f"working on {task}: {data.decode('utf-8', 'replace')!r}", path=path,
                  state=RecipeState.WORKING, task=task)
        self.process(data)
        tx = self.client.transaction()
        tx.create(join(self.paths["done"], task), json.dumps({"worker": self.identifier, "time": time.time()}).encode())
        tx.delete(path)
        failed = _failed(tx.commit())
        if failed:
            self._say("dropped", f"{task} was reassigned while I worked; dropping my result", path=path,
                      state=RecipeState.IDLE, task=task)
            return
        self._say("task-done", f"done {task}, recorded {join(self.paths['done'], task)}", path=path,
                  state=RecipeState.IDLE, task=task)
