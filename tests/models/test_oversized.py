"""Screening a page for records too large to load: the page lands without them, in a shape the
loader reads with the stream's records path, and a page under the limit lands as received."""

from __future__ import annotations

import duckdb
import orjson
import pytest

from models.oversized import screen_page

LIMIT = 2_000
SMALL = [{"id": 1, "total": 12.5}, {"id": 2, "total": 7.25}]
HUGE = {"id": 3, "notes": "x" * 5_000, "lines": list(range(50))}


def _loaded(body: bytes, records_path: str) -> list[dict]:
    """What the loader finds in the page (models.raw: json_extract at the records path)."""
    rows = duckdb.sql(
        "SELECT unnest(CAST(json_extract(?, ?) AS JSON[]))", params=[body.decode(), records_path]
    ).fetchall()
    return [orjson.loads(row[0]) for row in rows]


@pytest.mark.parametrize(
    ("records_path", "page"),
    [
        ("$.invoices", lambda records: {"invoices": records, "page_context": {"page": 1}}),
        ("$.value", lambda records: {"@odata.context": "x", "value": records}),
        ("$[*]", lambda records: records),
        ("$[*].payment", lambda records: [{"code": 0, "payment": r} for r in records]),
    ],
)
def test_the_oversized_record_is_left_out_and_the_rest_load(records_path, page):
    records = [SMALL[0], HUGE, SMALL[1]]
    body = orjson.dumps(page(records))

    screened = screen_page(body, records, records_path=records_path, id_path="$.id", limit=LIMIT)

    assert _loaded(screened.body, records_path) == SMALL
    [oversized] = screened.oversized
    assert (oversized.record_id, oversized.size) == ("3", len(orjson.dumps(HUGE)))
    abridged = orjson.loads(oversized.abridged)
    assert abridged["notes"] == "x" * 200 + "… (4,800 characters more)"
    assert abridged["lines"][-1] == "… (30 items more)"


def test_a_page_under_the_limit_lands_as_received():
    body = b'{"invoices": [{"id": 1, "total": 12.50}]}'
    screened = screen_page(
        body, [{"id": 1, "total": 12.5}], records_path="$.invoices", id_path="$.id", limit=LIMIT
    )
    assert (screened.body, screened.oversized) == (body, ())


def test_a_record_already_found_oversized_is_left_out_of_a_page_that_repeats_it():
    """Pages that overlap repeat a row the page before had (parsed records omit it)."""
    body = orjson.dumps({"invoices": [HUGE, *SMALL]})

    screened = screen_page(
        body, SMALL, records_path="$.invoices", id_path="$.id", limit=LIMIT, excluded={"3"}
    )

    assert (_loaded(screened.body, "$.invoices"), screened.oversized) == (SMALL, ())
