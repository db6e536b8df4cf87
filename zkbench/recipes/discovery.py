"""Service discovery (course project 4) and group membership: ephemeral instance znodes with ``host:port`` as
data, and a watcher that keeps a live list by re-registering its child watch after every change."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, NoNodeError, OperationTimeoutError, SessionExpiredError

from zkbench.recipes._common import create_protected, delete_quietly, join, new_guid, sort_by_sequence
from zkbench.recipes.narration import Narrated, Narrator, RecipeState

__all__ = ["ServiceRegistry", "ServiceWatcher"]

log = logging.getLogger(__name__)


class ServiceRegistry(Narrated):
    """Register one instance of a service: ``/services/<name>/instance-<seq>`` = address, ephemeral.

    When the session expires the instance vanishes (that is the failure detector); once a new session is
    established the registry registers again under a new name.
    """

    recipe_name = "service"
    marker = "instance-"

    def __init__(self, client: KazooClient, name: str, address: str, *, base: str = "/services",
                 narrate: Narrator | None = None) -> None:
        self.client = client
        self.path = join(base, name)
        self.address = address
        self._narrate = narrate
        self._guid = new_guid()
        self.node: str | None = None
        self._closed = False
        self._lost = False

    def register(self) -> str:
        node, _ = create_protected(self.client, self.path, self.marker, self.address.encode(), self._guid)
        self.node = node
        self._say("registered", f"registered {node} = {self.address}", path=node, state=RecipeState.REGISTERED,
                  address=self.address)
        self.client.add_listener(self._on_connection_state)
        return node

    def unregister(self) -> None:
        self._closed = True
        self.client.remove_listener(self._on_connection_state)
        if self.node is not None:
            delete_quietly(self.client, self.node)
            self._say("unregistered", f"unregistered {self.node}", path=self.node, state=RecipeState.STOPPED)
            self.node = None

    def _on_connection_state(self, state: str) -> None:  # kazoo's connection thread
        if state == KazooState.LOST:
            self._lost = True
            self._say("lost", f"session expired: {self.node} is gone", path=self.node, state=RecipeState.LOST)
        elif state == KazooState.CONNECTED and self._lost and not self._closed:
            self._lost = False
            self.client.handler.spawn(self._reregister)

    def _reregister(self) -> None:
        try:
            self.client.remove_listener(self._on_connection_state)
            self.register()
        except (ConnectionLoss, SessionExpiredError, OperationTimeoutError) as exc:
            log.warning("re-register of %s failed: %s", self.path, exc)
            self._lost = True
            self.client.add_listener(self._on_connection_state)


class ServiceWatcher(Narrated):
    """A live list of a service's instance addresses; ``on_change(addresses)`` is called after every change.

    Child watches fire once, so every event re-reads the children with a new watch; a missing service znode is
    watched with ``exists`` until it appears; after a session expiry the list is re-read.
    """

    recipe_name = "discovery"

    def __init__(self, client: KazooClient, name: str, *, base: str = "/services",
                 on_change: Callable[[list[str]], None] | None = None, narrate: Narrator | None = None) -> None:
        self.client = client
        self.path = join(base, name)
        self.on_change = on_change
        self._narrate = narrate
        self.instances: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def addresses(self) -> list[str]:
        with self._lock:
            return [self.instances[k] for k in sort_by_sequence(list(self.instances), "")]

    def start(self) -> "ServiceWatcher":
        self.client.add_listener(self._on_connection_state)
        self._refresh(first=True)
        return self

    def close(self) -> None:
        self._closed = True
        self.client.remove_listener(self._on_connection_state)

    def _refresh(self, first: bool = False) -> None:
        if self._closed:
            return
        try:
            children = self.client.get_children(self.path, watch=self._on_event)
        except NoNodeError:
            if self.client.exists(self.path, watch=self._on_event) is None:
                self._say("no-service", f"{self.path} does not exist yet; watching for it", path=self.path,
                          state=RecipeState.WATCHING, watching=self.path)
                self._publish({}, first)
                return
            children = self.client.get_children(self.path, watch=self._on_event)
        found: dict[str, str] = {}
        for child in children:
            try:
                data, _ = self.client.get(join(self.path, child))
            except NoNodeError:
                continue
            found[child] = data.decode("utf-8", "replace")
        self._publish(found, first)

    def _publish(self, found: dict[str, str], first: bool) -> None:
        with self._lock:
            changed = found != self.instances or first
            self.instances = found
        if not changed:
            return
        addresses = self.addresses
        kind = "initial" if first else "changed"
        msg = f"service pool: {addresses}" if first else f"service pool changed: {addresses}"
        self._say(kind, msg, path=self.path, state=RecipeState.WATCHING, watching=self.path, addresses=addresses)
        if self.on_change is not None:
            try:
                self.on_change(addresses)
            except Exception:  # a broken consumer must not stop the watcher
                log.exception("on_change failed")

    def _on_event(self, event: Any) -> None:  # kazoo's callback thread: blocking reads are allowed here
        try:
            self._refresh()
        except (ConnectionLoss, SessionExpiredError, OperationTimeoutError) as exc:
            log.info("refresh of %s after %s failed: %s; will retry on reconnect", self.path, event, exc)

    def _on_connection_state(self, state: str) -> None:
        if state == KazooState.CONNECTED and not self._closed:
            # watches survive a reconnect within the session, not a new session: re-read either way (cheap)
            self.client.handler.spawn(self._on_event, None)
