"""Parsing each record's JSON once gives exactly what parsing it per path gave."""

from __future__ import annotations

import duckdb
import pytest

from models.normalize import _ParsedOnce

PAYLOADS = [
    '{"a": "text", "n": 16.30, "i": 4372460000000650034, "z": null, "o": {"k": 1}, "l": [1]}',
    '{"a": " padded ", "n": -0.0, "i": 12, "big": 1e300, "huge": 123456789012345678901234567890}',
    '{"a": "", "n": 99999999999999.9999, "s": "16.30", "t": true, "f": false}',
    '{"n": 12.34567, "nested": {"deep": {"x": "y"}}, "weird key": 5, "o": {}}',
    '{"unicode": "Zoë – ½", "esc": "a\\"b\\\\c\\n"}',
    "{}",
]
PATHS = [
    "$.a",
    "$.n",
    "$.i",
    "$.z",
    "$.o",
    "$.l",
    "$.big",
    "$.huge",
    "$.s",
    "$.t",
    "$.f",
    "$.missing",
    "$.nested.deep.x",
    '$."weird key"',
    "$.unicode",
    "$.esc",
]


@pytest.mark.parametrize("path", PATHS)
def test_text_and_type_at_a_path_are_unchanged(path: str) -> None:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE src (n INTEGER, p JSON)")
    conn.executemany("INSERT INTO src VALUES (?, ?)", list(enumerate([*PAYLOADS, None])))
    direct = f"(p ->> '{path}'), json_type(p, '{path}')"
    parsed = _ParsedOnce()
    rewritten = parsed.rewrite(direct)
    assert "->> '$'" in rewritten and path not in rewritten
    expected = conn.execute(f"SELECT {direct} FROM src ORDER BY n").fetchall()
    actual = conn.execute(
        f"SELECT {rewritten} FROM (SELECT *, {parsed.extractions()} FROM src) ORDER BY n"
    ).fetchall()
    assert actual == expected


def test_each_path_is_extracted_once_per_alias() -> None:
    parsed = _ParsedOnce()
    sql = parsed.rewrite(
        "(p ->> '$.a') || (p ->> '$.a') || json_type(p, '$.a') || (d ->> '$.b') || (x ->> 'c')"
    )
    assert sql.count("json_values__p[1]") == 3 and "json_values__d[1]" in sql
    assert "(x ->> 'c')" in sql  # not a JSON path the mapping helpers write: left alone
    assert parsed.extractions() == (
        "json_extract(p, ['$.a']) AS json_values__p, json_extract(d, ['$.b']) AS json_values__d"
    )
