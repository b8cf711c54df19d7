"""The command line as a user types it: the `ledgersync` entry point in a fresh directory. Each
mistake a user can make ends in one message naming what, where and the fix, with the documented
exit code (2 for the command line or the connections file, 1 for a failed run) and no
traceback."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import httpx
import pytest
import yaml

from pipelines.instance import LOCAL_HOME
from pipelines.project import STARTER
from pipelines.runner import run_syncs
from sandbox.business_central.testing import BC_APP, bc_connection
from sandbox.zoho_books.testing import ZOHO_CLIENT, zoho_connection

ROOT = Path(__file__).resolve().parents[2]
LEDGERSYNC = Path(sys.executable).with_name("ledgersync")
ORG = "cli-books"
SMALL = {"customers": 4, "invoices": 12, "payments": 10}


def ledgersync(
    *args: str, cwd: Path, env: dict[str, str] | None = None, pythonpath: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """`ledgersync ARGS` in cwd, importing ledgersync from pythonpath."""
    environment = {**os.environ, "PYTHONPATH": str(pythonpath), **(env or {})}
    return subprocess.run(
        [str(LEDGERSYNC), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_one_error(result: subprocess.CompletedProcess[str], code: int, *parts: str) -> str:
    """The command failed with `code` and one error message holding every part."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    message = " ".join(result.stderr.split())  # rich wraps long lines
    assert message.startswith("error: "), result.stderr
    for part in parts:
        assert part in message, message
    return message


def _installed_copy(tmp_path: Path) -> Path:
    """ledgersync's packages as the wheel ships them (pyproject's wheel target), outside the
    repository: what `pip install` puts in site-packages."""
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    site = tmp_path / "site-packages"
    for package in wheel["targets"]["wheel"]["packages"]:
        shutil.copytree(
            ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return site


@pytest.fixture
def zoho_project(zoho_sandbox, make_project):
    server = zoho_sandbox(organizations=(ORG,), ledger_size=SMALL)
    return make_project([zoho_connection(server, ORG)])


def test_demo_outside_the_repository_runs_on_the_built_in_sandboxes_and_records_its_runs(
    tmp_path,
):
    """After `pip install`, in an empty directory: the demo writes the starter connections file,
    syncs, and records runs, materializations and passing checks in ./dagster_home, closing
    every Dagster instance it opened."""
    site = _installed_copy(tmp_path)
    project = tmp_path / "new-user"
    project.mkdir()

    result = ledgersync(
        "demo",
        "--as-of",
        "2026-10-31",
        cwd=project,
        pythonpath=site,
        env={"PYTHONWARNINGS": "always::ResourceWarning"},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrote the built-in sandbox configuration to connections.yaml" in result.stdout
    assert (project / "connections.yaml").read_text() == (ROOT / "pipelines" / STARTER).read_text()
    assert "Reconciliation exceptions: balance_mismatch 5" in result.stdout
    assert "ResourceWarning" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    with dg.DagsterInstance.from_config(str(project / LOCAL_HOME)) as instance:
        runs = instance.get_runs()
        assert {run.job_name for run in runs} >= {"sync_zoho_books", "refresh_reports"}
        assert all(run.is_success for run in runs)
        materialized = instance.get_latest_materialization_event(
            dg.AssetKey(["reports", "invoice_balances"])
        )
        assert materialized is not None
        check = instance.get_latest_asset_check_evaluation_record(
            dg.AssetCheckKey(
                dg.AssetKey(["reports", "reconciliation_exceptions"]),
                "exceptions_within_threshold",
            )
        )
        assert check is not None
        evaluation = check.evaluation
        assert evaluation is not None and evaluation.passed  # the starter's thresholds


def test_runs_go_to_dagster_home_when_it_is_set(zoho_project, tmp_path):
    home = tmp_path / "shared-home"
    home.mkdir()
    path = str(zoho_project.config_path)

    result = ledgersync("sync", "--config", path, cwd=tmp_path, env={"DAGSTER_HOME": str(home)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert not (zoho_project.config_path.parent / LOCAL_HOME).exists()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert {run.job_name for run in instance.get_runs()} == {
            "sync_zoho_books",
            "refresh_reports",
        }


def test_init_writes_the_starter_once(tmp_path):
    site = _installed_copy(tmp_path)
    first = ledgersync("init", cwd=tmp_path, pythonpath=site)
    assert first.returncode == 0, first.stderr
    assert "Wrote connections.yaml" in first.stdout
    written = (tmp_path / "connections.yaml").read_text()
    assert written == (ROOT / "pipelines" / STARTER).read_text()
    # The repository's own connections.yaml is exactly the starter.
    assert written == (ROOT / "connections.yaml").read_text()

    again = ledgersync("init", cwd=tmp_path, pythonpath=site)
    assert_one_error(again, 2, "connections.yaml already exists. Fix: edit it")
    assert (tmp_path / "connections.yaml").read_text() == written


def test_a_missing_connections_file_names_init(tmp_path):
    result = ledgersync("sync", cwd=tmp_path)
    assert_one_error(result, 2, "connections.yaml: no connections file", "ledgersync init")


def test_sandbox_serve_on_a_taken_port_says_so_and_port_moves_every_sandbox(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ledgersync("sandbox", "serve", "--port", str(port), cwd=tmp_path)
    assert_one_error(
        result,
        2,
        f"the zoho_books sandbox cannot listen on port {port}",
        f"pass --port N to serve on ports N to N+{3}",
    )

    base = _free_ports(4)
    server = subprocess.Popen(
        [str(LEDGERSYNC), "sandbox", "serve", "--port", str(base)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in server.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("Serving until Ctrl-C"):
                break
        printed = "".join(lines)
        for offset, source in enumerate(("zoho_books", "business_central", "simpro", "carbon")):
            assert f"{source} on http://127.0.0.1:{base + offset}" in printed, printed
        assert httpx.get(f"http://127.0.0.1:{base + 1}/", timeout=10).status_code < 500
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr


def _free_ports(count: int) -> int:
    """A first port with count free ports from it."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        try:
            sockets = []
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no run of free ports")


@pytest.mark.parametrize("key", ["warehouse", "landing"])
def test_an_unwritable_warehouse_or_landing_path_names_the_setting(zoho_project, key):
    blocker = zoho_project.config_path.parent / "not-a-directory"
    blocker.write_text("a file where a directory should be\n")
    text = yaml.safe_load(zoho_project.config_path.read_text())
    text[key] = f"{blocker.name}/{key}"
    zoho_project.config_path.write_text(yaml.safe_dump(text))

    result = ledgersync("sync", "--config", str(zoho_project.config_path), cwd=blocker.parent)

    assert_one_error(
        result,
        2,
        f"{zoho_project.config_path}: {key}: cannot write",
        f"Fix: set `{key}:` to a path in a directory you can write",
    )
    assert len(result.stderr.strip().splitlines()) <= 3  # one message, however rich wraps it


def test_report_output_that_cannot_be_written_names_the_option(zoho_project, tmp_path):
    assert all(o.success for o in run_syncs(zoho_project.config, zoho_project.config_path))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = str(zoho_project.config_path)

    result = ledgersync(
        "report", "--config", path, "--format", "csv", "--output", f"{blocker}/out", cwd=tmp_path
    )

    assert_one_error(
        result, 2, f"--output {blocker}/out: cannot write there", "Fix: pass --output a directory"
    )


def test_report_on_a_warehouse_never_synced_says_what_is_missing(zoho_project, tmp_path):
    result = ledgersync("report", "--config", str(zoho_project.config_path), cwd=tmp_path)
    assert_one_error(result, 1, "has never been synced", "run `ledgersync sync`")


@pytest.mark.parametrize("command", ["sync", "check", "demo"])
def test_an_empty_connections_list_says_what_is_missing(tmp_path, command):
    path = tmp_path / "connections.yaml"
    path.write_text("connections: []\n")
    result = ledgersync(command, "--config", str(path), cwd=tmp_path)
    assert_one_error(result, 2, f"{path}: no connections", "Connecting real accounts")


def test_refused_credentials_name_their_variables_and_no_class_or_other_source(
    zoho_sandbox, bc_sandbox, make_project, tmp_path
):
    zoho = zoho_sandbox(organizations=(ORG,), ledger_size=SMALL)
    bc = bc_sandbox(companies=("cli-company",), ledger_size=SMALL)
    project = make_project(
        [
            zoho_connection(zoho, ORG, client_secret_env="WRONG_ZOHO_SECRET", max_attempts=1),
            bc_connection(bc, "cli-company", client_secret_env="WRONG_BC_SECRET", max_attempts=1),
        ]
    )
    env = {"WRONG_ZOHO_SECRET": "wrong-zoho-9c1", "WRONG_BC_SECRET": "wrong-bc-4e7"}
    path = str(project.config_path)

    synced = ledgersync("sync", "--config", path, cwd=tmp_path, env=env)
    checked = ledgersync("check", "--config", path, cwd=tmp_path, env=env)

    assert (synced.returncode, checked.returncode) == (1, 1)
    assert "Traceback" not in synced.stderr + checked.stderr, synced.stderr
    for output in (synced.stdout + synced.stderr, checked.stdout):
        text = " ".join(output.replace("│", " ").split())
        assert "check ZOHO_CLIENT_ID, WRONG_ZOHO_SECRET and ZOHO_REFRESH_TOKEN" in text, text
        assert "check BC_CLIENT_ID and WRONG_BC_SECRET" in text, text
        assert "Zoho" not in text[text.index("business_central connection") :], text
        assert "connectors.errors" not in text and "AuthenticationError" not in text, text
        for secret in (*env.values(), ZOHO_CLIENT.client_secret, BC_APP.client_secret):
            assert secret not in text


def test_schedules_lists_the_names_dagster_takes(tmp_path):
    result = ledgersync("schedules", "--config", str(ROOT / "connections.yaml"), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    listed = re.findall(r"^│ ([\w-]+)\s+│", result.stdout, re.M)
    from pipelines.config import load_config
    from pipelines.definitions import build_definitions

    definitions = build_definitions(ROOT / "connections.yaml")
    schedules = [s.name for s in definitions.get_repository_def().schedule_defs]
    connections = [c.id for c in load_config(ROOT / "connections.yaml").connections]
    assert "daily_reports" in listed and "zoho-acme-us" in listed, result.stdout
    assert sorted(listed) == sorted([*schedules, *connections])
    assert "dagster sensor start --location ledgersync connection_syncs" in " ".join(
        result.stdout.split()
    )
    # The README gives the names as they are.
    readme = (ROOT / "README.md").read_text()
    assert "`connection_syncs`" in readme and "ledgersync schedules" in readme


def test_dg_prints_no_virtual_environment_warning(tmp_path):
    """`.venv/bin/dg …` as the README writes it, without activating the environment."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / ".venv").symlink_to(sys.prefix)
    environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dg")), "list", "env"],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "virtual environment" not in result.stdout + result.stderr


def test_largest_balances_rank_within_one_currency_in_the_report_and_the_guide(
    zoho_sandbox, bc_sandbox, make_project, tmp_path
):
    """`ledgersync report` and the analyst guide's first question rank customers only against
    amounts in the same currency, say the rate used, and keep Business Central's customers (its
    local documents are at rate 1 to a known base)."""
    zoho = zoho_sandbox(organizations=(ORG,), ledger_size=SMALL)
    bc = bc_sandbox(companies=("cli-company",), ledger_size=SMALL)
    project = make_project([zoho_connection(zoho, ORG), bc_connection(bc, "cli-company")])
    assert all(o.success for o in run_syncs(project.config, project.config_path))
    as_of = date(2026, 10, 31).isoformat()

    result = ledgersync(
        "report", "--config", str(project.config_path), "--as-of", as_of, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    largest = result.stdout[
        result.stdout.index("Largest customer balances in each currency") : result.stdout.index(
            "Ranked by net balance in one currency"
        )
    ]
    rows: list[list[str]] = []
    for line in largest.splitlines():
        if line.startswith("│") and line.count("│") == 10:
            cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
            if cells[0]:
                rows.append(cells)
            else:  # a cell wrapped onto the next line
                rows[-1] = [
                    " ".join(filter(None, pair)) for pair in zip(rows[-1], cells, strict=True)
                ]
    header = " ".join(result.stdout.split())
    assert "net in ranked currency ▼" in header and "rate used" in header, result.stdout
    ranked: dict[str, list[Decimal]] = {}
    for ranked_in, _, _, currency, net, _, _, in_ranked, rate in rows:
        assert rate == ("1" if currency == ranked_in else "each document's"), rows
        if currency == ranked_in:
            assert in_ranked == net
        ranked.setdefault(ranked_in, []).append(Decimal(in_ranked.replace(",", "")))
    assert ranked and all(amounts == sorted(amounts, reverse=True) for amounts in ranked.values())
    assert "converted at each document's own rate" in header

    bases = dict(
        project.query("SELECT DISTINCT connection_id, base_currency FROM reports.customer_balances")
    )
    assert bases["cli-company"] == bc.app.ledger("cli-company").base_currency
    [(unranked,)] = project.query(
        "SELECT count(*) FROM reports.customer_balances WHERE connection_id = 'cli-company' "
        "AND currency_code = base_currency AND net_balance_base IS NULL"
    )
    assert unranked == 0
    guide = (ROOT / "docs" / "analyst-guide.md").read_text()
    question = guide[guide.index("1. **Who owes us the most") :]
    sql = question[
        question.index("```sql") + 6 : question.index("```", question.index("```sql") + 6)
    ]
    answer = project.query(sql)
    assert answer
    for ranked_in, connection, _, currency, net, in_ranked, rate in answer:
        assert rate == ("1" if currency == ranked_in else "each document's rate")
        if connection == "cli-company" and currency == bases["cli-company"]:
            assert ranked_in == currency and in_ranked == net
    for currency in {row[0] for row in answer}:
        amounts = [row[5] for row in answer if row[0] == currency]
        assert amounts == sorted(amounts, reverse=True)
