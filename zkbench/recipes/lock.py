"""A distributed lock (course project 3/8): ephemeral-sequential nodes, each waiter watching only its predecessor.

``with Lock(client, "/locks/db"):`` hides the znodes; every step is narrated. The holder gets a fencing token
(its lock node's czxid, which only grows) to put on writes, and :class:`FencedResource` shows why: a holder that
was paused past its session timeout still believes it holds the lock, but its stale token is refused.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.protocol.states import EventType
from kazoo.exceptions import (BadVersionError, ConnectionLoss, NodeExistsError, NoNodeError,
                              OperationTimeoutError, SessionExpiredError)

from zkbench.recipes._common import (RecipeError, create_protected, delete_quietly, display_name, join,
                                     new_guid, retry_on_loss, session_id, sort_by_sequence)
from zkbench.recipes.narration import Narrated, Narrator, RecipeState, short

__all__ = ["Lock", "LockLostError", "FencedResource", "StaleTokenError"]

log = logging.getLogger(__name__)


class LockLostError(RecipeError):
    """The session ended (or the lock node vanished) while waiting for or holding the lock."""


class StaleTokenError(RecipeError):
    """A fenced write carried a token older than one the resource has already accepted."""


class Lock(Narrated):
    """Mutual exclusion among processes. Not re-entrant; one :class:`Lock` object per contender.

    ``is_held`` turns False as soon as the connection is SUSPENDED (the holder can no longer be sure) and
    for good when the session is LOST; ``lost`` is set then, so a worker can stop. Waiters that give up delete
    their node, so no orphan blocks the queue.
    """

    recipe_name = "lock"
    marker = "lock-"

    def __init__(self, client: KazooClient, path: str, identifier: str = "", *, protected: bool = True,
                 narrate: Narrator | None = None) -> None:
        self.client = client
        self.path = path.rstrip("/") or "/"
        self.identifier = identifier
        self._narrate = narrate
        self._guid = new_guid() if protected else None
        self.node: str | None = None
        self.token: int | None = None
        self.session_id = 0
        self.lost = threading.Event()
        self._held = False
        self._suspended = False
        self._wake = threading.Event()
        self._wake_event: Any = None
        self._mutex = threading.Lock()

    # -- public API -------------------------------------------------------------------------------------------
    @property
    def is_held(self) -> bool:
        """True only while we hold the lock and the connection is known good."""
        return self._held and not self._suspended and not self.lost.is_set()

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Wait for the lock; False when ``timeout`` passes (or at once when not ``blocking``) and it is not ours."""
        if not self._mutex.acquire(blocking=False):
            raise RecipeError(f"this Lock object is already acquiring or holding {self.path}")
        try:
            ok = self._acquire(blocking, timeout)
        except BaseException:
            self._mutex.release()
            raise
        if not ok:
            self._mutex.release()
        return ok

    def release(self) -> None:
        """Delete our lock node: the next waiter (only it) is woken."""
        node, was_held = self.node, self._held
        self._held = False
        self.node = None
        self.token = None
        if node is not None:
            before = time.time()
            deleted = delete_quietly(self.client, node)
            if was_held:
                self._say("released", f"released (deleted {short(node)})" if deleted
                          else f"released ({short(node)} was already gone)", path=node, state=RecipeState.IDLE,
                          watching=None, at=before)
        self.client.remove_listener(self._on_connection_state)
        if self._mutex.locked():
            self._mutex.release()

    def close(self) -> None:
        """Release if held (kept for symmetry with the other recipes)."""
        self.release()

    def contenders(self) -> list[str]:
        """Identifiers of everybody holding or waiting, holder first."""
        out = []
        for name in self._children():
            try:
                data, _ = self.client.get(join(self.path, name))
            except NoNodeError:
                continue
            out.append(data.decode("utf-8", "replace") or display_name(name))
        return out

    def __enter__(self) -> "Lock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- the recipe -------------------------------------------------------------------------------------------
    def _children(self) -> list[str]:
        return sort_by_sequence(self.client.get_children(self.path), self.marker)

    def _acquire(self, blocking: bool, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        self.lost.clear()
        self._suspended = False
        self.client.add_listener(self._on_connection_state)  # removed again by release()
        node, stat = create_protected(self.client, self.path, self.marker, self.identifier.encode(), self._guid,
                                      deadline=deadline)
        self.node, self.session_id = node, stat.ephemeralOwner
        name = short(node)
        self._say("created", f"created lock node {node}", path=node, state=RecipeState.WAITING, watching=None,
                  node=node, session=f"0x{stat.ephemeralOwner:x}")
        try:
            while True:
                self._wake.clear()
                self._wake_event = None
                children = retry_on_loss(self.client, self._children, deadline)
                if name not in children:
                    raise LockLostError(f"lock node {node} vanished while waiting: the session expired")
                index = children.index(name)
                if index == 0:
                    self._held = True
                    self.token = stat.czxid
                    self._say("acquired", f"acquired lock {display_name(name)} (fencing token {stat.czxid})",
                              path=node, state=RecipeState.HOLDING, watching=None, token=stat.czxid, node=node)
                    return True
                if not blocking:
                    self._give_up(node, "the lock is taken and blocking=False")
                    return False
                holder, pred = children[0], children[index - 1]
                pred_path = join(self.path, pred)
                if retry_on_loss(self.client, lambda: self.client.exists(pred_path, watch=self._on_pred), deadline) is None:
                    self._say("rechecking", f"{display_name(pred)} already gone, re-checking", path=node)
                    continue
                if index == 1:
                    msg = f"lock held by {display_name(holder)}, watching it"
                else:
                    msg = (f"lock held by {display_name(holder)}; {index} ahead of me, "
                           f"watching only {display_name(pred)}")
                self._say("waiting", msg, path=node, state=RecipeState.WAITING, watching=pred_path,
                          holder=join(self.path, holder), ahead=index)
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not self._wake.wait(remaining):
                    self._give_up(node, f"timed out after {timeout:g}s")
                    return False
                if self.lost.is_set():
                    raise LockLostError(f"session lost while waiting for {self.path}")
                if getattr(self._wake_event, "type", None) == EventType.DELETED:
                    self._say("woken", f"{display_name(pred)} deleted, re-checking", path=node, watching=None)
                else:  # kazoo fires every watch with a NONE event when the connection drops: watch again
                    self._say("rewatch", f"connection interrupted; re-checking and watching {display_name(pred)} "
                              "again", path=node, watching=None)
        except SessionExpiredError:
            self._held = False
            self.node = None
            self.client.remove_listener(self._on_connection_state)
            raise LockLostError(f"session expired while waiting for {self.path}: the lock node is gone") from None
        except BaseException:
            self._held = False
            if self.node is not None:
                delete_quietly(self.client, self.node)
                self.node = None
            self.client.remove_listener(self._on_connection_state)
            raise

    def _give_up(self, node: str, why: str) -> None:
        delete_quietly(self.client, node)
        self.node = None
        self.client.remove_listener(self._on_connection_state)
        self._say("gave-up", f"gave up ({why}); deleted {short(node)}", path=node, state=RecipeState.IDLE,
                  watching=None)

    def _on_pred(self, event: Any) -> None:  # kazoo's callback thread
        self._wake_event = event
        self._wake.set()

    def _on_connection_state(self, state: str) -> None:  # kazoo's connection thread: narrate, never block
        if self.node is None:
            return
        if state == KazooState.SUSPENDED:
            self._suspended = True
            if self._held:
                self._say("suspended", "connection suspended: the lock may be lost, stop writing until the "
                          "session is confirmed", path=self.node, state=RecipeState.SUSPENDED)
        elif state == KazooState.LOST:
            was_held = self._held
            self._held = False
            self.lost.set()
            self._wake.set()
            self._say("lost", f"session expired: lock {'LOST' if was_held else 'wait abandoned'} "
                      f"({short(self.node)} is gone)", path=self.node, state=RecipeState.LOST, watching=None,
                      was_held=was_held)
        elif state == KazooState.CONNECTED and self._suspended:
            self._suspended = False
            if self._held:
                self.client.handler.spawn(self._confirm_after_reconnect)

    def _confirm_after_reconnect(self) -> None:
        node = self.node
        if node is None:
            return
        try:
            stat = self.client.exists(node)
        except (ConnectionLoss, SessionExpiredError, OperationTimeoutError) as exc:
            log.info("could not confirm %s after reconnect: %s", node, exc)
            return
        if stat is not None and stat.ephemeralOwner == session_id(self.client) and self._held:
            self._say("confirmed", f"connection restored within the session: still holding {short(node)}",
                      path=node, state=RecipeState.HOLDING)


class FencedResource:
    """A znode that only accepts writes carrying a fencing token at least as new as any it has accepted.

    The check and the write are one atomic step (a ``multi`` of ``check(version)`` + ``setData``), so two
    writers cannot both pass the comparison. Data is JSON ``{"token": .., "value": .., "writer": ..}``.
    """

    def __init__(self, client: KazooClient, path: str) -> None:
        self.client = client
        self.path = path

    def read(self) -> dict[str, Any]:
        try:
            data, _ = self.client.get(self.path)
        except NoNodeError:
            return {}
        return json.loads(data) if data else {}

    def write(self, token: int, value: str, writer: str = "") -> dict[str, Any]:
        """Store ``value``; raise :class:`StaleTokenError` when ``token`` is older than the highest accepted."""
        record = {"token": token, "value": value, "writer": writer}
        payload = json.dumps(record).encode()
        while True:
            try:
                data, stat = self.client.get(self.path)
            except NoNodeError:
                try:
                    self.client.create(self.path, payload, makepath=True)
                    return {**record, "version": 0}
                except NodeExistsError:
                    continue
            current = json.loads(data) if data else {}
            highest = int(current.get("token", -1))
            if token < highest:
                raise StaleTokenError(f"write to {self.path} rejected: token {token} is older than {highest} "
                                      f"(written by {current.get('writer') or 'another holder'})")
            tx = self.client.transaction()
            tx.check(self.path, stat.version)
            tx.set_data(self.path, payload)
            results = tx.commit()
            if any(isinstance(r, BadVersionError) for r in results):
                continue  # someone wrote in between: compare again
            failed = [r for r in results if isinstance(r, Exception)]
            if failed:
                raise failed[0]
            return {**record, "version": stat.version + 1}
