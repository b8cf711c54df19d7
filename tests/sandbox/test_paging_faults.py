"""The faults that change a ledger while a client pages: what a deletion may take, what an
insertion adds, and that every sandbox applies them to the rows served before the page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sandbox.faults import FaultPlan
from sandbox.generator import delete_listed, generate_ledger, insert_listed, modify_listed
from sandbox.paging_faults import change_while_paging, modify_while_paging
from sandbox.truth import invoice_truth

AT = datetime(2030, 1, 1, tzinfo=UTC)


def test_deletion_takes_the_nearest_record_the_source_lets_go() -> None:
    ledger = generate_ledger("Paging Faults Ltd", customers=5, invoices=40, payments=20)
    applied = {a.invoice_id for a in ledger.applications}
    ids = [i.invoice_id for i in ledger.invoices]
    expected = next(i for i in reversed(ids[:30]) if i not in applied)

    deleted = delete_listed(ledger, "invoices", ids[:30], at=AT)

    assert deleted is not None
    changed, victim = deleted
    assert victim == expected
    assert [i.invoice_id for i in changed.invoices] == [i for i in ids if i != victim]
    assert delete_listed(ledger, "invoices", sorted(applied), at=AT) is None


def test_deleting_a_payment_gives_its_invoices_their_money_back() -> None:
    ledger = generate_ledger("Paging Faults Ltd", customers=5, invoices=40, payments=20)
    payment = next(p for p in ledger.payments if p.status == "posted")
    apps = [a for a in ledger.applications if a.payment_id == payment.payment_id]
    before = invoice_truth(ledger, ledger.as_of)

    deleted = delete_listed(ledger, "payments", [payment.payment_id], at=AT)

    assert deleted is not None
    changed, _ = deleted
    assert payment.payment_id not in {p.payment_id for p in changed.payments}
    assert not [a for a in changed.applications if a.payment_id == payment.payment_id]
    after = invoice_truth(changed, ledger.as_of)
    for app in apps:
        gain = after[app.invoice_id].open_balance - before[app.invoice_id].open_balance
        assert gain == sum(a.amount_applied for a in apps if a.invoice_id == app.invoice_id)


def test_insertion_adds_one_record_after_everything() -> None:
    ledger = generate_ledger("Paging Faults Ltd", customers=5, invoices=40, payments=20)
    for kind in ("customers", "invoices", "payments"):
        changed = insert_listed(ledger, kind, at=AT)
        new = getattr(changed, kind)[-1]
        assert len(getattr(changed, kind)) == len(getattr(ledger, kind)) + 1
        assert new.created_at == AT
    invoice = insert_listed(ledger, "invoices", at=AT).invoices[-1]
    assert (invoice.status, invoice.total_amount, invoice.source_balance) == (
        "open",
        Decimal("100.00"),
        Decimal("100.00"),
    )


def test_change_while_paging_names_what_it_applied() -> None:
    ledger = generate_ledger("Paging Faults Ltd", customers=5, invoices=40, payments=20)
    ids = [i.invoice_id for i in ledger.invoices]
    applied: list[str] = []
    plan = FaultPlan(delete_while_paging=True, insert_while_paging=True)

    changed = change_while_paging(ledger, "invoices", ids[:20], plan, applied)

    assert changed is not None
    assert applied == ["delete_while_paging", "insert_while_paging"]
    assert len(changed.invoices) == len(ledger.invoices)
    assert change_while_paging(ledger, "invoices", ids, FaultPlan(), applied) is None


def test_modification_moves_the_last_served_record_on_and_nothing_else() -> None:
    ledger = generate_ledger("Paging Faults Ltd", customers=5, invoices=40, payments=20)
    ids = [i.invoice_id for i in ledger.invoices]
    applied: list[str] = []

    changed = modify_while_paging(
        ledger, "invoices", ids[:10], FaultPlan(modify_while_paging=True), applied
    )

    assert changed is not None and applied == ["modify_while_paging"]
    moved = [(a, b) for a, b in zip(ledger.invoices, changed.invoices, strict=True) if a != b]
    assert [(a.invoice_id, b.updated_at > a.updated_at) for a, b in moved] == [(ids[9], True)]
    assert invoice_truth(changed, ledger.as_of) == invoice_truth(ledger, ledger.as_of)
    assert modify_while_paging(ledger, "invoices", ids, FaultPlan(), applied) is None
    assert modify_listed(ledger, "invoices", [], at=AT) is None
