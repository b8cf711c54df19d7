"""Simpro as a source: everything ledgersync needs to know of it, in one spec."""

from __future__ import annotations

from connectors.source import SourceSpec

from .config import SimproConnectionConfig
from .connector import SimproConnector, SimproSettings
from .mapping import MAPPINGS
from .settings import SOURCE, STREAMS

__all__ = ["SPEC"]

SPEC = SourceSpec(
    name=SOURCE,
    title="Simpro",
    config=SimproConnectionConfig,
    streams=STREAMS,
    mappings=MAPPINGS,
    settings=SimproSettings,
    connector=SimproConnector,
)
