"""The allele-definition tables, built from the real PharmCAT files, and refusal of inconsistent input."""

from __future__ import annotations

import json
import shutil

import pytest

from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.knowledge.definitions import load_definitions
from pgx_pipeline.knowledge.sources import SourceSet
from tests.conftest import FALLBACK, PHARMCAT, needs

# Every test reads the real PharmCAT definition files (or edits a copy of them).
pytestmark = needs(PHARMCAT)

GENES_WITH_DEFINITIONS = {
    "ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP2D6", "CYP3A4", "CYP3A5", "CYP4F2", "DPYD",
    "G6PD", "IFNL3", "NAT2", "NUDT15", "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1",
}


@pytest.fixture(scope="module")
def tables():
    return load_definitions(SourceSet.from_paths([PHARMCAT, FALLBACK]))


def test_every_gene_with_a_definition_file(tables):
    genes, positions, alleles = tables
    assert set(genes.gene) == GENES_WITH_DEFINITIONS
    # Each allele has one cell per defining position of its gene.
    width = positions[positions.position_index >= 0].groupby("gene").size()
    assert all(len(b) == width[g] for g, b in zip(alleles.gene, alleles.bases))


def test_known_definitions(tables):
    genes, positions, alleles = tables
    cyp2c19 = positions[positions.gene == "CYP2C19"].set_index("position")
    assert cyp2c19.loc[94781859, "rsid"] == "rs4244285" and cyp2c19.loc[94781859, "ref"] == "G"
    star2 = alleles[(alleles.gene == "CYP2C19") & (alleles.allele == "*2")].iloc[0]
    idx = int(cyp2c19.loc[94781859, "position_index"])
    assert star2.bases[idx] == "A"
    assert genes.set_index("gene").loc["CYP2C19", "reference_allele"] == "*38"


def test_exemptions_applied(tables):
    genes, positions, alleles = tables
    # exemptions.json: G6PD ignores rs2230037 and the Mediterranean Haplotype; NAT2 has required positions.
    g6pd = positions[positions.gene == "G6PD"]
    assert 154532439 not in set(g6pd.position)
    assert "Mediterranean Haplotype" not in set(alleles[alleles.gene == "G6PD"].allele)
    nat2 = genes.set_index("gene").loc["NAT2"]
    assert 18400344 in set(nat2.required_positions)
    assert any(p["pick"] == "*1/*6" for p in nat2.unphased_priorities)
    # CYP2C9 rs12777823 is reported but defines no allele.
    extra = positions[(positions.gene == "CYP2C9") & positions.is_extra]
    assert set(extra.position) == {94645745}


def test_undocumented_as_reference_genes(tables):
    genes = tables[0].set_index("gene")
    assert set(genes.index[genes.undocumented_as_reference]) == {"CACNA1S", "DPYD", "G6PD", "NUDT15", "RYR1", "TPMT"}


def _mirror_with(tmp_path, gene, edit):
    mirror = tmp_path / "mirror"
    (mirror / "definition" / "alleles").mkdir(parents=True)
    src = PHARMCAT / "definition" / "alleles" / f"{gene}_translation.json"
    data = json.loads(src.read_text())
    edit(data)
    (mirror / "definition" / "alleles" / f"{gene}_translation.json").write_text(json.dumps(data))
    shutil.copy(PHARMCAT / "definition" / "alleles" / "exemptions.json", mirror / "definition" / "alleles")
    return SourceSet.from_paths([mirror])


def test_refuses_two_reference_alleles(tmp_path):
    def edit(d):
        d["namedAlleles"][1]["reference"] = True
        d["namedAlleles"][1]["alleles"] = list(d["namedAlleles"][0]["alleles"])

    with pytest.raises(PgxInputError, match=r"VKORC1_translation\.json: VKORC1: two reference alleles"):
        load_definitions(_mirror_with(tmp_path, "VKORC1", edit))


def test_refuses_a_base_that_is_neither_ref_nor_alt(tmp_path):
    def edit(d):
        d["namedAlleles"][1]["alleles"][0] = "GATTACA"

    with pytest.raises(PgxInputError, match=r"VKORC1 rs9923231 variant \(T\): base 'GATTACA'"):
        load_definitions(_mirror_with(tmp_path, "VKORC1", edit))


def test_refuses_a_reference_that_is_not_grch38(tmp_path):
    def edit(d):
        ref = d["namedAlleles"][0]
        ref["alleles"][0] = "T"
        d["variants"][0]["alts"] = ["C"]

    with pytest.raises(PgxInputError, match=r"not on GRCh38"):
        load_definitions(_mirror_with(tmp_path, "VKORC1", edit))


def test_first_mirror_wins_and_stale_is_recorded(tmp_path):
    sources = SourceSet.from_paths([PHARMCAT, FALLBACK])
    assert sources.roots[1].stale  # its PROVENANCE.md says so even when the config does not
    # v3.1.1 has every phenotype table (CYP2D6, G6PD and RYR1 included); only the 2024-05 per-guideline files,
    # which v3 replaced by reporter/prescribing_guidance.json, still come from the stale folder.
    for gene in ("CYP2D6", "G6PD", "RYR1", "CYP2C19"):
        assert sources.find(f"phenotype/{gene}.json").root.path == PHARMCAT.resolve()
    guideline = sources.find("reporter/guidelines/CPIC_codeine_and_CYP2D6.json")
    assert guideline.root.path == FALLBACK.resolve() and guideline.root.stale
    assert not sources.roots[0].stale


def test_missing_source_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PgxInputError, match=r"nowhere: knowledge source folder does not exist"):
        SourceSet.from_paths([tmp_path / "nowhere"])
