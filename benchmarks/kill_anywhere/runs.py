"""Follow one run of a sync as it goes, and SIGKILL it at its target.

A run writes a line before each phase (`phase extract <connection> <stream>`, see
`pipelines.run_once`); the watcher reads them as they come, so a kill can be aimed at a moment
of a phase. Runs that write no phase lines are killed at a moment after their start.
"""

from __future__ import annotations

import math
import os
import select
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from benchmarks.kill_anywhere.targets import ANYTIME, Target

__all__ = ["Child", "Event", "Run", "watch"]

STARTUP = "startup"  # what a kill before the first phase line hit


@dataclass(frozen=True, slots=True)
class Event:
    phase: str
    what: str
    at: float  # seconds since the child started


@dataclass(frozen=True, slots=True)
class Run:
    events: tuple[Event, ...]
    exit_code: int
    seconds: float
    output: str
    started: float  # time.monotonic() when the child started
    killed_at: float | None  # time.monotonic() when SIGKILL was sent

    @property
    def killed(self) -> bool:
        return self.exit_code == -signal.SIGKILL

    @property
    def last_line(self) -> str:
        return f"{self.events[-1].phase} {self.events[-1].what}" if self.events else STARTUP

    def duration_after(self, index: int) -> float:
        end = self.events[index + 1].at if index + 1 < len(self.events) else self.seconds
        return max(0.0, end - self.events[index].at)


class Child(Protocol):
    pid: int
    output: int  # file descriptor of the child's stdout and stderr

    def exit_code(self) -> int | None: ...

    def kill(self) -> None: ...

    def wait(self) -> int: ...


def watch(child: Child, target: Target | None, started: float) -> Run:
    """Follow the child's phase lines as they come; send SIGKILL at the target."""
    events: list[Event] = []
    counts: Counter[str] = Counter()
    received = bytearray()
    pending = b""
    kill_at = started + target.delay_s if target and target.phase == ANYTIME else None
    killed_at = None
    while True:
        wait = 0.05 if kill_at is None else max(0.0, min(0.05, kill_at - time.monotonic()))
        readable, _, _ = select.select([child.output], [], [], wait)
        chunk = os.read(child.output, 65536) if readable else b""
        now = time.monotonic()
        received += chunk
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            event = _event(line.decode(errors="replace"), now - started)
            if event is None:
                continue
            events.append(event)
            counts[event.phase] += 1
            if (
                target
                and kill_at is None
                and event.phase == target.phase
                and counts[event.phase] == target.occurrence + 1
            ):
                kill_at = now + target.delay_s
        if kill_at is not None and time.monotonic() >= kill_at:
            child.kill()
            killed_at, kill_at = time.monotonic(), math.inf
        if readable and not chunk:
            break  # end of output: the child is gone
        if not readable and child.exit_code() is not None:
            break
    exit_code = child.wait()
    return Run(
        tuple(events),
        exit_code,
        time.monotonic() - started,
        received.decode(errors="replace"),
        started,
        killed_at if exit_code == -signal.SIGKILL else None,
    )


def _event(line: str, at: float) -> Event | None:
    parts = line.split(" ", 2)
    if len(parts) >= 2 and parts[0] == "phase":
        return Event(parts[1], parts[2] if len(parts) > 2 else "", at)
    return None


def sigkill(kill: Callable[[int, int], None], pid: int) -> None:
    """SIGKILL, unless the process (or group) had just finished."""
    try:
        kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
