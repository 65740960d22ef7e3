"""N single-sample VCFs against one N-sample VCF of the same people: the clinical-lab shape against the cohort shape.

Run from the repo root (needs bcftools; nothing here is a test, nothing is written to the repo):

    python benchmarks/single_files.py [--n 100,1000] [--cores 2]

For each N: the first N people of the 1000 Genomes panel (../shared/reference-samples/pypgx-bundle-1kgp/GRCh38), every
gene file the knowledge base defines (as benchmarks/scale.py picks them), are cut into one N-sample VCF (records of
every gene file, `bcftools concat -a -D`, bgzipped and indexed) and into N single-sample VCFs of the same records
(`bcftools +split`, bgzipped and indexed). `pgx-pipeline run --absent-is-reference` runs on both, reports included,
one after the other in the same process: wall seconds, Snakemake jobs, and the ratio. Then every calls, phenotypes
and guidance row is compared per patient: the single file `<sample>.vcf.gz` is input `<sample>`, so its rows must
equal the cohort's rows for that sample (every column but input_id). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pysam

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PANEL = SHARED / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
STAGES = ("calls", "phenotypes", "guidance")


def log(msg: str) -> None:
    print(f"[single_files {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV).stdout


def make_inputs(n: int, genes: list[str], out: Path) -> tuple[Path, list[Path]]:
    out.mkdir(parents=True, exist_ok=True)
    cohort = out / f"cohort{n}.vcf.gz"
    if (out / "done").exists():  # cut by an earlier run with the same --tmp
        return cohort, sorted((out / "singles").glob("*.vcf.gz"))
    files = [PANEL / f"{g}.vcf.gz" for g in genes if (PANEL / f"{g}.vcf.gz").exists()]
    names = sh("bcftools", "query", "-l", str(files[0])).split()[:n]
    (out / "samples.txt").write_text("\n".join(names) + "\n")
    parts = []
    for f in files:
        o = out / "genes" / f.name
        o.parent.mkdir(exist_ok=True)
        sh("bcftools", "view", "-S", str(out / "samples.txt"), "-Oz", "-o", str(o), str(f))
        sh("bcftools", "index", "-t", str(o))
        parts.append(str(o))
    sh("bcftools", "concat", "-a", "-D", "-Oz", "-o", str(cohort), *parts)
    sh("bcftools", "index", "-t", str(cohort))
    # One pass over the cohort file (bcftools +split), then each file indexed.
    sh("bcftools", "+split", "-Oz", "-o", str(out / "singles"), str(cohort))
    singles = sorted((out / "singles").glob("*.vcf.gz"))
    assert sorted(p.name for p in singles) == sorted(f"{name}.vcf.gz" for name in names)
    for o in singles:
        pysam.tabix_index(str(o), preset="vcf", force=True)
    (out / "done").write_text("")
    return cohort, singles


def run(vcfs: list[Path], out: Path, cores: int) -> tuple[float, int]:
    t = time.perf_counter()
    proc = subprocess.run([str(BIN / "pgx-pipeline"), "run", *map(str, vcfs), "--out", str(out), "--absent-is-reference",
                           "--cores", str(cores), "--report-date", "2026-01-31"], env=ENV, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    # Snakemake's "Job stats" table ends with "total <n>".
    totals = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("total ")]
    return wall, int(totals[0]) if totals else -1


def stage(results: Path, name: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted((results / name).glob("*/*.parquet"))], ignore_index=True)


def _text(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text, lists and missing values included, so rows compare and sort exactly."""
    return df.map(lambda v: repr(v.tolist()) if hasattr(v, "tolist") else "<NA>" if v is None or v != v else repr(v))


def compare(cohort_run: Path, singles_run: Path) -> dict[str, tuple[int, int]]:
    """stage -> (patient rows identical, rows in the cohort run), matching each single file's input to its sample."""
    out = {}
    for name in STAGES:
        a = stage(cohort_run, name).drop(columns="input_id")
        b = stage(singles_run, name)
        assert (b["input_id"] == b["sample_id"]).all(), "each single file's input id is its sample's name"
        b = b.drop(columns="input_id")
        cols = list(a.columns)
        a = _text(a).sort_values(cols).reset_index(drop=True)
        b = _text(b[cols]).sort_values(cols).reset_index(drop=True)
        same = len(a) == len(b) and (a.values == b.values).all(axis=1)
        out[name] = (int(same.sum()) if len(a) == len(b) else 0, len(a))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="100,1000", help="people per run (comma-separated)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--tmp", type=Path, default=None, help="work folder (default: a new temp dir, deleted)")
    args = ap.parse_args()
    tmp_ctx = tempfile.TemporaryDirectory(prefix="pgx-single-") if args.tmp is None else None
    tmp = Path(tmp_ctx.name) if tmp_ctx else args.tmp
    from pgx_pipeline.knowledge.embedded import embedded_kb_dir

    genes = sorted(pd.read_parquet(embedded_kb_dir() / "genes.parquet").gene)
    rows = []
    for n in [int(x) for x in args.n.split(",") if x.strip()]:
        log(f"N={n}: cutting inputs")
        cohort, singles = make_inputs(n, genes, tmp / f"n{n}")
        log(f"N={n}: one {n}-sample VCF")
        for old in ("run_one", "run_many"):
            shutil.rmtree(tmp / f"n{n}" / old, ignore_errors=True)
        t_one, j_one = run([cohort], tmp / f"n{n}" / "run_one", args.cores)
        log(f"N={n}: {n} single-sample VCFs")
        t_many, j_many = run(singles, tmp / f"n{n}" / "run_many", args.cores)
        same = compare(tmp / f"n{n}" / "run_one", tmp / f"n{n}" / "run_many")
        rows.append((n, t_one, j_one, t_many, j_many, same))
        log(f"N={n}: {t_one:.1f} s vs {t_many:.1f} s ({t_many / t_one:.2f}x); {same}")
    print("| N | one N-sample VCF: s (jobs) | N single-sample VCFs: s (jobs) | ratio | calls identical | "
          "phenotypes identical | guidance identical |")
    print("|---|---|---|---|---|---|---|")
    for n, t_one, j_one, t_many, j_many, same in rows:
        cells = " | ".join(f"{s:,}/{t:,}" for s, t in (same["calls"], same["phenotypes"], same["guidance"]))
        print(f"| {n:,} | {t_one:.1f} ({j_one}) | {t_many:.1f} ({j_many}) | {t_many / t_one:.2f}x | {cells} |")


if __name__ == "__main__":
    main()
