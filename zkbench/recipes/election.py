"""Leader election (course project 6/8): the lowest ephemeral-sequential node leads, each other candidate watches
only the node just ahead of it. The epoch is the leader node's czxid: it grows with every new leadership.

:class:`LeaderLatch` runs the state machine in one thread of its own; the connection listener only flags and
wakes it, so ``on_elected``/``on_revoked`` are always called from that thread, in order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, NoNodeError, OperationTimeoutError, SessionExpiredError

from zkbench.recipes._common import (create_protected, delete_quietly, display_name, join, new_guid,
                                     session_id, sort_by_sequence, wait_connected)
from zkbench.recipes.narration import Narrated, Narrator, RecipeState, short

__all__ = ["LeaderLatch", "LeaderElection"]

log = logging.getLogger(__name__)


class LeaderLatch(Narrated):
    """Long-lived leadership: ``start()``, then ``is_leader()`` / ``wait_for_leadership()``; ``close()`` leaves.

    ``on_elected(epoch)`` runs when we become leader, ``on_revoked()`` when we stop being sure (connection
    suspended, session lost, node deleted, relinquished). Leadership is never declared on a node that the
    current session does not own.
    """

    recipe_name = "election"
    marker = "node-"

    def __init__(self, client: KazooClient, path: str, identifier: str = "", *,
                 on_elected: Callable[[int], None] | None = None, on_revoked: Callable[[], None] | None = None,
                 protected: bool = True, narrate: Narrator | None = None) -> None:
        self.client = client
        self.path = path.rstrip("/") or "/"
        self.identifier = identifier
        self.on_elected = on_elected
        self.on_revoked = on_revoked
        self._narrate = narrate
        self._guid = new_guid() if protected else None
        self.node: str | None = None
        self.epoch: int | None = None
        self._leader = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._rejoin = threading.Event()
        self._suspended = False
        self._lost = False
        self._thread: threading.Thread | None = None

    # -- public API -------------------------------------------------------------------------------------------
    def start(self) -> "LeaderLatch":
        self.client.add_listener(self._on_connection_state)
        self._thread = threading.Thread(target=self._run, name=f"latch {self.path}", daemon=True)
        self._thread.start()
        return self

    def is_leader(self) -> bool:
        return self._leader.is_set()

    def wait_for_leadership(self, timeout: float | None = None) -> bool:
        return self._leader.wait(timeout)

    def relinquish(self) -> None:
        """Give up leadership (delete our node: the next candidate takes over) and join again at the back."""
        self._rejoin.set()
        self._wake.set()

    def close(self, timeout: float = 10.0) -> None:
        """Leave the election for good: our node is deleted, so a successor is elected at once."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.client.remove_listener(self._on_connection_state)

    def participants(self) -> list[str]:
        """Identifiers of all candidates, the leader first."""
        out = []
        for name in sort_by_sequence(self.client.get_children(self.path), self.marker):
            try:
                data, _ = self.client.get(join(self.path, name))
            except NoNodeError:
                continue
            out.append(data.decode("utf-8", "replace") or display_name(name))
        return out

    # -- the state machine (one thread) -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._participate()
            except (ConnectionLoss, OperationTimeoutError, SessionExpiredError) as exc:
                self._step_down(f"connection trouble ({type(exc).__name__}): not leading until reconnected")
                wait_connected(self.client, 1.0)
            except Exception:  # the latch thread must survive anything; the failure is logged and narrated
                log.exception("election loop failed")
                self._say("error", "election step failed (see log); retrying", path=self.node)
                self._stop.wait(1.0)
        self._step_down("stepping down: leaving the election")
        if self.node is not None:
            delete_quietly(self.client, self.node)
            self._say("left", f"left the election (deleted {short(self.node)})", path=self.node,
                      state=RecipeState.STOPPED, watching=None)
            self.node = None

    def _participate(self) -> None:
        if not wait_connected(self.client, 1.0):
            return
        self._lost = False
        self.client.ensure_path(self.path)
        node, stat = create_protected(self.client, self.path, self.marker, self.identifier.encode(), self._guid)
        self.node = node
        name = short(node)
        self._say("created", f"created {node}", path=node, state=RecipeState.FOLLOWER, watching=None, node=node,
                  session=f"0x{stat.ephemeralOwner:x}")
        while not self._stop.is_set():
            self._wake.clear()
            if self._rejoin.is_set():
                self._rejoin.clear()
                self._step_down("relinquished leadership")
                delete_quietly(self.client, node)
                self._say("relinquished", f"deleted {name}; rejoining at the back", path=node, watching=None)
                self.node = None
                return
            if self._lost:
                self._step_down(f"session lost: {name} is gone, no longer leader")
                self.node = None
                return
            if self._suspended:
                self._step_down("connection suspended: cannot be sure I still lead")
                self._wake.wait(0.5)
                continue
            children = sort_by_sequence(self.client.get_children(self.path), self.marker)
            if name not in children:
                self._step_down(f"{name} vanished (deleted, or the session expired); joining again")
                self.node = None
                return
            index = children.index(name)
            if index == 0:
                mine = self.client.exists(node, watch=self._on_watch)
                if mine is None or mine.ephemeralOwner != session_id(self.client):
                    self._say("not-owner", f"{name} is first but belongs to an old session; not leading",
                              path=node)
                    self.node = None
                    return
                if not self._leader.is_set():
                    self.epoch = mine.czxid
                    self._leader.set()
                    self._say("elected", f"I am the leader (epoch {mine.czxid})", path=node,
                              state=RecipeState.LEADER, watching=node, epoch=mine.czxid)
                    self._call(self.on_elected, mine.czxid)
            else:
                self._step_down("another candidate leads")
                pred = join(self.path, children[index - 1])
                if self.client.exists(pred, watch=self._on_watch) is None:
                    continue
                leader = display_name(children[0])
                if index == 1:
                    msg = f"leader is {leader}, I follow; watching {leader}"
                else:
                    msg = f"leader is {leader}, I follow; watching {display_name(children[index - 1])}"
                self._say("following", msg, path=node, state=RecipeState.FOLLOWER, watching=pred,
                          leader=join(self.path, children[0]))
                self._wake.wait()
                if self._stop.is_set():
                    return
                if not (self._suspended or self._lost or self._rejoin.is_set()):
                    if self.client.exists(pred) is None:
                        self._say("woken", f"{display_name(children[index - 1])} gone, re-evaluating",
                                  path=node, watching=None)
                continue
            self._wake.wait()

    def _step_down(self, why: str) -> None:
        if self._leader.is_set():
            self._leader.clear()
            self._say("revoked", why, path=self.node, state=RecipeState.FOLLOWER if not self._lost
                      else RecipeState.LOST, epoch=self.epoch)
            self._call(self.on_revoked)

    def _call(self, fn: Callable[..., Any] | None, *args: Any) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:  # the user's callback must not kill the election thread
            log.exception("election callback %r failed", fn)

    def _on_watch(self, event: Any) -> None:  # kazoo's callback thread
        self._wake.set()

    def _on_connection_state(self, state: str) -> None:  # kazoo's connection thread: flag and wake only
        if state == KazooState.SUSPENDED:
            self._suspended = True
        elif state == KazooState.LOST:
            self._suspended = False
            self._lost = True
        elif state == KazooState.CONNECTED:
            self._suspended = False
        self._wake.set()


class LeaderElection:
    """kazoo-style one-shot: ``LeaderElection(client, path, "me").run(func)`` blocks until elected, runs
    ``func`` while leading, then leaves the election."""

    def __init__(self, client: KazooClient, path: str, identifier: str = "", *,
                 narrate: Narrator | None = None) -> None:
        self.latch = LeaderLatch(client, path, identifier, narrate=narrate)

    def run(self, func: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        self.latch.start()
        try:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self.latch.wait_for_leadership(0.5):
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"not elected within {timeout:g}s")
            return func(*args)
        finally:
            self.latch.close()

    def cancel(self) -> None:
        self.latch.close()
