"""The faults that change a source's data while a client pages: `delete_while_paging` and
`insert_while_paging` (see `sandbox.faults.FaultConfig`).

Every sandbox calls `change_while_paging` on a page after the first of a customer, invoice or
payment listing, with the ledger ids of the rows it served before that page; it answers the
page from the ledger this returns. A deletion moves every later row up one place, which is how
offset and page-number paging skip a row; an insertion lands wherever the listing orders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sandbox.faults import FaultPlan
from sandbox.generator import ListedKind, delete_listed, insert_listed, latest_change
from sandbox.ledger import Ledger

__all__ = ["change_while_paging"]


def change_while_paging(
    ledger: Ledger,
    kind: ListedKind,
    served: Sequence[int],
    plan: FaultPlan,
    applied: list[str],
) -> Ledger | None:
    """The ledger after the faults `plan` calls for (their names appended to `applied`), or None
    if it calls for none or none could be applied. `served`: ledger ids in listing order."""
    changed = ledger
    if plan.delete_while_paging:
        at = latest_change(changed).replace(microsecond=0) + timedelta(seconds=1)
        deleted = delete_listed(changed, kind, served, at=at)
        if deleted is not None:
            changed = deleted[0]
            applied.append("delete_while_paging")
    if plan.insert_while_paging:
        at = latest_change(changed).replace(microsecond=0) + timedelta(seconds=1)
        changed = insert_listed(changed, kind, at=at)
        applied.append("insert_while_paging")
    return None if changed is ledger else changed
