"""Kill a real sync anywhere, change the source, run it again: the warehouse must equal the
ground truth and a run never killed.

    python -m benchmarks.kill_anywhere --kills run_once=60 --kills cli=8 --kills dagster=4
    python -m benchmarks.kill_anywhere --sources zoho_books --kills run_once-spawn=30 --seed 1

For every source (Zoho Books, Business Central, Simpro, Carbon; `--sources`) and entry point
(`--kills ENTRY=N`: N kills of each source through it, see `launch`), chains of runs go against
a sandbox of their own, served from this process with a little latency per response. A chain
starts from an empty warehouse; each of its `--per-chain` runs is killed (SIGKILL) at a target
drawn from the seed (`targets`: after a phase line of `pipelines.run_once`, or at a moment of
the run), and after each the source changes (`benchmarks.source_changes`: new, modified,
voided, posted and deleted records); a last run completes. Half the chains list ids on every
sync (deletions among the changes), half daily.

Then (`chains`) nothing may be left in the landing zone, and the warehouse must equal the
ledger's ground truth to the cent (`benchmarks.truth`) and the warehouse the same runs and
changes left when never killed (`benchmarks.warehouse_diff`). The seed is printed first; the
figures (kills per source, entry point and phase; changes; rows compared) last.

(A script that calls `kill_anywhere` needs the usual `if __name__ == "__main__":` guard of
multiprocessing: the `run_once` entry point's children import the script's main module.)
"""

from benchmarks.kill_anywhere.harness import kill_anywhere
from benchmarks.kill_anywhere.launch import ENTRY_POINTS
from benchmarks.kill_anywhere.outcome import Kill, Outcome
from benchmarks.kill_anywhere.targets import PHASES

__all__ = ["ENTRY_POINTS", "PHASES", "Kill", "Outcome", "kill_anywhere"]
