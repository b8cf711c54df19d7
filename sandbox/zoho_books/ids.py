"""Zoho-style ids for ledger entities, deterministic and reversible.

An organization id is a 10-digit string derived from the organization's name. An entity id is a
19-digit string (beyond 2**53, like Zoho's `4372460000000650034`): a 7-digit prefix derived
from the organization id, `000`, one digit for the entity kind, and the ledger id in 8 digits.
So ids are unique per organization and kind, and `ledger_id` maps one back.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Kind = Literal["contact", "invoice", "payment", "invoice_payment", "currency", "account"]

_KIND_DIGIT: dict[Kind, str] = {
    "contact": "1",
    "invoice": "2",
    "payment": "3",
    "invoice_payment": "4",
    "currency": "5",
    "account": "6",
}
_MAX_LEDGER_ID = 10**8 - 1


def organization_id(org_name: str) -> str:
    return str(1_000_000_000 + _hash(f"org:{org_name}") % 9_000_000_000)


def zoho_id(org_id: str, kind: Kind, ledger_id: int) -> str:
    """The Zoho id of ledger entity `ledger_id` of `kind` (a Customer is a "contact", an
    Application an "invoice_payment") in organization `org_id`."""
    if not 0 <= ledger_id <= _MAX_LEDGER_ID:
        raise ValueError(f"ledger id {ledger_id} is outside 0..{_MAX_LEDGER_ID}")
    return f"{_prefix(org_id)}000{_KIND_DIGIT[kind]}{ledger_id:08d}"


def currency_id(org_id: str, currency_code: str) -> str:
    """The organization's id of a currency (Zoho numbers currencies like other records)."""
    number = 0
    for letter in currency_code.upper():
        number = number * 26 + ord(letter) - ord("A")
    return zoho_id(org_id, "currency", number)


def ledger_id(org_id: str, kind: Kind, zoho_id: str) -> int:
    """The ledger id behind a Zoho id; ValueError if it is not an id of `kind` in `org_id`."""
    expected = f"{_prefix(org_id)}000{_KIND_DIGIT[kind]}"
    if len(zoho_id) != 19 or not zoho_id.isdigit() or not zoho_id.startswith(expected):
        raise ValueError(f"{zoho_id!r} is not a {kind} id of organization {org_id}")
    return int(zoho_id[len(expected) :])


def _prefix(org_id: str) -> str:
    return str(1_000_000 + _hash(f"prefix:{org_id}") % 8_000_000)


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
