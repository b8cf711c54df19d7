"""Carbon as a source: everything ledgersync needs to know of it, in one spec."""

from __future__ import annotations

from connectors.source import SourceSpec

from .config import CarbonConnectionConfig
from .connector import CarbonConnector, CarbonSettings
from .mapping import MAPPINGS
from .settings import SOURCE, STREAMS

__all__ = ["SPEC"]

SPEC = SourceSpec(
    name=SOURCE,
    title="Carbon",
    config=CarbonConnectionConfig,
    streams=STREAMS,
    mappings=MAPPINGS,
    settings=CarbonSettings,
    connector=CarbonConnector,
)
