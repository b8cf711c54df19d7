-- Receivables aging at as_of: one row per connection, customer and currency with an open
-- balance, split into current, four periods and older. The periods end at edges (default
-- 1-30, 31-60, 61-90, 91-120 days, then older than 120); invoices age from their due date, or
-- from their issue date with basis := 'issue_date'. Amounts in document currency and in base.
WITH {inputs}
aged AS (
    SELECT *, reports.aging_index(age_days, reports.checked_edges(edges)) AS bucket
    FROM {invoice_ledger}
    WHERE issued AND receivable AND open_balance <> 0
)
SELECT as_of::DATE AS as_of,
       connection_id,
       source,
       customer_id,
       customer_name,
       currency_code,
       base_currency,
       reports.checked_edges(edges) AS bucket_edges,
       basis AS aging_basis,
       count(*) AS open_invoice_count,
       sum(if(bucket = 0, open_balance, 0)) AS current,
       sum(if(bucket = 1, open_balance, 0)) AS period_1,
       sum(if(bucket = 2, open_balance, 0)) AS period_2,
       sum(if(bucket = 3, open_balance, 0)) AS period_3,
       sum(if(bucket = 4, open_balance, 0)) AS period_4,
       sum(if(bucket = 5, open_balance, 0)) AS older,
       sum(open_balance) AS total,
       reports.sum_in_base(if(bucket = 0, open_balance_base, 0), exchange_rate) AS current_base,
       reports.sum_in_base(if(bucket = 1, open_balance_base, 0), exchange_rate) AS period_1_base,
       reports.sum_in_base(if(bucket = 2, open_balance_base, 0), exchange_rate) AS period_2_base,
       reports.sum_in_base(if(bucket = 3, open_balance_base, 0), exchange_rate) AS period_3_base,
       reports.sum_in_base(if(bucket = 4, open_balance_base, 0), exchange_rate) AS period_4_base,
       reports.sum_in_base(if(bucket = 5, open_balance_base, 0), exchange_rate) AS older_base,
       reports.sum_in_base(open_balance_base, exchange_rate) AS total_base
FROM aged
GROUP BY connection_id, source, customer_id, customer_name, currency_code, base_currency;
