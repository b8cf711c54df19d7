"""Where to kill a run: after a phase line (which one, how long after), or at any moment.

Targets are drawn from one seeded generator before the runs they aim at, so a seed replays
the same kills. The phases are taken in turn so that all are hit.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.kill_anywhere.runs import Run

__all__ = ["ANYTIME", "PHASES", "Target", "draw_target", "phases_in_turn"]

PHASES = ("extract", "land", "load", "normalize", "report")
ANYTIME = "anytime"  # a kill at a random moment of the whole run


@dataclass(frozen=True, slots=True)
class Target:
    """Kill after the `occurrence`-th (0-based) line of `phase`, `delay_s` later; or, for
    ANYTIME, `delay_s` after the child starts."""

    phase: str
    occurrence: int
    delay_s: float

    def __str__(self) -> str:
        if self.phase == ANYTIME:
            return f"at {self.delay_s:.3f}s"
        return f"{self.phase} #{self.occurrence + 1} +{self.delay_s * 1000:.1f}ms"


def phases_in_turn(rng: random.Random, *, phased: bool) -> Iterator[str]:
    """Every phase once per turn, in random order, and a kill at any moment; landing (whose
    moments are the briefest) and loading (whose transaction is the most delicate) twice. A
    run that writes no phase lines is killed at any moment."""
    while True:
        turn = [*PHASES, "land", "load", ANYTIME] if phased else [ANYTIME]
        rng.shuffle(turn)
        yield from turn


def draw_target(rng: random.Random, phase: str, reference: Run) -> Target:
    """A target in `phase` of a run like `reference` (the same run never killed)."""
    indexes = [i for i, event in enumerate(reference.events) if event.phase == phase]
    if phase == ANYTIME or not indexes:
        return Target(ANYTIME, 0, rng.uniform(0.0, reference.seconds))
    occurrence = rng.randrange(len(indexes))
    return Target(phase, occurrence, rng.random() * reference.duration_after(indexes[occurrence]))
