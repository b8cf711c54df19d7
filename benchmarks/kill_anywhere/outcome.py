"""The figures of a kill-anywhere run: every kill (source, entry point, target, what it hit),
the chains and runs, the rows compared, and every failure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from benchmarks.kill_anywhere.targets import Target

__all__ = ["Kill", "Outcome"]


@dataclass(frozen=True, slots=True)
class Kill:
    source: str
    entry_point: str
    chain: int
    run: int
    target: Target
    hit: str  # the phase it hit
    line: str  # the last phase line the run wrote

    def __str__(self) -> str:
        return (
            f"{self.source} {self.entry_point} chain {self.chain} run {self.run}: "
            f"{self.target} → {self.hit} ({self.line})"
        )


@dataclass
class Outcome:
    seed: int
    size: str
    kills: list[Kill] = field(default_factory=list)
    chains: int = 0
    runs: int = 0
    changes: Counter[str] = field(default_factory=Counter)  # source changes between runs
    rows_compared: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def by_phase(self, source: str | None = None) -> Counter[str]:
        return Counter(k.hit for k in self.kills if source in (None, k.source))

    def by_source(self) -> Counter[str]:
        return Counter(k.source for k in self.kills)

    def by_entry_point(self) -> Counter[str]:
        return Counter(k.entry_point for k in self.kills)

    def summary(self) -> str:
        def listed(counts: Counter[str]) -> str:
            return ", ".join(f"{key} {n}" for key, n in sorted(counts.items()))

        lines = [
            f"kill-anywhere seed={self.seed} size={self.size}: {len(self.kills)} kills in "
            f"{self.chains} chains ({self.runs} runs); {self.rows_compared} rows compared; "
            f"{len(self.failures)} failures; {self.seconds:.1f}s",
            f"  kills by entry point: {listed(self.by_entry_point())}",
            f"  source changes between runs: {listed(self.changes)}",
        ]
        lines += [
            f"  {source}: {n} kills; by phase: {listed(self.by_phase(source))}"
            for source, n in sorted(self.by_source().items())
        ]
        return "\n".join(lines)
