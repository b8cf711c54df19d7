"""A source's bounded settings (page size, request budget, pages in flight), each defined once.

A `Limit` in `connectors/<source>/settings.py` gives the connector settings' default, the
connections file's validation (`Limit.field`, which names the file's line) and the connector's
own check (`check_limits`, for settings made in code), so the three cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pydantic

from connectors.errors import ConfigurationError

__all__ = ["Limit", "check_limits", "limits"]


@dataclass(frozen=True, slots=True)
class Limit:
    """A positive integer setting `name`, at most `most` (None: no upper bound); `why` says
    where the upper bound comes from, in the fix an out-of-range value is told."""

    name: str
    default: int
    most: int | None = None
    why: str | None = None

    def field(self) -> Any:  # noqa: ANN401 - what pydantic.Field returns
        """The connections file's key: the default, validated to the range."""
        return pydantic.Field(default=self.default, ge=1, le=self.most)

    def check(self, value: int, *, source: str, connection_id: str) -> None:
        if value >= 1 and (self.most is None or value <= self.most):
            return
        bounds = "at least 1" if self.most is None else f"between 1 and {self.most}"
        why = f" ({self.why})" if self.why else ""
        fix = "a positive number" if value < 1 else f"at most {self.most}{why}"
        raise ConfigurationError(
            f"{self.name} must be {bounds}",
            source=source,
            connection_id=connection_id,
            hint=f"set {self.name} to {fix} in the connections file",
        )


def check_limits(
    settings: object, limits: Iterable[Limit], *, source: str, connection_id: str
) -> None:
    """A ConfigurationError for the first of `settings`' limited values out of its range."""
    for limit in limits:
        limit.check(getattr(settings, limit.name), source=source, connection_id=connection_id)


def limits(*items: Limit) -> dict[str, Limit]:
    """A source's limits by setting name."""
    return {limit.name: limit for limit in items}
