"""Reading each record's JSON paths once gives exactly what reading them per use gave."""

from __future__ import annotations

import duckdb
import pytest

from models import mapping as m
from models.normalize import _JsonReads

PAYLOADS = [
    '{"a": "text", "n": 16.30, "i": 4372460000000650034, "z": null, "o": {"k": 1}, "l": [1]}',
    '{"a": " padded ", "n": -0.0, "i": 12, "big": 1e300, "huge": 123456789012345678901234567890}',
    '{"a": "", "n": 99999999999999.9999, "s": "16.30", "t": true, "f": false}',
    '{"n": 12.34567, "nested": {"deep": {"x": "y"}}, "weird key": 5, "o": {}}',
    '{"unicode": "Zoë – ½", "esc": "a\\"b\\\\c\\n"}',
    "{}",
]
PATHS = [
    "a",
    "n",
    "i",
    "z",
    "o",
    "l",
    "big",
    "huge",
    "s",
    "t",
    "f",
    "missing",
    "nested.deep.x",
    "weird key",
    "unicode",
    "esc",
]


@pytest.mark.parametrize("path", PATHS)
def test_text_and_type_at_a_path_are_unchanged(path: str) -> None:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE src (n INTEGER, p JSON)")
    conn.executemany("INSERT INTO src VALUES (?, ?)", list(enumerate([*PAYLOADS, None])))
    both = m.expr(m.at(path), ", ", m.type_of(path))
    reads = _JsonReads()
    once = both.render(reads.read)
    assert "->> '$'" in once and f"'$.{path}" not in once and '."' not in once
    expected = conn.execute(f"SELECT {both.render()} FROM src ORDER BY n").fetchall()
    actual = conn.execute(
        f"SELECT {once} FROM (SELECT *, {reads.extractions()} FROM src) ORDER BY n"
    ).fetchall()
    assert actual == expected


def test_each_path_is_extracted_once_per_alias() -> None:
    reads = _JsonReads()
    sql = m.expr(
        m.at("a"), " || ", m.at("a"), " || ", m.type_of("a"), " || ", m.at("b", alias="d"),
        " || (x ->> 'c')",
    ).render(reads.read)  # fmt: skip
    assert sql.count("json_values__p[1]") == 3 and "json_values__d[1]" in sql
    assert "(x ->> 'c')" in sql  # SQL text, not a reference: left alone
    assert reads.extractions() == (
        "json_extract(p, ['$.a']) AS json_values__p, json_extract(d, ['$.b']) AS json_values__d"
    )
