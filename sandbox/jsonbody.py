"""JSON text with exact money: `Decimal` values are written as JSON numbers with their own digits.

The stdlib encoder can only write a `Decimal` by going through `float` (or as a string), which
would hide exactly the rounding bugs the sandboxes exist to catch; this small encoder writes
`Decimal("16.30")` as `16.30`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal

_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON; accepts dict/list/tuple/str/int/float/bool/None/Decimal."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode()


def _write(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as a JSON number")
        out.append(format(value, "f"))
    elif isinstance(value, int | float):
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            if i:
                out.append(",")
            out.append(_encode_str(key))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, Sequence):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
