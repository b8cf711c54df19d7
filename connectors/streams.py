"""What every source connector declares and offers, independent of its API's style."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from models.raw import RawStream

if TYPE_CHECKING:
    from connectors.pagination import Page
    from models.mapping import Mapping

__all__ = ["Connector", "Stream"]


@dataclass(frozen=True, slots=True)
class Stream:
    """One collection a source serves.

    `records_path` and `id_path` are JSON paths into a landed page and into one record;
    `cursor_field` names the record's last-modified time for incremental syncs; a stream with a
    `parent` is fetched one record per parent id (Zoho's payment detail for each payment). A
    stream that is `complete_every_sync` is listed in full each time, so whatever the listing
    lacks is marked vanished (Business Central's unposted payment lines disappear on posting).
    """

    name: str
    records_path: str
    id_path: str
    cursor_field: str | None = None
    parent: str | None = None
    complete_every_sync: bool = False

    def raw(self, source: str) -> RawStream:
        return RawStream(source, self.name, self.records_path, self.id_path)


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

    def close(self) -> None: ...
