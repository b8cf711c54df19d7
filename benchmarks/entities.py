"""Entity resolution: train the stored model once, and measure it on seeds it never saw.

    python -m benchmarks.entities train          # rewrites models/entities/customer_model.json
    python -m benchmarks.entities run            # precision, recall, F1 and time per seed
    python -m benchmarks.entities run --customers 12500   # 100,000 customers in all

Both build warehouses of customers shared across all four sources (`benchmarks.entity_data`):
two accounts per source, synced from the sandboxes through the real connectors. Training uses
TRAINING_SEEDS only; `run` uses EVALUATION_SEEDS. Pairwise scores count pairs of (connection,
customer) records: a predicted pair is two records in one entity, a true pair two records of
one real customer (the generator's truth). The time is `resolve_customer_entities` alone.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from benchmarks.entity_data import shared_customers_project, true_pairs
from models.entities.model import MATCHES_PER_CUSTOMER, MODEL_PATH, untrained_settings
from models.entities.resolve import customer_features, resolve_customer_entities
from models.warehouse import Warehouse

TRAINING_SEEDS = ("train1", "train2")
EVALUATION_SEEDS = ("eval1", "eval2", "eval3")
PER_SOURCE = 2  # accounts per source
TRAINING_CUSTOMERS = 1_000  # per account
U_SAMPLE_PAIRS = 1e8
U_SEED = 19
UNSEEN = 1e-6  # m of a level no true pair reached
# u of a level no sampled pair reached: unseen in U_SAMPLE_PAIRS pairs, about one in that many.
UNSEEN_U = 1 / U_SAMPLE_PAIRS


@dataclass(frozen=True)
class Score:
    seed: str
    customers: int
    true_pairs: int
    predicted_pairs: int
    precision: float
    recall: float
    f1: float
    seconds: float


def train(root: Path, *, customers: int = TRAINING_CUSTOMERS, out: Path = MODEL_PATH) -> None:
    """u from random pairs (seeded), m from the truth's labels, matches per customer counted."""
    conn = duckdb.connect()
    records = matches = 0
    for n, seed in enumerate(TRAINING_SEEDS):
        with shared_customers_project(
            root / seed, seed, per_source=PER_SOURCE, customers=customers
        ) as project:
            with Warehouse(project.config.warehouse).connect() as warehouse:
                customer_features(warehouse)
                features = warehouse.execute("FROM customer_features").to_arrow_table()
            labels = pa.table(
                {
                    "unique_id": [f"{c}:{k}" for c, k in project.party],
                    "party": [f"{seed}/{who}" for who in project.party.values()],
                    "who": list(project.party.values()),
                }
            )
            records += len(project.party)
            matches += len(true_pairs(project.party))
        conn.register("features", features)
        conn.register("labels", labels)
        into = "CREATE TABLE training AS" if n == 0 else "INSERT INTO training"
        conn.execute(
            f"{into} SELECT f.* REPLACE ('{seed}/' || f.unique_id AS unique_id), l.party, "
            "l.who FROM features f JOIN labels l USING (unique_id)"
        )
    # u over pairs of different customers only: one record per real customer, so no random
    # pair is a match (with the matches in, they inflate u for every agreeing level). The pool
    # of shared customers is the same in every seed, so one record per customer across seeds.
    conn.execute(
        "CREATE TABLE one_record_each AS FROM training "
        "QUALIFY row_number() OVER (PARTITION BY who ORDER BY unique_id) = 1"
    )
    u_linker = Linker(
        DuckDBAPI(conn).register("one_record_each"), untrained_settings(), log_level=logging.WARNING
    )
    u_linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=U_SEED)
    linker = Linker(
        DuckDBAPI(conn).register("training"), untrained_settings(), log_level=logging.WARNING
    )
    linker.training.estimate_m_from_label_column("party")
    model = linker.misc.save_model_to_json()
    u_model = u_linker.misc.save_model_to_json()
    for comparison, u_comparison in zip(model["comparisons"], u_model["comparisons"], strict=True):
        levels = zip(
            comparison["comparison_levels"], u_comparison["comparison_levels"], strict=True
        )
        for level, u_level in levels:
            if level.get("is_null_level"):
                continue
            # A level no pair reached is rare, not impossible.
            level["m_probability"] = level.get("m_probability") or UNSEEN
            level["u_probability"] = u_level.get("u_probability") or UNSEEN_U
    model[MATCHES_PER_CUSTOMER] = round(matches / records, 6)
    model.pop("linker_uid", None)
    out.write_text(json.dumps(model, indent=2, ensure_ascii=False) + "\n")


def evaluate(root: Path, seed: str, *, customers: int) -> Score:
    with shared_customers_project(
        root / seed, seed, per_source=PER_SOURCE, customers=customers
    ) as project:
        with Warehouse(project.config.warehouse).connect() as conn:
            started = time.perf_counter()
            resolve_customer_entities(conn)
            seconds = time.perf_counter() - started
            rows = conn.execute(
                "SELECT entity_id, connection_id, customer_id FROM canonical.customer_entities"
            ).fetchall()
        truth = true_pairs(project.party)
    groups: dict[str, list[tuple[str, str]]] = {}
    for entity, connection_id, customer_id in rows:
        groups.setdefault(entity, []).append((connection_id, customer_id))
    predicted = {
        frozenset(pair)
        for members in groups.values()
        for pair in itertools.combinations(sorted(members), 2)
    }
    right = len(predicted & truth)
    precision = right / len(predicted) if predicted else 1.0
    recall = right / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(seed, len(rows), len(truth), len(predicted), precision, recall, f1, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.entities", description=__doc__)
    parser.add_argument("command", choices=("train", "run"))
    parser.add_argument("--customers", type=int, default=None, help="customers per account")
    parser.add_argument("--seeds", nargs="*", default=list(EVALUATION_SEEDS))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledgersync-entities-") as tmp:
        if args.command == "train":
            train(Path(tmp), customers=args.customers or TRAINING_CUSTOMERS)
            print(f"wrote {MODEL_PATH}")
            return 0
        for seed in args.seeds:
            if seed in TRAINING_SEEDS:
                parser.error(f"seed {seed!r} was used for training")
            s = evaluate(Path(tmp), seed, customers=args.customers or 2_500)
            print(
                f"seed {s.seed}: {s.customers} customers, {s.true_pairs} true pairs, "
                f"{s.predicted_pairs} predicted; precision {s.precision:.4f} recall "
                f"{s.recall:.4f} F1 {s.f1:.4f}; resolved in {s.seconds:.1f} s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
