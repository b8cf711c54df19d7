"""customer_links.yaml and the rates file: validated on load, errors name the file and line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_config
from pipelines.entity_config import load_rates, overrides_for

_CONNECTIONS = """\
warehouse: data/ledgersync.duckdb
customer_links: links.yaml
reporting:
  currency: EUR
  rates: rates.csv
connections:
  - id: zoho-acme-us
    source: zoho_books
    sandbox: embedded
  - id: bc-cronus-us
    source: business_central
    sandbox: embedded
"""


def _project(tmp_path: Path, links: str) -> Path:
    (tmp_path / "connections.yaml").write_text(_CONNECTIONS)
    (tmp_path / "links.yaml").write_text(links)
    return tmp_path / "connections.yaml"


def test_links_load_as_overrides(tmp_path: Path) -> None:
    path = _project(
        tmp_path,
        "same:\n  - [zoho-acme-us:46000001, 'bc-cronus-us:1f6c-0e52']\n"
        "never:\n  - [zoho-acme-us:46000002, bc-cronus-us:77]\n"
        "names:\n  zoho-acme-us:46000001: ACME Corporation\n",
    )
    config = load_config(path)
    assert config.customer_links == tmp_path / "links.yaml"
    assert config.reporting.currency == "EUR"
    assert config.reporting.rates == tmp_path / "rates.csv"
    overrides = overrides_for(config)
    assert overrides.same == ((("zoho-acme-us", "46000001"), ("bc-cronus-us", "1f6c-0e52")),)
    assert overrides.never == ((("zoho-acme-us", "46000002"), ("bc-cronus-us", "77")),)
    assert overrides.names == {("zoho-acme-us", "46000001"): "ACME Corporation"}


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        (
            "same:\n  - [zoho-acme-us:1, simpro-x:2]\n",
            "links.yaml:2: same.0: no connection 'simpro-x' in the connections file",
        ),
        (
            "never:\n  - [zoho-acme-us-1, bc-cronus-us:2]\n",
            "links.yaml:2: never.0.0: a customer is",
        ),
        (
            "same:\n  - [zoho-acme-us:1, zoho-acme-us:1]\n",
            "links.yaml:2: same.0: a customer is always",
        ),
        (
            "same:\n  - [zoho-acme-us:1, bc-cronus-us:2]\n"
            "never:\n  - [bc-cronus-us:2, zoho-acme-us:1]\n",
            "links.yaml:4: never.0: the same pair is also under same",
        ),
        ("names:\n  zoho-acme-us:1: ''\n", "links.yaml:2: names.zoho-acme-us:1"),
        ("sames: []\n", "links.yaml:1: sames: Extra inputs are not permitted"),
    ],
)
def test_bad_links_name_file_and_line(tmp_path: Path, links: str, expected: str) -> None:
    config = load_config(_project(tmp_path, links))
    with pytest.raises(ConfigError) as error:
        overrides_for(config)
    assert expected in str(error.value)


def test_rates_load(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("date,from,to,rate\n2026-10-30,USD,EUR,0.92150000\n\n2026-10-31,GBP,EUR,1.15\n")
    rates = load_rates(path)
    assert [(r.day, r.from_currency, r.to_currency, r.rate) for r in rates] == [
        (date(2026, 10, 30), "USD", "EUR", Decimal("0.92150000")),
        (date(2026, 10, 31), "GBP", "EUR", Decimal("1.15")),
    ]


def test_bad_rates_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(
        "date,from,to,rate\n2026-10-30,usd,EUR,0.9\n2026-13-01,USD,EUR,0.9\n"
        "2026-10-30,USD,EUR,-1\n2026-10-30,USD,EUR,0.123456789\n"
    )
    with pytest.raises(ConfigError) as error:
        load_rates(path)
    message = str(error.value)
    assert f"{path}:2: currency 'usd'" in message
    assert f"{path}:3: date '2026-13-01'" in message
    assert f"{path}:4: rate '-1' must be above 0" in message
    assert f"{path}:5: rate '0.123456789'" in message
    path.write_text("day,from,to,rate\n")
    with pytest.raises(ConfigError, match=r"rates.csv:1: the first line must be date,from,to"):
        load_rates(path)
