"""The production instance (deploy/dagster.yaml) stores a real sync's run, events and asset
materializations in PostgreSQL. Needs the server on 127.0.0.1:5432, database `test`."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from pipelines.runner import run_syncs
from sandbox.zoho_books.testing import zoho_connection

ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": "5432", "dbname": "test", "user": "postgres"}

pytestmark = pytest.mark.postgres


def _postgres_reachable() -> bool:
    try:
        psycopg2.connect(connect_timeout=3, **PG).close()
    except psycopg2.OperationalError:
        return False
    return True


@pytest.fixture
def production_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not _postgres_reachable():
        pytest.skip(
            "PostgreSQL is not reachable on 127.0.0.1:5432 (database `test`, trust auth): the "
            "production-instance test needs it (CI has it)"
        )
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in {
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": PG["port"],
        "DAGSTER_PG_DB": PG["dbname"],
        "DAGSTER_PG_USERNAME": PG["user"],
        "DAGSTER_PG_PASSWORD": "",
    }.items():
        monkeypatch.setenv(name, value)
    return home


def test_sync_is_recorded_in_postgres(production_home, zoho_sandbox, make_project):
    server = zoho_sandbox(
        organizations=("pg-books",), ledger_size={"customers": 5, "invoices": 20, "payments": 15}
    )
    project = make_project([zoho_connection(server, "pg-books")])

    [outcome] = run_syncs(project.config, project.config_path)

    assert outcome.success, outcome.error
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        run = instance.get_run_by_id(outcome.run_id)
        assert run is not None and run.is_success
        assert run.tags["dagster/partition"] == "pg-books"
        # A run whose worker died is failed and launched again; one that failed in its code not.
        assert instance.run_monitoring_enabled
        assert (instance.run_retries_enabled, instance.run_retries_max_retries) == (True, 2)
        assert not instance.run_retries_retry_on_asset_or_op_failure
    with psycopg2.connect(**PG) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (outcome.run_id,))
        assert cursor.fetchone() == ("SUCCESS",)
        cursor.execute(
            "SELECT asset_key FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type = 'ASSET_MATERIALIZATION' ORDER BY asset_key",
            (outcome.run_id,),
        )
        keys = [row[0] for row in cursor.fetchall()]
    assert keys == sorted(
        dg.AssetKey(["zoho_books", stream]).to_string()
        for stream in ("contacts", "customerpayment_details", "customerpayments", "invoices")
    )
