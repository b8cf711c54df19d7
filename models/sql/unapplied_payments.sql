-- Payments in scope at as_of whose money was not all applied by then (unapplied cash on account),
-- and those that applied more than they brought (over-applied). Everything here comes from the
-- payment ledger (its as_of included), so the stored report is a view over the stored ledger.
WITH {inputs}
ledger AS (FROM {payment_ledger})
SELECT p.as_of,
       p.connection_id,
       p.source,
       p.payment_id,
       p.payment_number,
       p.customer_id,
       p.customer_name,
       p.payment_date,
       p.status AS payment_status,
       CASE WHEN p.unapplied_amount < 0 THEN 'over_applied'
            WHEN p.applied_amount = 0 THEN 'unapplied'
            ELSE 'partially_applied' END AS kind,
       p.currency_code,
       p.exchange_rate,
       p.base_currency,
       p.amount,
       p.applied_amount,
       p.held_amount,
       p.unapplied_amount,
       p.source_unapplied_amount,
       p.application_count,
       date_diff('day', p.payment_date, p.as_of) AS days_since_payment,
       p.method,
       p.reference,
       reports.in_base(p.amount, p.exchange_rate) AS amount_base,
       reports.in_base(p.unapplied_amount, p.exchange_rate) AS unapplied_amount_base
FROM ledger p
WHERE p.unapplied_amount <> 0;
