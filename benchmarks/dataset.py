"""A benchmark ledger, rendered once as the Zoho Books sandbox serves it, and kept on disk.

Rows are rendered by the sandbox's own renderers (`sandbox.zoho_books.render`) inside the same
envelope as its list handler, so every page is byte for byte what the sandbox answers; only the
encoder is faster (orjson, each `Decimal` written from its own digits as `sandbox.jsonbody`
does). Rendering a million rows live would make the server the bottleneck; served from files it
is not (benchmarks/README.md).

Layout of a dataset directory::

    contacts/000001.json …        list pages of PAGE_SIZE records, as served for `page=N`
    invoices/…  customerpayments/…
    details.json                  every payment's detail response, concatenated
    details.idx                   (offset, length) per ledger payment id, little-endian uint64
    meta.json                     written last: sizes, organization, page and record counts

    python -m benchmarks.dataset DIR --customers 100000 --invoices 1000000 --payments 1000000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from array import array
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from sandbox.generator import generate_ledger
from sandbox.zoho_books import listquery, render
from sandbox.zoho_books.config import org_zone
from sandbox.zoho_books.ids import organization_id
from sandbox.zoho_books.orgdata import Listing, OrgData

__all__ = ["LISTINGS", "PAGE_SIZE", "Dataset", "dumps", "ensure_dataset", "page_body"]

ACCOUNT = "ledgersync-bench"
PAGE_SIZE = 200
LISTINGS: tuple[Listing, ...] = ("contacts", "invoices", "customerpayments")
_FORMAT = 2
_META = "meta.json"
_RENDERERS: dict[Listing, Callable[[Any, OrgData], dict[str, object]]] = {
    "contacts": render.contact,
    "invoices": render.invoice,
    "customerpayments": render.payment_row,
}


@dataclass(frozen=True)
class Dataset:
    directory: Path
    account: str
    organization_id: str
    customers: int
    invoices: int
    payments: int
    records: dict[str, int]  # served records per listing (void payments are not served)
    pages: dict[str, int]
    applications: int
    as_of: str  # the ledger's today, YYYY-MM-DD: reports are taken as of it
    page_size: int = PAGE_SIZE
    format: int = _FORMAT

    @property
    def list_records(self) -> int:
        return sum(self.records.values())

    def page_path(self, listing: str, number: int) -> Path:
        return self.directory / listing / f"{number:06d}.json"

    @classmethod
    def load(cls, directory: Path) -> Dataset:
        meta = json.loads((directory / _META).read_text())
        return cls(directory=directory, **meta)


def dumps(value: object) -> bytes:
    """Compact JSON with exact money: what `sandbox.jsonbody.dumps` writes, at orjson's speed."""
    return orjson.dumps(value, default=_exact_decimal)


def _exact_decimal(value: object) -> orjson.Fragment:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def page_body(listing: Listing, rows: Sequence[dict[str, object]], page: int, total: int) -> bytes:
    """A list response exactly as the sandbox's list handler builds it."""
    return dumps(
        {
            "code": 0,
            "message": "success",
            listing: rows,
            "page_context": {
                "page": page,
                "per_page": PAGE_SIZE,
                "has_more_page": page * PAGE_SIZE < total,
                **listquery.parse(listing, lambda _: None).page_context(),
            },
        }
    )


def ensure_dataset(directory: Path, *, customers: int, invoices: int, payments: int) -> Dataset:
    """The dataset of this size in `directory`, built unless a complete one is there."""
    sizes = {"customers": customers, "invoices": invoices, "payments": payments}
    if (directory / _META).exists():
        dataset = Dataset.load(directory)
        if dataset.format == _FORMAT and all(getattr(dataset, k) == v for k, v in sizes.items()):
            return dataset
        (directory / _META).unlink()
    return _build(directory, **sizes)


def _build(directory: Path, *, customers: int, invoices: int, payments: int) -> Dataset:
    ledger = generate_ledger(ACCOUNT, customers=customers, invoices=invoices, payments=payments)
    org_id = organization_id(ACCOUNT)
    org = OrgData(ACCOUNT, org_id, org_zone(ACCOUNT), ledger)
    records: dict[str, int] = {}
    pages: dict[str, int] = {}
    for listing in LISTINGS:
        rows = org.rows[listing]
        folder = directory / listing
        folder.mkdir(parents=True, exist_ok=True)
        renderer = _RENDERERS[listing]
        pages[listing] = max(1, math.ceil(len(rows) / PAGE_SIZE))
        records[listing] = len(rows)
        for number in range(1, pages[listing] + 1):
            chunk = rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
            body = page_body(listing, [renderer(e, org) for e in chunk], number, len(rows))
            (folder / f"{number:06d}.json").write_bytes(body)
    _write_details(directory, org, max((p.payment_id for p in ledger.payments), default=0))
    dataset = Dataset(
        directory=directory,
        account=ACCOUNT,
        organization_id=org_id,
        customers=customers,
        invoices=invoices,
        payments=payments,
        records=records,
        pages=pages,
        applications=sum(len(apps) for apps in org.applications.values()),
        as_of=ledger.as_of.isoformat(),
    )
    meta = {k: v for k, v in asdict(dataset).items() if k != "directory"}
    (directory / _META).write_text(json.dumps(meta, indent=2))
    return dataset


def _write_details(directory: Path, org: OrgData, max_payment_id: int) -> None:
    """Each served payment's detail response; void payments keep (0, 0) and answer 404."""
    index = array("Q", bytes(16 * (max_payment_id + 1)))
    offset = 0
    with open(directory / "details.json", "wb") as out:
        for payment in org.rows["customerpayments"]:
            detail = render.payment_detail(payment, org)  # type: ignore[arg-type]
            body = dumps({"code": 0, "message": "success", "payment": detail})
            out.write(body)
            index[2 * payment.payment_id] = offset
            index[2 * payment.payment_id + 1] = len(body)
            offset += len(body)
    if sys.byteorder != "little":
        index.byteswap()
    (directory / "details.idx").write_bytes(index.tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--invoices", type=int, required=True)
    parser.add_argument("--payments", type=int, required=True)
    args = parser.parse_args()
    dataset = ensure_dataset(
        args.directory, customers=args.customers, invoices=args.invoices, payments=args.payments
    )
    print(json.dumps({"records": dataset.records, "pages": dataset.pages}))


if __name__ == "__main__":
    main()
