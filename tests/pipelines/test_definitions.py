"""The code location loads from the shipped connections file, and what users see is labelled."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipelines.config import load_config
from pipelines.definitions import build_definitions, defs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def definitions() -> dg.Definitions:
    path = ROOT / "connections.yaml"
    return build_definitions(load_config(path), str(path))


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
        job = definitions.resolve_job_def(f"sync_{source}")
        keys = job.partitions_def.get_partition_keys()
        assert keys == [c.id for c in config.of_source(source)]


def test_each_connection_has_its_own_schedule(definitions):
    config = load_config(ROOT / "connections.yaml")
    names = {schedule.name for schedule in definitions.schedules}
    assert {f"sync_{c.id.replace('-', '_')}" for c in config.connections} <= names
    assert "daily_reports" in names
    assert definitions.resolve_job_def("refresh_reports")


def test_checks_cover_keys_and_quarantine(definitions):
    names = {key.name for key in definitions.resolve_asset_graph().asset_check_keys}
    assert {"invoices_keys_unique", "payments_keys_unique", "no_quarantined_records"} <= names
