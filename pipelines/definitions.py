"""The Dagster code location (`workspace.yaml`, `[tool.dg.project]`): the defs folder.

`LEDGERSYNC_CONFIG` names the connections file (default: ./connections.yaml).
"""

from __future__ import annotations

import dagster as dg

from pipelines.config import default_config_path
from pipelines.location import build_definitions

__all__ = ["build_definitions", "defs"]


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(default_config_path())
