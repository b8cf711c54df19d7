"""Exact subset-sum: which sets of a customer's open invoices add up to a payment, to the unit.

Amounts are integers (ten-thousandths). A group is one customer's open invoices in one currency;
each target is one payment's unapplied amount. Sets of two or more invoices are searched (a
single invoice is the exact-amount signal's job), for all targets whose groups have the same
size at once, as array operations:

- up to `ENUMERATE_MAX` invoices, every subset's sum is enumerated and compared with the target;
- up to `MEET_IN_MIDDLE_MAX` invoices, meet in the middle: the sums of each half's subsets, one
  half sorted and searched for what each sum of the other half leaves (2 x 2^(n/2) sums, not 2^n);
- beyond that (the fallback), the `MEET_IN_MIDDLE_MAX` invoices issued nearest the payment's date
  are searched, so a set among a large group's other invoices can be missed.

Sizes are searched smallest first until the time budget is spent; `SubsetResult.skipped` counts
the targets left unsearched. At most `MAX_SOLUTIONS` sets are kept per target: more than one
means the amount alone cannot tell them apart.
"""

from __future__ import annotations

import time
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

ENUMERATE_MAX = 10
MEET_IN_MIDDLE_MAX = 32
MAX_SOLUTIONS = 3
_CHUNK_CELLS = 4_000_000  # sums held at once

Ints = npt.NDArray[np.int64]


@dataclass
class SubsetResult:
    """Found sets as parallel lists: the target's index and the invoice indexes of one set."""

    targets: list[int] = field(default_factory=list)
    sets: list[list[int]] = field(default_factory=list)
    skipped: int = 0


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

    `group`, `amount` and `day` describe the invoices, sorted by group (numbered from 0); `day`
    is an issue date as a day number. Targets name their group the same way. Returned sets hold
    invoice indexes.
    """
    deadline = time.monotonic() + budget_s
    result = SubsetResult()
    starts = np.searchsorted(group, np.arange(int(group.max(initial=-1)) + 2))
    sizes = np.diff(starts)
    target_sizes = sizes[target_group] if len(target_group) else np.zeros(0, np.int64)
    for n in np.unique(target_sizes).tolist():
        chosen = np.flatnonzero(target_sizes == n)
        if n < 2:
            continue
        if time.monotonic() > deadline:
            result.skipped += len(chosen)
            continue
        firsts = starts[target_group[chosen]]
        members = firsts[:, None] + np.arange(n)  # targets x invoices
        if n > MEET_IN_MIDDLE_MAX:
            nearest = np.argsort(np.abs(day[members] - target_day[chosen][:, None]), axis=1)
            members = np.sort(
                np.take_along_axis(members, nearest[:, :MEET_IN_MIDDLE_MAX], axis=1), axis=1
            )
        search = _enumerate if members.shape[1] <= ENUMERATE_MAX else _meet_in_middle
        search(chosen, members, amount, target_amount, result)
    return result


def _enumerate(
    chosen: Ints, members: Ints, amount: Ints, target_amount: Ints, result: SubsetResult
) -> None:
    """Every subset of size >= 2, for each target at once."""
    masks = _masks(members.shape[1])
    masks = masks[masks.sum(axis=1) >= 2]
    step = max(1, _CHUNK_CELLS // len(masks))
    for lo in range(0, len(chosen), step):
        rows = slice(lo, lo + step)
        sums = amount[members[rows]] @ masks.T  # targets x subsets
        hits = np.argwhere(sums == target_amount[chosen[rows]][:, None])
        kept: dict[int, int] = {}
        for row, col in hits.tolist():
            if kept.setdefault(row, 0) < MAX_SOLUTIONS:
                kept[row] += 1
                result.targets.append(int(chosen[lo + row]))
                result.sets.append(members[lo + row][masks[col] == 1].tolist())


def _meet_in_middle(
    chosen: Ints, members: Ints, amount: Ints, target_amount: Ints, result: SubsetResult
) -> None:
    """Left-half sums against the sorted right-half sums, for each target at once: each row's
    right sums are shifted by the row times a span wider than any sum, so one sorted array and
    one binary search serve every row."""
    n = members.shape[1]
    half = n // 2
    left_masks, right_masks = _masks(half), _masks(n - half)
    widest = (n - half) * int(amount.max(initial=0)) + 1  # no right-half sum reaches it
    step = max(1, min(_CHUNK_CELLS // len(right_masks), 2**62 // widest))
    for lo in range(0, len(chosen), step):
        rows = slice(lo, lo + step)
        values = amount[members[rows]]
        left = values[:, :half] @ left_masks.T  # targets x left subsets
        right = values[:, half:] @ right_masks.T
        span = int(max(right.max(), 0)) + 1
        shift = np.arange(len(right), dtype=np.int64)[:, None] * span
        order = np.argsort(right, axis=1, kind="stable")
        flat = (np.take_along_axis(right, order, axis=1) + shift).ravel()
        need = target_amount[chosen[rows]][:, None] - left
        valid = (need >= 0) & (need < span)
        keys = np.where(valid, need + shift, -1)
        first = np.searchsorted(flat, keys, side="left")
        last = np.searchsorted(flat, keys, side="right")
        kept: dict[int, int] = {}
        for row, i in np.argwhere(valid & (last > first)).tolist():
            for position in range(int(first[row, i]), int(last[row, i])):
                j = int(order[row, position - row * len(right_masks)])
                chosen_members = np.concatenate(
                    [np.flatnonzero(left_masks[i]), half + np.flatnonzero(right_masks[j])]
                )
                if len(chosen_members) < 2 or kept.setdefault(row, 0) >= MAX_SOLUTIONS:
                    continue
                kept[row] += 1
                result.targets.append(int(chosen[lo + row]))
                result.sets.append(members[lo + row][chosen_members].tolist())


def _masks(n: int) -> Ints:
    """All 2^n subsets of n items as rows of 0/1."""
    return ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(np.int64)
