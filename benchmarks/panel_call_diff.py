"""Every call of the 3,202-sample 1000 Genomes panel (GRCh38, phased, variant-only: absent = reference), written as
one TSV row per sample and gene, and the difference between two such TSVs (e.g. before and after a matcher change).

    python benchmarks/panel_call_diff.py run --out after.tsv            # with the pgx_pipeline on PYTHONPATH
    python benchmarks/panel_call_diff.py compare before.tsv after.tsv   # changed calls, grouped, with examples

Works with any version of the package (it reads only columns every version has). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PANEL = REPO.parent / "shared" / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
SOURCES = [REPO.parent / "shared" / "pgx-sources" / "pharmcat", REPO.parent / "shared" / "pgx-sources" / "pharmcat-stale-fallback"]


def run(out: Path, panel: Path) -> None:
    from pgx_pipeline import schema
    from pgx_pipeline.calling.call import call_genotypes, load_gene_models
    from pgx_pipeline.ingest.vcf import ingest_vcf
    from pgx_pipeline.knowledge.build import build_knowledge_base
    from pgx_pipeline.phenotype import assign_phenotypes

    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb"
        build_knowledge_base(SOURCES, kb)
        models = load_gene_models(kb)
        files = [panel / f"{g}.vcf.gz" for g in sorted(models) if (panel / f"{g}.vcf.gz").exists()]
        res = ingest_vcf(files, kb, Path(tmp) / "ingest", input_id="panel", absent_is_reference=True)
        geno, samples = pd.read_parquet(res.genotypes), pd.read_parquet(res.samples)
        genes = {g for g in models if (panel / f"{g}.vcf.gz").exists()}
        calls = call_genotypes(geno, samples, {g: m for g, m in models.items() if g in genes})
        phen = assign_phenotypes(calls, schema.read_table(kb / "allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS),
                                 schema.read_table(kb / "diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES))
    rows = []
    for (sample, gene), g in phen.groupby(["sample_id", "gene"], sort=True):
        rows.append({
            "sample_id": sample, "gene": gene, "status": g["status"].iloc[0],
            "diplotypes": " | ".join(d for d in g["diplotype"] if isinstance(d, str)),
            "phenotypes": " | ".join(sorted({p for p in g["phenotype"] if isinstance(p, str)})),
        })
    warn = calls.groupby(["sample_id", "gene"])["warnings"].first()
    df = pd.DataFrame(rows)
    df["warnings"] = [" ; ".join(warn.get((s, g), [])) for s, g in zip(df["sample_id"], df["gene"])]
    df.to_csv(out, sep="\t", index=False)
    print(f"{len(df):,} sample-gene calls for {df['sample_id'].nunique():,} samples, {df['gene'].nunique()} genes -> {out}")


def compare(before: Path, after: Path, examples: int) -> None:
    b = pd.read_csv(before, sep="\t", dtype=str, keep_default_na=False).set_index(["sample_id", "gene"])
    a = pd.read_csv(after, sep="\t", dtype=str, keep_default_na=False).set_index(["sample_id", "gene"])
    both = b.add_suffix("_before").join(a.add_suffix("_after"), how="outer").fillna("")
    changed = both[(both["diplotypes_before"] != both["diplotypes_after"]) | (both["status_before"] != both["status_after"])
                   | (both["phenotypes_before"] != both["phenotypes_after"])]
    print(f"{len(both):,} sample-gene calls compared; {len(changed):,} changed\n")
    groups: dict[tuple, list[str]] = defaultdict(list)
    for (sample, gene), r in changed.iterrows():
        key = (gene, f"{r['diplotypes_before'] or r['status_before']} [{r['phenotypes_before'] or '-'}]",
               f"{r['diplotypes_after'] or r['status_after']} [{r['phenotypes_after'] or '-'}]")
        groups[key].append(sample)
    print("| gene | before [phenotype] | after [phenotype] | samples | examples |")
    print("|---|---|---|---|---|")
    for (gene, was, now), samples in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
        print(f"| {gene} | {was} | {now} | {len(samples)} | {', '.join(samples[:examples])} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--panel", type=Path, default=PANEL)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--examples", type=int, default=3)
    args = ap.parse_args(argv)
    if args.cmd == "run":
        run(args.out, args.panel)
    else:
        compare(args.before, args.after, args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
