"""Which 1000 Genomes panel calls change between two versions of the caller, and how.

Runs ingestion once (current code) and calling twice: with the current package and with another version's
`src/` (e.g. `git archive <commit> src | tar -x -C /tmp/old`).  Prints, per gene, how many samples changed and
the most frequent old -> new pairs.  Run from the repo root:

    python benchmarks/panel_call_versions.py --old-src /tmp/old/src --genes RYR1 CACNA1S CFTR
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PANEL = REPO.parent / "shared" / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
SOURCES = [REPO.parent / "shared" / "pgx-sources" / "pharmcat", REPO.parent / "shared" / "pgx-sources" / "pharmcat-stale-fallback"]

CALL = """
import sys, pandas as pd
from pgx_pipeline.calling.call import call_genotypes, load_gene_models
kb, geno, samples, out, genes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split(",")
models = {g: m for g, m in load_gene_models(kb).items() if g in genes}
from pgx_pipeline import schema
functions = schema.read_table(kb + "/allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS)
calls = call_genotypes(pd.read_parquet(geno), pd.read_parquet(samples), models, functions)
from pgx_pipeline.phenotype import assign_phenotypes
table = schema.read_table(kb + "/diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES)
phen = assign_phenotypes(calls, functions, table)
calls = calls.merge(phen[["sample_id", "gene", "rank", "phenotype"]], on=["sample_id", "gene", "rank"], how="left")
calls[["sample_id", "gene", "rank", "diplotype", "allele1", "allele2", "status", "phenotype"]].to_parquet(out)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-src", required=True, type=Path)
    ap.add_argument("--genes", nargs="+", default=["RYR1", "CACNA1S", "CFTR"])
    ap.add_argument("--panel", type=Path, default=PANEL)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    from pgx_pipeline.ingest.vcf import ingest_vcf
    from pgx_pipeline.knowledge.build import build_knowledge_base

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_knowledge_base(SOURCES, tmp / "kb")
        vcfs = [args.panel / f"{g}.vcf.gz" for g in args.genes if (args.panel / f"{g}.vcf.gz").exists()]
        res = ingest_vcf(vcfs, tmp / "kb", tmp / "ingest", input_id="panel", absent_is_reference=True)
        out = {}
        for label, path in (("old", str(args.old_src)), ("new", str(REPO / "src"))):
            env_path = f"{path}"
            subprocess.run([sys.executable, "-c", CALL, str(tmp / "kb"), str(res.genotypes), str(res.samples),
                            str(tmp / f"{label}.parquet"), ",".join(args.genes)],
                           check=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
            out[label] = pd.read_parquet(tmp / f"{label}.parquet")
    key = ["sample_id", "gene"]
    agg = lambda df: df.groupby(key).agg(  # noqa: E731
        diplotype=("diplotype", lambda x: " OR ".join(str(d) for d in x)),
        lookup=("allele1", "first"), lookup2=("allele2", "first"),
        phenotype=("phenotype", lambda x: " OR ".join(sorted({str(p) for p in x}))))
    both = agg(out["old"]).merge(agg(out["new"]), left_index=True, right_index=True, suffixes=("_old", "_new"))
    report = {}
    for gene in args.genes:
        g = both.xs(gene, level="gene") if gene in both.index.get_level_values("gene") else both.iloc[:0]
        changed = g[g["diplotype_old"] != g["diplotype_new"]]
        pair = lambda a, b: g[a].fillna("-").astype(str) + "/" + g[b].fillna("-").astype(str)  # noqa: E731
        lookup_changed = g[pair("lookup_old", "lookup2_old") != pair("lookup_new", "lookup2_new")]
        pairs = Counter(zip(changed["diplotype_old"], changed["diplotype_new"])).most_common(args.top)
        phen_changed = g[g["phenotype_old"] != g["phenotype_new"]]
        report[gene] = {"samples": len(g), "diplotype_changed": len(changed),
                        "lookup_pair_changed": len(lookup_changed),
                        "phenotype_changed": {f"{a} -> {b}": n for (a, b), n in
                                              Counter(zip(phen_changed["phenotype_old"], phen_changed["phenotype_new"])).items()},
                        "lookup_pair_changed_examples": [
                            f"{r.lookup_old}/{r.lookup2_old} -> {r.lookup_new}/{r.lookup2_new} ({r.diplotype_new})"
                            for r in lookup_changed.head(3).itertuples()],
                        "top_changes": [f"{a}  ->  {b}  (x{n})" for (a, b), n in pairs]}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
