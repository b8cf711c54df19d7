"""What a sandbox was asked: one record per request, for tests and benchmarks to count."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    account: str | None  # the account key the app derived (e.g. a Zoho organization's name)
    at: float  # time.monotonic() when the request arrived
    connection: int  # serial number of the TCP connection: equal numbers mean a reused connection
    faults: tuple[str, ...] = ()  # injected faults, e.g. ("error_503",), ("duplicate_rows",)


class RequestLog:
    """Thread-safe, append-only until `reset()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def reset(self) -> None:
        with self._lock:
            self._records.clear()

    def records(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        path_prefix: str | None = None,
        status: int | None = None,
        account: str | None = None,
        fault: str | None = None,
        where: Callable[[RequestRecord], bool] | None = None,
    ) -> list[RequestRecord]:
        """Records matching every criterion given, in the order their responses were made."""
        with self._lock:
            records = list(self._records)
        return [
            r
            for r in records
            if (method is None or r.method == method)
            and (path is None or r.path == path)
            and (path_prefix is None or r.path.startswith(path_prefix))
            and (status is None or r.status == status)
            and (account is None or r.account == account)
            and (fault is None or fault in r.faults)
            and (where is None or where(r))
        ]

    def count(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        path_prefix: str | None = None,
        status: int | None = None,
        account: str | None = None,
        fault: str | None = None,
        where: Callable[[RequestRecord], bool] | None = None,
    ) -> int:
        return len(
            self.records(
                method=method,
                path=path,
                path_prefix=path_prefix,
                status=status,
                account=account,
                fault=fault,
                where=where,
            )
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
