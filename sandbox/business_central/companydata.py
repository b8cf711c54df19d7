"""One company's ledger as Business Central serves it: rendered rows per collection, in key order.

Payments become unposted journal lines: a line per application (`appliesToInvoiceId`) and, for
money not applied, a line without an invoice. Void payments are not served (BC journal lines are
not voided). An invoice's `remainingAmount` is its ledger balance plus the lines not yet posted
(BC's balance counts posted entries only), so until a journal is posted its payments show as
pending in the warehouse. `Postings` records which lines were posted or deleted, and when; it
outlives `set_ledger`, so a test can post, then record another payment, then sync.

Built once per change (O(n)); a page request filters its listing (O(n)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from sandbox.business_central import render
from sandbox.business_central.config import Journal
from sandbox.business_central.ids import bc_id
from sandbox.ledger import Application, Ledger, Payment

CUSTOMERS = "customers"
INVOICES = "salesInvoices"
CREDIT_MEMOS = "salesCreditMemos"
JOURNALS = "customerPaymentJournals"
LINES = "customerPayments"
COLLECTIONS = (CUSTOMERS, INVOICES, CREDIT_MEMOS, JOURNALS, LINES)

_UNBILLED = ("draft", "void")


@dataclass(frozen=True, slots=True)
class Line:
    """One journal line: money of one payment applied to one invoice, or not applied."""

    line_id: str
    journal: int  # index into the configured journals
    line_number: int
    payment: Payment
    invoice_id: int | None  # ledger id; may be missing from the ledger (an orphan)
    amount: Decimal  # positive; served with the configured sign


@dataclass
class Postings:
    """What happened to journal lines since the ledger was generated."""

    posted: dict[str, datetime] = field(default_factory=dict)  # line id -> when posted
    deleted: dict[str, datetime] = field(default_factory=dict)  # line id -> when deleted
    invoice_changed: dict[int, datetime] = field(default_factory=dict)  # by a posting


@dataclass(frozen=True, slots=True)
class Row:
    key: int  # unique, ascending in list order: the skip token remembers the last one served
    modified: datetime
    body: dict[str, object]
    journal_id: str | None = None  # payment lines only


class CompanyData:
    def __init__(
        self,
        name: str,
        company_id: str,
        ledger: Ledger,
        postings: Postings,
        journals: Sequence[Journal],
        negative_amounts: bool,
    ) -> None:
        self.name = name
        self.company_id = company_id
        self.ledger = ledger
        self.journals = tuple(journals)
        self.journal_ids = [bc_id(company_id, "journal", i + 1) for i in range(len(journals))]
        self.lines = _lines(company_id, ledger, len(journals))
        self.served_lines = [
            line
            for line in self.lines
            if line.line_id not in postings.posted and line.line_id not in postings.deleted
        ]
        unposted: dict[int, Decimal] = {}
        for line in self.lines:
            if line.invoice_id is not None and line.line_id not in postings.posted:
                unposted[line.invoice_id] = unposted.get(line.invoice_id, Decimal(0)) + line.amount
        self.remaining = {
            inv.invoice_id: inv.source_balance + unposted.get(inv.invoice_id, Decimal(0))
            for inv in ledger.invoices
        }
        self.customer_balance: dict[int, Decimal] = {}
        for inv in ledger.invoices:
            if inv.status not in _UNBILLED:
                self.customer_balance[inv.customer_id] = (
                    self.customer_balance.get(inv.customer_id, Decimal("0.00"))
                    + self.remaining[inv.invoice_id]
                )
        self.customers = {c.customer_id: c for c in ledger.customers}
        self.invoices = {inv.invoice_id: inv for inv in ledger.invoices}
        self.invoice_changed = dict(postings.invoice_changed)
        self.negative_amounts = negative_amounts
        self.rows = self._rows()
        self._served = {line.line_id: line for line in self.served_lines}

    def _rows(self) -> dict[str, list[Row]]:
        customers = [
            Row(c.customer_id, c.updated_at, render.customer(c, self))
            for c in self.ledger.customers
        ]
        invoices = [
            Row(inv.invoice_id, self.invoice_modified(inv.invoice_id), render.invoice(inv, self))
            for inv in self.ledger.invoices
        ]
        memos = []
        for inv in self.ledger.invoices:
            if inv.status in _UNBILLED:
                continue
            for number, amount in (
                (2 * inv.invoice_id, inv.credits_applied),
                (2 * inv.invoice_id + 1, inv.write_off_amount),
            ):
                if amount:
                    memos.append(
                        Row(number, inv.created_at, render.credit_memo(number, inv, amount, self))
                    )
        journals = [
            Row(i + 1, render.JOURNALS_CREATED, render.journal(i, self))
            for i in range(len(self.journals))
        ]
        lines = [
            Row(
                line.journal * 10**9 + line.line_number,
                line.payment.updated_at,
                render.payment_line(line, self),
                journal_id=self.journal_ids[line.journal],
            )
            for line in sorted(self.served_lines, key=lambda ln: (ln.journal, ln.line_number))
        ]
        return {
            CUSTOMERS: sorted(customers, key=lambda r: r.key),
            INVOICES: sorted(invoices, key=lambda r: r.key),
            CREDIT_MEMOS: sorted(memos, key=lambda r: r.key),
            JOURNALS: journals,
            LINES: lines,
        }

    @cached_property
    def customer_bodies(self) -> dict[str, dict[str, object]]:
        """Customers' bodies by id, for `$expand=customer`."""
        return {str(row.body["id"]): row.body for row in self.rows[CUSTOMERS]}

    def invoice_modified(self, invoice_id: int) -> datetime:
        """A posting changes the invoice's remaining amount, and so its lastModifiedDateTime."""
        updated = self.invoices[invoice_id].updated_at
        changed = self.invoice_changed.get(invoice_id)
        return max(updated, changed) if changed else updated

    def line(self, line_id: str) -> Line | None:
        """A served (unposted, undeleted) line."""
        return self._served.get(line_id)


def _lines(company_id: str, ledger: Ledger, journals: int) -> list[Line]:
    applications: dict[int, list[Application]] = {}
    for app in sorted(ledger.applications, key=lambda a: a.application_id):
        applications.setdefault(app.payment_id, []).append(app)
    lines: list[Line] = []
    numbers = [0] * journals
    for payment in sorted(ledger.payments, key=lambda p: p.payment_id):
        if payment.status == "void":
            continue
        journal = payment.payment_id % journals
        applied = applications.get(payment.payment_id, [])
        parts = [
            (bc_id(company_id, "applied_line", a.application_id), a.invoice_id, a.amount_applied)
            for a in applied
        ]
        unapplied = payment.amount - sum((a.amount_applied for a in applied), Decimal(0))
        if unapplied > 0 or not applied:
            parts.append((bc_id(company_id, "unapplied_line", payment.payment_id), None, unapplied))
        for line_id, invoice_id, amount in parts:
            numbers[journal] += 10_000
            lines.append(Line(line_id, journal, numbers[journal], payment, invoice_id, amount))
    return lines
