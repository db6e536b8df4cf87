"""Four-letter words over TCP: the smallest way to ask a ZooKeeper server how it is."""

from __future__ import annotations

import socket

__all__ = ["four_letter_word", "FourLetterWordError", "NOT_WHITELISTED"]

#: What a 3.5+ server answers for a command missing from ``4lw.commands.whitelist``.
NOT_WHITELISTED = "is not executed because it is not in the whitelist"


class FourLetterWordError(OSError):
    """The server could not be reached, or closed the connection without answering."""


def four_letter_word(host: str, port: int, command: str, timeout: float = 2.0) -> str:
    """Send ``command`` (``ruok``, ``srvr``, ``mntr``, ...) and return the whole reply as text.

    Raises :class:`FourLetterWordError` with a one-line reason when the server is unreachable.
    """
    if len(command) != 4:
        raise ValueError(f"four-letter words have four letters: {command!r}")
    chunks: list[bytes] = []
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(command.encode("ascii"))
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
    except socket.timeout as exc:
        raise FourLetterWordError(f"{host}:{port} did not answer '{command}' within {timeout:g}s") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise FourLetterWordError(f"{host}:{port} unreachable for '{command}': {reason}") from exc
    return b"".join(chunks).decode("utf-8", errors="replace")
