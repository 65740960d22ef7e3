"""Ingestion speed on the 3,202-sample GRCh38 panel, as a ratio to `bcftools view -R` over the same regions.

Run from the repo root:  python benchmarks/ingest_vs_bcftools.py [--panel DIR] [--repeat N]
Needs bcftools (Debian: apt-get install bcftools). Prints a table; nothing here is a test.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PANEL = REPO.parent / "shared" / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
SOURCES = [REPO.parent / "shared" / "pgx-sources" / "pharmcat", REPO.parent / "shared" / "pgx-sources" / "pharmcat-stale-fallback"]


def build_definitions(out: Path) -> None:
    from pgx_pipeline import schema
    from pgx_pipeline.knowledge.definitions import load_definitions
    from pgx_pipeline.knowledge.sources import SourceSet

    genes, positions, alleles = load_definitions(SourceSet.from_paths(SOURCES))
    schema.write_table(genes, out / "genes.parquet", schema.KB_GENES)
    schema.write_table(positions, out / "positions.parquet", schema.KB_POSITIONS)
    schema.write_table(alleles, out / "alleles.parquet", schema.KB_ALLELES)


def regions_bed(kb: Path, out: Path) -> None:
    import pandas as pd

    pos = pd.read_parquet(kb / "positions.parquet")
    spans = pos[pos.position_index >= 0].groupby(["gene", "chromosome"]).position.agg(["min", "max"]).reset_index()
    with out.open("w") as fh:
        for r in spans.itertuples():
            fh.write(f"{r.chromosome}\t{r.min - 1}\t{r.max}\n")


def timed(cmd: list[str], repeat: int) -> tuple[float, int]:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t)
    return best, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--panel", type=Path, default=DEFAULT_PANEL)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not shutil.which("bcftools"):
        sys.exit("bcftools not found: apt-get install bcftools")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kb = tmp / "kb"
        kb.mkdir()
        build_definitions(kb)
        import pandas as pd

        genes = pd.read_parquet(kb / "genes.parquet").gene
        files = [args.panel / f"{g}.vcf.gz" for g in genes if (args.panel / f"{g}.vcf.gz").exists()]
        bed = tmp / "regions.bed"
        regions_bed(kb, bed)
        floor_script = "; ".join(f"bcftools view -R {bed} {f} > /dev/null" for f in files)
        floor, _ = timed(["bash", "-c", floor_script], args.repeat)
        ingest_cmd = [
            sys.executable, "-m", "pgx_pipeline.cli", "ingest", "--input-id", "panel", "--kb", str(kb),
            "--out-dir", str(tmp / "out"), "--absent-is-reference", *[a for f in files for a in ("--vcf", str(f))],
        ]
        ours, peak_kb = timed(ingest_cmd, args.repeat)
        rows = pd.read_parquet(tmp / "out" / "genotypes.parquet", columns=["sample_id"])
        print(f"| what | seconds (best of {args.repeat}) | ratio to floor |")
        print("|---|---|---|")
        print(f"| bcftools view -R, {len(files)} gene files, 3,202 samples (floor) | {floor:.2f} | 1.0 |")
        print(f"| pgx-pipeline ingest (same files, same regions) -> Parquet | {ours:.2f} | {ours / floor:.1f} |")
        print(f"\npeak RSS of the ingest process: {peak_kb / 1024:.0f} MB; rows written: {len(rows):,}; "
              f"samples: {rows.sample_id.nunique():,}")


if __name__ == "__main__":
    main()
