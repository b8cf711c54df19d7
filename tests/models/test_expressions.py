"""Expressions keep their JSON reads structured, render plain SQL, and refuse what would need
escaping."""

from __future__ import annotations

import duckdb
import pytest

from models import mapping as m
from models.expressions import Ref


def test_an_expression_renders_its_reads_and_lists_them() -> None:
    read = m.template(
        "{text} || {kind}", text=m.at("Total.IncTax"), kind=m.type_of("weird key", alias="d")
    )
    assert read.render() == "(p ->> '$.Total.IncTax') || json_type(d, '$.\"weird key\"')"
    seen: list[tuple[str, str, str]] = []

    def note(ref: Ref) -> str:
        seen.append((type(ref).__name__, ref.alias, str(ref.path)))
        return "?"

    assert read.render(note) == "? || ?"
    assert seen == [("TextAt", "p", "Total.IncTax"), ("TypeAt", "d", "weird key")]


def test_a_rendered_expression_reads_the_payload() -> None:
    read = m.template("{text} || ' ' || {kind}", text=m.at("a.b"), kind=m.type_of("a"))
    [(found,)] = duckdb.sql(
        f'SELECT {read.render()} FROM (SELECT \'{{"a": {{"b": 7}}}}\'::JSON AS p)'
    ).fetchall()
    assert found == "7 OBJECT"


def test_a_literal_is_quoted() -> None:
    assert m.literal("it's").render() == "'it''s'"


def test_a_template_with_a_placeholder_not_given_or_a_value_not_used_is_refused() -> None:
    with pytest.raises(ValueError, match="no value for {b}"):
        m.template("{a} + {b}", a=m.at("x"))
    with pytest.raises(ValueError, match=r"\['b'\] given but not used"):
        m.template("{a}", a=m.at("x"), b=m.at("y"))
    assert m.template("{{a}} {a}", a=m.literal("x")).render() == "{a} 'x'"


@pytest.mark.parametrize("path", ["", "a..b", "it's", 'say "x"', "l[0]", "back\\slash"])
def test_a_path_that_would_need_escaping_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="JSON path"):
        m.at(path)


@pytest.mark.parametrize("alias", ["", "p.q", "p; DROP TABLE x", "1p"])
def test_an_alias_that_is_not_an_identifier_is_refused(alias: str) -> None:
    with pytest.raises(ValueError, match="not an SQL identifier"):
        m.at("a", alias=alias)
