-- One row per invoice issued on or before as_of: what was applied by then, what is still open,
-- and how that compares with the balance the source itself reports. Aging is by due date, or by
-- issue date with basis := 'issue_date'; edges := [30, 60, 90, 120] sets the buckets.
CREATE OR REPLACE MACRO reports.invoice_balances_at(
    as_of, edges := [30, 60, 90, 120], basis := 'due_date'
) AS TABLE
WITH applied AS (
    SELECT connection_id,
           invoice_id,
           sum(amount_applied) AS applied_amount,
           sum(amount_applied) FILTER (WHERE payment_status = 'pending') AS pending_applied,
           count(DISTINCT payment_id) AS payment_count,
           min(applied_on) AS first_payment_date,
           max(applied_on) AS last_payment_date
    FROM reports.live_applications()
    WHERE applied_on <= as_of::DATE
    GROUP BY ALL
),
balances AS (
    SELECT i.*,
           pos.receivable,
           pos.expected_source_balance,
           coalesce(ap.applied_amount, 0)::DECIMAL(18, 4) AS applied_amount,
           coalesce(ap.pending_applied, 0)::DECIMAL(18, 4) AS pending_applied,
           coalesce(ap.payment_count, 0) AS payment_count,
           ap.first_payment_date,
           ap.last_payment_date,
           CASE WHEN pos.receivable
                THEN i.total_amount - coalesce(ap.applied_amount, 0) - i.credits_applied
                     - i.write_off_amount
                ELSE 0
           END::DECIMAL(18, 4) AS open_balance
    FROM canonical.invoices i
    JOIN reports.invoice_positions() pos
      ON pos.connection_id = i.connection_id AND pos.invoice_id = i.invoice_id
    LEFT JOIN applied ap
      ON ap.connection_id = i.connection_id AND ap.invoice_id = i.invoice_id
    WHERE i.issue_date <= as_of::DATE AND i.deleted_at IS NULL
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
           reports.aging_index(b.age_days, reports.checked_edges(edges)), edges
       ) AS aging_bucket,
       b.payment_count,
       b.first_payment_date,
       b.last_payment_date,
       reports.in_base(b.total_amount, b.exchange_rate) AS total_amount_base,
       reports.in_base(b.applied_amount, b.exchange_rate) AS applied_amount_base,
       reports.in_base(b.open_balance, b.exchange_rate) AS open_balance_base
FROM aged b
LEFT JOIN canonical.customers c
  ON c.connection_id = b.connection_id AND c.customer_id = b.customer_id
LEFT JOIN reports.base_currencies() bc ON bc.connection_id = b.connection_id;
