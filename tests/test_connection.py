"""zkbench.connection: connect strings, auth, read-only refusal and one-line connection failures."""

from __future__ import annotations

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

from zkbench.connection import (Connection, ConnectError, ConnectionSettings, connect, parse_connect_string)
from zkbench.errors import ReadOnlyError, explain
from zkbench.events import ConnectionState
from zkbench.server import free_port


@pytest.mark.parametrize("text, hosts, chroot", [
    ("127.0.0.1:2181", (("127.0.0.1", 2181),), None),
    ("zk1,zk2:2182,zk3:2183/app/x", (("zk1", 2181), ("zk2", 2182), ("zk3", 2183)), "/app/x"),
    ("[::1]:2181/", (("::1", 2181),), None),
    (" h:1 , h:2 ", (("h", 1), ("h", 2)), None),
])
def test_parse_connect_string(text, hosts, chroot):
    cs = parse_connect_string(text)
    assert cs.hosts == hosts and cs.chroot == chroot


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"), ("h:abc", "not a number"), ("h:70000", "out of range"), ("h:1,,h:2", "empty host"),
    ("h:1/a//b", "invalid chroot"), ("::1:2181", "IPv6"),
])
def test_bad_connect_strings_say_why(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_connect_string(text)


def test_dead_server_is_one_line():
    port = free_port()
    with pytest.raises(ConnectError) as info:
        connect(ConnectionSettings(hosts=f"127.0.0.1:{port}", connect_timeout=1.5))
    message = str(info.value)
    assert "\n" not in message and f"127.0.0.1:{port} connection refused" in message


def test_digest_acl_needs_credentials(zk_hosts, zk_root, zk_admin):
    acl = make_digest_acl("alice", "s3cret", all=True)
    zk_admin.create(f"{zk_root}/secure", b"top", acl=[acl])
    anonymous = connect(ConnectionSettings(hosts=zk_hosts))
    try:
        with pytest.raises(NoAuthError) as info:
            anonymous.get(f"{zk_root}/secure")
        assert explain(info.value, f"{zk_root}/secure") == f"Not authenticated for {zk_root}/secure"
    finally:
        anonymous.stop()
        anonymous.close()
    alice = connect(ConnectionSettings(hosts=zk_hosts, auth=(("digest", "alice:s3cret"),)))
    try:
        assert alice.get(f"{zk_root}/secure")[0] == b"top"
    finally:
        alice.stop()
        alice.close()


def test_read_only_refuses_every_write(zk_chroot_hosts, zk):
    zk.create("/existing", b"v1")
    ro = connect(ConnectionSettings(hosts=zk_chroot_hosts, read_only=True))
    try:
        assert ro.get("/existing")[0] == b"v1"  # reads work
        for attempt in (lambda: ro.create("/new", b"x"), lambda: ro.set("/existing", b"v2"),
                        lambda: ro.delete("/existing"), lambda: ro.ensure_path("/a/b"),
                        lambda: ro.create("/eph", ephemeral=True)):
            with pytest.raises(ReadOnlyError, match="Read-only mode"):
                attempt()
        tx = ro.transaction()
        tx.create("/in-txn")
        with pytest.raises(ReadOnlyError):
            tx.commit()
    finally:
        ro.stop()
        ro.close()
    assert zk.get("/existing")[0] == b"v1" and zk.exists("/new") is None and zk.exists("/in-txn") is None


def test_connection_reports_states_and_session(zk_hosts):
    seen = []
    conn = Connection(ConnectionSettings(hosts=zk_hosts), on_event=seen.append)
    conn.open()
    try:
        assert conn.session_id != 0 and conn.server and conn.server.startswith("127.0.0.1:")
        assert [e.state for e in seen][:2] == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]
        assert seen[1].session_id == conn.session_id
        conn.read_only = True
        with pytest.raises(ReadOnlyError):
            conn.client.create("/t/never")
    finally:
        conn.close()
    assert seen[-1].state is ConnectionState.CLOSED
