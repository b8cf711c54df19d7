-- Building blocks the reports share. The rules are DESIGN.md's "Reconciliation" section; the
-- yardstick they are tested against is sandbox/truth.py.

-- Aging edges: four strictly increasing day counts, giving the buckets
-- current | 1..e1 | e1+1..e2 | e2+1..e3 | e3+1..e4 | over e4.
CREATE OR REPLACE MACRO reports.increasing_edges(edges) AS
    CASE WHEN len(edges) = 4 AND edges[1] > 0
              AND edges[1] < edges[2] AND edges[2] < edges[3] AND edges[3] < edges[4]
         THEN edges
         ELSE error('aging edges must be four increasing day counts above 0, like [30, 60, 90, 120]')
    END;

-- The edges as a list, given a list or its text: the macros' default is the text
-- '[30, 60, 90, 120]' because a DuckLake catalog cannot hold a list as a parameter's default.
CREATE OR REPLACE MACRO reports.checked_edges(edges) AS
    reports.increasing_edges(edges::VARCHAR::INTEGER[]);

-- 0 for current, 1-4 for the ranges up to the last edge, 5 beyond it.
CREATE OR REPLACE MACRO reports.aging_index(days, edges) AS
    CASE WHEN days <= 0 THEN 0
         WHEN days <= edges[1] THEN 1
         WHEN days <= edges[2] THEN 2
         WHEN days <= edges[3] THEN 3
         WHEN days <= edges[4] THEN 4
         ELSE 5 END;

CREATE OR REPLACE MACRO reports.aging_label(bucket, edges) AS
    CASE bucket WHEN 0 THEN 'current'
                WHEN 1 THEN '1-' || edges[1]
                WHEN 5 THEN 'over_' || edges[4]
                ELSE (edges[bucket - 1] + 1) || '-' || edges[bucket] END;

-- The date an invoice ages from: its due date (an invoice without one is due on issue), or its
-- issue date on request.
CREATE OR REPLACE MACRO reports.aging_date(issue_date, due_date, basis) AS
    CASE basis WHEN 'due_date' THEN coalesce(due_date, issue_date)
               WHEN 'issue_date' THEN issue_date
               ELSE error('aging basis must be due_date or issue_date') END;

-- An amount in base currency, kept at width 38. DECIMAL(18,4) times DECIMAL(18,8) is a
-- DECIMAL(18,12) in DuckDB, which holds products below 1,000,000 exactly in 64 bits; taken at
-- width 38 every product fits, but 128-bit rounding costs about fifteen times as much. So a
-- product whose estimate in doubles is below 999,999 (off by less than a millionth of a cent
-- from the exact one, so below 1,000,000) is taken at width 18, any other at width 38: the
-- same rounding (half away from zero) to the same four places either way.
CREATE OR REPLACE MACRO reports.in_base(amount, exchange_rate) AS
    CASE WHEN abs(amount::DOUBLE * exchange_rate::DOUBLE) < 999999
         THEN round(amount::DECIMAL(18, 4) * exchange_rate::DECIMAL(18, 8), 4)::DECIMAL(38, 4)
         ELSE round(amount::DECIMAL(38, 4) * exchange_rate, 4)::DECIMAL(38, 4) END;

-- A sum of amounts already in base currency, or NULL when a document in it has no known rate.
CREATE OR REPLACE MACRO reports.sum_in_base(amount_base, exchange_rate) AS
    CASE WHEN bool_and(exchange_rate IS NOT NULL) THEN sum(amount_base) END;

-- Each connection's base currency, inferred: the currency of its documents whose rate to the
-- base is exactly 1 (the most common one, should another currency ever sit at exactly 1).
CREATE OR REPLACE MACRO reports.base_currencies() AS TABLE
SELECT connection_id, first(currency_code ORDER BY documents DESC, currency_code) AS base_currency
FROM (
    SELECT connection_id, currency_code, count(*) AS documents
    FROM (
        SELECT connection_id, currency_code FROM canonical.invoices WHERE exchange_rate = 1
        UNION ALL
        SELECT connection_id, currency_code FROM canonical.payments WHERE exchange_rate = 1
    )
    GROUP BY ALL
)
GROUP BY connection_id;

-- Applications of live payments (posted or pending, not vanished), dated by the application's
-- own date where the source has one, else by its payment's. Void payments apply nothing.
-- `held` says why an application counts on neither side: 'void_invoice' (its invoice is void
-- or vanished: the money is back on the payment as unapplied cash) or 'currency_mismatch' (its
-- invoice is in another currency: held out of both balances, reported with its amount).
CREATE OR REPLACE MACRO reports.live_applications() AS TABLE
SELECT a.connection_id,
       a.source,
       a.application_id,
       a.payment_id,
       a.invoice_id,
       a.amount_applied,
       coalesce(a.applied_date, p.payment_date) AS applied_on,
       p.status AS payment_status,
       p.customer_id AS payment_customer_id,
       p.currency_code AS payment_currency_code,
       i.invoice_id IS NOT NULL AS invoice_known,
       i.currency_code AS invoice_currency_code,
       CASE WHEN i.status = 'void' OR i.deleted_at IS NOT NULL THEN 'void_invoice'
            WHEN i.currency_code <> p.currency_code THEN 'currency_mismatch'
       END AS held
FROM canonical.payment_applications a
JOIN canonical.payments p
  ON p.connection_id = a.connection_id AND p.payment_id = a.payment_id
LEFT JOIN canonical.invoices i
  ON i.connection_id = a.connection_id AND i.invoice_id = a.invoice_id
WHERE p.status IN ('posted', 'pending') AND p.deleted_at IS NULL;

-- Every invoice not vanished, with what was applied to it by as_of (held applications left
-- out) and what it owes by everything synced (expected_source_balance: the yardstick for the
-- source's own balance, which the source stated when it was synced, whatever the as-of date,
-- and which counts every application the source made; a pending payment counts as received
-- here but not in the source's balance). `issued` says whether it was
-- issued by as_of: the reports are about those, the customer's own balance about all of them.
-- One pass over the applications serves every report.
CREATE OR REPLACE MACRO reports.invoice_ledger_at(
    as_of, edges := '[30, 60, 90, 120]', basis := 'due_date'
) AS TABLE
-- The edges are checked once (per row, the list's conversion costs more than the rest).
WITH aging_edges AS (SELECT reports.checked_edges(edges) AS checked),
applied AS (
    SELECT connection_id,
           invoice_id,
           sum(amount_applied) AS applied_ever,
           sum(amount_applied) FILTER (WHERE payment_status = 'pending') AS pending_ever,
           sum(amount_applied) FILTER (WHERE counted) AS applied_amount,
           sum(amount_applied) FILTER (WHERE counted AND payment_status = 'pending')
               AS pending_applied,
           count(DISTINCT payment_id) FILTER (WHERE counted) AS payment_count,
           min(applied_on) FILTER (WHERE counted) AS first_payment_date,
           max(applied_on) FILTER (WHERE counted) AS last_payment_date
    FROM (SELECT *, applied_on <= as_of::DATE AND held IS NULL AS counted
          FROM reports.live_applications())
    GROUP BY ALL
),
balances AS (
    SELECT i.*,
           i.status NOT IN ('draft', 'void') AS receivable,
           i.issue_date <= as_of::DATE AS issued,
           CASE WHEN i.status IN ('draft', 'void') THEN 0
                ELSE i.total_amount - coalesce(ap.applied_ever, 0) - i.credits_applied
                     - i.write_off_amount + coalesce(ap.pending_ever, 0)
           END::DECIMAL(18, 4) AS expected_source_balance,
           coalesce(ap.applied_amount, 0)::DECIMAL(18, 4) AS applied_amount,
           coalesce(ap.pending_applied, 0)::DECIMAL(18, 4) AS pending_applied,
           coalesce(ap.payment_count, 0) AS payment_count,
           ap.first_payment_date,
           ap.last_payment_date,
           CASE WHEN i.status IN ('draft', 'void') THEN 0
                ELSE i.total_amount - coalesce(ap.applied_amount, 0) - i.credits_applied
                     - i.write_off_amount
           END::DECIMAL(18, 4) AS open_balance
    FROM canonical.invoices i
    LEFT JOIN applied ap
      ON ap.connection_id = i.connection_id AND ap.invoice_id = i.invoice_id
    WHERE i.deleted_at IS NULL
),
aged AS (
    SELECT *,
           CASE WHEN open_balance > 0 AND coalesce(due_date, issue_date) < as_of::DATE
                THEN date_diff('day', coalesce(due_date, issue_date), as_of::DATE)
                ELSE 0 END AS days_past_due,
           CASE WHEN open_balance > 0
                     AND reports.aging_date(issue_date, due_date, basis) < as_of::DATE
                THEN date_diff('day', reports.aging_date(issue_date, due_date, basis), as_of::DATE)
                ELSE 0 END AS age_days
    FROM balances
)
SELECT as_of::DATE AS as_of,
       b.connection_id,
       b.source,
       b.invoice_id,
       b.invoice_number,
       b.customer_id,
       c.name AS customer_name,
       b.currency_code,
       b.exchange_rate,
       bc.base_currency,
       b.status AS source_status,
       b.receivable,
       CASE WHEN b.status IN ('void', 'draft') THEN b.status
            WHEN b.open_balance < 0 THEN 'overpaid'
            WHEN b.open_balance = 0 THEN 'paid'
            WHEN b.open_balance < b.total_amount THEN 'partially_paid'
            ELSE 'open' END AS derived_status,
       b.issue_date,
       b.due_date,
       b.total_amount,
       b.applied_amount,
       b.pending_applied,
       b.credits_applied,
       b.write_off_amount,
       b.open_balance,
       b.source_balance,
       b.expected_source_balance,
       (b.source_balance - b.expected_source_balance)::DECIMAL(18, 4) AS balance_delta,
       b.days_past_due,
       b.age_days,
       reports.aging_label(
           reports.aging_index(b.age_days, e.checked), e.checked
       ) AS aging_bucket,
       b.payment_count,
       b.first_payment_date,
       b.last_payment_date,
       reports.in_base(b.total_amount, b.exchange_rate) AS total_amount_base,
       reports.in_base(b.applied_amount, b.exchange_rate) AS applied_amount_base,
       reports.in_base(b.open_balance, b.exchange_rate) AS open_balance_base,
       b.issued
FROM aged b
LEFT JOIN canonical.customers c
  ON c.connection_id = b.connection_id AND c.customer_id = b.customer_id
LEFT JOIN reports.base_currencies() bc ON bc.connection_id = b.connection_id
CROSS JOIN aging_edges e;

-- Payments in scope at as_of (posted or pending, not vanished, dated on or before it) with what
-- they had applied by then, including to invoices ledgersync does not know, and what they had
-- applied to invoices in another currency (held_amount: neither applied nor unapplied cash).
-- Money applied to a void or vanished invoice is unapplied cash again. Like the invoice ledger,
-- each row carries its as_of, customer name and base currency, so that a report over a stored
-- ledger needs nothing else.
CREATE OR REPLACE MACRO reports.payment_ledger_at(as_of) AS TABLE
WITH applied AS (
    SELECT connection_id,
           payment_id,
           coalesce(sum(amount_applied) FILTER (WHERE held IS NULL), 0) AS applied_amount,
           coalesce(sum(amount_applied) FILTER (WHERE held = 'currency_mismatch'), 0)
               AS held_amount,
           count(*) FILTER (WHERE held IS NULL) AS application_count
    FROM reports.live_applications()
    WHERE applied_on <= as_of
    GROUP BY ALL
)
SELECT as_of::DATE AS as_of,
       p.*,
       coalesce(a.applied_amount, 0)::DECIMAL(18, 4) AS applied_amount,
       coalesce(a.held_amount, 0)::DECIMAL(18, 4) AS held_amount,
       (p.amount - coalesce(a.applied_amount, 0) - coalesce(a.held_amount, 0))::DECIMAL(18, 4)
           AS unapplied_amount,
       coalesce(a.application_count, 0) AS application_count,
       c.name AS customer_name,
       bc.base_currency
FROM canonical.payments p
LEFT JOIN applied a ON a.connection_id = p.connection_id AND a.payment_id = p.payment_id
LEFT JOIN canonical.customers c
  ON c.connection_id = p.connection_id AND c.customer_id = p.customer_id
LEFT JOIN reports.base_currencies() bc ON bc.connection_id = p.connection_id
WHERE p.status IN ('posted', 'pending') AND p.deleted_at IS NULL AND p.payment_date <= as_of;
