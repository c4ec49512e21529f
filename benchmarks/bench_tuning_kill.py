"""Crash safety of KerasTuner searches: SIGKILLs at random moments, each followed by a resume (issue 8.9).

Run: python benchmarks/bench_tuning_kill.py [KILLS] [MAX_TRIALS]   (default 20 kills, 300 trials)

For a BatchedTuner search and a stock ``kt.RandomSearch`` (inside
``fairkl.tuning.safe_project``), each on the book's seed-style data, the search
is killed KILLS times at random moments (after a random number of newly
completed trials plus up to 50 ms, so kills land in fits, in writes and
between writes), resumed each time, and run to its end. Printed per search:
kills that landed mid-search, completed trials (must equal MAX_TRIALS),
duplicates (repeated trial ids, hyperparameter sets or end-order entries;
must be 0) and lost results (finished before a kill, missing or changed after;
must be 0). The plain stock ``kt.RandomSearch`` (no safe_project) is run too,
as the reference of what KerasTuner does alone.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import kt_search_script  # noqa: E402


def main():
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    max_trials = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    modes = sys.argv[3].split(",") if len(sys.argv) > 3 else ["batched", "safe", "random"]
    labels = {
        "batched": "BatchedTuner",
        "safe": "kt.RandomSearch in safe_project",
        "random": "kt.RandomSearch alone",
    }
    print(
        f"{'search':<34} {'kills':>5} {'completed':>9} {'duplicates':>10} {'lost':>5} {'runs':>5} {'time':>8}"
    )
    print("-" * 82)
    for i, mode in enumerate(modes):
        rng = np.random.default_rng(100 + i)
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            try:
                r = kt_search_script.kill_and_resume(mode, d, max_trials, kills, rng, timeout=1800)
                row = f"{r['kills']:>5} {r['completed']:>9} {r['duplicates']:>10} {r['lost']:>5} {r['runs']:>5}"
            except Exception as exc:  # the plain stock search may not survive: say how
                row = f"failed on resume: {str(exc).strip().splitlines()[-1][:60]}"
        print(f"{labels[mode]:<34} {row} {time.perf_counter() - t:7.0f}s", flush=True)
    print(f"target: completed = {max_trials}, duplicates = 0, lost = 0")


if __name__ == "__main__":
    main()
