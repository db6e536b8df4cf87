"""Barriers: a :class:`Barrier` znode holds everyone until it is removed; a :class:`DoubleBarrier` lets members
enter when ``n`` have arrived and leave when all have left (the ZooKeeper recipes page's algorithm)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError

from zkbench.recipes._common import delete_quietly, join, retry_on_loss
from zkbench.recipes.narration import Narrated, Narrator, RecipeState

__all__ = ["Barrier", "DoubleBarrier"]

log = logging.getLogger(__name__)


class Barrier(Narrated):
    """``create()`` raises the barrier, ``remove()`` lifts it, ``wait()`` blocks while it stands."""

    recipe_name = "barrier"

    def __init__(self, client: KazooClient, path: str, *, narrate: Narrator | None = None) -> None:
        self.client = client
        self.path = path
        self._narrate = narrate

    def create(self) -> bool:
        try:
            self.client.create(self.path, makepath=True)
        except NodeExistsError:
            return False
        self._say("raised", f"barrier {self.path} raised", path=self.path)
        return True

    def remove(self) -> bool:
        # narrated before the delete: a waiter may pass (and say so) before our reply arrives
        self._say("lifting", f"removing barrier {self.path}", path=self.path)
        try:
            self.client.delete(self.path)
        except NoNodeError:
            return False
        self._say("lifted", f"barrier {self.path} removed", path=self.path)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """True once the barrier znode is gone; False if ``timeout`` passes first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            gone = threading.Event()
            if retry_on_loss(self.client, lambda: self.client.exists(self.path, watch=lambda _e: gone.set()),
                             deadline) is None:
                self._say("passed", f"barrier {self.path} is gone, passing", path=self.path,
                          state=RecipeState.WORKING, watching=None)
                return True
            self._say("waiting", f"barrier {self.path} is up, waiting for it to be removed", path=self.path,
                      state=RecipeState.WAITING, watching=self.path)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not gone.wait(remaining):
                return False


class DoubleBarrier(Narrated):
    """Synchronise the start and the end of a computation among ``n`` members.

    ``enter()``: create ephemeral ``path/<id>``; when ``n`` are present the last one creates ``path/ready``,
    which everybody waits for. ``leave()``: the lowest member waits for the highest to go, everyone else deletes
    their node and waits for the lowest, so nobody leaves before all have finished.
    """

    recipe_name = "barrier"
    READY = "ready"

    def __init__(self, client: KazooClient, path: str, n: int, identifier: str, *,
                 narrate: Narrator | None = None) -> None:
        self.client = client
        self.path = path
        self.n = n
        self.identifier = identifier
        self.node = join(path, identifier)
        self._narrate = narrate

    def _members(self) -> list[str]:
        names = retry_on_loss(self.client, lambda: self.client.get_children(self.path))
        return sorted(c for c in names if c != self.READY)

    def enter(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        self.client.ensure_path(self.path)
        ready_path = join(self.path, self.READY)
        ready = threading.Event()
        self.client.exists(ready_path, watch=lambda _e: ready.set())
        self.client.create(self.node, self.identifier.encode(), ephemeral=True)
        members = self._members()
        self._say("arrived", f"created {self.node}; {len(members)} of {self.n} here", path=self.node,
                  state=RecipeState.WAITING, watching=ready_path, present=len(members))
        if len(members) >= self.n:
            try:
                self.client.create(ready_path)
                self._say("ready", f"all {self.n} arrived; created {ready_path}", path=ready_path)
            except NodeExistsError:
                pass
        elif self.client.exists(ready_path) is None:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not ready.wait(remaining):
                delete_quietly(self.client, self.node)
                self._say("gave-up", f"timed out before {self.n} arrived; deleted {self.node}",
                          path=self.node, state=RecipeState.IDLE, watching=None)
                return False
        self._say("entered", f"{ready_path} exists: entering", path=self.node, state=RecipeState.WORKING,
                  watching=None)
        return True

    def leave(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        me = self.identifier
        self._say("leaving", f"done; leaving {self.path}", path=self.node, state=RecipeState.WAITING)
        while True:
            members = self._members()
            if not members:
                break
            if members == [me]:
                delete_quietly(self.client, self.node)
                break
            gone = threading.Event()
            if me not in members:
                target = members[0]
            elif members[0] == me:
                target = members[-1]  # the lowest waits for the highest
            else:
                delete_quietly(self.client, self.node)
                target = members[0]
            target_path = join(self.path, target)
            if retry_on_loss(self.client, lambda: self.client.exists(target_path, watch=lambda _e: gone.set()),
                             deadline) is None:
                continue
            self._say("waiting-leave", f"waiting for {target} to leave", path=self.node, watching=target_path,
                      waiting_for=target, remaining=len(members))
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not gone.wait(remaining):
                return False
        # last one out takes the ready flag down so the barrier can be used again
        if not self._members():
            delete_quietly(self.client, join(self.path, self.READY))
        self._say("left", f"everyone has left {self.path}", path=self.node, state=RecipeState.DONE, watching=None)
        return True

    def __enter__(self) -> "DoubleBarrier":
        self.enter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.leave()
