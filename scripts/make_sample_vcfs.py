#!/usr/bin/env python
"""Generate the bundled synthetic samples in data/sample_vcfs/ from the knowledge base's definitions.

Why synthetic: the bundled samples must cover every called gene with a known truth and carry no real
person's genome.  The truth (truth.tsv) is written from the choices made below, never from the matcher,
so the files can be used to test it.

Run from the repository root:  python scripts/make_sample_vcfs.py [--sources DIR ...] [--out data/sample_vcfs]
Output is deterministic: rerunning gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from pgx_pipeline.testing import KnowledgeTables, SampleSpec, build_kb_dir, genotype_records, write_vcf

DEFAULT_SOURCES = ["../shared/pgx-sources/pharmcat", "../shared/pgx-sources/pharmcat-stale-fallback"]

# Most common haplotype to use where a sample has no planned variant (the definition's reference otherwise).
# CYP2C19's definition reference is *38; the commonly reported normal-function haplotype is *1.
BACKGROUND = {"CYP2C19": "*1"}

VK_C, VK_T = "rs9923231 reference (C)", "rs9923231 variant (T)"
IF_C, IF_T = "rs12979860 reference (C)", "rs12979860 variant (T)"
AB_G, AB_T = "rs2231142 reference (G)", "rs2231142 variant (T)"
REF = "Reference"  # DPYD, RYR1, CACNA1S
CFTR_REF = "ivacaftor non-responsive CFTR sequence"
G6PD_B = "B (reference)"
G6PD_AMINUS = "A- 202A_376G"
DPYD_2A = "c.1905+1G>A (*2A)"

# (sample, sex, phased, {gene: alleles}, missing positions, sample-sheet covariates, description)
SAMPLES = [
    ("PGX01", "female", False,
     {"CYP2C19": ("*2", "*17"), "CYP2C9": ("*1", "*3"), "VKORC1": (VK_C, VK_T), "CYP4F2": ("*1", "*3"),
      "SLCO1B1": ("*1", "*5"), "UGT1A1": ("*1", "*28"), "CYP3A5": ("*3", "*3"), "NAT2": ("*5", "*5")},
     (), ("63", "165", "72", "White", "0", "0"),
     "warfarin/clopidogrel mix: CYP2C19 *2/*17, CYP2C9 *1/*3, VKORC1 -1639 G>A het, CYP4F2 *1/*3; NAT2 *5/*5 slow acetylator"),
    ("PGX02", "male", True,
     {"CYP2C19": ("*1", "*1"), "CYP2C9": ("*2", "*3"), "VKORC1": (VK_T, VK_T), "CYP3A5": ("*1", "*3"),
      "G6PD": (G6PD_B,), "TPMT": ("*1", "*3A")},
     (), ("71", "178", "85", "White", "1", "0"),
     "phased; CYP2C9 *2/*3 + VKORC1 T/T (low warfarin dose), TPMT *1/*3A, G6PD B hemizygous male"),
    ("PGX03", "female", False,
     {"CYP2C19": ("*2", "*2"), "NUDT15": ("*1", "*3"), "CYP2C9": ("*1", "*3"), "VKORC1": (VK_T, VK_T),
      "CYP3A5": ("*3", "*3"), "CYP2B6": ("*1", "*6"), "ABCG2": (AB_G, AB_T), "IFNL3": (IF_C, IF_T)},
     (), ("48", "158", "55", "Asian", "0", "0"),
     "CYP2C19 poor metabolizer *2/*2, NUDT15 *1/*3, CYP2B6 *1/*6, ABCG2 and IFNL3 heterozygous"),
    ("PGX04", "male", True,
     {"G6PD": (G6PD_AMINUS,), "CYP2B6": ("*6", "*6"), "CYP3A5": ("*1", "*1"), "UGT1A1": ("*28", "*28"),
      "CYP2C9": ("*1", "*8")},
     (), ("55", "183", "90", "Black or African American", "0", "1"),
     "phased; G6PD A- (202A_376G) hemizygous male, CYP2B6 *6/*6, CYP3A5 expresser *1/*1, UGT1A1 *28/*28"),
    ("PGX05", "female", False,
     {"DPYD": (REF, DPYD_2A), "TPMT": ("*1", "*3A"), "UGT1A1": ("*1", "*28"), "CYP2D6": ("*1", "*4")},
     (), ("67", "160", "64", "White", "0", "0"),
     "fluoropyrimidine/thiopurine case: DPYD c.1905+1G>A (*2A) carrier, TPMT *1/*3A, CYP2D6 *1/*4 (SNVs only)"),
    ("PGX06", "male", True,
     {"SLCO1B1": ("*5", "*15"), "RYR1": (REF, "c.7300G>A"), "CACNA1S": (REF, "c.520C>T"),
      "CYP3A4": ("*1", "*22")},
     (), ("59", "175", "88", "White", "0", "0"),
     "phased; SLCO1B1 *5/*15 (poor function), RYR1 c.7300G>A and CACNA1S c.520C>T carrier (MHS), CYP3A4 *1/*22"),
    ("PGX07", "female", False,
     {"CFTR": (CFTR_REF, "G551D"), "CYP2C19": ("*1", "*2"), "CYP2C9": ("*1", "*2")},
     # rs28399504 (CYP2C19 *4) and rs1057910 (CYP2C9 *3) left as './.': not testable for this sample
     (94762706, 94981296), ("34", "170", "61", "White", "0", "0"),
     "CFTR G551D carrier (ivacaftor-responsive); CYP2C19 and CYP2C9 called with positions missing ('./.')"),
    ("PGX08", "female", True,
     {"CYP2C19": ("*1", "*3"), "CYP2D6": ("*10", "*10"), "CYP3A5": ("*1", "*3"), "NAT2": ("*6", "*7"),
      "CYP2C9": ("*1", "*3"), "VKORC1": (VK_T, VK_T)},
     (), ("52", "155", "50", "Asian", "0", "0"),
     "phased; CYP2C19 *1/*3, CYP2D6 *10/*10 (SNVs only), NAT2 *6/*7 slow acetylator"),
    ("PGX09", "male", False,
     {"CYP2B6": ("*1", "*6"), "NAT2": ("*4", "*4"), "CYP4F2": ("*3", "*3"), "ABCG2": (AB_T, AB_T),
      "G6PD": (G6PD_B,)},
     (), ("", "", "", "", "", ""),
     "no covariates in the sample sheet (warfarin model must decline); NAT2 *4/*4 rapid acetylator, CYP4F2 *3/*3, ABCG2 T/T"),
    ("PGX10", "female", False,
     {"CYP2D6": ("*1", "*17"), "CYP3A5": ("*1", "*6"), "G6PD": (G6PD_B, G6PD_AMINUS), "IFNL3": (IF_T, IF_T)},
     (), ("45", "168", "77", "Black or African American", "0", "0"),
     "G6PD heterozygous female B/A-; CYP2D6 *1/*17 from the VCF, overridden by an outside call *1/*5 (deletion)"),
    ("PGX11", "male", True,
     {"CYP2C19": ("*17", "*17"), "SLCO1B1": ("*1", "*15"), "DPYD": (REF, "c.2846A>T"), "G6PD": (G6PD_B,)},
     (), ("39", "180", "82", "White", "0", "0"),
     "phased; CYP2C19 *17/*17 (ultrarapid), DPYD c.2846A>T carrier; HLA-B*57:01 given as an outside call"),
    ("PGX12", "female", False,
     {},
     (), ("60", "162", "68", "Unknown", "0", "0"),
     "background haplotypes everywhere (CYP2C19 *1/*1, reference alleles elsewhere): a normal control"),
]

OUTSIDE_CALLS = [
    ("PGX11", "HLA-B", "*57:01/*08:01", "", ""),
    ("PGX10", "CYP2D6", "*1/*5", "Intermediate Metabolizer", "1.0"),
]


def sample_specs(kb: KnowledgeTables) -> list[SampleSpec]:
    specs = []
    for sid, sex, phased, planned, missing, _cov, _desc in SAMPLES:
        male = sex == "male"
        alleles = {}
        for gene in sorted(kb.genes["gene"]):
            haploid = male and kb.chromosome(gene) == "chrX"
            background = BACKGROUND.get(gene, kb.reference(gene))
            alleles[gene] = planned.get(gene, (background,) if haploid else (background, background))
        specs.append(SampleSpec(sid, alleles, phased=phased, missing=frozenset(missing), male=male))
    return specs


def write_tsv(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def truth_rows(kb: KnowledgeTables, specs: list[SampleSpec]) -> list[tuple]:
    rows = []
    by_id = {s[0]: s for s in SAMPLES}
    positions = kb.positions
    for spec in specs:
        planned = by_id[spec.sample_id][3]
        for gene, alleles in sorted(spec.alleles.items()):
            gene_missing = sorted(p for p in spec.missing if p in set(positions.loc[positions["gene"] == gene, "position"]))
            notes = [] if gene in planned else ["background"]
            if gene_missing:
                notes.append("missing positions " + ",".join(map(str, gene_missing)))
            if gene == "CYP2D6":
                notes.append("SNVs only: copy number not represented")
            if (spec.sample_id, gene) in {(o[0], o[1]) for o in OUTSIDE_CALLS}:
                notes.append("overridden by bundled_outside_calls.tsv")
            rows.append((spec.sample_id, gene, "/".join(alleles), str(spec.phased).lower(), "; ".join(notes)))
    return rows


def readme(specs: list[SampleSpec]) -> str:
    lines = [
        "# Bundled synthetic samples",
        "",
        "Generated by `python scripts/make_sample_vcfs.py` from the knowledge base's allele definitions",
        "(PharmCAT data in `../shared/pgx-sources`); do not edit by hand. No real person's genome is in here.",
        "",
        "- `bundled_samples.vcf.gz` (+ `.tbi`): 12 samples, GRCh38, `chr` contigs, one record per allele-defining",
        "  position of every gene in the knowledge base. Each named allele is written as its full haplotype",
        "  (blank definition cells = the reference allele's base; IUPAC cells = the genome REF base when allowed,",
        "  else the first allowed documented ALT). Males are haploid on chrX (G6PD).",
        "- `truth.tsv`: the intended diplotype per sample and gene, written from the generator's choices (not from",
        "  the matcher). Alleles are listed in the order chosen; compare them as an unordered pair. Haploid calls",
        "  name one allele. `background` = the sample carries the gene's common/reference haplotype there.",
        "  For ambiguous inputs PharmCAT semantics may legitimately report several top-scoring diplotypes",
        "  including the truth (tests/calling explains every such case).",
        "- `sample_sheet.tsv`: sex and warfarin-model covariates (race in IWPC OMB categories).",
        "- `bundled_outside_calls.tsv`: outside calls (cohort table) that override or add genes.",
        "",
        "| sample | sex | phased | description |",
        "|---|---|---|---|",
    ]
    for sid, sex, phased, _p, _m, _c, desc in SAMPLES:
        lines.append(f"| {sid} | {sex} | {'yes' if phased else 'no'} | {desc} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", nargs="+", default=DEFAULT_SOURCES)
    ap.add_argument("--out", default="data/sample_vcfs")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeTables.from_dir(build_kb_dir(args.sources, tmp))
    specs = sample_specs(kb)
    write_vcf(out / "bundled_samples.vcf.gz", [s.sample_id for s in specs], genotype_records(kb, specs))
    write_tsv(out / "truth.tsv", ["sample_id", "gene", "expected_diplotype", "phased", "notes"], truth_rows(kb, specs))
    write_tsv(
        out / "sample_sheet.tsv",
        ["sample_id", "sex", "age", "height_cm", "weight_kg", "race", "amiodarone", "enzyme_inducer", "outside_calls"],
        [(sid, sex, *cov, "") for sid, sex, _ph, _p, _m, cov, _d in SAMPLES],
    )
    write_tsv(out / "bundled_outside_calls.tsv", ["sample_id", "gene", "diplotype", "phenotype", "activity_score"],
              OUTSIDE_CALLS)
    (out / "README.md").write_text(readme(specs))
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {len(specs)} samples to {out} ({total / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
