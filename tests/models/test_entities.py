"""Customer entities and consolidated balances, against the generator's truth, to the cent.

One project: one account per source sharing customers (`benchmarks.entity_data`), synced
through the real connectors. Links are compared pair by pair with the truth; totals by entity
with `sandbox.truth`, summed over each real customer's records.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from benchmarks.entity_data import (
    SOURCE_PREFIXES,
    SharedCustomers,
    shared_customers_project,
    true_pairs,
)
from models.entities.balances import (
    ExchangeRate,
    materialize_entity_reports,
    replace_exchange_rates,
)
from models.entities.resolve import (
    EntityOverrides,
    resolve_customer_entities,
    same_connection_without_strong_evidence,
)
from models.warehouse import Warehouse
from sandbox.generator import CURRENCIES
from sandbox.truth import invoice_truth, payment_truth

REPORTING = "USD"
_4 = Decimal("0.0001")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedCustomers]:
    root = tmp_path_factory.mktemp("entities")
    with shared_customers_project(root, "unit", customers=40, invoices=150, payments=120) as p:
        yield p


def _entity_pairs(project: SharedCustomers) -> set[frozenset[tuple[str, str]]]:
    rows = project_query(
        project, "SELECT entity_id, connection_id, customer_id FROM canonical.customer_entities"
    )
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for entity, connection_id, customer_id in rows:
        groups[entity].append((connection_id, customer_id))
    return {frozenset(p) for g in groups.values() for p in itertools.combinations(sorted(g), 2)}


def project_query(project: SharedCustomers, sql: str) -> list[tuple]:
    with Warehouse(project.config.warehouse).connect(read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _resolve(project: SharedCustomers, overrides: EntityOverrides | None = None) -> None:
    with Warehouse(project.config.warehouse).connect() as conn:
        resolve_customer_entities(conn, overrides)


def test_links_are_the_truths_pairs(project: SharedCustomers) -> None:
    _resolve(project)
    truth = true_pairs(project.party)
    predicted = _entity_pairs(project)
    assert len(truth) > 10  # customers really are shared across the sources
    assert predicted - truth == set()  # no two different customers merged
    missed = truth - predicted
    assert len(missed) <= len(truth) // 10, sorted(map(sorted, missed))
    with Warehouse(project.config.warehouse).connect(read_only=True) as conn:
        assert same_connection_without_strong_evidence(conn) == []
        (customers,) = conn.execute("SELECT count(*) FROM canonical.customer_entities").fetchone()
    assert customers == len(project.party)


def test_overrides_win(project: SharedCustomers) -> None:
    truth = sorted(sorted(pair) for pair in true_pairs(project.party))
    cross = next(p for p in truth if p[0][0] != p[1][0])
    strangers = next(
        (a, b)
        for a, b in itertools.combinations(sorted(project.party), 2)
        if project.party[a] != project.party[b] and a[0] != b[0]
    )
    overrides = EntityOverrides(
        same=(strangers,), never=(tuple(cross),), names={strangers[0]: "Joined By Hand"}
    )
    _resolve(project, overrides)
    pairs = _entity_pairs(project)
    assert frozenset(strangers) in pairs and frozenset(cross) not in pairs
    names = project_query(
        project,
        "SELECT DISTINCT entity_name FROM canonical.customer_entities "
        f"WHERE connection_id = '{strangers[1][0]}' AND customer_id = '{strangers[1][1]}'",
    )
    assert names == [("Joined By Hand",)]


def test_balances_by_entity_are_the_truths(project: SharedCustomers) -> None:
    """With the truth's pairs as overrides, entities are the real customers; every amount,
    in document currency and in the reporting currency, is the truth's to the cent."""
    same = tuple(tuple(sorted(pair)) for pair in true_pairs(project.party))
    _resolve(project, EntityOverrides(same=same))  # type: ignore[arg-type]
    as_of = next(iter(project.ledgers.values())).as_of
    others = sorted(set(CURRENCIES) - {REPORTING})
    rates = {code: Decimal("1.23456789") + i for i, code in enumerate(others)}
    supplied = [ExchangeRate(as_of - timedelta(days=3), c, REPORTING, r) for c, r in rates.items()]
    supplied.append(ExchangeRate(as_of + timedelta(days=1), "EUR", REPORTING, Decimal(9)))  # later
    rates[REPORTING] = Decimal(1)
    with Warehouse(project.config.warehouse).connect() as conn:
        replace_exchange_rates(conn, supplied)
        materialize_entity_reports(conn, as_of, REPORTING)
        rows = conn.execute(
            "SELECT e.entity_id, b.currency_code, b.open_balance, b.unapplied_cash, b.overdue, "
            "b.oldest_overdue_days, b.open_balance_reporting, b.unapplied_cash_reporting, "
            "b.missing_rates FROM reports.entity_balances b "
            "JOIN (SELECT DISTINCT entity_id, first(connection_id || ':' || customer_id) "
            "OVER (PARTITION BY entity_id) AS member FROM canonical.customer_entities) e "
            "USING (entity_id)"
        ).fetchall()
        bases = dict(conn.execute("FROM reports.base_currencies()").fetchall())
        members = dict(
            conn.execute(
                "SELECT connection_id || ':' || customer_id, entity_id "
                "FROM canonical.customer_entities"
            ).fetchall()
        )
    # Zoho and Carbon give every document its rate to the base currency, so their sums convert
    # from the base; Business Central and Simpro give none for a foreign-currency document (a
    # base-currency one says 1), so theirs convert from the document currency.
    rated = {
        name: base
        for name, base in bases.items()
        if name.startswith((SOURCE_PREFIXES["zoho_books"], SOURCE_PREFIXES["carbon"]))
    }
    actual = {(r[0], r[1]): tuple(r[2:]) for r in rows}
    assert actual == _expected(project, members, rates, rated)


def _expected(
    project: SharedCustomers,
    members: dict[str, str],
    rates: dict[str, Decimal],
    rated: dict[str, str],
) -> dict[tuple[str, str], tuple]:
    ids = {
        (name, c.customer_id): (name, project.customer_ids[name](c.customer_id))
        for name, ledger in project.ledgers.items()
        for c in ledger.customers
    }
    sums: dict[tuple[str, str], dict] = defaultdict(lambda: defaultdict(Decimal))
    parts: dict[tuple[str, str, str], dict] = defaultdict(lambda: defaultdict(Decimal))
    plain: dict[tuple[str, str, str], dict] = defaultdict(lambda: defaultdict(Decimal))
    oldest: dict[tuple[str, str], int | None] = {}
    for name, ledger in project.ledgers.items():
        for t in invoice_truth(ledger, ledger.as_of).values():
            if not t.receivable or t.open_balance == 0:
                continue
            inv = ledger.invoices[t.invoice_id - 1]
            entity = members[":".join(ids[(name, t.customer_id)])]
            key = (entity, t.currency_code)
            sums[key]["open"] += t.open_balance
            if t.days_past_due > 0:
                sums[key]["overdue"] += t.open_balance
            if t.open_balance > 0:
                oldest[key] = max(oldest.get(key) or 0, t.days_past_due)
            parts[(entity, name, t.currency_code)]["open"] += _round(
                t.open_balance * inv.exchange_rate
            )
            plain[(entity, name, t.currency_code)]["open"] += t.open_balance
        for p in payment_truth(ledger, ledger.as_of).values():
            if p.unapplied == 0:
                continue
            pay = ledger.payments[p.payment_id - 1]
            entity = members[":".join(ids[(name, p.customer_id)])]
            sums[(entity, p.currency_code)]["unapplied"] += p.unapplied
            parts[(entity, name, p.currency_code)]["unapplied"] += _round(
                p.unapplied * pay.exchange_rate
            )
            plain[(entity, name, p.currency_code)]["unapplied"] += p.unapplied
    reporting: dict[tuple[str, str], dict] = defaultdict(lambda: defaultdict(Decimal))
    for (entity, name, currency), amounts in plain.items():
        for what, amount in amounts.items():
            if currency == REPORTING:
                converted = amount
            elif name in rated:
                converted = _round(parts[(entity, name, currency)][what] * rates[rated[name]])
            else:
                converted = _round(amount * rates[currency])
            reporting[(entity, currency)][what] += converted
    return {
        key: (
            s["open"],
            s["unapplied"],
            s["overdue"],
            oldest.get(key),
            reporting[key]["open"],
            reporting[key]["unapplied"],
            None,
        )
        for key, s in sums.items()
    }


def _round(amount: Decimal) -> Decimal:
    return amount.quantize(_4, rounding=ROUND_HALF_UP)


def test_a_conversion_without_a_rate_is_flagged_not_guessed(project: SharedCustomers) -> None:
    _resolve(project)
    as_of = next(iter(project.ledgers.values())).as_of
    with Warehouse(project.config.warehouse).connect() as conn:
        replace_exchange_rates(conn, [])
        materialize_entity_reports(conn, as_of, "JPY")  # no source bills in yen
        rows = conn.execute(
            "SELECT open_balance_reporting, missing_rates FROM reports.entity_balances"
        ).fetchall()
    assert rows and all(amount is None and "no rate from" in missing for amount, missing in rows)


def test_entity_ids_stay_put(project: SharedCustomers, tmp_path: Path) -> None:
    _resolve(project)
    first = project_query(project, "SELECT * FROM canonical.customer_entities ORDER BY ALL")
    _resolve(project)
    assert project_query(project, "SELECT * FROM canonical.customer_entities ORDER BY ALL") == first


def test_a_customer_with_little_on_record_does_not_chain_two_that_differ(tmp_path: Path) -> None:
    """Two Sam Patels whose e-mail addresses differ are two people; a third record with the
    name alone would link to either, but not join both into one entity."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    people = [
        ("zoho-1", "zoho_books", "1", "person", "sam.patel1@mail.example"),
        ("simpro-1", "simpro", "2", "person", None),
        ("bc-1", "business_central", "3", "person", "sam.patel2@post.example"),
    ]
    with warehouse.connect() as conn:
        for connection_id, source, customer_id, kind, email in people:
            conn.execute(
                "INSERT INTO canonical.customers (connection_id, source, customer_id, name, "
                "kind, email, currency_code) VALUES (?, ?, ?, 'Sam Patel', ?, ?, 'USD')",
                [connection_id, source, customer_id, kind, email],
            )
        resolve_customer_entities(conn)
        entities = dict(
            conn.execute(
                "SELECT connection_id, entity_id FROM canonical.customer_entities"
            ).fetchall()
        )
        refused = conn.execute(
            "SELECT count(*) FROM canonical.customer_entity_links "
            "WHERE decision = 'refused: contact details differ within the entity'"
        ).fetchone()
    assert entities["zoho-1"] != entities["bc-1"]
    assert entities["simpro-1"] in (entities["zoho-1"], entities["bc-1"])
    assert refused == (1,)


def test_equal_person_names_weigh_by_how_common_the_surname_is(tmp_path: Path) -> None:
    """Two Ada Quenbys are likely one person: Quenby goes with no other first name here, and a
    source that does not tell persons from companies (Carbon) does not change that. Two Sam
    Patels, among an Ann, a Bob and a Raj Patel, are as likely namesakes."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    people = [
        ("zoho-1", "zoho_books", "1", "Ada Quenby", "person"),
        ("bc-1", "business_central", "1", "Ada Quenby", "person"),
        ("carbon-1", "carbon", "1", "Ada Quenby", None),
        ("zoho-1", "zoho_books", "2", "Sam Patel", "person"),
        ("bc-1", "business_central", "2", "Sam Patel", "person"),
        ("zoho-1", "zoho_books", "3", "Ann Patel", "person"),
        ("bc-1", "business_central", "3", "Bob Patel", "person"),
        ("simpro-1", "simpro", "3", "Raj Patel", "person"),
    ]
    with warehouse.connect() as conn:
        for connection_id, source, customer_id, name, kind in people:
            conn.execute(
                "INSERT INTO canonical.customers (connection_id, source, customer_id, name, "
                "kind, currency_code) VALUES (?, ?, ?, ?, ?, 'USD')",
                [connection_id, source, customer_id, name, kind],
            )
        resolve_customer_entities(conn)
        evidence = {
            (left, right): why.split(",")[0]
            for left, right, why in conn.execute(
                "SELECT connection_id_l || ':' || customer_id_l, "
                "connection_id_r || ':' || customer_id_r, evidence "
                "FROM canonical.customer_entity_links"
            ).fetchall()
        }
    quenbys = {"zoho-1:1", "bc-1:1", "carbon-1:1"}
    assert {why for pair, why in evidence.items() if set(pair) <= quenbys} == {
        "person name (rare surname)"
    }
    assert {why for pair, why in evidence.items() if set(pair) == {"zoho-1:2", "bc-1:2"}} == {
        "person name"
    }
