"""The user's word on customer entities, validated on load: customer_links.yaml and the rates file.

customer_links.yaml (its path is `customer_links:` in connections.yaml) says which customers
are, or are never, the same real customer, and what to call an entity; it wins over entity
resolution. A customer is `<connection id>:<customer id>` (the ids in canonical.customers):

    same:
      - [zoho-acme-us:460000000026049, bc-cronus-us:1f6c0e52-...]
    never:
      - [zoho-acme-us:460000000026050, simpro-summit-au:31]
    names:
      zoho-acme-us:460000000026049: ACME Corporation

The rates file (`reporting: rates:`) is CSV with the header `date,from,to,rate`: on `date`,
1 `from` = `rate` `to`. Errors name the file, the line and the fix.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import pydantic
import yaml

from models.entities.balances import ExchangeRate
from models.entities.resolve import CustomerKey, EntityOverrides
from pipelines.config import ConfigError, LedgersyncConfig, line_of

__all__ = ["load_customer_links", "load_rates", "overrides_for"]

_RATE_COLUMNS = ["date", "from", "to", "rate"]

Customer = Annotated[str, pydantic.Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}:.+$")]


class _Links(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    same: list[tuple[Customer, Customer]] = []
    never: list[tuple[Customer, Customer]] = []
    names: dict[Customer, Annotated[str, pydantic.Field(min_length=1)]] = {}


def overrides_for(config: LedgersyncConfig) -> EntityOverrides:
    """The overrides the connections file points at, or none."""
    if config.customer_links is None:
        return EntityOverrides()
    return load_customer_links(config.customer_links, config)


def load_customer_links(path: Path, config: LedgersyncConfig) -> EntityOverrides:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no customer links file (customer_links: in the connections file names "
            "it). Create it, or remove that line."
        ) from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    try:
        links = _Links.model_validate(data)
    except pydantic.ValidationError as error:
        problems = [
            f"{path}:{line_of(root, tuple(p['loc']))}: "
            f"{'.'.join(str(part) for part in p['loc']) or '(top level)'}: "
            f"{_explain(p['msg'])}"
            for p in error.errors()
        ]
        raise ConfigError("invalid customer links file:\n  " + "\n  ".join(problems)) from None
    known = {c.id for c in config.connections}
    problems = []
    for section in ("same", "never"):
        for n, pair in enumerate(getattr(links, section)):
            for side, customer in enumerate(pair):
                if _key(customer)[0] not in known:
                    problems.append(
                        f"{path}:{line_of(root, (section, n, side))}: {section}.{n}: no connection "
                        f"{_key(customer)[0]!r} in the connections file (it has {sorted(known)})"
                    )
            if pair[0] == pair[1]:
                problems.append(
                    f"{path}:{line_of(root, (section, n))}: {section}.{n}: a customer is "
                    "always itself; name two different customers"
                )
    both = {frozenset(p) for p in links.same} & {frozenset(p) for p in links.never}
    for n, pair in enumerate(links.never):
        if frozenset(pair) in both:
            problems.append(
                f"{path}:{line_of(root, ('never', n))}: never.{n}: the same pair is also "
                "under same; keep one"
            )
    if problems:
        raise ConfigError("invalid customer links file:\n  " + "\n  ".join(problems))
    return EntityOverrides(
        same=tuple((_key(a), _key(b)) for a, b in links.same),
        never=tuple((_key(a), _key(b)) for a, b in links.never),
        names={_key(customer): name for customer, name in links.names.items()},
    )


def load_rates(path: Path) -> list[ExchangeRate]:
    try:
        handle = path.open(newline="")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no rates file (reporting: rates: in the connections file names it)"
        ) from None
    rates, problems = [], []
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != _RATE_COLUMNS:
            raise ConfigError(f"{path}:1: the first line must be {','.join(_RATE_COLUMNS)}")
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            try:
                rates.append(_rate(row))
            except ValueError as error:
                problems.append(f"{path}:{line}: {error}")
    if problems:
        raise ConfigError("invalid rates file:\n  " + "\n  ".join(problems))
    return rates


def _rate(row: list[str]) -> ExchangeRate:
    if len(row) != 4:
        raise ValueError(f"expected 4 values (date,from,to,rate), got {len(row)}")
    day, source, target, value = (cell.strip() for cell in row)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"date {day!r} is not YYYY-MM-DD") from None
    for code in (source, target):
        if len(code) != 3 or not code.isalpha() or not code.isupper():
            raise ValueError(f"currency {code!r} is not an ISO 4217 code like USD")
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"rate {value!r} is not a number") from None
    if not rate.is_finite() or rate <= 0 or rate != rate.quantize(Decimal("1e-8")):
        raise ValueError(f"rate {value!r} must be above 0 with at most 8 decimal places")
    return ExchangeRate(when, source, target, rate)


def _key(customer: str) -> CustomerKey:
    connection_id, _, customer_id = customer.partition(":")
    return connection_id, customer_id


def _explain(message: str) -> str:
    if "should match pattern" in message:
        return "a customer is written <connection id>:<customer id>, e.g. zoho-acme-us:4600000"
    return message.removeprefix("Value error, ")
