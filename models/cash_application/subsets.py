"""Exact subset-sum: which sets of a customer's open invoices add up to a payment, to the unit.

Amounts are integers (ten-thousandths). A group is one customer's open invoices in one currency;
each target is one payment's unapplied amount. Sets of two or more invoices are searched (a
single invoice is the exact-amount signal's job):

- up to `ENUMERATE_MAX` invoices, every subset's sum is enumerated, for all groups of the same
  size at once (a matrix product), and compared with every target of those groups;
- up to `MEET_IN_MIDDLE_MAX` invoices, meet in the middle: the sums of each half's subsets, one
  half sorted and searched for what each sum of the other half leaves (2 x 2^(n/2) sums, not 2^n);
- beyond that (the fallback), the `MEET_IN_MIDDLE_MAX` invoices issued nearest the payment's date
  are searched, one payment at a time.

Groups are searched in that order until the time budget is spent; `SubsetResult.skipped`
counts the targets left unsearched. At most `MAX_SOLUTIONS` sets are kept per target: more than
one means the amount alone cannot tell them apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "ENUMERATE_MAX",
    "MAX_SOLUTIONS",
    "MEET_IN_MIDDLE_MAX",
    "SubsetResult",
    "exact_subsets",
]

ENUMERATE_MAX = 12
MEET_IN_MIDDLE_MAX = 32
MAX_SOLUTIONS = 3
_CHUNK_CELLS = 8_000_000  # targets x subsets compared at once

Ints = npt.NDArray[np.int64]


@dataclass
class SubsetResult:
    """Found sets as parallel lists: the target's index and the invoice indexes of one set."""

    targets: list[int] = field(default_factory=list)
    sets: list[list[int]] = field(default_factory=list)
    skipped: int = 0

    def add(self, target: int, members: Ints) -> None:
        self.targets.append(target)
        self.sets.append([int(m) for m in members])


def exact_subsets(
    group: Ints,
    amount: Ints,
    day: Ints,
    target_group: Ints,
    target_amount: Ints,
    target_day: Ints,
    *,
    budget_s: float = 10.0,
) -> SubsetResult:
    """Sets of >= 2 invoices of the target's group summing exactly to the target's amount.

    `group`, `amount` and `day` describe the invoices (sorted by group); `day` is an issue date
    as a day number. Targets name their group the same way. Returned sets hold invoice indexes.
    """
    deadline = time.monotonic() + budget_s
    result = SubsetResult()
    starts = np.searchsorted(group, np.arange(int(group.max(initial=-1)) + 2))
    sizes = np.diff(starts)
    target_sizes = sizes[target_group] if len(target_group) else np.zeros(0, np.int64)
    for n in np.unique(target_sizes):
        if n < 2:
            continue
        chosen = np.flatnonzero(target_sizes == n)
        if time.monotonic() > deadline:
            result.skipped += len(chosen)
            continue
        if n <= ENUMERATE_MAX:
            _enumerate(int(n), starts, amount, chosen, target_group, target_amount, result)
            continue
        for t in chosen:
            if time.monotonic() > deadline:
                result.skipped += 1
                continue
            members = np.arange(starts[target_group[t]], starts[target_group[t] + 1])
            if n > MEET_IN_MIDDLE_MAX:
                nearest = np.argsort(np.abs(day[members] - target_day[t]), kind="stable")
                members = np.sort(members[nearest[:MEET_IN_MIDDLE_MAX]])
            for found in _meet_in_middle(amount[members], int(target_amount[t])):
                result.add(int(t), members[found])
    return result


def _enumerate(
    n: int,
    starts: Ints,
    amount: Ints,
    chosen: Ints,
    target_group: Ints,
    target_amount: Ints,
    result: SubsetResult,
) -> None:
    """Every subset of size >= 2 of each chosen target's n invoices, compared at once."""
    masks = _masks(n)
    masks = masks[masks.sum(axis=1) >= 2]
    step = max(1, _CHUNK_CELLS // len(masks))
    for lo in range(0, len(chosen), step):
        part = chosen[lo : lo + step]
        firsts = starts[target_group[part]]
        values = amount[firsts[:, None] + np.arange(n)]  # targets x n
        sums = values @ masks.T  # targets x subsets
        rows, cols = np.nonzero(sums == target_amount[part][:, None])
        kept: dict[int, int] = {}
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            if kept.get(row, 0) >= MAX_SOLUTIONS:
                continue
            kept[row] = kept.get(row, 0) + 1
            result.add(int(part[row]), firsts[row] + np.flatnonzero(masks[col]))


def _meet_in_middle(values: Ints, target: int) -> Iterator[Ints]:
    """Up to MAX_SOLUTIONS index sets of >= 2 values summing to target."""
    half = len(values) // 2
    left, right = values[:half], values[half:]
    left_masks, right_masks = _masks(len(left)), _masks(len(right))
    left_sums, right_sums = left_masks @ left, right_masks @ right
    order = np.argsort(right_sums, kind="stable")
    right_sorted = right_sums[order]
    need = target - left_sums
    lo = np.searchsorted(right_sorted, need, side="left")
    hi = np.searchsorted(right_sorted, need, side="right")
    found = 0
    for i in np.flatnonzero(hi > lo).tolist():
        for j in order[lo[i] : hi[i]].tolist():
            members = np.concatenate(
                [np.flatnonzero(left_masks[i]), half + np.flatnonzero(right_masks[j])]
            )
            if len(members) < 2:
                continue
            yield members
            found += 1
            if found >= MAX_SOLUTIONS:
                return


def _masks(n: int) -> Ints:
    """All 2^n subsets of n items as rows of 0/1."""
    return ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(np.int64)
