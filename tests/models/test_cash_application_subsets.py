"""Exact subset-sum: every route (enumeration, meet in the middle, the nearest-invoices fallback)
finds the planted set; the time budget skips what it cannot reach."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from models.cash_application.subsets import (
    ENUMERATE_MAX,
    MAX_SOLUTIONS,
    MEET_IN_MIDDLE_MAX,
    exact_subsets,
)

SEED = 18


def _group(n: int, rng: random.Random) -> list[int]:
    return [rng.randrange(10_000, 50_000_000) for _ in range(n)]


@pytest.mark.parametrize("n", [2, 5, ENUMERATE_MAX, ENUMERATE_MAX + 1, 24, MEET_IN_MIDDLE_MAX, 60])
def test_the_planted_set_is_found_at_every_size(n: int) -> None:
    rng = random.Random(SEED + n)
    print(f"seed {SEED + n}")
    amounts = _group(n, rng)
    # beyond the meet-in-the-middle bound, only invoices issued near the payment are searched
    wanted = sorted(rng.sample(range(max(0, n - 10), n), min(n, 3)))
    target = sum(amounts[i] for i in wanted)
    days = list(range(n))
    found = exact_subsets(
        np.zeros(n, np.int64),
        np.array(amounts, np.int64),
        np.array(days, np.int64),
        np.array([0], np.int64),
        np.array([target], np.int64),
        np.array([days[-1]], np.int64),
    )
    assert wanted in [sorted(s) for s in found.sets]
    assert found.targets == [0] * len(found.sets) and found.skipped == 0


def test_groups_are_searched_apart_and_single_invoices_are_not_sets() -> None:
    amounts = np.array([100, 250, 100, 250, 400], np.int64)
    groups = np.array([0, 0, 1, 1, 1], np.int64)
    found = exact_subsets(
        groups,
        amounts,
        np.zeros(5, np.int64),
        np.array([0, 1, 1], np.int64),
        np.array([350, 350, 400], np.int64),
        np.zeros(3, np.int64),
    )
    assert sorted(zip(found.targets, map(sorted, found.sets), strict=True)) == [
        (0, [0, 1]),
        (1, [2, 3]),
    ]


def test_many_solutions_are_capped() -> None:
    found = exact_subsets(
        np.zeros(8, np.int64),
        np.full(8, 100, np.int64),
        np.zeros(8, np.int64),
        np.array([0], np.int64),
        np.array([200], np.int64),
        np.zeros(1, np.int64),
    )
    assert len(found.sets) == MAX_SOLUTIONS


def test_an_exhausted_budget_skips_the_search_and_says_so() -> None:
    found = exact_subsets(
        np.zeros(20, np.int64),
        np.arange(1, 21, dtype=np.int64),
        np.zeros(20, np.int64),
        np.array([0, 0], np.int64),
        np.array([30, 31], np.int64),
        np.zeros(2, np.int64),
        budget_s=-1,
    )
    assert (found.sets, found.skipped) == ([], 2)


@pytest.mark.parametrize("n", [4, ENUMERATE_MAX, ENUMERATE_MAX + 1, 14])
def test_sets_found_are_exactly_those_brute_force_finds(n: int) -> None:
    rng = random.Random(SEED * n)
    print(f"seed {SEED * n}")
    amounts = [rng.choice((100, 250, 400, 650, 1_000, 1_250)) for _ in range(n)]
    targets = [sum(rng.sample(amounts, rng.randrange(2, n + 1))) for _ in range(20)]
    found = exact_subsets(
        np.zeros(n, np.int64),
        np.array(amounts, np.int64),
        np.zeros(n, np.int64),
        np.zeros(len(targets), np.int64),
        np.array(targets, np.int64),
        np.zeros(len(targets), np.int64),
    )
    for t, target in enumerate(targets):
        sets = [s for k, s in zip(found.targets, found.sets, strict=True) if k == t]
        assert all(len(s) >= 2 and sum(amounts[i] for i in s) == target for s in sets)
        assert len({tuple(sorted(s)) for s in sets}) == len(sets)
        every = [
            c
            for size in range(2, n + 1)
            for c in itertools.combinations(range(n), size)
            if sum(amounts[i] for i in c) == target
        ]
        assert len(sets) == min(len(every), MAX_SOLUTIONS)
