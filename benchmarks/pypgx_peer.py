"""Peer benchmark: PyPGx (sbslee/pypgx) and pgx-pipeline on the same phased GRCh38 VCF, in the same run.

For each gene (default CYP2C19, CYP2C9, TPMT, SLCO1B1) and each sample count N (default 100 and 1,000; `--sizes
100,1000,all` adds the whole 3,202-sample panel), the panel file `<panel>/<GENE>.vcf.gz` is cut to N samples with
`bcftools view -S` (a seeded random subset, same for both tools) and given to

* PyPGx:  `pypgx run-chip-pipeline GENE OUT VCF --assembly GRCh38` (a separate venv, `--pypgx-bin`). The input is
  fully phased, so PyPGx skips Beagle and needs no reference panel: it runs offline from the pip package alone
  (gene/allele/variant tables and the Beagle jar ship inside the wheel). `PYPGX_BUNDLE` is pointed at a missing
  folder so that any use of the resource bundle would fail loudly instead of silently reading ~/pypgx-bundle.
* ours:   `pgx-pipeline ingest --absent-is-reference` + `pgx-pipeline call` on the same VCF, with a knowledge
  base built once per run from ../shared/pgx-sources (its time is printed separately, not charged per gene).

Prints a Markdown table (seconds, ms per sample-gene, ratio) and diplotype concordance per gene (allele pairs
sorted, so `*17/*1` == `*1/*17`), with the most frequent disagreement patterns and example samples.
If PyPGx cannot run, prints the failing step and its error text and exits 0.

Run from the repo root, in our venv:
  python benchmarks/pypgx_peer.py --pypgx-bin /work/venv-pypgx/bin/pypgx [--genes CYP2C19,TPMT] [--sizes 100,1000,all]
Needs bcftools and tabix. Nothing here is a test; pypgx is not a dependency of the project.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_PANEL = SHARED / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
DEFAULT_SOURCES = [SHARED / "pgx-sources" / "pharmcat", SHARED / "pgx-sources" / "pharmcat-stale-fallback"]
GENES = ["CYP2C19", "CYP2C9", "TPMT", "SLCO1B1"]


class PeerFailed(Exception):
    def __init__(self, step: str, cmd: list[str], rc: int | None, text: str):
        super().__init__(step)
        self.step, self.cmd, self.rc, self.text = step, cmd, rc, text


def run(cmd: list[str], *, env: dict | None = None, timeout: float | None = None, step: str = "") -> tuple[float, int, float]:
    """Wall seconds, peak RSS (kB) and CPU seconds (user + sys), via GNU time; raises PeerFailed on failure."""
    with tempfile.NamedTemporaryFile() as rss:
        t = time.perf_counter()
        try:
            p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", rss.name, *cmd], env=env, timeout=timeout,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except subprocess.TimeoutExpired as e:
            raise PeerFailed(step, cmd, None, f"timed out after {timeout:.0f} s") from e
        wall = time.perf_counter() - t
        if p.returncode != 0:
            raise PeerFailed(step, cmd, p.returncode, (p.stderr or "") + (p.stdout or ""))
        text = Path(rss.name).read_text().split()
        return wall, int(text[-3]), float(text[-2]) + float(text[-1])


def last_error(text: str, n: int = 12) -> str:
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln) for ln in text.strip().splitlines()]
    return "\n".join(lines[-n:])


def subset_vcf(src: Path, samples: list[str], out: Path) -> None:
    lst = out.with_suffix(".samples.txt")
    lst.write_text("\n".join(samples) + "\n")
    subprocess.run(["bcftools", "view", "-S", str(lst), "-Oz", "-o", str(out), str(src)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(out)], check=True)


def norm(diplotype: str | None) -> str | None:
    if diplotype is None or diplotype != diplotype or diplotype in ("", "Indeterminate"):
        return None
    parts = diplotype.split("/")
    key = lambda a: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", a)]  # noqa: E731
    return "/".join(sorted(parts, key=key))


def pypgx_calls(out: Path) -> dict[str, str]:
    with zipfile.ZipFile(out / "results.zip") as z:
        name = next(n for n in z.namelist() if n.endswith("data.tsv"))
        lines = z.read(name).decode().splitlines()
    header = lines[0].split("\t")
    col = header.index("Genotype")  # the header's first field (sample column) is empty
    return {f[0]: f[col] for f in (ln.split("\t") for ln in lines[1:]) if f}


def our_calls(calls: Path, gene: str) -> tuple[dict[str, str | None], dict[str, set[str]], dict[str, str]]:
    import pandas as pd

    d = pd.read_parquet(calls, columns=["sample_id", "gene", "diplotype", "candidate", "status", "n_candidates"])
    d = d[d.gene == gene]
    first = d[d["candidate"] == 1]
    top = {r.sample_id: (r.diplotype if r.status == "called" else None) for r in first.itertuples()}
    status = {r.sample_id: ("ambiguous" if r.status == "called" and r.n_candidates > 1 else r.status) for r in first.itertuples()}
    tied = collections.defaultdict(set)
    for r in d[d.status == "called"].itertuples():
        tied[r.sample_id].add(norm(r.diplotype))
    return top, tied, status


def pypgx_alleles(pypgx_bin: str, gene: str) -> set[str]:
    """The star alleles PyPGx's own allele table defines for `gene` (read from its installed package)."""
    python = Path(pypgx_bin).with_name("python")
    code = "import os, pypgx; print(os.path.join(os.path.dirname(pypgx.__file__), 'api', 'data', 'allele-table.csv'))"
    table = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    with open(table) as fh:
        return {f[1] for f in (line.split(",") for line in fh) if f[0] == gene}


def concordance(peer: dict[str, str], top: dict, tied: dict, status: dict, peer_alleles: set[str]) -> dict:
    """Agreement of rank-1 diplotypes; a disagreement where we name an allele PyPGx's table lacks is counted apart."""
    agree = disagree = in_tie = unknown_to_peer = 0
    patterns: collections.Counter = collections.Counter()
    examples: dict[tuple, list[str]] = collections.defaultdict(list)
    for s, p in peer.items():
        a, b = norm(p) or p or "(none)", norm(top.get(s)) or f"({status.get(s, 'missing')})"
        if a == b:
            agree += 1
            continue
        disagree += 1
        if a in tied.get(s, set()):
            in_tie += 1
        if b and not b.startswith("(") and set(b.split("/")) - peer_alleles:
            unknown_to_peer += 1
        patterns[(a, b)] += 1
        if len(examples[(a, b)]) < 3:
            examples[(a, b)].append(s)
    top_patterns = [{"pypgx": a, "ours": b, "n": n, "examples": examples[(a, b)]} for (a, b), n in patterns.most_common()]
    return {"agree": agree, "disagree": disagree, "disagree_but_pypgx_among_our_tied": in_tie,
            "disagree_we_name_an_allele_pypgx_lacks": unknown_to_peer, "patterns": top_patterns}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pypgx-bin", default="/work/venv-pypgx/bin/pypgx", help="the `pypgx` entry point of its own venv")
    ap.add_argument("--pgx-pipeline", default=None, help="our CLI (default: this Python's `-m pgx_pipeline.cli`)")
    ap.add_argument("--genes", default=",".join(GENES))
    ap.add_argument("--sizes", default="100,1000", help="comma-separated sample counts; 'all' = every panel sample")
    ap.add_argument("--panel", type=Path, default=DEFAULT_PANEL)
    ap.add_argument("--source", type=Path, action="append", help="knowledge source folders (default: ../shared pharmcat)")
    ap.add_argument("--pipeline", choices=["chip", "ngs"], default="chip", help="PyPGx pipeline command")
    ap.add_argument("--bundle", default=None, help="PYPGX_BUNDLE for PyPGx (default: a missing folder = no bundle)")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds per PyPGx run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write all results here")
    ap.add_argument("--keep", type=Path, help="keep work files in this folder")
    args = ap.parse_args()

    for tool in ("bcftools", "tabix"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install {'tabix' if tool == 'tabix' else 'bcftools'}")
    ours = [args.pgx_pipeline] if args.pgx_pipeline else [sys.executable, "-m", "pgx_pipeline.cli"]
    genes = [g for g in args.genes.split(",") if g]
    sources = args.source or DEFAULT_SOURCES

    work = args.keep or Path(tempfile.mkdtemp(prefix="pypgx-peer-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYPGX_BUNDLE=args.bundle or str(work / "no-pypgx-bundle-here"))
    results: dict = {"rows": [], "concordance": {}, "failure": None}

    try:
        if not Path(args.pypgx_bin).exists():
            raise PeerFailed("locate pypgx", [args.pypgx_bin], None, f"{args.pypgx_bin} does not exist "
                             "(python3 -m venv /work/venv-pypgx && /work/venv-pypgx/bin/pip install pypgx)")
        p = subprocess.run([args.pypgx_bin, "--version"], capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise PeerFailed("pypgx --version", [args.pypgx_bin, "--version"], p.returncode, p.stderr)
        results["pypgx_version"] = p.stdout.strip()
        startup, _, _ = run([args.pypgx_bin, "--version"], env=env, step="pypgx --version")

        kb = work / "kb"
        kb_s, _, _ = run([*ours, "knowledge", "build", *[a for s in sources for a in ("--source", str(s))], "--out", str(kb)],
                         step="pgx-pipeline knowledge build")
        print(f"{results['pypgx_version']}; PYPGX_BUNDLE={env['PYPGX_BUNDLE']}; pypgx start-up (--version) "
              f"{startup:.1f} s; our knowledge build (once) {kb_s:.1f} s", flush=True)
        results.update(pypgx_startup_s=startup, our_kb_build_s=kb_s)

        print("\n| gene | samples | PyPGx s | ours s (ingest + call) | PyPGx ms/sample-gene | ours ms/sample-gene "
              "| PyPGx / ours | CPU s PyPGx / ours (ratio) | PyPGx peak RSS | our peak RSS | agree | disagree |", flush=True)
        print("|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
        for gene in genes:
            src = args.panel / f"{gene}.vcf.gz"
            if not src.exists():
                print(f"| {gene} | - | no file {src} | | | | | | | | |", flush=True)
                continue
            all_samples = subprocess.run(["bcftools", "query", "-l", str(src)], capture_output=True, text=True,
                                         check=True).stdout.split()
            for size in args.sizes.split(","):
                n = len(all_samples) if size == "all" else min(int(size), len(all_samples))
                picked = set(random.Random(args.seed).sample(all_samples, n))
                samples = [s for s in all_samples if s in picked]
                d = work / f"{gene}_{n}"
                d.mkdir(exist_ok=True)
                vcf = d / f"{gene}.{n}.vcf.gz"
                subset_vcf(src, samples, vcf)

                out = d / "pypgx"
                cmd = [args.pypgx_bin, f"run-{args.pipeline}-pipeline", gene, str(out), str(vcf), "--assembly", "GRCh38", "--force"]
                if args.pipeline == "ngs":
                    cmd = [args.pypgx_bin, "run-ngs-pipeline", gene, str(out), "--variants", str(vcf), "--assembly", "GRCh38",
                           "--do-not-plot-allele-fraction", "--force"]
                peer_s, peer_rss, peer_cpu = run(cmd, env=env, timeout=args.timeout, step=f"pypgx run-{args.pipeline}-pipeline {gene} (N={n})")
                if (out / "phased-variants.zip").exists():
                    print(f"note: PyPGx ran Beagle phasing for {gene} N={n}", flush=True)

                ing = d / "ours"
                ing_s, ing_rss, ing_cpu = run([*ours, "ingest", "--input-id", f"{gene}_{n}", "--vcf", str(vcf), "--kb", str(kb),
                                         "--out-dir", str(ing), "--absent-is-reference"], step=f"pgx-pipeline ingest {gene}")
                call_s, call_rss, call_cpu = run([*ours, "call", "--genotypes", str(ing / "genotypes.parquet"), "--samples",
                                           str(ing / "samples.parquet"), "--kb", str(kb), "--out", str(d / "calls.parquet")],
                                          step=f"pgx-pipeline call {gene}")
                ours_s = ing_s + call_s

                conc = concordance(pypgx_calls(out), *our_calls(d / "calls.parquet", gene), pypgx_alleles(args.pypgx_bin, gene))
                results["concordance"][f"{gene}_{n}"] = conc
                row = {"gene": gene, "samples": n, "pypgx_s": peer_s, "ours_s": ours_s, "ours_ingest_s": ing_s,
                       "ours_call_s": call_s, "pypgx_cpu_s": peer_cpu, "ours_cpu_s": ing_cpu + call_cpu, "pypgx_rss_kb": peer_rss, "ours_rss_kb": max(ing_rss, call_rss),
                       "agree": conc["agree"], "disagree": conc["disagree"]}
                results["rows"].append(row)
                print(f"| {gene} | {n:,} | {peer_s:.1f} | {ours_s:.2f} ({ing_s:.2f} + {call_s:.2f}) | {1000 * peer_s / n:.1f} "
                      f"| {1000 * ours_s / n:.2f} | {peer_s / ours_s:.0f}x | {peer_cpu:.1f} / {ing_cpu + call_cpu:.2f} ({peer_cpu / (ing_cpu + call_cpu):.0f}x) | {peer_rss / 1024:.0f} MB "
                      f"| {row['ours_rss_kb'] / 1024:.0f} MB | {conc['agree']} | {conc['disagree']} |", flush=True)
    except PeerFailed as e:
        results["failure"] = {"step": e.step, "cmd": e.cmd, "rc": e.rc, "error": last_error(e.text)}
        print(f"\nPyPGx peer could not be measured.\nfailing step: {e.step}\ncommand: {' '.join(map(str, e.cmd))}\n"
              f"exit code: {e.rc}\nerror (last lines):\n{last_error(e.text)}", flush=True)

    if results["concordance"]:
        print("\n### Diplotype concordance (PyPGx vs ours, rank-1 call; allele pair sorted)\n")
        for key, c in results["concordance"].items():
            total = c["agree"] + c["disagree"]
            print(f"- **{key.replace('_', ', N=')}**: agree {c['agree']}/{total} ({100 * c['agree'] / total:.1f}%), "
                  f"disagree {c['disagree']} (of which PyPGx's diplotype is among our tied candidates: "
                  f"{c['disagree_but_pypgx_among_our_tied']}; where we name an allele PyPGx's table lacks: "
                  f"{c['disagree_we_name_an_allele_pypgx_lacks']})")
            for p in c["patterns"]:
                print(f"  - PyPGx `{p['pypgx']}` vs ours `{p['ours']}`: {p['n']} (e.g. {', '.join(p['examples'])})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
