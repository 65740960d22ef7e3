"""FDA Table of Pharmacogenetic Associations: the knowledge table's mapping and each mapping kind on real phenotypes.

Phenotypes come from the real knowledge base (assign_phenotypes on hand-written calls); the FDA texts and sections
are read from the source file itself, never from the code under test.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from pgx_pipeline import schema
from pgx_pipeline.fda_guidance import NOT_EVALUATED_TEXT, match_fda, reference_states
from pgx_pipeline.knowledge.fda import Mapper, markdown
from pgx_pipeline.phenotype import assign_phenotypes
from pgx_pipeline.report.context import row_priority

from ..conftest import FDA_TABLE, REPO
from .calls_frame import call, calls_frame

pytestmark = pytest.mark.skipif(not FDA_TABLE.is_file(), reason=f"FDA table not found at {FDA_TABLE}")


@pytest.fixture(scope="module")
def source() -> list[dict]:
    return json.loads(FDA_TABLE.read_text(encoding="utf-8"))["associations"]


@pytest.fixture(scope="module")
def fda(kb_dir) -> pd.DataFrame:
    return schema.read_table(kb_dir / "fda_associations.parquet", schema.KB_FDA_ASSOCIATIONS)


@pytest.fixture(scope="module")
def reference(kb_genes, allele_functions, diplotype_phenotypes):
    return reference_states(kb_genes, allele_functions, diplotype_phenotypes)


@pytest.fixture(scope="module")
def run(fda, allele_functions, diplotype_phenotypes, reference):
    def go(rows: list[dict]) -> pd.DataFrame:
        phen = assign_phenotypes(calls_frame(rows), allele_functions, diplotype_phenotypes)
        out = match_fda(phen, fda, reference)
        out["label"] = [row_priority(r) for r in out.to_dict("records")]
        return out
    return go


def one(out: pd.DataFrame, sample: str, drug: str, gene_label: str | None = None, section: int | None = None) -> dict:
    rows = out[(out["sample_id"] == sample) & (out["drug"] == drug)]
    if gene_label:
        rows = rows[rows["guideline"].str.endswith(f": {gene_label}")]
    if section:
        rows = rows[rows["fda_section"] == section]
    assert len(rows) == 1, rows[["drug", "guideline"]]
    return rows.iloc[0].to_dict()


def text_of(source: list[dict], drug: str, gene: str, section: int) -> dict:
    (row,) = [a for a in source if a["drug"] == drug and a["gene"] == gene and a["section"] == section]
    return row


# ---------------------------------------------------------------- the knowledge table
def test_table_is_the_whole_source_file_verbatim(fda, source, kb_dir):
    assert len(fda) == 124 == len(source)
    assert fda["section"].value_counts().to_dict() == {1: 62, 2: 22, 3: 40}  # PROVENANCE.md
    for rec, src in zip(fda.sort_values("row").to_dict("records"), source):
        assert (rec["drug"], rec["gene_label"], rec["affected_subgroups"], rec["description"], rec["section"]) == (
            src["drug"], src["gene"], src["affected_subgroups"], src["description"], src["section"])
    assert set(fda["retrieved_at"]) == {"2026-08-13T22:18:05.551Z"}
    assert set(fda["source_url"]) == {"https://www.fda.gov/medical-devices/precision-medicine/table-pharmacogenetic-associations"}
    sources = schema.read_table(kb_dir / "sources.parquet", schema.KB_SOURCES)
    (sha,) = sources.loc[sources["file"] == "fda_pgx_associations.json", "sha256"]
    assert sha == hashlib.sha256(FDA_TABLE.read_bytes()).hexdigest()


def test_every_row_is_mapped_or_says_why_not(fda):
    for r in fda.to_dict("records"):
        assert isinstance(r["condition"], str) != isinstance(r["unmapped_reason"], str), r["drug"]
    not_evaluated = fda[fda["condition"].isna()]
    assert sorted(set(not_evaluated["gene_label"])) == [
        "BCHE", "CYP2C19 and/or UGT2B17", "HLA-DQA1", "HLA-DRB1", "Nonspecific (NAT)"]
    assert set(fda.loc[fda["gene_label"] == "TPMT and/or NUDT15", "mapping_kind"]) == {"compound gene"}
    assert fda.loc[fda["gene_label"] == "TPMT and/or NUDT15", "condition"].notna().all()


def test_footnote_digit_is_read_and_noted(fda):
    (tramadol,) = fda[(fda["drug"] == "Tramadol") & (fda["section"] == 1)].to_dict("records")
    assert tramadol["affected_subgroups"] == "Ultrarapid metabolizers3"
    assert json.loads(tramadol["condition"]) == {"any": [{"gene": "CYP2D6", "phenotypes": ["Ultrarapid Metabolizer"]}]}
    assert "footnote digit '3'" in tramadol["mapping_note"]


def test_unmapped_text_is_not_matched_loosely(kb_dir):
    read = lambda n, t: schema.read_table(kb_dir / n, t)  # noqa: E731
    mapper = Mapper(read("diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES),
                    read("alleles.parquet", schema.KB_ALLELES), read("positions.parquet", schema.KB_POSITIONS))
    for gene, text in [("CYP2C19", "carriers of two no-function alleles"), ("CYP2C19", "poor metabolisers"),
                       ("CYP2C9", "*3/*99 (poor metabolizers)"), ("SLCO1B1", "521 CC"),
                       ("NAT2", "slow acetylators"), ("SLCO1B1", "poor metabolizers")]:
        m = mapper.map_row(gene, text)
        assert m["kind"] == "unmapped" and m["condition"] is None and m["reason"], (gene, text, m)


def test_unmapped_row_is_reported_as_not_evaluated(fda, allele_functions, diplotype_phenotypes):
    """A real row with its subgroup text changed to words no rule reads: every patient gets 'see label'."""
    phen = assign_phenotypes(calls_frame([call("PM", "CYP2C19", "*2/*2")]), allele_functions, diplotype_phenotypes)
    row = fda[fda["drug"] == "Clopidogrel"].copy()
    assert match_fda(phen, row).iloc[0]["status"] == "matched"  # as published
    row["condition"], row["condition_text"] = None, None
    row["mapping_kind"] = "unmapped"
    row["unmapped_reason"] = "no mapping rule reads 'carriers of two no-function alleles' exactly"
    r = match_fda(phen, row).iloc[0].to_dict()
    assert r["status"] == "not_evaluated"
    assert r["reason"] == f"{NOT_EVALUATED_TEXT}: no mapping rule reads 'carriers of two no-function alleles' exactly"
    assert row_priority(r) == "none"  # says "see label"; never green, never raises the drug


# ---------------------------------------------------------------- mapping kinds on real phenotypes
def test_cyp2c19_poor_metabolizer_clopidogrel_section1(run, source, diplotype_phenotypes):
    likely = diplotype_phenotypes[(diplotype_phenotypes["gene"] == "CYP2C19")
                                  & (diplotype_phenotypes["phenotype"] == "Likely Poor Metabolizer")]["diplotype"].iloc[0]
    out = run([call("PM", "CYP2C19", "*2/*2"), call("IM", "CYP2C19", "*1/*2"), call("NM", "CYP2C19", "*1/*1"),
               call("RM", "CYP2C19", "*1/*17"), call("LPM", "CYP2C19", likely)])
    pm = one(out, "PM", "clopidogrel")
    assert pm["status"] == "matched" and pm["source"] == "FDA" and pm["fda_section"] == 1
    assert pm["recommendation"] == text_of(source, "Clopidogrel", "CYP2C19", 1)["description"]
    assert pm["fda_affected_subgroups"] == "intermediate or poor metabolizers"
    assert list(pm["phenotypes"]) == ["CYP2C19: *2/*2 (Poor Metabolizer)"]
    assert pm["label"] == "consider"  # "Consider use of another platelet P2Y12 inhibitor": hedged wording
    assert pm["same_as_reference"] is not None and not pm["same_as_reference"]  # a reference (*1/*1) patient is not in the subgroup
    assert one(out, "IM", "clopidogrel")["status"] == "matched"
    assert one(out, "NM", "clopidogrel")["status"] == "not_matched"
    assert one(out, "NM", "clopidogrel")["label"] == "none"
    assert one(out, "RM", "clopidogrel")["status"] == "not_matched"
    lpm = one(out, "LPM", "clopidogrel")
    assert lpm["status"] == "not_evaluated" and "Likely Poor Metabolizer" in lpm["reason"]
    # Citalopram "The maximum recommended dose is 20 mg" (PM only): act; the IM is not in its subgroup.
    assert one(out, "PM", "citalopram")["label"] == "act"
    assert one(out, "IM", "citalopram")["status"] == "not_matched"
    # Section 3 (diazepam, PK only): info, never in the Act/Consider list.
    assert one(out, "PM", "diazepam")["label"] == "info"


def test_slco1b1_521cc_simvastatin(run):
    # *5 is c.521T>C alone; *1/*5 is 521 TC, *5/*5 521 CC.
    out = run([call("CC", "SLCO1B1", "*5/*5"), call("TC", "SLCO1B1", "*1/*5"), call("TT", "SLCO1B1", "*1/*1")])
    cc = one(out, "CC", "simvastatin")
    assert cc["status"] == "matched" and cc["fda_section"] == 2 and cc["label"] == "consider"
    assert "rs4149056" in cc["lookup_keys"][0]
    assert one(out, "TC", "simvastatin")["status"] == "matched"  # "521 TC or 521 CC"
    assert one(out, "TT", "simvastatin")["status"] == "not_matched"
    assert one(out, "CC", "rosuvastatin")["status"] == "matched"  # "521 CC" only
    assert one(out, "TC", "rosuvastatin")["status"] == "not_matched"


def test_hla_b_5701_outside_call_abacavir(run):
    out = run([call("POS", "HLA-B", "*57:01/*44:02", source="outside"),
               call("NEG", "HLA-B", "*58:01/*44:02", source="outside"),
               call("NONE", "CYP2C19", "*1/*1")])
    pos = one(out, "POS", "abacavir")
    assert pos["status"] == "matched" and pos["label"] == "act"  # "Do not use abacavir ..."
    assert one(out, "NEG", "abacavir")["status"] == "not_matched"
    assert one(out, "NEG", "allopurinol")["status"] == "matched"  # *58:01, section 2
    none = one(out, "NONE", "abacavir")
    assert none["status"] == "gene_not_assessed" and none["reason"].startswith(NOT_EVALUATED_TEXT)
    assert none["label"] == "incomplete"  # HLA-B untyped: never green


def test_cyp2c9_3_3_siponimod(run):
    out = run([call("33", "CYP2C9", "*3/*3"), call("13", "CYP2C9", "*1/*3"), call("11", "CYP2C9", "*1/*1"),
               call("23", "CYP2C9", "*2/*3")])
    s33 = one(out, "33", "siponimod")
    assert s33["status"] == "matched" and s33["label"] == "act"  # "Do not use in patients with CYP2C9 *3/*3"
    s13 = one(out, "13", "siponimod")
    assert s13["status"] == "matched" and s13["label"] == "consider"  # IM: "Adjust dosage based on genotype"
    assert one(out, "11", "siponimod")["status"] == "not_matched"
    # Erdafitinib is written for the *3/*3 diplotype: *2/*3 (a poor metabolizer too) is not in it.
    assert one(out, "33", "erdafitinib")["status"] == "matched"
    assert one(out, "23", "erdafitinib")["status"] == "not_matched"
    # Celecoxib "poor metabolizers or *3 carriers": *1/*3 by the allele, act only for the poor metabolizer.
    assert (one(out, "13", "celecoxib")["status"], one(out, "13", "celecoxib")["label"]) == ("matched", "consider")
    assert (one(out, "33", "celecoxib")["status"], one(out, "33", "celecoxib")["label"]) == ("matched", "act")
    assert one(out, "11", "celecoxib")["status"] == "not_matched"


def test_tpmt_and_or_nudt15(run):
    out = run([
        call("TIM", "TPMT", "*1/*3A"), call("TIM", "NUDT15", "*1/*1"),
        call("BOTHNM", "TPMT", "*1/*1"), call("BOTHNM", "NUDT15", "*1/*1"),
        call("NUDTPM", "TPMT", "*1/*1"), call("NUDTPM", "NUDT15", "*3/*3"),
        call("TPM_NONUDT", "TPMT", "*3A/*3A"), call("TPM_NONUDT", "NUDT15", None),
        call("TNM_NONUDT", "TPMT", "*1/*1"), call("TNM_NONUDT", "NUDT15", None),
    ])
    assert one(out, "TIM", "azathioprine")["status"] == "matched"
    assert one(out, "TIM", "azathioprine")["label"] == "act"
    assert one(out, "BOTHNM", "azathioprine")["status"] == "not_matched"
    assert one(out, "NUDTPM", "mercaptopurine")["status"] == "matched"
    assert one(out, "NUDTPM", "mercaptopurine")["label"] == "act"  # poor metabolizer: "should be reduced"
    assert one(out, "TIM", "mercaptopurine")["label"] == "consider"  # IM: "may require dosage reductions"
    tpm = one(out, "TPM_NONUDT", "thioguanine")
    assert tpm["status"] == "matched" and "NUDT15 could not be called" in tpm["reason"]  # "and/or"
    tnm = one(out, "TNM_NONUDT", "thioguanine")
    assert tnm["status"] == "gene_not_called" and tnm["reason"].startswith(NOT_EVALUATED_TEXT)


def test_genes_not_called_and_nonspecific_labels(run):
    out = run([call("A", "NAT2", "*5/*5"), call("A", "CYP2C19", "*2/*2")])
    for drug in ("mivacurium", "succinylcholine", "isoniazid", "hydralazine", "belzutifan", "lapatinib"):
        for r in out[(out["sample_id"] == "A") & (out["drug"] == drug)].to_dict("records"):
            assert r["status"] == "gene_not_assessed" and r["reason"].startswith(NOT_EVALUATED_TEXT), (drug, r)
    assert one(out, "A", "amifampridine")["status"] == "matched"  # NAT2 named: evaluated


def test_cyp2d6_ultrarapid_rows_need_copy_number(run):
    out = run([call("VCF", "CYP2D6", "*1/*1"), call("OUT", "CYP2D6", "*1/*1", source="outside")])
    vcf = one(out, "VCF", "tramadol", section=1)
    assert vcf["status"] == "not_evaluated" and "duplications" in vcf["reason"]
    assert one(out, "OUT", "tramadol", section=1)["status"] == "not_matched"
    # Eliglustat names every phenotype: a normal metabolizer is in it (the label is written by metabolizer status).
    elig = one(out, "VCF", "eliglustat")
    assert elig["status"] == "matched" and elig["label"] == "consider" and elig["same_as_reference"]


def test_docs_table_is_current(fda):
    committed = (REPO / "docs" / "FDA_ASSOCIATIONS.md").read_text(encoding="utf-8")
    assert committed == markdown(fda), "docs/FDA_ASSOCIATIONS.md is stale: run python scripts/fda_associations_table.py"


def test_every_act_rule_names_a_real_row_and_quotes_its_text(source, fda):
    """An ACT_RULES phrase missing from the FDA text silently drops the row to consider: keep them in step."""
    from pgx_pipeline.knowledge.fda import ACT_RULES

    by_key = {(a["drug"], a["gene"]): a for a in source if a["section"] == 1}
    for (drug, gene), rule in ACT_RULES.items():
        assert rule.phrase in by_key[(drug, gene)]["description"], (drug, gene)
    act = fda[fda["label"] == "act"]
    assert sorted(zip(act["drug"], act["gene_label"])) == sorted(ACT_RULES)
    assert set(fda.loc[fda["section"] == 2, "label"]) == {"consider"}
    assert set(fda.loc[fda["section"] == 3, "label"]) == {"info"}
