"""Carbon-style ids for ledger entities, deterministic and reversible.

Carbon's primary keys are xids: 20 characters of base32hex (`0-9a-v`). A sandbox id is an
8-character prefix derived from the company's name, one character for the entity kind, and the
ledger id in 11 base32hex digits, so ids are unique per company and kind and `ledger_id` maps one
back. API keys are `crbn_` followed by 40 hex digits derived from the company's name, so a test
(or the embedded sandbox) knows each company's key without asking.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Kind = Literal[
    "company",
    "customer",
    "payment_term",
    "invoice",
    "payment",
    "settlement",
    "memo",
    "memo_settlement",
    "supplier_payment",
    "supplier_settlement",
]

_ALPHABET = "0123456789abcdefghijklmnopqrstuv"
_KIND_CHAR: dict[Kind, str] = {
    "company": "0",
    "customer": "1",
    "payment_term": "2",
    "invoice": "3",
    "payment": "4",
    "settlement": "5",
    "memo": "6",
    "memo_settlement": "7",
    "supplier_payment": "8",
    "supplier_settlement": "9",
}
_DIGITS = 11
_MAX_LEDGER_ID = 32**_DIGITS - 1


def api_key(company: str) -> str:
    return "crbn_" + hashlib.blake2b(f"key:{company}".encode(), digest_size=20).hexdigest()


def company_id(company: str) -> str:
    return carbon_id(company, "company", 1)


def carbon_id(company: str, kind: Kind, ledger_id: int) -> str:
    """The Carbon id of ledger entity `ledger_id` of `kind` in `company` (a ledger Application
    is a "settlement"; a payment term's ledger id is its days due)."""
    if not 0 <= ledger_id <= _MAX_LEDGER_ID:
        raise ValueError(f"ledger id {ledger_id} is outside 0..{_MAX_LEDGER_ID}")
    digits = []
    for _ in range(_DIGITS):
        ledger_id, digit = divmod(ledger_id, 32)
        digits.append(_ALPHABET[digit])
    return _prefix(company) + _KIND_CHAR[kind] + "".join(reversed(digits))


def ledger_id(company: str, kind: Kind, carbon_id: str) -> int:
    """The ledger id behind a Carbon id; ValueError if it is not an id of `kind` in `company`."""
    expected = _prefix(company) + _KIND_CHAR[kind]
    tail = carbon_id[len(expected) :]
    if (
        len(carbon_id) != len(expected) + _DIGITS
        or not carbon_id.startswith(expected)
        or any(c not in _ALPHABET for c in tail)
    ):
        raise ValueError(f"{carbon_id!r} is not a {kind} id of company {company!r}")
    return int(tail, 32)


def _prefix(company: str) -> str:
    number = int.from_bytes(hashlib.blake2b(f"xid:{company}".encode(), digest_size=5).digest())
    return "".join(_ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(8)))
