"""Suballeles: SLCO1B1 *45 is defined as *45.001 and *45.002 (PharmCAT 3.1), but CPIC publishes its function,
phenotypes and statin advice for *45 only.  Before calls named the core allele, every *45 carrier in the
1000 Genomes panel got no phenotype and no statin advice although *45 is a no-function allele.

Carriers are found with pysam in the real panel file; expected phenotypes are read from the published
`phenotype/SLCO1B1.json`.
"""

from __future__ import annotations

import json

import pysam
import pytest

from pgx_pipeline import schema
from pgx_pipeline.calling.matcher import core_allele_name
from pgx_pipeline.guidance import match_guidance
from pgx_pipeline.phenotype import assign_phenotypes
from tests.conftest import PANEL38, PHARMCAT, needs, panel_slice

from .conftest import run_calls

pytestmark = pytest.mark.slow

SLCO1B1_45 = ("chr12", 21222355, "T")  # the variant both *45 suballeles carry (translation JSON)


def test_core_allele_name_follows_pharmvar_suballele_names():
    assert core_allele_name("*45.001") == "*45"
    assert core_allele_name("*4A") == "*4A"
    assert core_allele_name("c.85T>C (*9A)") == "c.85T>C (*9A)"
    assert core_allele_name("S. Antioco") == "S. Antioco"


@needs(PHARMCAT)
def test_definitions_split_45_and_phenotypes_name_the_core_allele():
    definition = json.loads((PHARMCAT / "definition/alleles/SLCO1B1_translation.json").read_text())
    names = {a["name"] for a in definition["namedAlleles"]}
    assert {"*45.001", "*45.002"} <= names and "*45" not in names
    published = json.loads((PHARMCAT / "phenotype/SLCO1B1.json").read_text())
    assert published["haplotypes"]["*45"] == "No function"
    assert not any("." in h for h in published["haplotypes"])


def _carriers() -> dict[str, int]:
    chrom, pos, alt = SLCO1B1_45
    out = {}
    with pysam.VariantFile(str(PANEL38 / "SLCO1B1.vcf.gz")) as vf:
        for rec in vf.fetch(chrom, pos - 1, pos):
            if rec.pos == pos and alt in rec.alts:
                k = rec.alleles.index(alt)
                for sample, data in rec.samples.items():
                    n = sum(1 for a in data["GT"] if a == k)
                    if n:
                        out[sample] = n
    return out


@needs(PANEL38)
@needs(PHARMCAT)
def test_panel_45_carriers_get_the_published_phenotype_and_statin_advice(kb_dir, tmp_path):
    carriers = _carriers()
    assert len(carriers) >= 10 and 2 in carriers.values()
    # Only the carriers' columns (every record kept): a sample's call reads its own genotypes alone.
    calls = run_calls(panel_slice(list(carriers), ["SLCO1B1"], tmp_path), kb_dir, tmp_path / "work",
                      absent_is_reference=True)
    calls = calls[calls["sample_id"].isin(carriers) & (calls["gene"] == "SLCO1B1")]
    functions = schema.read_table(kb_dir / "allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS)
    tables = schema.read_table(kb_dir / "diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES)
    phen = assign_phenotypes(calls, functions, tables)
    published = {d["diplotype"]: d["generesult"]
                 for d in json.loads((PHARMCAT / "phenotype/SLCO1B1.json").read_text())["diplotypes"]}

    top = phen[phen["candidate"] == 1].set_index("sample_id")
    assert set(top.index) == set(carriers)
    named = 0
    for sample, n in carriers.items():
        row = top.loc[sample]
        alleles = row["diplotype"].split("/")
        assert not any(".00" in a for a in alleles)
        if row["diplotype"].startswith("rs4149056"):
            # *45's variant on a haplotype no named allele matches (HG02116: with c.388G, which *45.001 excludes):
            # no star diplotype; the phenotype comes from c.521T>C alone (T -> *1, C -> *5, PharmCAT's
            # Slco1b1CustomCaller) and the call must name the variant it could not place.
            as_stars = "/".join({"rs4149056 T": "*1", "rs4149056 C": "*5"}[a] for a in alleles)
            assert row["phenotype"] == published[as_stars], (sample, row["diplotype"], row["phenotype"])
            assert any("21222355" in w and "*45" in w for w in row["warnings"]), list(row["warnings"])
            continue
        assert row["phenotype"] == published[row["diplotype"]], (sample, row["diplotype"], row["phenotype"])
        named += 1
        assert alleles.count("*45") == n, (sample, row["diplotype"])
        assert any("suballele" in w for w in row["warnings"]), list(row["warnings"])
    assert named >= 10

    # HG00403 is *1 on one chromosome and *45 on the other: CPIC's decreased-function simvastatin advice.
    assert top.loc["HG00403", "diplotype"] == "*1/*45"
    assert published["*1/*45"] == "Decreased Function"
    guidance = match_guidance(phen, schema.read_table(kb_dir / "guidance.parquet", schema.KB_GUIDANCE),
                              schema.read_table(kb_dir / "messages.parquet", schema.KB_MESSAGES))
    simva = guidance[(guidance["sample_id"] == "HG00403") & (guidance["drug"] == "simvastatin")
                     & (guidance["source"] == "CPIC")].iloc[0]
    assert simva["status"] == "matched", simva["reason"]
    assert "20mg" in simva["recommendation"].replace(" ", "")
