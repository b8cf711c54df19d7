"""The source changing between two syncs: new, modified, voided, posted and deleted records.

    kinds = change_kinds(SOURCES["carbon"], deletes=True)
    change(SOURCES["carbon"], server, kinds[step % len(kinds)], step=step, at=moment)

Each change is a pure function of the account's ledger, the step and `at`, so two sandboxes of
the same ledger changed with the same steps serve the same records (a killed chain and its
never-killed reference). The sandbox's ledger is the ground truth afterwards:

- new: a payment of 12.50 (10.00 to an open invoice, 2.50 unapplied); on a source that posts
  (Carbon), it arrives as a draft, not yet counted in the invoice's balance;
- modified: an open invoice's due date moves a week later;
- voided (sources that keep voids listed): a posted payment is voided, its invoices owe again;
- posted: Business Central posts a payment journal; Carbon posts its drafts;
- deleted: a payment is deleted, its applications with it (on Business Central, one whose
  journal lines are not posted yet: a posted entry is reversed, never deleted). Deletions show
  only in a complete listing, so only chains that reconcile ids on every sync use them.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb

from benchmarks.proof_sources import ACCOUNT, SourceUnderTest
from sandbox.business_central.app import BusinessCentralApp
from sandbox.carbon.app import CarbonApp
from sandbox.generator import record_payment, void_payment
from sandbox.ledger import Invoice, Ledger
from sandbox.server import SandboxServer

__all__ = ["ChangeKind", "change", "change_kinds", "posts_unread_lines", "touch_invoice"]

ChangeKind = Literal["new", "modified", "voided", "posted", "deleted"]


def change_kinds(source: SourceUnderTest, *, deletes: bool) -> tuple[ChangeKind, ...]:
    """What the source can change, in the order the steps take them."""
    kinds: list[ChangeKind] = ["new"]
    if source.posts:
        kinds.append("posted")
    kinds.append("modified")
    if source.keeps_voids:
        kinds.append("voided")
    if deletes:
        kinds.append("deleted")
    return tuple(kinds)


def change(
    source: SourceUnderTest,
    server: SandboxServer[Any],
    kind: ChangeKind,
    *,
    step: int,
    at: datetime,
) -> None:
    ledger = source.ledger(server)
    drafts = _drafts(server)
    if kind == "posted":
        _post(server, step, at)
    elif kind == "new":
        invoices = _open_invoices(ledger)
        invoice = invoices[step % len(invoices)]
        changed, payment = record_payment(
            ledger,
            customer_id=invoice.customer_id,
            applications=[(invoice.invoice_id, Decimal("10.00"))],
            payment_date=at.date(),
            at=at,
            unapplied=Decimal("2.50"),
            reference=f"proof-{step}",
        )
        _serve(server, changed, drafts | {payment.payment_id} if source.posts else drafts)
    elif kind == "modified":
        invoices = _open_invoices(ledger)
        invoice = invoices[-1 - step % len(invoices)]
        moved = dataclasses.replace(
            invoice, due_date=invoice.due_date + timedelta(days=7), updated_at=at
        )
        _serve(
            server,
            ledger.replace(invoices=tuple(moved if i is invoice else i for i in ledger.invoices)),
            drafts,
        )
    elif kind == "voided":
        _serve(server, void_payment(ledger, _applied_payment(ledger, step, drafts), at=at), drafts)
    else:
        payment_id = _unposted_payment(server, ledger, step)
        voided = void_payment(ledger, payment_id, at=at)
        deleted = voided.replace(
            payments=tuple(p for p in voided.payments if p.payment_id != payment_id),
            applications=tuple(a for a in voided.applications if a.payment_id != payment_id),
        )
        _serve(server, deleted, drafts)


def touch_invoice(
    source: SourceUnderTest, server: SandboxServer[Any], invoice_id: int, *, at: datetime
) -> bool:
    """The source edits the invoice at `at` and nothing a report reads (a note shortened):
    its modified time moves on. False if the source no longer has it. (Carbon's invoice rows
    carry an edit's time, not the ledger's: the edit is made to the row.)"""
    ledger = source.ledger(server)
    invoice = next((i for i in ledger.invoices if i.invoice_id == invoice_id), None)
    if invoice is None:
        return False
    if isinstance(server.app, CarbonApp):
        row_id = source.ids(server)("invoice", invoice_id)
        server.app.edit(ACCOUNT, "salesInvoices", row_id)
        return True
    touched = dataclasses.replace(invoice, updated_at=at)
    invoices = tuple(touched if i is invoice else i for i in ledger.invoices)
    _serve(server, ledger.replace(invoices=invoices), _drafts(server))
    return True


def _open_invoices(ledger: Ledger) -> list[Invoice]:
    return [i for i in ledger.invoices if i.status == "open"]


def _applied_payment(ledger: Ledger, step: int, drafts: frozenset[int]) -> int:
    """A posted payment with applications, not a draft, chosen by the step."""
    applied = {a.payment_id for a in ledger.applications}
    candidates = [
        p.payment_id
        for p in ledger.payments
        if p.status == "posted" and p.payment_id in applied and p.payment_id not in drafts
    ]
    return candidates[(step * 7) % len(candidates)]


def _unposted_payment(server: SandboxServer[Any], ledger: Ledger, step: int) -> int:
    """A payment Business Central can delete: one whose journal lines are not posted yet."""
    if not isinstance(server.app, BusinessCentralApp):
        return _applied_payment(ledger, step, _drafts(server))
    unposted = sorted({line.payment.payment_id for line in server.app.served_lines(ACCOUNT)})
    return unposted[(step * 7) % len(unposted)]


def _drafts(server: SandboxServer[Any]) -> frozenset[int]:
    return server.app.draft_payments(ACCOUNT) if isinstance(server.app, CarbonApp) else frozenset()


def _serve(server: SandboxServer[Any], ledger: Ledger, drafts: frozenset[int]) -> None:
    """Serve the changed ledger; on Carbon, with its drafts (those still in the ledger)."""
    if isinstance(server.app, CarbonApp):
        kept = drafts & {p.payment_id for p in ledger.payments}
        server.app.set_ledger(ACCOUNT, ledger, draft_payments=kept)
    else:
        server.app.set_ledger(ACCOUNT, ledger)


def _post(server: SandboxServer[Any], step: int, at: datetime) -> None:
    if isinstance(server.app, CarbonApp):
        for payment_id in sorted(server.app.draft_payments(ACCOUNT)):
            server.app.post_payment(ACCOUNT, payment_id, at=at)
        return
    journals = server.app.config.journals
    server.app.post_journal(ACCOUNT, journals[step % len(journals)].code, at=at)


def posts_unread_lines(server: SandboxServer[Any], step: int, warehouse: Path) -> bool:
    """Whether posting now (step `step`) would post Business Central journal lines the
    warehouse has not read. Business Central lists only unposted lines, so a payment entered
    and posted between two reads is never seen: a limit of its API, not a loss a kill caused."""
    if not isinstance(server.app, BusinessCentralApp):
        return False
    journal = step % len(server.app.config.journals)
    lines = {ln.line_id for ln in server.app.served_lines(ACCOUNT) if ln.journal == journal}
    return not lines <= _read_lines(warehouse)


def _read_lines(warehouse: Path) -> set[str]:
    if not warehouse.exists():
        return set()
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            row[0]
            for row in conn.execute(
                "SELECT record_id FROM raw.business_central__customer_payments"
            ).fetchall()
        }
    except duckdb.CatalogException:
        return set()
    finally:
        conn.close()
