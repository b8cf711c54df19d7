"""Two connections on one Simpro build, synced by two processes at once, spend the build's one
budget of 10 requests a second: kept in PostgreSQL (`rate_budget`), it holds across them. The
build's request log shows no 429 and never more than 10 requests in any one second."""

from __future__ import annotations

import os
import subprocess
import sys
from bisect import bisect_left
from pathlib import Path

import pytest

from sandbox.simpro.testing import simpro_connection
from tests.postgres import PG_URI, require_postgres, scratch_schema

COMPANIES = ("summit-plumbing", "summit-electrical")
SIZE = {"customers": 6, "invoices": 40, "payments": 24}
PAGE_SIZE = 3  # so each sync asks for pages over a few seconds, and the two overlap
LIMIT = 10  # Simpro's: requests a second per build
# What a sync run does for its connections (`pipelines.run_once` without the reports).
SYNC = """
import sys
from pathlib import Path
from pipelines.config import load_config
from pipelines.run_once import sync_connections
failures = sync_connections(load_config(Path(sys.argv[1])))
sys.exit("\\n".join(failures) or None)
"""


def most_in_one_second(arrivals: list[float]) -> int:
    """The most arrivals in any window [t, t + 1s)."""
    arrivals = sorted(arrivals)
    return max(bisect_left(arrivals, at + 1.0) - i for i, at in enumerate(arrivals))


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_on_one_build_stay_within_its_budget(simpro_sandbox, make_project):
    require_postgres("the shared rate budget")
    server = simpro_sandbox(companies=COMPANIES, ledger_size=SIZE, rate_limit=LIMIT)
    with scratch_schema("budget") as schema:
        budget = {"postgres": f"{PG_URI}?options=-csearch_path%3D{schema}"}
        projects = {
            company: make_project(
                [
                    simpro_connection(
                        server, company, page_size=PAGE_SIZE, requests_per_second=LIMIT
                    )
                ],
                name=company,
                rate_budget=budget,
            )
            for company in COMPANIES
        }
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": str(root)}
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", SYNC, str(project.config_path)],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            for project in projects.values()
        ]
        for process in processes:
            _, errors = process.communicate(timeout=300)
            assert process.returncode == 0, errors[-3000:]

    api = server.log.records(path_prefix="/api/")
    assert server.log.count(status=429) == 0
    assert most_in_one_second([r.at for r in api]) <= LIMIT
    # The test means something only if the two syncs ran at once, each asking for many pages.
    spans = {company: [r.at for r in api if r.account == company] for company in COMPANIES}
    assert all(len(arrivals) > 2 * LIMIT for arrivals in spans.values())
    first, second = (spans[c] for c in COMPANIES)
    assert max(first[0], second[0]) < min(first[-1], second[-1]), "the syncs did not overlap"
