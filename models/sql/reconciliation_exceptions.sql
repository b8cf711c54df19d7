-- Everything at as_of that does not reconcile, one row per finding: what kind it is, which
-- records (keys), what was expected, what was found, and the difference where both are money.
WITH {inputs}
findings AS (
    -- Money applied to an invoice ledgersync does not have.
    SELECT connection_id, source, 'orphan_application' AS kind, 'application' AS entity,
           payment_customer_id AS customer_id, invoice_id, payment_id,
           payment_currency_code AS currency_code,
           0::DECIMAL(18, 4) AS expected, amount_applied AS actual,
           'payment applied ' || amount_applied || ' to invoice ' || invoice_id
               || ', which the source did not send (or it is in quarantine)' AS detail
    FROM {held_applications}
    WHERE finding = 'unknown_invoice'

    UNION ALL
    -- An application whose payment ledgersync does not have at all.
    SELECT connection_id, source, 'orphan_application', 'application',
           NULL, invoice_id, payment_id, NULL,
           0::DECIMAL(18, 4), amount_applied,
           'application of payment ' || payment_id || ', which the source did not send '
               || '(or it is in quarantine)'
    FROM {held_applications}
    WHERE finding = 'unknown_payment'

    UNION ALL
    SELECT connection_id, source, 'over_applied_invoice', 'invoice',
           customer_id, invoice_id, NULL, currency_code,
           total_amount - credits_applied - write_off_amount, applied_amount,
           'payments applied ' || applied_amount || ' to an invoice that had '
               || (total_amount - credits_applied - write_off_amount) || ' to pay'
    FROM {invoice_ledger}
    WHERE issued AND receivable AND open_balance < 0

    UNION ALL
    SELECT connection_id, source, 'over_applied_payment', 'payment',
           customer_id, NULL, payment_id, currency_code,
           amount, applied_amount,
           'a payment of ' || amount || ' applied ' || applied_amount
    FROM {payment_ledger}
    WHERE unapplied_amount < 0

    UNION ALL
    SELECT connection_id, source, 'balance_mismatch', 'invoice',
           customer_id, invoice_id, NULL, currency_code,
           expected_source_balance, source_balance,
           'the source says ' || source_balance || ' is owed; its total less payments, '
               || 'credits and write-offs leaves ' || expected_source_balance
    FROM {invoice_ledger}
    WHERE issued AND balance_delta <> 0

    UNION ALL
    SELECT connection_id, source, 'currency_mismatch', 'application',
           payment_customer_id, invoice_id, payment_id, payment_currency_code,
           NULL, amount_applied,
           'a payment in ' || payment_currency_code || ' applied ' || amount_applied
               || ' to an invoice in ' || invoice_currency_code
               || '; held out of both balances until the source corrects it'
    FROM {held_applications}
    WHERE finding = 'currency_mismatch'

    UNION ALL
    -- Money the source still shows applied to an invoice it voided or deleted: it is back on
    -- the payment as unapplied cash.
    SELECT connection_id, source, 'applied_to_void_invoice', 'application',
           payment_customer_id, invoice_id, payment_id, payment_currency_code,
           0::DECIMAL(18, 4), amount_applied,
           'payment applied ' || amount_applied || ' to invoice ' || invoice_id
               || ', which is void or vanished from the source; counted as unapplied cash'
    FROM {held_applications}
    WHERE finding = 'void_invoice'

    UNION ALL
    SELECT connection_id, source, 'unknown_customer', 'payment',
           customer_id, NULL, payment_id, currency_code,
           NULL, amount,
           'payment from customer ' || customer_id || ', whom the source did not send '
               || '(or who is in quarantine)'
    FROM {payment_ledger} p
    WHERE NOT EXISTS (SELECT 1 FROM canonical.customers c
                      WHERE c.connection_id = p.connection_id AND c.customer_id = p.customer_id)

    UNION ALL
    SELECT connection_id, source, 'duplicate_payment', 'payment',
           customer_id, NULL, payment_id, currency_code,
           NULL, amount,
           'same customer, amount, date and reference as payment ' || first_payment
    FROM (
        SELECT *,
               first_value(coalesce(payment_number, payment_id)) OVER same AS first_payment,
               row_number() OVER same AS copy
        FROM {payment_ledger}
        -- Only the payments with a copy are ordered: grouping finds them at a fraction of the cost.
        SEMI JOIN (
            SELECT connection_id, customer_id, amount, payment_date, reference
            FROM {payment_ledger}
            WHERE nullif(trim(reference), '') IS NOT NULL
            GROUP BY ALL
            HAVING count(*) > 1
        ) USING (connection_id, customer_id, amount, payment_date, reference)
        WINDOW same AS (
            PARTITION BY connection_id, customer_id, amount, payment_date, reference
            ORDER BY length(payment_number), payment_number, length(payment_id), payment_id
        )
    )
    WHERE copy > 1

    UNION ALL
    SELECT connection_id, source, 'record_vanished', 'customer',
           customer_id, NULL, NULL, currency_code,
           NULL, NULL,
           'customer vanished from the source (noticed ' || deleted_at || ')'
    FROM canonical.customers
    WHERE deleted_at IS NOT NULL

    UNION ALL
    SELECT connection_id, source, 'record_vanished', 'invoice',
           customer_id, invoice_id, NULL, currency_code,
           NULL, total_amount,
           'invoice vanished from the source (noticed ' || deleted_at || ')'
    FROM canonical.invoices
    WHERE deleted_at IS NOT NULL AND issue_date <= as_of::DATE

    UNION ALL
    SELECT connection_id, source, 'record_vanished', 'payment',
           customer_id, NULL, payment_id, currency_code,
           NULL, amount,
           'payment vanished from the source (noticed ' || deleted_at || ')'
    FROM canonical.payments
    WHERE deleted_at IS NOT NULL AND payment_date <= as_of::DATE
)
SELECT as_of::DATE AS as_of,
       connection_id,
       source,
       kind,
       entity,
       customer_id,
       invoice_id,
       payment_id,
       currency_code,
       expected::DECIMAL(18, 4) AS expected,
       actual::DECIMAL(18, 4) AS actual,
       (actual - expected)::DECIMAL(18, 4) AS difference,
       detail
FROM findings
ORDER BY connection_id, kind, entity, invoice_id NULLS FIRST, payment_id NULLS FIRST,
         customer_id NULLS FIRST;
