"""Turn ZooKeeper and kazoo failures into one clear line for the user."""

from __future__ import annotations

from kazoo import exceptions as kex

__all__ = ["ZkBenchError", "ReadOnlyError", "explain"]


class ZkBenchError(Exception):
    """An error whose message is already the one line the user should see."""


class ReadOnlyError(ZkBenchError):
    """A write was attempted while the connection is in read-only mode."""


def explain(exc: BaseException, path: str | None = None) -> str:
    """One readable line for ``exc``; ``path`` names the znode the operation was about, if known."""
    where = f": {path}" if path else ""
    if isinstance(exc, ZkBenchError):
        return str(exc)
    if isinstance(exc, kex.NoNodeError):
        return f"Node does not exist{where}"
    if isinstance(exc, kex.NodeExistsError):
        return f"Node already exists{where}"
    if isinstance(exc, kex.NotEmptyError):
        return f"Node not empty{where}"
    if isinstance(exc, kex.BadVersionError):
        return f"Bad version{where}: the znode changed since it was read"
    if isinstance(exc, kex.NoAuthError):
        return f"Not authenticated{' for ' + path if path else ''}"
    if isinstance(exc, kex.AuthFailedError):
        return "Authentication failed: the server rejected the credentials"
    if isinstance(exc, kex.NoChildrenForEphemeralsError):
        return f"Ephemeral znodes cannot have children{where}"
    if isinstance(exc, kex.InvalidACLError):
        return f"Invalid ACL{where}"
    if isinstance(exc, kex.BadArgumentsError):
        return f"Bad arguments{where}"
    if isinstance(exc, kex.UnimplementedError):
        return "The server does not implement this request (too old, or the feature is disabled)"
    if isinstance(exc, kex.SessionExpiredError):
        return "Session expired: reconnecting with a new session"
    if isinstance(exc, kex.ConnectionLoss):
        return "Connection lost: the server did not answer; retrying"
    if isinstance(exc, kex.ConnectionClosedError):
        return "Not connected: the connection is closed"
    if isinstance(exc, kex.OperationTimeoutError):
        return "Timed out waiting for the server"
    if isinstance(exc, kex.KazooException):
        name = type(exc).__name__.removesuffix("Error")
        return f"{name}{where}{': ' + str(exc) if str(exc) else ''}"
    if isinstance(exc, ValueError):
        return f"Invalid value{where}: {exc}"
    return f"{type(exc).__name__}{where}: {exc}"
