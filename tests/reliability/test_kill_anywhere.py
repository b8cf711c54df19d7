"""A sync killed anywhere (SIGKILL) and run again leaves exactly the warehouse of one never
killed: nothing lost, nothing doubled, cursors equal, nothing left in the landing zone.

At least 30 kills, over extraction, landing, loading, normalizing and reporting (and start-up),
at points drawn from a seed the test prints; `KILL_ANYWHERE_SEED=<seed>` replays one. The larger
run is `python -m benchmarks.kill_anywhere --kills 300 --size medium`.
"""

from __future__ import annotations

import os

from benchmarks.kill_anywhere import PHASES, kill_anywhere

KILLS = 30


def test_a_sync_killed_anywhere_and_run_again_equals_one_never_killed(tmp_path):
    seed = os.environ.get("KILL_ANYWHERE_SEED")
    outcome = kill_anywhere(
        tmp_path, kills=KILLS, size="small", seed=int(seed) if seed else None, per_chain=4
    )

    context = outcome.summary()
    assert outcome.failures == [], context
    assert len(outcome.kills) >= KILLS, context
    assert set(PHASES) <= set(outcome.by_phase()), f"not every phase was hit: {context}"
    assert outcome.rows_compared > 0, context
