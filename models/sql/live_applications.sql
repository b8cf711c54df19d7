-- Applications of live payments (posted or pending, not vanished), dated by the application's
-- own date where the source has one, else by its payment's. Void payments apply nothing.
-- `held` says why an application counts on neither side: 'void_invoice' (its invoice is void
-- or vanished: the money is back on the payment as unapplied cash) or 'currency_mismatch' (its
-- invoice is in another currency: held out of both balances, reported with its amount).
-- (The query of `reports.live_applications()`; `applications` is canonical.payment_applications,
-- or the part of it an incremental refresh recomputes: models/ledgers.py.)
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
FROM {applications} a
JOIN canonical.payments p
  ON p.connection_id = a.connection_id AND p.payment_id = a.payment_id
LEFT JOIN canonical.invoices i
  ON i.connection_id = a.connection_id AND i.invoice_id = a.invoice_id
WHERE p.status IN ('posted', 'pending') AND p.deleted_at IS NULL
