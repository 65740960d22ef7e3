"""End-to-end and scaling benchmark on the 3,202-sample GRCh38 panel, with floors measured in the same run.

Run from the repo root (needs bcftools/bgzip; nothing here is a test, nothing is written to the repo):

    python benchmarks/scale.py [--sizes 100,1000,3202] [--max-samples 50000] [--cores 1,2] [--reports]

1. Knowledge base built once (`pgx-pipeline knowledge build`, both mirror folders).
2. Workflow: `snakemake --cores N --configfile <tmp> --until match_guidance` on the full panel (every gene file the
   knowledge base defines that exists in the panel, one input, absent_is_reference: true), for each N in --cores:
   wall time, and per-stage job-seconds / peak RSS of any job from the rules' benchmark TSVs (results/benchmarks/).
   The config's sharding applies (default 2,000 samples per part, 4 gene groups).
   With --reports, the report rules (`all`: warfarin model training, per-patient reports, cohort summary) run
   afterwards in the same results folder at the last N and are timed separately.
3. Scaling: the same workflow at the last N of --cores for 100, 1,000, 3,202 samples (`bcftools view -s` subsets)
   and a synthetic cohort made by resampling the panel's phased haplotypes (size --max-samples, default 50,000;
   0 skips it): wall seconds, job-seconds and the largest peak RSS of any job per stage, next to the floors on
   the same files: `bcftools view -R` over the same regions, and reading the ingested genotypes Parquet.
   The synthetic cohort keeps every panel record inside the knowledge base's gene spans (the records the ingest
   stage reads); sample i's two haplotypes are drawn from two random panel haplotypes per gene (chrX genes:
   a whole random panel sample, to keep ploidy). It is written to a temp dir and deleted afterwards.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_PANEL = SHARED / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
SOURCES = [SHARED / "pgx-sources" / "pharmcat", SHARED / "pgx-sources" / "pharmcat-stale-fallback"]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def log(msg: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(cmd: list[str], **kw) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command (GNU time)."""
    with tempfile.NamedTemporaryFile() as rss:
        t = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(f"failed ({proc.returncode}): {' '.join(cmd)[:300]}\n{proc.stderr[-2000:]}")
        return wall, int(Path(rss.name).read_text().split()[-1]) / 1024


# ---------------------------------------------------------------- inputs


def gene_files(kb: Path, panel: Path) -> list[Path]:
    genes = pd.read_parquet(kb / "genes.parquet").gene
    return [panel / f"{g}.vcf.gz" for g in genes if (panel / f"{g}.vcf.gz").exists()]


def write_regions(kb: Path, out: Path) -> pd.DataFrame:
    pos = pd.read_parquet(kb / "positions.parquet")
    spans = pos[pos.position_index >= 0].groupby(["gene", "chromosome"]).position.agg(["min", "max"]).reset_index()
    with out.open("w") as fh:
        for r in spans.itertuples():
            fh.write(f"{r.chromosome}\t{r.min - 1}\t{r.max}\n")
    return spans


def subset(files: list[Path], n: int, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    names = subprocess.run(["bcftools", "query", "-l", str(files[0])], capture_output=True, text=True,
                           check=True).stdout.split()[:n]
    (out / "samples.txt").write_text("\n".join(names) + "\n")
    res = []
    for f in files:
        o = out / f.name
        subprocess.run(["bcftools", "view", "-S", str(out / "samples.txt"), "-Oz", "-o", str(o), str(f)], check=True)
        subprocess.run(["bcftools", "index", "-t", str(o)], check=True)
        res.append(o)
    return res


def synthesize(files: list[Path], bed: Path, n: int, out: Path, seed: int = 7) -> list[Path]:
    """A cohort of n samples drawn from the panel's phased haplotypes (per gene file, same records)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = "\t".join(f"SYN{i:06d}" for i in range(n))
    res = []
    for f in files:
        header = subprocess.run(["bcftools", "view", "-h", str(f)], capture_output=True, text=True, check=True).stdout
        head_lines = [ln for ln in header.splitlines() if not ln.startswith("#CHROM")]
        chrom_line = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + names
        q = subprocess.run(["bcftools", "query", "-R", str(bed), "-f", "%CHROM\t%POS\t%ID\t%REF\t%ALT\t%FILTER[\t%GT]\n",
                            str(f)], capture_output=True, text=True, check=True).stdout.splitlines()
        o = out / f.name
        bg = subprocess.Popen(["bgzip", "-@", "2", "-c"], stdin=subprocess.PIPE, stdout=o.open("wb"))
        bg.stdin.write(("\n".join(head_lines) + "\n" + chrom_line + "\n").encode())
        if q:
            n_src = len(q[0].split("\t")) - 6
            a, b = rng.integers(0, n_src, n), rng.integers(0, n_src, n)
            ha, hb = rng.integers(0, 2, n), rng.integers(0, 2, n)
            for line in q:
                fields = line.split("\t")
                gts = fields[6:]
                prefix = "\t".join(fields[:5]) + "\t.\t" + fields[5] + "\t.\tGT\t"
                if any(len(g) != 3 for g in gts):  # haploid (chrX males) or multi-digit: resample whole samples
                    arr = np.array(gts, dtype=object)[a]
                    body = "\t".join(arr)
                else:
                    m = np.frombuffer("".join(gts).encode(), dtype=np.uint8).reshape(-1, 3)
                    hap = m[:, [0, 2]]
                    rec = np.empty((n, 4), dtype=np.uint8)
                    rec[:, 0] = hap[a, ha]
                    rec[:, 1] = ord("|")
                    rec[:, 2] = hap[b, hb]
                    rec[:, 3] = ord("\t")
                    body = rec.tobytes()[:-1].decode()
                bg.stdin.write((prefix + body + "\n").encode())
        bg.stdin.close()
        bg.wait()
        subprocess.run(["bcftools", "index", "-t", str(o)], check=True)
        res.append(o)
    return res


# ---------------------------------------------------------------- measurements


def floors(files: list[Path], bed: Path, results: Path) -> dict:
    """The two floors on the same input: bcftools reading the same regions, and reading the ingested Parquet."""
    cmd = "; ".join(f"bcftools view -R {bed} {f} > /dev/null" for f in files)
    bcf, _ = timed(["bash", "-c", cmd])
    parts = sorted(str(p) for p in (results / "ingest").rglob("*.genotypes.parquet"))
    read, _ = timed([sys.executable, "-c", f"import pandas as pd; [pd.read_parquet(p) for p in {parts!r}]"])
    rows = sum(pq_rows(Path(p)) for p in parts)
    return {"floor_bcftools": bcf, "floor_parquet": read, "genotype_rows": rows,
            "vcf_mb": sum(f.stat().st_size for f in files) / 1e6}


def pq_rows(p: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(p).metadata.num_rows


def workflow(files: list[Path], tmp: Path, cores: int, target: list[str], tag: str = "") -> tuple[float, Path]:
    results = tmp / (tag or f"wf_cores{cores}")
    cfg = {
        "results": str(results),
        "knowledge": {"sources": [{"path": str(SOURCES[0]), "stale": False}, {"path": str(SOURCES[1]), "stale": True}],
                      "fda_associations": str(SHARED / "pgx-sources" / "fda-pgx-associations" / "fda_pgx_associations.json")},
        "inputs": [{"id": "panel", "vcfs": [str(f) for f in files], "absent_is_reference": True}],
        "sample_sheet": "",
        "models": {"warfarin": {"training_file": str(SHARED / "training" / "iwpc_warfarin" / "iwpc_warfarin_dev.xlsx"),
                                "seed": 20090219}},
        "report_date": "2026-01-01",
    }
    cfg_path = tmp / f"config_{tag or cores}.yaml"
    cfg_path.write_text(json.dumps(cfg))  # JSON is YAML
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp / "wfdir"),
           "--configfile", str(cfg_path), "--cores", str(cores), "--quiet", *target]
    (tmp / "wfdir").mkdir(exist_ok=True)
    if not (tmp / "wfdir" / "config").exists():
        (tmp / "wfdir" / "config").symlink_to(REPO / "config")  # the Snakefile's `configfile:` is workdir-relative
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake failed at --cores {cores}:\n{proc.stderr[-3000:]}")
    return wall, results


def bench_tsv(results: Path) -> dict[str, tuple[float, float, int]]:
    """Per stage: job-seconds summed over its jobs, the largest peak RSS of any job (MB), number of jobs."""
    out: dict[str, list] = {}
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        d = pd.read_csv(tsv, sep="\t")
        stage = tsv.relative_to(results / "benchmarks").parts[0].removesuffix(".tsv")
        acc = out.setdefault(stage, [0.0, 0.0, 0])
        acc[0] += float(d.s.iloc[0])
        acc[1] = max(acc[1], float(d.max_rss.iloc[0]))
        acc[2] += 1
    return {k: tuple(v) for k, v in out.items()}


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--panel", type=Path, default=DEFAULT_PANEL)
    ap.add_argument("--sizes", default="100,1000,3202", help="panel subsets (sample counts)")
    ap.add_argument("--max-samples", type=int, default=50000, help="synthetic cohort size (0: skip)")
    ap.add_argument("--cores", default="1,2", help="workflow runs on the full panel ('' skips)")
    ap.add_argument("--reports", action="store_true", help="also run the report rules after the last workflow run")
    ap.add_argument("--tmp", type=Path, default=None, help="work folder (default: a new temp dir, deleted)")
    args = ap.parse_args()
    for tool in ("bcftools", "bgzip", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found")
    tmp_ctx = tempfile.TemporaryDirectory(prefix="pgx-scale-") if args.tmp is None else None
    tmp = Path(tmp_ctx.name) if tmp_ctx else args.tmp
    tmp.mkdir(parents=True, exist_ok=True)
    kb = tmp / "kb"
    t_kb, kb_mb = timed(["pgx-pipeline", "knowledge", "build", *[a for s in SOURCES for a in ("--source", str(s))],
                         "--out", str(kb)])
    files = gene_files(kb, args.panel)
    bed = tmp / "regions.bed"
    write_regions(kb, bed)
    log(f"knowledge base: {t_kb:.1f} s; {len(files)} gene files: {' '.join(f.stem.split('.')[0] for f in files)}")

    # -- workflow on the full panel
    wf_rows = []
    cores_list = [int(c) for c in args.cores.split(",") if c.strip()]
    for c in cores_list:
        log(f"workflow --cores {c} --until match_guidance")
        wall, results = workflow(files, tmp, c, ["--until", "match_guidance"])
        wf_rows.append((c, wall, bench_tsv(results)))
    report_row = None
    if args.reports and cores_list:
        c = cores_list[-1]
        log(f"workflow --cores {c}: report rules (all)")
        wall, results = workflow(files, tmp, c, [])
        report_row = (c, wall, bench_tsv(results))

    # -- scaling series: the workflow at the last core count, with floors on the same files
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    total = int(subprocess.run(["bcftools", "query", "-l", str(files[0])], capture_output=True, text=True,
                               check=True).stdout.count("\n"))
    c = cores_list[-1] if cores_list else 2
    series = []

    def one(label: str, fs: list[Path], tag: str, n: int) -> None:
        try:
            wall, results = workflow(fs, tmp, c, ["--until", "match_guidance"], tag=tag)
            series.append((label, {"wall": wall, "samples": n, "stages": bench_tsv(results), **floors(fs, bed, results)}))
            shutil.rmtree(results)
        except RuntimeError as exc:
            log(f"{label} failed: {exc}")
            series.append((f"{label} FAILED", {"error": str(exc)[:400]}))

    for n in sizes:
        log(f"scaling: {n} samples")
        fs = files if n >= total else subset(files, n, tmp / f"subset_{n}")
        one(f"{min(n, total):,} (panel{' subset' if n < total else ''})", fs, f"scale_{n}", min(n, total))
        if n < total:
            shutil.rmtree(tmp / f"subset_{n}")
    if args.max_samples:
        n = args.max_samples
        log(f"synthesizing {n:,} samples")
        t = time.perf_counter()
        fs = synthesize(files, bed, n, tmp / "synthetic")
        log(f"synthesized in {time.perf_counter() - t:.0f} s ({sum(f.stat().st_size for f in fs) / 1e6:.0f} MB)")
        one(f"{n:,} (synthetic)", fs, "scale_synthetic", n)
        shutil.rmtree(tmp / "synthetic", ignore_errors=True)

    # -- tables
    print(f"\nKnowledge base build: {t_kb:.1f} s, peak {kb_mb:.0f} MB. Panel: {len(files)} gene files.\n")
    if wf_rows:
        print("### Workflow, full panel (`--until match_guidance`)\n")
        stages = sorted({k for _, _, b in wf_rows for k in b})
        print("| cores | wall (s) | " + " | ".join(stages) + " |")
        print("|---|---|" + "---|" * len(stages))
        for c, wall, b in wf_rows:
            cells = [f"{b[s][0]:.1f} s / {b[s][1]:.0f} MB" if s in b else "" for s in stages]
            print(f"| {c} | {wall:.1f} | " + " | ".join(cells) + " |")
        print("\n(cells: job-seconds summed over the stage's jobs / the largest peak RSS of any of them, from Snakemake's benchmark TSVs)\n")
    if report_row:
        c, wall, b = report_row
        print(f"### Report rules after the above (`all`, --cores {c}): {wall:.1f} s wall")
        for s in ("model", "report"):
            if s in b:
                print(f"- {s}: {b[s][0]:.1f} job-s over {b[s][2]} job(s), largest {b[s][1]:.0f} MB")
        print()
    c = cores_list[-1] if cores_list else 2
    print(f"### Scaling: workflow `--until match_guidance` at --cores {c} (job-seconds / largest job peak RSS)\n")
    stages = ["ingest", "call", "phenotype", "guidance"]
    print("| samples | VCF MB | floor bcftools -R (s) | floor Parquet read (s) | wall (s) | "
          + " | ".join(stages) + " | ingest / floor | ingest..guidance job-s | ms per sample | genotype rows |")
    print("|---|---|---|---|---|" + "---|" * len(stages) + "---|---|---|---|")
    for label, r in series:
        if "error" in r:
            print(f"| {label} | " + " | " * (8 + len(stages)) + f"{r['error'][:120]} |")
            continue
        st = r["stages"]
        cells = [f"{st[k][0]:.1f} s ({st[k][2]} jobs) / {st[k][1]:.0f} MB" if k in st else "" for k in stages]
        tot = sum(st[k][0] for k in stages if k in st)
        ingest = st.get("ingest", (float("nan"),))[0]
        print(f"| {label} | {r['vcf_mb']:.0f} | {r['floor_bcftools']:.2f} | {r['floor_parquet']:.2f} | {r['wall']:.1f} | "
              + " | ".join(cells) + f" | {ingest / r['floor_bcftools']:.1f}x | {tot:.1f} | "
              f"{1000 * tot / r['samples']:.2f} | {r['genotype_rows']:,} |")
    if tmp_ctx:
        tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
