"""The whole 3,202-sample panel through `pgx-pipeline run` (issue 19), per choice of report files, against a reference.

    python benchmarks/panel_run.py --scratch DIR [--rounds 2] [--formats html --formats html,json,outside_calls ...]

Each round, for each formats list: `bcftools view -Ou` of the 19 panel files (the reference: the same bytes read by a
C tool, which says how fast the machine is at that moment), then `pgx-pipeline run --split-group <the files>
--absent-is-reference --cores 2 --report-date 2026-01-01 --formats ...` into DIR, timed with wall, user and system
CPU of the whole process tree; the results folder is removed before the next run so every run writes to the same
disk state. Prints one TSV row per run with the ratio run / reference, the machine's speed varying by ~25% within an
hour here, and a second floor: the bytes of the run's reports copied with `cp -r` (wall and CPU), what writing them
alone costs on this disk at that moment.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PANEL = REPO.parent / "shared" / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
GENES = ["ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP2D6", "CYP3A4", "CYP3A5", "CYP4F2", "G6PD",
         "IFNL3", "NAT2", "NUDT15", "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1"]
DEFAULT_FORMATS = ["html,json,fhir,outside_calls", "html,json,outside_calls", "html"]


def _timed(cmd: list[str], **kwargs) -> tuple[float, float, float]:
    """Wall, user and system seconds of a command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, **kwargs)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def reference(files: list[Path]) -> float:
    start = time.perf_counter()
    for f in files:
        subprocess.run(["bcftools", "view", "-Ou", str(f)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def write_floor(reports: Path, scratch: Path) -> tuple[float, float, float]:
    """The run's report files copied with `cp -r` (read from the page cache, written anew): what writing those bytes
    alone costs on this disk at this moment. Returns (GB, wall s, user + system CPU s); the copy is removed."""
    gb = sum(f.stat().st_size for f in reports.rglob("*") if f.is_file()) / 1e9
    shutil.rmtree(scratch, ignore_errors=True)
    wall, user, sys_s = _timed(["sh", "-c", f"cp -r '{reports}' '{scratch}' && sync"])
    shutil.rmtree(scratch, ignore_errors=True)
    return gb, wall, user + sys_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scratch", required=True, type=Path, help="folder for the results (removed after each run)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--formats", action="append", help="comma-separated reports.formats; repeat (default: three)")
    args = ap.parse_args()
    files = [PANEL / f"{g}.vcf.gz" for g in GENES]
    missing = [f for f in files if not f.is_file()]
    if missing:
        sys.exit(f"panel files missing (../shared): {missing[0]}")
    args.scratch.mkdir(parents=True, exist_ok=True)
    print("round\tformats\treference_s\trun_wall_s\tuser_s\tsys_s\trun/reference\tload_at_start"
          "\treports_gb\tcopy_wall_s\tcopy_cpu_s", flush=True)
    for r in range(1, args.rounds + 1):
        for formats in args.formats or DEFAULT_FORMATS:
            ref = reference(files)
            out = args.scratch / "panel_run"
            shutil.rmtree(out, ignore_errors=True)
            load = os.getloadavg()[0]
            cmd = ["pgx-pipeline", "run", "--split-group", ",".join(map(str, files)), "--absent-is-reference",
                   "--cores", "2", "--report-date", "2026-01-01", "--formats", formats, "--out", str(out)]
            wall, user, sys_s = _timed(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            gb, copy_wall, copy_cpu = write_floor(out / "reports", args.scratch / "floor_copy")
            shutil.rmtree(out, ignore_errors=True)
            print(f"{r}\t{formats}\t{ref:.2f}\t{wall:.1f}\t{user:.1f}\t{sys_s:.1f}\t{wall / ref:.1f}\t{load:.2f}"
                  f"\t{gb:.2f}\t{copy_wall:.1f}\t{copy_cpu:.1f}", flush=True)


if __name__ == "__main__":
    main()
