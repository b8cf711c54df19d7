"""Customers that several accounts share: one business billed from more than one system.

A *party* is a real customer (a company or a person). Every generated customer is one party's
record in one account, and `Customer.party` keeps which (the truth; no sandbox serves it).
`plant_shared_customers` gives an account's customers their identities:

- ~40% are records of *shared* parties, drawn from the pool `0 .. n-1` (n = the account's
  customer count), so accounts of similar size share many customers and any two accounts some;
- ~1.5% are a second record of a party already in the account (a duplicate in one system),
  always with the same email, phone and tax id: the strong evidence a merge needs;
- the rest are the account's own parties, seen nowhere else.

Persons are named from 40 first names and, for COMMON_SURNAME_SHARE of them, 40 common
surnames, else a rarer generated surname. Every record of a party is rendered with the noise
real books have: legal-form variants ("Ltd", "Ltd.", "Limited", none), "The", "&" or "and",
capitals, the odd typo, a different mailbox at the same domain or none, phone numbers in
several formats, missing or another line, tax ids and postcodes present in some records only.
Each account bills in its own currencies. Hard negatives are planted too: every tenth pool
party is a different business named like the one before it (another trade or a regional arm,
with its own domain, phone and tax id), or a person with the same name as the one before it (a
relative with the same surname where that is rare).

Everything is drawn from generators seeded by the party's key and the record's account and id,
so the account's other draws, and so its invoices and payments, do not change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sandbox.ledger import Customer, CustomerKind

__all__ = ["Party", "party", "plant_shared_customers"]

SHARED_SHARE = 0.40
DUPLICATE_SHARE = 0.015
SIBLING_EVERY = 10  # every tenth pool party is a hard negative of the one before it
COMMON_SURNAME_SHARE = 0.12

_ONSETS = "b br c d f g k l m n p r s t v"
_VOWELS = "a e i o u"
_SYLLABLES = tuple(o + v for o in _ONSETS.split() for v in _VOWELS.split())  # 75
_ENDINGS = ("", "n", "r", "s", "x", "l", "th", "m")
_NOUNS = tuple(
    "Traders Logistics Foods Engineering Studios Supplies Holdings Builders Labs Outfitters"
    " Partners Freight Electrical Plumbing Dental Motors Bakery Pharmacy Printing Media Textiles"
    " Hardware Farms Timber Marine Couriers Robotics Consulting Interiors Roofing Optics Brewing"
    " Packaging Security Cleaning Catering Analytics Kitchens Clinic Tooling".split()
)
_QUALIFIERS = tuple(
    "Northern Southern Pacific Atlantic Metro United Coastal Highland Valley Capital Central"
    " Western Eastern Royal Golden Summit Harbour River Urban Prime".split()
)
_REGIONS = ("(NZ)", "(UK)", "(AU)", "(US)", "(EU)", "International", "Group", "Services")
_SUFFIXES = {
    "Ltd": ("Ltd", "Ltd.", "Limited", "LTD", ""),
    "Inc": ("Inc", "Inc.", "Incorporated", ""),
    "LLC": ("LLC", "L.L.C.", ""),
    "Pty Ltd": ("Pty Ltd", "Pty. Ltd.", "Pty Limited", ""),
    "GmbH": ("GmbH", ""),
    "Co": ("Co", "Co.", "Company", ""),
}
_FIRST_NAMES = tuple(
    "Ana Ben Chloe Dev Elif Farah Greg Hana Ivan Jade Kofi Lena Mateo Nia Omar Priya Quinn Rosa"
    " Sam Tariq Uma Victor Wen Xavier Yara Zane Aroha Bruno Carmen Dmitri Esme Felix Gita Hugo"
    " Ines Jonas Keiko Liam Maya Noah".split()
)
_LAST_NAMES = tuple(
    "Abbott Baker Castro Dubois Evans Fischer Garcia Hughes Ito Jensen Kowalski Lopez Murphy"
    " Nguyen Okafor Patel Quinn Rossi Silva Tanaka Ueda Varga Walsh Xu Young Zimmer Brennan"
    " Costa Davies Eriksen Fraser Gupta Hall Ibrahim Jones Kaur Larsen Moreau Novak Ortiz".split()
)
_FREE_MAIL = ("mail.example", "post.example", "inbox.example")
_MAILBOXES = ("accounts", "ap", "billing", "finance", "invoices", "payables")


@dataclass(frozen=True, slots=True)
class Party:
    """The truth about one customer, before any system records it."""

    key: str
    kind: CustomerKind
    words: str  # the name without legal form ("Korvane Foods") or "First Last"
    suffix: str  # legal form family ("Ltd"), "" for persons
    the: bool  # the name starts with "The"
    email: str
    mailboxes: tuple[str, ...]  # other addresses at the same domain
    phone: str  # ten digits
    tax_id: str | None  # nine digits
    postal_code: str
    website: str | None


def party(index: int) -> Party:
    """Pool party `index`; every SIBLING_EVERY-th is a hard negative of the one before it."""
    key = f"pool:{index}"
    if index % SIBLING_EVERY == 1:
        return _sibling(party(index - 1), key, _rng(key))
    return _party(key, _rng(key))


def plant_shared_customers(account: str, customers: Sequence[Customer]) -> list[Customer]:
    """The account's customers with the identities of their parties (see the module doc)."""
    n = len(customers)
    planted: list[Customer] = []
    evident: list[Customer] = []  # records a duplicate can share email and phone with
    held: set[str] = set()
    for customer in customers:
        rng = _rng(f"{account}:{customer.customer_id}")
        draw = rng.random()
        if draw < DUPLICATE_SHARE and evident:
            planted.append(_duplicate(rng.choice(evident), customer, rng))
            continue
        who = party(rng.randrange(n)) if draw < SHARED_SHARE else None
        if who is None or who.key in held:
            who = _party(f"{account}:{customer.customer_id}", rng)
        held.add(who.key)
        record = _record(who, customer, rng)
        planted.append(record)
        if record.email and record.phone:
            evident.append(record)
    return planted


def _rng(key: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "big"))


def _word(rng: random.Random) -> str:
    syllables = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3, 3))))
    return (syllables + rng.choice(_ENDINGS)).capitalize()


def _surname(rng: random.Random) -> str:
    """A common surname for COMMON_SURNAME_SHARE of persons, else a rarer one: a few dozen
    surnames are worn by about a tenth of people (as in national name statistics), the rest
    spread thinly, so two persons share a full name often, but not at every turn."""
    return rng.choice(_LAST_NAMES) if rng.random() < COMMON_SURNAME_SHARE else _word(rng)


def _party(key: str, rng: random.Random) -> Party:
    phone = f"{rng.randrange(2, 10)}{rng.randrange(10**9):09d}"
    postal_code = f"{rng.randrange(1000, 99999)}"
    if rng.random() < 0.3:
        first, last = rng.choice(_FIRST_NAMES), _surname(rng)
        domain = rng.choice(_FREE_MAIL)
        email = f"{first.lower()}.{last.lower()}{rng.randrange(100)}@{domain}"
        tax_id = f"{rng.randrange(10**9):09d}" if rng.random() < 0.1 else None
        return Party(
            key, "person", f"{first} {last}", "", False, email, (), phone, tax_id, postal_code,
            None,
        )  # fmt: skip
    words = [_word(rng), rng.choice(_NOUNS)]
    if rng.random() < 0.5:
        words.insert(0, rng.choice(_QUALIFIERS))
    if rng.random() < 0.15:
        words.insert(-1, "&")
        words.insert(-1, _word(rng))
    return _company(key, rng, " ".join(words), phone, postal_code)


def _company(key: str, rng: random.Random, words: str, phone: str, postal_code: str) -> Party:
    domain = re.sub(r"[^a-z0-9]", "", words.lower().replace("&", "")) + ".example"
    mailbox, *others = rng.sample(_MAILBOXES, 3)
    return Party(
        key=key,
        kind="company",
        words=words,
        suffix=rng.choice(tuple(_SUFFIXES)),
        the=rng.random() < 0.08,
        email=f"{mailbox}@{domain}",
        mailboxes=tuple(f"{box}@{domain}" for box in others),
        phone=phone,
        tax_id=f"{rng.randrange(10**9):09d}" if rng.random() < 0.85 else None,
        postal_code=postal_code,
        website=domain,
    )


def _sibling(of: Party, key: str, rng: random.Random) -> Party:
    """A different business or person named like `of`: for a person, a namesake if the surname
    is common, else a relative (same surname, another first name); for a company another trade
    or a regional arm; its own contact details and tax id, sometimes `of`'s postcode."""
    phone = f"{rng.randrange(2, 10)}{rng.randrange(10**9):09d}"
    postal_code = of.postal_code if rng.random() < 0.3 else f"{rng.randrange(1000, 99999)}"
    if of.kind == "person":
        first, last = of.words.split(" ")
        if last not in _LAST_NAMES:  # a rare surname: a relative, not a namesake
            first = rng.choice([name for name in _FIRST_NAMES if name != first])
        email = f"{first.lower()}.{last.lower()}{rng.randrange(100, 200)}@{rng.choice(_FREE_MAIL)}"
        return dataclasses.replace(
            of,
            key=key,
            words=f"{first} {last}",
            email=email,
            phone=phone,
            postal_code=postal_code,
            tax_id=None,
        )
    *core, noun = of.words.split(" ")
    if rng.random() < 0.5:
        words = " ".join([*core, rng.choice([n for n in _NOUNS if n != noun])])
    else:
        words = f"{of.words} {rng.choice(_REGIONS)}"
    return _company(key, rng, words, phone, postal_code)


def _record(who: Party, customer: Customer, rng: random.Random) -> Customer:
    """`customer` (its number, terms, dates) as a record of `who`, with noise."""
    return dataclasses.replace(
        customer,
        name=_name(who, rng),
        kind=who.kind,
        email=_email(who, rng),
        phone=_phone(who.phone, rng) if rng.random() < 0.75 else _other_phone(rng),
        tax_id=_tax_id(who.tax_id, rng) if who.tax_id and rng.random() < 0.8 else None,
        postal_code=_postal_code(who.postal_code, rng) if rng.random() < 0.85 else None,
        website=_website(who.website, rng) if who.website and rng.random() < 0.6 else None,
        party=who.key,
    )


def _duplicate(first: Customer, customer: Customer, rng: random.Random) -> Customer:
    """A second record of `first`'s party in the same account, sharing its strong evidence."""
    return dataclasses.replace(
        first,
        customer_id=customer.customer_id,
        number=customer.number,
        name=first.name.upper() if rng.random() < 0.5 else first.name,
        payment_terms_days=customer.payment_terms_days,
        credit_limit=customer.credit_limit,
        status=customer.status,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


def _name(who: Party, rng: random.Random) -> str:
    words = who.words
    if who.kind == "company" and "&" in words and rng.random() < 0.4:
        words = words.replace("&", "and")
    if rng.random() < 0.08:
        words = _typo(words, rng)
    if who.kind == "person":
        return words
    suffix = rng.choice(_SUFFIXES[who.suffix])
    if suffix and rng.random() < 0.15:
        suffix = ", " + suffix
    elif suffix:
        suffix = " " + suffix
    the = "The " if who.the and rng.random() < 0.7 else ""
    name = f"{the}{words}{suffix}"
    return name.upper() if rng.random() < 0.08 else name


def _typo(words: str, rng: random.Random) -> str:
    """One keying slip inside a word of 4+ letters, never its first letter."""
    candidates = [i for i, w in enumerate(words.split(" ")) if len(w) >= 4]
    if not candidates:
        return words
    parts = words.split(" ")
    i = rng.choice(candidates)
    w = parts[i]
    at = rng.randrange(1, len(w) - 1)
    slip = rng.randrange(4)
    if slip == 0:
        w = w[:at] + w[at + 1] + w[at] + w[at + 2 :]
    elif slip == 1:
        w = w[:at] + w[at + 1 :]
    elif slip == 2:
        w = w[:at] + w[at] + w[at:]
    else:
        w = w[:at] + rng.choice("aeiourstnl") + w[at + 1 :]
    parts[i] = w
    return " ".join(parts)


def _email(who: Party, rng: random.Random) -> str | None:
    draw = rng.random()
    if draw < 0.12:
        return None
    if who.mailboxes and draw < 0.35:
        return rng.choice(who.mailboxes)
    return who.email.upper() if rng.random() < 0.05 else who.email


def _phone(digits: str, rng: random.Random) -> str:
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    style = rng.randrange(4)
    if style == 0:
        return f"({area}) {exchange}-{line}"
    if style == 1:
        return f"+1 {area} {exchange} {line}"
    if style == 2:
        return f"{area}.{exchange}.{line}"
    return digits


def _other_phone(rng: random.Random) -> str | None:
    """No number, or another line of the business (a branch, a person's direct line)."""
    if rng.random() < 0.6:
        return None
    return _phone(f"{rng.randrange(2, 10)}{rng.randrange(10**9):09d}", rng)


def _tax_id(digits: str, rng: random.Random) -> str:
    return f"{digits[:2]}-{digits[2:]}" if rng.random() < 0.5 else digits


def _postal_code(code: str, rng: random.Random) -> str:
    return f" {code}" if rng.random() < 0.05 else code


def _website(domain: str, rng: random.Random) -> str:
    return rng.choice((f"www.{domain}", f"https://{domain}", f"https://www.{domain}/", domain))
