"""The rotated-refresh-token store: newest token back, owner-only files, atomic replacement."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from connectors.token_store import TokenStore, TokenStoreError

CONFIGURED = "1000.configured-refresh"
ROTATED = "1000.rotated-refresh-secret"


def test_a_saved_token_is_the_newest_for_the_token_it_descends_from(tmp_path):
    tokens = TokenStore(tmp_path / "tokens").for_connection("zoho_books", "acme")
    assert tokens.newest(CONFIGURED) == CONFIGURED  # nothing stored yet

    tokens.save(CONFIGURED, ROTATED)

    again = TokenStore(tmp_path / "tokens").for_connection("zoho_books", "acme")
    assert again.newest(CONFIGURED) == ROTATED
    # A refresh token configured after re-authorizing starts a new line.
    assert again.newest("1000.reauthorized") == "1000.reauthorized"


def test_files_are_readable_by_their_owner_alone_and_replaced_whole(tmp_path):
    directory = tmp_path / "tokens"
    tokens = TokenStore(directory).for_connection("zoho_books", "acme")
    tokens.save(CONFIGURED, ROTATED)
    tokens.save(CONFIGURED, ROTATED + "-2")

    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == [tokens.path(CONFIGURED).name]  # no temporary
    assert stat.S_IMODE(tokens.path(CONFIGURED).stat().st_mode) == 0o600
    assert tokens.newest(CONFIGURED) == ROTATED + "-2"


def test_connections_of_one_grant_follow_each_others_rotations(tmp_path):
    """Two organizations of one Zoho account share the refresh token: when one connection's
    refresh rotates it (and the source revokes the old one), the other must use the new one."""
    store = TokenStore(tmp_path)
    us, eu = (store.for_connection("zoho_books", i) for i in ("acme-us", "acme-eu"))
    us.save(CONFIGURED, ROTATED)
    assert eu.newest(CONFIGURED) == ROTATED
    assert eu.path(CONFIGURED) == us.path(CONFIGURED)
    assert eu.path("1000.another-grant") != us.path(CONFIGURED)
    assert all(p.parent == tmp_path for p in (us.path("../x"), us.path("a/b")))


def test_a_token_that_cannot_be_saved_is_named_by_connection_never_shown(tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    tokens = TokenStore(blocked).for_connection("zoho_books", "acme")

    with pytest.raises(TokenStoreError) as raised:
        tokens.save(CONFIGURED, ROTATED)

    message = str(raised.value)
    assert "zoho_books connection 'acme'" in message and "tokens:" in message
    assert ROTATED not in message and CONFIGURED not in message


def test_an_unreadable_store_says_so(tmp_path):
    tokens = TokenStore(tmp_path).for_connection("zoho_books", "acme")
    Path(tokens.path(CONFIGURED)).write_text("{not json")
    with pytest.raises(TokenStoreError, match="cannot read") as raised:
        tokens.newest(CONFIGURED)
    assert "delete it" in str(raised.value) and "zoho_books connection 'acme'" in str(raised.value)
