"""Recognise what a znode's bytes are and show them readably, without ever hiding a byte.

Text is shown only when the bytes are valid UTF-8 *and* decoding them round-trips exactly; anything else is a hex
dump. JSON is pretty-printed by our own printer, which keeps number spelling, key order and duplicate keys; YAML
and XML keep their original text (re-dumping would drop comments) unless an XML document sits on one line. Values
larger than the display limit are cut on screen with a note that says how many bytes are not shown.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from dataclasses import dataclass
from xml.dom import minidom
from xml.parsers.expat import ExpatError

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

__all__ = ["DataKind", "Formatted", "detect", "format_data", "hex_dump", "pretty_json", "human_size",
           "DEFAULT_DISPLAY_LIMIT"]

log = logging.getLogger(__name__)

#: Bytes shown on screen before a value is cut (with a note). 64 KiB of text, or 4096 hex-dump lines.
DEFAULT_DISPLAY_LIMIT = 64 * 1024


class DataKind(enum.Enum):
    """What a znode's value looks like."""

    EMPTY = "empty"
    TEXT = "text"
    JSON = "json"
    YAML = "yaml"
    XML = "xml"
    BINARY = "binary"


@dataclass(frozen=True, slots=True)
class Formatted:
    """A value ready for the screen: the renderable, what it is, and the lines the user must read about it."""

    kind: DataKind
    size: int
    renderable: RenderableType
    plain: str  # the same content as plain text (for tests, copying, and narrow terminals)
    note: str | None = None  # e.g. "showing the first 65,536 of 1,048,576 bytes"

    @property
    def summary(self) -> str:
        return f"{self.kind.value}, {human_size(self.size)}"


def human_size(n: int) -> str:
    """``1 byte``, ``1,234 bytes``, ``1.2 KiB (1,234 bytes)``: exact count always present."""
    if n == 1:
        return "1 byte"
    if n < 1024:
        return f"{n:,} bytes"
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"  # pragma: no cover


# Control characters other than tab, newline and carriage return make text unreadable or hide bytes on screen.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_YAML_HINT = re.compile(r"^(---\s*$|%YAML|[A-Za-z_][\w .-]*:(\s|$)|- \S)", re.MULTILINE)


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _CONTROL.search(text):
        return None
    return text


class _RawNumber(str):
    """A JSON number kept exactly as written (``1.50``, ``1e3``, 2**70 stay as they are)."""


def _json_tokens(value: object, indent: int, level: int, out: list[str]) -> None:
    pad = " " * (indent * (level + 1))
    end_pad = " " * (indent * level)
    if isinstance(value, _RawNumber):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif isinstance(value, _Pairs):
        if not value:
            out.append("{}")
            return
        out.append("{\n")
        for i, (key, item) in enumerate(value):
            out.append(f"{pad}{json.dumps(key, ensure_ascii=False)}: ")
            _json_tokens(item, indent, level + 1, out)
            out.append(",\n" if i < len(value) - 1 else "\n")
        out.append(end_pad + "}")
    elif isinstance(value, list):
        if not value:
            out.append("[]")
            return
        out.append("[\n")
        for i, item in enumerate(value):
            out.append(pad)
            _json_tokens(item, indent, level + 1, out)
            out.append(",\n" if i < len(value) - 1 else "\n")
        out.append(end_pad + "]")
    else:  # pragma: no cover - json.loads yields nothing else with our hooks
        out.append(json.dumps(value))


class _Pairs(list):
    """A JSON object as its ordered (key, value) pairs, duplicates included."""


def pretty_json(text: str, indent: int = 2) -> str:
    """Re-indent a JSON document, keeping key order, duplicate keys and number spelling; ValueError if not JSON."""
    value = json.loads(text, object_pairs_hook=_Pairs, parse_float=_RawNumber, parse_int=_RawNumber,
                       parse_constant=_RawNumber)
    out: list[str] = []
    _json_tokens(value, indent, 0, out)
    return "".join(out)


def detect(data: bytes | None) -> DataKind:
    """Classify a value. JSON only for objects and arrays (``"3"`` or ``true`` are just text)."""
    if not data:
        return DataKind.EMPTY
    text = _as_text(data)
    if text is None:
        return DataKind.BINARY
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            pretty_json(stripped)
            return DataKind.JSON
        except ValueError:
            pass
    if stripped.startswith("<") and stripped.endswith(">"):
        try:
            minidom.parseString(data)
            return DataKind.XML
        except (ExpatError, ValueError):
            pass
    if "\n" in stripped and _looks_like_yaml(stripped):
        return DataKind.YAML
    return DataKind.TEXT


def _looks_like_yaml(text: str) -> bool:
    """A cheap, conservative check: most non-blank, non-comment lines look like ``key: value`` or ``- item``."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return False
    hits = sum(1 for ln in lines if _YAML_HINT.match(ln.lstrip()) or ln.startswith((" ", "\t")))
    return hits == len(lines) and any(_YAML_HINT.match(ln) for ln in lines)


def hex_dump(data: bytes, start: int = 0) -> str:
    """Classic 16-bytes-per-line dump: offset, hex in two groups of eight, printable ASCII (``.`` otherwise)."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start + off:08x}  {left:<23}  {right:<23}  |{ascii_}|")
    return "\n".join(lines)


def _cut_note(shown: int, total: int) -> str:
    return f"showing the first {shown:,} of {total:,} bytes ({total - shown:,} not shown)"


def format_data(data: bytes | None, *, limit: int = DEFAULT_DISPLAY_LIMIT, theme: str = "ansi_dark",
                force: DataKind | None = None) -> Formatted:
    """Render ``data`` for the data view. ``force`` picks a view (e.g. BINARY to see the hex of any value)."""
    if data is None:
        return Formatted(DataKind.EMPTY, 0, Text("(data not loaded)", style="dim"), "(data not loaded)")
    size = len(data)
    kind = force or detect(data)
    if kind is DataKind.EMPTY and size == 0:
        return Formatted(kind, 0, Text("(empty: 0 bytes)", style="dim"), "(empty: 0 bytes)")
    if kind is DataKind.EMPTY:  # forced EMPTY on non-empty data makes no sense: show what is there
        kind = detect(data)
    note: str | None = None
    if kind is DataKind.BINARY:
        shown = data[:limit]
        if len(shown) < size:
            note = _cut_note(len(shown), size)
        plain = hex_dump(shown)
        return Formatted(kind, size, Text(plain, no_wrap=True), plain, note)
    text = _as_text(data)
    if text is None:  # a forced text view of bytes that are not text: fall back to hex, never mangle
        return format_data(data, limit=limit, theme=theme, force=DataKind.BINARY)
    if size > limit:
        # Cut on a character boundary so the shown part stays valid UTF-8; never reformat a cut document.
        cut = data[:limit].decode("utf-8", errors="ignore")
        note = _cut_note(len(cut.encode("utf-8")), size)
        return Formatted(DataKind.TEXT if kind is DataKind.TEXT else kind, size, Text(cut), cut, note)
    lexer: str | None = None
    shown_text = text
    if kind is DataKind.JSON:
        shown_text = pretty_json(text.strip())
        lexer = "json"
    elif kind is DataKind.XML:
        lexer = "xml"
        if "\n" not in text.strip():
            try:
                shown_text = minidom.parseString(data).toprettyxml(indent="  ")
                if not text.lstrip().startswith("<?xml"):
                    shown_text = shown_text.split("\n", 1)[1]  # drop the declaration minidom adds
                shown_text = shown_text.rstrip("\n")
            except (ExpatError, ValueError) as exc:  # detect() parsed it; keep the original if this fails
                log.debug("xml pretty-print failed: %s", exc)
    elif kind is DataKind.YAML:
        lexer = "yaml"
    if lexer is None:
        return Formatted(kind, size, Text(shown_text), shown_text, note)
    syntax = Syntax(shown_text, lexer, theme=theme, word_wrap=True, background_color="default")
    return Formatted(kind, size, syntax, shown_text, note)


def render_with_note(formatted: Formatted) -> RenderableType:
    """The renderable with its truncation note (if any) above it, in warning style."""
    if formatted.note is None:
        return formatted.renderable
    return Group(Text(f"⚠ {formatted.note}", style="bold yellow"), formatted.renderable)
