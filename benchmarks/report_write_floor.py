"""The floor under the report rule's wall time that no rendering speed-up can remove: writing the same bytes.

Reads the sizes of every patient file a finished run wrote (results/reports/<input>/[<part>/]), then, in one process
per report folder at once (as the report jobs run), creates a file of the same name and size in a scratch folder with
a plain write and flushes the folder once at the end, as the report rule does (`report.files.sync_folder`). Prints the
bytes, the wall time and what the disk took per second, beside the report jobs' own times from the run's Snakemake
benchmark files.

    python benchmarks/report_write_floor.py --results DIR --scratch DIR_ON_THE_SAME_DISK
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True, type=Path)
    ap.add_argument("--scratch", required=True, type=Path, help="a folder on the disk the run wrote to")
    args = ap.parse_args()

    folders = sorted({p.parent for p in (args.results / "reports").rglob("*.fhir.json")})
    plans = [[(p.name, p.stat().st_size) for p in sorted(f.iterdir()) if p.is_file()] for f in folders]
    total = sum(size for plan in plans for _, size in plan)
    scratch = Path(tempfile.mkdtemp(prefix="write-floor-", dir=args.scratch))
    try:
        start = time.perf_counter()
        with ProcessPoolExecutor(len(plans)) as pool:
            cpu = list(pool.map(_write_like, plans, [scratch / str(i) for i in range(len(plans))]))
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(scratch)
    n = sum(len(plan) for plan in plans)
    print(f"write floor: {n} files, {total / 1e9:.2f} GB in {len(plans)} folders at once: {wall:.1f} s wall "
          f"({total / 1e6 / wall:.0f} MB/s), CPU per process (user + sys): "
          + ", ".join(f"{c:.1f} s" for c in cpu))
    for bench in sorted((args.results / "benchmarks" / "report").rglob("*.tsv")):
        with bench.open() as fh:
            row = list(csv.DictReader(fh, delimiter="\t"))[-1]
        print(f"report job {bench.relative_to(args.results)}: {float(row['s']):.1f} s wall, "
              f"{float(row['cpu_time']):.1f} s CPU")


def _write_like(plan: list[tuple[str, int]], folder: Path) -> float:
    """Files of these names and sizes, plain writes, one flush of the folder at the end; returns CPU seconds."""
    from pgx_pipeline.report.files import sync_folder

    folder.mkdir(parents=True)
    block = b"x" * max((size for _, size in plan), default=0)
    before = os.times()
    for name, size in plan:
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            view = memoryview(block)[:size]
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    sync_folder(folder)
    after = os.times()
    return (after.user - before.user) + (after.system - before.system)


if __name__ == "__main__":
    main()
