"""Shell-like tokenizing and zkCli-style option parsing for the shell. Pure functions, no I/O.

Quoting follows POSIX shells closely enough for muscle memory: ``'single'`` is literal, ``"double"`` allows
``\\"`` and ``\\\\``, a backslash outside quotes escapes the next character, and an unquoted ``;`` is a separator
token (used by ``txn``). Every failure is a :class:`ParseError` with one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ParseError", "Token", "tokenize", "split_on_separator", "Options", "parse_options", "SEPARATOR"]

SEPARATOR = ";"


class ParseError(ValueError):
    """The line cannot be split into words; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the line; ``quoted`` tells a quoted ``";"`` (data) from the separator."""

    text: str
    quoted: bool = False

    @property
    def is_separator(self) -> bool:
        return self.text == SEPARATOR and not self.quoted


def tokenize(line: str) -> list[Token]:
    """Split ``line`` into tokens; raise :class:`ParseError` on an unclosed quote or a trailing backslash."""
    tokens: list[Token] = []
    buf: list[str] = []
    in_word = False
    quoted = False
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch in " \t\r\n":
            if in_word:
                tokens.append(Token("".join(buf), quoted))
                buf, in_word, quoted = [], False, False
            i += 1
        elif ch == ";":
            if in_word:
                tokens.append(Token("".join(buf), quoted))
                buf, in_word, quoted = [], False, False
            tokens.append(Token(SEPARATOR))
            i += 1
        elif ch == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ParseError(f"unclosed single quote at column {i + 1}")
            buf.append(line[i + 1:end])
            in_word, quoted = True, True
            i = end + 1
        elif ch == '"':
            j = i + 1
            while True:
                if j >= n:
                    raise ParseError(f"unclosed double quote at column {i + 1}")
                c = line[j]
                if c == "\\" and j + 1 < n and line[j + 1] in '"\\$`':
                    buf.append(line[j + 1])
                    j += 2
                    continue
                if c == '"':
                    break
                buf.append(c)
                j += 1
            in_word, quoted = True, True
            i = j + 1
        elif ch == "\\":
            if i + 1 >= n:
                raise ParseError("trailing backslash: nothing to escape")
            buf.append(line[i + 1])
            in_word, quoted = True, True
            i += 2
        else:
            buf.append(ch)
            in_word = True
            i += 1
    if in_word:
        tokens.append(Token("".join(buf), quoted))
    return tokens


def split_on_separator(tokens: list[Token]) -> list[list[str]]:
    """Group tokens into statements at each unquoted ``;`` (empty statements dropped)."""
    groups: list[list[str]] = [[]]
    for tok in tokens:
        if tok.is_separator:
            groups.append([])
        else:
            groups[-1].append(tok.text)
    return [g for g in groups if g]


@dataclass
class Options:
    """Parsed flags (``-s`` -> ``flags['s'] = True``, ``-v 3`` -> ``values['v'] = '3'``) and positional args."""

    flags: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    yes: bool = False

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def int_value(self, name: str, default: int, what: str) -> int:
        raw = self.values.get(name)
        if raw is None:
            return default
        try:
            return int(raw, 0)
        except ValueError:
            raise ParseError(f"{what} must be a number, got {raw!r}") from None


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def parse_options(command: str, words: list[str], flags: str = "", valued: str = "",
                  long_flags: tuple[str, ...] = ()) -> Options:
    """zkCli-style options anywhere on the line: ``-s``, combined ``-sw``, ``-v 3`` / ``-v3``, ``--`` ends them.

    ``--yes``/``-y`` is always accepted (confirmation for scripts). A negative number is a positional argument.
    Unknown flags raise :class:`ParseError` naming the command.
    """
    opts = Options()
    i = 0
    only_args = False
    while i < len(words):
        word = words[i]
        i += 1
        if only_args or not word.startswith("-") or word == "-" or _is_number(word):
            opts.args.append(word)
            continue
        if word == "--":
            only_args = True
            continue
        if word in ("--yes", "-y") and "y" not in flags + valued:
            opts.yes = True
            continue
        if word.startswith("--"):
            name = word[2:]
            if name in long_flags:
                opts.flags.add(name)
                continue
            raise ParseError(f"{command}: unknown option {word}")
        letters = word[1:]
        j = 0
        while j < len(letters):
            letter = letters[j]
            if letter in valued:
                value = letters[j + 1:]
                if not value:
                    if i >= len(words):
                        raise ParseError(f"{command}: option -{letter} needs a value")
                    value = words[i]
                    i += 1
                opts.values[letter] = value
                break
            if letter in flags:
                opts.flags.add(letter)
                j += 1
                continue
            raise ParseError(f"{command}: unknown option -{letter}")
    return opts
