"""Business Central as a source: everything ledgersync needs to know of it, in one spec."""

from __future__ import annotations

from connectors.source import SourceSpec

from .config import BusinessCentralConnectionConfig
from .connector import BusinessCentralConnector, BusinessCentralSettings
from .mapping import MAPPINGS
from .settings import SOURCE, STREAMS

__all__ = ["SPEC"]

SPEC = SourceSpec(
    name=SOURCE,
    title="Business Central",
    config=BusinessCentralConnectionConfig,
    streams=STREAMS,
    mappings=MAPPINGS,
    settings=BusinessCentralSettings,
    connector=BusinessCentralConnector,
)
