"""Asset checks on the canonical tables: unique keys, and what sits in quarantine."""

# No `from __future__ import annotations` here: Dagster reads these signatures at runtime.
import dagster as dg

from models.schema import CANONICAL_TABLES
from pipelines.defs.canonical import canonical_key
from pipelines.defs.resources import LedgersyncResource

__all__ = ["build_canonical_checks"]


def _unique_key_check(table_name: str, key: list[str]) -> dg.AssetChecksDefinition:
    key_sql = ", ".join(key)

    @dg.asset_check(
        asset=canonical_key(table_name),
        name=f"{table_name}_keys_unique",
        description=f"No two rows of canonical.{table_name} share ({key_sql}).",
        blocking=True,
    )
    def _check(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
        with ledgersync.warehouse().connect(read_only=True) as conn:
            duplicates = conn.execute(
                f"SELECT {key_sql}, count(*) AS copies FROM canonical.{table_name} "
                f"GROUP BY {key_sql} HAVING count(*) > 1 ORDER BY copies DESC LIMIT 5"
            ).fetchall()
            (total,) = conn.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM canonical.{table_name} "
                f"GROUP BY {key_sql} HAVING count(*) > 1)"
            ).fetchone()
        return dg.AssetCheckResult(
            passed=total == 0,
            metadata={
                "duplicate_keys": total,
                "examples": dg.MetadataValue.json([list(map(str, row)) for row in duplicates]),
            },
        )

    return _check


@dg.asset_check(
    asset=canonical_key("rejected_records"),
    name="no_quarantined_records",
    description="Records that failed mapping or loading; each loads once its source corrects it.",
)
def no_quarantined_records(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
    with ledgersync.warehouse().connect(read_only=True) as conn:
        by_stream = conn.execute(
            "SELECT connection_id, stream, count(*) FROM canonical.rejected_records "
            "GROUP BY 1, 2 ORDER BY 3 DESC"
        ).fetchall()
        examples = conn.execute(
            "SELECT connection_id, stream, record_id, reason FROM canonical.rejected_records "
            "ORDER BY last_seen_at DESC, record_id LIMIT 10"
        ).fetchall()
    count = sum(n for *_, n in by_stream)
    return dg.AssetCheckResult(
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined": count,
            "by_connection_and_stream": dg.MetadataValue.json(
                {f"{c}/{s}": n for c, s, n in by_stream}
            ),
            "examples": dg.MetadataValue.md(
                "\n".join(f"- `{c}` {s} `{r}`: {why}" for c, s, r, why in examples) or "none"
            ),
        },
    )


def build_canonical_checks() -> list[dg.AssetChecksDefinition]:
    checks = [
        _unique_key_check(table.name, [c.name for c in table.primary_key.columns])
        for table in CANONICAL_TABLES
    ]
    return [*checks, no_quarantined_records]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=build_canonical_checks())
