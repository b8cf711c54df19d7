-- Every invoice not vanished, with what was applied to it by as_of (held applications left
-- out) and what it owes by everything synced (expected_source_balance: the yardstick for the
-- source's own balance, which the source stated when it was synced, whatever the as-of date,
-- and which counts every application the source made; a pending payment counts as received
-- here but not in the source's balance). `issued` says whether it was
-- issued by as_of: the reports are about those, the customer's own balance about all of them.
-- One pass over the applications serves every report.
-- (The query of `reports.invoice_ledger_at`. It reads `invoices`, `live_applications` and
-- `base_currencies`: the canonical tables, or the part of them that an incremental refresh
-- recomputes, models/ledgers.py.)
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
          FROM {live_applications})
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
    FROM {invoices} i
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
LEFT JOIN {base_currencies} bc ON bc.connection_id = b.connection_id
CROSS JOIN aging_edges e
