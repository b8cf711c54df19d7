-- One row per invoice issued on or before as_of: what was applied by then, what is still open,
-- and how that compares with the balance the source itself reports. Aging is by due date, or by
-- issue date with basis := 'issue_date'; edges := [30, 60, 90, 120] sets the buckets.
-- (Each report file is the query of its macro `reports.<name>_at`, over `invoice_ledger` and
-- `payment_ledger`; models/reports.py says how.)
SELECT * EXCLUDE (issued) FROM invoice_ledger WHERE issued
