"""Advice a gene of its guideline could not inform is never labelled Standard (issue 19, safety).

The knowledge base is built from the published PharmCAT data; the calls are written by hand, so nothing expected
here is computed by the code under test.  The label is the report's (`row_priority`), the drug's label its
strongest row, as the report's summary and drug section show it.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pgx_pipeline.guidance import match_guidance, reference_gene_keys
from pgx_pipeline.phenotype import assign_phenotypes
from pgx_pipeline.report.context import PRIORITY_ORDER, row_priority
from tests.phenotype.calls_frame import call, calls_frame


@pytest.fixture(scope="module")
def stages(allele_functions, diplotype_phenotypes, kb_guidance, kb_messages, kb_genes):
    reference = reference_gene_keys(kb_genes, allele_functions, diplotype_phenotypes)

    def run(rows: list[dict]) -> pd.DataFrame:
        phenotypes = assign_phenotypes(calls_frame(rows), allele_functions, diplotype_phenotypes)
        guidance = match_guidance(phenotypes, kb_guidance, kb_messages, reference)
        guidance["label"] = [row_priority(r) for r in guidance.to_dict("records")]
        return guidance

    return run


def drug_label(guidance: pd.DataFrame, sample: str, drug: str) -> str:
    rows = guidance[(guidance["sample_id"] == sample) & (guidance["drug"] == drug)]
    assert len(rows), f"no {drug} rows for {sample}"
    return min(rows["label"], key=PRIORITY_ORDER.__getitem__)


# A patient with every gene these drugs need called as reference, except that HLA-B was never typed (no outside
# call): HG00232's and NA18533's situation in the 1000 Genomes panel.
UNTYPED_HLA = [call("P1", "ABCG2", "rs2231142 reference (G)/rs2231142 reference (G)"), call("P1", "CYP2C9", "*1/*1")]


def test_allopurinol_and_phenytoin_without_hla_b_typing_are_incomplete_not_standard(stages):
    gd = stages(UNTYPED_HLA)
    p1 = gd[gd["sample_id"] == "P1"]
    for drug in ("allopurinol", "phenytoin", "fosphenytoin", "carbamazepine", "abacavir"):
        assert drug_label(gd, "P1", drug) == "incomplete", drug
        hla_rows = p1[(p1["drug"] == drug) & p1["genes"].map(lambda g: "HLA-B" in list(g))]
        assert len(hla_rows) and hla_rows["incomplete"].str.contains("HLA-B not assessed: order HLA-B typing").all()
    # DPWG's ABCG2 advice for a normal-function genotype stays what it is: the row that needs no HLA-B is complete.
    abcg2 = p1[(p1["drug"] == "allopurinol") & p1["genes"].map(lambda g: list(g) == ["ABCG2"])]
    assert len(abcg2) == 1 and abcg2["incomplete"].isna().all() and abcg2["label"].tolist() == ["standard"]
    # CPIC's phenytoin advice for an untested HLA-B (its "No Result" key) is shown and is not green.
    cpic = p1[(p1["drug"] == "phenytoin") & (p1["source"] == "CPIC")]
    assert (cpic["status"] == "matched").all() and "standard" not in set(cpic["label"])


def test_hla_b_typed_negative_leaves_allopurinol_complete(stages):
    gd = stages(UNTYPED_HLA + [call("P1", "HLA-B", "*07:02/*08:01", source="outside")])
    rows = gd[(gd["drug"] == "allopurinol")]
    assert rows["incomplete"].isna().all()
    assert drug_label(gd, "P1", "allopurinol") == "standard"


@pytest.mark.parametrize("drug", ["codeine", "tramadol", "tamoxifen"])
def test_cyp2d6_star1_star1_from_a_vcf_is_incomplete_with_the_copy_number_caveat(stages, drug):
    gd = stages([call("P2", "CYP2D6", "*1/*1")])
    rows = gd[(gd["drug"] == drug) & gd["genes"].map(lambda g: "CYP2D6" in list(g))]
    assert len(rows)
    for text in rows["incomplete"]:
        assert "CYP2D6 copy number was not tested" in text
        assert "*1/*1x2" in text and "ultrarapid" in text  # a duplication
        assert "*1/*5" in text and "poorer metabolizer" in text  # a deletion hidden in a homozygous call
        assert "order CYP2D6 genotyping that includes copy number" in text
    assert drug_label(gd, "P2", drug) == "incomplete"
    if drug == "codeine":
        assert rows["incomplete"].str.contains("morphine toxicity").all()


def test_cyp2d6_outside_call_covers_copy_number(stages):
    gd = stages([call("P3", "CYP2D6", "*1/*1", source="outside")])
    rows = gd[gd["drug"] == "codeine"]
    assert rows["incomplete"].isna().all()
    assert drug_label(gd, "P3", "codeine") == "standard"


def test_cyp2d6_heterozygous_call_names_no_deletion_and_two_no_function_alleles_need_no_caveat(stages):
    gd = stages([call("P4", "CYP2D6", "*1/*2"), call("P5", "CYP2D6", "*4/*4")])
    p4 = gd[(gd["sample_id"] == "P4") & (gd["drug"] == "codeine")]["incomplete"]
    # Two different alleles show two copies; only a duplication can hide.
    assert p4.str.contains(r"\*1/\*2x2").all() and not p4.str.contains(r"\*5").any()
    # Any number of no-function copies is still no function: CPIC's poor-metabolizer advice stands, Act.
    p5 = gd[(gd["sample_id"] == "P5") & (gd["drug"] == "codeine")]
    assert p5["incomplete"].isna().all()
    assert drug_label(gd, "P5", "codeine") == "act"
