"""Shared fixtures: one real ZooKeeper server per test session (started by zkbench.server), a subtree per test.

- ``zk_server``: the session's :class:`~zkbench.server.LocalServer` (tickTime 250 ms, so session timeouts down
  to 500 ms are allowed: faults show quickly).
- ``zk_hosts``: its connect string, no chroot.
- ``zk_root``: a fresh, unique, existing path for this test, e.g. ``/t/test_name-3``.
- ``zk_chroot_hosts``: ``zk_hosts`` + ``zk_root`` as a chroot.
- ``zk``: a started :class:`~zkbench.protocol.ZkClient` chrooted at ``zk_root``.
- ``zk_admin``: a started client without chroot (for checks from "outside").
- ``zk_ensemble``: a 3-node :class:`~zkbench.server.LocalEnsemble`, started on first use; mark such tests
  ``@pytest.mark.ensemble``. Every test gets it whole (all members serving, one leader): members a test left
  down are restarted, and an ensemble that cannot be healed is replaced by a fresh one, so one broken test never
  turns into an error for every later one. If even a fresh ensemble cannot start, that test fails with the
  reason and later ensemble tests are skipped, naming it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest

from zkbench.connection import ConnectionSettings, connect
from zkbench.protocol import ZkClient
from zkbench.server import LocalEnsemble, LocalServer

from ensemble_slot import EnsembleSlot

TEST_TICK_MS = 250
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def zk_server() -> Iterator[LocalServer]:
    server = LocalServer(tick_time=TEST_TICK_MS, extra_config={"maxSessionTimeout": "60000"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def zk_hosts(zk_server: LocalServer) -> str:
    return zk_server.connect_string


@pytest.fixture(scope="session")
def zk_admin(zk_hosts: str) -> Iterator[ZkClient]:
    client = connect(ConnectionSettings(hosts=zk_hosts))
    client.ensure_path("/t")
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def zk_root(request: pytest.FixtureRequest, zk_admin: ZkClient) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:80]
    path = f"/t/{name}-{next(_counter)}"
    zk_admin.create(path)
    return path


@pytest.fixture
def zk_chroot_hosts(zk_hosts: str, zk_root: str) -> str:
    return zk_hosts + zk_root


@pytest.fixture
def zk(zk_chroot_hosts: str) -> Iterator[ZkClient]:
    client = connect(ConnectionSettings(hosts=zk_chroot_hosts))
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture(scope="session")
def _zk_ensemble_slot() -> Iterator[EnsembleSlot]:
    slot = EnsembleSlot(lambda: LocalEnsemble(3, tick_time=TEST_TICK_MS,
                                              extra_config={"maxSessionTimeout": "60000"}))
    try:
        yield slot
    finally:
        slot.close()


@pytest.fixture
def zk_ensemble(_zk_ensemble_slot: EnsembleSlot) -> Iterator[LocalEnsemble]:
    """The shared 3-node ensemble, whole and with a leader before and after every test that uses it."""
    yield _zk_ensemble_slot.whole()
    _zk_ensemble_slot.after_test()


@pytest.fixture(autouse=True)
def _steady_cursors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots catch a blinking cursor on or off at random: keep every text cursor steadily visible in tests."""
    from textual.widgets import Input, TextArea

    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)
