"""Customers resolved into entities across every connection: `canonical.customer_entities`.

1. `features.sql` puts every live customer's name and contact details into one spelling.
2. splink (DuckDB backend) scores the pairs its blocking rules propose with the stored model
   (`models.entities.model`); pairs at or above `LINK_PROBABILITY` are candidate links.
3. Links are accepted best first into entities, under rules that outrank the model:
   - overrides win: "same" pairs are joined first, whatever the score, and no entity ever holds
     a "never the same" pair;
   - two customers of one connection share an entity only on strong evidence between the two
     of them (the same tax id, the same e-mail address, or the same phone and name, or a "same"
     override): a business rarely keeps one customer twice, so a weaker link through a customer
     of another connection must not merge them;
   - no entity holds two customers whose tax ids, postcodes or contact details differ (what
     the model never saw two records of one customer do), so a customer with little on record
     cannot chain two customers the model keeps apart.
4. Every customer gets a row (alone, it is an entity of one); every pair considered is kept in
   `canonical.customer_entity_links` with its probability, evidence and what was decided.

Entity ids are the hash of the entity's first member (by connection and customer id), so they
stay put while that customer does.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from models.entities.model import COMPARISONS, MODEL_PATH, model_settings
from models.transaction import transaction

__all__ = [
    "LINK_PROBABILITY",
    "CustomerKey",
    "customer_features",
    "EntityOverrides",
    "Resolution",
    "resolve_customer_entities",
    "same_connection_without_strong_evidence",
]

LINK_PROBABILITY = 0.95  # chosen on a training seed: precision ≥ 0.995 with the most recall
SHARED_DOMAIN_NAMES = 5  # a mail domain used by more differently named customers is a provider
MAX_KEY_CUSTOMERS = 200  # a name blocking key shared by more customers is not used

CustomerKey = tuple[str, str]  # (connection_id, customer_id)

_ENTITIES_DDL = """
CREATE OR REPLACE TABLE canonical.customer_entities (
    connection_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    entity_id VARCHAR NOT NULL,
    entity_name VARCHAR,
    match_probability DOUBLE,
    evidence VARCHAR,
    linked_connection_id VARCHAR,
    linked_customer_id VARCHAR
)"""
_LINKS_DDL = """
CREATE OR REPLACE TABLE canonical.customer_entity_links (
    connection_id_l VARCHAR NOT NULL,
    customer_id_l VARCHAR NOT NULL,
    connection_id_r VARCHAR NOT NULL,
    customer_id_r VARCHAR NOT NULL,
    match_probability DOUBLE,
    evidence VARCHAR,
    strong BOOLEAN NOT NULL,
    decision VARCHAR NOT NULL
)"""
_COMMENTS = {
    "customer_entities": "Every live customer of every connection and the entity (the one real "
    "customer) it belongs to; match_probability and evidence are those of the link that joined "
    "it, linked_* the customer at the other end.",
    "customer_entity_links": "Pairs of customers entity resolution considered: the model's "
    "probability, the evidence (what agreed), whether it is strong, and the decision.",
}


@dataclass(frozen=True, slots=True)
class EntityOverrides:
    """What the user says (customer_links.yaml): these win over the model."""

    same: tuple[tuple[CustomerKey, CustomerKey], ...] = ()
    never: tuple[tuple[CustomerKey, CustomerKey], ...] = ()
    names: Mapping[CustomerKey, str] = field(default_factory=dict)  # display name by member


@dataclass(frozen=True, slots=True)
class Resolution:
    customers: int
    entities: int
    multi_source_entities: int  # entities with customers of more than one connection
    links_by_evidence: dict[str, int]  # accepted links by their evidence


@dataclass(slots=True)
class _Link:
    left: CustomerKey
    right: CustomerKey
    probability: float | None
    evidence: str
    strong: bool
    decision: str = ""


def resolve_customer_entities(
    conn: duckdb.DuckDBPyConnection,
    overrides: EntityOverrides | None = None,
    *,
    model: Path = MODEL_PATH,
    link_probability: float = LINK_PROBABILITY,
) -> Resolution:
    """Rebuild the two entity tables from canonical.customers, in one transaction."""
    overrides = overrides or EntityOverrides()
    customer_features(conn)
    customers = conn.execute(
        "SELECT connection_id, customer_id, source, name FROM canonical.customers "
        "WHERE deleted_at IS NULL ORDER BY connection_id, customer_id"
    ).fetchall()
    candidates = _scored_pairs(conn, model, link_probability)
    details = _details(conn)
    links, members = _cluster([(c[0], c[1]) for c in customers], candidates, overrides, details)
    entities = _entity_rows(customers, links, members, overrides)
    try:
        with transaction(conn):
            _write(conn, "customer_entities", _ENTITIES_DDL, entities)
            _write(conn, "customer_entity_links", _LINKS_DDL, _link_rows(links))
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.customer_features")
    by_entity: dict[str, set[str]] = {}
    for row in entities:
        by_entity.setdefault(row["entity_id"], set()).add(row["connection_id"])
    accepted = Counter(link.evidence for link in links if link.decision in _JOINING)
    return Resolution(
        customers=len(entities),
        entities=len(by_entity),
        multi_source_entities=sum(len(c) > 1 for c in by_entity.values()),
        links_by_evidence=dict(sorted(accepted.items())),
    )


def same_connection_without_strong_evidence(
    conn: duckdb.DuckDBPyConnection,
) -> list[tuple[str, str, str, str]]:
    """(entity, connection, customer, customer) for two customers of one connection in one
    entity with no strong link or "same" override between them: what resolution never does."""
    rows = conn.execute(
        """
        SELECT a.entity_id, a.connection_id, a.customer_id, b.customer_id
        FROM canonical.customer_entities a
        JOIN canonical.customer_entities b
          ON b.entity_id = a.entity_id AND b.connection_id = a.connection_id
         AND b.customer_id > a.customer_id
        WHERE NOT EXISTS (
            SELECT 1 FROM canonical.customer_entity_links l
            WHERE l.decision IN ('linked', 'same (override)')
              AND (l.strong OR l.decision = 'same (override)')
              AND l.connection_id_l = a.connection_id AND l.connection_id_r = a.connection_id
              AND ((l.customer_id_l = a.customer_id AND l.customer_id_r = b.customer_id)
                OR (l.customer_id_l = b.customer_id AND l.customer_id_r = a.customer_id))
        )
        ORDER BY ALL
        """
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


_JOINING = ("linked", "same (override)")
_EQUAL_NAMES = (
    "name",
    "name (one kind unknown)",
    "name (kinds unknown)",
    "person name (rare surname)",
    "person name",
)
_FEATURES_SQL = resources.files("models.entities").joinpath("features.sql").read_text()


def customer_features(conn: duckdb.DuckDBPyConnection) -> None:
    """The temporary table `customer_features`: what the model compares, per live customer."""
    params = {"shared_domain_names": SHARED_DOMAIN_NAMES, "max_key_customers": MAX_KEY_CUSTOMERS}
    for statement in _FEATURES_SQL.split(";\n"):
        if statement.strip():
            conn.execute(statement, params if "$" in statement else None)


def _scored_pairs(
    conn: duckdb.DuckDBPyConnection, model: Path, link_probability: float
) -> list[_Link]:
    """The pairs the model scores at or above `link_probability`, best first."""
    (count,) = conn.execute("SELECT count(*) FROM customer_features").fetchone() or (0,)
    if count < 2:
        return []
    settings = model_settings(model, customers=count)
    labels = _level_labels(settings)
    db_api = DuckDBAPI(conn)
    linker = Linker(db_api.register("customer_features"), settings, log_level=logging.WARNING)
    predictions = linker.inference.predict(
        threshold_match_probability=link_probability, warning_mode="never"
    )
    gammas = ", ".join(f"gamma_{name}" for name in COMPARISONS)
    rows = conn.execute(
        f"SELECT unique_id_l, unique_id_r, match_probability, {gammas} "
        f"FROM {predictions.physical_name} "
        "ORDER BY match_probability DESC, unique_id_l, unique_id_r"
    ).fetchall()
    predictions.drop_table_from_database_and_remove_from_cache()
    links = []
    for left, right, probability, *levels in rows:
        agreed = [labels[name].get(level) for name, level in zip(COMPARISONS, levels, strict=True)]
        evidence = [label for label in agreed if label]
        links.append(
            _Link(_key(left), _key(right), float(probability), ", ".join(evidence), _strong(agreed))
        )
    return links


def _level_labels(settings: Mapping[str, Any]) -> dict[str, dict[int, str | None]]:
    """Each comparison's gamma values → the label of an agreeing level (None for "else")."""
    labels: dict[str, dict[int, str | None]] = {}
    for comparison in settings["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        labels[comparison["output_column_name"]] = {
            len(levels) - 1 - i: (None if lv["sql_condition"] == "ELSE" else lv["label_for_charts"])
            for i, lv in enumerate(levels)
        }
    return labels


def _strong(agreed: list[str | None]) -> bool:
    """The same tax id or e-mail address, or the same phone number and name."""
    name, contact, tax_id, phone = agreed[:4]
    return bool(tax_id) or contact == "email" or (bool(phone) and name in _EQUAL_NAMES)


def _key(unique_id: str) -> CustomerKey:
    connection_id, _, customer_id = unique_id.partition(":")
    return connection_id, customer_id


@dataclass(frozen=True, slots=True)
class _Details:
    """What can rule a pair out: the model never saw two records of one customer differ on
    their tax id, their postcode, or every contact detail (e-mail address and domain)."""

    tax_id: str | None
    postal_code: str | None
    email: str | None
    domain: str | None

    def conflicts_with(self, other: _Details) -> str | None:
        if self.tax_id and other.tax_id and self.tax_id != other.tax_id:
            return "tax id"
        if self.postal_code and other.postal_code and self.postal_code != other.postal_code:
            return "postcode"
        if (self.email or self.domain) and (other.email or other.domain):
            if not _equal(self.email, other.email) and not _equal(self.domain, other.domain):
                return "contact details"
        return None


def _equal(a: str | None, b: str | None) -> bool:
    return a is not None and a == b


def _details(conn: duckdb.DuckDBPyConnection) -> dict[CustomerKey, _Details]:
    rows = conn.execute(
        "SELECT unique_id, tax_id, postal_code, email, domain FROM customer_features"
    ).fetchall()
    return {_key(r[0]): _Details(r[1], r[2], r[3], r[4]) for r in rows}


def _cluster(
    customers: list[CustomerKey],
    candidates: list[_Link],
    overrides: EntityOverrides,
    details: Mapping[CustomerKey, _Details],
) -> tuple[list[_Link], dict[CustomerKey, list[CustomerKey]]]:
    """Accept links best first under the rules; every link gets its decision.

    A link joins two groups only if no two of their members are ruled out: a "never the same"
    override, two customers of one connection without strong evidence, or details that
    conflict (`_Details`) — so a customer with no contact details cannot chain two customers
    the model keeps apart into one entity.
    """
    known = set(customers)
    root = {c: c for c in customers}
    members: dict[CustomerKey, list[CustomerKey]] = {c: [c] for c in customers}
    never = {frozenset(pair) for pair in overrides.never}
    strong = {frozenset((link.left, link.right)) for link in candidates if link.strong}
    strong |= {frozenset(pair) for pair in overrides.same}

    def find(c: CustomerKey) -> CustomerKey:
        while root[c] != c:
            root[c] = root[root[c]]
            c = root[c]
        return c

    def refusal(a: CustomerKey, b: CustomerKey) -> str | None:
        for x in members[a]:
            for y in members[b]:
                if frozenset((x, y)) in never:
                    return "refused: never the same (override)"
                if x[0] == y[0] and frozenset((x, y)) not in strong:
                    return "refused: same connection without strong evidence"
                if frozenset((x, y)) not in strong and x in details and y in details:
                    conflict = details[x].conflicts_with(details[y])
                    if conflict:
                        return f"refused: {conflict} differ within the entity"
        return None

    def join(a: CustomerKey, b: CustomerKey) -> None:
        if len(members[a]) < len(members[b]) or (len(members[a]) == len(members[b]) and b < a):
            a, b = b, a
        root[b] = a
        members[a].extend(members.pop(b))

    links = [
        _Link(left, right, None, "override", True, "same (override)")
        for left, right in overrides.same
        if left in known and right in known
    ]
    for link in links:
        a, b = find(link.left), find(link.right)
        if a != b:
            join(a, b)
    for link in candidates:
        a, b = find(link.left), find(link.right)
        if a == b:
            link.decision = "linked" if link.left[0] != link.right[0] or link.strong else "implied"
            continue
        reason = refusal(a, b)
        if reason is None:
            join(a, b)
        link.decision = reason or "linked"
    for left, right in overrides.never:
        if left in known and right in known and find(left) == find(right):
            raise ValueError(
                f"customer links: {left} and {right} are marked never the same, but 'same' "
                "pairs join them"
            )
    return links + candidates, {find(c): members[find(c)] for c in customers}


def _entity_rows(
    customers: list[tuple[Any, ...]],
    links: list[_Link],
    members: Mapping[CustomerKey, list[CustomerKey]],
    overrides: EntityOverrides,
) -> list[dict[str, Any]]:
    names = {(c[0], c[1]): str(c[3]) for c in customers}
    best: dict[CustomerKey, _Link] = {}
    for link in links:
        if link.decision in _JOINING:
            for end in (link.left, link.right):
                best.setdefault(end, link)
    entity_of: dict[CustomerKey, tuple[str, str]] = {}
    for group in members.values():
        first = min(group)
        entity_id = "E" + hashlib.sha256(f"{first[0]}:{first[1]}".encode()).hexdigest()[:12]
        entity_of.update(dict.fromkeys(group, (entity_id, _display_name(group, names, overrides))))
    rows = []
    for connection_id, customer_id, source, _ in customers:
        key = (connection_id, customer_id)
        entity_id, entity_name = entity_of[key]
        joined = best.get(key)
        other = None if joined is None else joined.right if joined.left == key else joined.left
        rows.append(
            {
                "connection_id": connection_id,
                "source": source,
                "customer_id": customer_id,
                "entity_id": entity_id,
                "entity_name": entity_name,
                "match_probability": None if joined is None else joined.probability,
                "evidence": None if joined is None else joined.evidence,
                "linked_connection_id": None if other is None else other[0],
                "linked_customer_id": None if other is None else other[1],
            }
        )
    return rows


def _display_name(
    group: list[CustomerKey], names: Mapping[CustomerKey, str], overrides: EntityOverrides
) -> str:
    """The user's name for a member, else the name most members use (the first such by key)."""
    chosen = [overrides.names[c] for c in sorted(group) if c in overrides.names]
    if chosen:
        return chosen[0]
    counts = Counter(names[c] for c in group)
    return min(counts, key=lambda name: (-counts[name], name))


def _link_rows(links: Iterable[_Link]) -> list[dict[str, Any]]:
    return [
        {
            "connection_id_l": link.left[0],
            "customer_id_l": link.left[1],
            "connection_id_r": link.right[0],
            "customer_id_r": link.right[1],
            "match_probability": link.probability,
            "evidence": link.evidence,
            "strong": link.strong,
            "decision": link.decision,
        }
        for link in links
    ]


def _write(
    conn: duckdb.DuckDBPyConnection, name: str, ddl: str, rows: list[dict[str, Any]]
) -> None:
    conn.execute(ddl)
    columns = [c[0] for c in conn.execute(f"SELECT * FROM canonical.{name} LIMIT 0").description]
    batch = pa.Table.from_pylist(rows, schema=None) if rows else None
    if batch is not None:
        conn.register("entity_rows", batch)
        listed = ", ".join(columns)
        conn.execute(f"INSERT INTO canonical.{name} ({listed}) SELECT {listed} FROM entity_rows")
        conn.unregister("entity_rows")
    comment = _COMMENTS[name].replace("'", "''")
    conn.execute(f"COMMENT ON TABLE canonical.{name} IS '{comment}'")
