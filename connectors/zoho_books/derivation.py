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
from models.raw import DERIVED_FROM

__all__ = ["PAYMENT_APPLICATIONS"]


def _fields(json_sql: str, *paths: str) -> str:
    """The values at `paths` as text, from one parse of the document (each `->>` parses anew)."""
    listed = ", ".join(f"'$.{path}'" for path in paths)
    return f"json_extract_string({json_sql}, [{listed}])"


def _exact(text_sql: str) -> str:
    """An amount written with at most 4 decimals, as DECIMAL(18,4); NULL for anything else (an
    exponent, more decimals, too large): such a row is not derived. (`exact_money` says the same
    of more forms, but its DECIMAL(38,12) cast costs 50 times more.)"""
    return (
        f"(CASE WHEN regexp_full_match({text_sql}, '-?[0-9]+([.][0-9][0-9]?[0-9]?[0-9]?)?') "
        f"THEN TRY_CAST({text_sql} AS DECIMAL(18,4)) END)"
    )


def _reduction(text_sql: str) -> str:
    """An amount that reduces the invoice's balance besides payments: 0 when the row has none."""
    return f"(CASE WHEN {text_sql} IS NULL THEN 0 ELSE {_exact(text_sql)} END)"


def _numbers(text_sql: str) -> str:
    """The invoice numbers a list row names (`"INV-1"`, `"INV-1,INV-2"`, `"INV-1, INV-2"`)."""
    return (
        f"list_filter(list_transform(string_split(coalesce({text_sql}, ''), ','), "
        "x -> trim(x)), x -> x <> '')"
    )


_PAYMENT_FIELDS = _fields(
    "p.payload",
    "payment_id",
    "date",
    "customer_id",
    "currency_code",
    "invoice_numbers",
    "amount",
    "unused_amount",
)
_INVOICE_KEYS = _fields("payload", "invoice_number", "customer_id", "currency_code", "status")
_INVOICE_AMOUNTS = _fields("payload", "total", "credits_applied", "write_off_amount", "balance")

# Each CTE is MATERIALIZED: DuckDB would otherwise inline one into each use and parse every
# payload again (quadratic where a correlated use repeats it).
_CANDIDATES = f"""
WITH listed AS MATERIALIZED (
    SELECT record_id, f[1] AS payment_id, f[2] AS date, f[3] AS customer_id,
           nullif(f[4], '') AS currency, {_numbers("f[5]")} AS numbers,
           {_exact("f[6]")} AS amount, {_exact("f[7]")} AS unused
    FROM (
        SELECT p.record_id, {_PAYMENT_FIELDS} AS f
        FROM {{customerpayments}} p SEMI JOIN pending USING (record_id)
        WHERE p.connection_id = $connection_id AND p.vanished_at IS NULL
    )
),
named AS MATERIALIZED (
    SELECT *, CASE WHEN len(numbers) = 1 THEN numbers[1] END AS number FROM listed
),
wanted AS MATERIALIZED (SELECT DISTINCT number FROM named WHERE number IS NOT NULL),
numbered AS MATERIALIZED (
    SELECT number, any_value(record_id) AS invoice_id, any_value(f[2]) AS customer_id,
           any_value(f[3]) AS currency, any_value(f[4]) AS status
    FROM (
        SELECT record_id, f[1] AS number, f
        FROM (
            SELECT record_id, {_INVOICE_KEYS} AS f
            FROM {{invoices}}
            WHERE connection_id = $connection_id AND vanished_at IS NULL
        )
    ) SEMI JOIN wanted USING (number)
    GROUP BY number
    HAVING count(*) = 1
)
SELECT l.record_id, json_object(
    'payment_id', l.payment_id,
    'date', l.date,
    'invoices', CASE WHEN len(l.numbers) = 0 THEN []::JSON[] ELSE [json_object(
        'invoice_id', n.invoice_id,
        'invoice_number', n.number,
        'amount_applied', l.amount - l.unused
    )] END,
    '{DERIVED_FROM}', 'customerpayments'
) AS payload
FROM named l LEFT JOIN numbered n ON n.number = l.number
WHERE l.amount IS NOT NULL AND l.unused IS NOT NULL AND l.unused >= 0
  AND (
    (len(l.numbers) = 0 AND l.amount = l.unused)
    OR (
        len(l.numbers) = 1 AND l.amount > l.unused AND n.invoice_id IS NOT NULL
        AND n.customer_id = l.customer_id
        AND coalesce(n.status, '') <> 'void'
        AND coalesce(l.currency, n.currency) = n.currency
    )
  )
"""

_CONFIRMED = f"""
WITH derived AS MATERIALIZED (
    SELECT record_id AS payment_id, f[1] AS invoice_id, f[2] AS number,
           CAST(f[3] AS DECIMAL(18,4)) AS applied
    FROM (
        SELECT record_id, {_fields("a", "invoice_id", "invoice_number", "amount_applied")} AS f
        FROM (
            SELECT record_id, unnest(CAST(json_extract(payload, '$.invoices') AS JSON[])) AS a
            FROM candidates
        )
    )
),
targets AS MATERIALIZED (SELECT DISTINCT invoice_id FROM derived),
stored AS MATERIALIZED (
    SELECT f[1] AS invoice_id, sum({_exact("f[2]")} + {_reduction("f[3]")}) AS applied
    FROM (
        SELECT {_fields("a", "invoice_id", "amount_applied", "tax_amount_withheld")} AS f
        FROM (
            SELECT unnest(CAST(json_extract(d.payload, '$.invoices') AS JSON[])) AS a
            FROM {{customerpayment_details}} d
            JOIN {{customerpayments}} p
              ON p.connection_id = d.connection_id AND p.record_id = d.record_id
            ANTI JOIN pending q ON q.record_id = d.record_id
            WHERE d.connection_id = $connection_id AND d.vanished_at IS NULL
              AND p.vanished_at IS NULL
        )
    )
    WHERE f[1] IN (SELECT invoice_id FROM targets)
    GROUP BY f[1]
),
awaited AS MATERIALIZED (
    SELECT DISTINCT unnest({_numbers("p.payload ->> '$.invoice_numbers'")}) AS number
    FROM {{customerpayments}} p
    SEMI JOIN pending q ON q.record_id = p.record_id
    ANTI JOIN candidates c ON c.record_id = p.record_id
    WHERE p.connection_id = $connection_id
),
invoiced AS MATERIALIZED (
    SELECT record_id AS invoice_id, {_exact("f[1]")} - {_reduction("f[2]")}
           - {_reduction("f[3]")} - {_exact("f[4]")} AS paid
    FROM (
        SELECT record_id, {_INVOICE_AMOUNTS} AS f
        FROM {{invoices}}
        WHERE connection_id = $connection_id AND record_id IN (SELECT invoice_id FROM targets)
    )
),
settled AS MATERIALIZED (
    SELECT d.invoice_id
    FROM (SELECT invoice_id, any_value(number) AS number, sum(applied) AS applied
          FROM derived GROUP BY invoice_id) d
    JOIN invoiced i USING (invoice_id)
    LEFT JOIN stored s USING (invoice_id)
    ANTI JOIN awaited w ON w.number = d.number
    WHERE d.applied + coalesce(s.applied, 0) = i.paid
),
unsettled AS MATERIALIZED (
    SELECT DISTINCT d.payment_id FROM derived d ANTI JOIN settled s USING (invoice_id)
)
SELECT c.record_id FROM candidates c ANTI JOIN unsettled u ON u.payment_id = c.record_id
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
