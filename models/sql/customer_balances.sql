-- One row per connection, customer and currency with a receivable invoice or a payment in scope
-- at as_of (unless all of that payment went to invoices in another currency: held money makes
-- no row of its own): what was invoiced, applied and is still open, unapplied cash, the net,
-- what is overdue, what the source says (summed over the invoices, and the customer's own
-- balance), and what quarantine holds back (a row of its own where it is all there is).
WITH {inputs}
invoiced AS (
    SELECT connection_id,
           source,
           customer_id,
           currency_code,
           count(*) AS invoice_count,
           count(*) FILTER (WHERE open_balance <> 0) AS open_invoice_count,
           sum(total_amount) AS invoiced,
           sum(applied_amount) AS applied,
           sum(credits_applied + write_off_amount) AS credits_and_write_offs,
           sum(open_balance) AS open_balance,
           coalesce(sum(open_balance) FILTER (WHERE days_past_due > 0), 0) AS overdue,
           sum(source_balance) AS source_balance,
           sum(balance_delta) AS balance_delta,
           reports.sum_in_base(total_amount_base, exchange_rate) AS invoiced_base,
           reports.sum_in_base(open_balance_base, exchange_rate) AS open_balance_base,
           reports.sum_in_base(if(days_past_due > 0, open_balance_base, 0), exchange_rate)
               AS overdue_base
    FROM {invoice_ledger}
    WHERE issued AND receivable
    GROUP BY ALL
),
paid AS (
    SELECT connection_id,
           source,
           customer_id,
           currency_code,
           count(*) AS payment_count,
           sum(unapplied_amount) AS unapplied_cash,
           reports.sum_in_base(reports.in_base(unapplied_amount, exchange_rate), exchange_rate)
               AS unapplied_cash_base
    FROM {payment_ledger}
    WHERE held_amount = 0 OR applied_amount <> 0 OR unapplied_amount <> 0
    GROUP BY ALL
),
-- What quarantine holds back: each quarantined receivable invoice issued by as_of would add what
-- it leaves open (less what live payments in its currency applied to it by then, which they
-- already count as applied), each quarantined payment dated by as_of would take its amount off.
quarantined AS (
    SELECT r.connection_id,
           r.source,
           r.customer_id,
           r.currency_code,
           count(*) AS quarantined_count,
           sum(CASE r.document WHEN 'payment' THEN -r.amount
                               ELSE r.amount - coalesce(a.applied, 0) END) AS quarantined_amount
    FROM canonical.rejected_records r
    LEFT JOIN (
        -- The applications to quarantined invoices, found before their payments are joined.
        SELECT a.connection_id, a.invoice_id, p.currency_code AS payment_currency_code,
               sum(a.amount_applied) AS applied
        FROM canonical.payment_applications a
        SEMI JOIN canonical.rejected_records q
          ON q.document = 'invoice' AND q.document_id = a.invoice_id
        JOIN canonical.payments p
          ON p.connection_id = a.connection_id AND p.payment_id = a.payment_id
        WHERE p.status IN ('posted', 'pending') AND p.deleted_at IS NULL
          AND coalesce(a.applied_date, p.payment_date) <= as_of::DATE
        GROUP BY ALL
    ) a
      ON r.document = 'invoice' AND a.connection_id = r.connection_id
     AND a.invoice_id = r.document_id AND a.payment_currency_code = r.currency_code
    WHERE r.amount IS NOT NULL AND r.customer_id IS NOT NULL AND r.currency_code IS NOT NULL
      AND coalesce(r.document_date <= as_of::DATE, true)
    GROUP BY ALL
),
-- The customer's own balance covers every invoice the source had when it was synced, so it is
-- compared with what those invoices owe by everything synced, whatever as_of is.
owed_by_customer AS (
    SELECT connection_id, customer_id, currency_code,
           sum(expected_source_balance) AS expected_source_balance
    FROM {invoice_ledger}
    WHERE receivable
    GROUP BY ALL
)
SELECT as_of::DATE AS as_of,
       k.connection_id,
       k.source,
       k.customer_id,
       c.name AS customer_name,
       k.currency_code,
       bc.base_currency,
       coalesce(i.invoice_count, 0) AS invoice_count,
       coalesce(i.open_invoice_count, 0) AS open_invoice_count,
       coalesce(p.payment_count, 0) AS payment_count,
       coalesce(i.invoiced, 0) AS invoiced,
       coalesce(i.applied, 0) AS applied,
       coalesce(i.credits_and_write_offs, 0) AS credits_and_write_offs,
       coalesce(i.open_balance, 0) AS open_balance,
       coalesce(p.unapplied_cash, 0) AS unapplied_cash,
       coalesce(i.open_balance, 0) - coalesce(p.unapplied_cash, 0) AS net_balance,
       coalesce(i.overdue, 0) AS overdue,
       coalesce(i.source_balance, 0) AS source_balance,
       coalesce(i.balance_delta, 0) AS balance_delta,
       if(c.currency_code = k.currency_code, c.source_balance, NULL) AS customer_source_balance,
       if(c.currency_code = k.currency_code,
          c.source_balance - coalesce(o.expected_source_balance, 0), NULL)
           AS customer_balance_delta,
       -- In base currency: NULL where a document in the sum has no known rate.
       if(i.connection_id IS NULL, 0, i.invoiced_base) AS invoiced_base,
       if(i.connection_id IS NULL, 0, i.open_balance_base) AS open_balance_base,
       if(p.connection_id IS NULL, 0, p.unapplied_cash_base) AS unapplied_cash_base,
       if(i.connection_id IS NULL, 0, i.open_balance_base)
           - if(p.connection_id IS NULL, 0, p.unapplied_cash_base) AS net_balance_base,
       if(i.connection_id IS NULL, 0, i.overdue_base) AS overdue_base,
       coalesce(q.quarantined_count, 0) AS quarantined_documents,
       coalesce(q.quarantined_amount, 0)::DECIMAL(18, 4) AS quarantined_amount
FROM (
    SELECT connection_id, source, customer_id, currency_code FROM invoiced
    UNION
    SELECT connection_id, source, customer_id, currency_code FROM paid
    UNION
    SELECT connection_id, source, customer_id, currency_code FROM quarantined
) k
LEFT JOIN invoiced i
  ON i.connection_id = k.connection_id AND i.customer_id = k.customer_id
 AND i.currency_code = k.currency_code
LEFT JOIN paid p
  ON p.connection_id = k.connection_id AND p.customer_id = k.customer_id
 AND p.currency_code = k.currency_code
LEFT JOIN canonical.customers c
  ON c.connection_id = k.connection_id AND c.customer_id = k.customer_id
LEFT JOIN quarantined q
  ON q.connection_id = k.connection_id AND q.customer_id = k.customer_id
 AND q.currency_code = k.currency_code
LEFT JOIN owed_by_customer o
  ON o.connection_id = k.connection_id AND o.customer_id = k.customer_id
 AND o.currency_code = k.currency_code
LEFT JOIN reports.base_currencies() bc ON bc.connection_id = k.connection_id;
