"""Recipe library tests (course projects 2-6, 8, 10) against the real test server, in one process: every
participant has its own session, as a separate program would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from zkbench.connection import ConnectionSettings, connect
from zkbench.protocol import ZkClient
from zkbench.recipes import (Barrier, ConfigWatcher, DoubleBarrier, FencedResource, JobQueue, LeaderElection,
                             LeaderLatch, Lock, Master, ServiceRegistry, ServiceWatcher, StaleTokenError, Step, TakeMode, Worker,
                             delete_config, set_config, submit_task)
from zkbench.recipes._common import create_protected, find_own_node


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def sessions(zk_chroot_hosts: str) -> Iterator[Callable[..., ZkClient]]:
    """A factory of extra sessions (chrooted at the test's subtree), all closed at the end."""
    made: list[ZkClient] = []

    def make(timeout: float = 4.0) -> ZkClient:
        client = connect(ConnectionSettings(hosts=zk_chroot_hosts, session_timeout=timeout))
        made.append(client)
        return client

    yield make
    for c in made:
        c.stop()
        c.close()


class Recorder(list):
    def __call__(self, step: Step) -> None:
        self.append(step)

    def kinds(self) -> list[str]:
        return [s.kind for s in self]

    def messages(self) -> list[str]:
        return [s.message for s in self]


# -- lock ------------------------------------------------------------------------------------------------------
def test_lock_acquire_release_with_and_narration(zk):
    steps = Recorder()
    lock = Lock(zk, "/locks/db", "alice", narrate=steps)
    with lock:
        assert lock.is_held
        assert lock.token == zk.exists(lock.node).czxid
        assert zk.get_children("/locks/db") == [lock.node.rsplit("/", 1)[1]]
    assert zk.get_children("/locks/db") == []
    assert steps.kinds() == ["created", "acquired", "released"]
    assert steps[0].message.startswith("created lock node /locks/db/_c_")
    assert steps[1].state.value == "holding" and steps[1].details["token"] > 0


def test_second_waits_watching_only_predecessor_then_acquires(zk, sessions):
    first = Lock(zk, "/locks/db", "first")
    assert first.acquire()
    steps = [Recorder(), Recorder()]
    clients = [sessions(), sessions()]
    waiters = [Lock(c, "/locks/db", f"w{i}", narrate=steps[i]) for i, c in enumerate(clients)]
    threads = []
    for w in waiters:
        t = threading.Thread(target=w.acquire)
        t.start()
        threads.append(t)
        wait_until(lambda: "waiting" in steps[waiters.index(w)].kinds(), what="waiting")
    assert first.contenders() == ["first", "w0", "w1"]
    w0_wait = [s for s in steps[0] if s.kind == "waiting"][0]
    w1_wait = [s for s in steps[1] if s.kind == "waiting"][0]
    assert w0_wait.watching == first.node and w0_wait.message.startswith("lock held by lock-")
    assert w1_wait.watching == waiters[0].node  # its predecessor, not the holder: no herd
    first_token = first.token
    first.release()
    threads[0].join(5)
    assert waiters[0].is_held and not waiters[1].is_held
    assert "woken" in steps[0].kinds() and "woken" not in steps[1].kinds()
    assert waiters[0].token > first_token
    waiters[0].release()
    threads[1].join(5)
    assert waiters[1].is_held
    waiters[1].release()


def test_waiter_timeout_deletes_its_node(zk, sessions):
    holder = Lock(zk, "/locks/x", "holder")
    holder.acquire()
    steps = Recorder()
    waiter = Lock(sessions(), "/locks/x", "w", narrate=steps)
    assert waiter.acquire(timeout=0.3) is False
    assert steps.kinds()[-1] == "gave-up"
    assert len(zk.get_children("/locks/x")) == 1  # no orphan
    assert waiter.acquire(blocking=False) is False
    holder.release()
    assert waiter.acquire(timeout=2)
    waiter.release()


def test_killing_holder_session_hands_lock_to_next(zk, sessions):
    holder_client = sessions(timeout=1.0)
    holder = Lock(holder_client, "/locks/k", "holder")
    holder.acquire()
    waiter = Lock(zk, "/locks/k", "next")
    t = threading.Thread(target=waiter.acquire)
    t.start()
    holder_client.stop()  # a graceful close: the ephemeral goes at once
    t.join(5)
    assert waiter.is_held
    waiter.release()


def test_session_loss_is_reported_and_fencing_rejects_stale_holder(zk, sessions, zk_server):
    steps = Recorder()
    stale_client = sessions(timeout=1.0)
    stale = Lock(stale_client, "/locks/f", "stale", narrate=steps)
    stale.acquire()
    resource = FencedResource(zk, "/fenced")
    resource.write(stale.token, "from stale", "stale")
    # expire the holder's session for real: a second client with the same session id and password closes it
    sid, pwd = stale_client.client_id
    thief = ZkClient(hosts=zk_server.connect_string, client_id=(sid, pwd), timeout=1.0)
    thief.start()
    thief.stop()
    thief.close()
    wait_until(lambda: stale.lost.is_set(), what="lock lost")
    assert not stale.is_held
    assert "lost" in steps.kinds() and "LOST" in steps[-1].message or any("LOST" in m for m in steps.messages())
    fresh = Lock(zk, "/locks/f", "fresh")
    assert fresh.acquire(timeout=5)
    assert fresh.token > stale.token
    resource.write(fresh.token, "from fresh", "fresh")
    wait_until(lambda: stale_client.connected, what="stale holder reconnected with a new session")
    with pytest.raises(StaleTokenError, match="rejected: token"):
        FencedResource(stale_client, "/fenced").write(stale.token, "late write", "stale")
    assert resource.read()["value"] == "from fresh"
    fresh.release()


def test_lost_create_reply_adopts_only_own_session_node(zk, sessions):
    other = sessions()
    guid = "abcdef123456"
    # the "lost reply" case: a node with our guid exists; only the one our session owns is adopted
    foreign, _ = create_protected(other, "/locks/r", "lock-", b"", guid)
    assert find_own_node(zk, "/locks/r", guid) is None
    mine, _ = create_protected(zk, "/locks/r", "lock-", b"", guid)
    found = find_own_node(zk, "/locks/r", guid)
    assert found is not None and found[0] == mine and found[0] != foreign


def test_lock_adopts_its_node_when_the_create_reply_is_lost(zk):
    """Fault injection on a real client: the create reaches the server, but the caller sees ConnectionLoss."""
    from kazoo.exceptions import ConnectionLoss

    real_create = zk.create
    calls = []

    def create_then_lose_reply(*args, **kwargs):
        result = real_create(*args, **kwargs)
        calls.append(result)
        if len(calls) == 1:
            raise ConnectionLoss("reply lost")
        return result

    zk.create = create_then_lose_reply
    try:
        lock = Lock(zk, "/locks/lost-reply", "me")
        assert lock.acquire(timeout=5)
    finally:
        del zk.create
    assert len(calls) == 1  # no second create: the node with our guid was found and adopted
    assert lock.node == calls[0][0]
    assert zk.get_children("/locks/lost-reply") == [lock.node.rsplit("/", 1)[1]]
    lock.release()


def test_queue_guarantees_when_a_worker_dies_mid_job(zk, sessions):
    # at-most-once: a worker that deleted the job to claim it and then died has lost it
    q = JobQueue(zk, "/q1")
    q.put("a")
    dying = sessions(timeout=1.0)
    assert JobQueue(dying, "/q1", mode=TakeMode.DELETE, worker="d").take(timeout=1) is not None
    dying.stop()
    assert JobQueue(zk, "/q1", mode=TakeMode.DELETE).take(timeout=0.3) is None
    # locked (the course's version): the lock goes with the session, the job is still there for the next worker
    JobQueue(zk, "/q2").put("b")
    dying = sessions(timeout=1.0)
    assert JobQueue(dying, "/q2", mode=TakeMode.LOCKED, worker="d").take(timeout=1).text == "b"
    dying.stop()
    job = JobQueue(zk, "/q2", mode=TakeMode.LOCKED, worker="next").take(timeout=5)
    assert job is not None and job.text == "b"


# -- election --------------------------------------------------------------------------------------------------
def test_election_lone_candidate_followers_and_failover(zk, sessions):
    recs = [Recorder() for _ in range(3)]
    clients = [sessions(timeout=1.0) for _ in range(3)]
    elected: list[tuple[str, int]] = []
    latches = []
    for i, c in enumerate(clients):
        latch = LeaderLatch(c, "/election", f"c{i}", narrate=recs[i],
                            on_elected=lambda epoch, i=i: elected.append((f"c{i}", epoch)))
        latches.append(latch.start())
        if i == 0:
            assert latch.wait_for_leadership(5)
        else:
            wait_until(lambda i=i: "following" in recs[i].kinds(), what="a follower")
    assert latches[0].is_leader() and not latches[1].is_leader()
    f1 = [s for s in recs[1] if s.kind == "following"][-1]
    f2 = [s for s in recs[2] if s.kind == "following"][-1]
    assert f1.watching == latches[0].node and f2.watching == latches[1].node  # each watches the one ahead
    assert f2.message.startswith("leader is node-") and "I follow" in f2.message
    assert latches[0].participants() == ["c0", "c1", "c2"]
    clients[0].stop()  # the leader goes away
    assert latches[1].wait_for_leadership(5)
    assert not latches[2].is_leader()
    assert [e[0] for e in elected] == ["c0", "c1"] and elected[1][1] > elected[0][1]  # epochs grow
    latches[1].relinquish()
    assert latches[2].wait_for_leadership(5)
    for latch in latches[1:]:
        latch.close()


def test_leader_election_run_blocks_until_elected_then_leaves(zk, sessions):
    holder = LeaderLatch(sessions(), "/election/run", "first").start()
    assert holder.wait_for_leadership(5)
    ran = threading.Event()
    result: list[object] = []
    election = LeaderElection(zk, "/election/run", "second")
    t = threading.Thread(target=lambda: result.append(election.run(lambda: (ran.set(), "led")[1])))
    t.start()
    time.sleep(0.3)
    assert not ran.is_set()  # the first candidate still leads
    holder.close()
    t.join(5)
    assert result == ["led"]
    assert zk.get_children("/election/run") == []  # run() left the election afterwards


# -- discovery, config, barriers -------------------------------------------------------------------------------
def test_service_discovery_grows_and_shrinks(zk, sessions):
    seen: list[list[str]] = []
    watcher = ServiceWatcher(zk, "payment", on_change=seen.append).start()
    assert watcher.addresses == []
    s1 = sessions(timeout=1.0)
    r1 = ServiceRegistry(s1, "payment", "127.0.0.1:8080")
    r1.register()
    r2 = ServiceRegistry(sessions(), "payment", "127.0.0.1:8081")
    node = r2.register()
    assert "/services/payment/_c_" in node
    wait_until(lambda: watcher.addresses == ["127.0.0.1:8080", "127.0.0.1:8081"], what="pool of two")
    s1.stop()  # the service dies
    wait_until(lambda: watcher.addresses == ["127.0.0.1:8081"], what="pool shrinks")
    r2.unregister()
    wait_until(lambda: watcher.addresses == [], what="empty pool")
    watcher.close()


def test_config_watcher_reloads_and_survives_delete_recreate(zk, sessions):
    steps = Recorder()
    set_config(zk, "/app/config", {"log_level": "INFO"})
    watcher = ConfigWatcher(sessions(), "/app/config", narrate=steps).start()
    assert watcher.config == {"log_level": "INFO"}
    for i in range(5):  # many updates in a row: the watch is re-registered every time
        set_config(zk, "/app/config", {"log_level": "DEBUG", "n": i})
        assert watcher.wait_for(lambda c, i=i: c.get("n") == i, 5)
    delete_config(zk, "/app/config")
    wait_until(lambda: "deleted" in steps.kinds(), what="deleted narration")
    set_config(zk, "/app/config", {"log_level": "WARN"})
    assert watcher.wait_for(lambda c: c == {"log_level": "WARN"}, 5)
    assert steps.messages()[:2] == ["reading config from /app/config", 'current config: {"log_level": "INFO"}']
    assert "config changed, reloading" in steps.messages()
    watcher.close()


def test_barrier_holds_until_removed(zk, sessions):
    Barrier(zk, "/barrier").create()
    passed = threading.Event()
    t = threading.Thread(target=lambda: Barrier(sessions(), "/barrier").wait(5) and passed.set())
    t.start()
    time.sleep(0.2)
    assert not passed.is_set()
    Barrier(zk, "/barrier").remove()
    t.join(5)
    assert passed.is_set()


def test_double_barrier_enter_needs_n_and_leave_waits_for_all(zk, sessions):
    n = 3
    entered: list[float] = []
    left: list[float] = []
    arrived: list[float] = []
    done_work: list[float] = []

    def member(i: int) -> None:
        b = DoubleBarrier(sessions(), "/db", n, f"m{i}")
        time.sleep(0.15 * i)
        arrived.append(time.time())
        assert b.enter(10)
        entered.append(time.time())
        time.sleep(0.1 * (n - i))
        done_work.append(time.time())
        assert b.leave(10)
        left.append(time.time())

    threads = [threading.Thread(target=member, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert len(left) == n
    assert min(entered) >= max(arrived)  # nobody entered early
    assert min(left) >= max(done_work)  # nobody left before everyone finished
    assert zk.get_children("/db") == []


# -- queue -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(TakeMode))
def test_job_queue_two_workers_never_take_the_same_job(zk, sessions, mode):
    producer = JobQueue(zk, "/queue")
    names = [producer.put(f"job {i}").rsplit("/", 1)[1] for i in range(12)]
    taken: list[str] = []
    lock = threading.Lock()

    def work(wid: int) -> None:
        q = JobQueue(sessions(), "/queue", mode=mode, worker=f"w{wid}")
        while True:
            job = q.take(timeout=0.5)
            if job is None:
                return
            with lock:
                taken.append(job.name)
            q.done(job)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(taken) == sorted(names)  # all done, none twice
    assert producer.jobs() == []


def test_claim_queue_recovers_job_of_dead_worker_and_worker_wakes_on_watch(zk, sessions):
    q = JobQueue(zk, "/queue", mode=TakeMode.CLAIM, worker="survivor")
    dying_client = sessions(timeout=1.0)
    dying = JobQueue(dying_client, "/queue", mode=TakeMode.CLAIM, worker="dying")
    q.put("send email")
    job = dying.take(timeout=1)
    assert job is not None
    got: list[str] = []
    t = threading.Thread(target=lambda: got.append(q.take(timeout=5).name))
    t.start()
    time.sleep(0.2)
    assert not got  # the job is claimed
    dying_client.stop()  # the worker dies: its ephemeral claim vanishes and the claims watch wakes the survivor
    t.join(6)
    assert got == [job.name]


def test_idle_worker_is_woken_by_a_watch_not_polling(zk, sessions):
    steps = Recorder()
    worker = JobQueue(sessions(), "/queue", mode=TakeMode.LOCKED, worker="2", narrate=steps)
    got: list = []
    t = threading.Thread(target=lambda: got.append(worker.take(timeout=10)))
    t.start()
    wait_until(lambda: "idle" in steps.kinds(), what="worker idle")
    time.sleep(0.5)
    assert steps.kinds().count("idle") == 1  # it sleeps on the child watch: no re-listing while idle
    JobQueue(zk, "/queue").put("send email")
    t.join(5)
    assert got[0].text == "send email"
    assert "worker 2 trying lock /queue-lock" in steps.messages()
    assert any(m.startswith('taking job-0000000000: "send email"') for m in steps.messages())
    worker.done(got[0])
    assert zk.get_children("/queue") == [] and zk.get_children("/queue-lock") == []


# -- master-worker ---------------------------------------------------------------------------------------------
def test_master_worker_assigns_and_survives_master_and_worker_death(zk, sessions):
    stop = threading.Event()
    steps = Recorder()
    m_clients = [sessions(timeout=1.0), sessions(timeout=1.0)]
    masters = [Master(c, "/mw", f"m{i}", narrate=steps) for i, c in enumerate(m_clients)]
    w_clients = [sessions(timeout=1.0), sessions(timeout=1.0)]
    slow = threading.Event()
    workers = [Worker(w_clients[0], "/mw", "w0", process=lambda d: slow.wait(0.05), narrate=steps),
               Worker(w_clients[1], "/mw", "w1", process=lambda d: slow.wait(30), narrate=steps)]
    stops = [threading.Event() for _ in range(4)]
    threads = [threading.Thread(target=x.run, args=(s,), daemon=True) for x, s in zip(masters + workers, stops)]
    for t in threads:
        t.start()
    tasks = [submit_task(zk, "/mw", f"t{i}") for i in range(6)]
    wait_until(lambda: zk.get_children("/mw/tasks/w1") if zk.exists("/mw/tasks/w1") else False,
               what="a task for w1")
    # w1 hangs on its task and then dies; the master must hand its tasks to w0
    stops[3].set()
    w_clients[1].stop()
    # and the active master dies too
    leader = 0 if masters[0].latch.is_leader() else 1
    stops[leader].set()
    m_clients[leader].stop()
    wait_until(lambda: sorted(zk.get_children("/mw/done")) == sorted(tasks), 15, "all tasks done")
    assert {s.kind for s in steps} >= {"assigned", "reassigned", "task-done", "elected"}
    stop.set()
    for s in stops:
        s.set()
    slow.set()


def test_deposed_master_cannot_write(zk, sessions):
    client = sessions(timeout=1.0)
    master = Master(client, "/mw", "m")
    stop = threading.Event()
    t = threading.Thread(target=master.run, args=(stop,), daemon=True)
    t.start()
    wait_until(master.latch.is_leader, what="master elected")
    zk.delete(master.latch.node)  # an operator (or session expiry) removes the election node
    tx = client.transaction()
    tx.check(master.latch.node or "/mw/masters/none", -1)
    tx.create("/mw/jobs/should-not-exist")
    results = tx.commit()
    assert any(isinstance(r, Exception) for r in results)
    assert zk.exists("/mw/jobs/should-not-exist") is None
    stop.set()
    t.join(5)
