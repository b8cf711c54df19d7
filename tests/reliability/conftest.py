"""The reliability tests' fixture: a project synced from a Zoho sandbox
(`tests.reliability.zoho`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sandbox.zoho_books.testing import zoho_connection
from tests.reliability.zoho import ORG, SIZE, ZohoProject


@pytest.fixture
def zoho_project(zoho_sandbox, make_project) -> Callable[..., ZohoProject]:
    """`zoho_project(**connection settings)`: a sandbox with a ledger of SIZE, and a project
    with one connection (id ORG) to it."""

    def make(size: dict[str, int] = SIZE, **connection: object) -> ZohoProject:
        server = zoho_sandbox(organizations=(ORG,), ledger_size=size)
        return ZohoProject(server, make_project([zoho_connection(server, ORG, **connection)]))

    return make
