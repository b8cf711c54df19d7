"""dlt, the nearest peer: its REST API source over the same pages into DuckDB.

The source is declared as dlt's documentation shows for a page-number API: the page-number
paginator stopping on `page_context.has_more_page`, records under the listing's key, the
listing's id as primary key. `--disposition merge` (the default) upserts on that key, as a
sync that can be re-run must; `--format parquet` is dlt's fastest loader file format.

Prints one JSON line: records, seconds, the dlt version and configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import dlt
import httpx
from dlt.sources.rest_api import rest_api_source

from benchmarks.dataset import LISTINGS, PAGE_SIZE, Dataset
from benchmarks.limit_client import access_token

PRIMARY_KEYS = {
    "contacts": "contact_id",
    "invoices": "invoice_id",
    "customerpayments": "payment_id",
}


def run(
    url: str,
    dataset: Dataset,
    work: Path,
    listings: list[str],
    disposition: str,
    file_format: str | None,
) -> dict[str, Any]:
    # dlt reads its settings from the environment; keep its state inside this run's directory.
    os.environ["DLT_DATA_DIR"] = str(work / "dlt_data")
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    started = time.perf_counter()
    with httpx.Client(base_url=url) as client:
        token = access_token(client)
    source = rest_api_source(
        {
            "client": {
                "base_url": f"{url}/books/v3/",
                "auth": {
                    "type": "api_key",
                    "name": "Authorization",
                    "api_key": f"Zoho-oauthtoken {token}",
                    "location": "header",
                },
                "paginator": {
                    "type": "page_number",
                    "base_page": 1,
                    "page_param": "page",
                    "total_path": None,
                    "has_more_path": "page_context.has_more_page",
                },
            },
            "resource_defaults": {
                "write_disposition": disposition,
                "endpoint": {
                    "params": {"organization_id": dataset.organization_id, "per_page": PAGE_SIZE}
                },
            },
            "resources": [
                {
                    "name": listing,
                    "primary_key": PRIMARY_KEYS[listing],
                    "endpoint": {"path": listing, "data_selector": listing},
                }
                for listing in listings
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="ledgersync_bench",
        destination=dlt.destinations.duckdb(str(work / "dlt.duckdb")),
        dataset_name="zoho",
        pipelines_dir=str(work / "dlt_pipelines"),
    )
    pipeline.run(source, loader_file_format=file_format)
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as sql:
        stored = sum(sql.execute_sql(f"SELECT count(*) FROM {t}")[0][0] for t in listings)
    return {
        "records": stored,
        "seconds": seconds,
        "dlt_version": dlt.__version__,
        "disposition": disposition,
        "format": file_format,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--listing", action="append", choices=LISTINGS, dest="listings")
    parser.add_argument("--disposition", choices=("merge", "append"), default="merge")
    parser.add_argument("--format", choices=("parquet", "default"), default="parquet")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(
        args.url,
        Dataset.load(args.dataset),
        args.work,
        args.listings or list(LISTINGS),
        args.disposition,
        None if args.format == "default" else args.format,  # type: ignore[arg-type]
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
