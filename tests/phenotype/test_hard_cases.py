"""Hand-written hard cases, each traced to a real guideline recommendation.

Every expected recommendation is pinned twice: by its ClinPGx recommendation id and lookup key in the guideline
file itself (`reporter/guidelines/*.json` of the stale fallback, read here with json.load), and by a distinctive
substring of its text that the guidance stage's output must contain.  Phenotypes and activity scores are quoted
from the published `phenotype/<GENE>.json` tables.  Nothing expected is computed by the code under test.

Each regression test below pinned a bug found in review (now fixed).
"""

from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest

from pgx_pipeline.guidance import match_guidance
from pgx_pipeline.phenotype import assign_phenotypes
from tests.conftest import FALLBACK, needs
from tests.phenotype.calls_frame import call, calls_frame

GUIDELINES = FALLBACK / "reporter" / "guidelines"


# ----------------------------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def stages(allele_functions, diplotype_phenotypes, kb_guidance, kb_messages):
    """CALLS rows -> (phenotypes, guidance), through both stages as the workflow chains them."""

    def run(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
        phenotypes = assign_phenotypes(calls_frame(rows), allele_functions, diplotype_phenotypes)
        return phenotypes, match_guidance(phenotypes, kb_guidance, kb_messages)

    return run


def published(file_name: str, rec_id: str) -> dict:
    """One recommendation of a guideline file, read straight from the JSON."""
    if not GUIDELINES.is_dir():
        pytest.skip(f"the expected advice is read from the published guideline files in {GUIDELINES} (absent)")
    doc = json.loads((GUIDELINES / file_name).read_text(encoding="utf-8"))
    for rec in doc["recommendations"]:
        if rec["id"] == rec_id:
            return rec
    raise AssertionError(f"{file_name} has no recommendation {rec_id}")


def published_text(rec: dict) -> str:
    text = rec["text"]["html"] if isinstance(rec["text"], dict) else rec["text"]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())


def check_published(file_name: str, rec_id: str, lookup: dict, quote: str, **fields) -> dict:
    """The guideline file really says `quote` for `lookup` (and the given population/classification/drug)."""
    rec = published(file_name, rec_id)
    assert rec["lookupKey"] == lookup, (file_name, rec_id, rec["lookupKey"])
    assert quote in published_text(rec), f"{file_name} {rec_id} does not say {quote!r}"
    if "population" in fields:
        assert rec.get("population") == fields["population"]
    if "classification" in fields:
        assert (rec.get("classification") or {}).get("term") == fields["classification"]
    if "drug" in fields:
        assert fields["drug"] in [c["name"] for c in rec["relatedChemicals"]]
    return rec


def rows_for(guidance: pd.DataFrame, sample: str, drug: str, source: str) -> pd.DataFrame:
    return guidance[(guidance["sample_id"] == sample) & (guidance["drug"] == drug) & (guidance["source"] == source)]


def only(rows: pd.DataFrame, quote: str) -> pd.Series:
    """The single output row whose recommendation contains `quote`."""
    hit = rows[rows["recommendation"].map(lambda t: isinstance(t, str) and quote in t)]
    assert len(hit) == 1, f"{len(hit)} rows say {quote!r}; recommendations: {rows['recommendation'].tolist()}"
    return hit.iloc[0]


def pheno(phenotypes: pd.DataFrame, sample: str, gene: str, candidate: int = 1) -> pd.Series:
    hit = phenotypes[(phenotypes["sample_id"] == sample) & (phenotypes["gene"] == gene) & (phenotypes["candidate"] == candidate)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def nothing(value) -> bool:
    return value is None or (not isinstance(value, (list, tuple)) and pd.isna(value))


# --------------------------------------------------------------------------- CYP2C19 *2/*17 + clopidogrel
def test_cyp2c19_star2_star17_clopidogrel_every_cpic_population(stages):
    # CYP2C19.json: "*2/*17" -> phenotype "Intermediate Metabolizer", lookupkey "Intermediate Metabolizer".
    ph, gd = stages([call("S1", "CYP2C19", "*2/*17")])
    p = pheno(ph, "S1", "CYP2C19")
    assert (p["phenotype"], p["lookup_key"]) == ("Intermediate Metabolizer", "Intermediate Metabolizer")
    assert nothing(p["activity_score"])
    assert (p["allele1_function"], p["allele2_function"]) == ("No function", "Increased function")

    cpic = rows_for(gd, "S1", "clopidogrel", "CPIC")
    expected = {  # population -> (recommendation id, classification, quote, alternate drug flagged)
        "CVI ACS PCI": ("PA166297570", "Strong", "Avoid standard dose (75 mg) clopidogrel if possible", True),
        "NVI": ("PA166297588", "Moderate", "Consider an alternative P2Y12 inhibitor at standard dose", True),
        "CVI non-ACS non-PCI": ("PA166297578", "No recommendation", "For non-acute coronary syndrome (non-ACS)", False),
    }
    assert sorted(cpic["population"]) == sorted(expected)
    for population, (rec_id, strength, quote, alternative) in expected.items():
        check_published("CPIC_clopidogrel_and_CYP2C19.json", rec_id, {"CYP2C19": "Intermediate Metabolizer"}, quote,
                        population=population, classification=strength)
        row = only(cpic, quote)
        assert row["population"] == population
        assert row["classification"] == strength
        assert row["status"] == "matched"
        assert bool(row["alternate_drug"]) is alternative
        assert list(row["lookup_keys"]) == ["CYP2C19: Intermediate Metabolizer"]
    # The rapid/normal metabolizer text ("use at standard dose (75 mg/day)") must not be offered.
    assert not cpic["recommendation"].str.contains("use at standard dose (75 mg/day)", regex=False).any()

    dpwg = rows_for(gd, "S1", "clopidogrel", "DPWG")
    quote = "choose an alternative or double the dose to 150 mg/day"
    check_published("DPWG_clopidogrel_and_CYP2C19.json", "PA166299208", {"CYP2C19": "Intermediate Metabolizer"}, quote)
    assert len(dpwg) == 1
    assert only(dpwg, quote)["status"] == "matched"


# ------------------------------------------------------------------------------ CYP2C9 *1/*3, score 1.0
def test_cyp2c9_star1_star3_activity_score_one(stages):
    # CYP2C9.json: "*1/*3" -> "Intermediate Metabolizer", activityScore "1.0", lookupkey "1.0".
    # HLA-B typed by an outside lab without *15:02, so CPIC phenytoin's "*15:02 negative" rows apply.
    ph, gd = stages([call("S1", "CYP2C9", "*1/*3"), call("S1", "HLA-B", "*07:02/*08:01", source="outside")])
    p = pheno(ph, "S1", "CYP2C9")
    assert (p["phenotype"], p["activity_score"], p["lookup_key"]) == ("Intermediate Metabolizer", "1.0", "1.0")
    assert (p["allele1_function"], p["allele2_function"]) == ("Normal function", "No function")

    quote = "use approximately 25% less than typical maintenance dose"
    cpic = rows_for(gd, "S1", "phenytoin", "CPIC")
    for rec_id, population in (("PA166298361", "PHT naive"), ("PA166298382", "PHT use >3mos")):
        check_published("CPIC_fosphenytoin_phenytoin_and_CYP2C9_HLA_B.json", rec_id,
                        {"HLA-B": "*15:02 negative", "CYP2C9": "1.0"}, quote,
                        population=population, classification="Moderate", drug="phenytoin")
    assert sorted(cpic["population"]) == ["PHT naive", "PHT use >3mos"]
    for row in cpic.itertuples(index=False):
        assert quote in row.recommendation
        assert row.classification == "Moderate"
        assert row.status == "matched"
        assert bool(row.dosing_information) is True
        assert sorted(row.lookup_keys) == ["CYP2C9: 1.0", "HLA-B: *15:02 negative"]

    # DPWG keys CYP2C9 both by diplotype ({"*1": 1, "*3": 1}) and by phenotype; the diplotype row applies.
    siponimod = rows_for(gd, "S1", "siponimod", "DPWG")
    diplotype_quote = "For this genetic variation, a moderate CYP3A4 inducer"
    phenotype_quote = "For the comparable genetic variation *1/*3"
    check_published("DPWG_siponimod_and_CYP2C9.json", "PA166299156", {"CYP2C9": {"*1": 1.0, "*3": 1.0}}, diplotype_quote)
    check_published("DPWG_siponimod_and_CYP2C9.json", "PA166299153", {"CYP2C9": "Intermediate Metabolizer"}, phenotype_quote)
    assert len(siponimod) == 1
    row = only(siponimod, diplotype_quote)
    assert phenotype_quote not in row["recommendation"]
    assert bool(row["dosing_information"]) and bool(row["alternate_drug"])
    [key] = row["lookup_keys"]
    assert key.startswith("CYP2C9:") and '"*1": 1' in key and '"*3": 1' in key

    warfarin = rows_for(gd, "S1", "warfarin", "DPWG")
    diplotype_quote = "use 65% of the standard initial dose. The genotype-specific initial dose and maintenance dose can be calculated using an algorithm, as used in EU-PACT"
    phenotype_quote = "Algorithms for Caucasian patients usually contain only the *2 and *3 allele"
    check_published("DPWG_warfarin_and_CYP2C9.json", "PA166299070", {"CYP2C9": {"*1": 1.0, "*3": 1.0}}, diplotype_quote)
    check_published("DPWG_warfarin_and_CYP2C9.json", "PA166299069", {"CYP2C9": "Intermediate Metabolizer"}, phenotype_quote)
    cyp2c9_rows = warfarin[warfarin["genes"].map(lambda g: list(g) == ["CYP2C9"])]
    assert len(cyp2c9_rows) == 1
    assert phenotype_quote not in only(cyp2c9_rows, diplotype_quote)["recommendation"]


# ------------------------------------------------------------------------- DPYD c.1905+1G>A (*2A) carrier
def test_dpyd_one_c1905_carrier_fluoropyrimidines(stages):
    # DPYD.json: "Reference/c.1905+1G>A (*2A)" -> "Intermediate Metabolizer", activityScore "1.0", lookupkey "1.0".
    ph, gd = stages([call("S1", "DPYD", "Reference/c.1905+1G>A (*2A)")])
    p = pheno(ph, "S1", "DPYD")
    assert (p["phenotype"], p["activity_score"], p["lookup_key"]) == ("Intermediate Metabolizer", "1.0", "1.0")
    assert (p["allele1_function"], p["allele2_function"]) == ("Normal function", "No function")

    quote = "Reduce starting dose by 50% followed by titration of dose"
    for drug, file_name, rec_id in (
        ("fluorouracil", "CPIC_fluorouracil_and_DPYD.json", "PA166297898"),
        ("capecitabine", "CPIC_capecitabine_and_DPYD.json", "PA166297901"),
    ):
        check_published(file_name, rec_id, {"DPYD": "1.0"}, quote, population="general", classification="Strong")
        rows = rows_for(gd, "S1", drug, "CPIC")
        assert len(rows) == 1
        row = only(rows, quote)
        assert (row["status"], row["classification"], row["population"]) == ("matched", "Strong", "general")
        assert bool(row["dosing_information"]) is True
        assert list(row["lookup_keys"]) == ["DPYD: 1.0"]
        assert "may require >50% reduction" in row["recommendation"]  # HTML &gt; decoded

    # DPWG writes the DPYD key as "score (phenotype)".
    quote = "Start with 50% of the standard dose or avoid fluorouracil and capecitabine"
    check_published("DPWG_fluorouracil_and_DPYD.json", "PA166299175", {"DPYD": "1.0 (Intermediate Metabolizer)"}, quote)
    rows = rows_for(gd, "S1", "fluorouracil", "DPWG")
    assert len(rows) == 1
    assert list(only(rows, quote)["lookup_keys"]) == ["DPYD: 1.0 (Intermediate Metabolizer)"]


# ------------------------------------------------------------- TPMT *1/*3A + NUDT15 *1/*3 on azathioprine
def test_tpmt_star1_star3a_with_nudt15_star1_star3_azathioprine(stages):
    # TPMT.json "*1/*3A" and NUDT15.json "*1/*3": both "Intermediate Metabolizer".
    ph, gd = stages([call("S1", "TPMT", "*1/*3A"), call("S1", "NUDT15", "*1/*3")])
    assert pheno(ph, "S1", "TPMT")["lookup_key"] == "Intermediate Metabolizer"
    assert pheno(ph, "S1", "NUDT15")["lookup_key"] == "Intermediate Metabolizer"

    quote = "Start with reduced starting doses (30%-80% of normal dose)"
    check_published("CPIC_azathioprine_and_NUDT15_TPMT.json", "PA166297269",
                    {"TPMT": "Intermediate Metabolizer", "NUDT15": "Intermediate Metabolizer"}, quote,
                    population="general", classification="Strong")
    cpic = rows_for(gd, "S1", "azathioprine", "CPIC")
    assert len(cpic) == 1
    row = only(cpic, quote)
    assert (row["status"], row["classification"]) == ("matched", "Strong")
    assert sorted(row["genes"]) == ["NUDT15", "TPMT"]
    assert sorted(row["lookup_keys"]) == ["NUDT15: Intermediate Metabolizer", "TPMT: Intermediate Metabolizer"]
    assert len(row["implications"]) == 2
    assert bool(row["dosing_information"]) is True
    # messages.json "TPMT *1/*3A warning" (dips ["*1/*3A"], drugs incl. azathioprine).
    ambiguity = "*3B/*3C cannot be ruled out without phased data"
    assert any(ambiguity in m for m in row["messages"])

    # DPWG has one guideline per gene.
    dpwg = rows_for(gd, "S1", "azathioprine", "DPWG")
    tpmt_quote = "more stringent dose reductions are necessary if the patient is also NUDT15 IM or NUDT15 PM"
    nudt15_quote = "The percentage of 50% is based on the analogy with TPMT"
    check_published("DPWG_azathioprine_and_TPMT.json", "PA166299165", {"TPMT": "Intermediate Metabolizer"}, tpmt_quote)
    check_published("DPWG_azathioprine_and_NUDT15.json", "PA166299095", {"NUDT15": "Intermediate Metabolizer"}, nudt15_quote)
    assert len(dpwg) == 2
    tpmt_row, nudt15_row = only(dpwg, tpmt_quote), only(dpwg, nudt15_quote)
    assert list(tpmt_row["genes"]) == ["TPMT"] and list(nudt15_row["genes"]) == ["NUDT15"]
    assert any(ambiguity in m for m in tpmt_row["messages"])
    assert not any(ambiguity in m for m in nudt15_row["messages"])  # the TPMT note is not about NUDT15


# ------------------------------------------------------------------------------- warfarin, three genes
WARFARIN_CALLS = [
    call("S1", "CYP2C9", "*1/*3"),
    call("S1", "VKORC1", "rs9923231 reference (C)/rs9923231 variant (T)"),
    call("S1", "CYP4F2", "*1/*3"),
]


@needs(GUIDELINES)
def test_warfarin_with_cyp2c9_vkorc1_cyp4f2(stages):
    doc = json.loads((GUIDELINES / "CPIC_warfarin_and_CYP2C9_CYP4F2_VKORC1.json").read_text(encoding="utf-8"))
    assert doc["recommendations"] == []  # CPIC warfarin is a dosing algorithm: no lookup table to match
    assert sorted(g["symbol"] for g in doc["guideline"]["relatedGenes"]) == ["CYP2C9", "CYP4F2", "VKORC1"]

    ph, gd = stages(WARFARIN_CALLS)
    # VKORC1.json: the heterozygous rs9923231 diplotype is "-1639 AG".
    assert pheno(ph, "S1", "VKORC1")["lookup_key"] == "-1639 AG"

    cpic = rows_for(gd, "S1", "warfarin", "CPIC")
    assert len(cpic) == 1
    row = cpic.iloc[0]
    assert row["status"] == "no_recommendation"
    assert "algorithm" in row["reason"]
    assert nothing(row["recommendation"])
    assert sorted(row["genes"]) == ["CYP2C9", "CYP4F2", "VKORC1"]

    # DPWG: one guideline per gene, each matched on its own.
    dpwg = rows_for(gd, "S1", "warfarin", "DPWG")
    assert sorted(tuple(g) for g in dpwg["genes"]) == [("CYP2C9",), ("VKORC1",)]
    cyp2c9_quote = "as used in EU-PACT: see Algorithms coumarins"
    vkorc1_quote = "NO action is required for the gene-drug interaction."
    check_published("DPWG_warfarin_and_CYP2C9.json", "PA166299070", {"CYP2C9": {"*1": 1.0, "*3": 1.0}}, cyp2c9_quote)
    check_published("DPWG_warfarin_and_VKORC1.json", "PA166299076", {"VKORC1": "-1639 AG"}, vkorc1_quote)
    assert list(only(dpwg, cyp2c9_quote)["genes"]) == ["CYP2C9"]
    vk = only(dpwg, vkorc1_quote)
    assert list(vk["lookup_keys"]) == ["VKORC1: -1639 AG"]
    assert (dpwg["status"] == "matched").all()


def test_warfarin_drug_level_messages_attach(stages):
    _, gd = stages(WARFARIN_CALLS)
    cpic = rows_for(gd, "S1", "warfarin", "CPIC").iloc[0]
    assert any("follow the flow chart in figure 2" in m for m in cpic["messages"])
    assert any("only considers a single SNV in VKORC1 (rs9923231)" in m for m in cpic["messages"])


def test_warfarin_phenotypes_never_read_nan(stages):
    _, gd = stages(WARFARIN_CALLS)
    cpic = rows_for(gd, "S1", "warfarin", "CPIC").iloc[0]
    assert not any("nan" in p for p in cpic["phenotypes"]), list(cpic["phenotypes"])


def test_diplotype_without_published_phenotype_says_why(stages):
    ph, gd = stages([call("S1", "CYP2C19", "*1/*999")])  # *999: not a CYP2C19 allele in the knowledge base
    # ... and says which allele lacks a function (*1 has one: "Normal function" in CYP2C19.json)
    assert any("not in the knowledge base" in w and "(*999: no allele function" in w
               for w in pheno(ph, "S1", "CYP2C19")["warnings"])
    cpic = rows_for(gd, "S1", "clopidogrel", "CPIC").iloc[0]
    assert cpic["status"] == "no_recommendation"
    assert "no phenotype" in cpic["reason"]
    assert not any("nan" in p for p in cpic["phenotypes"])


# --------------------------------------------------------------------------- HLA-B *57:01 and abacavir
def test_hla_b_5701_positive_outside_call_abacavir(stages):
    ph, gd = stages([
        call("POS", "HLA-B", "*57:01/*08:01", source="outside", status="outside_call"),
        call("NEG", "HLA-B", "*07:02/*08:01", source="outside", status="outside_call"),
        call("NOHLA", "CYP2C19", "*1/*1"),  # no HLA typing supplied
    ])
    p = pheno(ph, "POS", "HLA-B")
    assert p["status"] == "outside_call"
    assert "*57:01 positive" in p["phenotype"]
    assert "*57:01 positive" in p["lookup_key"] and "*58:01 negative" in p["lookup_key"]

    positive = "Abacavir is not recommended"
    negative = "Use abacavir per standard dosing guidelines"
    check_published("CPIC_abacavir_and_HLA_B.json", "PA166296759", {"HLA-B": "*57:01 positive"}, positive, classification="Strong")
    check_published("CPIC_abacavir_and_HLA_B.json", "PA166296758", {"HLA-B": "*57:01 negative"}, negative, classification="Strong")
    dpwg_quote = "Abacavir is contra-indicated for HLA-B*57:01-positive patients"
    check_published("DPWG_abacavir_and_HLA_B.json", "PA166299245", {"HLA-B": "*57:01 positive"}, dpwg_quote)

    cpic = rows_for(gd, "POS", "abacavir", "CPIC")
    assert len(cpic) == 1
    row = only(cpic, positive)
    assert (row["status"], row["classification"]) == ("matched", "Strong")
    assert bool(row["alternate_drug"]) is True
    assert list(row["lookup_keys"]) == ["HLA-B: *57:01 positive"]
    dpwg = rows_for(gd, "POS", "abacavir", "DPWG")
    assert len(dpwg) == 1 and only(dpwg, dpwg_quote)["status"] == "matched"

    assert only(rows_for(gd, "NEG", "abacavir", "CPIC"), negative)["status"] == "matched"

    for source in ("CPIC", "DPWG"):
        rows = rows_for(gd, "NOHLA", "abacavir", source)
        assert len(rows) == 1, source
        row = rows.iloc[0]
        assert row["status"] == "gene_not_assessed"
        assert nothing(row["recommendation"])
        assert "HLA-B" in row["reason"] and "outside call" in row["reason"]


def test_hla_b_5701_positive_given_as_phenotype_only(stages):
    _, gd = stages([call("S1", "HLA-B", None, source="outside", status="outside_call", outside_phenotype="*57:01 positive")])
    row = rows_for(gd, "S1", "abacavir", "CPIC").iloc[0]
    assert row["status"] == "matched"
    assert "Abacavir is not recommended" in row["recommendation"]


def test_malformed_hla_outside_call_is_not_called(stages):
    _, gd = stages([
        call("S1", "HLA-B", None, source="outside", status="not_called", n_candidates=0,
             warnings=["outside.tsv:2: HLA-B diplotype '*57:01/*08:01/*07:02' is malformed"]),
        call("S2", "CYP2C19", "*1/*1"),
    ])
    row = rows_for(gd, "S1", "abacavir", "CPIC").iloc[0]
    assert row["status"] == "gene_not_called"


# -------------------------------------------------------------------------------------- ties and gaps
def test_tie_between_diplotypes_with_different_phenotypes(stages):
    # CYP2C19.json: "*1/*2" -> Intermediate Metabolizer, "*1/*17" -> Rapid Metabolizer.
    ph, gd = stages([
        call("S1", "CYP2C19", "*1/*17", rank=1, n_candidates=2, score=10),
        call("S1", "CYP2C19", "*1/*2", candidate=2, n_candidates=2, score=10),
    ])
    rows = ph[(ph["sample_id"] == "S1") & (ph["gene"] == "CYP2C19")]
    assert sorted(rows["phenotype"]) == ["Intermediate Metabolizer", "Rapid Metabolizer"]
    assert not rows["candidates_agree"].any()
    assert rows["warnings"].map(lambda w: any("different phenotypes" in x for x in w)).all()

    # No single recommendation: each candidate's advice is listed, status still "ambiguous", and says which it is.
    cpic = rows_for(gd, "S1", "clopidogrel", "CPIC")
    assert (cpic["status"] == "ambiguous").sum() >= 4
    check_published("CPIC_clopidogrel_and_CYP2C19.json", "PA166297570", {"CYP2C19": "Intermediate Metabolizer"},
                    "Avoid standard dose (75 mg) clopidogrel if possible", population="CVI ACS PCI")
    im = only(cpic, "Avoid standard dose (75 mg) clopidogrel if possible")
    assert "if CYP2C19 is Intermediate Metabolizer (*1/*2)" in im["reason"] and "confirm" in im["reason"]
    assert "CYP2C19 could be Intermediate Metabolizer (*1/*2) or Rapid Metabolizer (*1/*17)" in im["reason"]
    rapid = cpic[cpic["reason"].str.contains("if CYP2C19 is Rapid Metabolizer (*1/*17)", regex=False)]
    im_rows = cpic[cpic["reason"].str.contains("if CYP2C19 is Intermediate Metabolizer (*1/*2)", regex=False)]
    assert sorted(rapid["population"]) == sorted(im_rows["population"]) == ["CVI ACS PCI", "NVI"]
    assert rapid["recommendation"].str.contains("standard dose (75 mg/day)", regex=False).any()
    # Both candidates get the same text for non-ACS non-PCI: the tie does not matter there, one matched row says so.
    check_published("CPIC_clopidogrel_and_CYP2C19.json", "PA166297578", {"CYP2C19": "Intermediate Metabolizer"},
                    "For non-acute coronary syndrome (non-ACS)", population="CVI non-ACS non-PCI")
    same = only(cpic[cpic["status"] == "matched"], "For non-acute coronary syndrome (non-ACS)")
    assert same["population"] == "CVI non-ACS non-PCI" and same["reason"].endswith("the advice is the same for each")
    assert len(cpic) == 5


def test_tie_between_diplotypes_with_the_same_phenotype_still_matches(stages):
    # CYP2B6.json: "*1/*6" and "*4/*9" (the classic unphased ambiguity) are both Intermediate Metabolizer.
    ph, gd = stages([
        call("S1", "CYP2B6", "*1/*6", rank=1, n_candidates=2, score=10),
        call("S1", "CYP2B6", "*4/*9", candidate=2, n_candidates=2, score=10),
    ])
    assert ph[ph["gene"] == "CYP2B6"]["candidates_agree"].all()
    quote = "Consider initiating efavirenz with decreased dose of 400 mg/day"
    check_published("CPIC_efavirenz_and_CYP2B6.json", "PA166297893", {"CYP2B6": "Intermediate Metabolizer"}, quote)
    assert only(rows_for(gd, "S1", "efavirenz", "CPIC"), quote)["status"] == "matched"


def test_gene_not_called(stages):
    ph, gd = stages([call("S1", "CYP2C19", None, status="not_called", n_candidates=0), call("S1", "CYP2C9", "*1/*1")])
    p = pheno(ph, "S1", "CYP2C19")
    assert p["status"] == "not_called" and nothing(p["phenotype"])
    for source in ("CPIC", "DPWG"):
        g = rows_for(gd, "S1", "clopidogrel", source)
        assert len(g) >= 1, source
        assert (g["status"] == "gene_not_called").all()
        assert g["recommendation"].map(nothing).all()
        assert g["reason"].str.contains("CYP2C19").all()


# ------------------------------------------------------------------------------------ outside phenotypes
def test_outside_call_phenotype_and_activity_score(stages):
    # CYP2D6.json (stale fallback): "*1/*5" -> IM / 1.0 and "*1/*2" -> Normal Metabolizer / 2.0.  S2's outside
    # lab reports *1/*2 as IM with score 1.0 (e.g. a copy-number finding the diplotype text does not carry):
    # its own phenotype and score win over the table.
    ph, gd = stages([
        call("S1", "CYP2D6", "*1/*5", source="outside", outside_phenotype="Intermediate Metabolizer", outside_activity_score="1.0"),
        call("S2", "CYP2D6", "*1/*2", source="outside", outside_phenotype="Intermediate Metabolizer", outside_activity_score="1.0"),
        call("S3", "CYP2D6", "*1/*2", source="outside"),  # no phenotype given: looked up like any call
    ])
    for sample in ("S1", "S2"):
        p = pheno(ph, sample, "CYP2D6")
        assert p["status"] == "outside_call"
        assert (p["phenotype"], p["activity_score"], p["lookup_key"]) == ("Intermediate Metabolizer", "1.0", "1.0")
    p = pheno(ph, "S3", "CYP2D6")
    assert (p["phenotype"], p["activity_score"], p["lookup_key"]) == ("Normal Metabolizer", "2.0", "2.0")

    im = "If no response and opioid use is warranted, consider a non-tramadol opioid."
    check_published("CPIC_codeine_and_CYP2D6.json", "PA166297596", {"CYP2D6": "1.0"}, im, classification="Moderate")
    for sample in ("S1", "S2"):
        row = only(rows_for(gd, sample, "codeine", "CPIC"), im)
        assert (row["status"], row["classification"]) == ("matched", "Moderate")
        assert list(row["lookup_keys"]) == ["CYP2D6: 1.0"]
    nm = rows_for(gd, "S3", "codeine", "CPIC")
    assert len(nm) == 1 and list(nm.iloc[0]["lookup_keys"]) == ["CYP2D6: 2.0"] and nm.iloc[0]["classification"] == "Strong"


def test_outside_phenotype_only_does_not_keep_the_table_activity_score(stages):
    ph, gd = stages([call("S1", "CYP2D6", "*1/*2", source="outside", outside_phenotype="Poor Metabolizer")])
    p = pheno(ph, "S1", "CYP2D6")
    assert p["phenotype"] == "Poor Metabolizer"
    assert p["activity_score"] != "2.0"
    codeine = rows_for(gd, "S1", "codeine", "CPIC")
    assert not any("CYP2D6: 2.0" in list(k) for k in codeine["lookup_keys"])


def test_phenytoin_without_hla_typing_keeps_the_cyp2c9_advice(stages):
    quote = "use approximately 25% less than typical maintenance dose"
    for rec_id, population in (("PA166298373", "PHT naive"), ("PA166298395", "PHT use >3mos")):
        check_published("CPIC_fosphenytoin_phenytoin_and_CYP2C9_HLA_B.json", rec_id,
                        {"HLA-B": "No Result", "CYP2C9": "1.0"}, quote, population=population, drug="phenytoin")
    _, gd = stages([call("S1", "CYP2C9", "*1/*3")])
    cpic = rows_for(gd, "S1", "phenytoin", "CPIC")
    # CPIC's advice for an untested HLA-B is the match (the report shows it), and the row says HLA-B was not typed.
    assert (cpic["status"] == "matched").all()
    assert cpic["reason"].str.contains("HLA-B is not typed").all()
    assert cpic["reason"].str.contains("advice for an untested HLA-B").all()
    assert sorted(cpic["population"].dropna()) == ["PHT naive", "PHT use >3mos"]
    assert cpic["recommendation"].map(lambda t: isinstance(t, str) and quote in t).all()
