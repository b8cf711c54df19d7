"""What a source declares to the rest of ledgersync: its one `SourceSpec`.

Each `connectors/<source>/spec.py` exports `SPEC`; `pipelines/registry.py` lists them, and
everything shared (the connections file's choices, the Dagster assets, the canonical mappings'
inputs) is derived from that list. See docs/adding-a-source.md.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.connection import ConnectionConfig
from connectors.ratelimit import BudgetStore
from connectors.streams import Connector, Stream, check_stream_order
from connectors.token_store import TokenStore
from models.mapping import Mapping as CanonicalMapping

__all__ = ["SourceSpec"]


@dataclass(frozen=True)
class SourceSpec:
    """A source: its name (the connections file's `source`), its title for people, the config
    model of its connections-file entries, its raw streams and canonical mappings, and how a
    connector opens from connector settings (the settings type's keywords) and where its rate
    budget is kept. A source whose OAuth refresh tokens may rotate also takes `refresh_tokens`
    (`connectors.token_store`) in its settings."""

    name: str
    title: str
    config: type[ConnectionConfig]
    streams: tuple[Stream, ...]
    mappings: tuple[CanonicalMapping, ...]
    settings: Callable[..., Any]
    connector: Callable[[Any], Connector]
    rotates_refresh_tokens: bool = False

    def __post_init__(self) -> None:
        check_stream_order(self.name, self.streams)

    def open(
        self,
        settings: Mapping[str, object],
        rate_budget: BudgetStore | None,
        tokens: TokenStore | None = None,
    ) -> Connector:
        kept: dict[str, object] = {}
        if tokens is not None and self.rotates_refresh_tokens:
            connection_id = str(settings["connection_id"])
            kept["refresh_tokens"] = tokens.for_connection(self.name, connection_id)
        return self.connector(self.settings(**settings, rate_budget=rate_budget, **kept))

    def streams_read_by(self, mapping: CanonicalMapping) -> list[str]:
        """The raw streams a mapping's relation reads (its `{stream}` placeholders)."""
        return [name for _, name, _, _ in string.Formatter().parse(mapping.relation) if name]
