"""FDA rows on the 3,202-sample 1000 Genomes panel: per FDA association, how many patients it matches.

    nice -n 10 python benchmarks/fda_panel.py [--panel DIR]

Builds the knowledge base with the FDA table, ingests and calls the GRCh38 panel (as `guidance_labels.py` does,
absent positions read as reference), assigns phenotypes and matches the FDA rows (pgx_pipeline.fda_guidance).
Prints one line per FDA row (matched / of which act / not matched / not evaluated), then a sanity check of the
CYP2C19 poor-metabolizer count against the panel's own per-super-population allele frequencies (INFO AF_EUR,
AF_EAS ... of rs4244285 *2 and rs4986893 *3, Hardy-Weinberg) and published frequencies (CPIC CYP2C19 frequency
table: PM ~2% European, ~13% East Asian). The panel VCFs carry no per-sample population label, so the check is
on the whole panel: expected = sum over super-populations of n_pop x (q2 + q3)^2, n_pop = AN_pop / 2.
Nothing here is a test. Takes ~1 min.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pgx_pipeline import schema
from pgx_pipeline.fda_guidance import match_fda, reference_states
from pgx_pipeline.guidance import match_guidance, reference_gene_keys
from pgx_pipeline.phenotype import assign_phenotypes

sys.path.insert(0, str(Path(__file__).parent))
from guidance_labels import panel_calls  # noqa: E402
from panel_ingest_call import DEFAULT_PANEL, REPO  # noqa: E402

FDA_TABLE = REPO.parent / "shared" / "pgx-sources" / "fda-pgx-associations" / "fda_pgx_associations.json"
POPS = ("AFR", "AMR", "EAS", "EUR", "SAS")
# CPIC CYP2C19 allele-frequency table, poor metabolizer frequency (Lee et al. 2022 supplement): the numbers the
# issue quotes (~2% European, ~13% East Asian).
PUBLISHED_PM = {"EUR": 0.02, "EAS": 0.13}


def info_af(panel: Path, rsid_pos: str) -> dict[str, float]:
    """AF and AN per super-population at chr10:pos from the panel VCF's INFO (bcftools)."""
    fmt = "\t".join(f"%INFO/AF_{p}\t%INFO/AN_{p}" for p in POPS)
    out = subprocess.run(["bcftools", "query", "-r", rsid_pos, "-f", fmt + "\n", str(panel / "CYP2C19.vcf.gz")],
                         check=True, capture_output=True, text=True).stdout.split("\n")[0].split("\t")
    return {p: (float(out[2 * i]), int(out[2 * i + 1])) for i, p in enumerate(POPS)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--panel", type=Path, default=DEFAULT_PANEL)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kb, calls = panel_calls(args.panel, Path(tmp), ("--fda-associations", str(FDA_TABLE)))
        read = lambda name, table: schema.read_table(kb / name, table)  # noqa: E731
        functions = read("allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS)
        diplotypes = read("diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES)
        fda = read("fda_associations.parquet", schema.KB_FDA_ASSOCIATIONS)
        phen = assign_phenotypes(calls, functions, diplotypes)
        genes = read("genes.parquet", schema.KB_GENES)
        # Cost of the FDA rows as a ratio to the CPIC/DPWG matching of the same phenotypes, in the same run.
        t0 = time.perf_counter()
        cpic = match_guidance(phen, read("guidance.parquet", schema.KB_GUIDANCE),
                              read("messages.parquet", schema.KB_MESSAGES),
                              reference_gene_keys(genes, functions, diplotypes))
        t1 = time.perf_counter()
        rows = match_fda(phen, fda, reference_states(genes, functions, diplotypes))
        t2 = time.perf_counter()
    print(f"FDA matching {t2 - t1:.1f} s = {(t2 - t1) / (t1 - t0):.2f} x the CPIC/DPWG matching ({t1 - t0:.1f} s, "
          f"{len(cpic):,} rows) of the same phenotypes")
    n = phen["sample_id"].nunique()
    print(f"{n:,} samples x {len(fda)} FDA rows = {len(rows):,} guidance rows with source FDA\n")
    print("| drug | FDA gene | section | matched | of which act | not matched | not evaluated | why not evaluated (most common) |")
    print("|---|---|---|---|---|---|---|---|")
    for (drug, guideline, section), g in rows.groupby(["drug", "guideline", "fda_section"], sort=True):
        st = g["status"]
        ne = g[~st.isin(["matched", "not_matched"])]
        why = ne["reason"].str.replace(r"^FDA: see label, not evaluated for this genotype: ", "", regex=True)
        top = why.value_counts().index[0][:70] if len(ne) else ""
        print(f"| {drug} | {guideline.rsplit(': ', 1)[1]} | {section} | {(st == 'matched').sum():,} | "
              f"{((st == 'matched') & (g['fda_label'] == 'act')).sum():,} | {(st == 'not_matched').sum():,} | "
              f"{len(ne):,} | {top} |")
    matched = rows[rows["status"] == "matched"]
    per_patient = matched.groupby("sample_id").size().reindex(phen["sample_id"].unique(), fill_value=0)
    print(f"\nFDA rows matched per patient: median {per_patient.median():.0f}, max {per_patient.max()}; "
          f"patients with >= 1 section-1 match: {matched[matched['fda_section'] == 1]['sample_id'].nunique():,}")

    top = phen[(phen["gene"] == "CYP2C19") & (phen["rank"] == 1)]
    counts = top["phenotype"].fillna("not called / no phenotype").value_counts()
    print("\nCYP2C19 phenotypes on the panel: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    pm = int(counts.get("Poor Metabolizer", 0))
    clop = rows[(rows["drug"] == "clopidogrel")]
    print(f"clopidogrel FDA row matched {int((clop['status'] == 'matched').sum()):,} = IM + PM "
          f"({int(counts.get('Intermediate Metabolizer', 0)) + pm:,})")
    star2, star3 = info_af(args.panel, "chr10:94781859"), info_af(args.panel, "chr10:94780653")
    print("\n| super-population | samples (AN/2) | AF *2 | AF *3 | expected PM (q2+q3)^2 | published PM |")
    print("|---|---|---|---|---|---|")
    expected = 0.0
    for p in POPS:
        q = star2[p][0] + star3[p][0]
        size = star2[p][1] // 2
        expected += size * q * q
        pub = f"{PUBLISHED_PM[p]:.0%}" if p in PUBLISHED_PM else ""
        print(f"| {p} | {size:,} | {star2[p][0]:.3f} | {star3[p][0]:.3f} | {q * q:.1%} | {pub} |")
    print(f"\nCYP2C19 poor metabolizers: called {pm:,} ({pm / n:.1%}); expected from *2/*3 frequencies "
          f"{expected:,.0f} ({expected / n:.1%}); rarer no-function alleles add a little to the called count")


if __name__ == "__main__":
    main()
