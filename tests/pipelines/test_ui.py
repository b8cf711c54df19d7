"""The Dagster UI, checked in a real browser: `dagster dev` on the sandbox configuration, after
the demo has materialized everything, shows the asset graph, the descriptions and the report
preview. Screenshots are kept in test-artifacts/ui/."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from pipelines.config import load_config
from pipelines.runner import run_reports, run_syncs

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dagster_ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (.ci/run installs it)")
    home = tmp_path / "dagster_home"
    home.mkdir()
    config_path = tmp_path / "connections.yaml"
    shutil.copy(ROOT / "connections.yaml", config_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("LEDGERSYNC_CONFIG", str(config_path))
    config = load_config(config_path)
    assert all(o.success for o in run_syncs(config, config_path))
    assert run_reports(config, config_path, as_of=date(2026, 10, 31)).success

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            str(ROOT / "workspace.yaml"),
            "-p",
            str(port),
        ],
        cwd=tmp_path,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (
                "dagster dev did not start"
            )
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _wait_for_text(page, text: str) -> None:
    """Wait until the page shows `text`, however the UI splits it into elements."""
    page.wait_for_function("text => document.body.innerText.includes(text)", arg=text)


def test_asset_graph_descriptions_and_report_preview_render(dagster_ui):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)

        page.goto(f"{dagster_ui}/asset-groups")
        page.get_by_role("button", name="Skip").click()  # the one-time community prompt
        for group in ("ingest", "canonical", "reports"):
            _wait_for_text(page, group)
        page.screenshot(path=str(ARTIFACTS / "asset-graph.png"))

        page.goto(f"{dagster_ui}/assets/reports/invoice_balances")
        for text in ("One row per invoice as of a date", "largest_open_balances"):
            _wait_for_text(page, text)
        page.screenshot(path=str(ARTIFACTS / "invoice-balances.png"), full_page=True)

        page.goto(f"{dagster_ui}/assets/zoho_books/invoices")
        _wait_for_text(page, "invoices records as received, one row per record")
        browser.close()
    assert (ARTIFACTS / "asset-graph.png").stat().st_size > 10_000
