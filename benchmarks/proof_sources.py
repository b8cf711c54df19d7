"""The four sources as the reliability proofs drive them: a sandbox of one account, the
connection a project names it by, the secrets it needs, and how ledger ids read in the warehouse.

    source = SOURCES["simpro"]
    server = source.start({"customers": 6, "invoices": 30, "payments": 24}, FaultConfig())
    entry = source.connection(server, page_size=10)   # one entry of connections.yaml
    env = source.env(server)                          # the secrets, as environment variables

Each sandbox serves one account (`ACCOUNT`, also the connection's id) with its rate limits
lifted. `listings` maps streams to the path prefix of their listings, for faults aimed at one:
a prefix that also covers a later stream's path is fine (the sync fails at the first stream).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks.truth import IdMap
from sandbox.business_central.app import API as BC_API
from sandbox.business_central.app import BusinessCentralApp, start_business_central_sandbox
from sandbox.business_central.config import BusinessCentralConfig, EntraApp
from sandbox.business_central.ids import bc_id
from sandbox.carbon.app import CarbonApp, start_carbon_sandbox
from sandbox.carbon.config import CarbonConfig
from sandbox.carbon.ids import carbon_id
from sandbox.faults import FaultConfig
from sandbox.ledger import Ledger
from sandbox.server import SandboxServer
from sandbox.simpro.app import API as SIMPRO_API
from sandbox.simpro.app import SimproApp, start_simpro_sandbox
from sandbox.simpro.config import SimproConfig
from sandbox.simpro.ids import simpro_id
from sandbox.zoho_books.app import API as ZOHO_API
from sandbox.zoho_books.app import ZohoBooksApp, start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig
from sandbox.zoho_books.ids import zoho_id

__all__ = ["ACCOUNT", "SIZES", "SOURCES", "SourceUnderTest"]

ACCOUNT = "proof-books"  # the one organization or company each sandbox serves
UNLIMITED = 10**7
SIZES = {
    "small": {"customers": 6, "invoices": 30, "payments": 24},
    "medium": {"customers": 30, "invoices": 250, "payments": 220},
    "large": {"customers": 200, "invoices": 3000, "payments": 2500},
}

ZOHO_CLIENT = OAuthClient("1000.PROOF", "proof-zoho-secret", "1000.proof-refresh")
BC_APP = EntraApp("0c7f1d2e-5a4b-4c3d-9e8f-7a6b5c4d3e2f", "proof~bc~secret")
SIMPRO_KEY = "proof-simpro-key"
CARBON_KEY_ENV = "CARBON_PROOF_KEY"


@dataclass(frozen=True)
class SourceUnderTest:
    name: str  # the source, as connections.yaml names it
    start: Callable[[Mapping[str, int], FaultConfig | None], SandboxServer[Any]]
    settings: Callable[[SandboxServer[Any]], dict[str, object]]  # where the account is
    env: Callable[[SandboxServer[Any]], dict[str, str]]
    ids: Callable[[SandboxServer[Any]], IdMap]
    listings: Callable[[SandboxServer[Any]], dict[str, str]]  # stream → listing path
    # What can change at the source between two syncs, besides new and modified records.
    posts: bool = False  # money recorded first and posted later (journals, drafts)
    keeps_voids: bool = False  # a voided payment stays listed, as void
    # The invoices' listing (a key of `listings`) and the field its rows hold their id in.
    invoice_listing: str = "invoices"
    invoice_key: str = "invoice_id"

    def connection(self, server: SandboxServer[Any], **settings: object) -> dict[str, object]:
        """The connections.yaml entry for the sandbox's account, with `settings` added."""
        return {"id": ACCOUNT, "source": self.name, **self.settings(server), **settings}

    def ledger(self, server: SandboxServer[Any]) -> Ledger:
        ledger: Ledger = server.app.ledger(ACCOUNT)
        return ledger


def _zoho(size: Mapping[str, int], faults: FaultConfig | None) -> SandboxServer[ZohoBooksApp]:
    config = ZohoConfig(
        organizations=(ACCOUNT,),
        client=ZOHO_CLIENT,
        rate_limit=UNLIMITED,
        daily_cap=UNLIMITED,
        ledger_size=size,
    )
    return start_zoho_sandbox(config, faults=faults)


def _zoho_settings(server: SandboxServer[ZohoBooksApp]) -> dict[str, object]:
    return {
        "organization_id": server.app.organization_id(ACCOUNT),
        "api_url": f"{server.url}{ZOHO_API}",
        "accounts_url": server.url,
        "requests_per_minute": UNLIMITED,
    }


def _zoho_env(server: SandboxServer[ZohoBooksApp]) -> dict[str, str]:
    return {
        "ZOHO_CLIENT_ID": ZOHO_CLIENT.client_id,
        "ZOHO_CLIENT_SECRET": ZOHO_CLIENT.client_secret,
        "ZOHO_REFRESH_TOKEN": ZOHO_CLIENT.refresh_token,
    }


def _zoho_ids(server: SandboxServer[ZohoBooksApp]) -> IdMap:
    """Zoho calls a customer a contact."""
    org_id = server.app.organization_id(ACCOUNT)
    kinds = {"customer": "contact", "invoice": "invoice", "payment": "payment"}
    return lambda kind, ledger_id: zoho_id(org_id, kinds[kind], ledger_id)  # type: ignore[arg-type]


def _zoho_listings(server: SandboxServer[ZohoBooksApp]) -> dict[str, str]:
    return {s: f"{ZOHO_API}/{s}" for s in ("contacts", "invoices", "customerpayments")}


def _bc(size: Mapping[str, int], faults: FaultConfig | None) -> SandboxServer[BusinessCentralApp]:
    config = BusinessCentralConfig(
        companies=(ACCOUNT,),
        app=BC_APP,
        rate_limit=UNLIMITED,
        retry_after_5xx_s=0.01,
        ledger_size=size,
    )
    return start_business_central_sandbox(config, faults=faults)


def _bc_settings(server: SandboxServer[BusinessCentralApp]) -> dict[str, object]:
    return {
        "tenant": server.app.config.tenant,
        "environment": server.app.config.environment,
        "company_id": server.app.company_id(ACCOUNT),
        "api_url": f"{server.url}/v2.0",
        "authority_url": server.url,
        "requests_per_five_minutes": UNLIMITED,
    }


def _bc_env(server: SandboxServer[BusinessCentralApp]) -> dict[str, str]:
    return {"BC_CLIENT_ID": BC_APP.client_id, "BC_CLIENT_SECRET": BC_APP.client_secret}


def _bc_ids(server: SandboxServer[BusinessCentralApp]) -> IdMap:
    """A Business Central payment is its journal lines' document number."""
    company = server.app.company_id(ACCOUNT)

    def ids(kind: str, ledger_id: int) -> str:
        if kind == "payment":
            return f"PAY-{ledger_id:06d}"
        return bc_id(company, kind, ledger_id)  # type: ignore[arg-type]

    return ids


def _bc_listings(server: SandboxServer[BusinessCentralApp]) -> dict[str, str]:
    config = server.app.config
    company = BC_API.format(tenant=config.tenant, environment=config.environment)
    company += f"/companies({server.app.company_id(ACCOUNT)})"
    return {
        "customers": f"{company}/customers",
        "sales_invoices": f"{company}/salesInvoices",
        "sales_credit_memos": f"{company}/salesCreditMemos",
        "customer_payment_journals": f"{company}/customerPaymentJournals",
        "customer_payments": f"{company}/customerPaymentJournals(",
    }


def _simpro(size: Mapping[str, int], faults: FaultConfig | None) -> SandboxServer[SimproApp]:
    config = SimproConfig(
        companies=(ACCOUNT,), api_keys=(SIMPRO_KEY,), rate_limit=UNLIMITED, ledger_size=size
    )
    return start_simpro_sandbox(config, faults=faults)


def _simpro_settings(server: SandboxServer[SimproApp]) -> dict[str, object]:
    return {
        "build_url": server.url,
        "company_id": server.app.company_id(ACCOUNT),
        "requests_per_second": UNLIMITED,
    }


def _simpro_env(server: SandboxServer[SimproApp]) -> dict[str, str]:
    return {"SIMPRO_API_KEY": SIMPRO_KEY}


def _simpro_ids(server: SandboxServer[SimproApp]) -> IdMap:
    return lambda kind, ledger_id: str(simpro_id(kind, ledger_id))  # type: ignore[arg-type]


def _simpro_listings(server: SandboxServer[SimproApp]) -> dict[str, str]:
    base = f"{SIMPRO_API}/companies/{server.app.company_id(ACCOUNT)}"
    return {
        "customer_companies": f"{base}/customers/companies/",
        "customer_individuals": f"{base}/customers/individuals/",
        "customer_invoices": f"{base}/customerInvoices/",
        "credit_notes": f"{base}/creditNotes/",
        "customer_payments": f"{base}/customerPayments/",
    }


def _carbon(size: Mapping[str, int], faults: FaultConfig | None) -> SandboxServer[CarbonApp]:
    config = CarbonConfig(companies=(ACCOUNT,), rate_limit=UNLIMITED, ledger_size=size)
    return start_carbon_sandbox(config, faults=faults)


def _carbon_settings(server: SandboxServer[CarbonApp]) -> dict[str, object]:
    return {
        "api_url": server.url,
        "api_key_env": CARBON_KEY_ENV,
        "requests_per_minute": UNLIMITED,
    }


def _carbon_env(server: SandboxServer[CarbonApp]) -> dict[str, str]:
    return {CARBON_KEY_ENV: server.app.api_key(ACCOUNT)}


def _carbon_ids(server: SandboxServer[CarbonApp]) -> IdMap:
    return lambda kind, ledger_id: carbon_id(ACCOUNT, kind, ledger_id)  # type: ignore[arg-type]


def _carbon_listings(server: SandboxServer[CarbonApp]) -> dict[str, str]:
    return {
        "customer": "/customer",  # before customer_payment, which this prefix also covers
        "customer_payment": "/customerPayment",
        "payment_term": "/paymentTerm",
        "memo": "/memo",  # `payment` is left out: its path is a prefix of `paymentTerm`'s
        "invoice_settlement": "/invoiceSettlement",
        "sales_invoices": "/salesInvoices",
    }


SOURCES: dict[str, SourceUnderTest] = {
    "zoho_books": SourceUnderTest(
        "zoho_books", _zoho, _zoho_settings, _zoho_env, _zoho_ids, _zoho_listings
    ),
    "business_central": SourceUnderTest(
        "business_central",
        _bc,
        _bc_settings,
        _bc_env,
        _bc_ids,
        _bc_listings,
        posts=True,
        invoice_listing="sales_invoices",
        invoice_key="id",
    ),
    "simpro": SourceUnderTest(
        "simpro",
        _simpro,
        _simpro_settings,
        _simpro_env,
        _simpro_ids,
        _simpro_listings,
        keeps_voids=True,
        invoice_listing="customer_invoices",
        invoice_key="ID",
    ),
    "carbon": SourceUnderTest(
        "carbon",
        _carbon,
        _carbon_settings,
        _carbon_env,
        _carbon_ids,
        _carbon_listings,
        posts=True,
        keeps_voids=True,
        invoice_listing="sales_invoices",
        invoice_key="id",
    ),
}
