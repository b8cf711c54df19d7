"""SQL templates: named placeholders filled by name, and the report files' placeholders."""

from __future__ import annotations

import pytest

from models.reports import REPORTS
from models.sql_template import SqlTemplate, load_template


def test_placeholders_are_filled_by_name_and_doubled_braces_are_literal() -> None:
    template = SqlTemplate("t.sql", "SELECT {{'a': 1}} FROM {table} JOIN {table} USING ({key})")
    assert template.placeholders == {"table", "key"}
    assert template.render(table="t", key="id") == "SELECT {'a': 1} FROM t JOIN t USING (id)"


@pytest.mark.parametrize(
    ("values", "problem"),
    [({"table": "t"}, "no value for ['key']"), ({"table": "t", "key": "k", "x": "y"}, "['x']")],
)
def test_a_missing_or_unused_value_is_an_error_naming_the_file(values, problem) -> None:
    template = SqlTemplate("models/sql/t.sql", "FROM {table} USING ({key})")
    with pytest.raises(ValueError, match=r"models/sql/t\.sql") as raised:
        template.render(**values)
    assert problem in str(raised.value)


@pytest.mark.parametrize("name", REPORTS)
def test_each_report_opens_its_with_clause_with_its_inputs_and_reads_only_the_ledgers(name) -> None:
    template = load_template("models.sql", name)
    assert "WITH {inputs}\n" in template.text
    assert template.placeholders - {"inputs"} <= {
        "invoice_ledger",
        "payment_ledger",
        "held_applications",
    }
    assert template.placeholders - {"inputs"}
