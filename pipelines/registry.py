"""The sources ledgersync syncs: one line each (docs/adding-a-source.md).

A source named here has its connector spec in `connectors/<source>/spec.py` (`SPEC`) and its
sandbox in `sandbox/<source>/embedded.py` (`EMBEDDED`). Everything shared that differs by source
is derived from this list: the connections file's `source` choices, the Dagster ingest assets,
the embedded sandboxes and `ledgersync sandbox serve`, the tests' sandbox fixtures and
credentials, and the check that README's settings table documents every key. No other shared
module names a source (tests/pipelines/test_registry.py holds that true).
"""

from __future__ import annotations

import importlib

from connectors.source import SourceSpec
from sandbox.embedded import EmbeddedSandbox

__all__ = ["REGISTERED", "SANDBOXES", "SOURCES"]

REGISTERED = ("zoho_books", "business_central", "simpro", "carbon")


def _spec(name: str) -> SourceSpec:
    spec = importlib.import_module(f"connectors.{name}.spec").SPEC
    assert isinstance(spec, SourceSpec) and spec.name == name, f"connectors/{name}/spec.py"
    return spec


def _sandbox(name: str) -> EmbeddedSandbox:
    sandbox = importlib.import_module(f"sandbox.{name}.embedded").EMBEDDED
    assert isinstance(sandbox, EmbeddedSandbox) and sandbox.source == name, (
        f"sandbox/{name}/embedded.py"
    )
    return sandbox


SOURCES: dict[str, SourceSpec] = {name: _spec(name) for name in REGISTERED}
SANDBOXES: dict[str, EmbeddedSandbox] = {name: _sandbox(name) for name in REGISTERED}
