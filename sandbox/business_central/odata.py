"""The OData query options the Business Central sandbox understands: `$filter`, `$select`,
`$orderby`, `$top`, `$skip`, `$count`, `$expand` (with a nested `$select`),
`Prefer: odata.maxpagesize`, and opaque skip tokens."""

from __future__ import annotations

import base64
import binascii
import json
import operator
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.routing import Response

Compare = Callable[[Any, Any], bool]

OPERATORS: dict[str, Compare] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(\S+)\s*$", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)
_GUID = re.compile(
    r"^'?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})'?$"
)
_ORDERS = ("asc", "desc")
_EXPANSION = re.compile(r"\s*(\w+)\s*(?:\(([^()]*)\))?\s*")
_MAXPAGESIZE = re.compile(r"(?:^|[,;\s])odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


class ODataError(Exception):
    """A request BC would refuse: `status`, error `code` and `message`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """BC's error body: `{"error": {"code", "message"}}`, the message ending in a CorrelationId."""
    text = f"{message.rstrip('.')}.  CorrelationId:  {uuid.uuid4()}."
    return Response.json({"error": {"code": code, "message": text}}, status, headers)


@dataclass(frozen=True, slots=True)
class Clause:
    """`field op value`, or several such comparisons of one field joined by `or`."""

    field: str  # lastModifiedDateTime, journalId or id
    terms: tuple[tuple[Compare, datetime | str], ...]

    def holds(self, value: Any) -> bool:
        return any(compare(value, literal) for compare, literal in self.terms)


def parse_filter(text: str | None, entity: str, fields: frozenset[str]) -> list[Clause]:
    """`field op value [or field op value ...] [and ...]` over the filterable `fields`
    (`lastModifiedDateTime` takes an unquoted ISO datetime such as `2019-08-18T20:05:51.603Z`;
    `journalId` and `id` a GUID). An `or` joins comparisons of one field only, as in BC; a
    group may be parenthesized."""
    if text is None or not text.strip():
        return []
    clauses = []
    for group in _AND.split(text.strip()):
        if group.startswith("(") and group.endswith(")"):
            group = group[1:-1]
        terms = [_comparison(part, entity, fields) for part in _OR.split(group.strip())]
        names = {name for name, _, _ in terms}
        if len(names) > 1:
            raise ODataError(
                400,
                "BadRequest",
                f"'or' across different fields ({', '.join(sorted(names))}) is not supported",
            )
        clauses.append(Clause(terms[0][0], tuple((op, value) for _, op, value in terms)))
    return clauses


def _comparison(
    part: str, entity: str, fields: frozenset[str]
) -> tuple[str, Compare, datetime | str]:
    found = _CLAUSE.match(part)
    if found is None:
        raise ODataError(400, "BadRequest", f"Syntax error in the filter expression '{part}'")
    name, op, literal = found.groups()
    if name not in fields:
        raise ODataError(
            400,
            "BadRequest_PropertyNotFound",
            f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity}'",
        )
    return name, OPERATORS[op.lower()], _literal(name, literal)


def _literal(name: str, literal: str) -> datetime | str:
    if name in ("journalId", "id"):
        guid = _GUID.match(literal)
        if guid is None:
            raise ODataError(400, "BadRequest", f"'{literal}' is not a valid GUID")
        return guid.group(1).lower()
    try:
        moment = datetime.fromisoformat(literal)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ODataError(
            400,
            "BadRequest",
            f"The DateTimeOffset literal '{literal}' is not valid: use an ISO 8601 UTC time "
            "such as 2019-08-18T20:05:51.603Z",
        )
    return moment


def parse_select(text: str | None, entity: str, fields: tuple[str, ...]) -> tuple[str, ...]:
    if text is None or not text.strip():
        return fields
    wanted = tuple(name.strip() for name in text.split(","))
    for name in wanted:
        if name not in fields:
            raise ODataError(
                400,
                "BadRequest_PropertyNotFound",
                f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity}'",
            )
    return wanted


def max_page_size(prefer: str | None) -> int | None:
    found = _MAXPAGESIZE.search(prefer or "")
    return int(found.group(1)) if found and int(found.group(1)) > 0 else None


def parse_orderby(text: str | None, entity: str, fields: tuple[str, ...]) -> list[tuple[str, bool]]:
    """`field [asc|desc], ...` over the entity's properties: (field, descending) pairs."""
    if text is None or not text.strip():
        return []
    order = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in _ORDERS):
            raise ODataError(400, "BadRequest", f"Syntax error in the $orderby expression '{part}'")
        _known(words[0], entity, fields)
        order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return order


def parse_count(text: str | None) -> bool:
    if text is None or text.lower() == "false":
        return False
    if text.lower() == "true":
        return True
    raise ODataError(400, "BadRequest", f"'{text}' is not a valid value for $count: true or false")


def parse_whole(name: str, text: str | None) -> int | None:
    """`$top` or `$skip`: a whole number, or None when absent."""
    if text is None:
        return None
    if not text.isdigit():
        raise ODataError(400, "BadRequest", f"'{text}' is not a valid value for {name}")
    return int(text)


@dataclass(frozen=True, slots=True)
class Expansion:
    navigation: str
    select: tuple[str, ...] | None  # a nested $select, if any


def parse_expand(text: str | None, entity: str, navigations: frozenset[str]) -> list[Expansion]:
    """`nav` or `nav($select=a,b)`, comma-separated, over the entity's navigation properties."""
    if text is None or not text.strip():
        return []
    expansions = []
    for part in _top_level(text):
        found = _EXPANSION.fullmatch(part)
        if found is None:
            raise ODataError(400, "BadRequest", f"Syntax error in the $expand expression '{part}'")
        name, options = found.group(1), found.group(2)
        _known(name, entity, navigations)
        select = None
        if options is not None:
            key, _, value = options.partition("=")
            if key.strip() != "$select":
                raise ODataError(
                    400,
                    "BadRequest",
                    f"The sandbox emulates only $select inside $expand: {options}",
                )
            select = tuple(v.strip() for v in value.split(",") if v.strip())
        expansions.append(Expansion(name, select))
    return expansions


def _top_level(text: str) -> list[str]:
    """`text` split at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _known(name: str, entity: str, fields: tuple[str, ...] | frozenset[str]) -> None:
    if name not in fields:
        raise ODataError(
            400,
            "BadRequest_PropertyNotFound",
            f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity}'",
        )


def skip_token(last_key: int) -> str:
    """A token for "the rows after the one whose key is `last_key`" (the served order)."""
    return _token({"after": last_key})


def position_token(position: int) -> str:
    """A token for "from row `position` on" (an `$orderby` order)."""
    return _token({"at": position})


def _token(content: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(content).encode()).decode().rstrip("=")


def read_skip_token(token: str | None) -> tuple[str, int] | None:
    """("after", key) or ("at", position); None without a token."""
    if token is None:
        return None
    try:
        content = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ((kind, value),) = content.items()
    except (binascii.Error, ValueError, AttributeError, TypeError):
        kind, value = None, None
    if kind not in ("after", "at") or not isinstance(value, int):
        raise ODataError(400, "BadRequest", "The skip token is not valid")
    return kind, value
