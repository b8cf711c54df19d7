"""Zoho payment applications derived from the payment list (`payment_details: derive`) against
the same ledger synced with every detail fetched (`fetch_all`): the same canonical tables and
reports to the cent, for far fewer detail requests; and a detail that disagrees with what its
list row implied turns derivation off, with a warning, and the result is still exact."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from benchmarks.truth import truth_differences
from connectors.streams import Stream
from models.landing import LandedBatch, LandingZone
from pipelines.run_once import rebuild, sync_connections
from pipelines.sources import open_connector
from pipelines.sync import _Run, sync_connection
from pipelines.sync_errors import BatchSetAsideError, SetAsideBatch
from sandbox.server import SandboxServer
from sandbox.zoho_books.app import ZohoBooksApp
from sandbox.zoho_books.ids import zoho_id
from sandbox.zoho_books.testing import zoho_connection
from tests.project import Project

ORG = "derived-books"
SIZE = {"customers": 15, "invoices": 150, "payments": 120}
DETAILS = "/books/v3/customerpayments/"
DETAIL_TABLE = "raw.zoho_books__customerpayment_details"
KINDS = {"customer": "contact", "invoice": "invoice", "payment": "payment"}
DERIVED = "payload ->> '$.ledgersync_derived_from' IS NOT NULL"


def _synced(server: SandboxServer[ZohoBooksApp], make_project, name: str, **settings) -> Project:
    """A project with one connection to the organization, synced once, its reports built; the
    detail requests it made are left in the server's log."""
    project = make_project([zoho_connection(server, ORG, **settings)], name=name)
    server.log.reset()
    assert sync_connections(project.config) == []
    rebuild(project.config, as_of=server.app.ledger(ORG).as_of)
    return project


def _tables(project: Project) -> dict[str, list[tuple]]:
    """Every canonical table (payments without bank_charges) and every report, in full."""
    payment_columns = [
        row[0]
        for row in project.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'canonical' "
            "AND table_name = 'payments' AND column_name <> 'bank_charges' "
            "ORDER BY ordinal_position"
        )
    ]
    tables = {
        f"{schema}.{name}": "*"
        for schema, name in project.query(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('canonical', 'reports') ORDER BY ALL"
        )
    }
    tables["canonical.payments"] = ", ".join(payment_columns)
    return {t: project.query(f"SELECT {cols} FROM {t} ORDER BY ALL") for t, cols in tables.items()}


def _bank_charges(project: Project) -> dict[str, Decimal | None]:
    return dict(project.query("SELECT payment_id, bank_charges FROM canonical.payments"))


def _derived(project: Project) -> set[str]:
    return {
        row[0] for row in project.query(f"SELECT record_id FROM {DETAIL_TABLE} WHERE {DERIVED}")
    }


def test_derived_applications_equal_the_fetched_ones_for_far_fewer_requests(
    zoho_sandbox, make_project
) -> None:
    server = zoho_sandbox(organizations=(ORG,), ledger_size=SIZE)
    ledger = server.app.ledger(ORG)
    org_id = server.app.organization_id(ORG)
    served = [p for p in ledger.payments if p.status == "posted"]

    fetch_all = _synced(server, make_project, "fetch-all", payment_details="fetch_all")
    assert server.log.count(path_prefix=DETAILS) == len(served)
    derive = _synced(server, make_project, "derive")
    derive_details = server.log.count(path_prefix=DETAILS)

    assert _tables(derive) == _tables(fetch_all)
    problems, _ = truth_differences(
        derive.config.warehouse,
        ledger,
        ids=lambda kind, ledger_id: zoho_id(org_id, KINDS[kind], ledger_id),
        connection_id=ORG,
    )
    assert problems == []

    # Only the detail tells bank charges: unknown for the derived payments, the same elsewhere.
    derived, known = _derived(derive), _bank_charges(fetch_all)
    assert _bank_charges(derive) == {
        payment: None if payment in derived else charges for payment, charges in known.items()
    }
    # Every payment naming several invoices was fetched; most of the others were derived.
    applications = {p.payment_id: 0 for p in served}
    for application in ledger.applications:
        if application.payment_id in applications:
            applications[application.payment_id] += 1
    several = {zoho_id(org_id, "payment", p) for p, n in applications.items() if n > 1}
    assert several and not several & derived
    assert len(derived) > 0.75 * len(served)
    assert derive_details == len(served) - len(derived)

    # Nothing changed: no detail is asked for, and nothing derived is fetched but the sample.
    server.log.reset()
    assert sync_connections(derive.config) == []
    assert server.log.count(path_prefix=DETAILS) == 0
    assert _derived(derive) == derived


def test_a_detail_that_disagrees_turns_derivation_off_and_the_result_stays_exact(
    zoho_sandbox, make_project, caplog: pytest.LogCaptureFixture
) -> None:
    # Every detail states its first application a cent lower than the list row implies.
    server = zoho_sandbox(
        organizations=(ORG,), ledger_size=SIZE, detail_understatement=Decimal("0.01")
    )
    fetch_all = _synced(server, make_project, "fetch-all", payment_details="fetch_all")

    with caplog.at_level(logging.WARNING):
        derive = _synced(server, make_project, "derive", payment_detail_sample=0.1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"zoho_books connection {ORG}: " in warnings[0]
    assert "Derivation is now off" in warnings[0]
    # Recorded in the warehouse: the connection fetches every detail from now on.
    assert derive.query("SELECT connection_id, stream FROM sync.derivations_off") == [
        (ORG, "customerpayment_details")
    ]
    assert _derived(derive) == set()
    assert _tables(derive) == _tables(fetch_all)
    assert _bank_charges(derive) == _bank_charges(fetch_all)


def test_a_full_refresh_whose_fetched_details_are_set_aside_marks_none_vanished(
    zoho_sandbox, make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full refresh marks vanished the details nothing stored again; a fetched batch set aside
    stored nothing, yet its payments are still at the source."""
    server = zoho_sandbox(organizations=(ORG,), ledger_size=SIZE)
    project = _synced(server, make_project, "set-aside")
    fetched = f"SELECT count(*) FROM {DETAIL_TABLE} WHERE NOT ({DERIVED})"
    assert project.query(fetched)[0][0] > 0  # some details could not be derived
    refused = _Run.load

    def details_refused(run: _Run, batch: LandedBatch, stream: Stream) -> object:
        if stream.name != "customerpayment_details":
            return refused(run, batch, stream)
        return SetAsideBatch(stream.name, batch.path, "refused for this test")

    monkeypatch.setattr(_Run, "load", details_refused)
    config = project.config
    connector = open_connector(config.connections[0])
    try:
        with pytest.raises(BatchSetAsideError, match="customerpayment_details"):
            sync_connection(
                connector,
                warehouse=config.open_warehouse(lambda message: None),
                landing=LandingZone(config.landing),
                full_refresh=True,
            )
    finally:
        connector.close()

    assert project.query(f"SELECT count(*) FROM {DETAIL_TABLE} WHERE vanished_at IS NOT NULL") == [
        (0,)
    ]
