-- One row per invoice issued on or before as_of: what was applied by then, what is still open,
-- and how that compares with the balance the source itself reports.
CREATE OR REPLACE MACRO reports.invoice_balances_at(as_of) AS TABLE
WITH applied AS (
    SELECT a.connection_id,
           a.invoice_id,
           sum(a.amount_applied) AS applied_amount,
           count(DISTINCT a.payment_id) AS payment_count,
           min(coalesce(a.applied_date, p.payment_date)) AS first_payment_date,
           max(coalesce(a.applied_date, p.payment_date)) AS last_payment_date
    FROM canonical.payment_applications a
    JOIN canonical.payments p
      ON p.connection_id = a.connection_id AND p.payment_id = a.payment_id
    WHERE p.status <> 'void' AND p.deleted_at IS NULL
      AND coalesce(a.applied_date, p.payment_date) <= as_of
    GROUP BY a.connection_id, a.invoice_id
),
balances AS (
    SELECT i.*,
           coalesce(ap.applied_amount, 0)::DECIMAL(18, 4) AS applied_amount,
           coalesce(ap.payment_count, 0) AS payment_count,
           ap.first_payment_date,
           ap.last_payment_date,
           CASE WHEN i.status IN ('void', 'draft') THEN 0::DECIMAL(18, 4)
                ELSE i.total_amount - coalesce(ap.applied_amount, 0)
                     - i.credits_applied - i.write_off_amount
           END::DECIMAL(18, 4) AS open_balance
    FROM canonical.invoices i
    LEFT JOIN applied ap
      ON ap.connection_id = i.connection_id AND ap.invoice_id = i.invoice_id
    WHERE i.issue_date <= as_of AND i.deleted_at IS NULL
),
aged AS (
    SELECT *,
           CASE WHEN open_balance > 0 AND due_date < as_of
                THEN date_diff('day', due_date, as_of::DATE) ELSE 0 END AS days_past_due
    FROM balances
)
SELECT as_of::DATE AS as_of,
       connection_id,
       source,
       invoice_id,
       invoice_number,
       customer_id,
       currency_code,
       exchange_rate,
       status AS source_status,
       CASE WHEN status IN ('void', 'draft') THEN status
            WHEN open_balance < 0 THEN 'overpaid'
            WHEN open_balance = 0 THEN 'paid'
            WHEN open_balance = total_amount THEN 'open'
            ELSE 'partially_paid' END AS derived_status,
       issue_date,
       due_date,
       total_amount,
       applied_amount,
       credits_applied,
       write_off_amount,
       open_balance,
       source_balance,
       (source_balance - open_balance)::DECIMAL(18, 4) AS balance_delta,
       days_past_due,
       CASE WHEN days_past_due = 0 THEN 'current'
            WHEN days_past_due <= 30 THEN '1-30'
            WHEN days_past_due <= 60 THEN '31-60'
            WHEN days_past_due <= 90 THEN '61-90'
            WHEN days_past_due <= 120 THEN '91-120'
            ELSE 'over_120' END AS aging_bucket,
       payment_count,
       first_payment_date,
       last_payment_date,
       round(open_balance * exchange_rate, 4)::DECIMAL(18, 4) AS open_balance_base
FROM aged;
