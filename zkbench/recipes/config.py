"""Dynamic configuration (course project 2): read a JSON znode, watch it, reload on every change, and survive
the znode being deleted and recreated. :func:`set_config` is the updater."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, NodeExistsError, NoNodeError, OperationTimeoutError, SessionExpiredError
from kazoo.protocol.states import EventType

from zkbench.recipes.narration import Narrated, Narrator, RecipeState

__all__ = ["ConfigWatcher", "set_config", "delete_config", "parse_config"]

log = logging.getLogger(__name__)


def parse_config(data: bytes) -> Any:
    """JSON if it parses, else the text."""
    text = data.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class ConfigWatcher(Narrated):
    """Keeps ``config`` equal to the znode's content; ``on_change(config, version)`` after each (re)load.

    A data watch fires once: each reload sets the next one. When the znode is deleted the watcher says so and
    waits with an ``exists`` watch for it to be created again.
    """

    recipe_name = "config"

    def __init__(self, client: KazooClient, path: str, on_change: Callable[[Any, int], None] | None = None, *,
                 narrate: Narrator | None = None) -> None:
        self.client = client
        self.path = path
        self.on_change = on_change
        self._narrate = narrate
        self.config: Any = None
        self.version = -1
        self.mzxid = -1
        self.reloads = 0
        self._closed = False
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    def start(self) -> "ConfigWatcher":
        self._say("reading", f"reading config from {self.path}", path=self.path, state=RecipeState.WATCHING)
        self.client.add_listener(self._on_connection_state)
        self._load()
        return self

    def close(self) -> None:
        self._closed = True
        self.client.remove_listener(self._on_connection_state)

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float) -> bool:
        """Block until ``predicate(config)`` holds (test and demo helper)."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.config), timeout)

    def _load(self, event: Any = None) -> None:
        if self._closed:
            return
        try:
            data, stat = self.client.get(self.path, watch=self._on_event)
        except NoNodeError:
            if self.client.exists(self.path, watch=self._on_event) is not None:
                return self._load()
            self._say("missing", f"{self.path} does not exist; waiting for it to be created", path=self.path,
                      state=RecipeState.WAITING, watching=self.path)
            return
        with self._lock:
            if stat.mzxid == self.mzxid:
                return  # a duplicate wake-up (reconnect); nothing new
            self.config, self.version, self.mzxid = parse_config(data), stat.version, stat.mzxid
            self.reloads += 1
            self.changed.notify_all()
        self._say("loaded", f"current config: {json.dumps(self.config)}", path=self.path,
                  state=RecipeState.WATCHING, watching=self.path, version=stat.version, config=self.config)
        if self.on_change is not None:
            try:
                self.on_change(self.config, stat.version)
            except Exception:  # the app's reload hook failing must not stop the watch
                log.exception("config on_change failed")

    def _on_event(self, event: Any) -> None:  # kazoo's callback thread
        if event is not None:
            if event.type == EventType.DELETED:
                self._say("deleted", f"{self.path} deleted; waiting for it to come back", path=self.path,
                          state=RecipeState.WAITING, watching=self.path)
            elif event.type == EventType.CREATED:
                self._say("created", f"{self.path} created again, reloading", path=self.path)
            elif event.type == EventType.CHANGED:
                self._say("changed", "config changed, reloading", path=self.path)
        try:
            self._load()
        except (ConnectionLoss, SessionExpiredError, OperationTimeoutError) as exc:
            log.info("reload of %s failed: %s; retrying on reconnect", self.path, exc)

    def _on_connection_state(self, state: str) -> None:
        if state == KazooState.CONNECTED and not self._closed:
            self.client.handler.spawn(self._on_event, None)


def set_config(client: KazooClient, path: str, value: Any) -> int:
    """The updater: write ``value`` (JSON-encoded unless bytes/str), creating the znode if needed; new version."""
    data = value if isinstance(value, bytes) else (value if isinstance(value, str) else json.dumps(value)).encode()
    try:
        return client.set(path, data).version
    except NoNodeError:
        try:
            client.create(path, data, makepath=True)
            return 0
        except NodeExistsError:
            return client.set(path, data).version


def delete_config(client: KazooClient, path: str) -> bool:
    try:
        client.delete(path)
        return True
    except NoNodeError:
        return False
