-- The applications by as_of that reconciliation reports one by one: those of live payments that
-- count on neither side (`finding` 'void_invoice' or 'currency_mismatch', as `held` in
-- `reports.live_applications()`) or that go to an invoice ledgersync does not have
-- ('unknown_invoice'), and those of payments it does not have at all ('unknown_payment', dated
-- by their own date if they have one). One pass over the applications finds all of them.
-- (The query of `reports.held_applications_at`. It reads `applications`: the canonical table, or
-- the part of it that an incremental refresh recomputes, models/ledgers.py.)
SELECT as_of::DATE AS as_of,
       a.connection_id,
       a.source,
       a.application_id,
       a.payment_id,
       a.invoice_id,
       a.amount_applied,
       p.customer_id AS payment_customer_id,
       p.currency_code AS payment_currency_code,
       i.currency_code AS invoice_currency_code,
       CASE WHEN p.payment_id IS NULL THEN 'unknown_payment'
            WHEN i.invoice_id IS NULL THEN 'unknown_invoice'
            WHEN i.status = 'void' OR i.deleted_at IS NOT NULL THEN 'void_invoice'
            ELSE 'currency_mismatch' END AS finding
FROM {applications} a
LEFT JOIN canonical.payments p
  ON p.connection_id = a.connection_id AND p.payment_id = a.payment_id
LEFT JOIN canonical.invoices i
  ON i.connection_id = a.connection_id AND i.invoice_id = a.invoice_id
WHERE CASE WHEN p.payment_id IS NULL THEN coalesce(a.applied_date, as_of::DATE) <= as_of::DATE
           ELSE p.status IN ('posted', 'pending') AND p.deleted_at IS NULL
                AND coalesce(a.applied_date, p.payment_date) <= as_of::DATE
                AND (i.invoice_id IS NULL OR i.status = 'void' OR i.deleted_at IS NOT NULL
                     OR i.currency_code <> p.currency_code)
      END
