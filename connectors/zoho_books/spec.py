"""Zoho Books as a source: everything ledgersync needs to know of it, in one spec."""

from __future__ import annotations

from connectors.source import SourceSpec

from .config import ZohoBooksConnectionConfig
from .connector import ZohoBooksConnector, ZohoBooksSettings
from .mapping import MAPPINGS
from .settings import SOURCE, STREAMS

__all__ = ["SPEC"]

SPEC = SourceSpec(
    name=SOURCE,
    title="Zoho Books",
    config=ZohoBooksConnectionConfig,
    streams=STREAMS,
    mappings=MAPPINGS,
    settings=ZohoBooksSettings,
    connector=ZohoBooksConnector,
    rotates_refresh_tokens=True,
)
