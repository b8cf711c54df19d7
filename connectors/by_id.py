"""Fetching a stream's records by id, a few ids a request: the part of
`KeyListing.extract_by_ids` every source shares. Each source builds its own id filter
(Business Central `id eq … or …`, Simpro `ID=in(…)`, Carbon `id=in.(…)`) and caps the ids per
request so its URLs stay short."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from itertools import chain

from connectors.pagination import Page

__all__ = ["by_id_then_listing", "pages_by_id"]


def pages_by_id(
    ids: Sequence[str], per_request: int, listing: Callable[[Sequence[str]], Iterable[Page]]
) -> Iterator[Page]:
    """The pages of `listing` over each run of at most `per_request` of `ids` in turn,
    numbered as one listing."""
    if per_request < 1:
        raise ValueError("per_request must be at least 1")
    number = 0
    for start in range(0, len(ids), per_request):
        for page in listing(ids[start : start + per_request]):
            number += 1
            yield replace(page, number=number)


def by_id_then_listing(by_id: Iterable[Page], listing: Iterable[Page]) -> Iterator[Page]:
    """The pages of records read again by id, then a listing's, numbered as one listing. A
    stream stopped at its deadline loads what it fetched but moves no cursor, so the next sync
    asks for all of them again."""
    for number, page in enumerate(chain(by_id, listing), start=1):
        yield replace(page, number=number)
