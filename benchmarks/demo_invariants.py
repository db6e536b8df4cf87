"""How long the demo screen's live invariant takes as a workshop's history grows.

The demo recomputes its invariant line from the whole recorded history (through ``zkbench.checkers``) at most a
few times a second. This prints, per demo and history size, the milliseconds per evaluation and the ratio to the
smallest history (the baseline): it should grow about linearly, and stay well under the UI's frame budget for a
long workshop. Synthetic histories shaped like the real actors' (3 contenders cycling, fenced writes every 0.5 s).

    .venv/bin/python benchmarks/demo_invariants.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from zkbench.actors.protocol import ActorEvent
from zkbench.checkers import check_leaders, check_mutual_exclusion
from zkbench.demos import LIVE_WINDOW, DemoModel, demo_spec


def lock_history(n: int) -> list[ActorEvent]:
    out: list[ActorEvent] = []
    t, token, i = 0.0, 1, 0
    while len(out) < n:
        actor = f"lock-{i % 3 + 1}"
        node = f"/locks/db/lock-{i:010d}"
        out.append(ActorEvent(actor, "acquired", "acquired", role="lock", state="holding", path=node, time=t,
                              details={"token": token}))
        for _ in range(16):
            t += 0.5
            out.append(ActorEvent(actor, "fenced-write", "wrote", role="lock", path="/locks/resource", time=t,
                                  details={"token": token, "accepted": True}))
        out.append(ActorEvent(actor, "released", "released", role="lock", state="idle", path=node, time=t + 0.1))
        t += 1.0
        token += 3
        i += 1
    return out[:n]


def election_history(n: int) -> list[ActorEvent]:
    out: list[ActorEvent] = []
    t, epoch, i = 0.0, 1, 0
    while len(out) < n:
        actor = f"cand-{i % 3 + 1}"
        node = f"/election/node-{i:010d}"
        out.append(ActorEvent(actor, "elected", "elected", role="election", state="leader", path=node, time=t,
                              details={"epoch": epoch}))
        for _ in range(8):
            t += 0.5
            out.append(ActorEvent(f"cand-{(i + 1) % 3 + 1}", "following", "following", role="election",
                                  state="follower", path=node, time=t))
        out.append(ActorEvent(actor, "left", "left", role="election", state="stopped", path=node, time=t + 0.1))
        t += 1.0
        epoch += 2
        i += 1
    return out[:n]


def best_ms(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def measure(kind: str, history: list[ActorEvent]) -> tuple[float, float]:
    """(ms for the checker over the whole history, ms for the demo's live line over its window)."""
    model = DemoModel(demo_spec(kind))
    model.apply(history)
    checker = check_mutual_exclusion if kind == "lock" else check_leaders
    full = best_ms(lambda: checker(history), repeat=1 if len(history) > 20_000 else 3)

    def live() -> None:
        model._invariant = None  # noqa: SLF001 - force a recomputation
        model.invariant()

    return full, best_ms(live)


def main() -> None:
    sizes = (1_000, 10_000, 50_000, 100_000)
    print(f"live window: last {LIVE_WINDOW:,} events; baseline: {sizes[0]:,} events")
    print(f"{'demo':10} {'events':>8} {'full ms':>9} {'ratio':>7} {'live ms':>9} {'ratio':>7}")
    for kind, make in (("lock", lock_history), ("election", election_history)):
        base_full = base_live = None
        for n in sizes:
            full, live = measure(kind, make(n))
            base_full, base_live = base_full or full, base_live or live
            print(f"{kind:10} {n:>8,} {full:>9.2f} {full / base_full:>6.1f}x {live:>9.2f} {live / base_live:>6.1f}x")


if __name__ == "__main__":
    main()
