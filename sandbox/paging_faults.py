"""The faults that change a source's data while a client pages: `delete_while_paging` and
`insert_while_paging` (see `sandbox.faults.FaultConfig`), and `modify_while_paging` for a sandbox
whose rows do not bump themselves (`modify_while_paging`).

Every sandbox calls `change_while_paging` on a page after the first of a customer, invoice or
payment listing, with the ledger ids of the rows it served before that page; it answers the
page from the ledger this returns. A deletion moves every later row up one place, which is how
offset and page-number paging skip a row; an insertion lands wherever the listing orders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sandbox.faults import FaultPlan
from sandbox.generator import (
    ListedKind,
    delete_listed,
    insert_listed,
    latest_change,
    modify_listed,
)
from sandbox.ledger import Ledger

__all__ = ["change_while_paging", "modify_while_paging"]


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


def modify_while_paging(
    ledger: Ledger,
    kind: ListedKind,
    served: Sequence[int],
    plan: FaultPlan,
    applied: list[str],
) -> Ledger | None:
    """The ledger after the source modified the last record already served (its modified time
    moves past every other change), or None if `plan` does not call for it or none is left. A
    listing ordered by key serves the record once; a listing filtered by modified time brings
    it again on the next sync."""
    if not plan.modify_while_paging:
        return None
    at = latest_change(ledger).replace(microsecond=0) + timedelta(seconds=1)
    modified = modify_listed(ledger, kind, served, at=at)
    if modified is not None:
        applied.append("modify_while_paging")
    return modified
