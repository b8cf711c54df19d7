"""Refresh tokens a source rotated, kept on disk so the next process starts from the newest.

Sources that rotate refresh tokens (QuickBooks Online, Xero; Zoho can be set up to) revoke the
old one when they issue a new one, so a token kept only in memory is lost with the process and
the next sync is refused. The newest token of each line (the refresh token configured, and every
token rotated from it) is one file in the `tokens:` directory (default `data/tokens`), named by
a SHA-256 of the configured token, so connections that share one grant (several organizations
of one Zoho account, the default `ZOHO_REFRESH_TOKEN`) share the file and follow each other's
rotations. The file is readable by its owner alone (0600, directory 0700) and replaced
atomically (written beside, then renamed over), so a process killed mid-write leaves the
previous token. Setting a new refresh token after re-authorizing the app starts a new line. No
message here ever contains a token.

A grant holds its line's lock (`held`, an `flock` on a file beside the token's) from reading the
newest token to saving the one it rotated to: two processes granting at once would otherwise
both spend the same token, the source would refuse the second, and whichever saved last could
leave a token the source had already revoked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from connectors.errors import ConfigurationError

__all__ = ["RefreshTokenFile", "TokenStore", "TokenStoreError"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class TokenStoreError(ConfigurationError):
    """A rotated refresh token could not be read or written."""


@dataclass(frozen=True, slots=True)
class TokenStore:
    """The directory that holds the newest refresh token of every line."""

    directory: Path

    def for_connection(self, source: str, connection_id: str) -> RefreshTokenFile:
        """Where one connection finds the newest token of the line it is configured with."""
        return RefreshTokenFile(self.directory, source, connection_id)


@dataclass(frozen=True, slots=True)
class RefreshTokenFile:
    """The newest refresh token of the line a connection is configured with."""

    directory: Path
    source: str
    connection_id: str

    def path(self, configured: str) -> Path:
        """The line's file: named by the source and a SHA-256 of the configured token."""
        return self.directory / f"{_UNSAFE.sub('_', self.source)}__{_sha256(configured)[:32]}.json"

    def newest(self, configured: str) -> str:
        """The newest token descended from `configured`, or `configured` itself."""
        path = self.path(configured)
        try:
            stored = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return configured
        except (OSError, orjson.JSONDecodeError) as error:
            raise self._error(
                f"cannot read {path}: {type(error).__name__}",
                "make the file readable by this user; if it is damaged, delete it, authorize "
                "the app again and set the new refresh token",
            ) from None
        if (
            isinstance(stored, dict)
            and stored.get("configured_sha256") == _sha256(configured)
            and isinstance(stored.get("refresh_token"), str)
            and stored["refresh_token"]
        ):
            return str(stored["refresh_token"])
        return configured

    @contextmanager
    def held(self, configured: str) -> Iterator[None]:
        """The line's lock, across processes and threads, until the block ends (a process that
        dies lets it go)."""
        lock = self.path(configured).with_suffix(".lock")
        try:
            lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise self._error(
                f"cannot open {lock}: {error.strerror or type(error).__name__}",
                "make the tokens directory (the connections file's `tokens:`) writable by this "
                "user",
            ) from None
        try:
            # Threads of one process too: over NFS, Linux's flock is a per-process POSIX lock.
            with _thread_lock(lock):
                fcntl.flock(handle, fcntl.LOCK_EX)
                yield
        finally:
            os.close(handle)  # closing releases the lock

    def save(self, configured: str, newest: str) -> None:
        """Replace the stored token with `newest`, atomically, readable by the owner alone."""
        content = orjson.dumps({"configured_sha256": _sha256(configured), "refresh_token": newest})
        path = self.path(configured)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkstemp creates the file 0600 whatever the umask.
            handle, temporary = tempfile.mkstemp(
                dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
            )
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(content)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            raise self._error(
                f"cannot write {path}: {error.strerror or type(error).__name__}. The source "
                "has already revoked the previous refresh token",
                "make the tokens directory (the connections file's `tokens:`) writable by this "
                "user, then authorize the app again and set the new refresh token",
            ) from None

    def _error(self, problem: str, fix: str) -> TokenStoreError:
        return TokenStoreError(
            problem, source=self.source, connection_id=self.connection_id, hint=fix
        )


_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(path, threading.Lock())


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
