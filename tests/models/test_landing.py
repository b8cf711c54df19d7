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
    assert list(batch.page_bodies()) == [b'{"invoices": []}']


def test_pages_come_back_byte_for_byte_from_a_few_segments(tmp_path):
    zone = LandingZone(tmp_path, segment_bytes=100)
    bodies = [b"", b"x" * 60, "caf\u00e9 \u2014 \U0001f4b6".encode(), b"y" * 150, b"z" * 39, b"{}"]
    writer = zone.new_batch("acme", "invoices")
    for body in bodies:
        writer.write_page(body, records=1)
    batch = writer.seal(cursor=None, full_refresh=False)

    assert list(batch.page_bodies()) == bodies
    assert [s.page_sizes for s in batch.segments] == [(0, 60, 14), (150,), (39, 2)]
    assert sorted(p.name for p in batch.path.iterdir()) == [
        "manifest.json",
        "segment-000001.pages",
        "segment-000002.pages",
        "segment-000003.pages",
    ]


def test_a_batch_without_pages_has_no_segments(tmp_path):
    batch = _land(LandingZone(tmp_path), pages=0)
    assert (batch.pages, batch.segments, list(batch.page_bodies())) == (0, (), [])


def test_a_ready_batch_landed_one_file_per_page_still_reads(tmp_path):
    # The layout before segments, as a killed run of an older version may have left it.
    batch = _land(LandingZone(tmp_path), pages=2)
    manifest = json.loads((batch.path / "manifest.json").read_text())
    pages = list(batch.page_bodies())
    for segment in batch.segments:
        (batch.path / segment.name).unlink()
    for number, body in enumerate(pages, start=1):
        (batch.path / f"{number:06d}.json").write_bytes(body)
    del manifest["segments"]
    (batch.path / "manifest.json").write_text(json.dumps(manifest))

    (old,) = LandingZone(tmp_path).ready_batches("acme", "invoices")
    assert list(old.page_bodies()) == pages


def test_a_partial_batch_left_by_a_killed_run_is_discarded(tmp_path):
    zone = LandingZone(tmp_path)
    abandoned = zone.new_batch("acme", "invoices")
    abandoned.write_page(b'{"invoices": [{"id": 1}]}', records=1)

    with zone.sync_lock("acme", holder="the next sync"):
        batch = _land(zone)

    assert zone.ready_batches("acme", "invoices") == [batch]
    assert sorted(p.name for p in (tmp_path / "acme" / "invoices").iterdir()) == [
        f"{batch.batch_id}.ready"
    ]
    abandoned.discard()  # closes the file a killed run would have lost with its process


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
    with zone.sync_lock("acme", holder="the next sync"):
        assert not loaded.exists()


def test_the_sync_lock_discards_a_killed_runs_leftovers_in_every_stream(tmp_path):
    """Not only in the streams the next sync lands: one it never reaches (it fails before, or
    the stream is derived) must not keep a dead run's half-written or half-deleted batch."""
    zone = LandingZone(tmp_path)
    half_written = zone.new_batch("acme", "payments")
    half_written.write_page(b'{"payments": [{"id": 1}]}', records=1)
    half_deleted = _land(zone, "payment_details")
    half_deleted.path.rename(half_deleted.path.with_name(f"{half_deleted.batch_id}.loaded"))
    kept = _land(zone, "invoices")

    with zone.sync_lock("acme", holder="the next sync"):
        left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("acme/*/*"))
    assert left == [f"acme/invoices/{kept.batch_id}.ready"]
    half_written.discard()  # closes the file a killed run would have lost with its process


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
        holder.communicate()  # reaps it and closes its pipe
    with LandingZone(tmp_path).sync_lock("acme", holder="test"):
        pass
