"""Peer benchmark: PyPGx against pgx-pipeline on the same VCFs, per gene, in the same run; plus call concordance.

Run from the repo root (needs bcftools/tabix; nothing here is a test, nothing is written to the repo):

    python3 -m venv /tmp/venv-pypgx && /tmp/venv-pypgx/bin/pip install pypgx "pandas<2.2" "numpy<2"
    python benchmarks/pypgx_peer.py --pypgx-bin /tmp/venv-pypgx/bin/pypgx [--sizes 100,1000] [--genes ...]

PyPGx (sbslee/pypgx) runs offline for these genes: its allele tables ship inside the pip package, and
`run-chip-pipeline --panel <the panel's own gene VCF>` needs no pypgx-bundle download; the input is fully phased,
so it skips Beagle phasing, and no imputation is asked for. PyPGx 0.27 needs pandas < 2.2 and numpy < 2 (with
pandas 3 it fails in `call-genotypes`: "ValueError: setting an array element with a sequence"), hence its own venv.

For each gene and sample count (`bcftools view -s` subsets of the 3,202-sample GRCh38 panel) it times
- PyPGx: `pypgx run-chip-pipeline GENE OUT VCF --assembly GRCh38 --panel PANEL_GENE_VCF`;
- ours: `pgx-pipeline ingest` (absent = reference, as the panel is variant-only) + `pgx-pipeline call` on the
  same VCF (all 20 genes are attempted; only this gene has records);
and compares the rank-1 diplotypes (alleles sorted; ours "ambiguous" counts as a disagreement).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PANEL = SHARED / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
SOURCES = [SHARED / "pgx-sources" / "pharmcat", SHARED / "pgx-sources" / "pharmcat-stale-fallback"]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def run(cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], env=ENV, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"failed: {' '.join(map(str, cmd))[:300]}\n{proc.stderr[-1500:]}")
    return time.perf_counter() - t


def subset(gene: str, n: int, out: Path) -> Path:
    src = PANEL / f"{gene}.vcf.gz"
    names = subprocess.run(["bcftools", "query", "-l", str(src)], capture_output=True, text=True, check=True).stdout.split()
    vcf = out / f"{gene}.{n}.vcf.gz"
    (out / "samples.txt").write_text("\n".join(names[:n]) + "\n")
    subprocess.run(["bcftools", "view", "-S", str(out / "samples.txt"), "-Oz", "-o", str(vcf), str(src)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(vcf)], check=True)
    return vcf


def pypgx_calls(out: Path) -> pd.Series:
    with zipfile.ZipFile(out / "results.zip") as z:
        name = next(n for n in z.namelist() if n.endswith("data.tsv"))
        with z.open(name) as fh:
            df = pd.read_csv(fh, sep="\t", index_col=0)
    return df["Genotype"].map(_norm)


def ours_calls(calls: Path, gene: str) -> pd.Series:
    df = pd.read_parquet(calls)
    top = df[(df["gene"] == gene) & (df["rank"] == 1)].set_index("sample_id")
    amb = top["n_candidates"].fillna(0) > 1
    return top["diplotype"].where(~amb, "ambiguous").map(_norm)


def _norm(d) -> str:
    if not isinstance(d, str) or "/" not in d:
        return str(d)
    return "/".join(sorted(d.split("/"), key=lambda a: (len(a), a)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pypgx-bin", required=True, type=Path)
    ap.add_argument("--genes", default="CYP2C19,CYP2C9,TPMT,SLCO1B1")
    ap.add_argument("--sizes", default="100,1000")
    args = ap.parse_args()
    if not args.pypgx_bin.exists():
        sys.exit(f"PyPGx not found at {args.pypgx_bin}; install it in its own venv (see the docstring)")
    version = subprocess.run([str(args.pypgx_bin), "--version"], capture_output=True, text=True).stdout.strip()
    rows, examples = [], []
    with tempfile.TemporaryDirectory(prefix="pgx-peer-") as tmp_name:
        tmp = Path(tmp_name)
        kb = tmp / "kb"
        run(["pgx-pipeline", "knowledge", "build", *[a for s in SOURCES for a in ("--source", s)], "--out", kb])
        for gene in args.genes.split(","):
            for n in [int(s) for s in args.sizes.split(",")]:
                work = tmp / f"{gene}_{n}"
                work.mkdir()
                vcf = subset(gene, n, work)
                print(f"[peer] {gene} {n} samples", file=sys.stderr, flush=True)
                t_peer = run([args.pypgx_bin, "run-chip-pipeline", gene, work / "pypgx", vcf, "--assembly", "GRCh38",
                              "--panel", PANEL / f"{gene}.vcf.gz"])
                t_ingest = run(["pgx-pipeline", "ingest", "--input-id", "peer", "--vcf", vcf, "--kb", kb,
                                "--out-dir", work / "ingest", "--absent-is-reference"])
                t_call = run(["pgx-pipeline", "call", "--genotypes", work / "ingest" / "genotypes.parquet",
                              "--samples", work / "ingest" / "samples.parquet", "--kb", kb, "--out", work / "calls.parquet"])
                peer, ours = pypgx_calls(work / "pypgx"), ours_calls(work / "calls.parquet", gene)
                both = pd.concat([peer.rename("pypgx"), ours.rename("ours")], axis=1, join="inner")
                agree = int((both["pypgx"] == both["ours"]).sum())
                diff = both[both["pypgx"] != both["ours"]]
                counts = diff.groupby(["pypgx", "ours"]).size().sort_values(ascending=False)
                examples += [(gene, n, a, b, int(k)) for (a, b), k in counts.head(4).items()]
                t_ours = t_ingest + t_call
                rows.append({"gene": gene, "samples": n, "pypgx_s": t_peer, "ours_s": t_ours,
                             "pypgx_ms": 1000 * t_peer / n, "ours_ms": 1000 * t_ours / n, "ratio": t_peer / t_ours,
                             "agree": agree, "compared": len(both)})
                print(f"[peer] {gene} {n}: PyPGx {t_peer:.1f} s, ours {t_ours:.1f} s, same diplotype {agree}/{len(both)}",
                      file=sys.stderr, flush=True)
                shutil.rmtree(work)
    print(f"\nPyPGx {version} vs pgx-pipeline, GRCh38 panel subsets, same run.\n")
    print("| gene | samples | PyPGx (s) | ours: ingest + call (s) | PyPGx ms/sample | ours ms/sample | PyPGx / ours | "
          "same diplotype |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['gene']} | {r['samples']:,} | {r['pypgx_s']:.1f} | {r['ours_s']:.1f} | {r['pypgx_ms']:.1f} | "
              f"{r['ours_ms']:.2f} | {r['ratio']:.1f}x | {r['agree']}/{r['compared']} |")
    if examples:
        print("\nMost frequent disagreements (PyPGx -> ours, count):\n")
        for gene, n, a, b, k in examples:
            print(f"- {gene} ({n:,} samples): {a} -> {b} ({k})")


if __name__ == "__main__":
    main()
