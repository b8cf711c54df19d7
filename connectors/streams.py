"""What every source connector declares and offers, independent of its API's style."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from models.raw import RawStream

if TYPE_CHECKING:
    from connectors.pagination import Page
    from models.mapping import Mapping

__all__ = [
    "ChildDerivation",
    "check_stream_order",
    "Connector",
    "DerivingConnector",
    "KeyListing",
    "Reread",
    "Stream",
]


@dataclass(frozen=True, slots=True)
class Reread:
    """Which of a stream's records an incremental sync reads again because records of other
    streams changed: derived from the warehouse each sync, so a sync killed between the
    streams still reads them when run again.

    Without `through` or `named_at`, the ids of the `changed` streams' records stored (or found
    vanished) since the listing that last moved this stream's cursor began
    (`models.raw.changed_since_listed`). With
    ``through=(stream, columns, target)``, the `target` values of that stream's records whose
    `columns` name one of those changed records (Carbon: the invoices the settlements of a
    changed payment or memo apply to). With `named_at`, one JSON path for each `changed` stream,
    the ids its records name at that path, a ``[*]`` path naming several (Simpro: the customers
    of the invoices and payments that changed, whose `AmountOwing` moves without their
    `DateModified`)."""

    changed: tuple[str, ...]
    through: tuple[str, tuple[str, ...], str] | None = None
    named_at: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.through is not None and self.named_at:
            raise ValueError("a Reread follows `through` or `named_at`, not both")
        if self.named_at and len(self.named_at) != len(self.changed):
            raise ValueError("`named_at` gives a JSON path for each `changed` stream, in order")

    @property
    def streams(self) -> tuple[str, ...]:
        """Every stream whose stored records the re-read ids come from."""
        return (*self.changed, self.through[0]) if self.through else self.changed


@dataclass(frozen=True, slots=True)
class ChildDerivation:
    """How a dependent stream's records follow from its parent's list rows, where the vendor's
    contract makes them exact, so that only the rest cost a request each (Zoho's payment detail).

    Both queries are SQL over the source's raw tables (`{stream}` placeholders, as in a
    `Mapping`'s relation) for connection `$connection_id`, run where the loader runs: a million
    list rows never cross into Python.

    - `candidates` reads the temporary table `pending(record_id)` (parents whose dependent record
      is missing or stale) and yields `record_id, payload` for each parent whose list row alone
      may settle the record: the payload is the record as derived, in the shape the source would
      send it. Every other pending parent is fetched.
    - `confirmed` reads the temporary table `candidates(record_id, payload)` and yields the
      `record_id` of each candidate the rest of the warehouse confirms (Zoho: the invoice's own
      totals). An unconfirmed candidate is fetched.

    `same(derived, fetched)` says whether a fetched record agrees with what was derived: each
    sync fetches a sample of the records it derived and compares (continuous verification).
    """

    candidates: str
    confirmed: str
    same: Callable[[MappingOf[str, Any], MappingOf[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class Stream:
    """One collection a source serves.

    `records_path` and `id_path` are JSON paths into a landed page and into one record;
    `cursor_field` names the record's last-modified time for incremental syncs; a stream with a
    `parent` is fetched one record per parent id (Zoho's payment detail for each payment). A
    stream that is `complete_every_sync` is listed in full each time, so whatever the listing
    lacks is marked vanished (Business Central's unposted payment lines disappear on posting).
    A stream that should `keep_history` keeps every superseded version of a record in
    `raw.<source>__<stream>__history` (Business Central invoices' remaining amounts over time).
    A stream with `rereads` is passed, as `parent_ids`, the ids they derive (see `Reread`).
    Where the cursor field is null, `cursor_fallback_field` tells the record's change time
    (Carbon's `updatedAt` is null until a row's first edit; its `createdAt` then says).
    A dependent stream with a `derivation` holds, beside the records fetched, records derived
    from the parent's list rows: their payload's `models.raw.DERIVED_FROM` names the parent.
    `after` names the other streams whose stored records it reads (see `syncs_after`).
    """

    name: str
    records_path: str
    id_path: str
    cursor_field: str | None = None
    parent: str | None = None
    complete_every_sync: bool = False
    keep_history: bool = False
    cursor_fallback_field: str | None = None
    rereads: Reread | None = None
    derivation: ChildDerivation | None = None
    after: tuple[str, ...] = ()

    def syncs_after(self) -> tuple[str, ...]:
        """The streams whose stored records this one reads, so it syncs after them: its
        `parent`, the streams in `after` and those its `rereads` derive from (a stream that
        re-reads what changed since its last listing began, listed while those load, would read
        them all again on its next sync)."""
        names = [*filter(None, [self.parent]), *self.after]
        if self.rereads is not None:
            names += self.rereads.streams
        return tuple(dict.fromkeys(names))

    def cursor_value(self, record: dict[str, Any]) -> Any:
        """The record's change time as received (None without a cursor field)."""
        if self.cursor_field is None:
            return None
        value = record.get(self.cursor_field)
        if value is None and self.cursor_fallback_field is not None:
            return record.get(self.cursor_fallback_field)
        return value

    def raw(self, source: str) -> RawStream:
        return RawStream(
            source,
            self.name,
            self.records_path,
            self.id_path,
            keep_history=self.keep_history,
            cursor_path=f"$.{self.cursor_field}" if self.cursor_field else None,
        )


def check_stream_order(source: str, streams: Sequence[Stream]) -> None:
    """Every stream a stream reads is one of the source's, declared before it (one stream after
    another syncs them in that order; side by side, a stream waits for them)."""
    declared: set[str] = set()
    for stream in streams:
        missing = set(stream.syncs_after()) - declared
        if missing:
            raise ValueError(
                f"{source}: stream {stream.name!r} reads {sorted(missing)}, which is not "
                "declared before it"
            )
        declared.add(stream.name)


class Connector(Protocol):
    """A configured connection to one account of one source."""

    source: str
    connection_id: str
    streams: tuple[Stream, ...]
    mappings: tuple[Mapping, ...]

    def check(self) -> str:
        """Prove the credentials and the account work, without syncing; say what was found."""
        ...

    def extract(
        self, stream: Stream, *, since: datetime | None, parent_ids: Sequence[str] = ()
    ) -> Iterator[Page]:
        """Pages of `stream` changed at or after `since` (all of them when None)."""
        ...

    def parse_timestamp(self, value: str) -> datetime:
        """A cursor field's value as an aware datetime."""
        ...

    @property
    def request_count(self) -> int: ...

    def stream_request_count(self, stream: str) -> int:
        """The requests sent for `stream` so far, retries included: a stream's own figure when
        streams sync side by side."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class DerivingConnector(Protocol):
    """Optional: a connector whose connection chooses whether a stream's `derivation` is used."""

    def derivation_sample(self, stream: Stream) -> float | None:
        """The share of derived records fetched anyway to verify them, or None where the
        connection fetches every record of the stream."""
        ...


@runtime_checkable
class KeyListing(Protocol):
    """Optional: a connector whose API can list just the ids of a stream's records, and fetch
    records by id.

    The periodic full-key reconciliation then costs a listing of ids instead of a listing of
    whole records: it marks what the source no longer has as deleted, and the records the
    source has but the warehouse lacks (a row a listing skipped) are fetched by id in the same
    sync.
    """

    def extract_keys(self, stream: Stream) -> Iterator[Page] | None:
        """Pages of every record's id alone (the stream's `records_path` and `id_path` apply),
        or None where the API cannot select columns for this stream."""
        ...

    def extract_by_ids(self, stream: Stream, ids: Sequence[str]) -> Iterator[Page]:
        """Pages of the records of `stream` with these ids, whole (as `extract` reads them);
        an id the source no longer has is left out. Only for streams `extract_keys` lists."""
        ...
