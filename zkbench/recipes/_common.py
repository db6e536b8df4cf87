"""Helpers every recipe shares: sequence order, session ids, waiting out a connection loss, protected creates."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, NoNodeError, OperationTimeoutError, SessionExpiredError
from kazoo.protocol.states import ZnodeStat

from zkbench.errors import ZkBenchError

__all__ = ["RecipeError", "sequence_of", "sort_by_sequence", "session_id", "wait_connected", "new_guid",
           "display_name", "create_protected", "retry_on_loss", "join"]

log = logging.getLogger(__name__)
T = TypeVar("T")

PROTECT_PREFIX = "_c_"


class RecipeError(ZkBenchError):
    """A recipe could not do what was asked; the message is the one line to show."""


def sequence_of(name: str) -> int:
    """The 10-digit sequence suffix ZooKeeper appended to a sequential znode's name (-1 if there is none)."""
    tail = name[-10:]
    return int(tail) if tail.isdigit() else -1


def sort_by_sequence(names: list[str], marker: str) -> list[str]:
    """Children whose name contains ``marker`` (e.g. ``lock-``), lowest sequence number first."""
    return sorted((n for n in names if marker in n and sequence_of(n) >= 0), key=sequence_of)


def session_id(client: KazooClient) -> int:
    cid = client.client_id
    return cid[0] if cid else 0


def join(parent: str, name: str) -> str:
    return f"{parent.rstrip('/')}/{name}"


def new_guid() -> str:
    return uuid.uuid4().hex[:12]


def display_name(name: str) -> str:
    """``_c_1a2b3c4d5e6f-lock-0000000002`` -> ``lock-0000000002``: the part a person cares about."""
    if name.startswith(PROTECT_PREFIX) and "-" in name:
        return name.split("-", 1)[1]
    return name


def wait_connected(client: KazooClient, timeout: float | None) -> bool:
    """Block until the client is connected again (True) or ``timeout`` passes (False)."""
    if client.connected:
        return True
    ready = threading.Event()

    def listener(state: str) -> bool:
        if state == KazooState.CONNECTED:
            ready.set()
            return True  # kazoo removes a listener that returns True
        return False

    client.add_listener(listener)
    try:
        if client.connected:
            return True
        return ready.wait(timeout)
    finally:
        client.remove_listener(listener)


def retry_on_loss(client: KazooClient, fn: Callable[[], T], deadline: float | None = None) -> T:
    """Run ``fn``; on a connection loss wait for the session to come back and run it again.

    Only for idempotent reads/deletes. A session expiry is not retried: the caller's ephemerals are gone.
    """
    while True:
        try:
            return fn()
        except (ConnectionLoss, OperationTimeoutError):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if remaining == 0.0 or not wait_connected(client, remaining if remaining is not None else 30.0):
                raise


def create_protected(client: KazooClient, parent: str, prefix: str, data: bytes, guid: str | None, *,
                     ephemeral: bool = True, sequence: bool = True,
                     deadline: float | None = None) -> tuple[str, ZnodeStat]:
    """Create ``parent/<_c_guid->prefix<seq>``, surviving a lost reply.

    When the create's reply is lost (ConnectionLoss) the node may exist anyway. After reconnecting we look for
    a child carrying our guid and adopt it only if the current session owns it (an ephemeral from an expired
    session is about to vanish and must not be mistaken for ours). Without a guid the create is not protected.
    """
    name = f"{PROTECT_PREFIX}{guid}-{prefix}" if guid else prefix
    while True:
        try:
            path, stat = client.create(join(parent, name), data, ephemeral=ephemeral, sequence=sequence,
                                       makepath=True, include_data=True)
            return path, stat
        except (ConnectionLoss, OperationTimeoutError):
            if guid is None:
                raise
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not wait_connected(client, 30.0 if remaining is None else remaining):
                raise
            found = find_own_node(client, parent, guid, ephemeral=ephemeral)
            if found is not None:
                log.info("create reply was lost; adopted %s", found[0])
                return found


def find_own_node(client: KazooClient, parent: str, guid: str, *,
                  ephemeral: bool = True) -> tuple[str, ZnodeStat] | None:
    """The child of ``parent`` created with ``guid`` by this session, if any."""
    marker = f"{PROTECT_PREFIX}{guid}-"
    try:
        children = client.get_children(parent)
    except NoNodeError:
        return None
    sid = session_id(client)
    for child in children:
        if not child.startswith(marker):
            continue
        path = join(parent, child)
        stat = client.exists(path)
        if stat is None:
            continue
        if ephemeral and stat.ephemeralOwner != sid:
            log.info("%s carries our guid but belongs to session 0x%x (ours is 0x%x): not adopting",
                     path, stat.ephemeralOwner, sid)
            continue
        return path, stat
    return None


def delete_quietly(client: KazooClient, path: str) -> bool:
    """Delete ``path`` if it still exists; True if we deleted it. Connection trouble is logged, not raised."""
    try:
        retry_on_loss(client, lambda: client.delete(path), time.monotonic() + 10.0)
        return True
    except NoNodeError:
        return False
    except SessionExpiredError:
        return False  # an ephemeral of an expired session is gone already
    except (ConnectionLoss, OperationTimeoutError) as exc:
        log.warning("could not delete %s: %s", path, exc)
        return False
