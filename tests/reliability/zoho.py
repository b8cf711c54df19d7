"""Shared by the reliability tests: a project synced from a Zoho sandbox, and the comparison of
its warehouse with the sandbox ledger's ground truth, to the cent. (The `zoho_project` fixture
that makes one is in this folder's conftest.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.truth import truth_differences
from pipelines.config import ConnectionConfig
from pipelines.run_once import rebuild, sync_connections
from pipelines.runner import RunOutcome, run_syncs
from sandbox.ledger import Ledger
from sandbox.requestlog import RequestRecord
from sandbox.server import SandboxServer
from sandbox.zoho_books.app import ZohoBooksApp
from sandbox.zoho_books.ids import zoho_id
from tests.project import Project

ORG = "reliable-books"
LISTS = ("/books/v3/contacts", "/books/v3/invoices", "/books/v3/customerpayments")
SIZE = {"customers": 8, "invoices": 40, "payments": 30}


@dataclass(frozen=True)
class ZohoProject:
    server: SandboxServer[ZohoBooksApp]
    project: Project
    org: str = ORG  # the organization, and the id of its connection

    @property
    def ledger(self) -> Ledger:
        return self.server.app.ledger(self.org)

    @property
    def org_id(self) -> str:
        return self.server.app.organization_id(self.org)

    def sync(self, *, full_refresh: bool = False) -> list[RunOutcome]:
        return run_syncs(self.project.config, self.project.config_path, full_refresh=full_refresh)

    def sync_ok(self) -> None:
        assert [(o.name, o.error) for o in self.sync()] == [(c.id, None) for c in self.connections]

    def sync_directly(self) -> None:
        """The sync jobs' work without their Dagster runs (which cost a second or two each)."""
        assert sync_connections(self.project.config) == []

    def rebuild(self) -> None:
        """Canonical tables and reports, by the functions the report job runs (without its
        Dagster run, which costs seconds)."""
        rebuild(self.project.config, as_of=self.ledger.as_of)

    @property
    def connections(self) -> Sequence[ConnectionConfig]:
        return self.project.config.connections

    def query(self, sql: str, params: object = None) -> list[tuple[object, ...]]:
        return self.project.query(sql, params)


def assert_matches_truth(zoho: ZohoProject) -> int:
    """The live canonical rows of the organization's connection and its invoice balances (as of
    the ledger's date) equal the ledger's truth; nothing is in quarantine. Returns the number of
    rows compared."""
    kinds = {"customer": "contact", "invoice": "invoice", "payment": "payment"}
    problems, compared = truth_differences(
        zoho.project.config.warehouse,
        zoho.ledger,
        ids=lambda kind, ledger_id: zoho_id(zoho.org_id, kinds[kind], ledger_id),
        connection_id=zoho.org,
    )
    assert problems == []
    return compared


def list_requests(zoho: ZohoProject) -> list[RequestRecord]:
    """The requests for a page of one of the three listings (not details, not tokens)."""
    return zoho.server.log.records(where=lambda record: record.path in LISTS)
