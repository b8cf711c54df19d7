"""SQL files with named placeholders: `{name}`, filled by name, `{{` for a literal brace.

A report's query is one file, used two ways (`models.reports`): as a macro that computes its
inputs itself, and over inputs computed once as temporary tables. The differences are
placeholders the caller fills, not text edited after the fact; the placeholders a file uses
say which inputs it reads.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["SqlTemplate", "load_template"]


@dataclass(frozen=True, slots=True)
class SqlTemplate:
    name: str  # where the text came from, for errors
    text: str

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(
            name for _, name, _, _ in string.Formatter().parse(self.text) if name is not None
        )

    def render(self, **values: str) -> str:
        """The SQL with every placeholder filled; a missing or unused value is an error."""
        missing = self.placeholders - set(values)
        unused = set(values) - self.placeholders
        if missing or unused:
            raise ValueError(
                f"SQL template {self.name}: no value for {sorted(missing)}, "
                f"values not used {sorted(unused)}"
            )
        return self.text.format(**values)


@cache
def load_template(package: str, name: str) -> SqlTemplate:
    """`<name>.sql` of the package, as a template."""
    text = resources.files(package).joinpath(f"{name}.sql").read_text()
    return SqlTemplate(f"{package}/{name}.sql", text)
