"""Issue 17: six 1000 Genomes panel samples whose CYP2B6 / CYP2D6 calls are no-calls, and why (docs/CONFORMANCE.md,
"Six panel no-calls explained").

The panel (pypgx-bundle-1kgp GRCh38) is phased and variant-only, so it is run with absent = reference. For each sample
the test first reads, with pysam and PharmCAT's own definition JSON (not our knowledge base), the defined variants on
each chromosome, and checks that one chromosome is a named allele while no PharmCAT named allele fits the other one
(PharmCAT's matcher then calls nothing for a phased sample: no diplotype, no combination outside research mode). Then
it pins our outcome: not called, with the warning that names the cause.
"""

from __future__ import annotations

import json

import pysam
import pytest

from tests.conftest import PANEL38, PHARMCAT

from .conftest import run_calls

pytestmark = pytest.mark.skipif(not (PANEL38 / "CYP2B6.vcf.gz").exists(), reason=f"1000 Genomes panel not at {PANEL38}")

IUPAC = {"R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT",
         "V": "ACG", "N": "ACGT"}

# (gene, sample) -> (defined variants on GT index 0, on GT index 1), as position -> base; the named allele of the
# chromosome that has one; the cause our warning must name.
CASES = {
    ("CYP2B6", "NA18519"): ({40991381: "T"}, {41006936: "T"}, "*9", "no combination of named alleles"),
    ("CYP2B6", "NA18945"): ({41006936: "T"}, {40991369: "T", 41016810: "T"}, "*9", "no combination of named alleles"),
    ("CYP2B6", "NA19226"): ({41006923: "T", 41012316: "C"}, {41006936: "T"}, "*9", "no combination of named alleles"),
    ("CYP2D6", "NA10854"): ({42129037: "A"}, {42126611: "G", 42128945: "T", 42129130: "G", 42129809: "C",
                                              42129819: "T", 42130692: "A"}, "*4", "undocumented variant at 42129037"),
    ("CYP2D6", "NA11839"): ({42126611: "G", 42127941: "A", 42129130: "G"}, {42129037: "A"}, "*2",
                            "undocumented variant at 42129037"),
    ("CYP2D6", "NA19777"): ({42129765: "C", 42129771: "A", 42129779: "G", 42129809: "C", 42129819: "T"}, {}, "*1",
                            "no combination of named alleles"),
}


def _definition(gene: str) -> dict:
    return json.loads((PHARMCAT / "definition" / "alleles" / f"{gene}_translation.json").read_text())


def _haplotypes(gene: str, sample: str, positions: set[int]) -> tuple[dict, dict]:
    """Non-reference bases of the sample at definition positions, per GT index, read with pysam."""
    haps: tuple[dict, dict] = ({}, {})
    chrom = _definition(gene)["chromosome"]
    with pysam.VariantFile(str(PANEL38 / f"{gene}.vcf.gz")) as vf:
        vf.subset_samples([sample])
        for rec in vf.fetch(chrom, min(positions) - 1, max(positions)):
            if rec.pos not in positions:
                continue
            gt = rec.samples[sample]["GT"]
            assert rec.samples[sample].phased
            for h, a in enumerate(gt):
                if a:
                    haps[h][rec.pos] = rec.alleles[a]
    return haps


def _fits(defn: dict, allele: dict, hap: dict) -> bool:
    """PharmCAT's cell semantics: an IUPAC cell accepts its bases; a blank cell is the reference allele's cell, or the
    genome REF where that cell is itself a wobble (MatchData.defaultMissingAllelesToReference)."""
    ref_allele = defn["namedAlleles"][0]
    for i, locus in enumerate(defn["variants"]):
        base = hap.get(locus["position"], locus["ref"])
        cell = allele["alleles"][i]
        if cell is None:
            cell = ref_allele["alleles"][i]
            if cell in IUPAC:
                cell = locus["ref"]
        if base != cell and not (cell in IUPAC and base in IUPAC[cell]):
            return False
    return True


@pytest.mark.parametrize("gene,sample", sorted(CASES))
def test_panel_no_call_is_what_pharmcat_rules_give(gene, sample, defs_dir, tmp_path):
    want1, want2, named, cause = CASES[(gene, sample)]
    defn = _definition(gene)
    positions = {v["position"] for v in defn["variants"]}
    hap1, hap2 = _haplotypes(gene, sample, positions)
    assert (hap1, hap2) == (want1, want2)
    fitting = [[a["name"] for a in defn["namedAlleles"] if _fits(defn, a, h)] for h in (hap1, hap2)]
    assert named in fitting[0] + fitting[1], fitting
    assert [] in fitting, f"PharmCAT would find a named allele for both chromosomes: {fitting}"

    vcf = tmp_path / f"{sample}.vcf.gz"
    with pysam.VariantFile(str(PANEL38 / f"{gene}.vcf.gz")) as src:
        src.subset_samples([sample])
        with pysam.VariantFile(str(vcf), "wz", header=src.header) as out:
            for rec in src.fetch():
                out.write(rec)
    calls = run_calls([vcf], defs_dir, tmp_path / "run", absent_is_reference=True)
    row = calls[(calls["gene"] == gene) & (calls["sample_id"] == sample)]
    assert len(row) == 1
    assert row["status"].iloc[0] == "not_called" and not isinstance(row["diplotype"].iloc[0], str)
    assert any(cause in w for w in row["warnings"].iloc[0]), list(row["warnings"].iloc[0])


def test_panel_cyp2b6_star17_positions_are_absent_and_cyp2d6_star82_position_is_reference():
    """The two facts the explanations rest on: the panel has no record at *17's other three positions (rs33980385,
    rs33926104, rs34284776: so NA18519's rs33973337 A>T stands alone, absent = reference), and NA19777 carries the
    reference G at *82's rs28371706 (42129770 G>T)."""
    with pysam.VariantFile(str(PANEL38 / "CYP2B6.vcf.gz")) as vf:
        assert not [r.pos for r in vf.fetch("chr19", 40991387, 40991391)]
    with pysam.VariantFile(str(PANEL38 / "CYP2D6.vcf.gz")) as vf:
        vf.subset_samples(["NA19777"])
        recs = [r for r in vf.fetch("chr22", 42129769, 42129770) if r.pos == 42129770]
        assert recs and all(tuple(r.samples["NA19777"]["GT"]) == (0, 0) and "T" not in r.alts for r in recs)
