"""Does this genotype change prescribing?  `same_as_reference` against the published guideline files.

CPIC sets "dosing information" on the advice for normal metabolizers too, so the flags alone cannot tell a
clinician whether a result matters.  Expected values below come from the guideline JSON files (quoted), or from
the definition (a patient carrying only reference alleles gets, by definition, the reference advice).
"""

from __future__ import annotations

import pandas as pd
import pytest

from pgx_pipeline.guidance import REFERENCE_ALLELE_OVERRIDES, match_guidance, reference_gene_keys
from pgx_pipeline.phenotype import assign_phenotypes
from tests.phenotype.calls_frame import call, calls_frame
from tests.phenotype.test_hard_cases import check_published, only, rows_for


@pytest.fixture(scope="module")
def stages(kb_genes, allele_functions, diplotype_phenotypes, kb_guidance, kb_messages):
    reference = reference_gene_keys(kb_genes, allele_functions, diplotype_phenotypes)

    def run(rows: list[dict]) -> pd.DataFrame:
        phenotypes = assign_phenotypes(calls_frame(rows), allele_functions, diplotype_phenotypes)
        return match_guidance(phenotypes, kb_guidance, kb_messages, reference)

    return run


def test_cyp2d6_normal_metabolizer_atomoxetine_is_flagged_dosing_but_is_the_reference_advice(stages):
    check_published("CPIC_atomoxetine_and_CYP2D6.json", "PA166297234", {"CYP2D6": "2.0"},
                    "Initiate with a dose of 40 mg/day and increase to 80 mg/day after 3 days", population="adults")
    check_published("CPIC_atomoxetine_and_CYP2D6.json", "PA166297243", {"CYP2D6": "0.0"},
                    "Initiate with a dose of 40 mg/day and if no clinical response", population="adults")
    g = stages([call("NM", "CYP2D6", "*1/*1"), call("PM", "CYP2D6", "*4/*4")])
    nm = only(rows_for(g, "NM", "atomoxetine", "CPIC"), "increase to 80 mg/day after 3 days")
    assert nm["dosing_information"] and nm["same_as_reference"] is True
    pm = only(rows_for(g, "PM", "atomoxetine", "CPIC"), "40 mg/day and if no clinical response")
    assert pm["same_as_reference"] is False


def test_ugt1a1_atazanavir_poor_metabolizer_differs_from_the_reference(stages):
    check_published("CPIC_atazanavir_and_UGT1A1.json", "PA166297198", {"UGT1A1": "Poor Metabolizer"},
                    "Consider an alternative agent")
    g = stages([call("ref", "UGT1A1", "*1/*1"), call("pm", "UGT1A1", "*28/*28")])
    assert only(rows_for(g, "ref", "atazanavir", "CPIC"), "no need to avoid")["same_as_reference"] is True
    assert only(rows_for(g, "pm", "atazanavir", "CPIC"), "Consider an alternative agent")["same_as_reference"] is False


def test_cyp2c19_intermediate_clopidogrel_differs_from_the_reference(stages):
    g = stages([call("im", "CYP2C19", "*1/*2")])
    rows = rows_for(g, "im", "clopidogrel", "CPIC")
    assert len(rows) >= 2 and (rows["status"] == "matched").all()
    assert all(v is False for v in rows["same_as_reference"])


def test_a_patient_with_only_reference_alleles_gets_the_reference_advice_everywhere(stages, kb_genes):
    # Through the ordinary phenotype path, not the reference shortcut: every matched row must say "same".
    refs = [REFERENCE_ALLELE_OVERRIDES.get(g, a) for g, a in zip(kb_genes["gene"], kb_genes["reference_allele"])]
    rows = [call("typical", gene, f"{ref}/{ref}") for gene, ref in zip(kb_genes["gene"], refs)]
    g = stages(rows)
    matched = g[g["status"] == "matched"]
    assert len(matched) > 100
    differ = matched[[v is not True for v in matched["same_as_reference"]]]
    assert differ.empty, differ[["drug", "source", "recommendation"]]


def test_unmatched_rows_and_untyped_hla_say_nothing(stages):
    g = stages([call("x", "CYP2C9", None)])
    rows = rows_for(g, "x", "celecoxib", "CPIC")
    assert (rows["status"] == "gene_not_called").all()
    assert rows["same_as_reference"].isna().all()
    abacavir = rows_for(g, "x", "abacavir", "CPIC")
    assert (abacavir["status"] == "gene_not_assessed").all() and abacavir["same_as_reference"].isna().all()


def test_cyp3a5_expressers_are_the_ones_told_to_change_the_tacrolimus_dose(stages):
    # CYP3A5's reference allele *1 is the minority, dose-changing one: standard doses were set in *3/*3.
    check_published("CPIC_tacrolimus_and_CYP3A5.json", "PA166298510", {"CYP3A5": "Normal Metabolizer"},
                    "Increase starting dose 1.5 to 2 times recommended starting dose")
    check_published("CPIC_tacrolimus_and_CYP3A5.json", "PA166298513", {"CYP3A5": "Poor Metabolizer"},
                    "Initiate therapy with standard recommended dose")
    g = stages([call("expresser", "CYP3A5", "*1/*1"), call("non", "CYP3A5", "*3/*3")])
    assert only(rows_for(g, "expresser", "tacrolimus", "CPIC"), "1.5 to 2 times")["same_as_reference"] is False
    assert only(rows_for(g, "non", "tacrolimus", "CPIC"), "standard recommended dose")["same_as_reference"] is True


def _priority_of(row: pd.Series) -> str:
    from pgx_pipeline.report.context import row_priority

    return row_priority(row)


def test_dose_reductions_that_mention_the_standard_dose_are_not_standard(stages):
    # "Start with 50% of the standard dose" and "reduced starting doses (30%-80% of normal dose)" once read as
    # standard prescribing because they contain "standard dose" / "normal dose".
    check_published("DPWG_azathioprine_and_TPMT.json", "PA166299165", {"TPMT": "Intermediate Metabolizer"},
                    "Start with 50% of the standard dose")
    check_published("CPIC_azathioprine_and_NUDT15_TPMT.json", "PA166297271",
                    {"TPMT": "Intermediate Metabolizer", "NUDT15": "Normal Metabolizer"},
                    "Start with reduced starting doses (30%-80% of normal dose)", classification="Strong")
    g = stages([call("im", "TPMT", "*1/*3A"), call("im", "NUDT15", "*1/*1"),
                call("nm", "TPMT", "*1/*1"), call("nm", "NUDT15", "*1/*1")])
    assert _priority_of(only(rows_for(g, "im", "azathioprine", "CPIC"), "30%-80% of normal dose")) == "act"
    # DPWG states no strength: its flagged advice that directs a dose change is Act (issue 19; README "Reading the
    # report"), as CPIC's Strong reduction for the same genotype.
    assert _priority_of(only(rows_for(g, "im", "azathioprine", "DPWG"), "50% of the standard dose")) == "act"
    assert _priority_of(only(rows_for(g, "nm", "azathioprine", "CPIC"), "Start with normal starting dose")) == "standard"


def test_tpmt_advice_is_given_when_nudt15_is_not_called_and_flagged(stages):
    # CPIC keys advice on TPMT alone when NUDT15 is untested ("No Result"); it used to stay hidden behind
    # "gene not called" although it reduces the dose.
    check_published("CPIC_azathioprine_and_NUDT15_TPMT.json", "PA166297274",
                    {"TPMT": "Intermediate Metabolizer", "NUDT15": "No Result"},
                    "Based on TPMT status, start with reduced starting doses (30%-80% of normal dose)")
    g = stages([call("s", "TPMT", "*1/*3A"), call("s", "NUDT15", None)])
    row = only(rows_for(g, "s", "azathioprine", "CPIC"), "Based on TPMT status, start with reduced starting doses")
    assert row["status"] == "matched" and "NUDT15 could not be called" in row["reason"]
    assert _priority_of(row) == "act"
    # A gene that is ambiguous is not "untested": no advice is picked for it.
    g = stages([call("a", "TPMT", "*1/*3A"), call("a", "NUDT15", "*1/*2", n_candidates=2),
                call("a", "NUDT15", "*1/*1", candidate=2, n_candidates=2)])
    assert (rows_for(g, "a", "azathioprine", "CPIC")["status"] != "matched").all()


def test_an_ambiguous_gene_with_an_unphenotyped_candidate_says_no_phenotype(stages):
    # *1/*177 is not in CYP2D6's diplotype table: the candidate is named "no phenotype", never "nan".
    g = stages([call("a", "CYP2D6", "*1/*4", n_candidates=2), call("a", "CYP2D6", "*1/*177", candidate=2, n_candidates=2)])
    rows = rows_for(g, "a", "codeine", "CPIC")
    said = " ".join(str(r) for r in rows["reason"]) + " ".join(p for ps in rows["phenotypes"] for p in ps)
    assert "no phenotype" in said and "nan" not in said
