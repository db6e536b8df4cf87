"""Every shell command against the live test server, with its error cases (engine only, no Textual)."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

import pytest
from kazoo.security import make_digest_acl_credential

from zkbench.connection import ConnectionSettings, connect
from zkbench.shell import ClientSession, Outcome, Result, Shell

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def shell(zk, zk_chroot_hosts: str, events: list[str]) -> Shell:  # noqa: ANN001
    return Shell(ClientSession(zk, zk_chroot_hosts), notify=events.append)


def ok(shell: Shell, line: str, *, yes: bool = False) -> Result:
    outcome = shell.run(line, yes=yes)
    assert outcome.ok, f"{line!r} failed: {outcome.error or outcome.confirm}"
    assert outcome.result is not None
    return outcome.result


def err(shell: Shell, line: str) -> str:
    outcome = shell.run(line)
    assert not outcome.ok, f"{line!r} should have failed"
    assert outcome.error is not None and "\n" not in outcome.error, outcome.error
    assert "Traceback" not in outcome.error and "Internal error" not in outcome.error
    return outcome.error


def wait_until(predicate, timeout: float = 5.0, message=lambda: "") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met in time {message()}"
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------------ zkCli basics

def test_ls_variants(shell: Shell, zk, events: list[str]) -> None:  # noqa: ANN001
    zk.create("/a/b/c", b"", makepath=True)
    zk.create("/a/x")
    assert ok(shell, "ls /a").text == "[b, x]"
    assert ok(shell, "ls /a/").text == "[b, x]"  # a completed directory keeps its slash
    text = ok(shell, "ls -s /a").text
    assert text.splitlines()[0] == "[b, x]" and "numChildren = 2" in text and text.count(" = ") == 11
    assert ok(shell, "ls -R /a").text.splitlines() == ["/a", "/a/b", "/a/b/c", "/a/x"]
    assert ok(shell, "ls -w /a").data["children"] == ["b", "x"]
    zk.create("/a/y")
    wait_until(lambda: any("NodeChildrenChanged path:/a" in e for e in events))
    assert err(shell, "ls /missing") == "Node does not exist: /missing"
    assert "unknown option -q" in err(shell, "ls -q /")


def test_create_modes_and_errors(shell: Shell, zk, zk_admin, zk_root: str) -> None:  # noqa: ANN001
    assert ok(shell, "create /a 'hello world'").text == "Created /a"
    assert zk.get("/a")[0] == b"hello world"
    assert err(shell, "create /a again") == "Node already exists: /a"
    assert "Node does not exist: /no" in err(shell, "create /no/child")
    assert ok(shell, "create -p /deep/er/node x").text == "Created /deep/er/node"
    ok(shell, "create /nodata")
    assert ok(shell, "get /nodata").text == "null"  # zkCli stores no data as null, and prints it so
    seq = ok(shell, "create -s /a/job- j").text
    assert seq.startswith("Created /a/job-") and len(seq.split("job-")[1]) == 10
    assert ok(shell, "create -s /a/ j").text.startswith("Created /a/00000000")  # sequence names only
    ok(shell, "create -e /eph")
    assert zk.exists("/eph").ephemeralOwner == zk.client_id[0]
    assert err(shell, "create /eph/child") == "Ephemerals cannot have children: /eph/child"
    ok(shell, "create -c /container")
    assert zk_admin.exists(zk_root + "/container") is not None  # (3.8 hides the container marker in stats)
    ok(shell, "create -t 60000 /ttl x")
    assert zk.exists("/ttl") is not None
    ok(shell, "create /ro x world:anyone:r")
    assert [(a.id.scheme, a.perms) for a in zk.get_acls("/ro")[0]] == [("world", 1)]
    assert "Invalid value" in err(shell, "create /badacl x world:anyone:q")
    assert "too many arguments" in err(shell, "create /a hello world extra")


def test_get_set_stat_and_binary_round_trip(shell: Shell, zk, events: list[str]) -> None:  # noqa: ANN001
    zk.create("/n", b"v1")
    assert ok(shell, "get /n").text == "v1"
    text = ok(shell, "get -s /n").text
    assert text.startswith("v1\ncZxid = 0x") and "dataVersion = 0" in text
    blob = bytes(range(256)) * 3
    ok(shell, f"set -b /n {base64.b64encode(blob).decode()}")
    assert zk.get("/n")[0] == blob
    assert base64.b64decode(ok(shell, "get -b /n").text) == blob
    assert ok(shell, "get -x /n").text.startswith("00000000  00 01 02 03")
    assert ok(shell, "get /n").data["encoding"] == "base64"
    assert "\x00" not in ok(shell, "get /n").text  # control bytes never reach the terminal raw
    assert "Invalid base64" in err(shell, "set -b /n ***")
    ok(shell, "set /n v2")
    ok(shell, "set -v 2 /n v3")
    assert err(shell, "set -v 4 /n v4") == "Bad version: expected 4, server has 3 (/n)"
    assert "dataVersion = 4" in ok(shell, "set -s /n v5").text
    assert err(shell, "set /missing x") == "Node does not exist: /missing"
    stat = ok(shell, "stat /n").text.splitlines()
    assert [line.split(" = ")[0] for line in stat] == ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion",
                                                       "dataVersion", "aclVersion", "ephemeralOwner",
                                                       "dataLength", "numChildren"]
    assert err(shell, "stat /missing") == "Node does not exist: /missing"
    ok(shell, "get -w /n")
    zk.set("/n", b"changed")
    wait_until(lambda: any("NodeDataChanged path:/n" in e for e in events))
    err(shell, "stat -w /later")  # missing, but the exists watch is set
    zk.create("/later")
    wait_until(lambda: any("NodeCreated path:/later" in e for e in events))


def test_delete_and_deleteall(shell: Shell, zk) -> None:  # noqa: ANN001
    for p in ("/d/a/1", "/d/a/2", "/d/b"):
        zk.create(p, makepath=True)
    assert err(shell, "delete /d") == "Node not empty: /d (2 children) - use deleteall"
    assert err(shell, "delete -v 3 /d/b") == "Bad version: expected 3, server has 0 (/d/b)"
    ok(shell, "delete -v 0 /d/b")
    assert err(shell, "delete /d/b") == "Node does not exist: /d/b"
    outcome = shell.run("deleteall /d")
    assert not outcome.ok and outcome.confirm == "deleteall /d: delete 4 znodes? [y/N]"
    assert zk.exists("/d") is not None
    ok(shell, "deleteall /d", yes=True)
    assert zk.exists("/d") is None
    zk.create("/r/s", makepath=True)
    ok(shell, "rmr /r --yes")
    assert zk.exists("/r") is None
    assert err(shell, "delete /") == "Refusing to delete the root znode /"


def test_acls_auth_and_whoami(shell: Shell, zk, zk_chroot_hosts: str) -> None:  # noqa: ANN001
    zk.create("/secure", b"s")
    assert ok(shell, "getAcl /secure").text == "'world,'anyone\n: cdrwa"
    digest = make_digest_acl_credential("bob", "pw")
    ok(shell, f"setAcl /secure digest:{digest}:cdrwa")
    assert err(shell, "get /secure") == "Not authenticated for /secure"
    ok(shell, "addauth digest bob:pw")
    assert err(shell, "setAcl -v 7 /secure world:anyone:r") == "Bad version: expected aclVersion 7, server has " \
                                                                "aclVersion 1 (/secure)"
    assert ok(shell, "get /secure").text == "s"
    assert "digest: bob" in ok(shell, "whoami").text.splitlines()
    assert ok(shell, "whoami").text.splitlines()[0] == "Auth scheme: User"
    assert all("pw" not in line for line in shell.history)
    assert "addauth digest bob:***" in shell.history
    assert err(shell, "redo " + str(shell.history.index("addauth digest bob:***"))).startswith("redo: the secret")
    zk.create("/tree/a/b", makepath=True)
    ok(shell, "setAcl -R /tree world:anyone:rw")
    assert all(zk.get_acls(p)[0][0].perms == 3 for p in ("/tree", "/tree/a", "/tree/a/b"))


def test_sync_ephemerals_children_number_config(shell: Shell, zk) -> None:  # noqa: ANN001
    assert ok(shell, "sync /").text == "Sync is OK"
    zk.create("/e/one", ephemeral=True, makepath=True)
    zk.create("/e/two", ephemeral=True)
    assert ok(shell, "getEphemerals").text == "[/e/one, /e/two]"
    assert ok(shell, "getEphemerals /e/t").text == "[/e/two]"
    assert ok(shell, "getAllChildrenNumber /e").text == "2"
    assert ok(shell, "config").data is not None


def test_persistent_watches_and_printwatches(shell: Shell, zk, events: list[str]) -> None:  # noqa: ANN001
    zk.create("/pw")
    ok(shell, "addWatch /pw")
    zk.create("/pw/a/b", makepath=True)
    wait_until(lambda: any("NodeCreated path:/pw/a/b" in e for e in events))
    ok(shell, "printwatches off")
    n = len(events)
    zk.set("/pw/a", b"x")
    time.sleep(0.3)
    assert len(events) == n
    ok(shell, "printwatches on")
    ok(shell, "removewatches /pw")
    assert err(shell, "removewatches /pw") == "No watch of that kind on /pw"
    ok(shell, "addWatch /pw")
    ok(shell, "get -w /pw/a")  # a one-shot watch under it: warned about ZOOKEEPER-4466
    assert any("ZOOKEEPER-4466" in e for e in events)
    ok(shell, "removewatches /pw")
    ok(shell, "addWatch -m PERSISTENT /pw")
    assert "mode must be" in err(shell, "addWatch -m SOMETIMES /pw")


def test_quotas(shell: Shell, zk) -> None:  # noqa: ANN001
    zk.create("/q/a", b"12345", makepath=True)
    ok(shell, "setquota -n 5 /q")
    text = ok(shell, "listquota /q").text.splitlines()
    assert text[1] == "Output quota for /q count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
    assert text[2] == "Output stat for /q count=2,bytes=5"
    ok(shell, "setquota -B 100 /q")
    assert "byteHardLimit=100" in ok(shell, "listquota /q").text
    assert "quotas cannot nest" in err(shell, "setquota -n 1 /q/a")
    ok(shell, "delquota -n /q")
    assert "count=-1," in ok(shell, "listquota /q").text
    ok(shell, "delquota /q")
    assert err(shell, "listquota /q") == "quota for /q does not exist."


def test_history_redo_help_version_and_unknown(shell: Shell, zk) -> None:  # noqa: ANN001
    ok(shell, "create /h 1")
    ok(shell, "ls /")
    assert ok(shell, "history").text.splitlines()[-2:] == ["0 - create /h 1", "1 - ls /"]
    assert ok(shell, "redo 1").text == "[h]"
    assert err(shell, "redo 42") == "redo: no command number 42 (see history)"
    assert err(shell, "lss /") == "Unknown command 'lss' - did you mean 'ls'?"
    ok(shell, "getacl /")  # zkCli's camelCase, forgiving about case
    help_text = ok(shell, "help").text
    for name in ("addWatch", "getAllChildrenNumber", "txn", "dump", "watch", "mntr"):
        assert name in help_text
    assert "check path version" in ok(shell, "help txn").text
    assert "ZooKeeper server version: 3.8" in ok(shell, "version").text
    assert shell.run("quit").quit


def test_connect_and_close(zk_chroot_hosts: str) -> None:
    client = connect(ConnectionSettings(hosts=zk_chroot_hosts, session_timeout=2.0))
    sh = Shell(ClientSession(client, zk_chroot_hosts))
    try:
        ok(sh, "create -e /mine")
        ok(sh, "close")
        assert err(sh, "ls /").startswith("Not connected")
        assert "another server" in err(sh, "connect 10.0.0.1:2181")
        ok(sh, "connect")
        assert ok(sh, "ls /").text == "[]"  # a new session: the ephemeral went with the old one
        assert err(sh, "addauth nosuchscheme x").startswith("Authentication failed: the server rejected the "
                                                          "nosuchscheme credentials and closed the session")
        ok(sh, "connect")
        ok(sh, "ls /")
    finally:
        client.stop()
        client.close()


# ------------------------------------------------------------------------------------------------ beyond zkCli

def test_cd_pwd_and_relative_paths(shell: Shell, zk) -> None:  # noqa: ANN001
    zk.create("/app/conf", b"c", makepath=True)
    ok(shell, "cd app")
    assert ok(shell, "pwd").text == "/app"
    assert ok(shell, "get conf").text == "c"
    ok(shell, "create sub x")
    assert zk.exists("/app/sub")
    ok(shell, "cd ..")
    assert shell.cwd == "/"
    ok(shell, "cd -")
    assert shell.cwd == "/app"
    assert err(shell, "cd /nowhere") == "Node does not exist: /nowhere"


def test_tree_find_grep_du_count(shell: Shell, zk) -> None:  # noqa: ANN001
    zk.create("/t/a/b", b"needle here\nother", makepath=True)
    zk.set("/t", b"abc")
    zk.create("/t/c", b"hay")
    zk.create("/t/e", ephemeral=True)
    assert ok(shell, "tree /t").text.splitlines() == ["/t", "├── a", "│   └── b", "├── c", "└── e"]
    assert ok(shell, "tree /t 1").text.splitlines() == ["/t", "├── a", "├── c", "└── e"]
    assert ok(shell, "find /t 'b*'").text == "/t/a/b"
    assert ok(shell, "find /t /a").text.splitlines() == ["/t/a", "/t/a/b"]
    assert ok(shell, "grep /t needle").text == "/t/a/b: needle here"
    assert ok(shell, "grep -i /t NEEDLE").text == "/t/a/b: needle here"
    assert ok(shell, "du /t").text == str(3 + len(b"needle here\nother") + 3)
    assert ok(shell, "count /t").text == "5 znodes (1 ephemeral)"


def test_cp_mv_rm_diff(shell: Shell, zk) -> None:  # noqa: ANN001
    zk.create("/src/a", b"\x00\xffbin", makepath=True)
    zk.set("/src", b"root")
    zk.create("/src/ro/kid", b"k", makepath=True)
    ok(shell, "setAcl /src/ro world:anyone:ra")  # no create permission: cp must still copy its child
    ok(shell, "cp /src /copy")
    assert zk.get("/copy/a")[0] == b"\x00\xffbin" and zk.get("/copy")[0] == b"root"
    assert zk.get("/copy/ro/kid")[0] == b"k" and zk.get_acls("/copy/ro")[0][0].perms == 17
    ok(shell, "setAcl /src/ro world:anyone:cdrwa")
    ok(shell, "setAcl /copy/ro world:anyone:cdrwa")
    ok(shell, "rm -r /src/ro --yes")
    ok(shell, "rm -r /copy/ro --yes")
    assert "identical" in ok(shell, "diff /src /copy").text
    zk.set("/copy/a", b"new")
    zk.create("/copy/extra")
    zk.create("/src/gone")
    assert ok(shell, "diff /src /copy").text.splitlines() == ["~ a (data differs: 5 vs 3 bytes)", "+ extra",
                                                              "- gone"]
    assert err(shell, "cp /src /copy") == "Node already exists: /copy (cp does not overwrite)"
    assert err(shell, "cp /src /src/inside").startswith("Cannot copy /src into itself")
    outcome = shell.run("mv /copy /moved")
    assert outcome.confirm == "mv /copy /moved: move 3 znodes? [y/N]"
    assert "atomically" in ok(shell, "mv /copy /moved", yes=True).text
    assert zk.exists("/copy") is None and zk.get("/moved/a")[0] == b"new"
    zk.create("/moved/eph", ephemeral=True)
    assert "ephemeral" in err(shell, "mv /moved /again --yes")
    zk.delete("/moved/eph")
    ok(shell, "rm /moved/extra")
    assert shell.run("rm -r /moved").confirm is not None
    ok(shell, "rm -r /moved --yes")
    assert zk.exists("/moved") is None


def test_json_get_set(shell: Shell, zk) -> None:  # noqa: ANN001
    zk.create("/cfg", json.dumps({"log": {"level": "INFO"}, "replicas": [1, 2]}).encode())
    assert ok(shell, "json get /cfg log.level").text == "INFO"
    assert ok(shell, "json get /cfg replicas.1").text == "2"
    ok(shell, "json set /cfg log.level DEBUG")
    ok(shell, "json set /cfg replicas.0 7")
    ok(shell, 'json set /cfg extra \'{"on": true}\'')
    assert json.loads(zk.get("/cfg")[0]) == {"log": {"level": "DEBUG"}, "replicas": [7, 2], "extra": {"on": True}}
    assert err(shell, "json get /cfg nope.x") == "json: no key 'nope.x' in /cfg"
    zk.create("/plain", b"not json")
    assert err(shell, "json get /plain").startswith("/plain does not hold JSON")


def test_txn_is_atomic(shell: Shell, zk) -> None:  # noqa: ANN001
    zk.create("/b", b"old")
    zk.create("/c")
    zk.create("/d", b"x")
    text = ok(shell, "txn create /a 'x;y' ; set /b new ; delete /c ; check /d 0").text
    assert text.splitlines() == ["Created /a", "Set /b (dataVersion 1)", "Deleted /c", "Checked /d"]
    assert zk.get("/a")[0] == b"x;y" and zk.get("/b")[0] == b"new" and zk.exists("/c") is None
    error = err(shell, "txn create /new x ; set -v 9 /b y")
    assert error == "Transaction failed at operation 2 (set /b): Bad version (set /b); nothing was applied"
    assert zk.exists("/new") is None
    assert "unknown operation" in err(shell, "txn frobnicate /x")
    assert err(shell, "txn ; ;").startswith("txn: no operations")


def test_dump_then_load_into_an_empty_chroot(shell: Shell, zk, zk_admin, zk_hosts: str,  # noqa: ANN001
                                             zk_root: str, tmp_path: Path) -> None:
    blob = bytes(range(256))
    zk.create("/app/bin", blob, makepath=True)
    zk.create("/app/text", "héllo wörld".encode())
    zk.create("/app/empty")
    digest = make_digest_acl_credential("bob", "pw")
    from kazoo.security import ACL, Id

    zk.create("/app/locked", b"L", acl=[ACL(31, Id("digest", digest)), ACL(1, Id("world", "anyone"))])
    zk.create("/app/session", b"eph", ephemeral=True)
    file = tmp_path / "app.json"
    hidden = ok(shell, f"dump /app {file}").text  # without bob's credentials the server hides his hash
    assert "1 ACL with a hidden digest hash (not restorable; addauth first)" in hidden
    ok(shell, "addauth digest bob:pw")
    assert "1 ephemeral" in ok(shell, f"dump /app {file}").text
    doc = json.loads(file.read_text())
    assert {n["path"]: n["encoding"] for n in doc["nodes"]}["bin"] == "base64"

    zk_admin.create(zk_root + "-restore")
    client = connect(ConnectionSettings(hosts=zk_hosts + zk_root + "-restore"))
    try:
        restore = Shell(ClientSession(client))
        text = ok(restore, f"load {file} /app").text
        assert "Loaded 5 znodes into /app (5 created, 0 overwritten)" in text
        assert "Not restored (1 ephemeral): [/app/session]" in text
        client.add_auth("digest", "bob:pw")  # to see bob's hash in getACL (the server hides it otherwise)
        for path in ("/app", "/app/bin", "/app/text", "/app/empty", "/app/locked"):
            assert client.get(path)[0] == zk.get(path)[0], path
            assert client.get_acls(path)[0] == zk.get_acls(path)[0], path
        assert client.exists("/app/session") is None
        outcome = restore.run(f"load {file} /app")
        assert outcome.confirm == f"load {file} into /app: 5 of 5 znodes already exist and will be overwritten? [y/N]"
        client.set("/app/text", b"edited")
        assert "5 overwritten" in ok(restore, f"load {file} /app", yes=True).text
        assert client.get("/app/text")[0] == "héllo wörld".encode()
    finally:
        client.stop()
        client.close()
        zk_admin.delete(zk_root + "-restore", recursive=True)
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    assert "is not a zkbench dump" in err(shell, f"load {bad}")
    assert "No such file" in err(shell, f"load {tmp_path / 'missing.json'}")


def test_watch_streams_changes_until_stopped(shell: Shell, zk) -> None:  # noqa: ANN001
    zk.create("/w", b"0")
    result = ok(shell, "watch /w")
    assert result.stream is not None
    lines: list[str] = []
    result.stream.start(lines.append)
    zk.set("/w", b"1")
    zk.create("/w/kid", b"k")
    # the stream reads a created znode's data after the event: delete only once it has (else "already gone")
    wait_until(lambda: len(lines) >= 2, message=lambda: lines)
    zk.delete("/w/kid")
    wait_until(lambda: len(lines) >= 3, message=lambda: lines)
    assert "changed  /w v1 = '1'" in lines[0]
    assert "created  /w/kid v0 = 'k'" in lines[1]
    assert "deleted  /w/kid" in lines[2]
    result.stream.stop()
    zk.set("/w", b"2")
    time.sleep(0.3)
    assert len(lines) == 3
    limited = ok(shell, "watch -d /w -n 1").stream
    got: list[str] = []
    limited.start(got.append)
    zk.set("/w", b"3")
    assert limited.wait(5) and len(got) == 1 and "changed  /w v3" in got[0]


def test_four_letter_words(shell: Shell) -> None:
    assert ok(shell, "ruok").text == "imok"
    assert "Mode: standalone" in ok(shell, "srvr").text
    assert "zk_version" in ok(shell, "mntr").data


# ------------------------------------------------------------------------------------------------ safety, limits

def test_read_only_refuses_every_write(shell: Shell, zk) -> None:  # noqa: ANN001
    zk.create("/keep", b"k")
    zk.read_only = True
    try:
        for line in ("create /x", "set /keep y", "delete /keep", "deleteall /keep --yes", "setAcl /keep "
                     "world:anyone:r", "cp /keep /k2", "mv /keep /k3 --yes", "txn delete /keep",
                     "json set /keep a 1", "setquota -n 1 /keep", "rm -r /keep --yes"):
            assert err(shell, line).startswith("Read-only mode: refusing to"), line
        assert ok(shell, "get /keep").text == "k"
        assert zk.get("/keep")[0] == b"k"
    finally:
        zk.read_only = False


def test_two_megabyte_value_is_refused_and_the_session_recovers(shell: Shell, zk) -> None:  # noqa: ANN001
    zk.create("/big")
    ok(shell, "create -e /mine")
    session = zk.client_id[0]
    error = err(shell, "set /big " + "x" * (2 * 1024 * 1024))
    assert error.startswith("Value too large for /big: 2,097,152 bytes is over the server's limit")
    assert ok(shell, "get /big").text == ""
    assert zk.client_id[0] == session and zk.exists("/mine") is not None  # same session, ephemeral kept


def test_output_matches_real_zkcli(shell: Shell, zk, zk_hosts: str, zk_root: str) -> None:  # noqa: ANN001
    """Muscle memory: the same commands print the same text as ZooKeeper's own zkCli.sh (an outside client)."""
    zk.create("/same/kid", b"data", makepath=True)
    zk.set("/same", b"hello")
    script = f"ls -s {zk_root}/same\ngetAcl {zk_root}/same\nget {zk_root}/same\n"
    proc = subprocess.run([ZKCLI, "-server", zk_hosts], input=script, capture_output=True, text=True,
                          timeout=60)
    theirs = proc.stdout
    ours = "\n".join(ok(shell, line).text for line in ("ls -s /same", "getAcl /same", "get /same"))
    assert ours in theirs, f"ours:\n{ours}\n\nzkCli:\n{theirs}"


def test_errors_never_escape(shell: Shell) -> None:
    for line in ("'", "create", "get -v x /", "set /a", "redo x", "txn", "json", "json frob /a", "tree / x",
                 "dump", "load", "setquota /a", "addWatch", "getAcl", "cd / /", "help nope", "ls -R /nope",
                 "diff /a", "cp /a", "mv", "printwatches maybe", "connect a b", "create -c -e /x",
                 "create -t x /y", "delete -v notanumber /x"):
        outcome: Outcome = shell.run(line)
        assert not outcome.ok and outcome.error and "Internal error" not in outcome.error, (line, outcome)
