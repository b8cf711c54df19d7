"""The connections file: which accounts to sync, and where the warehouse lives.

Configuration is data, validated on load; an error names the file, the line and the fix.
Secrets are never in the file: a connection names the environment variables that hold them.
A connection with `sandbox: embedded` is served by the local sandbox started in-process, so the
project runs on a fresh machine with no accounts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Union

import pydantic
import yaml

from connectors.connection import ConnectionConfig
from connectors.shared_budget import PostgresBudget
from connectors.token_store import TokenStore
from models.lock_wait import WaitListener
from models.reports import ExceptionKind
from models.warehouse import DuckLake, Warehouse
from pipelines.registry import SOURCES

__all__ = [
    "AnyConnection",
    "ConfigError",
    "ConnectionConfig",
    "DuckLakeConfig",
    "LedgersyncConfig",
    "RateBudgetConfig",
    "ReportingConfig",
    "default_config_path",
    "load_config",
]

# libyaml's parser (in PyYAML's wheels): a thousand connections parse in 0.1 s, not 1 s, which
# matters to the sensors that read the file every tick.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CONFIG_ENV = "LEDGERSYNC_CONFIG"
DEFAULT_CONFIG = "connections.yaml"


class ConfigError(ValueError):
    """The connections file is missing or invalid; the message says where and how to fix it."""


class ReportingConfig(pydantic.BaseModel):
    """Consolidated reports (by entity): the currency they total in, and the user's rates."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    currency: Annotated[str, pydantic.Field(pattern=r"^[A-Z]{3}$")] = "USD"
    rates: Path | None = None  # CSV with columns date,from,to,rate (1 from = rate to)


# An entry of `connections:`: the registered source's config model its `source` names.
AnyConnection = Annotated[
    Union[tuple(spec.config for spec in SOURCES.values())],  # noqa: UP007 - built at run time
    pydantic.Field(discriminator="source"),
]


def _without_password(what: str) -> pydantic.AfterValidator:
    """A PostgreSQL connection string must leave its password to libpq (PGPASSWORD, ~/.pgpass)."""

    def check(url: str) -> str:
        if re.search(r"password\s*=|://[^/@]*:[^/@]*@", url):
            raise ValueError(
                f"{what} must not hold a password: remove it and export PGPASSWORD (or use "
                "~/.pgpass), which PostgreSQL's client library reads"
            )
        return url

    return pydantic.AfterValidator(check)


class DuckLakeConfig(pydantic.BaseModel):
    """`warehouse: {ducklake: {...}}`: a DuckLake with its catalog in PostgreSQL."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    # postgresql://user@host:5432/db; the password from PGPASSWORD or ~/.pgpass
    catalog: Annotated[str, _without_password("the catalog")]
    data_path: str  # relative to the connections file, or absolute, or s3://…
    metadata_schema: str | None = None

    def location(self, base: Path) -> DuckLake:
        data_path = self.data_path
        if "://" not in data_path:
            data_path = str(base / data_path)
        return DuckLake(self.catalog, data_path, self.metadata_schema)


class RateBudgetConfig(pydantic.BaseModel):
    """`rate_budget: {postgres: ...}`: each budget domain's window kept in PostgreSQL, so a
    source's limit holds across every process and machine that syncs it. Without it a budget
    holds within one process."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    # postgresql://user@host:5432/db; the password from PGPASSWORD or ~/.pgpass
    postgres: Annotated[str, _without_password("the URL")]

    def store(self) -> PostgresBudget:
        return PostgresBudget(self.postgres)


def _ducklake_section(value: Any) -> Any:  # noqa: ANN401 - whatever YAML gave
    """`{ducklake: {...}}` is the DuckLake backend; anything else must be a file's path."""
    if isinstance(value, dict):
        if set(value) != {"ducklake"}:
            raise ValueError(
                "a DuckDB file's path or {ducklake: {catalog: postgresql://…, data_path: …}}, "
                f"not a mapping with {sorted(value)}"
            )
        return value["ducklake"]
    return value


def _backend(value: Any) -> str:  # noqa: ANN401 - whatever YAML gave
    if isinstance(value, DuckLake):
        return "resolved"
    return "ducklake" if isinstance(value, dict | DuckLakeConfig) else "file"


class LedgersyncConfig(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    # A DuckDB file (the default) or a DuckLake; `load_config` resolves a DuckLakeConfig to the
    # `DuckLake` a `Warehouse` takes.
    warehouse: Annotated[
        Annotated[Path, pydantic.Tag("file")]
        | Annotated[DuckLakeConfig, pydantic.Tag("ducklake")]
        | Annotated[DuckLake, pydantic.Tag("resolved")],
        pydantic.Discriminator(_backend),
        pydantic.BeforeValidator(_ducklake_section),
    ] = Path("data/ledgersync.duckdb")
    landing: Path = Path("data/landing")
    # Where refresh tokens a source rotates are kept, one 0600 file per connection.
    tokens: Path = Path("data/tokens")
    # How long a sync or report waits for another process (an analyst's DuckDB session, another
    # sync) to let go of the warehouse file, saying so while it waits.
    warehouse_lock_wait_s: Annotated[float, pydantic.Field(gt=0)] = 600.0
    rate_budget: RateBudgetConfig | None = None
    customer_links: Path | None = None  # "same" / "never the same" customers, display names
    reporting: ReportingConfig = ReportingConfig()
    # How many reconciliation exceptions of a kind are expected; the check
    # exceptions_within_threshold warns above them (a kind not listed: 0).
    exception_thresholds: dict[ExceptionKind, Annotated[int, pydantic.Field(ge=0)]] = {}
    connections: Sequence[AnyConnection] = ()

    @pydantic.field_validator("connections")
    @classmethod
    def _unique_ids(cls, connections: Sequence[ConnectionConfig]) -> Sequence[ConnectionConfig]:
        seen: dict[str, int] = {}
        for number, connection in enumerate(connections, start=1):
            if connection.id in seen:
                raise ValueError(
                    f"connection id {connection.id!r} is used twice (entries {seen[connection.id]} "
                    f"and {number})"
                )
            seen[connection.id] = number
        return tuple(connections)

    def connection(self, connection_id: str) -> ConnectionConfig:
        for connection in self.connections:
            if connection.id == connection_id:
                return connection
        raise ConfigError(
            f"no connection {connection_id!r} in the connections file "
            f"(it has {[c.id for c in self.connections]})"
        )

    def of_source(self, source: str) -> list[ConnectionConfig]:
        return [c for c in self.connections if c.source == source]

    def budget_store(self) -> PostgresBudget | None:
        """Where the connections' rate budgets are kept; None: in each process."""
        return self.rate_budget.store() if self.rate_budget else None

    def token_store(self) -> TokenStore:
        """Where the connections' rotated refresh tokens are kept (`connectors.token_store`)."""
        return TokenStore(self.tokens)

    def open_warehouse(self, on_wait: WaitListener | None = None) -> Warehouse:
        """The warehouse, waiting `warehouse_lock_wait_s` for its lock and telling `on_wait`."""
        return Warehouse(self.warehouse, lock_timeout_s=self.warehouse_lock_wait_s, on_wait=on_wait)


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))


def load_config(path: Path | None = None) -> LedgersyncConfig:
    """Read and validate the file; relative paths in it are relative to the file."""
    path = path or default_config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no connections file. Fix: `ledgersync init --config {path}` writes a starter "
            f"one to edit (the embedded sandboxes), or point {CONFIG_ENV} or --config at yours"
        ) from None
    try:
        root = yaml.compose(text, Loader=_YAML_LOADER)
        data = yaml.load(text, Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    try:
        config = LedgersyncConfig.model_validate(data)
    except pydantic.ValidationError as error:
        raise ConfigError(_describe(path, root, error)) from None
    base = path.parent
    warehouse = config.warehouse
    if isinstance(warehouse, DuckLakeConfig):
        warehouse = warehouse.location(base)
    elif isinstance(warehouse, Path):
        warehouse = base / warehouse
    rates = config.reporting.rates
    connections = tuple(
        c.model_copy(update={"sandbox_ledger": base / c.sandbox_ledger})
        if c.sandbox_ledger is not None
        else c
        for c in config.connections
    )
    return config.model_copy(
        update={
            "warehouse": warehouse,
            "landing": base / config.landing,
            "tokens": base / config.tokens,
            "customer_links": config.customer_links and base / config.customer_links,
            "reporting": config.reporting.model_copy(update={"rates": rates and base / rates}),
            "connections": connections,
        }
    )


def _describe(path: Path, root: yaml.Node | None, error: pydantic.ValidationError) -> str:
    lines = []
    for problem in error.errors():
        location = tuple(part for part in problem["loc"] if part not in _UNION_TAGS)
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            location += ("source",)
        where = ".".join(str(part) for part in location) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{path}:{line_of(root, location)}: {where}: {message}")
    return "invalid connections file:\n  " + "\n  ".join(lines)


_UNION_TAGS = frozenset(SOURCES)  # the union's tags, which pydantic puts in a location


def line_of(node: yaml.Node | None, location: tuple[str | int, ...]) -> int:
    """The 1-based line of the deepest node the location reaches."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in location:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is None:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            return line
        node, line = child, child.start_mark.line + 1
    return line
