"""zkbench.dataformat: what a value is, how it is shown, and that no byte is ever lost or hidden."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from zkbench.dataformat import DataKind, detect, format_data, hex_dump, human_size, pretty_json


def test_detect_kinds():
    assert detect(b"") is DataKind.EMPTY
    assert detect(None) is DataKind.EMPTY
    assert detect(b"hello") is DataKind.TEXT
    assert detect("héllo wörld ✓".encode()) is DataKind.TEXT
    assert detect(b'{"log_level": "INFO"}') is DataKind.JSON
    assert detect(b"[1, 2, 3]") is DataKind.JSON
    assert detect(b"42") is DataKind.TEXT  # a bare scalar is just text
    assert detect(b"{not json") is DataKind.TEXT
    assert detect(b"<a><b>1</b></a>") is DataKind.XML
    assert detect(b"server:\n  port: 8080\n  hosts:\n    - a\n") is DataKind.YAML
    assert detect(b"just\ntwo lines") is DataKind.TEXT
    assert detect(b"\x00\x01\x02\xff") is DataKind.BINARY
    assert detect(b"\xc3\x28") is DataKind.BINARY  # invalid UTF-8
    assert detect(b"abc\x00def") is DataKind.BINARY  # NUL hides on screen: show hex
    assert detect("a\u200bb".encode()) is DataKind.BINARY  # zero-width space would hide a byte sequence


def test_pretty_json_keeps_numbers_order_and_duplicates():
    text = '{"b":1.50,"a":[1e3,12345678901234567890123],"b":null,"s":"ü\\n"}'
    out = pretty_json(text)
    assert out == ('{\n  "b": 1.50,\n  "a": [\n    1e3,\n    12345678901234567890123\n  ],\n'
                   '  "b": null,\n  "s": "ü\\n"\n}')
    assert json.loads(out, object_pairs_hook=list) == json.loads(text, object_pairs_hook=list)
    assert pretty_json("{}") == "{}" and pretty_json("[]") == "[]"


def test_format_json_and_size():
    f = format_data(b'{"log_level":"DEBUG"}')
    assert f.kind is DataKind.JSON and f.size == 21 and f.note is None
    assert f.plain == '{\n  "log_level": "DEBUG"\n}'
    assert f.summary == "json, 21 bytes"


def test_hex_dump_layout():
    dump = hex_dump(bytes(range(20)))
    lines = dump.splitlines()
    assert lines[0] == "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|"
    assert lines[1].startswith("00000010  10 11 12 13") and lines[1].endswith("|....|")


def _bytes_from_dump(dump: str) -> bytes:
    out = bytearray()
    for line in dump.splitlines():
        hexpart = line[10:58]
        out.extend(bytes.fromhex(hexpart.replace(" ", "")))
    return bytes(out)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_no_byte_is_lost(data):
    f = format_data(data)
    if f.kind is DataKind.BINARY:
        assert _bytes_from_dump(f.plain) == data
    elif f.kind is DataKind.EMPTY:
        assert data == b""
    elif f.kind is DataKind.JSON:
        assert json.loads(f.plain, object_pairs_hook=list) == json.loads(data, object_pairs_hook=list)
    elif f.kind is DataKind.XML:
        assert f.plain  # pretty XML: parsed fine; the original text path is checked below
    else:
        assert f.plain.encode() == data
    assert f.size == len(data)


@given(st.text(max_size=300))
def test_text_round_trips_or_becomes_hex(text):
    data = text.encode()
    f = format_data(data)
    if f.kind in (DataKind.TEXT, DataKind.YAML):
        assert f.plain == text
    elif f.kind is DataKind.BINARY:
        assert _bytes_from_dump(f.plain) == data


def test_large_values_are_cut_with_a_note():
    big = ("é" * 40000).encode()  # 80,000 bytes of two-byte characters
    f = format_data(big, limit=65536)
    assert f.note == "showing the first 65,536 of 80,000 bytes (14,464 not shown)"
    assert f.plain.encode() == big[:65536]
    blob = bytes(range(256)) * 100
    f = format_data(blob, limit=1024)
    assert f.kind is DataKind.BINARY and f.note.startswith("showing the first 1,024 of 25,600 bytes")
    assert _bytes_from_dump(f.plain) == blob[:1024]


def test_forced_hex_view_and_sizes():
    f = format_data(b"hello", force=DataKind.BINARY)
    assert f.kind is DataKind.BINARY and "68 65 6c 6c 6f" in f.plain
    assert format_data(b"").plain == "(empty: 0 bytes)"
    assert human_size(1) == "1 byte"
    assert human_size(1536) == "1.5 KiB (1,536 bytes)"
    assert re.match(r"1\.0 MiB", human_size(1024 * 1024))
