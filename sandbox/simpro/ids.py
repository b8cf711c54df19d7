"""Simpro-style ids for ledger entities: integers, deterministic and reversible.

Simpro numbers records with integers unique per company; companies and individuals share one
customer ID space. The sandbox uses ``ledger id * 10 + a digit for the kind``, so ids of
different kinds never collide and `ledger_id` maps one back. A credit note is numbered after
the invoice it credits (one per invoice at most).
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["customer", "invoice", "payment", "credit_note"]

_KIND_DIGIT: dict[Kind, int] = {"customer": 1, "invoice": 2, "payment": 3, "credit_note": 4}


def simpro_id(kind: Kind, ledger_id: int) -> int:
    if ledger_id < 0:
        raise ValueError(f"ledger id {ledger_id} is negative")
    return ledger_id * 10 + _KIND_DIGIT[kind]


def ledger_id(kind: Kind, simpro_id: int | str) -> int:
    """The ledger id behind a Simpro id; ValueError if it is not an id of `kind`."""
    text = str(simpro_id)
    if not text.isdigit() or int(text) % 10 != _KIND_DIGIT[kind]:
        raise ValueError(f"{simpro_id!r} is not a Simpro {kind} id")
    return int(text) // 10
