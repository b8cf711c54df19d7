"""A ledger file's rows as the Business Central sandbox pages them.

A file's lists are named by their path under `companies({id})/`: `customers`,
`salesInvoices`, `salesCreditMemos`, `customerPaymentJournals`, and the lines either per
journal (`customerPaymentJournals({id})/customerPayments`) or all together (`customerPayments`,
each line naming its `journalId`). Rows are served as written, in the file's order, with every
query option the sandbox emulates applied over them (a property a row lacks is left out of a
`$select`); `$filter` on `lastModifiedDateTime` reads each row's own (a row without one is
older than any time).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sandbox.business_central.companydata import Row

_NEVER = datetime.min.replace(tzinfo=UTC)


def replayed_rows(records: Sequence[dict[str, Any]]) -> list[Row]:
    return [
        Row(
            number,
            _modified(record.get("lastModifiedDateTime")),
            dict(record),
            journal_id=str(record["journalId"]).lower() if "journalId" in record else None,
        )
        for number, record in enumerate(records, start=1)
    ]


def _modified(value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _NEVER
    return moment if moment.tzinfo is not None else _NEVER
