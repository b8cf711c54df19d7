"""A payment's invoice applications from its /customerpayments list row, where that is exact.

The list row carries `invoice_numbers`, `amount` and `unused_amount`, not the `invoices[]` of
the detail (SOURCES.md §3.3). What the vendor's contract settles from the list alone:

- `amount − unused_amount` is the money the payment applied (its detail's Σ `amount_applied`);
- a row naming no invoice with nothing applied has no applications;
- a row naming exactly one invoice applied all of it there, *unless* tax was withheld (the
  detail's `tax_amount_withheld`, which the list cannot show) or part went to an invoice the
  list cannot name. Both leave a trace on the invoice: its own list row says what was paid on
  it, `total − credits_applied − write_off_amount − balance`, which is then more than the
  applications the warehouse knows. So a single-invoice payment is derived only where the
  invoice's number maps to exactly one live invoice of the same customer (and currency), not
  void, and the applications known for that invoice (every other payment's, fetched or derived
  before, and this sync's candidates) add up to what the invoice says was paid, to the cent.

Everything else is fetched: several invoices, a number mapping to no invoice or to several, a
void invoice, an amount that cannot be read exactly, an invoice that another payment still to
be fetched names, any difference in the invoice's sum. A missing `credits_applied` or
`write_off_amount` on the invoice counts as 0: all the terms are non-negative, so an omission
can only make the sum disagree, never agree falsely. What no list row can show at all — the
payment's `bank_charges` — stays unknown for a derived payment (canonical NULL).

The derived record has the detail's shape, `{"payment_id", "date", "invoices": [{"invoice_id",
"invoice_number", "amount_applied"}]}`, so the mappings read it as they read a detail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.streams import ChildDerivation
from models.mapping import exact_money
from models.raw import DERIVED_FROM

__all__ = ["PAYMENT_APPLICATIONS"]


def _money(json_sql: str, path: str) -> str:
    return exact_money(f"({json_sql} ->> '$.{path}')")


def _reduction(json_sql: str, path: str) -> str:
    """An amount that reduces the invoice's balance besides payments: 0 when the row has none."""
    absent = f"({json_sql} ->> '$.{path}') IS NULL"
    return f"(CASE WHEN {absent} THEN 0 ELSE {_money(json_sql, path)} END)"


def _numbers(json_sql: str) -> str:
    """The invoice numbers a list row names (`"INV-1"`, `"INV-1,INV-2"`, `"INV-1, INV-2"`)."""
    return (
        f"list_filter(list_transform(string_split(coalesce({json_sql} ->> '$.invoice_numbers', "
        "''), ','), x -> trim(x)), x -> x <> '')"
    )


_CANDIDATES = f"""
WITH listed AS (
    SELECT p.record_id, p.payload AS row, {_numbers("p.payload")} AS numbers,
           {_money("p.payload", "amount")} AS amount,
           {_money("p.payload", "unused_amount")} AS unused
    FROM {{customerpayments}} p JOIN pending USING (record_id)
    WHERE p.connection_id = $connection_id AND p.vanished_at IS NULL
),
numbered AS (
    SELECT payload ->> '$.invoice_number' AS number, any_value(record_id) AS invoice_id,
           any_value(payload) AS invoice
    FROM {{invoices}}
    WHERE connection_id = $connection_id AND vanished_at IS NULL
      AND (payload ->> '$.invoice_number') IN (SELECT unnest(numbers) FROM listed)
    GROUP BY 1
    HAVING count(*) = 1
)
SELECT l.record_id, json_object(
    'payment_id', l.row ->> '$.payment_id',
    'date', l.row ->> '$.date',
    'invoices', CASE WHEN len(l.numbers) = 0 THEN []::JSON[] ELSE [json_object(
        'invoice_id', n.invoice_id,
        'invoice_number', n.number,
        'amount_applied', l.amount - l.unused
    )] END,
    '{DERIVED_FROM}', 'customerpayments'
) AS payload
FROM listed l LEFT JOIN numbered n ON len(l.numbers) = 1 AND n.number = l.numbers[1]
WHERE l.amount IS NOT NULL AND l.unused IS NOT NULL AND l.unused >= 0
  AND (
    (len(l.numbers) = 0 AND l.amount = l.unused)
    OR (
        len(l.numbers) = 1 AND l.amount > l.unused AND n.invoice_id IS NOT NULL
        AND (n.invoice ->> '$.customer_id') = (l.row ->> '$.customer_id')
        AND coalesce(n.invoice ->> '$.status', '') <> 'void'
        AND coalesce(nullif(l.row ->> '$.currency_code', ''), n.invoice ->> '$.currency_code')
            = (n.invoice ->> '$.currency_code')
    )
  )
"""

_CONFIRMED = f"""
WITH derived AS (
    SELECT c.record_id AS payment_id, a ->> '$.invoice_id' AS invoice_id,
           a ->> '$.invoice_number' AS number,
           CAST(a ->> '$.amount_applied' AS DECIMAL(18,4)) AS applied
    FROM candidates c, unnest(CAST(json_extract(c.payload, '$.invoices') AS JSON[])) AS t(a)
),
stored AS (
    SELECT a ->> '$.invoice_id' AS invoice_id,
           sum({_money("a", "amount_applied")} + {_reduction("a", "tax_amount_withheld")})
             AS applied
    FROM (
        SELECT unnest(CAST(json_extract(d.payload, '$.invoices') AS JSON[])) AS a
        FROM {{customerpayment_details}} d
        JOIN {{customerpayments}} p
          ON p.connection_id = d.connection_id AND p.record_id = d.record_id
        WHERE d.connection_id = $connection_id AND d.vanished_at IS NULL
          AND p.vanished_at IS NULL AND d.record_id NOT IN (SELECT record_id FROM pending)
    )
    WHERE (a ->> '$.invoice_id') IN (SELECT invoice_id FROM derived)
    GROUP BY 1
),
awaited AS (
    SELECT DISTINCT unnest({_numbers("p.payload")}) AS number
    FROM {{customerpayments}} p JOIN pending USING (record_id)
    WHERE p.connection_id = $connection_id
      AND p.record_id NOT IN (SELECT record_id FROM candidates)
),
settled AS (
    SELECT d.invoice_id
    FROM (SELECT invoice_id, any_value(number) AS number, sum(applied) AS applied
          FROM derived GROUP BY invoice_id) d
    JOIN {{invoices}} i ON i.connection_id = $connection_id AND i.record_id = d.invoice_id
    LEFT JOIN stored s ON s.invoice_id = d.invoice_id
    WHERE d.number NOT IN (SELECT number FROM awaited)
      AND d.applied + coalesce(s.applied, 0) = {_money("i.payload", "total")}
          - {_reduction("i.payload", "credits_applied")}
          - {_reduction("i.payload", "write_off_amount")}
          - {_money("i.payload", "balance")}
)
SELECT c.record_id FROM candidates c
WHERE NOT EXISTS (
    SELECT 1 FROM derived d
    WHERE d.payment_id = c.record_id AND d.invoice_id NOT IN (SELECT invoice_id FROM settled)
)
"""


def same_applications(derived: Mapping[str, Any], fetched: Mapping[str, Any]) -> bool:
    """Whether a fetched detail applies exactly what was derived, and withholds nothing."""
    return _applications(derived) == _applications(fetched)


def _applications(record: Mapping[str, Any]) -> Counter[tuple[str, Decimal, Decimal]] | None:
    lines = record.get("invoices")
    if not isinstance(lines, list):
        return None
    try:
        return Counter(
            (
                str(line.get("invoice_id")),
                Decimal(str(line.get("amount_applied"))),
                Decimal(str(line.get("tax_amount_withheld") or 0)),
            )
            for line in lines
        )
    except (AttributeError, InvalidOperation):
        return None


PAYMENT_APPLICATIONS = ChildDerivation(
    candidates=_CANDIDATES, confirmed=_CONFIRMED, same=same_applications
)
