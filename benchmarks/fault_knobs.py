"""The sandboxes' fault knobs, as the fault soak turns them: one entry per knob, so a new knob
of `sandbox.faults.FaultConfig` is one more line here.

`TRANSIENT[kind]` draws a setting of the knob for a round (every knob is on in every round),
`kind` being the label the sandbox logs on a request the knob hit (5xx statuses as one kind).
`PERSISTENT` are faults that outlast any retry budget, with what the error must say.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sandbox.faults import FaultConfig

__all__ = ["PERSISTENT", "TRANSIENT", "fault_kind", "transient_faults"]

Setting = dict[str, object]

TRANSIENT: dict[str, Callable[[random.Random], Setting]] = {
    "error_5xx": lambda rng: {"error_rate": rng.uniform(0.01, 0.1)},
    "burst_429": lambda rng: {
        "burst_429": rng.randint(1, 5),
        "retry_after_s": rng.choice([None, 0.02, 0.1]),
    },
    "slow": lambda rng: {"slow_rate": rng.uniform(0.01, 0.04), "slow_s": 1.0},
    "truncate": lambda rng: {"truncate_rate": rng.uniform(0.01, 0.1)},
    "duplicate_rows": lambda rng: {"duplicate_rows_rate": rng.uniform(0.05, 0.5)},
    "modify_while_paging": lambda rng: {"modify_while_paging": rng.uniform(0.05, 0.5)},
    "delete_while_paging": lambda rng: {"delete_while_paging": rng.uniform(0.02, 0.2)},
    "insert_while_paging": lambda rng: {"insert_while_paging": rng.uniform(0.02, 0.2)},
    "slow_body": lambda rng: {"slow_body_rate": rng.uniform(0.005, 0.02), "slow_body_byte_s": 0.5},
}

# (what the error must say, the fault), on every request for one listing.
PERSISTENT: tuple[tuple[tuple[str, ...], FaultConfig], ...] = (
    (("answered 50",), FaultConfig(error_rate=1.0)),
    (("answered 429",), FaultConfig(burst_429=10**6, retry_after_s=3600)),
    (("ReadTimeout", "deadline"), FaultConfig(slow_rate=1.0, slow_s=1.0)),
    (("not valid JSON",), FaultConfig(truncate_rate=1.0)),
)


def transient_faults(rng: random.Random) -> FaultConfig:
    """Every transient knob on, each at a setting drawn from `rng`."""
    setting: Setting = {"seed": rng.randrange(2**32)}
    for draw in TRANSIENT.values():
        setting.update(draw(rng))
    return FaultConfig(**setting)  # type: ignore[arg-type]


def fault_kind(label: str) -> str:
    """The knob a logged fault label belongs to (`error_503` → `error_5xx`)."""
    return "error_5xx" if label.startswith("error_5") else label
