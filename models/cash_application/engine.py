"""Cash application suggestions: for each payment (or open credit note) with unapplied cash at an
as-of date, the open invoices, or sets of them, it most likely pays.

Read from the report ledgers (`reports.payment_ledger_at`, `reports.invoice_ledger_at`), so
unapplied cash and open balances are exactly those of `reports.unapplied_payments` and
`reports.invoice_balances`. Nothing is written anywhere but `reports.cash_application_suggestions`.

Candidates, each with the evidence that produced it:
- a reference naming an invoice, parsed tolerantly: digit runs with their letter prefix, leading
  zeros and separators ignored ("inv 42", "INV000042", "#42" all name INV-000042); a prefix that
  is not the invoice's own or a word for invoice ("TRF-0000042") names nothing;
- the customer's open invoices whose balance the amount equals exactly, or falls short of by a
  bank charge or an early-payment discount, or exceeds by an overpayment (< 100 units); an invoice
  in another currency whose value at the documents' rates is within the FX tolerance;
- sets of the customer's open invoices summing exactly to the amount (`subsets`), and the set of
  invoices a reference names when they sum to it;
- failing all of that, the customer's oldest open invoices, first come first settled: the weakest.
Payments from another customer are candidates only through a reference.

Confidence is the calibrated probability that a candidate is the true application, looked up by
its evidence class (`calibration`); the top candidate is in the "auto" band when its confidence
reaches the setting (0.99 by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import duckdb
import numpy as np

from models.cash_application.calibration import load_calibration
from models.cash_application.columns import COLUMN_COMMENTS, TABLE_COMMENT
from models.cash_application.subsets import exact_subsets
from models.queries import quote
from models.transaction import transaction

__all__ = ["REPORT", "CashApplicationSettings", "SuggestionRun", "suggest_cash_applications"]

REPORT = "cash_application_suggestions"
_TEMPORARY = (
    "ca_ledger",
    "ca_payers",
    "ca_open",
    "ca_hits",
    "ca_pairs",
    "ca_sets",
    "ca_lines",
    "ca_candidates",
    "ca_calibration",
)
_UNITS = 10_000  # amounts are searched as integers in ten-thousandths
_INVOICE_WORDS = ("INV", "INVOICE", "INVNO", "NO", "NR", "NUM", "NUMBER", "REF", "BILL")
# How strong each kind of amount evidence is, to rank candidates the calibration cannot tell apart.
_RELATIONS = (
    "oldest_first",
    "over",
    "partial",
    "over_small",
    "over_round",
    "bank_charge",
    "discount",
    "converted",
    "subset",
    "exact",
)


@dataclass(frozen=True, slots=True)
class CashApplicationSettings:
    """The tolerances and bounds of the search; the defaults are what the benchmark measured."""

    auto_min_confidence: Decimal = Decimal("0.99")
    max_bank_charge: Decimal = Decimal("50")  # document currency units
    bank_charge_share: Decimal = Decimal("0.05")  # of the open balance, at most
    discount_rates: tuple[Decimal, ...] = tuple(
        Decimal(p) / 100 for p in ("0.5", "1", "1.5", "2", "2.5", "3", "4", "5")
    )
    discount_days: int = 30  # an early-payment discount is taken within this many days of issue
    fx_tolerance: Decimal = Decimal("0.02")  # relative, between values at the documents' rates
    candidates_per_payment: int = 5
    subset_budget_s: float = 10.0

    def __post_init__(self) -> None:
        if not Decimal(0) < self.auto_min_confidence <= 1:
            raise ValueError(
                f"auto_min_confidence must be in (0, 1], not {self.auto_min_confidence}"
            )
        if self.candidates_per_payment < 1:
            raise ValueError("candidates_per_payment must be at least 1")


@dataclass(frozen=True, slots=True)
class SuggestionRun:
    """What one run wrote: rows, payments with a suggestion, and set searches not done in time."""

    rows: int
    payments: int
    subset_targets_skipped: int


def suggest_cash_applications(
    conn: duckdb.DuckDBPyConnection,
    as_of: date,
    settings: CashApplicationSettings | None = None,
) -> SuggestionRun:
    """Replace `reports.cash_application_suggestions` with the suggestions as of `as_of`.

    The report macros must be installed (`models.reports.install_report_macros`).
    """
    settings = settings or CashApplicationSettings()
    with transaction(conn):
        skipped = _suggest(conn, as_of, settings)
        _comment(conn)
    rows, payments = conn.execute(
        f"SELECT count(*), count(DISTINCT (connection_id, payer_kind, payment_id)) "
        f"FROM reports.{REPORT}"
    ).fetchone() or (0, 0)
    return SuggestionRun(int(rows), int(payments), skipped)


def _suggest(
    conn: duckdb.DuckDBPyConnection, as_of: date, settings: CashApplicationSettings
) -> int:
    """Write the report table from temporary tables, dropped again; return set searches skipped."""
    params: dict[str, object] = {
        "max_charge": int(settings.max_bank_charge * _UNITS),
        "charge_share": settings.bank_charge_share,
        "discounts": list(settings.discount_rates),
        "discount_days": settings.discount_days,
        "fx": settings.fx_tolerance,
    }
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE ca_ledger AS FROM reports.invoice_ledger_at(?)", [as_of]
    )
    conn.execute(_PAYERS, {"as_of": as_of})
    conn.execute(_OPEN)
    conn.execute(_HITS, {"words": list(_INVOICE_WORDS)})
    conn.execute(_PAIRS, params)
    skipped = _find_sets(conn, settings.subset_budget_s)
    conn.execute(_CANDIDATES)
    conn.execute(_RANKED, {"relations": list(_RELATIONS)})
    load_calibration(conn, "ca_calibration")
    conn.execute(
        _REPORT.replace("{report}", REPORT),
        {
            "as_of": as_of,
            "auto": settings.auto_min_confidence,
            "per_payment": settings.candidates_per_payment,
        },
    )
    for table in _TEMPORARY:
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
    return skipped


def _comment(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"COMMENT ON TABLE reports.{REPORT} IS {quote(TABLE_COMMENT)}")
    for column, text in COLUMN_COMMENTS.items():
        conn.execute(f"COMMENT ON COLUMN reports.{REPORT}.{column} IS {quote(text)}")


def _find_sets(conn: duckdb.DuckDBPyConnection, budget_s: float) -> int:
    """`ca_sets(payer_key, set_no, inv_key)`: exact subsets for payments with no exact single."""
    invoices = conn.execute(
        "SELECT group_key, units, day FROM ca_open ORDER BY inv_key"
    ).fetchnumpy()
    targets = conn.execute(_SET_TARGETS).fetchnumpy()
    found = exact_subsets(
        np.asarray(invoices["group_key"], np.int64),
        np.asarray(invoices["units"], np.int64),
        np.asarray(invoices["day"], np.int64),
        np.asarray(targets["group_key"], np.int64),
        np.asarray(targets["units"], np.int64),
        np.asarray(targets["day"], np.int64),
        budget_s=budget_s,
    )
    payer_keys = np.asarray(targets["payer_key"], np.int64)
    sizes = [len(members) for members in found.sets]
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE ca_sets AS "
        "SELECT unnest($payer::BIGINT[]) AS payer_key, unnest($set::BIGINT[]) AS set_no, "
        "unnest($invoice::BIGINT[]) AS inv_key",
        {
            "payer": np.repeat(payer_keys[found.targets], sizes).tolist(),
            "set": np.repeat(np.arange(len(sizes)), sizes).tolist(),
            "invoice": [inv_key for members in found.sets for inv_key in members],
        },
    )
    return found.skipped


# Payments and open credit notes with cash to apply. payer_key numbers them for the search.
_PAYERS = """
CREATE OR REPLACE TEMP TABLE ca_payers AS
SELECT row_number() OVER (ORDER BY u.connection_id, u.payer_kind, u.payment_id) AS payer_key,
       u.*,
       c.name AS customer_name,
       CAST(u.unapplied_amount * 10000 AS BIGINT) AS units
FROM (
    SELECT connection_id, source, 'payment' AS payer_kind, payment_id, payment_number,
           customer_id, payment_date, currency_code, exchange_rate, unapplied_amount, reference
    FROM reports.payment_ledger_at($as_of::DATE)
    WHERE unapplied_amount > 0
    UNION ALL
    SELECT connection_id, source, 'credit_note', invoice_id, invoice_number, customer_id,
           issue_date, currency_code, exchange_rate, -open_balance, NULL
    FROM ca_ledger
    WHERE issued AND source_status = 'credit_note' AND open_balance < 0
) u
LEFT JOIN canonical.customers c
  ON c.connection_id = u.connection_id AND c.customer_id = u.customer_id
"""

# Open invoices, numbered by (connection, customer, currency, issue date) so that each group the
# set search works on is one contiguous run; the number's letter prefix and digits for references.
_OPEN = r"""
CREATE OR REPLACE TEMP TABLE ca_open AS
SELECT row_number() OVER w - 1 AS inv_key,
       dense_rank() OVER (ORDER BY connection_id, customer_id, currency_code) - 1 AS group_key,
       connection_id, invoice_id, invoice_number, customer_id, customer_name, currency_code,
       exchange_rate, issue_date, due_date, coalesce(due_date, issue_date) AS due_on,
       open_balance,
       CAST(open_balance * 10000 AS BIGINT) AS units,
       date_diff('day', DATE '1970-01-01', issue_date) AS day,
       upper(regexp_extract(coalesce(invoice_number, invoice_id), '^[A-Za-z]*')) AS number_prefix,
       ltrim(regexp_extract(coalesce(invoice_number, invoice_id), '([0-9]+)[^0-9]*$', 1), '0')
           AS number_digits
FROM ca_ledger
WHERE issued AND receivable AND source_status <> 'credit_note' AND open_balance > 0
WINDOW w AS (ORDER BY connection_id, customer_id, currency_code, issue_date, invoice_id)
"""

# Invoices a payment's reference names: 2 when the prefix is the invoice's own (or a word for
# invoice, or both have none), 1 for bare digits.
_HITS = """
CREATE OR REPLACE TEMP TABLE ca_hits AS
WITH tokens AS (
    SELECT payer_key, connection_id, token,
           regexp_extract(token, '^[A-Z]*') AS prefix,
           ltrim(regexp_extract(token, '([0-9]+)$', 1), '0') AS digits
    FROM (
        SELECT payer_key, connection_id,
               unnest(regexp_extract_all(upper(reference), '[A-Z]*[^A-Z0-9]{0,3}[0-9]+')) AS token
        FROM ca_payers
        WHERE reference IS NOT NULL
    )
)
SELECT t.payer_key, o.inv_key,
       max(CASE WHEN t.prefix = o.number_prefix OR list_contains($words, t.prefix) THEN 2
                WHEN t.prefix = '' THEN 1
                ELSE 0 END) AS ref_strength
FROM tokens t
JOIN ca_open o ON o.connection_id = t.connection_id AND o.number_digits = t.digits
WHERE t.digits <> ''
GROUP BY ALL
HAVING ref_strength > 0
"""

# Single-invoice candidates: the customer's open invoices whose amount tells something, and any
# invoice a reference names, with how the amount relates to the open balance.
_PAIRS = """
CREATE OR REPLACE TEMP TABLE ca_pairs AS
WITH pairs AS (
    SELECT p.payer_key, o.inv_key
    FROM ca_payers p
    JOIN ca_open o ON o.connection_id = p.connection_id AND o.customer_id = p.customer_id
    UNION
    SELECT payer_key, inv_key FROM ca_hits
),
related AS (
    SELECT pr.payer_key, pr.inv_key,
           coalesce(h.ref_strength, 0) AS ref_strength,
           CASE WHEN o.customer_id = p.customer_id THEN 'same'
                WHEN split_part(lower(o.customer_name), ' ', 1)
                     = split_part(lower(p.customer_name), ' ', 1) THEN 'related'
                ELSE 'other' END AS customer_match,
           CASE
               WHEN o.currency_code <> p.currency_code THEN
                   CASE WHEN abs(p.unapplied_amount * p.exchange_rate
                                 - o.open_balance * o.exchange_rate)
                             <= $fx * o.open_balance * o.exchange_rate
                        THEN 'converted' END
               WHEN p.units = o.units THEN 'exact'
               WHEN date_diff('day', o.issue_date, p.payment_date) BETWEEN 0 AND $discount_days
                    AND len(list_filter($discounts, lambda d:
                        abs(p.units - round(o.units * (1 - d))) <= 100)) > 0 THEN 'discount'
               WHEN o.units - p.units BETWEEN 1 AND least($max_charge, o.units * $charge_share)
                   THEN 'bank_charge'
               WHEN p.units - o.units BETWEEN 1 AND 999999
                   THEN CASE WHEN p.units % 500000 = 0 THEN 'over_round' ELSE 'over_small' END
               WHEN p.units > o.units THEN 'over'
               ELSE 'partial'
           END AS relation,
           -- how far from a perfect match, to order candidates otherwise alike
           CASE WHEN o.currency_code <> p.currency_code
                THEN abs(p.unapplied_amount * p.exchange_rate - o.open_balance * o.exchange_rate)
                     / (o.open_balance * o.exchange_rate)
                ELSE abs(o.units - p.units) / o.units END AS gap
    FROM pairs pr
    JOIN ca_payers p USING (payer_key)
    JOIN ca_open o USING (inv_key)
    LEFT JOIN ca_hits h USING (payer_key, inv_key)
)
SELECT * FROM related
WHERE relation IS NOT NULL
  AND (ref_strength > 0
       OR (customer_match = 'same'
           AND relation IN ('exact', 'discount', 'bank_charge', 'over_round', 'over_small',
                            'converted')))
"""

# Payments the set search looks at: no exact single match with their own customer.
_SET_TARGETS = """
SELECT p.payer_key, g.group_key, p.units, date_diff('day', DATE '1970-01-01', p.payment_date) AS day
FROM ca_payers p
JOIN (SELECT DISTINCT connection_id, customer_id, currency_code, group_key FROM ca_open) g
  ON g.connection_id = p.connection_id AND g.customer_id = p.customer_id
 AND g.currency_code = p.currency_code
WHERE NOT EXISTS (
    SELECT 1 FROM ca_pairs x
    WHERE x.payer_key = p.payer_key AND x.customer_match = 'same' AND x.relation = 'exact'
)
ORDER BY p.payer_key
"""

# Every candidate (ca_candidates) and what it settles on each invoice (ca_lines): singles, exact
# sets, the set a reference names, and oldest-first for payments with nothing else.
_CANDIDATES = """
CREATE OR REPLACE TEMP TABLE ca_lines AS
WITH singles AS (
    SELECT x.payer_key, 'single:' || x.inv_key AS candidate, x.relation, x.ref_strength,
           x.customer_match, x.gap, x.inv_key,
           CASE WHEN x.relation IN ('bank_charge', 'discount', 'partial')
                THEN p.unapplied_amount ELSE o.open_balance END AS settles
    FROM ca_pairs x JOIN ca_payers p USING (payer_key) JOIN ca_open o USING (inv_key)
),
subsets AS (
    SELECT s.payer_key, 'set:' || s.set_no AS candidate, 'subset' AS relation,
           coalesce(max(h.ref_strength) OVER (PARTITION BY s.payer_key, s.set_no), 0)
               AS ref_strength,
           'same' AS customer_match, 0 AS gap, s.inv_key, o.open_balance AS settles
    FROM ca_sets s JOIN ca_open o USING (inv_key)
    LEFT JOIN ca_hits h USING (payer_key, inv_key)
),
named AS (
    SELECT h.payer_key, h.inv_key, o.open_balance, o.units, o.currency_code, o.customer_id,
           sum(o.units) OVER (PARTITION BY h.payer_key) AS total_units,
           count(*) OVER (PARTITION BY h.payer_key) AS named_count,
           count(DISTINCT o.currency_code) OVER (PARTITION BY h.payer_key) AS currencies
    FROM ca_hits h JOIN ca_open o USING (inv_key)
    WHERE h.ref_strength = 2
),
named_sets AS (
    SELECT n.payer_key, 'named' AS candidate, 'subset' AS relation, 2 AS ref_strength,
           CASE WHEN bool_and(n.customer_id = p.customer_id) OVER (PARTITION BY n.payer_key)
                THEN 'same' ELSE 'other' END AS customer_match,
           0 AS gap, n.inv_key, n.open_balance AS settles
    FROM named n JOIN ca_payers p USING (payer_key)
    WHERE n.named_count >= 2 AND n.total_units = p.units AND n.currencies = 1
      AND n.currency_code = p.currency_code
),
found AS (
    SELECT * FROM singles UNION ALL SELECT * FROM subsets UNION ALL SELECT * FROM named_sets
),
oldest AS (
    SELECT p.payer_key, 'oldest' AS candidate, 'oldest_first' AS relation, 0 AS ref_strength,
           'same' AS customer_match, o.inv_key, o.open_balance, p.unapplied_amount,
           coalesce(sum(o.open_balance) OVER (
               PARTITION BY p.payer_key ORDER BY o.due_on, o.inv_key
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM ca_payers p
    JOIN ca_open o
      ON o.connection_id = p.connection_id AND o.customer_id = p.customer_id
     AND o.currency_code = p.currency_code
    WHERE p.payer_key NOT IN (SELECT payer_key FROM found)
)
SELECT * FROM found
UNION ALL
SELECT payer_key, candidate, relation, ref_strength, customer_match, 0 AS gap, inv_key,
       least(open_balance, unapplied_amount - before) AS settles
FROM oldest
WHERE before < unapplied_amount
"""

# Candidates ranked by evidence strength, with their rivals (as strong) and evidence class.
_RANKED = """
CREATE OR REPLACE TEMP TABLE ca_candidates AS
WITH c AS (
    SELECT payer_key, candidate, any_value(relation) AS relation,
           any_value(ref_strength) AS ref_strength, any_value(customer_match) AS customer_match,
           any_value(gap) AS gap, count(*) AS invoice_count
    FROM ca_lines
    GROUP BY payer_key, candidate
),
scored AS (
    SELECT *,
           ref_strength * 100 + list_position($relations, relation) * 10
               + CASE customer_match WHEN 'same' THEN 2 WHEN 'related' THEN 1 ELSE 0 END
               AS strength
    FROM c
)
SELECT *,
       count(*) OVER alike - 1 AS rivals,
       -- top: the strongest and, of those as strong, the closest; tie: as strong, less close
       concat_ws('|', ['none', 'digits', 'named'][ref_strength + 1], relation, customer_match,
                 least(count(*) OVER alike - 1, 2),
                 CASE WHEN strength < max(strength) OVER (PARTITION BY payer_key) THEN 'below'
                      WHEN row_number() OVER (alike ORDER BY gap, candidate) = 1 THEN 'top'
                      ELSE 'tie' END) AS evidence_class
FROM scored
WINDOW alike AS (PARTITION BY payer_key, strength)
"""

_REPORT = """
CREATE OR REPLACE TABLE reports.{report} AS
WITH lines AS (
    SELECT l.payer_key, l.candidate,
           list(o.invoice_id ORDER BY o.issue_date, o.invoice_id) AS invoice_ids,
           list(o.invoice_number ORDER BY o.issue_date, o.invoice_id) AS invoice_numbers,
           list(l.settles::DECIMAL(18, 4) ORDER BY o.issue_date, o.invoice_id) AS settles,
           sum(l.settles)::DECIMAL(18, 4) AS settled_total,
           sum(o.open_balance)::DECIMAL(18, 4) AS open_total,
           any_value(o.customer_id) AS invoice_customer_id,
           any_value(o.customer_name) AS invoice_customer_name,
           any_value(o.currency_code) AS invoice_currency_code,
           min(o.issue_date) AS first_issue_date,
           max(o.issue_date) AS last_issue_date,
           min(o.due_on) AS earliest_due_date
    FROM ca_lines l JOIN ca_open o USING (inv_key)
    GROUP BY l.payer_key, l.candidate
),
confident AS (
    SELECT c.*, l.*,
           coalesce(k.confidence, b.confidence, 0)::DECIMAL(5, 4) AS confidence
    FROM ca_candidates c
    JOIN lines l USING (payer_key, candidate)
    LEFT JOIN ca_calibration k ON k.evidence_class = c.evidence_class
    LEFT JOIN (
        SELECT split_part(evidence_class, '|', 1) || '|' || split_part(evidence_class, '|', 2)
                   || '|' || split_part(evidence_class, '|', 3) AS coarse,
               (sum(correct) + 1) / (sum(candidates) + 2) AS confidence
        FROM ca_calibration GROUP BY 1
    ) b ON b.coarse = split_part(c.evidence_class, '|', 1) || '|'
                      || split_part(c.evidence_class, '|', 2) || '|'
                      || split_part(c.evidence_class, '|', 3)
),
ranked AS (
    SELECT *,
           row_number() OVER (
               PARTITION BY payer_key
               ORDER BY confidence DESC, strength DESC, gap, earliest_due_date, candidate
           ) AS rank
    FROM confident
),
settled AS (
    SELECT r.*, p.*  EXCLUDE (payer_key, units),
           CASE WHEN r.relation = 'converted' THEN p.unapplied_amount ELSE r.settled_total END
               ::DECIMAL(18, 4) AS payment_amount_used,
           CASE WHEN r.relation IN ('bank_charge', 'discount') THEN r.open_total - r.settled_total
                ELSE 0 END::DECIMAL(18, 4) AS adjustment
    FROM ranked r JOIN ca_payers p USING (payer_key)
    WHERE r.rank <= $per_payment
)
SELECT $as_of::DATE AS as_of,
       connection_id,
       source,
       payer_kind,
       payment_id,
       payment_number,
       customer_id,
       customer_name,
       payment_date,
       currency_code,
       unapplied_amount,
       reference,
       rank,
       confidence,
       CASE WHEN rank = 1 AND confidence >= $auto THEN 'auto'
            WHEN confidence >= 0.5 THEN 'likely'
            ELSE 'possible' END AS band,
       invoice_ids,
       invoice_numbers,
       invoice_customer_id,
       invoice_customer_name,
       invoice_currency_code,
       settles,
       settled_total,
       payment_amount_used,
       (unapplied_amount - payment_amount_used)::DECIMAL(18, 4) AS left_unapplied,
       adjustment,
       ['none', 'digits', 'named'][ref_strength + 1] AS reference_match,
       relation AS amount_match,
       customer_match,
       currency_code = invoice_currency_code AS same_currency,
       date_diff('day', first_issue_date, payment_date) AS days_after_issue,
       rivals,
       evidence_class,
       concat_ws('; ',
           CASE ref_strength
               WHEN 2 THEN format('reference "{}" names {}', reference,
                                  array_to_string(invoice_numbers, ', '))
               WHEN 1 THEN format('the number in reference "{}" is that of {}', reference,
                                  array_to_string(invoice_numbers, ', '))
           END,
           CASE relation
               WHEN 'exact' THEN 'the amount equals the open balance'
               WHEN 'subset' THEN format('{} open invoices sum exactly to the amount',
                                         len(invoice_ids))
               WHEN 'converted' THEN format(
                   '{} {} is the {} {} open at the documents'' rates (within the FX tolerance)',
                   currency_code, unapplied_amount::DECIMAL(18, 2), invoice_currency_code,
                   open_total::DECIMAL(18, 2)::VARCHAR)
               WHEN 'discount' THEN format(
                   'the amount is the open balance less {} ({}%), paid {} days after issue: '
                   || 'an early-payment discount', adjustment::DECIMAL(18, 2)::VARCHAR,
                   round(100 * adjustment / open_total, 1),
                   date_diff('day', first_issue_date, payment_date))
               WHEN 'bank_charge' THEN format(
                   'the amount is {} short of the open balance: a bank charge',
                   adjustment::DECIMAL(18, 2)::VARCHAR)
               WHEN 'over_small' THEN format(
                   'the amount exceeds the open balance by {}: an overpayment, left unapplied',
                   (unapplied_amount - payment_amount_used)::DECIMAL(18, 2)::VARCHAR)
               WHEN 'over_round' THEN format(
                   'the amount is the open balance rounded up by {} to a round sum: an '
                   || 'overpayment, left unapplied',
                   (unapplied_amount - payment_amount_used)::DECIMAL(18, 2)::VARCHAR)
               WHEN 'over' THEN format('settles the whole open balance; {} stays unapplied',
                   (unapplied_amount - payment_amount_used)::DECIMAL(18, 2)::VARCHAR)
               WHEN 'partial' THEN format('a part payment: {} of {} open',
                   settled_total::DECIMAL(18, 2), open_total::DECIMAL(18, 2)::VARCHAR)
               WHEN 'oldest_first' THEN
                   'no other evidence: the customer''s oldest open invoices first'
           END,
           CASE customer_match
               WHEN 'related' THEN format('paid by {}, a customer whose name the invoice''s '
                                          || 'customer {} shares', customer_name,
                                          invoice_customer_name)
               WHEN 'other' THEN format('paid by {}, not the invoice''s customer {}',
                                        customer_name, invoice_customer_name)
           END,
           CASE WHEN last_issue_date > payment_date THEN
               format('invoice issued {} days after the payment',
                      date_diff('day', payment_date, last_issue_date))
           END,
           CASE WHEN rivals > 0 THEN format('{} other candidate(s) match as well', rivals) END
       ) AS evidence
FROM settled
ORDER BY connection_id, payer_kind, payment_id, rank
"""
