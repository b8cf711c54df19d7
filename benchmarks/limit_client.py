"""The practical limit: the least a client can do to get the same pages into DuckDB.

httpx fetches each page, orjson parses it, pyarrow turns the records into one Arrow batch, and
a second thread appends the batches to a DuckDB table while the next page is fetched. No landing,
no raw payloads, no exact money (amounts are doubles), no checks: an upper bound, not a product.

Prints one JSON line: records, requests, seconds.
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pyarrow as pa

from benchmarks.dataset import LISTINGS, PAGE_SIZE, Dataset
from benchmarks.pageserver import CLIENT

_DONE = None


def access_token(client: httpx.Client) -> str:
    response = client.post(
        "/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT.client_id,
            "client_secret": CLIENT.client_secret,
            "refresh_token": CLIENT.refresh_token,
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


class Loader(threading.Thread):
    """Appends queued Arrow batches to DuckDB tables; a column first seen later is added."""

    def __init__(self, database: Path) -> None:
        super().__init__(name="duckdb-loader")
        self.batches: queue.Queue[tuple[str, pa.RecordBatch] | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self._database = database

    def run(self) -> None:
        conn = duckdb.connect(str(self._database))
        conn.execute("BEGIN TRANSACTION")  # one commit: a commit per page would wait on fsync
        columns: dict[str, set[str]] = {}
        while (item := self.batches.get()) is not _DONE:
            if self.error is not None:
                continue  # keep draining so the producer never blocks
            table, batch = item
            try:
                known = columns.get(table)
                if known is None:
                    conn.execute(f"CREATE TABLE {table} AS SELECT * FROM batch")
                    columns[table] = set(batch.schema.names)
                    continue
                for name in set(batch.schema.names) - known:
                    kind = conn.execute(f'SELECT typeof("{name}") FROM batch LIMIT 1').fetchone()
                    conn.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {kind[0]}')
                    known.add(name)
                conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM batch")
            except BaseException as error:  # reported by the producer after the run
                self.error = error
        conn.execute("COMMIT" if self.error is None else "ROLLBACK")
        conn.close()


def run(url: str, dataset: Dataset, work: Path, listings: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    loader = Loader(work / "limit.duckdb")
    loader.start()
    records = requests = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        headers = {"Authorization": f"Zoho-oauthtoken {access_token(client)}"}
        for listing in listings:
            page, more = 1, True
            while more:
                response = client.get(
                    f"/books/v3/{listing}",
                    params={
                        "organization_id": dataset.organization_id,
                        "page": page,
                        "per_page": PAGE_SIZE,
                    },
                    headers=headers,
                )
                response.raise_for_status()
                requests += 1
                body = orjson.loads(response.content)
                rows = body[listing]
                if rows:
                    loader.batches.put((listing, pa.RecordBatch.from_pylist(rows)))
                records += len(rows)
                more = bool(body["page_context"]["has_more_page"])
                page += 1
    loader.batches.put(_DONE)
    loader.join()
    if loader.error is not None:
        raise loader.error
    seconds = time.perf_counter() - started
    with duckdb.connect(str(work / "limit.duckdb"), read_only=True) as conn:
        stored = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in listings)
    return {"records": records, "stored": stored, "requests": requests, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--listing", action="append", choices=LISTINGS, dest="listings")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args.url, Dataset.load(args.dataset), args.work, args.listings or list(LISTINGS))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
