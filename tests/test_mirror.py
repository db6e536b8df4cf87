"""The mirror against a real ZooKeeper: initial sync, convergence under churn, faults, event validity."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError, NotEmptyError

from zkbench.connection import ConnectionSettings, connect
from zkbench.events import (ChildrenChanged, ConnectionStateChanged, DataChanged, NodeAdded, NodeRemoved,
                            ResyncFinished, ResyncStarted, SyncProgress)
from zkbench.fourlw import four_letter_word
from zkbench.mirror import Mirror, MirrorError, NodeInfo, StaticTree, TreeModel
from zkbench.protocol import RemoveWatches, WatcherType, ZkClient
from zkbench.server import LocalServer

STRATEGIES = ["persistent", "classic"]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def drain(events: "queue.SimpleQueue[Any]") -> list[Any]:
    out = []
    while True:
        try:
            out.append(events.get_nowait())
        except queue.Empty:
            return out


class EventChecker:
    """Replays mirror events: no create of a known path, no delete of an unknown one; tracks the path set."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.added = 0
        self.removed = 0
        self.errors: list[str] = []

    def feed(self, events: list[Any]) -> None:
        for ev in events:
            if isinstance(ev, NodeAdded):
                if ev.path in self.known:
                    self.errors.append(f"created known {ev.path}")
                self.known.add(ev.path)
                self.added += 1
            elif isinstance(ev, NodeRemoved):
                if ev.path not in self.known:
                    self.errors.append(f"deleted unknown {ev.path}")
                self.known.discard(ev.path)
                self.removed += 1
            elif isinstance(ev, DataChanged):
                if ev.path not in self.known:
                    self.errors.append(f"changed unknown {ev.path}")
                if ev.old_stat is not None and ev.new_stat.mzxid < ev.old_stat.mzxid:
                    self.errors.append(f"went back in time {ev.path}")

    def check(self, mirror: Mirror) -> None:
        assert self.errors == []
        assert self.known == set(mirror.paths())
        assert self.added - self.removed == len(mirror)


def make_tree(client: KazooClient, root: str, fanout: tuple[int, ...]) -> int:
    count = 0
    level = [root]
    for width in fanout:
        nxt = []
        for parent in level:
            for i in range(width):
                path = f"{parent}/n{i}"
                client.create_async(path, f"{path}={i}".encode())
                nxt.append(path)
                count += 1
        level = nxt
        client.sync(root)  # the async creates of this level are done before the next level needs them
    return count


@pytest.fixture
def settings(zk_hosts: str) -> ConnectionSettings:
    return ConnectionSettings(hosts=zk_hosts, session_timeout=2.0)


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def mirror_factory() -> Iterator[Callable[..., Mirror]]:
    made: list[Mirror] = []

    def make(settings: ConnectionSettings, **kwargs: Any) -> Mirror:
        mirror = Mirror(settings, **kwargs)
        made.append(mirror)
        mirror.start()
        return mirror

    yield make
    for mirror in made:
        mirror.stop()


def test_initial_sync_mirrors_structure_stat_and_data(zk_admin: ZkClient, zk_root: str, settings: ConnectionSettings,
                                                     strategy: str, mirror_factory: Callable[..., Mirror]) -> None:
    made = make_tree(zk_admin, zk_root, (4, 3, 2))
    zk_admin.create(f"{zk_root}/odd[name] é", b"\x00\xffbinary")
    mirror = mirror_factory(settings, strategy=strategy, root=zk_root)
    assert mirror.strategy == strategy
    assert mirror.ready.wait(10)
    assert len(mirror) == made + 2
    info = mirror.get(f"{zk_root}/n1/n2")
    assert isinstance(info, NodeInfo)
    assert info.data == f"{zk_root}/n1/n2=2".encode()
    assert info.stat == zk_admin.get(f"{zk_root}/n1/n2")[1]
    assert info.children == ("n0", "n1")
    assert mirror.children(zk_root) == ("n0", "n1", "n2", "n3", "odd[name] é")
    assert mirror.children(f"{zk_root}/missing") == ()
    assert f"{zk_root}/n3/n2/n1" in mirror and f"{zk_root}/n9" not in mirror
    assert mirror.get(f"{zk_root}/odd[name] é").data == b"\x00\xffbinary"  # type: ignore[union-attr]
    assert mirror.paths_with_prefix(f"{zk_root}/n", 3) == [f"{zk_root}/n0", f"{zk_root}/n1", f"{zk_root}/n2"]
    assert mirror.paths_with_prefix(f"{zk_root}/n2/", 10) == [f"{zk_root}/n2/n{i}" for i in range(3)]
    assert mirror.compare_with_server(zk_admin) == []
    assert isinstance(mirror, TreeModel)
    events = drain(mirror.events)
    checker = EventChecker()
    checker.feed(events)
    checker.check(mirror)
    assert isinstance(events[-1], SyncProgress) and events[-1].done and events[-1].known == len(mirror)
    assert any(isinstance(e, ConnectionStateChanged) and e.role == "mirror" for e in events)


def test_top_level_first(zk_admin: ZkClient, zk_root: str, settings: ConnectionSettings,
                         mirror_factory: Callable[..., Mirror]) -> None:
    make_tree(zk_admin, zk_root, (10, 10, 10))
    started = time.monotonic()
    mirror = mirror_factory(settings, root=zk_root)
    wait_for(lambda: len(mirror.children(zk_root)) == 10, timeout=1.0)
    first = time.monotonic() - started
    assert first < 1.0
    assert mirror.ready.wait(10)
    events = drain(mirror.events)
    top = next(i for i, e in enumerate(events) if isinstance(e, ChildrenChanged) and e.path == zk_root)
    deep = next(i for i, e in enumerate(events) if isinstance(e, NodeAdded) and e.path.count("/") == zk_root.count("/") + 3)
    assert top < deep  # breadth-first: the top level is announced before anything three levels down


def test_chroot_paths_are_relative(zk_chroot_hosts: str, zk_admin: ZkClient, zk_root: str,
                                   mirror_factory: Callable[..., Mirror]) -> None:
    zk_admin.create(f"{zk_root}/a/b", b"v", makepath=True)
    mirror = mirror_factory(ConnectionSettings(hosts=zk_chroot_hosts), strategy="persistent")
    assert mirror.ready.wait(10)
    assert set(mirror.paths()) == {"/", "/a", "/a/b"}
    zk_admin.create(f"{zk_root}/a/c", b"w")
    zk_admin.create(f"{zk_root}x", b"sibling with the same prefix")  # outside the chroot
    mirror.sync()
    assert set(mirror.paths()) == {"/", "/a", "/a/b", "/a/c"}
    zk_admin.delete(f"{zk_root}x")


def test_sync_sees_every_committed_write(zk_admin: ZkClient, zk_root: str, settings: ConnectionSettings,
                                         strategy: str, mirror_factory: Callable[..., Mirror]) -> None:
    zk_admin.create(f"{zk_root}/k", b"0")
    mirror = mirror_factory(settings, strategy=strategy, root=zk_root)
    for i in range(1, 30):
        zk_admin.set(f"{zk_root}/k", str(i).encode())
        if i % 3 == 0:
            zk_admin.create(f"{zk_root}/k/c{i}")
        mirror.sync(5)  # no sleeps: sync alone must be enough
        assert mirror.get(f"{zk_root}/k").data == str(i).encode()  # type: ignore[union-attr]
        assert mirror.get(f"{zk_root}/k").stat == zk_admin.get(f"{zk_root}/k")[1]  # type: ignore[union-attr]
        assert len(mirror.children(f"{zk_root}/k")) == i // 3


def test_lazy_data_for_large_znodes(zk_admin: ZkClient, zk_root: str, settings: ConnectionSettings,
                                    mirror_factory: Callable[..., Mirror]) -> None:
    big = bytes(range(256)) * 400  # 100 KB
    zk_admin.create(f"{zk_root}/big", big)
    zk_admin.create(f"{zk_root}/small", b"s")
    zk_admin.create(f"{zk_root}/empty")
    mirror = mirror_factory(settings, root=zk_root, lazy_data_over=1024)
    assert mirror.ready.wait(10)
    info = mirror.get(f"{zk_root}/big")
    assert info is not None and info.data is None and info.stat.dataLength == len(big)
    assert mirror.load_data(f"{zk_root}/big") == big
    assert mirror.load_data(f"{zk_root}/small") == b"s"
    assert mirror.load_data(f"{zk_root}/empty") == b""
    assert mirror.load_data(f"{zk_root}/nope") is None


def _writer(hosts: str, root: str, seed: int, ops: int, errors: list[BaseException]) -> None:
    rng = random.Random(seed)
    client = connect(ConnectionSettings(hosts=hosts))
    try:
        for i in range(ops):
            a, b = rng.randrange(6), rng.randrange(6)
            path = f"{root}/d{a}" if rng.random() < 0.3 else f"{root}/d{a}/e{b}"
            roll = rng.random()
            try:
                if roll < 0.35:
                    client.create(path, f"{seed}:{i}".encode(), ephemeral=rng.random() < 0.2)
                elif roll < 0.7:
                    client.set(path, f"{seed}:{i}".encode())
                else:
                    client.delete(path)
            except (NoNodeError, NodeExistsError, NotEmptyError):
                pass
            except KazooException as exc:  # NoChildrenForEphemerals is expected too; anything else is a bug
                if type(exc).__name__ != "NoChildrenForEphemeralsError":
                    errors.append(exc)
    finally:
        client.stop()  # its ephemerals vanish now: the mirror must see those deletes too
        client.close()


def test_converges_under_concurrent_random_writers(zk_hosts: str, zk_admin: ZkClient, zk_root: str,
                                                   settings: ConnectionSettings, strategy: str,
                                                   mirror_factory: Callable[..., Mirror]) -> None:
    for a in range(6):
        zk_admin.create(f"{zk_root}/d{a}", b"")
    mirror = mirror_factory(settings, strategy=strategy, root=zk_root)  # writers start during the initial sync
    errors: list[BaseException] = []
    writers = [threading.Thread(target=_writer, args=(zk_hosts, zk_root, seed, 250, errors)) for seed in range(4)]
    for w in writers:
        w.start()
    checker = EventChecker()
    while any(w.is_alive() for w in writers):
        checker.feed(drain(mirror.events))
        time.sleep(0.02)
    for w in writers:
        w.join()
    assert errors == []
    mirror.sync(10)
    checker.feed(drain(mirror.events))
    assert mirror.compare_with_server(zk_admin) == []
    checker.check(mirror)


def test_resync_emits_exactly_the_missed_differences(zk_admin: ZkClient, zk_root: str,
                                                     settings: ConnectionSettings,
                                                     mirror_factory: Callable[..., Mirror]) -> None:
    from kazoo.protocol.connection import _CONNECTION_DROP

    for name in ("keep", "gone", "changed"):
        zk_admin.create(f"{zk_root}/{name}", b"0")
    mirror = mirror_factory(settings, strategy="persistent", root=zk_root)
    assert mirror.ready.wait(10)
    client = mirror.client
    assert client is not None
    # Drop the server's watch behind the client's back, so the next changes are really missed ...
    result = client.handler.async_result()
    client.submit(RemoveWatches(client._full(zk_root), WatcherType.ANY), result)  # noqa: SLF001
    result.get(timeout=5)
    zk_admin.create(f"{zk_root}/new", b"n")
    zk_admin.delete(f"{zk_root}/gone")
    zk_admin.set(f"{zk_root}/changed", b"1")
    time.sleep(0.2)
    assert f"{zk_root}/new" not in mirror and mirror.get(f"{zk_root}/changed").data == b"0"  # type: ignore
    drain(mirror.events)
    # ... then drop the connection: ZkClient re-adds the watch and the mirror re-walks.
    client._queue.append((_CONNECTION_DROP, None))  # noqa: SLF001 - kazoo's own test hook
    client._connection._write_sock.send(b"\0")  # noqa: SLF001
    finished: list[Any] = []
    seen: list[Any] = []

    def resynced() -> bool:
        batch = drain(mirror.events)
        seen.extend(batch)
        finished.extend(e for e in batch if isinstance(e, ResyncFinished))
        return bool(finished)

    wait_for(resynced)
    changes = [e for e in seen if isinstance(e, (NodeAdded, NodeRemoved, DataChanged))]
    structural = sorted(f"{type(e).__name__} {e.path}" for e in changes if not isinstance(e, DataChanged))
    assert structural == [f"NodeAdded {zk_root}/new", f"NodeRemoved {zk_root}/gone"]
    changed_paths = {e.path for e in changes if isinstance(e, DataChanged)}
    assert changed_paths == {zk_root, f"{zk_root}/changed"}  # the root's cversion/pzxid moved too
    assert any(isinstance(e, ResyncStarted) and e.reason == "reconnected" for e in seen)
    assert (finished[0].added, finished[0].removed, finished[0].changed) == (1, 1, 2)
    assert mirror.compare_with_server(zk_admin) == []
    zk_admin.set(f"{zk_root}/keep", b"after")  # and the watch works again
    mirror.sync()
    assert mirror.get(f"{zk_root}/keep").data == b"after"  # type: ignore[union-attr]


def test_resync_after_real_session_expiry(zk_hosts: str, zk_admin: ZkClient, zk_root: str, strategy: str,
                                          mirror_factory: Callable[..., Mirror]) -> None:
    make_tree(zk_admin, zk_root, (5, 3))
    mirror = mirror_factory(ConnectionSettings(hosts=zk_hosts, session_timeout=1.0), strategy=strategy,
                            root=zk_root)
    assert mirror.ready.wait(10)
    client = mirror.client
    assert client is not None
    old = client.client_id
    thief = KazooClient(hosts=zk_hosts, client_id=old, timeout=1.0)
    thief.start(timeout=5)
    thief.stop()  # closes the mirror's session on the server: a real expiry for the mirror
    thief.close()
    zk_admin.create(f"{zk_root}/during", b"x")
    zk_admin.delete(f"{zk_root}/n4/n2")
    zk_admin.set(f"{zk_root}/n0", b"changed")
    wait_for(lambda: mirror.session_id not in (0, old[0]), timeout=15)
    mirror.sync(10)
    assert mirror.compare_with_server(zk_admin) == []
    events = drain(mirror.events)
    assert any(isinstance(e, ResyncFinished) for e in events)
    assert any(isinstance(e, ResyncStarted) and e.reason == "new session" for e in events)
    checker = EventChecker()
    checker.feed(events)
    assert checker.errors == []


def test_survives_server_restart(tmp_path: Any, strategy: str, mirror_factory: Callable[..., Mirror]) -> None:
    server = LocalServer(tmp_path / "zk", tick_time=250)
    server.start()
    try:
        admin = connect(ConnectionSettings(hosts=server.connect_string))
        admin.create("/r/a", b"1", makepath=True)
        mirror = mirror_factory(ConnectionSettings(hosts=server.connect_string, session_timeout=4.0),
                                strategy=strategy, root="/r")
        assert mirror.ready.wait(10)
        checker = EventChecker()
        checker.feed(drain(mirror.events))
        server.restart()
        wait_for(lambda: admin.connected, timeout=20)
        admin.create("/r/b", b"2")      # probably before the mirror is back: only a resync can find these
        admin.set("/r/a", b"changed")
        wait_for(lambda: mirror.client is not None and mirror.client.connected, timeout=20)
        mirror.sync(15)
        assert mirror.compare_with_server(admin) == []
        events = drain(mirror.events)
        assert any(isinstance(e, ResyncFinished) for e in events)
        checker.feed(events)
        checker.check(mirror)
        admin.stop()
        admin.close()
    finally:
        server.stop()


@pytest.mark.ensemble
def test_survives_leader_kill(zk_ensemble: Any, mirror_factory: Callable[..., Mirror]) -> None:
    hosts = zk_ensemble.connect_string
    admin = connect(ConnectionSettings(hosts=hosts, session_timeout=4.0))
    root = f"/leaderkill-{random.randrange(10**9)}"
    admin.create(f"{root}/x", b"0", makepath=True)
    mirror = mirror_factory(ConnectionSettings(hosts=hosts, session_timeout=4.0), root=root)
    assert mirror.ready.wait(15)
    leader = zk_ensemble.wait_for_leader()
    try:
        zk_ensemble.kill(leader)
        for i in range(20):
            try:
                admin.retry(admin.create, f"{root}/after{i}", str(i).encode())
            except KazooException:
                time.sleep(0.2)
        admin.retry(admin.set, f"{root}/x", b"new leader")
        mirror.sync(30)
        assert mirror.compare_with_server(admin) == []
    finally:
        zk_ensemble.restart(leader)
        admin.stop()
        admin.close()


def test_persistent_mode_uses_one_server_watch(zk_server: Any, zk_admin: ZkClient, zk_root: str,
                                               settings: ConnectionSettings,
                                               mirror_factory: Callable[..., Mirror]) -> None:
    make_tree(zk_admin, zk_root, (5, 5))
    persistent = mirror_factory(settings, strategy="persistent", root=zk_root)
    classic = mirror_factory(settings, strategy="classic", root=zk_root)
    assert persistent.ready.wait(10) and classic.ready.wait(10)
    host, port = zk_server.connect_string.split(",")[0].rsplit(":", 1)
    text = four_letter_word(host, int(port), "wchc")
    by_session: dict[int, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("0x"):
            current = int(line, 16)
            by_session[current] = []
        elif line and current is not None:
            by_session[current].append(line)
    assert by_session.get(persistent.session_id) == [zk_root]
    assert len(by_session.get(classic.session_id, [])) == 31  # data watches on all 31 znodes ("wchc": data only)


def test_persistent_refused_on_request_when_strategy_unknown(settings: ConnectionSettings) -> None:
    with pytest.raises(ValueError):
        Mirror(settings, strategy="magic")
    with pytest.raises(ValueError):
        Mirror(settings, root="relative")


def test_static_tree_is_deterministic() -> None:
    spec = {"/app": b"x", "/app/config": (b'{"a":1}', {"ephemeralOwner": 0x1234}), "/z/deep/leaf": "text"}
    one, two = StaticTree.from_dict(spec), StaticTree.from_dict(spec)
    assert one.snapshot() == two.snapshot()
    assert isinstance(one, TreeModel)
    assert one.children("/") == ("app", "z")
    assert one.children("/z") == ("deep",)
    config = one.get("/app/config")
    assert config is not None and config.stat.ephemeralOwner == 0x1234 and config.stat.dataLength == 7
    assert one.get("/app").stat.numChildren == 1  # type: ignore[union-attr]
    assert one.load_data("/z/deep/leaf") == b"text"
    assert len(one) == 6 and "/z/deep" in one
    assert one.paths_with_prefix("/a", 5) == ["/app"]
    with pytest.raises(ValueError):
        StaticTree.from_dict({"/a": (b"", {"nonsense": 1})})


def test_mirror_error_on_stop_before_start(settings: ConnectionSettings) -> None:
    mirror = Mirror(settings)
    mirror.stop()  # harmless
    with pytest.raises(MirrorError):
        mirror.sync(0.1)


def test_wide_node_does_not_stall_the_connection_thread(zk_admin: ZkClient, zk_root: str,
                                                        settings: ConnectionSettings, strategy: str,
                                                        mirror_factory: Callable[..., Mirror]) -> None:
    # Replies are applied on kazoo's connection thread; queueing hundreds of reads from there once filled kazoo's
    # wake-up socketpair and the thread blocked on itself (a regression test: 600 children -> 600 reads at once).
    make_tree(zk_admin, zk_root, (600,))
    mirror = mirror_factory(settings, strategy=strategy, root=zk_root)
    assert mirror.ready.wait(20)
    assert len(mirror) == 601


def test_unreadable_znode_is_mirrored_with_its_stat(zk_admin: ZkClient, zk_root: str, settings: ConnectionSettings,
                                                    strategy: str, mirror_factory: Callable[..., Mirror]) -> None:
    from kazoo.exceptions import NoAuthError
    from kazoo.security import make_digest_acl

    secret = make_digest_acl("ops", "pw", all=True)
    zk_admin.create(f"{zk_root}/open", b"visible")
    zk_admin.create(f"{zk_root}/secret", b"hidden", acl=[secret])
    mirror = mirror_factory(settings, strategy=strategy, root=zk_root)
    assert mirror.ready.wait(10)
    info = mirror.get(f"{zk_root}/secret")
    assert info is not None and info.data is None and info.stat.dataLength == 6  # stat via exists (no READ needed)
    assert mirror.children(zk_root) == ("open", "secret")
    with pytest.raises(NoAuthError):
        mirror.load_data(f"{zk_root}/secret")
    zk_admin.add_auth("digest", "ops:pw")
    zk_admin.set(f"{zk_root}/secret", b"changed!")
    mirror.sync()
    # ZooKeeper does not notify a session about znodes it may not READ: only a resync sees the change
    drain(mirror.events)
    mirror.resync()
    wait_for(lambda: any(isinstance(e, ResyncFinished) for e in drain(mirror.events)))
    assert mirror.get(f"{zk_root}/secret").stat.dataLength == 8  # type: ignore[union-attr]
    zk_admin.delete(f"{zk_root}/secret")
    if strategy == "classic":  # the readable parent's child watch reports the deletion
        mirror.sync()
    else:
        mirror.resync()
        mirror.sync()
    assert f"{zk_root}/secret" not in mirror
    assert mirror.compare_with_server(zk_admin) == []


def test_root_that_appears_later_and_is_recreated(zk_admin: ZkClient, zk_root: str, settings: ConnectionSettings,
                                                  strategy: str, mirror_factory: Callable[..., Mirror]) -> None:
    root = f"{zk_root}/later"
    mirror = mirror_factory(settings, strategy=strategy, root=root)
    assert mirror.ready.wait(10)
    assert len(mirror) == 0 and mirror.get(root) is None
    zk_admin.create(f"{root}/kid", b"k", makepath=True)
    mirror.sync()
    wait_for(lambda: f"{root}/kid" in mirror)  # classic: the exists watch fires, then the walk below it
    zk_admin.delete(root, recursive=True)
    mirror.sync()
    assert len(mirror) == 0
    zk_admin.create(root, b"again")
    mirror.sync()
    wait_for(lambda: mirror.get(root) is not None and mirror.get(root).data == b"again")  # type: ignore
    assert mirror.compare_with_server(zk_admin) == []
    checker = EventChecker()
    checker.feed(drain(mirror.events))
    checker.check(mirror)
