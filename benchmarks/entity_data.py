"""Warehouses of customers shared across sources, synced from the sandboxes, with their truth.

`shared_customers_project(root, seed)` starts one sandbox per source, each serving `per_source`
accounts named after the seed, syncs them all into a warehouse in `root` (through the real
connectors, mappings and normalizer) and says which (connection, customer) records are the
same real customer: the generator's `Customer.party`, which no sandbox serves.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from pipelines.config import LedgersyncConfig, load_config
from pipelines.run_once import rebuild, sync_connections
from sandbox.business_central.app import start_business_central_sandbox
from sandbox.business_central.config import BusinessCentralConfig
from sandbox.business_central.ids import bc_id
from sandbox.carbon.app import start_carbon_sandbox
from sandbox.carbon.config import CarbonConfig
from sandbox.carbon.ids import carbon_id
from sandbox.ledger import Ledger
from sandbox.simpro.app import start_simpro_sandbox
from sandbox.simpro.config import SimproConfig
from sandbox.simpro.ids import simpro_id
from sandbox.zoho_books.app import start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig
from sandbox.zoho_books.ids import zoho_id

__all__ = ["SOURCE_PREFIXES", "SharedCustomers", "shared_customers_project", "true_pairs"]

SOURCE_PREFIXES = {
    "zoho_books": "zoho",
    "business_central": "bc",
    "simpro": "simpro",
    "carbon": "carbon",
}
_FAST = 1_000_000  # requests per rate window: the sandboxes never make a run wait

CustomerKey = tuple[str, str]


@dataclass(frozen=True)
class SharedCustomers:
    config_path: Path
    ledgers: dict[str, Ledger]  # by connection id
    party: dict[CustomerKey, str]  # (connection, warehouse customer id) → the real customer
    customer_ids: dict[str, Callable[[int], str]]  # by connection: ledger id → warehouse id

    @property
    def config(self) -> LedgersyncConfig:
        return load_config(self.config_path)


def true_pairs(party: dict[CustomerKey, str]) -> set[frozenset[CustomerKey]]:
    """Every pair of records of one real customer."""
    groups: dict[str, list[CustomerKey]] = {}
    for key, who in party.items():
        groups.setdefault(who, []).append(key)
    return {
        frozenset(pair)
        for members in groups.values()
        for pair in itertools.combinations(sorted(members), 2)
    }


@contextmanager
def shared_customers_project(
    root: Path,
    seed: str,
    *,
    per_source: int = 1,
    customers: int = 25,
    invoices: int = 0,
    payments: int = 0,
    as_of: date = date(2026, 10, 31),
) -> Iterator[SharedCustomers]:
    """Synced and normalized (reports as of `as_of`); the sandboxes stop on exit."""
    size = {"customers": customers, "invoices": invoices, "payments": payments}
    names = {
        source: tuple(f"{prefix}-{seed}-{i}" for i in range(1, per_source + 1))
        for source, prefix in SOURCE_PREFIXES.items()
    }
    client = OAuthClient()
    os.environ.update(
        ZOHO_CLIENT_ID=client.client_id,
        ZOHO_CLIENT_SECRET=client.client_secret,
        ZOHO_REFRESH_TOKEN=client.refresh_token,
    )
    with ExitStack() as stack:
        zoho = start_zoho_sandbox(
            ZohoConfig(
                organizations=names["zoho_books"],
                client=client,
                ledger_size=size,
                rate_limit=_FAST,
                daily_cap=_FAST,
            )
        )
        stack.callback(zoho.stop)
        bc_config = BusinessCentralConfig(
            companies=names["business_central"], ledger_size=size, rate_limit=_FAST
        )
        bc = start_business_central_sandbox(bc_config)
        stack.callback(bc.stop)
        simpro_config = SimproConfig(companies=names["simpro"], ledger_size=size, rate_limit=_FAST)
        simpro = start_simpro_sandbox(simpro_config)
        stack.callback(simpro.stop)
        carbon = start_carbon_sandbox(
            CarbonConfig(companies=names["carbon"], ledger_size=size, rate_limit=_FAST)
        )
        stack.callback(carbon.stop)
        os.environ.update(
            BC_CLIENT_ID=bc_config.app.client_id,
            BC_CLIENT_SECRET=bc_config.app.client_secret,
            SIMPRO_API_KEY=simpro_config.api_keys[0],
        )
        connections: list[dict[str, object]] = []
        ledgers: dict[str, Ledger] = {}
        ids: dict[str, Callable[[int], str]] = {}
        for name in names["zoho_books"]:
            org = zoho.app.organization_id(name)
            connections.append(
                {
                    "id": name,
                    "source": "zoho_books",
                    "organization_id": org,
                    "api_url": f"{zoho.url}/books/v3",
                    "accounts_url": zoho.url,
                    "requests_per_minute": _FAST,
                }
            )
            ledgers[name] = zoho.app.ledger(name)
            ids[name] = lambda cid, org=org: zoho_id(org, "contact", cid)
        for name in names["business_central"]:
            company = bc.app.company_id(name)
            connections.append(
                {
                    "id": name,
                    "source": "business_central",
                    "tenant": bc_config.tenant,
                    "environment": bc_config.environment,
                    "company_id": company,
                    "api_url": f"{bc.url}/v2.0",
                    "authority_url": bc.url,
                    "requests_per_five_minutes": _FAST,
                }
            )
            ledgers[name] = bc.app.ledger(name)
            ids[name] = lambda cid, company=company: bc_id(company, "customer", cid)
        for name in names["simpro"]:
            connections.append(
                {
                    "id": name,
                    "source": "simpro",
                    "build_url": simpro.url,
                    "company_id": simpro.app.company_id(name),
                    "requests_per_second": _FAST,
                }
            )
            ledgers[name] = simpro.app.ledger(name)
            ids[name] = lambda cid: str(simpro_id("customer", cid))
        for name in names["carbon"]:
            env = "CARBON_KEY_" + name.upper().replace("-", "_")
            os.environ[env] = carbon.app.api_key(name)
            connections.append(
                {
                    "id": name,
                    "source": "carbon",
                    "api_url": carbon.url,
                    "api_key_env": env,
                    "requests_per_minute": _FAST,
                }
            )
            ledgers[name] = carbon.app.ledger(name)
            ids[name] = lambda cid, name=name: carbon_id(name, "customer", cid)
        root.mkdir(parents=True, exist_ok=True)
        config_path = root / "connections.yaml"
        config_path.write_text(
            yaml.safe_dump(
                {"warehouse": "ledgersync.duckdb", "landing": "landing", "connections": connections}
            )
        )
        config = load_config(config_path)
        failures = sync_connections(config)
        if failures:
            raise RuntimeError(f"syncing the shared-customer sandboxes failed: {failures}")
        rebuild(config, as_of=as_of)
        party = {
            (name, ids[name](c.customer_id)): c.party or f"{name}:{c.customer_id}"
            for name, ledger in ledgers.items()
            for c in ledger.customers
        }
        yield SharedCustomers(config_path, ledgers, party, ids)
