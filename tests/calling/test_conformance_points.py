"""Regression tests for matcher-conformance misses found by checking calls against PharmCAT 3.1.1 (issue 17).

Each test uses the smallest VCF that shows its point; expected alleles and phenotypes are read from PharmCAT's
published files (translation JSON, exemptions.json, phenotype JSON) or PharmCAT's own tests, never from our output.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pgx_pipeline import schema
from pgx_pipeline.phenotype import assign_phenotypes
from pgx_pipeline.testing import KnowledgeTables, SampleSpec, genotype_records, write_vcf
from tests.conftest import PHARMCAT, needs
from tests.vcf_text import write_vcf as write_text_vcf

from .conftest import diplotypes, one, run_calls

F = frozenset


def _phenotypes(calls, kb_dir):
    functions = schema.read_table(kb_dir / "allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS)
    tables = schema.read_table(kb_dir / "diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES)
    return assign_phenotypes(calls, functions, tables)


def _published(gene: str) -> dict[frozenset, str]:
    data = json.loads((PHARMCAT / f"phenotype/{gene}.json").read_text())
    return {F(d["diplotype"].split("/")): d["generesult"] for d in data["diplotypes"]}


# ------------------------------------------------------------------ 1. ignored positions are variants
CHATHAM = ("chrX", 154532990, "C", "T")  # rs5030869, G6PD_translation.json
IGNORED_DELETION = ("chrX", 154532990, "CGGT", "C")  # exemptions.json G6PD ignoredPositions, same POS


@needs(PHARMCAT)
def test_every_ignored_variant_is_dropped_and_every_other_variant_at_its_position_kept(defs_dir):
    """exemptions.json lists two ignored variants that share POS with a defined SNV (G6PD Chatham, RYR1 c.14509C>G)."""
    exemptions = json.loads((PHARMCAT / "definition/alleles/exemptions.json").read_text())
    positions = schema.read_table(defs_dir / "positions.parquet", schema.KB_POSITIONS)
    alleles = schema.read_table(defs_dir / "alleles.parquet", schema.KB_ALLELES)
    shared_pos = []
    for gene, ex in exemptions.items():
        defined = json.loads((PHARMCAT / f"definition/alleles/{gene}_translation.json").read_text())["variants"]
        kept = positions[positions["gene"] == gene]
        kept = {(r.position, r.ref, tuple(r.alts)) for r in kept.itertuples()}
        for v in ex["ignoredPositions"]:
            assert (v["position"], v["ref"], tuple(v["alts"])) not in kept, (gene, v)
            for d in defined:
                if d["position"] == v["position"]:
                    assert (d["position"], d["ref"], tuple(d["alts"])) in kept, (gene, d)
                    shared_pos.append((gene, d["position"]))
    assert sorted(shared_pos) == [("G6PD", 154532990), ("RYR1", 38580126)]
    assert "Chatham" in set(alleles.loc[alleles["gene"] == "G6PD", "allele"])
    assert "c.14509C>G" in set(alleles.loc[alleles["gene"] == "RYR1", "allele"])


@needs(PHARMCAT)
def test_g6pd_chatham_carriers_are_called_and_the_ignored_deletion_stays_ignored(kb_dir, tmp_path):
    # Variant-only VCF (absent = reference, as for a panel): the Chatham SNV and the ignored deletion, split records.
    samples = ["M_CHATHAM", "F_CHATHAM", "M_DEL", "F_DEL"]
    chrom, pos, ref, alt = CHATHAM
    _, _, dref, dalt = IGNORED_DELETION
    vcf = write_text_vcf(tmp_path / "g6pd.vcf", samples, [
        f"{chrom} {pos} {ref} {alt} 1 0/1 0 0/0",
        f"{chrom} {pos} {dref} {dalt} 0 0/0 1 0/1",
    ])
    calls = run_calls(vcf, kb_dir, tmp_path / "w", absent_is_reference=True)
    assert diplotypes(calls, "M_CHATHAM", "G6PD") == {F({"Chatham"})}
    assert diplotypes(calls, "F_CHATHAM", "G6PD") == {F({"B (reference)", "Chatham"})}
    # The deletion is ignored by PharmCAT: it must not make Chatham (same POS) nor anything else.
    assert diplotypes(calls, "M_DEL", "G6PD") == {F({"B (reference)"})}
    assert diplotypes(calls, "F_DEL", "G6PD") == {F({"B (reference)"})}

    published = _published("G6PD")
    assert published[F({"Chatham"})] == "Deficient" and published[F({"B (reference)", "Chatham"})] == "Variable"
    phen = _phenotypes(calls[calls["gene"] == "G6PD"], kb_dir).set_index("sample_id")
    assert phen.loc["M_CHATHAM", "phenotype"] == "Deficient"
    assert phen.loc["F_CHATHAM", "phenotype"] == "Variable"
    assert phen.loc["M_DEL", "phenotype"] == "Normal"


def test_g6pd_chatham_with_every_position_genotyped(defs_dir, tmp_path):
    kb = KnowledgeTables.from_dir(defs_dir)
    specs = [SampleSpec("M", {"G6PD": ("Chatham",)}, male=True),
             SampleSpec("F", {"G6PD": ("B (reference)", "Chatham")})]
    vcf = write_vcf(tmp_path / "g.vcf.gz", ["M", "F"], genotype_records(kb, specs, genes=["G6PD"]))
    calls = run_calls(vcf, defs_dir, tmp_path / "w")
    assert diplotypes(calls, "M", "G6PD") == {F({"Chatham"})}
    assert diplotypes(calls, "F", "G6PD") == {F({"B (reference)", "Chatham"})}
    assert 154532990 in list(one(calls, "M", "G6PD")["matched_positions"])



def test_g6pd_male_with_a_missing_position_is_still_called(defs_dir, tmp_path):
    # A hemizygous male's gene with one position absent from the VCF (the bundled samples predate the Chatham
    # position): the absent position is missing, the sample stays haploid. It read as diploid and was not called.
    kb = KnowledgeTables.from_dir(defs_dir)
    specs = [SampleSpec("M", {"G6PD": ("B (reference)",)}, male=True)]
    records = [r for r in genotype_records(kb, specs, genes=["G6PD"]) if r.pos != CHATHAM[1]]
    calls = run_calls(write_vcf(tmp_path / "g.vcf.gz", ["M"], records), defs_dir, tmp_path / "w")
    assert diplotypes(calls, "M", "G6PD") == {F({"B (reference)"})}
    assert list(one(calls, "M", "G6PD")["missing_positions"]) == [CHATHAM[1]]

# ------------------------------------------------------------------ 3. partial genotypes
def _with_gt(records, position, gt):
    for r in records:
        if r.pos == position:
            r.gts = [gt]
    return records


RS3745274 = 41006936  # CYP2B6 c.516G>T, defines *6 and *9 (CYP2B6_translation.json)


@pytest.mark.parametrize("gt", ["./1", "1/."])
def test_cyp2b6_half_call_with_alt_is_not_called(defs_dir, tmp_path, gt):
    # Every CYP2B6 position genotyped *1/*1 except c.516G>T written as a half call with its ALT: PharmCAT makes no
    # call (NamedAlleleMatcher.callAssumingReference: data.hasPartialMissingAlleles() -> noCall); we called *1/*1.
    kb = KnowledgeTables.from_dir(defs_dir)
    records = _with_gt(genotype_records(kb, [SampleSpec("S", {})], genes=["CYP2B6"]), RS3745274, gt)
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], records)
    row = one(run_calls(vcf, defs_dir, tmp_path / "w"), "S", "CYP2B6")
    assert row["status"] == "not_called" and row["diplotype"] is None
    assert any("partial genotype" in w and str(RS3745274) in w for w in row["warnings"]), list(row["warnings"])


def test_cyp2b6_half_call_with_ref_is_a_missing_position(defs_dir, tmp_path):
    kb = KnowledgeTables.from_dir(defs_dir)
    records = _with_gt(genotype_records(kb, [SampleSpec("S", {})], genes=["CYP2B6"]), RS3745274, "0/.")
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], records)
    calls = run_calls(vcf, defs_dir, tmp_path / "w")
    assert diplotypes(calls, "S", "CYP2B6") == {F({"*1"})}
    assert RS3745274 in list(one(calls, "S", "CYP2B6")["missing_positions"])


def test_g6pd_half_call_on_chrx_is_not_called(defs_dir, tmp_path):
    # On chrX PharmCAT's VcfReader keeps `0/.` too (no missing-position rule there), so the gene is not called.
    kb = KnowledgeTables.from_dir(defs_dir)
    records = _with_gt(genotype_records(kb, [SampleSpec("F", {})], genes=["G6PD"]), CHATHAM[1], "0/.")
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["F"], records)
    row = one(run_calls(vcf, defs_dir, tmp_path / "w"), "F", "G6PD")
    assert row["status"] == "not_called", row["diplotype"]


# ------------------------------------------------------------------ 4. IUPAC wobble definitions
def test_cyp2b6_wobble_ties_18_with_6_and_9(defs_dir, tmp_path):
    """PharmCAT NamedAlleleMatcherTest.testWobbleScoringWithMultipleSequenceMatches: c.516G>T, c.785A>G and
    c.983T>C heterozygous (unphased) -> *6/*18 and *9/*18. *18 is c.785R + c.983C: its wobble scores only where
    the sample's base is not the reference, so *18 carrying c.785A (with *6) scores 1 and *18 carrying c.785G
    (with *9) scores 2; both diplotypes score 3. We reported *6/*18 alone (score 4)."""
    kb = KnowledgeTables.from_dir(defs_dir)
    records = genotype_records(kb, [SampleSpec("S", {})], genes=["CYP2B6"])
    for rsid in ("rs3745274", "rs2279343", "rs28399499"):
        (rec,) = [r for r in records if r.id == rsid]
        rec.gts = ["0/1"]
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], records)
    calls = run_calls(vcf, defs_dir, tmp_path / "w")
    assert diplotypes(calls, "S", "CYP2B6") == {F({"*6", "*18"}), F({"*9", "*18"})}
    rows = calls[(calls["sample_id"] == "S") & (calls["gene"] == "CYP2B6")]
    assert set(rows["score"]) == {3}


def test_cyp2b6_18_with_reference_base_at_the_wobble(defs_dir, tmp_path):
    # Phased: *18 with c.785A (the reference base) opposite *1; the wobble does not score, *1/*18 is the only fit.
    kb = KnowledgeTables.from_dir(defs_dir)
    records = genotype_records(kb, [SampleSpec("S", {}, phased=True)], genes=["CYP2B6"])
    (rec,) = [r for r in records if r.id == "rs28399499"]
    rec.gts = ["1|0"]
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], records)
    calls = run_calls(vcf, defs_dir, tmp_path / "w")
    assert diplotypes(calls, "S", "CYP2B6") == {F({"*1", "*18"})}
    n_positions = len(kb.gene_positions("CYP2B6"))
    assert set(calls.loc[calls["gene"] == "CYP2B6", "score"]) == {n_positions + 1}  # *1 all, *18 only c.983C


# ------------------------------------------------------------------ 5. SLCO1B1 rs4149056 fallback
@needs(PHARMCAT)
def test_slco1b1_no_star_diplotype_reports_rs4149056_and_its_phenotype(kb_dir, tmp_path):
    """*2's c.-910T>C (rs56101265) and c.521T>C on the same chromosome: no SLCO1B1 allele has both, so no star
    diplotype fits. PharmCAT reports no diplotype and looks the phenotype up from rs4149056 T/C as *1/*5
    (Slco1b1CustomCaller; docs/methods/Gene-Definition-Exceptions.md); we reported a called *1/*5."""
    vcf = write_text_vcf(tmp_path / "slco.vcf", ["S"], [
        "chr12 21172782 T C 0|1",  # rs56101265, *2
        "chr12 21178615 T C 0|1",  # rs4149056 c.521T>C, *5
    ])
    calls = run_calls(vcf, kb_dir, tmp_path / "w", absent_is_reference=True)
    row = one(calls, "S", "SLCO1B1")
    assert row["diplotype"] == "rs4149056 T/rs4149056 C"
    assert pd.isna(row["score"]) and row["status"] == "called"
    phen = _phenotypes(calls[calls["gene"] == "SLCO1B1"], kb_dir).iloc[0]
    assert phen["phenotype"] == _published("SLCO1B1")[F({"*1", "*5"})] == "Decreased Function"
    assert any("phenotype comes from rs4149056" in w for w in phen["warnings"]), list(phen["warnings"])

    # The report says where the phenotype came from.
    from pgx_pipeline.report.context import _gene

    shown = _gene("SLCO1B1", calls[calls["gene"] == "SLCO1B1"].to_dict("records"), [phen.to_dict()], 0, {})
    assert shown["diplotype"] == "rs4149056 T/rs4149056 C" and shown["phenotype"] == "Decreased Function"
    assert any("phenotype comes from rs4149056" in n for n in shown["notes"]), shown["notes"]

    # ... and the statin guidance is CPIC's for a decreased-function SLCO1B1 (as for *1/*5).
    from pgx_pipeline.guidance import match_guidance

    guidance = match_guidance(_phenotypes(calls, kb_dir), schema.read_table(kb_dir / "guidance.parquet", schema.KB_GUIDANCE),
                              schema.read_table(kb_dir / "messages.parquet", schema.KB_MESSAGES))
    simva = guidance[(guidance["drug"] == "simvastatin") & (guidance["source"] == "CPIC")].iloc[0]
    assert simva["status"] == "matched", simva["reason"]
    assert list(simva["phenotypes"]) == ["SLCO1B1: Decreased Function"]


# ------------------------------------------------------------------ 6. ties share rank 1
@needs(PHARMCAT)
def test_tied_candidates_share_rank_1_and_every_consumer_lists_both(kb_dir, tmp_path):
    """Equal scores are one rank: the CYP2B6 wobble tie (*6/*18, *9/*18, score 3 each) is written as rank 1 twice,
    numbered by `candidate`; phenotypes, the calls-only export and the report list both candidates."""
    kb = KnowledgeTables.from_dir(kb_dir)
    records = genotype_records(kb, [SampleSpec("S", {})], genes=["CYP2B6"])
    for rec in records:
        if rec.id in ("rs3745274", "rs2279343", "rs28399499"):
            rec.gts = ["0/1"]
    calls = run_calls(write_vcf(tmp_path / "s.vcf.gz", ["S"], records), kb_dir, tmp_path / "w")
    rows = calls[calls["gene"] == "CYP2B6"]
    assert list(rows["rank"]) == [1, 1] and list(rows["candidate"]) == [1, 2]
    assert list(rows["diplotype"]) == ["*6/*18", "*9/*18"] and set(rows["n_candidates"]) == {2}

    phen = _phenotypes(rows, kb_dir)
    assert list(phen["rank"]) == [1, 1] and list(phen["candidate"]) == [1, 2]
    published = _published("CYP2B6")
    assert list(phen["phenotype"]) == [published[F({"*6", "*18"})], published[F({"*9", "*18"})]]

    from pgx_pipeline.report.context import _gene
    from pgx_pipeline.report.exports import calls_only_rows

    (line,) = [r for r in calls_only_rows(rows, phen) if r[1] == "CYP2B6"]
    assert line[2] == "*6/*18 OR *9/*18"
    shown = _gene("CYP2B6", rows.to_dict("records"), phen.to_dict("records"), 0, {})
    assert shown["status"] == "ambiguous" and [c["diplotype"] for c in shown["candidates"]] == ["*6/*18", "*9/*18"]
    assert [c["phenotype"] for c in shown["candidates"]] == list(phen["phenotype"])
