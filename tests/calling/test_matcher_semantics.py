"""PharmCAT Named Allele Matcher semantics, on VCFs built with pgx_pipeline.testing.

Expected values come from PharmCAT's documentation (NamedAlleleMatcher-101/-201) or from the
generator's own choice of alleles, never from running the matcher.
"""

from __future__ import annotations

import pytest

from pgx_pipeline.testing import KnowledgeTables, Record, SampleSpec, genotype_records, write_vcf

from .conftest import TOY_POSITIONS, diplotypes, one, run_calls

F = frozenset


def toy_records(gts_by_rsid: dict[str, str], absent=()) -> list[Record]:
    return [Record("chr10", pos, ref, alts, [gts_by_rsid[rs]], id=rs)
            for rs, pos, ref, alts in TOY_POSITIONS if rs not in absent]


# ------------------------------------------------------------------ NamedAlleleMatcher-101 examples
def test_doc101_unphased_example(toy_kb, tmp_path):
    # rs1 C/T, rs2 C/C, rs3 T/T, rs4 A/G, rs5 A/A -> *1/*2 (score 7) beats *3/*5 (score 2)
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], toy_records({"rs1": "0/1", "rs2": "0/0", "rs3": "0/0", "rs4": "0/1", "rs5": "0/0"}))
    calls = run_calls(vcf, toy_kb, tmp_path / "w")
    assert diplotypes(calls, "S", "TOY") == {F({"*1", "*2"})}
    assert one(calls, "S", "TOY")["score"] == 7


def test_doc101_missing_rs5(toy_kb, tmp_path):
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], toy_records({"rs1": "0/1", "rs2": "0/0", "rs3": "0/0", "rs4": "0/1", "rs5": "./."}))
    calls = run_calls(vcf, toy_kb, tmp_path / "w")
    row = one(calls, "S", "TOY")
    assert diplotypes(calls, "S", "TOY") == {F({"*1", "*2"})}
    assert row["score"] == 6  # 4 + 2 in the doc
    assert list(row["missing_positions"]) == [1040]


def test_doc101_missing_rs1_gives_two_candidates_and_never_star5(toy_kb, tmp_path):
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], toy_records({"rs1": "./.", "rs2": "0/0", "rs3": "0/0", "rs4": "0/1", "rs5": "0/0"}))
    calls = run_calls(vcf, toy_kb, tmp_path / "w")
    assert diplotypes(calls, "S", "TOY") == {F({"*1", "*2"}), F({"*1", "*3"})}
    assert set(calls.loc[calls["gene"] == "TOY", "score"]) == {5}
    assert not any("*5" in d for d in calls["diplotype"].dropna())  # defined only by the missing rs1


def test_absent_position_is_missing_not_reference(toy_kb, tmp_path):
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], toy_records({"rs1": "0/0", "rs2": "0/0", "rs3": "0/0", "rs4": "0/1", "rs5": "0/0"}, absent={"rs1"}))
    calls = run_calls(vcf, toy_kb, tmp_path / "w")
    # rs1 absent = missing: *2 cannot be excluded, exactly as in the doc's missing-rs1 example
    assert diplotypes(calls, "S", "TOY") == {F({"*1", "*2"}), F({"*1", "*3"})}
    assert list(one(calls, "S", "TOY")["missing_positions"]) == [1000]


def test_absent_is_reference_setting_fills_and_warns(toy_kb, tmp_path):
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], toy_records({"rs1": "0/0", "rs2": "0/0", "rs3": "0/0", "rs4": "0/1", "rs5": "0/0"}, absent={"rs1"}))
    calls = run_calls(vcf, toy_kb, tmp_path / "w", absent_is_reference=True)
    row = one(calls, "S", "TOY")
    assert diplotypes(calls, "S", "TOY") == {F({"*1", "*3"})}  # rs1 read as C/C rules out *2
    assert bool(row["absent_is_reference"])
    assert any("absent" in w and "reference" in w for w in row["warnings"])


def test_phased_vs_unphased(toy_kb, tmp_path):
    # hap1 = T at rs1 and rs2 ... rs1 T + rs2 T on one chromosome fits no allele; on different chromosomes = *4/*5
    recs = toy_records({"rs1": "0|1", "rs2": "0|1", "rs3": "0|0", "rs4": "0|0", "rs5": "0|0"})
    cis = write_vcf(tmp_path / "cis.vcf.gz", ["S"], recs)
    assert diplotypes(run_calls(cis, toy_kb, tmp_path / "w1"), "S", "TOY") == set()  # no named allele has both
    trans = toy_records({"rs1": "0|1", "rs2": "1|0", "rs3": "0|0", "rs4": "0|0", "rs5": "0|0"})
    vcf = write_vcf(tmp_path / "trans.vcf.gz", ["S"], trans)
    assert diplotypes(run_calls(vcf, toy_kb, tmp_path / "w2"), "S", "TOY") == {F({"*4", "*5"})}
    unph = toy_records({"rs1": "0/1", "rs2": "0/1", "rs3": "0/0", "rs4": "0/0", "rs5": "0/0"})
    vcf = write_vcf(tmp_path / "unph.vcf.gz", ["S"], unph)
    calls = run_calls(vcf, toy_kb, tmp_path / "w3")
    assert diplotypes(calls, "S", "TOY") == {F({"*4", "*5"})}
    assert not bool(one(calls, "S", "TOY")["phased"])


def test_phase_sets_split_the_gene(toy_kb, tmp_path):
    # rs1 and rs2 in different phase sets: their relative phase is unknown, so *4/*5 must be found
    recs = toy_records({"rs1": "0|1", "rs2": "0|1", "rs3": "0|0", "rs4": "0|0", "rs5": "0|0"})
    for r in recs:
        r.ps = [100] if r.pos < 1010 else [200]
    vcf = write_vcf(tmp_path / "ps.vcf.gz", ["S"], recs)
    assert diplotypes(run_calls(vcf, toy_kb, tmp_path / "w"), "S", "TOY") == {F({"*4", "*5"})}


@pytest.mark.parametrize("partial", ["0/.", "./0"])
def test_partial_reference_genotype_is_missing_and_reported(toy_kb, tmp_path, partial):
    # PharmCAT VcfReader: a half call whose known allele is the reference is a missing position.
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], toy_records({"rs1": "0/1", "rs2": "0/0", "rs3": "0/0", "rs4": "0/1", "rs5": partial}))
    calls = run_calls(vcf, toy_kb, tmp_path / "w")
    assert diplotypes(calls, "S", "TOY") == {F({"*1", "*2"})}
    assert list(one(calls, "S", "TOY")["missing_positions"]) == [1040]


@pytest.mark.parametrize("partial", ["./1", "1/.", "1|."])
def test_partial_alt_genotype_makes_no_call(toy_kb, tmp_path, partial):
    # PharmCAT keeps `./G` as a call with an unknown allele and makes no call for the gene (hasPartialMissingAlleles).
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], toy_records({"rs1": "0/1", "rs2": "0/0", "rs3": "0/0", "rs4": "0/1", "rs5": partial}))
    row = one(run_calls(vcf, toy_kb, tmp_path / "w"), "S", "TOY")
    assert row["status"] == "not_called" and row["diplotype"] is None
    assert any("partial genotype at 1040 (rs5)" in w for w in row["warnings"]), list(row["warnings"])


@pytest.mark.parametrize("style", ["chr", "plain", "refseq"])
def test_contig_naming_styles(toy_kb, tmp_path, style):
    vcf = write_vcf(tmp_path / "s.vcf.gz", ["S"], toy_records({"rs1": "0/1", "rs2": "0/0", "rs3": "0/0", "rs4": "0/1", "rs5": "0/0"}),
                    contig_style=style)
    assert diplotypes(run_calls(vcf, toy_kb, tmp_path / "w"), "S", "TOY") == {F({"*1", "*2"})}


# ------------------------------------------------------------------ the real knowledge base
@pytest.fixture(scope="module")
def kb(defs_dir) -> KnowledgeTables:
    return KnowledgeTables.from_dir(defs_dir)


def real_vcf(kb, tmp_path, specs, genes, **kw):
    return write_vcf(tmp_path / "r.vcf.gz", [s.sample_id for s in specs], genotype_records(kb, specs, genes=genes), **kw)


def test_defining_only_missing_allele_cannot_be_called(kb, defs_dir, tmp_path):
    # CYP2C9 *3 is defined by rs1057910 alone; with it missing *3 is untestable and *1/*1 is reported
    spec = SampleSpec("S", {"CYP2C9": ("*1", "*3")}, missing=frozenset({94981296}))
    calls = run_calls(real_vcf(kb, tmp_path, [spec], ["CYP2C9"]), defs_dir, tmp_path / "w")
    assert all("*3" not in d for d in calls["diplotype"].dropna())
    assert 94981296 in list(one(calls, "S", "CYP2C9")["missing_positions"])


def _undocumented(kb, gene, allele_pos, tmp_path):
    """The definition's own ALT replaced by another base (e.g. C>G where only C>T is documented)."""
    specs = [SampleSpec("S", {gene: (kb.reference(gene),) * 2})]
    recs = genotype_records(kb, specs, genes=[gene])
    for r in recs:
        if r.pos == allele_pos:
            other = next(b for b in "ACGT" if b != r.ref and b not in r.alts)
            r.alts, r.gts = [other], ["0/1"]
    return write_vcf(tmp_path / f"{gene}.vcf.gz", ["S"], recs)


def test_undocumented_alt_is_no_call_for_cyp2c19(kb, defs_dir, tmp_path):
    vcf = _undocumented(kb, "CYP2C19", 94781859, tmp_path)  # rs4244285 (*2)
    row = one(run_calls(vcf, defs_dir, tmp_path / "w"), "S", "CYP2C19")
    assert row["status"] == "not_called"
    assert 94781859 in list(row["undocumented_positions"])


@pytest.mark.parametrize("gene,pos", [("TPMT", 18130687), ("DPYD", 97450058)])
def test_undocumented_alt_is_reference_with_warning_for_toxicity_genes(kb, defs_dir, tmp_path, gene, pos):
    vcf = _undocumented(kb, gene, pos, tmp_path)
    calls = run_calls(vcf, defs_dir, tmp_path / "w")
    row = one(calls, "S", gene)
    ref = kb.reference(gene)
    assert diplotypes(calls, "S", gene) == {F({ref})}
    assert any("undocumented" in w for w in row["warnings"])


def test_g6pd_haploid_male(kb, defs_dir, tmp_path):
    spec = SampleSpec("M", {"G6PD": ("A- 202A_376G",)}, male=True)
    calls = run_calls(real_vcf(kb, tmp_path, [spec], ["G6PD"]), defs_dir, tmp_path / "w")
    row = one(calls, "M", "G6PD")
    assert row["diplotype"] == "A- 202A_376G" and row["allele2"] is None


def test_nat2_required_position_missing_means_no_call(kb, defs_dir, tmp_path):
    spec = SampleSpec("S", {"NAT2": ("*4", "*5")}, missing=frozenset({18400593}))  # rs1799930, required
    row = one(run_calls(real_vcf(kb, tmp_path, [spec], ["NAT2"]), defs_dir, tmp_path / "w"), "S", "NAT2")
    assert row["status"] == "not_called"


def test_nat2_unphased_priority_from_exemptions(kb, defs_dir, tmp_path):
    # *4/*15 and *6/*14 produce the same unphased genotype with equal scores; exemptions.json's
    # unphasedDiplotypePriorities names the pick for that tie, and the other must stay visible
    table = {frozenset(p["candidates"]): p["pick"] for p in kb.gene_row("NAT2")["unphased_priorities"]}
    pick = table[frozenset({"*4/*15", "*6/*14"})] if frozenset({"*4/*15", "*6/*14"}) in table else \
        table[frozenset({"*4/*15", "*14/*6"})]
    spec = SampleSpec("S", {"NAT2": ("*4", "*15")})
    calls = run_calls(real_vcf(kb, tmp_path, [spec], ["NAT2"]), defs_dir, tmp_path / "w")
    assert diplotypes(calls, "S", "NAT2") == {F(pick.split("/"))}
    assert any("priority" in w for w in one(calls, "S", "NAT2")["warnings"])


def test_slco1b1_rs4149056_fallback(kb, defs_dir, tmp_path):
    # an undocumented ALT elsewhere makes the star alleles uncallable; c.521T>C het is reported as such (PharmCAT)
    specs = [SampleSpec("S", {"SLCO1B1": ("*1", "*5")})]
    recs = genotype_records(kb, specs, genes=["SLCO1B1"])
    other = next(r for r in recs if r.pos != 21178615 and len(r.ref) == 1)
    other.alts, other.gts = [next(b for b in "ACGT" if b != other.ref and b not in other.alts)], ["0/1"]
    calls = run_calls(write_vcf(tmp_path / "s.vcf.gz", ["S"], recs), defs_dir, tmp_path / "w")
    row = one(calls, "S", "SLCO1B1")
    assert diplotypes(calls, "S", "SLCO1B1") == {F({"rs4149056 T", "rs4149056 C"})}
    assert any("rs4149056" in w and "looked up as *1/*5" in w for w in row["warnings"])


def _ugt_records(kb, rec_for_28):
    specs = [SampleSpec("S", {"UGT1A1": ("*1", "*1")})]
    recs = [r for r in genotype_records(kb, specs, genes=["UGT1A1"]) if r.pos != 233760233]
    return recs + [rec_for_28]


@pytest.mark.parametrize("pos,ref,alt", [
    (233760233, "CAT", "CATAT"),  # the definition's own representation
    (233760233, "C", "CAT"),  # minimal left-aligned insertion of TA
    (233760233, "CATA", "CATATA"),  # one more base of trailing padding
    # one more base of leading padding (GRCh38 has C at 233760232: ...GGTTTTTGCCATATAT...), as some joiners write it
    (233760232, "CCAT", "CCATAT"),
])
def test_ugt1a1_ta_repeat_star28_any_padding(kb, defs_dir, tmp_path, pos, ref, alt):
    rec = Record("chr2", pos, ref, [alt], ["0/1"], id="rs3064744")
    calls = run_calls(write_vcf(tmp_path / "u.vcf.gz", ["S"], _ugt_records(kb, rec)), defs_dir, tmp_path / "w")
    assert diplotypes(calls, "S", "UGT1A1") == {F({"*1", "*28"})}


def test_multiallelic_joined_and_split(kb, defs_dir, tmp_path):
    # *28/*37 (TA7/TA8) at rs3064744: one record with ALT CATAT,CATATAT, or two records
    joined = Record("chr2", 233760233, "CAT", ["CATAT", "CATATAT"], ["1/2"], id="rs3064744")
    calls = run_calls(write_vcf(tmp_path / "j.vcf.gz", ["S"], _ugt_records(kb, joined)), defs_dir, tmp_path / "wj")
    assert diplotypes(calls, "S", "UGT1A1") == {F({"*28", "*37"})}
    specs = [SampleSpec("S", {"UGT1A1": ("*1", "*1")})]
    recs = [r for r in genotype_records(kb, specs, genes=["UGT1A1"]) if r.pos != 233760233]
    recs += [Record("chr2", 233760233, "CAT", ["CATAT"], ["1/0"]), Record("chr2", 233760233, "CAT", ["CATATAT"], ["0/1"])]
    calls = run_calls(write_vcf(tmp_path / "s.vcf.gz", ["S"], recs), defs_dir, tmp_path / "ws")
    assert diplotypes(calls, "S", "UGT1A1") == {F({"*28", "*37"})}


def test_blank_cell_under_a_reference_wobble_is_the_genome_ref(defs_dir):
    """A blank cell is the reference row's cell, except where that cell is an IUPAC wobble (CYP2D6 *1 has R at
    rs150163869 and S at rs1058164): there PharmCAT fills the blank with the genome's REF base
    (MatchData.defaultMissingAllelesToReference), so e.g. *3 requires C at rs1058164 while *1 accepts C or G."""
    import numpy as np

    from pgx_pipeline.calling.call import load_gene_models

    model = load_gene_models(defs_dir)["CYP2D6"]
    ref = model.reference_index
    iupac_positions = [p for p in range(len(model.positions)) if model.accept[ref, p].sum() > 1]
    assert sorted(int(model.positions[p]) for p in iupac_positions) == [42128813, 42129130]
    only_ref = np.zeros(model.accept.shape[2], dtype=bool)
    only_ref[0] = True
    for a in range(len(model.allele_names)):
        for p in iupac_positions:
            if not model.defined[a, p]:
                assert np.array_equal(model.accept[a, p], only_ref), model.allele_names[a]
    star3 = model.allele_names.index("*3")
    p1058164 = int(np.flatnonzero(model.positions == 42129130)[0])
    assert not model.defined[star3, p1058164] and model.accept[star3, p1058164].tolist()[:2] == [True, False]
    assert model.accept[ref, p1058164].tolist()[:2] == [True, True]
