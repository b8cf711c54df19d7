"""What `reports.cash_application_suggestions` and its columns mean, stored as their comments."""

from __future__ import annotations

__all__ = ["COLUMN_COMMENTS", "TABLE_COMMENT"]

TABLE_COMMENT = (
    "Cash application suggestions as of a date: for each payment (or open credit note) with "
    "unapplied cash, its ranked candidates (one open invoice or a set), what each would settle, "
    "a calibrated confidence and the evidence. Suggestions only: nothing is applied or written "
    "back to a source."
)

COLUMN_COMMENTS = {
    "as_of": "The date the suggestions are for: unapplied cash and open balances at that date.",
    "payer_kind": "payment, or credit_note for an open credit note (payment_id is its invoice id).",
    "payment_id": "The payment (or credit note) with cash to apply.",
    "customer_id": "The customer the payment was received from.",
    "unapplied_amount": "The payment's unapplied cash at as_of, in its currency.",
    "rank": "1 for the most likely candidate of the payment.",
    "confidence": (
        "Calibrated probability that this candidate is the true application (measured on "
        "generated ledgers, never on the ones reported)."
    ),
    "band": (
        "auto: the top candidate with confidence at or above the auto setting (0.99 by "
        "default), safe to accept in bulk; likely: confidence >= 0.5; possible: below."
    ),
    "invoice_ids": "The candidate's invoices, oldest first.",
    "settles": "What the candidate settles on each invoice, in the invoice's currency.",
    "settled_total": "The sum of settles.",
    "payment_amount_used": "What the candidate uses of the payment, in the payment's currency.",
    "left_unapplied": "What stays unapplied of the payment if the candidate is accepted.",
    "adjustment": (
        "What closes the invoice beyond the cash: a bank charge or early-payment discount "
        "to write off (0 otherwise)."
    ),
    "reference_match": (
        "named: the reference names the invoice (its prefix, or a word for invoice, and its "
        "number, however typed); digits: the bare number; none."
    ),
    "amount_match": (
        "exact, subset (a set summing exactly), converted (another currency at the documents' "
        "rates), discount, bank_charge, over_round / over_small / over (an overpayment), partial, "
        "oldest_first (no evidence but age)."
    ),
    "customer_match": "same, related (the names share their first word) or other customer.",
    "rivals": "Other candidates of the payment with evidence just as strong.",
    "evidence_class": "The class the confidence was calibrated on.",
    "evidence": "The evidence in words.",
}
