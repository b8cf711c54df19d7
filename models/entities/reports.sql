-- Consolidated receivables by entity (canonical.customer_entities), at as_of, in each document
-- currency and in one reporting currency. Reads invoice_ledger and payment_ledger (computed by
-- the caller from reports.invoice_ledger_at / payment_ledger_at) and reporting_rates (per
-- currency, the rate from it to the reporting currency the caller chose, where there is one).

CREATE OR REPLACE TEMP MACRO in_reporting(path, amount, amount_base, base_rate, document_rate) AS
    CASE path WHEN 'document' THEN amount
              WHEN 'base' THEN round(amount_base * base_rate, 4)
              WHEN 'rate' THEN round(amount * document_rate, 4)
    END::DECIMAL(18, 4);

-- A sum of parts, or NULL when a part has none.
CREATE OR REPLACE TEMP MACRO all_or_nothing(amount) AS
    CASE WHEN bool_and(amount IS NOT NULL) THEN sum(amount) END;

CREATE OR REPLACE TEMP TABLE entity_documents AS
SELECT e.entity_id,
       e.entity_name,
       i.connection_id,
       i.customer_id,
       i.currency_code,
       i.open_balance,
       if(i.days_past_due > 0, i.open_balance, 0)::DECIMAL(18, 4) AS overdue,
       if(i.open_balance > 0, i.days_past_due, NULL) AS days_past_due,
       reports.aging_index(i.age_days, reports.checked_edges($edges)) AS bucket,
       0::DECIMAL(18, 4) AS unapplied_cash,
       i.open_balance_base,
       if(i.days_past_due > 0, i.open_balance_base, 0)::DECIMAL(18, 4) AS overdue_base,
       0::DECIMAL(18, 4) AS unapplied_cash_base,
       i.exchange_rate
FROM invoice_ledger i
JOIN canonical.customer_entities e USING (connection_id, customer_id)
WHERE i.issued AND i.receivable AND i.open_balance <> 0
UNION ALL
SELECT e.entity_id,
       e.entity_name,
       p.connection_id,
       p.customer_id,
       p.currency_code,
       0, 0, NULL, NULL,
       p.unapplied_amount,
       0, 0,
       reports.in_base(p.unapplied_amount, p.exchange_rate),
       p.exchange_rate
FROM payment_ledger p
JOIN canonical.customer_entities e USING (connection_id, customer_id)
WHERE p.unapplied_amount <> 0;

-- Per entity, connection and currency: sums in document and base currency (NULL in base where
-- a document has no rate to it).
CREATE OR REPLACE TEMP TABLE entity_sums AS
SELECT entity_id,
       entity_name,
       connection_id,
       currency_code,
       count(DISTINCT customer_id) AS customer_count,
       sum(open_balance) AS open_balance,
       sum(unapplied_cash) AS unapplied_cash,
       sum(overdue) AS overdue,
       max(days_past_due) AS oldest_overdue_days,
       sum(if(bucket = 0, open_balance, 0)) AS current,
       sum(if(bucket = 1, open_balance, 0)) AS period_1,
       sum(if(bucket = 2, open_balance, 0)) AS period_2,
       sum(if(bucket = 3, open_balance, 0)) AS period_3,
       sum(if(bucket = 4, open_balance, 0)) AS period_4,
       sum(if(bucket = 5, open_balance, 0)) AS older,
       reports.sum_in_base(open_balance_base, exchange_rate) AS open_balance_base,
       reports.sum_in_base(unapplied_cash_base, exchange_rate) AS unapplied_cash_base,
       reports.sum_in_base(overdue_base, exchange_rate) AS overdue_base
FROM entity_documents
GROUP BY entity_id, entity_name, connection_id, currency_code;

-- The same sums in the reporting currency: as they are when that is the document currency;
-- else from the base currency (each document at its own rate) at the base currency's rate;
-- else, where a document has no rate to its base, at the document currency's rate. Rounded
-- to the ten-thousandth once per sum. No rate: NULL, and missing_rate says which.
CREATE OR REPLACE TEMP TABLE entity_parts AS
WITH rated AS (
    SELECT s.*,
           b.base_currency,
           CASE WHEN s.currency_code = $reporting THEN 'document'
                WHEN s.open_balance_base IS NOT NULL AND s.unapplied_cash_base IS NOT NULL
                     AND (b.base_currency = $reporting OR br.rate IS NOT NULL) THEN 'base'
                WHEN dr.rate IS NOT NULL THEN 'rate'
           END AS path,
           if(b.base_currency = $reporting, 1::DECIMAL(18, 8), br.rate) AS base_rate,
           dr.rate AS document_rate
    FROM entity_sums s
    LEFT JOIN reports.base_currencies() b USING (connection_id)
    LEFT JOIN reporting_rates br ON br.from_currency = b.base_currency
    LEFT JOIN reporting_rates dr ON dr.from_currency = s.currency_code
)
SELECT *,
       in_reporting(path, open_balance, open_balance_base, base_rate, document_rate)
           AS open_balance_reporting,
       in_reporting(path, unapplied_cash, unapplied_cash_base, base_rate, document_rate)
           AS unapplied_cash_reporting,
       in_reporting(path, overdue, overdue_base, base_rate, document_rate) AS overdue_reporting,
       CASE WHEN path IS NULL THEN
           connection_id || ': no rate from ' || currency_code
           || coalesce(' or ' || nullif(base_currency, currency_code), '') || ' to '
           || $reporting || ' on or before ' || $as_of::DATE
       END AS missing_rate
FROM rated;

CREATE OR REPLACE TABLE reports.entity_balances AS
SELECT $as_of::DATE AS as_of,
       entity_id,
       any_value(entity_name) AS entity_name,
       currency_code,
       list(DISTINCT connection_id ORDER BY connection_id) AS connections,
       sum(customer_count)::INTEGER AS customer_count,
       sum(open_balance)::DECIMAL(18, 4) AS open_balance,
       sum(unapplied_cash)::DECIMAL(18, 4) AS unapplied_cash,
       (sum(open_balance) - sum(unapplied_cash))::DECIMAL(18, 4) AS net_balance,
       sum(overdue)::DECIMAL(18, 4) AS overdue,
       max(oldest_overdue_days) AS oldest_overdue_days,
       $reporting AS reporting_currency,
       all_or_nothing(open_balance_reporting) AS open_balance_reporting,
       all_or_nothing(unapplied_cash_reporting) AS unapplied_cash_reporting,
       (all_or_nothing(open_balance_reporting) - all_or_nothing(unapplied_cash_reporting))
           ::DECIMAL(18, 4) AS net_balance_reporting,
       all_or_nothing(overdue_reporting) AS overdue_reporting,
       string_agg(missing_rate, '; ' ORDER BY missing_rate) AS missing_rates
FROM entity_parts
GROUP BY entity_id, currency_code;

CREATE OR REPLACE TABLE reports.entity_aging AS
SELECT $as_of::DATE AS as_of,
       entity_id,
       any_value(entity_name) AS entity_name,
       currency_code,
       reports.checked_edges($edges) AS bucket_edges,
       sum(current)::DECIMAL(18, 4) AS current,
       sum(period_1)::DECIMAL(18, 4) AS period_1,
       sum(period_2)::DECIMAL(18, 4) AS period_2,
       sum(period_3)::DECIMAL(18, 4) AS period_3,
       sum(period_4)::DECIMAL(18, 4) AS period_4,
       sum(older)::DECIMAL(18, 4) AS older,
       sum(open_balance)::DECIMAL(18, 4) AS total,
       $reporting AS reporting_currency,
       all_or_nothing(open_balance_reporting) AS total_reporting,
       string_agg(missing_rate, '; ' ORDER BY missing_rate) AS missing_rates
FROM entity_parts
WHERE open_balance <> 0
GROUP BY entity_id, currency_code;
