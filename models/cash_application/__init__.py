"""Cash application: which open invoices each unapplied payment most likely pays (suggestions
only, never written back to a source)."""

from models.cash_application.engine import (
    REPORT,
    CashApplicationSettings,
    SuggestionRun,
    suggest_cash_applications,
)

__all__ = ["REPORT", "CashApplicationSettings", "SuggestionRun", "suggest_cash_applications"]
