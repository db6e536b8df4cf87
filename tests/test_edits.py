"""zkbench.edits against the real test server: every create mode, versioned set, counted recursive delete."""

from __future__ import annotations

import threading

import pytest
from kazoo import exceptions as kex

from zkbench import edits
from zkbench.connection import ConnectionSettings, connect
from zkbench.edits import ConflictError, CreateMode
from zkbench.errors import ReadOnlyError, explain

CONTAINER_OWNER = 0x8000000000000000


def owner(stat) -> int:  # noqa: ANN001
    return stat.ephemeralOwner & 0xFFFFFFFFFFFFFFFF


def test_create_persistent_and_ephemeral(zk):
    res = edits.create(zk, "/p", b"hello")
    assert res.path == "/p" and zk.get("/p")[0] == b"hello"
    assert owner(zk.exists("/p")) == 0
    res = edits.create(zk, "/p/e", b"", CreateMode.EPHEMERAL)
    assert owner(zk.exists("/p/e")) == zk.client_id[0]


def test_create_sequential_modes(zk):
    edits.create(zk, "/q")
    a = edits.create(zk, "/q/job-", b"1", CreateMode.PERSISTENT_SEQUENTIAL)
    b = edits.create(zk, "/q/job-", b"2", CreateMode.EPHEMERAL_SEQUENTIAL)
    assert a.path.startswith("/q/job-") and len(a.path) == len("/q/job-") + 10
    assert int(b.path[-10:]) == int(a.path[-10:]) + 1
    assert owner(zk.exists(b.path)) == zk.client_id[0]


def test_create_container_and_ttl(zk):
    """Both are created through zkbench's own opcodes (19, 21). ZooKeeper 3.8 reports ephemeralOwner 0 for them
    (DataNode.copyStat hides the CONTAINER / TTL markers from clients), so the UI can only mark the ones it made."""
    c = edits.create(zk, "/c", b"x", CreateMode.CONTAINER)
    assert c.path == "/c" and c.stat is not None and c.stat.dataLength == 1
    assert zk.get("/c")[0] == b"x"
    assert owner(zk.exists("/c")) in (0, CONTAINER_OWNER)
    t = edits.create(zk, "/t", b"y", CreateMode.TTL, ttl_ms=60000)
    assert t.path == "/t" and zk.get("/t")[0] == b"y"
    o = owner(zk.exists(t.path))
    assert o == 0 or (o >> 56 == 0xFF)
    ts = edits.create(zk, "/t/s-", b"", CreateMode.TTL_SEQUENTIAL, ttl_ms=5000)
    assert ts.path.startswith("/t/s-") and len(ts.path) == len("/t/s-") + 10
    with pytest.raises(ValueError, match="TTL between"):
        edits.create(zk, "/t2", b"", CreateMode.TTL, ttl_ms=0)


def test_create_errors_are_one_line(zk):
    edits.create(zk, "/dup")
    with pytest.raises(kex.NodeExistsError) as err:
        edits.create(zk, "/dup")
    assert explain(err.value, "/dup") == "Node already exists: /dup"
    with pytest.raises(ValueError, match="TTL"):
        edits.create(zk, "/x", b"", CreateMode.TTL)
    with pytest.raises(ValueError, match="start with"):
        edits.create(zk, "rel")
    with pytest.raises(ValueError, match="empty path element"):
        edits.create(zk, "/a//b")
    with pytest.raises(kex.NoNodeError):
        edits.create(zk, "/missing/child")
    assert edits.create(zk, "/made/deep/child", makepath=True).path == "/made/deep/child"


def test_set_with_version_and_conflict(zk, zk_admin, zk_root):
    zk.create("/cfg", b"v0")
    _, stat = zk.get("/cfg")
    new = edits.set_data(zk, "/cfg", b"v1", stat.version)
    assert new.version == stat.version + 1
    # another client writes twice: our edit made at version 1 must not overwrite it
    zk_admin.set(zk_root + "/cfg", b"other")
    zk_admin.set(zk_root + "/cfg", b"other2")
    with pytest.raises(ConflictError) as err:
        edits.set_data(zk, "/cfg", b"mine", new.version)
    assert err.value.expected == 1 and err.value.actual == 3
    assert "dataVersion 1" in str(err.value) and "dataVersion 3" in str(err.value)
    assert explain(err.value) == str(err.value)
    assert zk.get("/cfg")[0] == b"other2"
    zk_admin.delete(zk_root + "/cfg")
    with pytest.raises(ConflictError, match="deleted by another client"):
        edits.set_data(zk, "/cfg", b"mine", 3)


def test_recursive_delete_counts(zk):
    for i in range(5):
        for j in range(4):
            zk.create(f"/tree/a{i}/b{j}", b"", makepath=True)
    assert edits.count_subtree(zk, "/tree") == 1 + 5 + 20
    with pytest.raises(kex.NotEmptyError):
        edits.delete(zk, "/tree")
    res = edits.delete(zk, "/tree", recursive=True)
    assert res.deleted == 26 and zk.exists("/tree") is None
    with pytest.raises(kex.NoNodeError):
        edits.delete(zk, "/tree", recursive=True)


def test_recursive_delete_races_with_creator(zk):
    zk.ensure_path("/race/x")
    stop = threading.Event()

    def creator() -> None:
        i = 0
        while not stop.is_set():
            try:
                zk.create(f"/race/x/n{i}", b"")
            except (kex.NoNodeError, kex.NodeExistsError):
                pass
            i += 1
            stop.wait(0.003)  # a busy but realistic writer; a tight loop can starve any recursive delete

    t = threading.Thread(target=creator)
    t.start()
    try:
        res = edits.delete(zk, "/race", recursive=True)
    finally:
        stop.set()
        t.join()
    assert res.deleted >= 2
    zk.delete("/race", recursive=True) if zk.exists("/race") else None


def test_read_only_refuses_everything(zk_chroot_hosts, zk):
    zk.create("/keep", b"1")
    ro = connect(ConnectionSettings(hosts=zk_chroot_hosts, read_only=True))
    try:
        for call in (lambda: edits.create(ro, "/new"),
                     lambda: edits.set_data(ro, "/keep", b"2", 0),
                     lambda: edits.delete(ro, "/keep", recursive=True),
                     lambda: ro.create("/direct")):
            with pytest.raises(ReadOnlyError, match="Read-only"):
                call()
    finally:
        ro.stop()
        ro.close()
    assert zk.get("/keep")[0] == b"1" and zk.exists("/new") is None
