"""Zoho payment-detail requests with applications derived from the payment list, against every
detail fetched, and what a first sync of a million payments takes at Zoho's documented limit.

Two first syncs of one generated ledger through the Zoho sandbox itself (rate limits lifted):
`payment_details: derive` (the default) and `fetch_all`, each into a fresh warehouse, counted
per endpoint from the sandbox's request log. Their canonical payment applications must be
equal, to the cent, or the run fails. The ledger's mix (payments applied to no, one or several
invoices) is read from the ledger itself.

Extrapolation: detail requests per payment are a ratio of the mix, so they carry over to a
larger ledger of the same mix; list requests are one per 200 records. At 100 requests a minute
(SOURCES.md §3.2, per organization), a first sync of `--extrapolate-payments` payments (with as
many invoices, and a tenth as many customers, the default benchmark size) takes (list + detail
requests) / 100 minutes. Also for mixes with more multi-invoice payments: those always cost a
request; the others cost what this run's single-invoice payments cost.

    python -m benchmarks.zoho_details --work /tmp/zoho-details      # 20,000 payments, ~2 min

Prints one JSON line, and with `--markdown` the RESULTS.md section.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.zoho_books.connector import ZohoBooksConnector, ZohoBooksSettings
from connectors.zoho_books.settings import DEFAULT_PAYMENT_DETAIL_SAMPLE, REQUESTS_PER_MINUTE
from models.landing import LandingZone
from models.warehouse import Warehouse
from pipelines.sync import normalize, sync_connection
from sandbox.generator import generate_ledger
from sandbox.ledger import Ledger
from sandbox.server import SandboxServer
from sandbox.zoho_books.app import API, ZohoBooksApp, start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig

ORG = "ledgersync-budget"  # the account benchmarks.api_budget uses: the same generated ledger
CLIENT = OAuthClient()
UNLIMITED = 10_000_000
PAGE = 200
MINUTES_PER_DAY = 24 * 60
MIXES = (0.2, 0.3)  # multi-invoice shares to extrapolate to, beside the generator's


def _sync(server: SandboxServer[ZohoBooksApp], work: Path, payment_details: str) -> Warehouse:
    connector = ZohoBooksConnector(
        ZohoBooksSettings(
            connection_id=ORG,
            organization_id=server.app.organization_id(ORG),
            client_id=CLIENT.client_id,
            client_secret=CLIENT.client_secret,
            refresh_token=CLIENT.refresh_token,
            api_url=f"{server.url}{API}",
            accounts_url=server.url,
            requests_per_minute=UNLIMITED,
            payment_details=payment_details,  # type: ignore[arg-type]
        )
    )
    warehouse = Warehouse(work / payment_details / "warehouse.duckdb")
    try:
        sync_connection(
            connector, warehouse=warehouse, landing=LandingZone(work / payment_details / "landing")
        )
        normalize(
            warehouse,
            connection_id=ORG,
            source=connector.source,
            streams=connector.streams,
            mappings=connector.mappings,
        )
    finally:
        connector.close()
    return warehouse


def _requests(server: SandboxServer[ZohoBooksApp]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for record in server.log.records(path_prefix=API):
        path = record.path.removeprefix(API)
        counts["/customerpayments/{id}" if path.startswith("/customerpayments/") else path] += 1
    server.log.reset()
    return dict(sorted(counts.items()))


def _applications(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    with warehouse.connect(read_only=True) as conn:
        return conn.execute(
            "SELECT application_id, payment_id, invoice_id, amount_applied, applied_date "
            "FROM canonical.payment_applications ORDER BY ALL"
        ).fetchall()


def _mix(ledger: Ledger) -> dict[str, int]:
    """Served payments (Zoho serves no void ones) by how many invoices they apply to."""
    served = {p.payment_id for p in ledger.payments if p.status == "posted"}
    invoices = Counter(a.payment_id for a in ledger.applications if a.payment_id in served)
    counts = Counter(min(invoices.get(p, 0), 2) for p in served)
    return {"payments": len(served), "none": counts[0], "one": counts[1], "several": counts[2]}


def _days(payments: int, details_per_payment: float) -> float:
    lists = 2 * math.ceil(payments / PAGE) + math.ceil(payments // 10 / PAGE)
    return (lists + payments * details_per_payment) / REQUESTS_PER_MINUTE / MINUTES_PER_DAY


def measure(work: Path, size: dict[str, int], extrapolate: int) -> dict[str, Any]:
    ledger = generate_ledger(ORG, **size)
    config = ZohoConfig(
        organizations=(ORG,),
        client=CLIENT,
        ledgers={ORG: ledger},
        rate_limit=UNLIMITED,
        daily_cap=UNLIMITED,
    )
    shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {"size": size, "mix": _mix(ledger)}
    with start_zoho_sandbox(config) as server:
        runs = {}
        for mode in ("fetch_all", "derive"):
            started = time.perf_counter()
            warehouse = _sync(server, work, mode)
            runs[mode] = {"seconds": time.perf_counter() - started, "requests": _requests(server)}
            runs[mode]["applications"] = _applications(warehouse)
    if runs["derive"].pop("applications") != runs["fetch_all"].pop("applications"):
        raise SystemExit("derived applications differ from the fetched ones")
    mix = result["mix"]
    for run in runs.values():
        details = run["requests"].get("/customerpayments/{id}", 0)
        run["details_per_payment"] = details / mix["payments"]
        run["days_at_limit"] = _days(extrapolate, run["details_per_payment"])
    derived = runs["derive"]
    # Multi-invoice payments always cost a request; what the others cost, per payment:
    others = (derived["requests"]["/customerpayments/{id}"] - mix["several"]) / (
        mix["payments"] - mix["several"]
    )
    share = mix["several"] / mix["payments"]
    result |= {
        "runs": runs,
        "multi_invoice_share": share,
        "single_or_none_detail_ratio": others,
        "sample_share": DEFAULT_PAYMENT_DETAIL_SAMPLE,
        "extrapolated_payments": extrapolate,
        "mixes": {
            f"{s:.2f}": {
                "details_per_payment": s + (1 - s) * others,
                "days_at_limit": _days(extrapolate, s + (1 - s) * others),
            }
            for s in (share, *MIXES)
        },
    }
    return result


def markdown(result: dict[str, Any]) -> str:
    mix, runs, n = result["mix"], result["runs"], result["extrapolated_payments"]
    derive, fetch_all = runs["derive"], runs["fetch_all"]
    rows = [
        "| multi-invoice share | detail requests per payment | 1M-payment first sync at 100/min |",
        "|---|---|---|",
    ]
    for share, figures in result["mixes"].items():
        label = f"{Decimal(share) * 100:.0f}%" + (
            " (generator)" if float(share) == result["multi_invoice_share"] else ""
        )
        rows.append(
            f"| {label} | {figures['details_per_payment']:.3f} | "
            f"{figures['days_at_limit']:.2f} days |"
        )
    return "\n".join(
        [
            "## Zoho payment details derived from the list",
            "",
            f"`python -m benchmarks.zoho_details` on a generated ledger of "
            f"{result['size']['payments']:,} payments ({mix['payments']:,} served), "
            f"{result['size']['invoices']:,} invoices and {result['size']['customers']:,} "
            "customers, through the Zoho sandbox itself, rate limits lifted. Of the served "
            f"payments {mix['several']:,} ({result['multi_invoice_share']:.1%}) apply to several "
            f"invoices, {mix['one']:,} to one, {mix['none']:,} to none. Both first syncs give the "
            "same canonical payment applications (checked by the run).",
            "",
            "| payment_details | detail requests | per payment | "
            f"{n:,}-payment first sync at 100/min |",
            "|---|---|---|---|",
            f"| fetch_all | {fetch_all['requests']['/customerpayments/{id}']:,} | "
            f"{fetch_all['details_per_payment']:.3f} | {fetch_all['days_at_limit']:.2f} days |",
            f"| derive (sample {result['sample_share']:.0%}) | "
            f"{derive['requests']['/customerpayments/{id}']:,} | "
            f"{derive['details_per_payment']:.3f} | {derive['days_at_limit']:.2f} days |",
            "",
            "Extrapolated to other mixes (multi-invoice payments always fetch their detail; the "
            f"others cost {result['single_or_none_detail_ratio']:.3f} requests each, as measured):",
            "",
            *rows,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch directory (emptied)")
    parser.add_argument("--payments", type=int, default=20_000)
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--extrapolate-payments", type=int, default=1_000_000)
    parser.add_argument("--markdown", action="store_true", help="also print the RESULTS section")
    args = parser.parse_args()
    size = {"customers": args.customers, "invoices": args.invoices, "payments": args.payments}
    result = measure(args.work, size, args.extrapolate_payments)
    print(json.dumps(result))
    if args.markdown:
        print(markdown(result))


if __name__ == "__main__":
    main()
