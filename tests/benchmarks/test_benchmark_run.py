"""The benchmark's code on a tiny ledger: every client ends with the right data. No timing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import httpx
import pytest

from benchmarks import latency
from benchmarks.dataset import PAGE_SIZE, Dataset, ensure_dataset
from benchmarks.measure import page_server, run_child
from benchmarks.results import NOTES_MARKER, _latency_targets, write_results
from benchmarks.run import Options, run
from sandbox.zoho_books.app import start_zoho_sandbox
from sandbox.zoho_books.config import ZohoConfig
from sandbox.zoho_books.testing import ZOHO_CLIENT

SIZE = {"customers": 20, "invoices": 300, "payments": 300}


@pytest.mark.slow
def test_a_tiny_run_measures_every_client_on_the_same_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One source of each paging kind: with 100 ms a response every source adds seconds.
    monkeypatch.setattr(latency, "SOURCES", ("simpro", "zoho_books"))
    results_path = tmp_path / "RESULTS.md"
    results_path.write_text(f"old figures\n{NOTES_MARKER}\nWhy a target is missed.\n")
    results = run(
        Options(
            **SIZE,
            details=50,
            scaling=False,  # the same client on a tenth of the ledger: nothing new to check
            dlt=False,
            rate_limit=False,
            out=tmp_path / "out",
            results=results_path,
        )
    )

    served = results["dataset"]["records"]
    canonical = results["ledgersync"]["result"]["canonical"]
    assert {
        table: c["loaded"] for table, c in canonical.items() if table != "payment_applications"
    } == {
        "customers": served["contacts"],
        "invoices": served["invoices"],
        "payments": served["customerpayments"],
    }
    assert all(c["rejected"] == 0 for c in canonical.values())
    assert results["ledgersync"]["result"]["streams"]["customerpayment_details"]["requests"] == 50
    limit = results["limit"]["result"]
    assert limit["records"] == limit["stored"] == sum(served.values())
    scale = results["reports_at_scale"]["result"]
    assert scale["applications"] == 2 * SIZE["payments"]
    changed = scale["incremental"]
    assert changed["changed_percent"] == 1.0 and changed["changed_documents"] > 0
    assert set(changed["reports"]) == set(scale["reports"])
    assert results["incremental"]["result"]["no_change_sync"] == {
        "/contacts": 1,
        "/customerpayments": 1,
        "/invoices": 1,
        "/oauth/v2/token": 1,
    }
    assert results["incremental"]["result"]["renormalize"] == {}
    zoho = results["zoho_details"]["result"]
    assert zoho["size"] == SIZE  # no larger than the run's ledger
    assert 0 < zoho["runs"]["derive"]["details_per_payment"] < 1
    assert zoho["runs"]["fetch_all"]["details_per_payment"] > 0.9
    sources = results["latency"]["sources"]
    assert set(sources) == {"simpro", "zoho_books"}
    for source, runs in sources.items():
        listed = runs["sequential"]["result"]["records"]
        assert listed > 0, source
        assert [run["result"]["records"] for run in runs["ledgersync"]] == [listed] * len(
            runs["ledgersync"]
        ), source
        assert "at_limit" not in runs  # a rate-limit measurement: skipped with that part

    text = results_path.read_text()
    assert "## Targets" in text and "old figures" not in text
    assert "## With a 100 ms round trip" in text
    assert "| reports after 1% of the documents change < 0.5 s | " in text
    assert "| Zoho first sync of 1,000,000 payments at 100 requests a minute < 1 day | " in text
    assert "## Zoho payment details derived from the list" in text
    assert text.endswith(f"{NOTES_MARKER}\nWhy a target is missed.\n")
    write_results(results, results_path)  # a second run keeps the notes too
    assert results_path.read_text().endswith("Why a target is missed.\n")
    assert (
        json.loads((tmp_path / "out" / "results.json").read_text())["dataset"] == results["dataset"]
    )


def test_pre_rendered_pages_are_what_the_sandbox_serves(tmp_path: Path) -> None:
    dataset = ensure_dataset(tmp_path / "ledger", **SIZE)
    config = ZohoConfig(
        organizations=(dataset.account,), client=ZOHO_CLIENT, ledger_size=SIZE, daily_cap=10**6
    )
    # A loaded machine may take seconds to render a page: no timeout races the comparison.
    with start_zoho_sandbox(config) as sandbox, httpx.Client(timeout=None) as http:
        token = http.post(
            f"{sandbox.url}/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": ZOHO_CLIENT.client_id,
                "client_secret": ZOHO_CLIENT.client_secret,
                "refresh_token": ZOHO_CLIENT.refresh_token,
            },
        ).json()["access_token"]
        for listing, pages in dataset.pages.items():
            for number in range(1, pages + 1):
                served = http.get(
                    f"{sandbox.url}/books/v3/{listing}",
                    params={
                        "organization_id": dataset.organization_id,
                        "page": number,
                        "per_page": PAGE_SIZE,
                    },
                    headers={"Authorization": f"Zoho-oauthtoken {token}"},
                )
                assert served.content == dataset.page_path(listing, number).read_bytes()


def test_a_dataset_is_built_once(tmp_path: Path) -> None:
    first = ensure_dataset(tmp_path / "ledger", **SIZE)
    page = first.page_path("invoices", 1)
    page.write_bytes(b"marker")
    assert ensure_dataset(tmp_path / "ledger", **SIZE) == first
    assert page.read_bytes() == b"marker"


@pytest.mark.skipif(importlib.util.find_spec("dlt") is None, reason="dlt is the `bench` extra")
def test_dlt_merges_every_record(tmp_path: Path) -> None:
    dataset: Dataset = ensure_dataset(tmp_path / "ledger", **SIZE)
    with page_server(dataset.directory) as server:
        child = run_child(
            "dlt",
            "benchmarks.dlt_client",
            ["--url", server.url, "--dataset", str(dataset.directory), "--work", str(tmp_path)],
            log_dir=tmp_path / "logs",
        )
    assert child.result["records"] == dataset.list_records
    assert child.result["disposition"] == "merge"


def test_latency_figures_come_from_what_the_sandbox_saw() -> None:
    # Three requests arrive within 100 ms of one another: at least three were in flight at once.
    assert latency.peak_in_flight([0.0, 0.05, 0.08, 0.2, 0.5], 0.1) == 3
    streams = {"lists": {"pages": 17}, "one": {"pages": 1}}
    assert latency.latency_floor(streams, 8, 0.1) == pytest.approx((1 + 2 + 1) * 0.1)
    assert latency.latency_floor(streams, None, 0.1) == pytest.approx(18 * 0.1)
    # Simpro's 10 a second: 21 requests need at least 2 s; they took 2.5 s, none refused.
    arrivals = [[i * 0.125, 200] for i in range(21)] + [[1.0, 429]]
    figures = {
        "sources": {
            "simpro": {
                "at_limit": {
                    "server": {"requests": arrivals},
                    "result": {"records": 5_000, "seconds": 2.5},
                }
            }
        }
    }
    [row] = latency.at_limit_rows(figures)
    assert (row.requests, row.throttled) == (21, 1)
    assert row.efficiency == pytest.approx(2.0 / 2.5)
    assert row.rate == 2_000 and row.ceiling == 2_500 and not row.scaled


def test_the_latency_target_is_judged_at_the_default_pages_in_flight(monkeypatch) -> None:
    default, most = latency.IN_FLIGHT["carbon"]

    def carbon(in_flight: int, rate: float) -> latency.SourceRow:
        return latency.SourceRow(
            "carbon", 200, 1_000.0, 200, in_flight, rate, in_flight, 1.0, 1.0, 1.0, 0.0, 0.0
        )

    rows = [carbon(default, 4_800.0), carbon(most, 5_400.0)]
    monkeypatch.setattr(latency, "ratio_rows", lambda figures: rows)
    [(target, measured, met)] = _latency_targets({"latency_ms": 100})
    assert "at the default pages in flight" in target
    assert measured.startswith(f"4.8× (4,800 vs 1,000 records/s, 200 a page, {default} in flight")
    assert f"5.4× with {most} in flight (the most)" in measured
    assert met is False
