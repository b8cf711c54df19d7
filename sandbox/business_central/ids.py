"""GUIDs for ledger entities, deterministic and reversible, as Business Central's SystemIds.

A company id is a GUID derived from the tenant and the company's name. An entity id is
`pppppppp-kkkk-4ppp-8ppp-nnnnnnnnnnnn`: `p` hex digits derived from the company id, `kkkk` the
entity kind, `n` the ledger id, so ids are unique per company and kind and `ledger_id` maps one
back.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Kind = Literal[
    "customer",
    "invoice",
    "credit_memo",
    "journal",
    "applied_line",
    "unapplied_line",
    "invoice_line",
]

_KIND_CODE: dict[Kind, str] = {
    "customer": "0001",
    "invoice": "0002",
    "credit_memo": "0003",
    "journal": "0004",
    "applied_line": "0005",  # a payment line per application: numbered by application id
    "unapplied_line": "0006",  # a payment's unapplied remainder: numbered by payment id
    "invoice_line": "0007",  # an invoice's one line: numbered by invoice id
}
_MAX_LEDGER_ID = 16**12 - 1


def company_id(tenant: str, name: str) -> str:
    return _guid(f"company:{tenant}:{name}")


def bc_id(company: str, kind: Kind, ledger_id: int) -> str:
    """The GUID of ledger entity `ledger_id` of `kind` in company `company` (its GUID)."""
    if not 0 <= ledger_id <= _MAX_LEDGER_ID:
        raise ValueError(f"ledger id {ledger_id} is outside 0..{_MAX_LEDGER_ID}")
    return f"{_prefix(company, kind)}-{ledger_id:012x}"


def ledger_id(company: str, kind: Kind, guid: str) -> int:
    """The ledger id behind a GUID; ValueError if it is not an id of `kind` in `company`."""
    prefix, _, number = guid.lower().rpartition("-")
    if prefix != _prefix(company, kind) or len(number) != 12:
        raise ValueError(f"{guid!r} is not a {kind} id of company {company}")
    return int(number, 16)


def _prefix(company: str, kind: Kind) -> str:
    digest = _hex(f"prefix:{company}")
    return f"{digest[:8]}-{_KIND_CODE[kind]}-4{digest[8:11]}-8{digest[11:14]}"


def _hex(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def named_id(company: str, name: str) -> str:
    """A GUID for a company's named setup record (a currency, payment terms)."""
    return _guid(f"named:{company}:{name}")


def _guid(text: str) -> str:
    digest = _hex(text)
    return f"{digest[:8]}-{digest[8:12]}-4{digest[12:15]}-8{digest[15:18]}-{digest[18:30]}"
