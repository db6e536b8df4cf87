"""A job queue (course project 5): producers add persistent-sequential ``job-`` znodes; workers take the lowest.

Three ways to take a job, with different guarantees (:class:`TakeMode`):

- ``LOCKED`` (the course's version): a :class:`~zkbench.recipes.lock.Lock` around take-process-delete. Workers
  run one at a time; a worker that dies mid-job releases the lock with its session and the job is still there:
  **at-least-once** (a job can run twice if the worker dies after processing but before the delete).
- ``DELETE`` (lock-free): a worker claims a job by deleting it; whoever's delete succeeds owns it. Never
  duplicated, but a worker that dies after the delete loses the job: **at-most-once**.
- ``CLAIM`` (safe): a worker creates an *ephemeral* claim ``<claims>/job-N``, processes, then deletes job and
  claim in one ``multi``. A dead worker's claim vanishes with its session and the job is taken again:
  **at-least-once with recovery**, no lost jobs, duplicates only after a worker death.

Workers wait for jobs with a child watch, never by polling.
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from dataclasses import dataclass

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, NodeExistsError, NoNodeError, OperationTimeoutError

from zkbench.recipes._common import RecipeError, delete_quietly, join, retry_on_loss, sort_by_sequence, wait_connected
from zkbench.recipes.lock import Lock
from zkbench.recipes.narration import Narrated, Narrator, RecipeState

__all__ = ["TakeMode", "Job", "JobQueue", "GUARANTEES"]

log = logging.getLogger(__name__)


class TakeMode(str, enum.Enum):
    LOCKED = "locked"
    DELETE = "delete"
    CLAIM = "claim"


GUARANTEES = {
    TakeMode.LOCKED: "at-least-once (serialised by a lock; a job reruns if its worker dies before deleting it)",
    TakeMode.DELETE: "at-most-once (claim by deleting; a job is lost if its worker dies while processing)",
    TakeMode.CLAIM: "at-least-once with recovery (ephemeral claim; a dead worker's job is taken again)",
}


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    path: str
    data: bytes
    czxid: int

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class JobQueue(Narrated):
    """``put(data)`` for producers; ``take(timeout)`` + ``done(job)`` (or ``abandon(job)``) for workers."""

    recipe_name = "queue"
    marker = "job-"

    def __init__(self, client: KazooClient, path: str = "/queue", *, mode: TakeMode | str = TakeMode.CLAIM,
                 worker: str = "", lock_path: str | None = None, claims_path: str | None = None,
                 narrate: Narrator | None = None) -> None:
        self.client = client
        self.path = path.rstrip("/")
        self.mode = TakeMode(mode)
        self.worker = worker
        self.lock_path = lock_path or self.path + "-lock"
        self.claims_path = claims_path or self.path + "-claims"
        self._narrate = narrate
        self._lock: Lock | None = None

    # -- producer ---------------------------------------------------------------------------------------------
    def put(self, data: bytes | str) -> str:
        payload = data.encode() if isinstance(data, str) else data
        path = self.client.create(join(self.path, self.marker), payload, sequence=True, makepath=True)
        self._say("added", f"added job {path}", path=path, job=path.rsplit("/", 1)[-1],
                  data=payload.decode("utf-8", "replace"))
        return path

    def jobs(self) -> list[str]:
        try:
            return sort_by_sequence(self.client.get_children(self.path), self.marker)
        except NoNodeError:
            return []

    # -- worker -----------------------------------------------------------------------------------------------
    def take(self, timeout: float | None = None) -> Job | None:
        """The lowest available job, waiting (on a watch) up to ``timeout``; None if none came."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self.client.ensure_path(self.path)
        if self.mode is TakeMode.CLAIM:
            self.client.ensure_path(self.claims_path)
        while True:
            wake = threading.Event()
            names = sort_by_sequence(
                retry_on_loss(self.client, lambda: self.client.get_children(self.path, watch=lambda _e: wake.set()),
                              deadline), self.marker)
            try:
                job = self._try_take(names, wake) if names else None
            except (ConnectionLoss, OperationTimeoutError):
                wait_connected(self.client, 30)
                continue  # our claim may or may not exist: listing again sorts it out (it is ephemeral)
            if job is not None:
                return job
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            self._say("idle", f"no job available in {self.path}; waiting for a watch to fire", path=self.path,
                      state=RecipeState.WAITING, watching=self.path)
            if not wake.wait(remaining):
                return None

    def _try_take(self, names: list[str], wake: threading.Event) -> Job | None:
        if self.mode is TakeMode.LOCKED:
            return self._take_locked()
        if self.mode is TakeMode.DELETE:
            for name in names:
                path = join(self.path, name)
                try:
                    data, stat = self.client.get(path)
                    self.client.delete(path)
                except NoNodeError:
                    continue  # another worker took it first
                job = Job(name, path, data, stat.czxid)
                self._say("took", f"taking {name}: {json.dumps(job.text)} (deleted it to claim it)", path=path,
                          state=RecipeState.WORKING, watching=None, job=name, data=job.text)
                return job
            return None
        # CLAIM: an ephemeral claim per job; a change in the claims (a worker died) also wakes us
        claims = set(self.client.get_children(self.claims_path, watch=lambda _e: wake.set()))
        for name in names:
            if name in claims:
                continue
            path = join(self.path, name)
            claim = join(self.claims_path, name)
            try:
                self.client.create(claim, self.worker.encode(), ephemeral=True)
            except NodeExistsError:
                continue
            try:
                data, stat = self.client.get(path)
            except NoNodeError:  # finished by someone between our listing and our claim
                delete_quietly(self.client, claim)
                continue
            job = Job(name, path, data, stat.czxid)
            self._say("took", f"claimed {name} with ephemeral {claim}: {json.dumps(job.text)}", path=path,
                      state=RecipeState.WORKING, watching=None, job=name, data=job.text)
            return job
        return None

    def _take_locked(self) -> Job | None:
        self._say("trying-lock", f"worker {self.worker} trying lock {self.lock_path}".replace("  ", " "),
                  path=self.lock_path, state=RecipeState.WAITING)
        lock = Lock(self.client, self.lock_path, self.worker, narrate=self._narrate)
        lock.acquire()
        for name in self.jobs():
            path = join(self.path, name)
            try:
                data, stat = self.client.get(path)
            except NoNodeError:
                continue
            self._lock = lock
            job = Job(name, path, data, stat.czxid)
            self._say("took", f"taking {name}: {json.dumps(job.text)}", path=path, state=RecipeState.WORKING, job=name,
                      data=job.text)
            return job
        lock.close()
        return None

    def done(self, job: Job) -> None:
        """The job is processed: remove it for good (and release what guarded it)."""
        if self.mode is TakeMode.DELETE:
            self._say("done", f"done with {job.name}", path=job.path, state=RecipeState.IDLE, job=job.name)
            return
        if self.mode is TakeMode.LOCKED:
            delete_quietly(self.client, job.path)
            self._say("done", f"done, deleted {job.name}", path=job.path, state=RecipeState.IDLE, job=job.name)
            if self._lock is not None:
                self._lock.close()
                self._lock = None
            return
        tx = self.client.transaction()
        tx.delete(job.path)
        tx.delete(join(self.claims_path, job.name))
        results = tx.commit()
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise RecipeError(f"could not finish {job.name}: {type(failed[0]).__name__} "
                              "(our claim was lost: another worker will redo it)")
        self._say("done", f"done, deleted {job.name} and its claim", path=job.path, state=RecipeState.IDLE,
                  job=job.name)

    def abandon(self, job: Job) -> None:
        """Give the job back untouched (not possible in DELETE mode: it is already gone)."""
        if self.mode is TakeMode.CLAIM:
            delete_quietly(self.client, join(self.claims_path, job.name))
        elif self.mode is TakeMode.LOCKED and self._lock is not None:
            self._lock.close()
            self._lock = None
        elif self.mode is TakeMode.DELETE:
            self.put(job.data)
        self._say("abandoned", f"gave back {job.name}", path=job.path, state=RecipeState.IDLE, job=job.name)
