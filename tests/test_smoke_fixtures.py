"""The shared fixtures: a chrooted client per test, and an ensemble that never turns one failure into many."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkbench.server import LocalEnsemble

from ensemble_slot import EnsembleSlot


def test_zk_fixture_is_chrooted(zk, zk_admin, zk_root):
    zk.create("/hello", b"world")
    assert zk_admin.get(f"{zk_root}/hello")[0] == b"world"


@pytest.mark.ensemble
def test_an_ensemble_that_cannot_be_healed_is_replaced_instead_of_failing_every_later_test(tmp_path: Path):
    made: list[LocalEnsemble] = []

    def factory() -> LocalEnsemble:
        made.append(LocalEnsemble(3, tmp_path / f"ensemble{len(made)}", tick_time=250))
        return made[-1]

    slot = EnsembleSlot(factory)
    try:
        first = slot.whole()
        first.kill(2)  # broken beyond repair: down, and its config no longer parses
        config = first.member(2).config_file
        config.write_text(config.read_text().replace("initLimit=10", "initLimit=ten"))
        with pytest.warns(UserWarning, match=r'could not be healed.*server 2 .*"ten" \(initLimit=ten'):
            slot.after_test()
        assert slot.ensemble is None and not first.running()
        second = slot.whole()
        assert second is not first
        assert sorted(second.modes().values()) == ["follower", "follower", "leader"]
    finally:
        slot.close()
        for ensemble in made:
            ensemble.stop()


@pytest.mark.ensemble
def test_an_ensemble_that_cannot_start_fails_once_with_the_reason_then_skips(tmp_path: Path):
    made: list[LocalEnsemble] = []
    slot = EnsembleSlot(lambda: made.append(LocalEnsemble(3, tmp_path / "bad", tick_time=250,
                                                          extra_config={"syncLimit": "x"})) or made[-1])
    with pytest.raises(pytest.fail.Exception, match=r'did not start: ZooKeeper server 1 .*"x" \(syncLimit=x'):
        slot.whole()
    with pytest.raises(pytest.skip.Exception, match=r"no test ensemble: ZooKeeper server 1 .*syncLimit=x"):
        slot.whole()
    assert len(made) == 1  # no second attempt for every later test
    assert not any(m.running() for m in made[0].members)
    made[0].stop()
