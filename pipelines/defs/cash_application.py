"""Cash application suggestions as an asset of the reports group, with checks of its invariants."""

# No `from __future__ import annotations` here: Dagster reads these signatures at runtime.
from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
import duckdb
from pydantic import Field

from models.cash_application import REPORT, CashApplicationSettings, suggest_cash_applications
from models.cash_application.columns import TABLE_COMMENT
from models.reports import install_report_macros
from pipelines.defs.canonical import WAREHOUSE_POOL
from pipelines.defs.ingest import OWNER
from pipelines.defs.report_metadata import column_schema, markdown_table
from pipelines.defs.reports import report_asset_key
from pipelines.defs.resources import LedgersyncResource

__all__ = ["cash_application_checks", "cash_application_suggestions"]

KEY = report_asset_key(REPORT)
_PREVIEW = 10
_EXAMPLES = 10


class CashApplicationConfig(dg.Config):
    as_of: str | None = Field(
        default=None,
        description=(
            "The as-of date (YYYY-MM-DD); by default the date the reports were last written "
            "for (today in UTC if they never were)."
        ),
    )
    auto_min_confidence: float = Field(
        default=0.99,
        gt=0,
        le=1,
        description="The confidence from which a top suggestion is in the auto band.",
    )


@dg.asset(
    key=KEY,
    description=(
        f"{TABLE_COMMENT}\n\nSee docs/analyst-guide.md, 'Cash application', for how to read it."
    ),
    deps=[report_asset_key("unapplied_payments"), report_asset_key("invoice_balances")],
    group_name="reports",
    kinds={"duckdb", "sql", "python"},
    owners=[OWNER],
    pool=WAREHOUSE_POOL,
)
def cash_application_suggestions(
    config: CashApplicationConfig, ledgersync: LedgersyncResource
) -> dg.MaterializeResult:
    settings = CashApplicationSettings(auto_min_confidence=Decimal(str(config.auto_min_confidence)))
    with ledgersync.warehouse().connect() as conn:
        as_of = date.fromisoformat(config.as_of) if config.as_of else _reports_date(conn)
        install_report_macros(conn)
        run = suggest_cash_applications(conn, as_of, settings)
        bands = conn.execute(
            f"SELECT band, count(*), sum(unapplied_amount) FROM reports.{REPORT} "
            "WHERE rank = 1 GROUP BY band ORDER BY band"
        ).fetchall()
        preview = conn.execute(
            f"""
            SELECT payment_number, currency_code, unapplied_amount,
                   array_to_string(invoice_numbers, ', '), confidence, band, evidence
            FROM reports.{REPORT} WHERE rank = 1
            ORDER BY confidence DESC, unapplied_amount DESC, payment_id LIMIT {_PREVIEW}
            """
        ).fetchall()
        schema = column_schema(conn, REPORT)
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "dagster/row_count": run.rows,
            "dagster/column_schema": schema,
            "payments_with_suggestions": run.payments,
            **{f"top_suggestions_{band}": count for band, count, _ in bands},
            "by_band": dg.MetadataValue.md(
                markdown_table(["band of the top suggestion", "payments", "unapplied"], bands)
            ),
            "preview": dg.MetadataValue.md(
                markdown_table(
                    ["payment", "currency", "unapplied", "invoices", "confidence", "band"]
                    + ["evidence"],
                    preview,
                )
            ),
            "set_searches_over_time_budget": run.subset_targets_skipped,
        }
    )


def _reports_date(conn: duckdb.DuckDBPyConnection) -> date:
    """The as-of date of the last written reports, so suggestions agree with them."""
    try:
        (written,) = conn.execute(
            "SELECT max(as_of) FROM reports.unapplied_payments"
        ).fetchone() or (None,)
    except duckdb.CatalogException:
        written = None
    return written if isinstance(written, date) else datetime.now(UTC).date()


@dg.asset_check(
    asset=KEY,
    name="suggestions_within_balances",
    description=(
        "No suggestion settles more than an invoice's open balance (or nothing), uses more than "
        "the payment's unapplied cash, or proposes an invoice twice."
    ),
)
def suggestions_within_balances(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
    return _violations(
        ledgersync,
        f"""
        WITH lines AS (
            SELECT s.connection_id, s.payment_id, s.rank,
                   unnest(s.invoice_ids) AS invoice_id, unnest(s.settles) AS settle
            FROM reports.{REPORT} s
        )
        SELECT 'settles more than open', l.connection_id, l.payment_id, l.rank
        FROM lines l
        JOIN reports.invoice_ledger_at((SELECT max(as_of) FROM reports.{REPORT})) i
          ON i.connection_id = l.connection_id AND i.invoice_id = l.invoice_id
        WHERE l.settle <= 0 OR l.settle > i.open_balance
        UNION ALL
        SELECT 'uses more than unapplied', connection_id, payment_id, rank
        FROM reports.{REPORT}
        WHERE payment_amount_used > unapplied_amount OR left_unapplied < 0
        UNION ALL
        SELECT 'invoice twice', connection_id, payment_id, rank FROM reports.{REPORT}
        WHERE len(invoice_ids) <> len(list_distinct(invoice_ids))
        """,
        ["rule", "connection", "payment", "rank"],
    )


@dg.asset_check(
    asset=KEY,
    name="auto_band_only_for_top_suggestions",
    description=(
        "Only a payment's top suggestion can be in the auto band, and ranks run 1, 2, … per "
        "payment, so accepting the auto band applies each payment at most once."
    ),
)
def auto_band_only_for_top_suggestions(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
    return _violations(
        ledgersync,
        f"""
        SELECT connection_id, payer_kind, payment_id, list(rank ORDER BY rank) AS ranks,
               count(*) FILTER (WHERE band = 'auto') AS auto
        FROM reports.{REPORT} GROUP BY ALL
        HAVING auto > 1 OR bool_or(band = 'auto' AND rank <> 1)
            OR ranks <> range(1, count(*) + 1)
        """,
        ["connection", "kind", "payment", "ranks", "auto"],
    )


def _violations(
    ledgersync: LedgersyncResource, query: str, header: list[str]
) -> dg.AssetCheckResult:
    """Passes when the query finds nothing; shows the first rows it finds."""
    with ledgersync.warehouse().connect(read_only=True) as conn:
        wrong = conn.execute(f"FROM ({query}) ORDER BY ALL LIMIT {_EXAMPLES}").fetchall()
    return dg.AssetCheckResult(
        passed=not wrong,
        metadata={"violations": dg.MetadataValue.md(markdown_table(header, wrong))},
    )


def cash_application_checks() -> list[dg.AssetChecksDefinition]:
    return [suggestions_within_balances, auto_band_only_for_top_suggestions]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[cash_application_suggestions], asset_checks=cash_application_checks()
    )
