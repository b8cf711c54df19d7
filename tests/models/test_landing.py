"""The landing zone: batches appear whole or not at all, and one sync per connection at a time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import pytest

from models.landing import ConnectionBusyError, LandingZone


def _land(zone: LandingZone, stream: str = "invoices", *, pages: int = 2, **seal: object):
    writer = zone.new_batch("acme", stream)
    for number in range(pages):
        writer.write_page(json.dumps({"invoices": [{"id": number}]}).encode(), records=1)
    return writer.seal(cursor=seal.pop("cursor", None), full_refresh=False, **seal)


def test_a_batch_is_ready_only_once_sealed(tmp_path):
    zone = LandingZone(tmp_path)
    writer = zone.new_batch("acme", "invoices")
    writer.write_page(b'{"invoices": []}', records=0)
    assert zone.ready_batches("acme", "invoices") == []

    batch = writer.seal(cursor=datetime(2026, 10, 1, 12, tzinfo=UTC), full_refresh=True)

    assert zone.ready_batches("acme", "invoices") == [batch]
    assert (batch.pages, batch.records, batch.full_refresh, batch.keys_only) == (1, 0, True, False)
    assert batch.cursor == "2026-10-01T12:00:00+00:00"
    assert [p.name for p in batch.page_files] == ["000001.json"]


def test_a_partial_batch_left_by_a_killed_run_is_discarded(tmp_path):
    zone = LandingZone(tmp_path)
    abandoned = zone.new_batch("acme", "invoices")
    abandoned.write_page(b'{"invoices": [{"id": 1}]}', records=1)

    batch = _land(zone)

    assert zone.ready_batches("acme", "invoices") == [batch]
    assert sorted(p.name for p in (tmp_path / "acme" / "invoices").iterdir()) == [
        f"{batch.batch_id}.ready"
    ]


def test_ready_batches_come_oldest_first(tmp_path):
    zone = LandingZone(tmp_path)
    first, second = _land(zone), _land(zone)
    assert zone.ready_batches("acme", "invoices") == [first, second]


def test_a_removal_killed_half_way_never_leaves_a_ready_batch_without_its_manifest(tmp_path):
    zone = LandingZone(tmp_path)
    batch = _land(zone, pages=3)
    # What a kill during the deletion leaves: the batch renamed out of sight, some files gone.
    loaded = batch.path.with_name(f"{batch.batch_id}.loaded")
    batch.path.rename(loaded)
    (loaded / "manifest.json").unlink()

    assert zone.ready_batches("acme", "invoices") == []
    zone.new_batch("acme", "invoices").discard()
    assert not loaded.exists()


def test_remove_deletes_the_batch(tmp_path):
    zone = LandingZone(tmp_path)
    batch = _land(zone)
    zone.remove(batch)
    zone.remove(batch)  # a second removal (after a kill) is harmless
    assert list((tmp_path / "acme" / "invoices").iterdir()) == []


def test_a_keys_only_batch_says_so_and_older_manifests_read_as_full_batches(tmp_path):
    zone = LandingZone(tmp_path)
    keys = _land(zone, keys_only=True)
    assert zone.ready_batches("acme", "invoices")[0].keys_only is True

    manifest = keys.path / "manifest.json"
    old = json.loads(manifest.read_text())
    del old["keys_only"]
    manifest.write_text(json.dumps(old))
    assert zone.ready_batches("acme", "invoices")[0].keys_only is False


def test_a_second_sync_of_a_connection_is_refused_naming_the_first(tmp_path):
    zone = LandingZone(tmp_path)
    with zone.sync_lock("acme", holder="Dagster run 1234abcd"):
        with pytest.raises(ConnectionBusyError) as refused:
            with zone.sync_lock("acme", holder="another run"):
                pass
        with zone.sync_lock("globex", holder="another run"):
            pass  # other connections are not held up
    message = str(refused.value)
    assert "connection 'acme' is already being synced by Dagster run 1234abcd" in message
    assert "process " in message and "wait for that one to finish" in message

    with zone.sync_lock("acme", holder="a later run"):
        pass


def test_the_lock_goes_with_a_killed_process(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from models.landing import LandingZone
                with LandingZone(Path({str(tmp_path)!r})).sync_lock("acme", holder="pid test"):
                    print("locked", flush=True)
                    time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConnectionBusyError, match=f"process {holder.pid} "):
            with LandingZone(tmp_path).sync_lock("acme", holder="test"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with LandingZone(tmp_path).sync_lock("acme", holder="test"):
        pass
