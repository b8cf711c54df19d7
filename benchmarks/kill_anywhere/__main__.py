"""`python -m benchmarks.kill_anywhere`: see the package docstring."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.kill_anywhere import ENTRY_POINTS, PHASES, kill_anywhere
from benchmarks.proof_sources import SIZES, SOURCES


def main(argv: list[str] | None = None) -> int:
    import benchmarks.kill_anywhere as package

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.kill_anywhere",
        description=package.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--kills",
        action="append",
        metavar="ENTRY=N",
        help=f"N kills of each source through ENTRY, one of {', '.join(ENTRY_POINTS)} "
        "(repeatable; default run_once=75)",
    )
    parser.add_argument("--sources", nargs="+", choices=sorted(SOURCES), default=list(SOURCES))
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--per-chain", type=int, default=4)
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="keep projects and logs here")
    args = parser.parse_args(argv)
    kills = dict(_entry(text) for text in args.kills or ["run_once=75"])
    with tempfile.TemporaryDirectory(prefix="kill-anywhere-") as scratch:
        outcome = kill_anywhere(
            args.workdir or Path(scratch),
            kills=kills,
            sources=args.sources,
            size=args.size,
            seed=args.seed,
            per_chain=args.per_chain,
            lanes=args.lanes,
        )
    for failure in outcome.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    missing = set(PHASES) - set(outcome.by_phase()) if "run_once" in kills else set()
    if missing:
        print(f"FAILED: no kill hit {sorted(missing)}", file=sys.stderr)
    return 1 if outcome.failures or missing else 0


def _entry(text: str) -> tuple[str, int]:
    entry_point, _, count = text.partition("=")
    if entry_point not in ENTRY_POINTS or not count.isdigit():
        raise SystemExit(f"--kills takes ENTRY=N with ENTRY one of {ENTRY_POINTS}, not {text!r}")
    return entry_point, int(count)


if __name__ == "__main__":
    sys.exit(main())
