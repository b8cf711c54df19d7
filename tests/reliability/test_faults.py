"""Under the sandbox's faults a sync ends in exact ground truth. A fault that outlasts the retry
budget fails the run with a message naming source, connection, stream and cause, and the next
run resumes where it stopped, without loss.

The larger run: `python -m benchmarks.fault_soak --runs 20 --size medium`.
"""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.warehouse_diff import differences, snapshot
from sandbox.faults import FaultConfig
from sandbox.zoho_books.testing import zoho_connection
from tests.reliability.zoho import ORG, ZohoProject, assert_matches_truth, list_requests

# Short backoffs so that retries cost milliseconds, and enough attempts to outlast the faults
# below. A slow response waits four times the timeout: on a loaded machine an ordinary one
# still arrives well within it, so only the injected ones time out. Every payment detail is
# fetched: the seeded faults need that many requests to hit each kind (derived payments would
# leave about a tenth of them).
PATIENT = {
    "page_size": 10,
    "timeout_s": 1.0,
    "max_attempts": 8,
    "retry_backoff_s": 0.01,
    "payment_details": "fetch_all",
}
IMPATIENT = {**PATIENT, "max_attempts": 3}
TRANSIENT = {
    "error_rate": 0.05,
    "burst_429": 3,
    "slow_rate": 0.03,
    "slow_s": 4.0,
    "truncate_rate": 0.05,
    "duplicate_rows_rate": 0.3,
    "modify_while_paging": 0.3,
}
FAULT_KINDS = ("error_5", "burst_429", "slow", "truncate", "duplicate_rows", "modify_while_paging")
PAYMENTS = "/books/v3/customerpayments"


def _injected(zoho: ZohoProject) -> Counter[str]:
    return Counter(
        "error_5" if label.startswith("error_5") else label
        for record in zoho.server.log.records()
        for label in record.faults
    )


@pytest.mark.slow
@pytest.mark.parametrize("retry_after_s", [0.05, None], ids=["Retry-After", "no-Retry-After"])
def test_transient_faults_end_in_exact_ground_truth(zoho_project, make_project, retry_after_s):
    zoho = zoho_project(**PATIENT)
    zoho.server.faults = FaultConfig(seed=11, retry_after_s=retry_after_s, **TRANSIENT)

    zoho.sync_directly()

    injected = _injected(zoho)
    assert all(injected[kind] > 0 for kind in FAULT_KINDS), injected
    # Rows modified while the first sync paged are newer than its cursor: the next sync has them.
    zoho.server.faults = FaultConfig()
    zoho.sync_directly()
    zoho.rebuild()
    assert_matches_truth(zoho)

    # Nothing lost, nothing doubled, every record in its latest version: the same raw tables
    # and cursors as a sync never disturbed (canonical rows and reports derive from them).
    calm = ZohoProject(
        zoho.server, make_project([zoho_connection(zoho.server, ORG, **PATIENT)], name="calm")
    )
    calm.sync_directly()
    faulted, undisturbed = (_raw_and_cursors(z) for z in (zoho, calm))
    assert differences(undisturbed, faulted) == []


def _raw_and_cursors(zoho: ZohoProject) -> dict[str, list[tuple[object, ...]]]:
    tables = snapshot(zoho.project.config.warehouse).items()
    return {t: rows for t, rows in tables if t.startswith("raw.") or t == "sync.cursors"}


def test_a_fault_past_the_retry_budget_names_where_and_why_and_the_next_run_resumes(zoho_project):
    # One stream after another: side by side, the failing payments could stop the contacts and
    # invoices before they finish (test_streams_side_by_side covers that).
    zoho = zoho_project(**IMPATIENT, streams_side_by_side=False)
    zoho.server.faults = FaultConfig(error_rate=1.0, paths=(PAYMENTS,))

    [outcome] = zoho.sync()

    assert not outcome.success
    error = str(outcome.error)
    assert f"zoho_books connection '{ORG}', stream customerpayments: GET " in error
    assert "answered 50" in error and "(gave up after 3 attempts)" in error
    assert "Fix: the source is failing or overloaded: rerun later" in error
    loaded = dict(
        zoho.query(
            "SELECT stream, sum(inserted) FROM sync.batches WHERE connection_id = ? GROUP BY 1",
            [ORG],
        )
    )
    assert loaded == {"contacts": len(zoho.ledger.customers), "invoices": len(zoho.ledger.invoices)}

    zoho.server.faults = FaultConfig()
    zoho.server.log.reset()
    zoho.sync_ok()
    zoho.rebuild()

    assert_matches_truth(zoho)
    lists = list_requests(zoho)
    incremental = {r.path for r in lists if "last_modified_time" in r.query}
    assert incremental == {"/books/v3/contacts", "/books/v3/invoices"}  # resumed, not redone


@pytest.mark.parametrize(
    ("faults", "cause"),
    [
        (
            FaultConfig(burst_429=10_000, retry_after_s=3600, paths=(PAYMENTS,)),
            "answered 429: Zoho code 44: You have made too many requests. Please try again after "
            "some time; the source asked to wait 3600 s",
        ),
        (FaultConfig(slow_rate=1.0, slow_s=4.0, paths=(PAYMENTS,)), "ReadTimeout"),
        (FaultConfig(truncate_rate=1.0, paths=(PAYMENTS,)), "the body is not valid JSON"),
    ],
    ids=["429-wait-too-long", "timeouts", "truncated"],
)
def test_a_persistent_fault_fails_with_its_cause(zoho_project, faults, cause):
    zoho = zoho_project(**IMPATIENT)
    zoho.server.faults = faults

    [outcome] = zoho.sync()

    assert not outcome.success
    assert f"zoho_books connection '{ORG}', stream customerpayments: " in str(outcome.error)
    assert cause in str(outcome.error)
    assert "Fix: " in str(outcome.error)
