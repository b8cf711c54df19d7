"""The Dagster UI, checked in a real browser: after `ledgersync demo` in a new project, `dg dev`
there (no $DAGSTER_HOME: the project's dagster.yaml and dagster_home) shows the asset graph, the
descriptions, the report preview and the demo's materializations. Screenshots are kept in the
test's temporary directory."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest

from pipelines.instance import LOCAL_HOME

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass(frozen=True)
class DagsterUI:
    url: str
    reports_run_id: str  # the demo's run that materialized the reports
    screenshots: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dagster_ui(tmp_path: Path) -> Iterator[DagsterUI]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (.ci/run installs it)")
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "dagster.yaml", project / "dagster.yaml")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    demo = subprocess.run(
        [str(BIN / "ledgersync"), "demo", "--as-of", "2026-10-31"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    with dg.DagsterInstance.from_config(str(project / LOCAL_HOME)) as instance:
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["reports", "invoice_balances"])
        )
        assert event is not None
        run_id = event.run_id

    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "dg"), "dev", "-w", str(ROOT / "workspace.yaml"), "-p", str(port)],
        cwd=project,
        env={**env, "LEDGERSYNC_CONFIG": str(project / "connections.yaml")},
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
            assert server.poll() is None and time.monotonic() < deadline, "dg dev did not start"
            time.sleep(0.5)
        yield DagsterUI(url, run_id, tmp_path / "screenshots")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: don't wait for a clean shutdown
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def _wait_for_text(page, text: str) -> None:
    """Wait until the page shows `text`, however the UI splits it into elements."""
    page.wait_for_function("text => document.body.innerText.includes(text)", arg=text)


def test_after_the_demo_the_ui_shows_its_materializations_and_checks(dagster_ui):
    from playwright.sync_api import sync_playwright

    url, shots = dagster_ui.url, dagster_ui.screenshots
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)

        page.goto(f"{url}/asset-groups")
        for group in ("ingest", "canonical", "reports"):
            _wait_for_text(page, group)
        skip = page.get_by_role("button", name="Skip")  # the community prompt, when shown
        if skip.is_visible():
            skip.click()
        page.screenshot(path=str(shots / "asset-graph.png"))

        # The demo's materialization: its run, its metadata, its checks.
        page.goto(f"{url}/assets/reports/invoice_balances")
        for text in (
            "One row per invoice as of a date",
            "Latest materialization",
            "largest_open_balances",
        ):
            _wait_for_text(page, text)
        page.screenshot(path=str(shots / "invoice-balances.png"), full_page=True)
        page.goto(f"{url}/assets/reports/invoice_balances?view=events")
        _wait_for_text(page, f"Materialized in run {dagster_ui.reports_run_id[:8]}")

        page.goto(f"{url}/assets/reports/reconciliation_exceptions?view=checks")
        _wait_for_text(page, "exceptions_within_threshold")
        _wait_for_text(page, "Passed")

        page.goto(f"{url}/assets/zoho_books/invoices")
        _wait_for_text(page, "invoices records as received, one row per record")
        browser.close()
    assert (shots / "asset-graph.png").stat().st_size > 10_000
