"""DPYD and RYR1 reported as PharmCAT 3 reports them; CACNA1S and CFTR stay ordinary diplotypes.

Every case is one single-sample VCF written from a PharmCAT test's specification (PharmGKB/PharmCAT,
src/test/java/org/pharmgkb/pharmcat/: DpydTest, Ryr1Test, Cacna1sTest, PipelineTest.phaseSetDpyd): the same
rsIDs and genotypes (bases as the test's VcfBuilder writes them, genomic strand, first base on the first
chromosome when phased), placed at the positions of our knowledge base.  `expected` is the test's expectedCalls
(joined with " AND " for an unphased list, as PharmCAT's calls-only TSV writes it) and `lookup` its
recommendedDiplotypes: the pair the phenotype is looked up with.  Phenotypes and activity scores are quoted from
PharmCAT's phenotype/DPYD.json and RYR1.json.  Nothing expected is computed by the code under test.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pgx_pipeline import schema
from pgx_pipeline.guidance import match_guidance
from pgx_pipeline.phenotype import assign_phenotypes
from tests.calling.conftest import run_calls
from tests.vcf_text import write_vcf


def _vcf(path, kb_dir, gene, variants, phased=False):
    """Every defining position of the gene, reference unless given in `variants`: (rsid, base1, base2[, phase set])
    as PharmCAT's VcfBuilder.variation(gene, rsid, a1, a2) takes them ('.' = missing)."""
    pos = schema.read_table(kb_dir / "positions.parquet", schema.KB_POSITIONS)
    pos = pos[(pos["gene"] == gene) & (pos["position_index"] >= 0)]
    given = {v[0]: v for v in variants}
    assert set(given) <= set(pos["rsid"]), set(given) - set(pos["rsid"])
    fmt = "GT:PS" if any(len(v) == 4 for v in variants) else "GT"
    records = []
    for row in pos.sort_values("position").itertuples():
        alleles = [row.ref, *row.alts]
        _, b1, b2, *ps = given.get(row.rsid, (row.rsid, row.ref, row.ref))
        code = lambda b: "." if b == "." else str(alleles.index(b))  # noqa: E731
        gt = f"{code(b1)}{'|' if phased else '/'}{code(b2)}" + (f":{ps[0] if ps else '.'}" if fmt == "GT:PS" else "")
        records.append(f"{row.chromosome} {row.position} {row.ref} {','.join(row.alts)} {gt}")
    contigs = {"chr1": 248956422, "chr7": 159345973, "chr19": 58617616}
    return write_vcf(path, ["S1"], records, contigs=contigs, fmt=fmt)


@pytest.fixture
def call_one(kb_dir, tmp_path, allele_functions, diplotype_phenotypes, kb_guidance, kb_messages):
    """Variants -> (calls, phenotypes, guidance) of one gene, through ingestion, calling, phenotype and guidance."""

    def run(gene, variants, phased=False):
        vcf = _vcf(tmp_path / "in.vcf", kb_dir, gene, variants, phased)
        calls = run_calls([vcf], kb_dir, tmp_path / "work")
        phen = assign_phenotypes(calls, allele_functions, diplotype_phenotypes)
        guide = match_guidance(phen, kb_guidance, kb_messages)
        return (calls[calls["gene"] == gene].reset_index(drop=True), phen[phen["gene"] == gene].reset_index(drop=True),
                guide)

    return run


def _lookup(calls: pd.DataFrame) -> set[frozenset]:
    return {frozenset((a, b)) for a, b in zip(calls["allele1"], calls["allele2"])}


CASES = {
    # DpydTest.testDpydPhased: *5 on the first chromosome, *2A on the second.  Issue 17 saw 'Reference/c.1905+1G>A
    # (*2A)': *5 (normal function) was hidden behind "Reference".
    "dpyd_phased_s5_s2a": ("DPYD", True, [("rs3918290", "C", "T"), ("rs1801159", "C", "T")],
                           ["c.1627A>G (*5)/c.1905+1G>A (*2A)"], {"c.1627A>G (*5)", "c.1905+1G>A (*2A)"}),
    # DpydTest.testDpydUnphased: the list of variants found.
    "dpyd_unphased_s5_s2a": ("DPYD", False, [("rs3918290", "C", "T"), ("rs1801159", "C", "T")],
                             ["c.1627A>G (*5) AND c.1905+1G>A (*2A)"], {"c.1627A>G (*5)", "c.1905+1G>A (*2A)"}),
    # PipelineTest.phaseSetDpyd, unphased: two normal-function variants.  Issue 17 saw 'Reference/Reference'.
    "dpyd_unphased_c85_c3067": ("DPYD", False, [("rs114096998", "G", "T"), ("rs1801265", "A", "G")],
                                ["c.85T>C (*9A) AND c.3067C>A"], {"c.85T>C (*9A)", "c.3067C>A"}),
    # PipelineTest.phaseSetDpyd, phased: both variants in cis.
    "dpyd_phased_c85_c3067_cis": ("DPYD", True, [("rs114096998", "G", "T"), ("rs1801265", "A", "G")],
                                  ["Reference/[c.85T>C (*9A) + c.3067C>A]"], {"Reference", "c.85T>C (*9A)"}),
    # PipelineTest.phaseSetDpyd, two phase sets: both arrangements are reported.
    "dpyd_phase_sets": ("DPYD", True, [("rs114096998", "G", "T", 96997594), ("rs1801265", "A", "G", 97710720)],
                        ["Reference/[c.85T>C (*9A) + c.3067C>A]", "c.85T>C (*9A)/c.3067C>A"],
                        {"c.85T>C (*9A)", "Reference"}),
    # DpydTest.testDpydPhasedMultiTrans: two variants on each chromosome.  Issue 17 saw 'Reference/c.2933A>G'.
    "dpyd_phased_two_combinations": (
        "DPYD", True,
        [("rs67376798", "A", "T"), ("rs72547601", "C", "T"), ("rs60139309", "T", "C"), ("rs139834141", "C", "T")],
        ["[c.498G>A + c.2582A>G]/[c.2846A>T + c.2933A>G]"], {"c.498G>A", "c.2933A>G"}),
    # DpydTest.testDpydUnphasedMultiTrans: the same genotypes unphased.
    "dpyd_unphased_four": (
        "DPYD", False,
        [("rs67376798", "A", "T"), ("rs72547601", "C", "T"), ("rs60139309", "T", "C"), ("rs139834141", "C", "T")],
        ["c.498G>A AND c.2582A>G AND c.2846A>T AND c.2933A>G"], {"c.2933A>G", "c.2846A>T"}),
    # DpydTest.testDpydHomNoFunctionUnphased: a homozygous variant in an unphased list.
    "dpyd_unphased_homozygous": (
        "DPYD", False, [("rs72547601", "C", "C"), ("rs67376798", "A", "T"), ("rs60139309", "T", "C")],
        ["c.2582A>G AND c.2846A>T AND c.2933A>G (homozygous)"], {"c.2933A>G"}),
    # DpydTest.testDpydHomNoFunctionEffectivelyPhased: unphased, but one heterozygous position only.
    "dpyd_effectively_phased": ("DPYD", False, [("rs72549310", "A", "A"), ("rs150385342", "C", "T")],
                                ["c.61C>T/[c.61C>T + c.313G>A]"], {"c.61C>T"}),
    # DpydTest.testDpydC2846het.
    "dpyd_c2846_het": ("DPYD", True, [("rs67376798", "T", "A")], ["Reference/c.2846A>T"], {"Reference", "c.2846A>T"}),
    # DPYD HapB3 (c.1129-5923C>G intronic + c.1236G>A exonic): the intronic variant alone is its own allele.
    # DpydTest.issue155_strandMismatch.
    "dpyd_hapb3_issue155": (
        "DPYD", True,
        [("rs1801158", "T", "C"), ("rs56038477", "C", "T"), ("rs75017182", "G", "C"), ("rs2297595", "C", "T"),
         ("rs1801265", "G", "G")],
        ["[c.85T>C (*9A) + c.1129-5923C>G, c.1236G>A (HapB3)]/[c.85T>C (*9A) + c.496A>G + c.1601G>A (*4)]"],
        {"c.85T>C (*9A)", "c.1129-5923C>G, c.1236G>A (HapB3)"}),
    # DpydTest.issue156.
    "dpyd_hapb3_issue156": (
        "DPYD", True,
        [("rs1801160", "T", "C"), ("rs1801159", "C", "T"), ("rs56038477", "T", "C"), ("rs75017182", "C", "G")],
        ["Reference/[c.1129-5923C>G, c.1236G>A (HapB3) + c.1627A>G (*5) + c.2194G>A (*6)]"],
        {"Reference", "c.1129-5923C>G, c.1236G>A (HapB3)"}),
    # DpydTest.hapB3AndIntronicD and hapB3AndIntronicC: the intronic variant on both chromosomes, the exonic on one.
    "dpyd_hapb3_intronic_d": ("DPYD", True, [("rs56038477", "T", "C"), ("rs75017182", "C", "C")],
                              ["c.1129-5923C>G/c.1129-5923C>G, c.1236G>A (HapB3)"],
                              {"c.1129-5923C>G, c.1236G>A (HapB3)", "c.1129-5923C>G"}),
    "dpyd_hapb3_intronic_c": ("DPYD", True, [("rs56038477", "C", "T"), ("rs75017182", "C", "C")],
                              ["c.1129-5923C>G/c.1129-5923C>G, c.1236G>A (HapB3)"],
                              {"c.1129-5923C>G, c.1236G>A (HapB3)", "c.1129-5923C>G"}),
    # DpydTest.phaseSet_lowFunctionsOnSameStrand: two phase sets; the lowest-function arrangement gives the lookup.
    "dpyd_phase_sets_low_function_same_strand": (
        "DPYD", True,
        [("rs1801159", "C", "T", 97513581), ("rs56038477", "C", "T", 97571276), ("rs75017182", "G", "C", 97571276),
         ("rs72549310", "G", "A", 97571276)],
        ["Reference/[c.61C>T + c.1129-5923C>G, c.1236G>A (HapB3) + c.1627A>G (*5)]",
         "c.1627A>G (*5)/[c.61C>T + c.1129-5923C>G, c.1236G>A (HapB3)]"],
        {"c.61C>T", "Reference"}),
    # DpydTest.issue209_strandMismatch: three phase sets, four arrangements.
    "dpyd_phase_sets_issue209": (
        "DPYD", True,
        [("rs1801159", "C", "T", 97513581), ("rs56038477", "C", "T", 97571276), ("rs75017182", "G", "C", 97571276),
         ("rs1801265", "G", "A", 97879893)],
        ["Reference/[c.85T>C (*9A) + c.1129-5923C>G, c.1236G>A (HapB3) + c.1627A>G (*5)]",
         "c.85T>C (*9A)/[c.1129-5923C>G, c.1236G>A (HapB3) + c.1627A>G (*5)]",
         "c.1129-5923C>G, c.1236G>A (HapB3)/[c.85T>C (*9A) + c.1627A>G (*5)]",
         "c.1627A>G (*5)/[c.85T>C (*9A) + c.1129-5923C>G, c.1236G>A (HapB3)]"],
        {"Reference", "c.1129-5923C>G, c.1236G>A (HapB3)"}),
    # DpydHapB3Matcher (DpydTest hapB3 sheet rows 14 and 89): with the intronic position missing, HapB3 is judged on
    # the exonic variant; with the exonic position missing, the intronic variant is its own allele c.1129-5923C>G.
    "dpyd_hapb3_exonic_missing": ("DPYD", True, [("rs56038477", ".", "."), ("rs75017182", "G", "C")],
                                  ["Reference/c.1129-5923C>G"],
                                  {"Reference", "c.1129-5923C>G"}),
    "dpyd_hapb3_intronic_missing": ("DPYD", True, [("rs56038477", "C", "T"), ("rs75017182", ".", ".")],
                                    ["Reference/c.1129-5923C>G, c.1236G>A (HapB3)"],
                                    {"Reference", "c.1129-5923C>G, c.1236G>A (HapB3)"}),
    # Ryr1Test.cacna1sMissing_ryr1Het2Hom1Phased: MH-associated c.97A>G on both chromosomes.
    "ryr1_phased_hom_and_combination": (
        "RYR1", True, [("rs193922746", "G", "G"), ("rs193922749", "C", "A"), ("rs142474192", "G", "A")],
        ["c.97A>G/[c.97A>G + c.152C>A + c.418G>A]"], {"c.97A>G"}),
    # Ryr1Test.cacna1sMissing_ryr1Het2Hom1: the same unphased.
    "ryr1_unphased_homozygous": (
        "RYR1", False, [("rs193922746", "G", "G"), ("rs193922749", "C", "A"), ("rs142474192", "G", "A")],
        ["c.97A>G (homozygous) AND c.152C>A AND c.418G>A"], {"c.97A>G"}),
    # Ryr1Test.cacna1sMissing_ryr1Het4: two MH-associated variants among four.
    "ryr1_unphased_four": (
        "RYR1", False,
        [("rs193922746", "A", "G"), ("rs193922749", "C", "A"), ("rs142474192", "G", "A"), ("rs146876145", "C", "T")],
        ["c.97A>G AND c.152C>A AND c.418G>A AND c.14918C>T"], {"c.97A>G", "c.14918C>T"}),
    # Ryr1Test.cacna1sMissing_ryr1Het4Phased: all four in cis.
    "ryr1_phased_four_cis": (
        "RYR1", True,
        [("rs193922746", "A", "G"), ("rs193922749", "C", "A"), ("rs142474192", "G", "A"), ("rs146876145", "C", "T")],
        ["Reference/[c.97A>G + c.152C>A + c.418G>A + c.14918C>T]"], {"Reference", "c.97A>G"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_reported_as_pharmcat_reports_it(case, call_one):
    gene, phased, variants, expected, lookup = CASES[case]
    calls, _, _ = call_one(gene, variants, phased)
    assert list(calls["status"]) == ["called"] * len(expected)
    assert list(calls["diplotype"]) == expected
    # every candidate row carries the one pair PharmCAT looks the phenotype up with
    assert _lookup(calls) == {frozenset(lookup)}
    assert not any("Reference" == d.split("/")[0] and "Reference" == d.split("/")[-1] for d in calls["diplotype"])


def test_dpyd_phased_s5_s2a_phenotype_and_advice(call_one):
    """*2A (no function) with *5 (normal) in trans: DPYD.json 'c.1627A>G (*5)/c.1905+1G>A (*2A)' -> Intermediate
    Metabolizer, activity score 1.0; CPIC's 1.0 advice (reduce the starting dose by 50%) and DPWG's 1.0 row apply."""
    calls, phen, guide = call_one("DPYD", CASES["dpyd_phased_s5_s2a"][2], phased=True)
    p = phen.iloc[0]
    assert (p["phenotype"], p["activity_score"]) == ("Intermediate Metabolizer", "1.0")
    assert {p["allele1_function"], p["allele2_function"]} == {"Normal function", "No function"}
    rows = guide[(guide["drug"] == "capecitabine") & (guide["status"] == "matched")]
    assert any("Reduce starting dose by 50%" in r for r in rows[rows["source"] == "CPIC"]["recommendation"])
    assert list(rows[rows["source"] == "DPWG"]["lookup_keys"].iloc[0]) == ["DPYD: 1.0 (Intermediate Metabolizer)"]


def test_dpyd_unphased_two_normal_variants_is_normal_metabolizer(call_one):
    """c.85T>C and c.3067C>A are normal function: DPYD.json 'c.85T>C (*9A)/c.3067C>A' -> Normal Metabolizer, 2.0."""
    calls, phen, _ = call_one("DPYD", CASES["dpyd_unphased_c85_c3067"][2])
    assert (phen.iloc[0]["phenotype"], phen.iloc[0]["activity_score"]) == ("Normal Metabolizer", "2.0")
    assert any("phenotype from c.85T>C (*9A)/c.3067C>A" in w for w in calls.iloc[0]["warnings"])


def test_dpyd_two_combinations_use_the_lowest_of_each_chromosome(call_one):
    """[c.498G>A + c.2582A>G] (both normal) / [c.2846A>T (0.5) + c.2933A>G (0)]: c.498G>A/c.2933A>G, activity 1.0
    (DPYD.json), Intermediate Metabolizer; unphased the two lowest are c.2846A>T and c.2933A>G: 0.5, Poor."""
    _, phen, _ = call_one("DPYD", CASES["dpyd_phased_two_combinations"][2], phased=True)
    assert (phen.iloc[0]["phenotype"], phen.iloc[0]["activity_score"]) == ("Intermediate Metabolizer", "1.0")
    _, phen, guide = call_one("DPYD", CASES["dpyd_unphased_four"][2])
    assert (phen.iloc[0]["phenotype"], phen.iloc[0]["activity_score"]) == ("Poor Metabolizer", "0.5")
    cpic = guide[(guide["drug"] == "fluorouracil") & (guide["source"] == "CPIC") & (guide["status"] == "matched")]
    assert list(cpic["lookup_keys"].iloc[0]) == ["DPYD: 0.5"]


def test_dpyd_unphased_homozygous_no_function_is_poor(call_one):
    _, phen, _ = call_one("DPYD", CASES["dpyd_unphased_homozygous"][2])
    assert (phen.iloc[0]["phenotype"], phen.iloc[0]["activity_score"]) == ("Poor Metabolizer", "0.0")


def test_ryr1_mh_variant_gives_susceptibility(call_one):
    """RYR1.json: any pair with a 'Malignant Hyperthermia associated' allele -> Malignant Hyperthermia
    Susceptibility; CPIC's volatile-anaesthetic advice follows."""
    _, phen, guide = call_one("RYR1", CASES["ryr1_unphased_four"][2])
    assert phen.iloc[0]["phenotype"] == "Malignant Hyperthermia Susceptibility"
    rows = guide[(guide["drug"] == "desflurane") & (guide["source"] == "CPIC") & (guide["status"] == "matched")]
    assert len(rows) and all(any(k.startswith("RYR1: Malignant") for k in keys) for keys in rows["lookup_keys"])


def test_cacna1s_is_an_ordinary_diplotype(call_one):
    """Cacna1sTest.cacna1sHet2_ryr1Missing: CACNA1S is called by the ordinary matcher, 'c.520C>T/c.3257G>A'."""
    calls, phen, _ = call_one("CACNA1S", [("rs1800559", "C", "T"), ("rs772226819", "G", "A")])
    assert list(calls["diplotype"]) == ["c.520C>T/c.3257G>A"]
    assert phen.iloc[0]["phenotype"] == "Malignant Hyperthermia Susceptibility"


def test_report_shows_the_variants_and_the_pair_the_phenotype_comes_from(call_one):
    """The patient report's gene row: PharmCAT's string, the functions of the lookup pair, and a note saying how to
    read the notation and which pair gives the phenotype."""
    from pgx_pipeline.report.context import _genes

    calls, phen, _ = call_one("DPYD", CASES["dpyd_phased_two_combinations"][2], phased=True)
    row = _genes(calls.to_dict("records"), phen.to_dict("records"), {}, {})[0]
    assert row["diplotype"] == "[c.498G>A + c.2582A>G]/[c.2846A>T + c.2933A>G]"
    assert (row["phenotype"], row["activity_score"]) == ("Intermediate Metabolizer", "1.0")
    # c.498G>A normal, c.2933A>G no function (DPYD.json activity 1.0 and 0.0)
    assert sorted(row["allele_functions"]) == ["No function", "Normal function"]
    assert any('"[a + b]" = variants on the same chromosome' in n for n in row["notes"])
    assert any(n.startswith("phenotype from c.498G>A/c.2933A>G") for n in row["notes"])


def test_dpyd_hapb3_exonic_without_intronic_is_not_hapb3_and_says_so(call_one):
    """Gene-Definition-Exceptions, "Calling the HapB3 allele": the intronic variant decides; conflicting input gets a
    warning.  Exonic c.1236G>A alone on one chromosome: no HapB3, 'Reference/Reference', and the warning."""
    calls, phen, _ = call_one("DPYD", [("rs56038477", "C", "T"), ("rs75017182", "G", "G")], phased=True)
    assert list(calls["diplotype"]) == ["Reference/Reference"]
    assert any("found without c.1129-5923C>G" in w for w in calls.iloc[0]["warnings"])
    calls, _, _ = call_one("DPYD", [("rs56038477", "T", "C"), ("rs75017182", "C", "C")], phased=True)
    assert not any("found without" in w for w in calls.iloc[0]["warnings"])
