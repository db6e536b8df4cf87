"""The test ensemble's life across a session: whole before every test, replaced when it cannot be healed."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import pytest

from zkbench.server import LocalEnsemble, ServerStartError

log = logging.getLogger(__name__)


class EnsembleSlot:
    """The session's shared ensemble: healed between tests, replaced when it cannot be healed."""

    def __init__(self, factory: Callable[[], LocalEnsemble]) -> None:
        self.factory = factory
        self.ensemble: LocalEnsemble | None = None
        self.unavailable: str | None = None  # why a fresh ensemble could not start: later tests skip

    def whole(self) -> LocalEnsemble:
        if self.unavailable is not None:
            pytest.skip(f"no test ensemble: {self.unavailable} (see the first ensemble test's failure)")
        if self.ensemble is not None:
            try:
                heal(self.ensemble)
                return self.ensemble
            except (ServerStartError, TimeoutError) as exc:
                self._replace(f"{type(exc).__name__}: {exc}")
        try:
            self.ensemble = self.factory()
            self.ensemble.start()
        except ServerStartError as exc:
            self.ensemble = None
            self.unavailable = str(exc).splitlines()[0]
            pytest.fail(f"the test ensemble did not start: {exc}", pytrace=False)
        return self.ensemble

    def after_test(self) -> None:
        """Heal now, so the test that broke the ensemble is the one that reports it (as a warning)."""
        if self.ensemble is None:
            return
        try:
            heal(self.ensemble)
        except (ServerStartError, TimeoutError) as exc:
            self._replace(f"{type(exc).__name__}: {exc}")

    def _replace(self, reason: str) -> None:
        assert self.ensemble is not None
        message = f"the test ensemble could not be healed, the next test gets a fresh one: {reason}"
        log.warning(message)
        warnings.warn(message, stacklevel=1)
        self.ensemble.stop()
        self.ensemble = None

    def close(self) -> None:
        if self.ensemble is not None:
            self.ensemble.stop()


def heal(ensemble: LocalEnsemble) -> None:
    """Restart members a test left down, then wait until every member serves and one leads."""
    for member in ensemble.members:
        if not member.running():
            ensemble.restart(member.myid)
    ensemble.wait_whole(timeout=60)
