-- One row per invoice issued on or before as_of: what was applied by then, what is still open,
-- and how that compares with the balance the source itself reports. Aging is by due date, or by
-- issue date with basis := 'issue_date'; edges := [30, 60, 90, 120] sets the buckets.
-- (Each report file is the query of its macro `reports.<name>_at`. It opens its WITH clause with
-- the placeholder `inputs` and reads the placeholders `invoice_ledger` and `payment_ledger`,
-- which models/reports.py fills: see models/sql_template.py.)
WITH {inputs}
issued AS (SELECT * EXCLUDE (issued) FROM {invoice_ledger} WHERE issued)
FROM issued
