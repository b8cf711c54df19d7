"""A sync killed anywhere (SIGKILL) while the source changes, and run again, leaves exactly the
ground truth and the warehouse of the same runs never killed: nothing lost, nothing doubled,
cursors equal, nothing left in the landing zone. On every source.

Kills at points drawn from a fixed seed, printed (`KILL_ANYWHERE_SEED=<seed>` tries another);
the larger runs, through every entry point, are `python -m benchmarks.kill_anywhere` (see
benchmarks/README.md).
"""

from __future__ import annotations

import os

import pytest

from benchmarks.kill_anywhere import kill_anywhere
from benchmarks.proof_sources import SOURCES

SEED = 1205
KILLS = 4


@pytest.mark.slow
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_sync_killed_anywhere_while_the_source_changes_ends_in_the_truth(tmp_path, source):
    seed = int(os.environ.get("KILL_ANYWHERE_SEED", SEED))
    print(f"kill-anywhere seed {seed}")
    outcome = kill_anywhere(
        tmp_path, kills={"run_once": KILLS}, sources=[source], seed=seed, per_chain=2
    )

    context = outcome.summary()
    assert outcome.failures == [], context
    assert len(outcome.kills) >= KILLS, context
    assert len(outcome.by_phase()) >= 2, f"kills hit too few phases: {context}"
    assert outcome.changes["new"] > 0, context
    assert outcome.rows_compared > 0, context
