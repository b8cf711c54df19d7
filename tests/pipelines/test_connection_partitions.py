"""Connections are dynamic partitions: the `connection_partitions` sensor makes each source's keys
the connections file's ids (a connection added there syncs without a reload), and the
`connection_syncs` sensor requests each connection's sync at its own cron and time zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.config import load_config
from pipelines.connection_partitions import register_connections
from pipelines.connection_sensors import PARTITIONS_SENSOR, SYNCS_SENSOR, due_syncs
from pipelines.definitions import build_definitions
from sandbox.zoho_books.testing import zoho_connection


def _embedded(connection_id: str, source: str, **extra: object) -> dict[str, object]:
    return {"id": connection_id, "source": source, "sandbox": "embedded", **extra}


def _write(path: Path, connections: list[dict[str, object]]) -> Path:
    path.write_text(yaml.safe_dump({"connections": connections}))
    return path


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _tick(
    definitions: dg.Definitions, name: str, instance: dg.DagsterInstance, cursor: str | None = None
) -> dg.SensorResult | dg.SkipReason:
    """One evaluation of the sensor; its partition requests applied as the daemon applies them."""
    sensor = definitions.resolve_sensor_def(name)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, repository_def=definitions.get_repository_def()
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason), result
    for request in getattr(result, "dynamic_partitions_requests", None) or ():
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return result


def test_the_partitions_follow_the_connections_file(tmp_path, instance):
    path = _write(
        tmp_path / "connections.yaml",
        [_embedded("zoho-one", "zoho_books"), _embedded("carbon-one", "carbon")],
    )
    definitions = build_definitions(path)

    _tick(definitions, PARTITIONS_SENSOR, instance)
    assert instance.get_dynamic_partitions("zoho_books_connections") == ["zoho-one"]
    assert instance.get_dynamic_partitions("carbon_connections") == ["carbon-one"]

    _write(path, [_embedded("zoho-one", "zoho_books"), _embedded("zoho-two", "zoho_books")])
    _tick(definitions, PARTITIONS_SENSOR, instance)
    assert instance.get_dynamic_partitions("zoho_books_connections") == ["zoho-one", "zoho-two"]
    assert instance.get_dynamic_partitions("carbon_connections") == []

    assert isinstance(_tick(definitions, PARTITIONS_SENSOR, instance), dg.SkipReason)


def test_a_connection_added_to_the_file_syncs_without_a_reload(
    zoho_sandbox, make_project, instance
):
    server = zoho_sandbox(
        organizations=("first-books", "added-books"),
        ledger_size={"customers": 3, "invoices": 6, "payments": 4},
    )
    project = make_project([zoho_connection(server, "first-books")])
    definitions = build_definitions(project.config_path)  # loaded once, before the edit
    _tick(definitions, PARTITIONS_SENSOR, instance)
    config = yaml.safe_load(project.config_path.read_text())
    config["connections"].append(zoho_connection(server, "added-books"))
    project.config_path.write_text(yaml.safe_dump(config))

    _tick(definitions, PARTITIONS_SENSOR, instance)
    result = definitions.resolve_job_def("sync_zoho_books").execute_in_process(
        partition_key="added-books", instance=instance
    )

    assert result.success
    assert project.query("SELECT DISTINCT connection_id FROM sync.batches") == [("added-books",)]


def test_each_connection_is_due_at_its_own_cron_in_its_own_time_zone(tmp_path):
    config = load_config(
        _write(
            tmp_path / "connections.yaml",
            [
                _embedded("hourly", "zoho_books", sync_cron="0 * * * *"),
                _embedded(
                    "sydney-9am", "carbon", sync_cron="0 9 * * *", timezone="Australia/Sydney"
                ),
                _embedded("utc-9am", "simpro", sync_cron="0 9 * * *"),
            ],
        )
    )
    # 09:00 in Sydney (UTC+11 in December) is 22:00 UTC the day before.
    since = datetime(2026, 12, 5, 21, 50, tzinfo=UTC)
    due = {c.id: tick for c, tick in due_syncs(config, since, since + timedelta(minutes=20))}

    assert set(due) == {"hourly", "sydney-9am"}
    assert due["sydney-9am"] == datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
    assert due["hourly"] == datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
    # The tick at the end of one evaluation's interval is the next evaluation's.
    until = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
    assert [c.id for c, _ in due_syncs(config, since, until)] == []


def test_the_syncs_sensor_requests_each_registered_connection_once_per_tick(tmp_path, instance):
    path = _write(
        tmp_path / "connections.yaml",
        [_embedded("zoho-one", "zoho_books"), _embedded("zoho-two", "zoho_books")],
    )
    definitions = build_definitions(path)
    config = load_config(path)
    started = _tick(definitions, SYNCS_SENSOR, instance)
    assert isinstance(started, dg.SensorResult) and not started.run_requests

    register_connections(
        instance, config.model_copy(update={"connections": config.connections[:1]})
    )
    a_tick_ago = (datetime.now(UTC) - timedelta(hours=7)).isoformat()  # default: every 6 hours
    result = _tick(definitions, SYNCS_SENSOR, instance, cursor=a_tick_ago)

    assert isinstance(result, dg.SensorResult) and result.run_requests is not None
    [request] = result.run_requests  # zoho-two is not a partition yet
    assert request.partition_key == "zoho-one" and request.job_name == "sync_zoho_books"
    assert request.run_key is not None and request.run_key.startswith("zoho-one@")
    assert result.cursor is not None and result.cursor > a_tick_ago
