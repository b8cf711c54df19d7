"""The code location loads the defs folder from the shipped connections file, what users see is
labelled, and a file `dg scaffold defs` writes into the folder is part of the location."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.config import load_config
from pipelines.connection_sensors import PARTITIONS_SENSOR, SYNCS_SENSOR
from pipelines.definitions import build_definitions, defs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def definitions() -> dg.Definitions:
    return build_definitions(ROOT / "connections.yaml")


def test_code_location_loads_from_the_environment(monkeypatch):
    monkeypatch.setenv("LEDGERSYNC_CONFIG", str(ROOT / "connections.yaml"))
    dg.Definitions.validate_loadable(defs())


def test_every_asset_is_described_owned_grouped_and_kinded(definitions):
    specs = list(definitions.resolve_all_asset_specs())
    assert specs
    for spec in specs:
        label = spec.key.to_user_string()
        assert spec.description, label
        assert spec.owners, label
        assert spec.group_name in {"ingest", "canonical", "reports", "report_history"}, label
        assert spec.kinds, label


def test_ingest_is_partitioned_by_connection(definitions):
    config = load_config(ROOT / "connections.yaml")
    for source in {c.source for c in config.connections}:
        partitions = definitions.resolve_job_def(f"sync_{source}").partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition)
        assert partitions.name == f"{source}_connections"


def test_connections_sync_through_sensors_not_a_schedule_each(definitions):
    sensors = {sensor.name: sensor for sensor in definitions.sensors}
    assert sensors[PARTITIONS_SENSOR].default_status == dg.DefaultSensorStatus.RUNNING
    assert sensors[SYNCS_SENSOR].default_status == dg.DefaultSensorStatus.STOPPED
    assert "API quotas" in (sensors[SYNCS_SENSOR].description or "")
    names = {schedule.name for schedule in definitions.schedules}
    assert names == {"daily_reports", "hourly_connection_health", "daily_aging_history"}
    assert definitions.resolve_job_def("refresh_reports")


def test_checks_cover_keys_and_quarantine(definitions):
    names = {key.name for key in definitions.resolve_asset_graph().asset_check_keys}
    assert {"invoices_keys_unique", "payments_keys_unique", "no_quarantined_records"} <= names


def test_dg_list_defs_shows_what_dg_scaffold_adds(tmp_path):
    """In a copy of the project: `dg scaffold defs dagster.asset` writes a file into
    pipelines/defs/, and `dg list defs` lists its asset beside everything else."""
    for name in ("pyproject.toml", "connections.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines", ignore=_caches)
    (tmp_path / ".venv").symlink_to(sys.prefix)
    environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    environment |= {
        "PYTHONPATH": str(tmp_path),  # the copy's pipelines before the installed one
        "LEDGERSYNC_CONFIG": str(tmp_path / "connections.yaml"),
        "DAGSTER_HOME": str(_home(tmp_path)),
    }

    def dg_cli(*arguments: str) -> str:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("dg")), *arguments],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    dg_cli("scaffold", "defs", "dagster.asset", "ledger_notes.py")
    assert (tmp_path / "pipelines" / "defs" / "ledger_notes.py").exists()
    listed = json.loads(dg_cli("list", "defs", "--json"))

    assets = {asset["asset_key"] for asset in listed["assets"]}
    assert "ledger_notes" in assets
    assert {"zoho_books/invoices", "canonical/invoices", "reports/ar_aging"} <= assets
    assert {s["name"] for s in listed["sensors"]} == {PARTITIONS_SENSOR, SYNCS_SENSOR}


def _caches(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home
