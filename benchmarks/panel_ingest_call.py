"""Ingestion and calling on the 3,202-sample GRCh38 panel, as ratios to floors measured in the same run.

Floors: `bcftools view -R` over the same regions (ingestion), and a plain read of the genotypes Parquet
(calling). Run from the repo root:  python benchmarks/panel_ingest_call.py [--panel DIR] [--repeat N]
Needs bcftools (Debian: apt-get install bcftools). Prints a table; nothing here is a test.
"""

from __future__ import annotations

import argparse
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
    """Best wall time over `repeat` runs and the peak RSS (kB) of the command, read via GNU time."""
    best, peak = float("inf"), 0
    for _ in range(repeat):
        with tempfile.NamedTemporaryFile() as rss:
            t = time.perf_counter()
            subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - t)
            peak = max(peak, int(Path(rss.name).read_text().split()[-1]))
    return best, peak


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
        out = tmp / "out"
        ingest_cmd = [
            sys.executable, "-m", "pgx_pipeline.cli", "ingest", "--input-id", "panel", "--kb", str(kb),
            "--out-dir", str(tmp / "out"), "--absent-is-reference", *[a for f in files for a in ("--vcf", str(f))],
        ]
        ours, peak_ingest = timed(ingest_cmd, args.repeat)
        read_floor, _ = timed([sys.executable, "-c", f"import pyarrow.parquet as pq; pq.read_table('{out}/genotypes.parquet').to_pandas()"], args.repeat)
        call_cmd = [sys.executable, "-m", "pgx_pipeline.cli", "call", "--genotypes", str(out / "genotypes.parquet"),
                    "--samples", str(out / "samples.parquet"), "--kb", str(kb), "--out", str(tmp / "calls.parquet")]
        calling, peak_call = timed(call_cmd, args.repeat)
        rows = pd.read_parquet(out / "genotypes.parquet", columns=["sample_id"])
        calls = pd.read_parquet(tmp / "calls.parquet", columns=["sample_id", "gene", "candidate"])
        n_calls = int((calls["candidate"] == 1).sum())
        print(f"| stage | seconds (best of {args.repeat}) | ratio to its floor | peak RSS |")
        print("|---|---|---|---|")
        print(f"| floor: bcftools view -R, {len(files)} gene files, {rows.sample_id.nunique():,} samples | {floor:.2f} | 1.0 | |")
        print(f"| pgx-pipeline ingest -> Parquet ({len(rows):,} rows) | {ours:.2f} | {ours / floor:.1f}x bcftools | {peak_ingest / 1024:.0f} MB |")
        print(f"| floor: read genotypes.parquet into pandas | {read_floor:.2f} | 1.0 | |")
        print(f"| pgx-pipeline call ({n_calls:,} sample-gene calls) | {calling:.2f} | {calling / read_floor:.1f}x read | {peak_call / 1024:.0f} MB |")
        print(f"\ncalls per second (calling stage incl. process start): {n_calls / calling:,.0f}; "
              f"ingest + call vs bcftools floor: {(ours + calling) / floor:.1f}x")


if __name__ == "__main__":
    main()
