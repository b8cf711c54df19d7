"""The connections file: the shipped defaults load, and every mistake points at its line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.shared_budget import PostgresBudget
from pipelines.config import (
    ConfigError,
    ConnectionConfig,
    LedgersyncConfig,
    load_config,
)
from pipelines.registry import SOURCES

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connections.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["connections.yaml", "connections.example.yaml"])
def test_shipped_files_load(name):
    config = load_config(ROOT / name)
    assert config.connections
    assert config.warehouse == ROOT / "data" / "ledgersync.duckdb"


def test_relative_paths_are_relative_to_the_file(tmp_path):
    path = _write(tmp_path, "warehouse: w/x.duckdb\nlanding: l\nconnections: []\n")
    config = load_config(path)
    assert (config.warehouse, config.landing) == (tmp_path / "w/x.duckdb", tmp_path / "l")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "connections:\n  - id: Bad Id\n    source: zoho_books\n    sandbox: embedded\n",
            ":2: connections.0.id: connection id 'Bad Id' must be 1-63 lowercase letters",
        ),
        (
            "connections:\n  - id: a\n    source: zoho_books\n    sandbox: embedded\n"
            "    page_size: 500\n",
            ":5: connections.0.page_size: Input should be less than or equal to 200",
        ),
        (
            "connections:\n  - id: a\n    source: zoho_books\n    sandbox: embedded\n"
            "    colour: blue\n",
            ":5: connections.0.colour: Extra inputs are not permitted",
        ),
        (
            "connections:\n  - id: a\n    source: zoho_books\n",
            ":2: connections.0: organization_id is required for a real Zoho account",
        ),
        (
            "connections:\n  - id: a\n    source: zoho_books\n    sandbox: embedded\n"
            "  - id: a\n    source: zoho_books\n    sandbox: embedded\n",
            ":2: connections: connection id 'a' is used twice (entries 1 and 2)",
        ),
        (
            "connections:\n  - id: a\n    source: quickbooks\n",
            ":3: connections.0.source: Input tag 'quickbooks' found using 'source' does not match",
        ),
        (
            "connections:\n  - id: a\n    source: carbon\n    sandbox: embedded\n"
            "    max_record_bytes: 100\n",
            ":5: connections.0.max_record_bytes: Input should be greater than or equal to 1024",
        ),
        (
            "connections:\n  - id: a\n    source: simpro\n    sandbox: embedded\n"
            "    stream_deadline_s: 0\n",
            ":5: connections.0.stream_deadline_s: Input should be greater than 0",
        ),
        (
            "connections:\n  - id: a\n    source: zoho_books\n    sandbox: embedded\n"
            "    streams_side_by_side: sometimes\n",
            ":5: connections.0.streams_side_by_side: Input should be a valid boolean",
        ),
        (
            "connections:\n  - id: a\n    source: carbon\n    sandbox: embedded\n"
            "    timezone: America\n",
            ":5: connections.0.timezone: 'America' is not an IANA time zone name",
        ),
    ],
    ids=[
        "bad-id",
        "page-size",
        "unknown-key",
        "no-organization",
        "duplicate-id",
        "no-such-source",
        "max-record-bytes",
        "stream-deadline",
        "streams-side-by-side",
        "time-zone-folder",
    ],
)
def test_mistakes_name_file_line_and_field(tmp_path, text, expected):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert f"{path}{expected}" in str(error.value)


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="LEDGERSYNC_CONFIG"):
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "connections: [\n"))


def test_a_sandbox_ledger_is_relative_to_the_file_and_for_embedded_sandboxes_only(tmp_path):
    entry = "connections:\n  - id: a\n    source: zoho_books\n    sandbox_ledger: l/x.yaml\n"
    config = load_config(
        _write(
            tmp_path,
            entry.replace("    sandbox_ledger", "    sandbox: embedded\n    sandbox_ledger"),
        )
    )
    assert config.connections[0].sandbox_ledger == tmp_path / "l" / "x.yaml"
    with pytest.raises(ConfigError, match="sandbox_ledger needs sandbox: embedded"):
        load_config(_write(tmp_path, entry + "    organization_id: '1'\n"))


def test_readme_documents_every_setting_in_its_source_row():
    """Each key of the connections file is in README's settings table; a source's own keys in
    rows that name that source."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### Connection settings") :]
    table = table[: table.index("\n\n", table.index("| key |"))]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| `")]

    def keys(rows: list[list[str]]) -> set[str]:
        return {key for row in rows for key in re.findall(r"`(\w+)`", row[0])}

    assert set(LedgersyncConfig.model_fields) <= keys(rows)
    common = set(ConnectionConfig.model_fields)
    assert common <= keys(rows)
    for spec in SOURCES.values():
        own = set(spec.config.model_fields) - common
        assert own <= keys([row for row in rows if row[1].startswith(f"{spec.title}:")]), spec.title


def test_a_rate_budget_in_postgres_is_a_store_and_holds_no_password(tmp_path):
    url = "postgresql://ledgersync@db.internal:5432/ledgersync"
    config = load_config(_write(tmp_path, f"rate_budget:\n  postgres: {url}\nconnections: []\n"))
    assert config.budget_store() == PostgresBudget(url)
    assert load_config(_write(tmp_path, "connections: []\n")).budget_store() is None
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, "rate_budget:\n  postgres: postgresql://u:secret@h/db\n"))
    assert ":2: rate_budget.postgres: the URL must not hold a password" in str(error.value)
