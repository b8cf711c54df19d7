"""The record-linkage model: what splink compares, how it blocks, and its trained parameters.

The parameters are trained once, on generator ledgers whose truth is known
(`python -m benchmarks.entities train`), and stored beside this module in
`customer_model.json`. Resolution only predicts with them: the same warehouse always resolves
the same way, a tiny warehouse gets the same judgement as a large one (expectation maximisation
on a few dozen customers would not converge on anything trustworthy), and nothing is trained
while a sync waits.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

__all__ = [
    "COMPARISONS",
    "MATCHES_PER_CUSTOMER",
    "MODEL_PATH",
    "model_settings",
    "untrained_settings",
]

MODEL_PATH = Path(str(resources.files("models.entities").joinpath("customer_model.json")))

# What each comparison's agreement levels are called in `evidence`, best level first.
MATCHES_PER_CUSTOMER = "ledgersync_matches_per_customer"  # stored beside splink's parameters

COMPARISONS = ("name", "contact", "tax_id", "phone", "postal_code", "currency_code")

# A surname worn here with at most this many first names: one person's and a relative's. Two
# records of one full name, a person and a person or a customer of unknown kind (Carbon's), are
# then most likely one person; with a common surname (worn with ever more first names as the
# warehouse grows) they are often namesakes. `surname_first_names` is counted over persons only,
# so a customer of unknown kind takes its partner's (`greatest` skips NULLs).
RARE_SURNAME = 2


def _name() -> cl.CustomComparison:
    """Company names agree more tellingly than person names: two "Sam Patel"s are common, two
    persons of one full name with a rare surname are not (`RARE_SURNAME`). Where
    a connection does not tell persons from companies (its kind is NULL: Carbon calls every
    customer a company), an equal name is weaker evidence than between two known companies."""
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_norm"),
            cll.CustomLevel(
                "name_norm_l = name_norm_r AND kind_l = 'company' AND kind_r = 'company'"
            ).configure(label_for_charts="name"),
            cll.CustomLevel(
                "name_norm_l = name_norm_r AND ((kind_l IS NULL AND kind_r = 'company') "
                "OR (kind_r IS NULL AND kind_l = 'company'))"
            ).configure(label_for_charts="name (one kind unknown)"),
            cll.CustomLevel(
                "name_norm_l = name_norm_r AND kind_l IS NULL AND kind_r IS NULL"
            ).configure(label_for_charts="name (kinds unknown)"),
            cll.CustomLevel(
                "name_norm_l = name_norm_r "
                "AND coalesce(kind_l, 'person') = 'person' "
                "AND coalesce(kind_r, 'person') = 'person' "
                f"AND greatest(surname_first_names_l, surname_first_names_r) <= {RARE_SURNAME}"
            ).configure(label_for_charts="person name (rare surname)"),
            cll.ExactMatchLevel("name_norm").configure(label_for_charts="person name"),
            cll.DamerauLevenshteinLevel("name_norm", 1).configure(label_for_charts="name~"),
            cll.JaroWinklerLevel("name_norm", 0.9).configure(label_for_charts="name≈"),
            cll.ElseLevel(),
        ],
    )


def _contact() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="contact",
        comparison_levels=[
            cll.CustomLevel(
                "(email_l IS NULL AND domain_l IS NULL) OR (email_r IS NULL AND domain_r IS NULL)"
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("email").configure(label_for_charts="email"),
            cll.ExactMatchLevel("domain").configure(label_for_charts="domain"),
            cll.ElseLevel(),
        ],
    )


def _exact(column: str, label: str) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column).configure(label_for_charts=label),
            cll.ElseLevel(),
        ],
    )


def untrained_settings() -> SettingsCreator:
    """The comparisons and blocking rules, before training."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            _name(),
            _contact(),
            _exact("tax_id", "tax id"),
            _exact("phone", "phone"),
            _exact("postal_code", "postcode"),
            _exact("currency_code", "currency"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("tax_id"),
            block_on("email"),
            block_on("domain"),
            block_on("phone"),
            block_on("name_norm"),
            block_on("name_keys", arrays_to_explode=["name_keys"]),
        ],
        additional_columns_to_retain=["connection_id", "kind"],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
    )


def model_settings(path: Path = MODEL_PATH, *, customers: int) -> dict[str, Any]:
    """The trained model as splink reads it, for a warehouse of `customers` customers.

    The prior, the chance that two customers picked at random are one, shrinks as the
    warehouse grows: each customer has about the same number of records elsewhere whatever
    the size, among ever more pairs. So the model stores that number (`MATCHES_PER_CUSTOMER`,
    counted in training) and the prior is set from it here.
    """
    settings: dict[str, Any] = json.loads(path.read_text())
    matches = float(settings.pop(MATCHES_PER_CUSTOMER))
    settings["probability_two_random_records_match"] = min(0.5, 2 * matches / max(1, customers - 1))
    return settings
