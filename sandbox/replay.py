"""Ledger files: one sandbox account's records in the source's own shape, served as they are.

A ledger file (YAML or JSON, documented in docs/ledger-files.md) replays an account a user
has: an export from their own account, a support case, a vendor's documented sample. A sandbox
serving one answers its lists from the file's records, with the source's paging around them,
and serves any verbatim response the file holds byte for byte, in place of the page or record
it stands for. Auth, rate limits and error bodies stay the sandbox's.

    format: 1
    source: zoho_books
    account: Bowman & Co sample
    base_currency: USD
    lists:                      # list name -> records, in served order
      contacts: [{contact_id: "982000000567001", ...}]
    records:                    # list name -> id -> the record a single read returns
      customerpayments: {"982000000567190": {payment_id: "982000000567190", ...}}
    verbatim:                   # exact responses: a list page, or a single record
      - {list: customerpayments, page: 1, text: '{"code": 0, ...}'}
      - {record: customerpayments, id: "982000000567202", text: '{"code": 0, ...}'}

Numbers keep their exact digits (YAML and JSON numbers with a fraction load as `Decimal`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from sandbox import jsonbody

FORMAT = 1
SOURCES = ("zoho_books", "business_central", "simpro", "carbon")

Record = dict[str, Any]


class LedgerFileError(ValueError):
    """The ledger file cannot be served; the message names the file and what to fix."""


@dataclass(frozen=True)
class Replay:
    source: str
    account: str
    base_currency: str | None = None
    as_of: date | None = None
    lists: Mapping[str, Sequence[Record]] = field(default_factory=dict)
    records: Mapping[str, Mapping[str, Record]] = field(default_factory=dict)
    pages: Mapping[tuple[str, int], bytes] = field(default_factory=dict)  # (list, page) -> body
    responses: Mapping[tuple[str, str], bytes] = field(default_factory=dict)  # (list, id) -> body

    def rows(self, listing: str) -> Sequence[Record]:
        return self.lists.get(listing, ())

    def record(self, listing: str, record_id: str) -> Record | None:
        return self.records.get(listing, {}).get(record_id)


def load_replay(path: Path, *, source: str | None = None) -> Replay:
    """The ledger file at `path`; with `source`, it must be that source's."""
    try:
        text = path.read_text()
    except OSError as error:
        raise LedgerFileError(f"{path}: cannot read the ledger file: {error}") from None
    try:
        data = _parse(path, text)
    except (yaml.YAMLError, ValueError) as error:
        raise LedgerFileError(f"{path}: not valid YAML or JSON: {error}") from None
    try:
        replay = _replay(data)
    except (KeyError, TypeError, ValueError) as error:
        raise LedgerFileError(f"{path}: {error} (see docs/ledger-files.md)") from None
    if source is not None and replay.source != source:
        raise LedgerFileError(
            f"{path}: a ledger file of {replay.source}, not {source}: point the {source} "
            "connection at one of its own"
        )
    return replay


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        return json.loads(text, parse_float=Decimal)
    return yaml.load(text, Loader=_ExactLoader)  # noqa: S506 - a SafeLoader subclass


class _ExactLoader(yaml.SafeLoader):
    """YAML numbers with a fraction as `Decimal`, so money keeps its exact digits; dates and
    times stay the text the file has, as the source would send them."""


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))  # type: ignore[arg-type]


def _text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal)
_ExactLoader.add_constructor("tag:yaml.org,2002:timestamp", _text)  # dates as the source writes


def _replay(data: Any) -> Replay:
    if not isinstance(data, dict):
        raise ValueError("the file must hold a mapping")
    if data.get("format") != FORMAT:
        raise ValueError(f"format must be {FORMAT}")
    source = data["source"]
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    lists = {
        str(name): [dict(row) for row in rows] for name, rows in (data.get("lists") or {}).items()
    }
    records = {
        str(name): {str(key): dict(record) for key, record in by_id.items()}
        for name, by_id in (data.get("records") or {}).items()
    }
    pages: dict[tuple[str, int], bytes] = {}
    responses: dict[tuple[str, str], bytes] = {}
    for number, entry in enumerate(data.get("verbatim") or [], start=1):
        body = _body(entry, number)
        if "list" in entry:
            pages[(str(entry["list"]), int(entry.get("page", 1)))] = body
        elif "record" in entry:
            responses[(str(entry["record"]), str(entry["id"]))] = body
        else:
            raise ValueError(f"verbatim entry {number} names neither a list nor a record")
    as_of = data.get("as_of")
    return Replay(
        source=source,
        account=str(data["account"]),
        base_currency=data.get("base_currency"),
        as_of=date.fromisoformat(str(as_of)) if as_of is not None else None,
        lists=lists,
        records=records,
        pages=pages,
        responses=responses,
    )


def _body(entry: Any, number: int) -> bytes:
    """A verbatim response's bytes: `text` as written, or `body` as compact JSON."""
    if not isinstance(entry, dict):
        raise ValueError(f"verbatim entry {number} is not a mapping")
    if "text" in entry:
        return str(entry["text"]).encode()
    if "body" in entry:
        return jsonbody.dumps(entry["body"])
    raise ValueError(f"verbatim entry {number} has neither text nor body")
