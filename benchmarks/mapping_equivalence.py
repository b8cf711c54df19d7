"""Do two versions of the mappings and reports build the same warehouse from the same raw data?

A refactor of `models.mapping`, `models.normalize` or `models.reports` must not change a row:

    python -m benchmarks.mapping_equivalence build DIR [--seed 7]
    python -m benchmarks.mapping_equivalence dump DIR BEFORE.json   # with the old code
    python -m benchmarks.mapping_equivalence dump DIR AFTER.json    # with the new code
    python -m benchmarks.mapping_equivalence compare BEFORE.json AFTER.json

`build` syncs the default project's connections (the embedded sandboxes of all four sources)
into DIR, then fuzzes the raw payloads in place: a seeded share of records gets one top-level
value replaced by text, null, an object, a list, a negative, over-precise or absent value, so
the quarantine paths run as well as the clean ones. Record ids and the lines of payment details
are left alone: the comparison is of mappings, not of duplicate keys. `dump` copies the
warehouse, rebuilds every connection's canonical rows and every report from raw with whatever
code is installed, and writes every canonical and report table, rows sorted.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import yaml

from benchmarks.warehouse_diff import differences, snapshot
from models.reports import REPORTS
from pipelines.config import load_config
from pipelines.run_once import rebuild, sync_connections

__all__ = ["build", "dump", "fuzz_raw", "main"]

_PROJECT = Path(__file__).resolve().parent.parent / "connections.yaml"
_COMPARED = ("canonical.", "reports.")
_SHARE = 0.3  # of records fuzzed
_LEFT_ALONE = frozenset({"invoices"})  # payment detail lines (compared lowercased)
_REPLACEMENTS: tuple[object, ...] = (
    "not a number",
    None,
    {"value": 10},
    [1, 2],
    -5,
    12.34567,
    "2026-13-45",
    "",
)
_ABSENT = object()
_OTHER_AGING = ", edges := [10, 20, 45, 400], basis := 'issue_date'"


def build(directory: Path, seed: int) -> None:
    """Sync the default project's sandboxes into `directory`, then fuzz the raw payloads."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load(_PROJECT.read_text())
    settings |= {"warehouse": "data/ledgersync.duckdb", "landing": "data/landing"}
    config_path = directory / "connections.yaml"
    config_path.write_text(yaml.safe_dump(settings))
    failures = sync_connections(load_config(config_path))
    if failures:
        raise SystemExit(f"sync failed: {failures}")
    (directory / "as_of").write_text(date.today().isoformat())
    with duckdb.connect(str(directory / "data" / "ledgersync.duckdb")) as conn:
        print(f"seed {seed}: fuzzed {fuzz_raw(conn, random.Random(seed))} records")


def fuzz_raw(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> int:
    """Replace one top-level value of a share of the raw records; the number changed."""
    tables = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' "
        "AND table_type = 'BASE TABLE' AND NOT ends_with(table_name, '__history') ORDER BY 1"
    ).fetchall()
    changed = 0
    for (table,) in tables:
        rows = conn.execute(
            f'SELECT connection_id, record_id, payload FROM raw."{table}" ORDER BY 1, 2'
        ).fetchall()
        for connection_id, record_id, payload in rows:
            record = json.loads(payload)
            keys = [
                k
                for k in sorted(record)
                if not k.lower().endswith("id") and k.lower() not in _LEFT_ALONE
            ]
            if not keys or rng.random() >= _SHARE:
                continue
            key = rng.choice(keys)
            replacement = rng.choice((*_REPLACEMENTS, _ABSENT))
            if replacement is _ABSENT:
                del record[key]
            else:
                record[key] = replacement
            conn.execute(
                f'UPDATE raw."{table}" SET payload = ? WHERE connection_id = ? AND record_id = ?',
                [json.dumps(record), connection_id, record_id],
            )
            changed += 1
    return changed


def dump(directory: Path, out: Path) -> None:
    """Rebuild a copy of the warehouse from raw with the installed code; write its tables."""
    work = directory / "dump"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(directory / "data", work / "data", ignore=shutil.ignore_patterns("landing"))
    shutil.copy(directory / "connections.yaml", work / "connections.yaml")
    as_of = date.fromisoformat((directory / "as_of").read_text())
    rebuild(load_config(work / "connections.yaml"), as_of=as_of)
    warehouse = work / "data" / "ledgersync.duckdb"
    tables = {
        name: [[str(value) for value in row] for row in rows]
        for name, rows in snapshot(warehouse).items()
        if name.startswith(_COMPARED)
    }
    tables |= _macro_results(warehouse, as_of)
    out.write_text(json.dumps(tables))
    rows = sum(len(t) for t in tables.values())
    print(f"{len(tables)} tables, {rows} rows -> {out}")


def _macro_results(warehouse: Path, as_of: date) -> dict[str, list[list[str]]]:
    """Each report's macro, as an analyst calls it: by default, and with other aging."""
    calls = [(name, "default", "") for name in REPORTS]
    calls += [(name, "aging", _OTHER_AGING) for name in ("invoice_balances", "ar_aging")]
    results = {}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for name, label, arguments in calls:
            rows = conn.execute(f"FROM reports.{name}_at(?::DATE{arguments})", [as_of])
            results[f"macro.{name}_at.{label}"] = sorted(
                [str(value) for value in row] for row in rows.fetchall()
            )
    return results


def compare(before: Path, after: Path) -> int:
    expected, actual = (
        {name: [tuple(row) for row in rows] for name, rows in json.loads(p.read_text()).items()}
        for p in (before, after)
    )
    found = differences(expected, actual)
    for line in found:
        print(line)
    same = sum(1 for name in expected if expected[name] == actual.get(name))
    print(f"{same} of {len(expected)} tables identical")
    return 1 if found else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mapping_equivalence")
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build")
    build_cmd.add_argument("directory", type=Path)
    build_cmd.add_argument("--seed", type=int, default=7)
    dump_cmd = commands.add_parser("dump")
    dump_cmd.add_argument("directory", type=Path)
    dump_cmd.add_argument("out", type=Path)
    compare_cmd = commands.add_parser("compare")
    compare_cmd.add_argument("before", type=Path)
    compare_cmd.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.directory, args.seed)
    elif args.command == "dump":
        dump(args.directory, args.out)
    else:
        return compare(args.before, args.after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
