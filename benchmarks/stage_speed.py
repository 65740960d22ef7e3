"""Guidance and cohort-summary jobs, old code against this checkout, back to back on one finished run (issue 19).

    python benchmarks/stage_speed.py --results DIR --base-src OLD/src [--rounds 2] [--work /tmp/stage_speed]

DIR is a finished `pgx-pipeline run` results folder (treated as read-only); OLD/src the `src` folder of the code to
compare with (e.g. `git archive <commit> src | tar -x -C OLD`). For each round and each code it runs the commands
the workflow runs (`pgx-pipeline guidance` per part, `pgx-pipeline report cohort`) into its own folder and prints
wall and CPU seconds per job; then it checks the outputs: guidance Parquet equal (pandas `assert_frame_equal` and
Arrow schema with metadata), cohort_summary.html and calls_only.tsv byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - t, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(results: Path, out: Path, env: dict[str, str], label: str) -> None:
    inputs = sorted(p.name for p in (results / "guidance").iterdir())
    for unit in inputs:
        for phen in sorted((results / "phenotypes" / unit).glob("part-*.parquet")):
            dest = out / "guidance" / unit / phen.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            wall, cpu = timed(["pgx-pipeline", "guidance", "--phenotypes", str(phen), "--kb", str(results / "knowledge"),
                               "--out", str(dest)], env)
            print(f"{label}\tguidance {unit}/{phen.stem}\t{wall:.2f}\t{cpu:.2f}", flush=True)
    ids = [a for i in inputs for a in ("--input-id", i, "--unit", i)]
    wall, cpu = timed(["pgx-pipeline", "report", "cohort", "--results", str(results), *ids, "--out",
                       str(out / "reports"), "--report-date", "2026-01-01"], env)
    print(f"{label}\tsummarize_cohort\t{wall:.2f}\t{cpu:.2f}", flush=True)


def same(a: Path, b: Path) -> None:
    for pa_ in sorted(a.glob("guidance/*/*.parquet")):
        pb = b / pa_.relative_to(a)
        pd.testing.assert_frame_equal(pd.read_parquet(pa_), pd.read_parquet(pb))
        assert pq.read_schema(pa_).equals(pq.read_schema(pb), check_metadata=True), pa_
        print(f"identical: {pa_.relative_to(a)} ({'same bytes' if filecmp.cmp(pa_, pb, shallow=False) else 'same rows'})")
    for name in ("cohort_summary.html", "calls_only.tsv"):
        assert filecmp.cmp(a / "reports" / name, b / "reports" / name, shallow=False), name
        print(f"identical: reports/{name} (same bytes)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--base-src", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/stage_speed"))
    args = ap.parse_args()
    env_new = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env_old = {**env_new, "PYTHONPATH": str(args.base_src.resolve())}
    print("code\tjob\twall s\tCPU s")
    for _ in range(args.rounds):
        run(args.results, args.work / "base", env_old, "base")
        run(args.results, args.work / "this", env_new, "this")
    same(args.work / "base", args.work / "this")


if __name__ == "__main__":
    sys.exit(main())
