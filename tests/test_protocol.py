"""zkbench's protocol additions (addWatch, removeWatches, checkWatches, multiRead, features) on a real server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from kazoo.exceptions import NoNodeError, NoWatcherError
from kazoo.protocol.states import EventType, ZnodeStat

from zkbench.connection import ConnectionSettings, connect
from zkbench.protocol import ReadChildren, ReadData, WatchNotification, ZkClient


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class Recorder:
    def __init__(self) -> None:
        self.notes: list[WatchNotification] = []
        self.lock = threading.Lock()

    def __call__(self, note: WatchNotification) -> None:
        with self.lock:
            self.notes.append(note)

    def kinds(self) -> list[tuple[str, str | None]]:
        with self.lock:
            return [(n.type, n.path) for n in self.notes if n.type != EventType.NONE]


def test_multi_read_returns_one_result_per_op_with_errors_in_place(zk: ZkClient) -> None:
    zk.create("/a", b"one")
    zk.create("/a/x")
    zk.create("/a/y", b"")
    results = zk.multi_read([ReadData("/a"), ReadChildren("/a"), ReadData("/missing"), ("children", "/missing"),
                             ("data", "/a/y")])
    data, stat = results[0]
    assert data == b"one" and isinstance(stat, ZnodeStat) and stat.numChildren == 2
    assert sorted(results[1]) == ["x", "y"]
    assert isinstance(results[2], NoNodeError) and isinstance(results[3], NoNodeError)
    assert results[4][0] == b"" and results[4][1].dataLength == 0


def test_multi_read_async_matches_individual_reads(zk: ZkClient) -> None:
    for i in range(50):
        zk.create(f"/n{i}", str(i).encode())
    ops = [ReadData(f"/n{i}") for i in range(50)]
    results = zk.multi_read_async(ops).get(timeout=5)
    for i, (data, stat) in enumerate(results):
        assert (data, stat) == zk.get(f"/n{i}")


def test_multi_read_rejects_other_ops(zk: ZkClient) -> None:
    with pytest.raises(ValueError):
        zk.multi_read([("set", "/x")])


def test_persistent_recursive_watch_sees_subtree_changes_in_order(zk: ZkClient, zk_admin: ZkClient,
                                                                   zk_root: str) -> None:
    zk.create("/app")
    rec = Recorder()
    assert zk.add_watch("/app", rec) is True
    zk_admin.create(f"{zk_root}/app/c", b"1")   # from another session, with full paths
    zk_admin.create(f"{zk_root}/app/c/d")
    zk_admin.set(f"{zk_root}/app/c", b"2")
    zk_admin.delete(f"{zk_root}/app/c/d")
    zk_admin.create(f"{zk_root}/apple")          # a sibling with the same prefix: not under /app
    zk_admin.set(f"{zk_root}/app", b"top")
    wait_for(lambda: len(rec.kinds()) >= 5)
    time.sleep(0.1)
    assert rec.kinds() == [(EventType.CREATED, "/app/c"), (EventType.CREATED, "/app/c/d"),
                           (EventType.CHANGED, "/app/c"), (EventType.DELETED, "/app/c/d"),
                           (EventType.CHANGED, "/app")]
    # the watch is not popped: later changes keep coming, and the server still holds it
    zk_admin.set(f"{zk_root}/app", b"again")
    wait_for(lambda: len(rec.kinds()) == 6)
    assert zk.check_watches("/app") is True
    assert all(n.zxid in (-1, 0) or n.zxid > 0 for n in rec.notes)


def test_persistent_non_recursive_watch_gets_child_events_of_its_path_only(zk: ZkClient) -> None:
    zk.create("/p")
    rec = Recorder()
    zk.add_watch("/p", rec, mode="persistent")
    zk.create("/p/kid")
    zk.set("/p/kid", b"x")       # below: not delivered to a non-recursive watch
    zk.set("/p", b"y")
    zk.delete("/p/kid")
    wait_for(lambda: len(rec.kinds()) >= 3)
    time.sleep(0.1)
    assert rec.kinds() == [(EventType.CHILD, "/p"), (EventType.CHANGED, "/p"), (EventType.CHILD, "/p")]


def test_watch_on_missing_path_sees_its_creation(zk: ZkClient) -> None:
    rec = Recorder()
    zk.add_watch("/later", rec)
    zk.create("/later")
    wait_for(lambda: rec.kinds() == [(EventType.CREATED, "/later")])


def test_remove_watches_stops_notifications_and_forgets_locally(zk: ZkClient) -> None:
    zk.create("/r")
    rec = Recorder()
    zk.add_watch("/r", rec)
    zk.set("/r", b"1")
    wait_for(lambda: len(rec.kinds()) == 1)
    assert zk.remove_watches("/r", "persistent_recursive") is True
    assert zk.persistent_watches() == []
    assert zk.check_watches("/r") is False
    zk.set("/r", b"2")
    time.sleep(0.2)
    assert len(rec.kinds()) == 1
    with pytest.raises(NoWatcherError):
        zk.remove_watches("/r")


def test_check_and_remove_one_shot_watches(zk: ZkClient) -> None:
    zk.create("/o")
    fired: list[object] = []
    zk.get("/o", watch=fired.append)
    assert zk.check_watches("/o", "data") is True
    assert zk.check_watches("/o", "children") is False
    zk.remove_watches("/o", "data")
    zk.set("/o", b"x")
    time.sleep(0.2)
    assert fired == []


def test_inline_callbacks_run_on_the_connection_thread(zk: ZkClient) -> None:
    zk.create("/i")
    threads: list[str] = []
    zk.add_watch("/i", lambda note: threads.append(threading.current_thread().name), inline=True)
    zk.set("/i", b"x")
    wait_for(lambda: len(threads) == 1)
    assert threads[0] == zk._connection._connection_routine.name  # noqa: SLF001


def test_persistent_watch_is_re_added_after_reconnect(zk: ZkClient) -> None:
    from kazoo.protocol.connection import _CONNECTION_DROP

    zk.create("/re")
    rec = Recorder()
    zk.add_watch("/re", rec)
    session = zk.client_id
    zk._queue.append((_CONNECTION_DROP, None))  # noqa: SLF001 - kazoo's own test hook
    zk._connection._write_sock.send(b"\0")      # noqa: SLF001
    wait_for(lambda: any(n.type == EventType.NONE for n in rec.notes))
    wait_for(lambda: zk.connected)
    assert zk.client_id == session
    wait_for(lambda: zk.check_watches("/re"))
    zk.set("/re", b"after")
    wait_for(lambda: (EventType.CHANGED, "/re") in rec.kinds())


def test_persistent_watch_is_re_added_after_session_expiry(zk_chroot_hosts: str, zk_hosts: str) -> None:
    client = connect(ConnectionSettings(hosts=zk_chroot_hosts, session_timeout=1.0))
    try:
        client.create("/ex")
        rec = Recorder()
        client.add_watch("/ex", rec)
        old = client.client_id
        # a real expiry: a second client takes over the session with id + password, then closes it
        from kazoo.client import KazooClient

        thief = KazooClient(hosts=zk_chroot_hosts, client_id=old, timeout=1.0)
        thief.start(timeout=5)
        thief.stop()
        thief.close()
        wait_for(lambda: client.connected and client.client_id and client.client_id[0] != old[0], timeout=15)
        wait_for(lambda: client.check_watches("/ex"))
        client.set("/ex", b"new session")
        wait_for(lambda: (EventType.CHANGED, "/ex") in rec.kinds())
    finally:
        client.stop()
        client.close()


def test_failed_add_watch_is_forgotten(zk_chroot_hosts: str) -> None:
    from kazoo.exceptions import ConnectionClosedError

    client = connect(ConnectionSettings(hosts=zk_chroot_hosts))
    client.add_watch("/", Recorder())
    with pytest.raises(TypeError):
        client.add_watch("/", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.add_watch("/", Recorder(), mode="sometimes")
    client.stop()
    with pytest.raises(ConnectionClosedError):
        client.add_watch("/other", Recorder())
    wait_for(lambda: [p for p, _ in client.persistent_watches()] == ["/"])
    client.close()


def test_server_features_detects_3_8(zk: ZkClient) -> None:
    features = zk.server_features()
    assert features.version is not None and features.version >= (3, 6)
    assert features.add_watch and features.multi_read
    assert features.watch_zxid == (features.version >= (3, 9))
    assert zk.server_version() == features.version


def test_read_only_client_may_still_watch_and_read(zk_chroot_hosts: str) -> None:
    client = connect(ConnectionSettings(hosts=zk_chroot_hosts, read_only=True))
    try:
        rec = Recorder()
        assert client.add_watch("/", rec)
        assert client.multi_read([ReadChildren("/")]) == [[]]
    finally:
        client.stop()
        client.close()
