-- Building blocks the reports share. The rules are DESIGN.md's "Reconciliation" section; the
-- yardstick they are tested against is sandbox/truth.py.

-- Aging edges: four strictly increasing day counts, giving the buckets
-- current | 1..e1 | e1+1..e2 | e2+1..e3 | e3+1..e4 | over e4.
CREATE OR REPLACE MACRO reports.increasing_edges(edges) AS
    CASE WHEN len(edges) = 4 AND edges[1] > 0
              AND edges[1] < edges[2] AND edges[2] < edges[3] AND edges[3] < edges[4]
         THEN edges
         ELSE error('aging edges must be four increasing day counts above 0, like [30, 60, 90, 120]')
    END;

-- The edges as a list, given a list or its text: the macros' default is the text
-- '[30, 60, 90, 120]' because a DuckLake catalog cannot hold a list as a parameter's default.
CREATE OR REPLACE MACRO reports.checked_edges(edges) AS
    reports.increasing_edges(edges::VARCHAR::INTEGER[]);

-- 0 for current, 1-4 for the ranges up to the last edge, 5 beyond it.
CREATE OR REPLACE MACRO reports.aging_index(days, edges) AS
    CASE WHEN days <= 0 THEN 0
         WHEN days <= edges[1] THEN 1
         WHEN days <= edges[2] THEN 2
         WHEN days <= edges[3] THEN 3
         WHEN days <= edges[4] THEN 4
         ELSE 5 END;

CREATE OR REPLACE MACRO reports.aging_label(bucket, edges) AS
    CASE bucket WHEN 0 THEN 'current'
                WHEN 1 THEN '1-' || edges[1]
                WHEN 5 THEN 'over_' || edges[4]
                ELSE (edges[bucket - 1] + 1) || '-' || edges[bucket] END;

-- The date an invoice ages from: its due date (an invoice without one is due on issue), or its
-- issue date on request.
CREATE OR REPLACE MACRO reports.aging_date(issue_date, due_date, basis) AS
    CASE basis WHEN 'due_date' THEN coalesce(due_date, issue_date)
               WHEN 'issue_date' THEN issue_date
               ELSE error('aging basis must be due_date or issue_date') END;

-- An amount in base currency, kept at width 38. DECIMAL(18,4) times DECIMAL(18,8) is a
-- DECIMAL(18,12) in DuckDB, which holds products below 1,000,000 exactly in 64 bits; taken at
-- width 38 every product fits, but 128-bit rounding costs about fifteen times as much. So a
-- product whose estimate in doubles is below 999,999 (off by less than a millionth of a cent
-- from the exact one, so below 1,000,000) is taken at width 18, any other at width 38: the
-- same rounding (half away from zero) to the same four places either way.
CREATE OR REPLACE MACRO reports.in_base(amount, exchange_rate) AS
    CASE WHEN abs(amount::DOUBLE * exchange_rate::DOUBLE) < 999999
         THEN round(amount::DECIMAL(18, 4) * exchange_rate::DECIMAL(18, 8), 4)::DECIMAL(38, 4)
         ELSE round(amount::DECIMAL(38, 4) * exchange_rate, 4)::DECIMAL(38, 4) END;

-- A sum of amounts already in base currency, or NULL when a document in it has no known rate.
CREATE OR REPLACE MACRO reports.sum_in_base(amount_base, exchange_rate) AS
    CASE WHEN bool_and(exchange_rate IS NOT NULL) THEN sum(amount_base) END;

-- Each connection's base currency, inferred: the currency of its documents whose rate to the
-- base is exactly 1 (the most common one, should another currency ever sit at exactly 1).
CREATE OR REPLACE MACRO reports.base_currencies() AS TABLE
SELECT connection_id, first(currency_code ORDER BY documents DESC, currency_code) AS base_currency
FROM (
    SELECT connection_id, currency_code, count(*) AS documents
    FROM (
        SELECT connection_id, currency_code FROM canonical.invoices WHERE exchange_rate = 1
        UNION ALL
        SELECT connection_id, currency_code FROM canonical.payments WHERE exchange_rate = 1
    )
    GROUP BY ALL
)
GROUP BY connection_id;
