"""The shell's parser and its one entry point: quoting, options, redaction, and hypothesis fuzzing
(arbitrary input never raises out of ``Shell.run``, against the live test server)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkbench.shell import COMMANDS, ClientSession, Outcome, Shell, redact
from zkbench.shell.parser import ParseError, parse_options, split_on_separator, tokenize


def words(line: str) -> list[str]:
    return [t.text for t in tokenize(line)]


def test_quoting_like_a_shell() -> None:
    assert words('create /a "hello world"') == ["create", "/a", "hello world"]
    assert words("""set /a '{"k": 1}'""") == ["set", "/a", '{"k": 1}']
    assert words(r'set /a "say \"hi\" \\ now"') == ["set", "/a", 'say "hi" \\ now']
    assert words(r"create /a hello\ world") == ["create", "/a", "hello world"]
    assert words("create /a ''") == ["create", "/a", ""]
    assert words("  ls   /  ") == ["ls", "/"]
    assert words("a'b'\"c\"d") == ["abcd"]


def test_separators_and_quoted_semicolons() -> None:
    tokens = tokenize("txn create /a 'x;y' ; set /b z;delete /c")
    assert split_on_separator(tokens[1:]) == [["create", "/a", "x;y"], ["set", "/b", "z"], ["delete", "/c"]]


@pytest.mark.parametrize("line, message", [
    ("get 'unclosed", "unclosed single quote at column 5"),
    ('get "unclosed', "unclosed double quote at column 5"),
    ("get \\", "trailing backslash"),
])
def test_parse_errors_are_one_line(line: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        tokenize(line)


def test_options_anywhere_combined_and_negative_numbers() -> None:
    opts = parse_options("ls", ["-sR", "/a", "-w"], "swR")
    assert opts.flags == {"s", "R", "w"} and opts.args == ["/a"]
    opts = parse_options("set", ["-v", "3", "/a", "-1"], "s", "v")
    assert opts.values == {"v": "3"} and opts.args == ["/a", "-1"]
    assert parse_options("set", ["-v3", "/a", "x"], "", "v").values == {"v": "3"}
    assert parse_options("deleteall", ["/a", "--yes"]).yes
    assert parse_options("create", ["--", "-name-", "x"], "s").args == ["-name-", "x"]
    with pytest.raises(ParseError, match="ls: unknown option -q"):
        parse_options("ls", ["-q"], "s")
    with pytest.raises(ParseError, match="option -v needs a value"):
        parse_options("set", ["/a", "x", "-v"], "", "v")


def test_redaction_of_secrets() -> None:
    assert redact("addauth digest bob:s3cret") == "addauth digest bob:***"
    assert redact("  addauth   digest   bob:pa:ss") == "  addauth   digest   bob:***"
    assert redact("addauth ip secret") == "addauth ip ***"
    assert redact("ls /") == "ls /"


def test_kazoo_debug_log_never_shows_addauth_secrets(zk, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    shell = Shell(ClientSession(zk))
    # set kazoo's own logger too: an in-process `zkbench` CLI run earlier in the session may have quietened it
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="kazoo"):
        assert shell.run("addauth digest bob:t0ps3cret").ok
    assert "t0ps3cret" not in caplog.text
    assert "Auth(" in caplog.text  # the request is still logged, without the secret


@given(st.text(max_size=200))
def test_tokenizer_never_raises_anything_but_parse_error(text: str) -> None:
    try:
        tokenize(text)
    except ParseError as exc:
        assert "\n" not in str(exc)


_SAFE_COMMANDS = sorted(set(COMMANDS) - {"close", "connect", "addauth", "quit"})  # these end the session
_ARG = st.one_of(
    st.sampled_from(["/", "/a", "a", "..", "/a/b", "-s", "-w", "-R", "-v", "1", "-1", "x", "'q w'", ";", "-e",
                     "--yes", "world:anyone:r", "-n", "5", "-b", "AAEC", "*", "{}", "'{\"k\": 1}'", "k.a"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)
_LINES = st.one_of(
    st.text(max_size=80),
    st.builds(lambda cmd, args: " ".join([cmd, *args]), st.sampled_from(_SAFE_COMMANDS),
              st.lists(_ARG, max_size=5)),
)


@settings(max_examples=int(os.environ.get("ZKBENCH_FUZZ_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=_LINES)
def test_run_never_raises(zk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)  # dump writes files: keep them out of the checkout
    shell = Shell(ClientSession(zk))
    outcome = shell.run(line)
    shell.stop_streams()
    assert isinstance(outcome, Outcome)
    if not outcome.ok and outcome.error is not None:
        assert "\n" not in outcome.error and "Traceback" not in outcome.error
        assert not outcome.error.startswith("Internal error"), (line, outcome.error)
    assert zk.connected
