"""The `oversized_record` fault (see `sandbox.faults.FaultConfig`): one record served with a huge
text field, as when a user pastes an attachment into an invoice's notes.

The server applies it to any JSON response, whatever the source: every object in the body whose
field has the chosen value gets the padding field, so a test names the record the way its
source's listing shows it (Zoho `invoice_number`, Business Central `number`, …) and restricts the
fault to the listing's path with `FaultConfig.paths`.
"""

from __future__ import annotations

import json
from decimal import Decimal

from sandbox import jsonbody
from sandbox.routing import Response

__all__ = ["PADDING", "oversize"]

PADDING = "pasted text "  # repeated to the size asked for


def oversize(
    response: Response, match: tuple[str, object], field: str, size: int
) -> Response | None:
    """`response` with `field` of `size` characters in every object whose `match[0]` is
    `match[1]` (compared as text), or None if its body is not JSON or has no such object."""
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        body = json.loads(response.body, parse_float=Decimal)
    except ValueError:
        return None
    padding = (PADDING * (size // len(PADDING) + 1))[:size]
    if not _pad(body, match, field, padding):
        return None
    return Response(response.status, jsonbody.dumps(body), response.headers)


def _pad(value: object, match: tuple[str, object], field: str, padding: str) -> bool:
    padded = False
    if isinstance(value, dict):
        key, wanted = match
        if key in value and str(value[key]) == str(wanted):  # Simpro's ids are numbers
            value[field] = padding
            padded = True
        for item in value.values():
            padded = _pad(item, match, field, padding) or padded
    elif isinstance(value, list):
        for item in value:
            padded = _pad(item, match, field, padding) or padded
    return padded
