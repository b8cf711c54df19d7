-- Payments in scope at as_of (posted or pending, not vanished, dated on or before it) with what
-- they had applied by then, including to invoices ledgersync does not know, and what they had
-- applied to invoices in another currency (held_amount: neither applied nor unapplied cash).
-- Money applied to a void or vanished invoice is unapplied cash again. Like the invoice ledger,
-- each row carries its as_of, customer name and base currency, so that a report over a stored
-- ledger needs nothing else.
-- (The query of `reports.payment_ledger_at`. It reads `payments`, `live_applications` and
-- `base_currencies`: the canonical tables, or the part of them that an incremental refresh
-- recomputes, models/ledgers.py.)
WITH applied AS (
    SELECT connection_id,
           payment_id,
           coalesce(sum(amount_applied) FILTER (WHERE held IS NULL), 0) AS applied_amount,
           coalesce(sum(amount_applied) FILTER (WHERE held = 'currency_mismatch'), 0)
               AS held_amount,
           count(*) FILTER (WHERE held IS NULL) AS application_count
    FROM {live_applications}
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
FROM {payments} p
LEFT JOIN applied a ON a.connection_id = p.connection_id AND a.payment_id = p.payment_id
LEFT JOIN canonical.customers c
  ON c.connection_id = p.connection_id AND c.customer_id = p.customer_id
LEFT JOIN {base_currencies} bc ON bc.connection_id = p.connection_id
WHERE p.status IN ('posted', 'pending') AND p.deleted_at IS NULL AND p.payment_date <= as_of
