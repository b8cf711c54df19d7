"""Refresh tokens a source rotated, kept on disk so the next process starts from the newest.

Sources that rotate refresh tokens (QuickBooks Online, Xero; Zoho can be set up to) revoke the
old one when they issue a new one, so a token kept only in memory is lost with the process and
the next sync is refused. Each connection's newest token is one file in the `tokens:` directory
(default `data/tokens`), readable by its owner alone (0600, directory 0700), replaced atomically
(written beside, then renamed over), so a process killed mid-write leaves the previous token.

A stored token is used only while the refresh token configured for the connection is the one it
descends from (a SHA-256 of it is stored alongside): setting a new one after re-authorizing the
app starts a new line. No message here ever contains a token.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = ["RefreshTokenFile", "TokenStore", "TokenStoreError"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class TokenStoreError(RuntimeError):
    """A rotated refresh token could not be read or written."""


@dataclass(frozen=True, slots=True)
class TokenStore:
    """The directory that holds each connection's newest refresh token."""

    directory: Path

    def for_connection(self, source: str, connection_id: str) -> RefreshTokenFile:
        """The file of one connection; its name is readable and distinct for every id."""
        digest = hashlib.sha256(f"{source}\0{connection_id}".encode()).hexdigest()[:12]
        name = f"{_UNSAFE.sub('_', source)}__{_UNSAFE.sub('_', connection_id)}__{digest}.json"
        return RefreshTokenFile(self.directory / name, source, connection_id)


@dataclass(frozen=True, slots=True)
class RefreshTokenFile:
    """One connection's newest refresh token and the configured token it descends from."""

    path: Path
    source: str
    connection_id: str

    def newest(self, configured: str) -> str:
        """The newest token descended from `configured`, or `configured` itself."""
        try:
            stored = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return configured
        except (OSError, orjson.JSONDecodeError) as error:
            raise self._error(f"cannot read {self.path}: {type(error).__name__}") from None
        if (
            isinstance(stored, dict)
            and stored.get("configured_sha256") == _sha256(configured)
            and isinstance(stored.get("refresh_token"), str)
            and stored["refresh_token"]
        ):
            return str(stored["refresh_token"])
        return configured

    def save(self, configured: str, newest: str) -> None:
        """Replace the stored token with `newest`, atomically, readable by the owner alone."""
        content = orjson.dumps({"configured_sha256": _sha256(configured), "refresh_token": newest})
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkstemp creates the file 0600 whatever the umask.
            handle, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(content)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            raise self._error(
                f"cannot write {self.path}: {error.strerror or type(error).__name__}. The source "
                "has already revoked the previous refresh token"
            ) from None

    def _error(self, problem: str) -> TokenStoreError:
        return TokenStoreError(
            f"{self.source} connection {self.connection_id!r}: {problem}. Fix: make the tokens "
            "directory (the connections file's `tokens:`) writable by this user; if the stored "
            "token is lost, authorize the app again and set the new refresh token"
        )


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
