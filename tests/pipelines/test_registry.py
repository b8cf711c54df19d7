"""The source registry: every source is whole, and no shared module names one.

docs/adding-a-source.md says adding a source changes its own folders, its tests and one line of
pipelines/registry.py; these tests hold that true.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from pipelines.registry import REGISTERED, SANDBOXES, SOURCES

ROOT = Path(__file__).resolve().parents[2]

# Shared modules: whatever they need of a source comes from the registry. A source's own
# folders (connectors/<source>/, sandbox/<source>/) and its tests may name it.
SHARED = (
    *sorted((ROOT / "pipelines").rglob("*.py")),
    ROOT / "connectors" / "connection.py",
    ROOT / "connectors" / "limits.py",
    ROOT / "connectors" / "source.py",
    ROOT / "sandbox" / "embedded.py",
    ROOT / "sandbox" / "testing.py",
    ROOT / "tests" / "conftest.py",
    ROOT / "tests" / "e2e.py",
)
ALLOWED = {ROOT / "pipelines" / "registry.py"}


def _naming(spec_name: str, title: str) -> re.Pattern[str]:
    """A source's name or title as a word of its own (`simpro-summit-au`, a connection id, is
    not the source)."""
    words = "|".join(re.escape(word) for word in {spec_name, title})
    return re.compile(rf"(?<![\w-])(?:{words})(?![\w-])", re.IGNORECASE)


def test_no_shared_module_names_a_source() -> None:
    patterns = [_naming(spec.name, spec.title) for spec in SOURCES.values()]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in SHARED
        if path not in ALLOWED
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if any(pattern.search(line) for pattern in patterns)
    ]
    assert found == [], "name sources in pipelines/registry.py only:\n" + "\n".join(found)


def test_the_check_finds_a_source_named_in_a_shared_module() -> None:
    patterns = [_naming(spec.name, spec.title) for spec in SOURCES.values()]
    named = ['spec = SOURCES["carbon"]', "from Zoho Books", "  source: business_central"]
    unnamed = ["- id: simpro-summit-au", "zoho_sandbox(organizations=...)", "carbonate"]
    assert all(any(p.search(line) for p in patterns) for line in named)
    assert not any(p.search(line) for p in patterns for line in unnamed)


@pytest.mark.parametrize("name", REGISTERED)
def test_each_registered_source_is_whole(name: str) -> None:
    spec, sandbox = SOURCES[name], SANDBOXES[name]
    assert typing.get_args(spec.config.model_fields["source"].annotation) == (name,)
    assert spec.connector.source == name
    assert spec.connector.streams == spec.streams
    assert spec.connector.mappings == spec.mappings
    assert sandbox.source == name
    for streams in (spec.streams_read_by(mapping) for mapping in spec.mappings):
        assert set(streams) <= {stream.name for stream in spec.streams}


@pytest.mark.parametrize("name", REGISTERED)
def test_each_stream_is_declared_after_the_streams_it_reads(name: str) -> None:
    """One stream after another syncs them in declared order, so what a stream reads of other
    streams (its parent, `after`, `rereads`) must be declared before it."""
    declared: list[str] = []
    for stream in SOURCES[name].streams:
        assert set(stream.syncs_after()) <= set(declared), (stream.name, declared)
        declared.append(stream.name)


def test_sources_do_not_collide() -> None:
    sandboxes = SANDBOXES.values()
    assert len({sandbox.port for sandbox in sandboxes}) == len(REGISTERED)
    assert len({sandbox.testing.fixture for sandbox in sandboxes}) == len(REGISTERED)
    assert len({spec.title for spec in SOURCES.values()}) == len(REGISTERED)


def test_adding_a_source_names_files_that_every_source_has() -> None:
    """The files docs/adding-a-source.md tells a new source to write are the ones each
    registered source has."""
    guide = (ROOT / "docs" / "adding-a-source.md").read_text()
    per_source = set(re.findall(r"`((?:connectors|sandbox)/<source>/\w+\.py)`", guide))
    assert {"connectors/<source>/spec.py", "sandbox/<source>/embedded.py"} <= per_source
    for name in REGISTERED:
        for path in per_source:
            assert (ROOT / path.replace("<source>", name)).is_file(), (name, path)
    assert "pipelines/registry.py" in guide
