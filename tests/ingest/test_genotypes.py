"""What ingestion records per sample and position, on hand-made and real VCFs."""

from __future__ import annotations

import pandas as pd
import pytest

from pgx_pipeline import schema
from pgx_pipeline.ingest.alleles import DefinitionSite, map_record_alleles, strip_left_padding
from pgx_pipeline.ingest.vcf import ingest_vcf
from tests.conftest import GETRM30X, PANEL38, needs
from tests.vcf_text import write_vcf

TA_REPEAT = DefinitionSite(233760233, "CAT", ("C", "CATAT", "CATATAT"))  # UGT1A1 rs3064744 as PharmCAT writes it


def _rows(out, sample, position):
    g = schema.read_table(out / "genotypes.parquet", schema.GENOTYPES)
    return g[(g.sample_id == sample) & (g.position == position)].iloc[0]


@pytest.mark.parametrize(
    "ref, alts, expected",
    [
        ("CAT", ["CATAT"], ["CAT", "CATAT"]),  # as defined
        ("CAT", ["CATAT", "C", "<NON_REF>"], ["CAT", "CATAT", "C", None]),  # joined, with a symbolic ALT
        ("CAT", ["*"], ["CAT", "*"]),  # spanning deletion: undocumented here
        ("CAT", ["CATATATAT"], ["CAT", "CATATATAT"]),  # TA8: not defined, kept as observed
    ],
)
def test_ta_repeat_representations(ref, alts, expected):
    assert map_record_alleles(TA_REPEAT, 233760233, ref, alts) == expected


def test_insertion_written_with_extra_padding_maps_to_definition():
    # TA7 written with a longer shared suffix: CATATAT>CATATATAT is the same insertion as CAT>CATAT.
    assert map_record_alleles(TA_REPEAT, 233760233, "CATATAT", ["CATATATAT"])[1] == "CATAT"


@pytest.mark.parametrize(
    "ref, alts, k, expected",
    [
        ("CCAT", ["CC", "CCATAT"], 1, ("CAT", ["C", "CATAT"])),  # deletion and insertion padded one base further left
        ("CCAT", ["CC", "<NON_REF>"], 1, ("CAT", ["C", "<NON_REF>"])),  # symbolic ALT kept
        ("CCAT", ["TCAT"], 1, None),  # the first base changes: not padding
        ("CCAT", ["C"], 1, None),  # the ALT would be empty: the site itself is deleted, not described
        ("CA", ["CG"], 2, None),  # REF too short to reach the site
    ],
)
def test_strip_left_padding(ref, alts, k, expected):
    assert strip_left_padding(ref, alts, k) == expected


@pytest.mark.parametrize("name", ["pad.vcf", "pad.vcf.gz"])  # streamed, and indexed (region query)
def test_left_padded_records_are_read_at_the_defining_position(tmp_path, defs_dir, name):
    vcf = write_vcf(tmp_path / name, ["A", "B"], [
        "chr2 233760232 CCAT CC,CCATAT 1/2 0/2",  # UGT1A1 rs3064744 TA5 and TA7 with one more leading base
    ], bgzip=name.endswith(".gz"))
    result = ingest_vcf(vcf, defs_dir, tmp_path / "o", input_id="pad")
    a, b = _rows(tmp_path / "o", "A", 233760233), _rows(tmp_path / "o", "B", 233760233)
    assert (a.state, a.allele1, a.allele2) == ("called", "C", "CATAT")
    assert (b.state, b.allele1, b.allele2) == ("called", "CAT", "CATAT")
    assert any("padded further left" in n and "UGT1A1" in n for n in result.notes)


def test_snv_site_reads_the_base_at_pos():
    site = DefinitionSite(94781859, "G", ("A",))
    # An MNP starting at the site, and a deletion starting at the site, as some callers write them.
    assert map_record_alleles(site, 94781859, "GC", ["AC", "G"]) == ["G", "A", "G"]
    assert map_record_alleles(site, 94781859, "G", ["T"]) == ["G", "T"]  # undocumented ALT kept as observed


def test_states_multiallelic_split_partial_haploid(tmp_path, defs_dir):
    vcf = write_vcf(
        tmp_path / "mix.vcf",
        ["A", "B", "C"],
        [
            "chr10 94781859 G A,T 0/1 1/2 ./.",  # CYP2C19 *2 site, joined multi-allelic with an undocumented T
            "chr10 94761900 C T 0|1 1|1 0/.",  # *17 site: phased, hom, partial
            "chr10 94842866 A G 1/1 1/1 1/1",
            "chrX 154536002 C T 1 0 0/1",  # G6PD: haploid calls
        ],
    )
    ingest_vcf(vcf, defs_dir, tmp_path / "o", input_id="mix")
    a = _rows(tmp_path / "o", "A", 94781859)
    assert (a.state, a.allele1, a.allele2, a.ploidy) == ("called", "G", "A", 2)
    b = _rows(tmp_path / "o", "B", 94781859)
    assert (b.allele1, b.allele2) == ("A", "T")  # the undocumented ALT is kept for the matcher to judge
    assert _rows(tmp_path / "o", "C", 94781859).state == "no_call"
    c17 = _rows(tmp_path / "o", "C", 94761900)
    assert (c17.state, c17.allele1) == ("partial", "C") and pd.isna(c17.allele2)
    assert bool(_rows(tmp_path / "o", "A", 94761900).phased) is True
    assert _rows(tmp_path / "o", "A", 94762706).state == "absent"
    g6pd = _rows(tmp_path / "o", "A", 154536002)
    assert (g6pd.ploidy, g6pd.allele1) == (1, "T") and pd.isna(g6pd.allele2)


def test_split_multiallelic_records_merge(tmp_path, defs_dir):
    vcf = write_vcf(
        tmp_path / "split.vcf",
        ["S"],
        ["chr10 94781859 G A 1/0", "chr10 94781859 G T 0/1"],
    )
    ingest_vcf(vcf, defs_dir, tmp_path / "o", input_id="split")
    row = _rows(tmp_path / "o", "S", 94781859)
    assert (row.state, row.allele1, row.allele2) == ("called", "A", "T")


@pytest.mark.parametrize("contig", ["chr10", "10", "NC_000010.11"])
def test_contig_aliases(tmp_path, defs_dir, contig):
    vcf = write_vcf(tmp_path / "c.vcf", ["S"], [f"{contig} 94781859 G A 0/1"], contigs={contig: 133797422})
    ingest_vcf(vcf, defs_dir, tmp_path / "o", input_id="c")
    row = _rows(tmp_path / "o", "S", 94781859)
    assert (row.chromosome, row.allele2) == ("chr10", "A")


def test_ref_mismatch_is_recorded_not_guessed(tmp_path, defs_dir):
    vcf = write_vcf(tmp_path / "m.vcf", ["S"], ["chr10 94781859 C A 0/1"])
    ingest_vcf(vcf, defs_dir, tmp_path / "o", input_id="m")
    row = _rows(tmp_path / "o", "S", 94781859)
    assert row.state == "ref_mismatch" and pd.isna(row.allele1)


def test_indexed_and_streamed_reads_agree(tmp_path, defs_dir):
    records = ["chr10 94761900 C T 1/1", "chr10 94781859 G A 0/1", "chr2 233760233 CAT CATAT 0/1"]
    plain = write_vcf(tmp_path / "p.vcf", ["S"], records)
    gz = write_vcf(tmp_path / "i.vcf.gz", ["S"], records, bgzip=True)
    ingest_vcf(plain, defs_dir, tmp_path / "op", input_id="p")
    ingest_vcf(gz, defs_dir, tmp_path / "oi", input_id="p")
    cols = ["sample_id", "gene", "position", "state", "allele1", "allele2"]
    a = schema.read_table(tmp_path / "op" / "genotypes.parquet", schema.GENOTYPES)[cols]
    b = schema.read_table(tmp_path / "oi" / "genotypes.parquet", schema.GENOTYPES)[cols]
    pd.testing.assert_frame_equal(a, b)


@needs(GETRM30X)
def test_real_wgs_split_by_chromosome_is_one_input(tmp_path, defs_dir):
    files = sorted(GETRM30X.glob("*.vcf.bgz"))
    result = ingest_vcf(files, defs_dir, tmp_path / "o", input_id="getrm")
    g = schema.read_table(result.genotypes, schema.GENOTYPES)
    assert sorted(g.sample_id.unique()) == ["NA18526", "NA18565", "NA18861"]
    # The UGT1A1 TA repeat is a joined multi-allelic record there (CAT>CATAT,C,CATATAT).
    ta = g[(g.position == 233760233)]
    assert set(ta.state) == {"called"}
    assert set(ta.vcf_alts.iloc[0]) == {"CATAT", "C", "CATATAT"}
    # No chr8 file: NAT2 is absent, never reference.
    assert set(g[g.gene == "NAT2"].state) == {"absent"}


@needs(PANEL38)
def test_real_panel_subset(tmp_path, defs_dir):
    files = [PANEL38 / f"{gene}.vcf.gz" for gene in ("CYP2C19", "CYP2C9", "VKORC1", "G6PD")]
    result = ingest_vcf(files, defs_dir, tmp_path / "o", input_id="panel", absent_is_reference=True)
    assert result.n_samples == 3202
    g = schema.read_table(result.genotypes, schema.GENOTYPES, columns=["sample_id", "gene", "position", "allele1", "allele2", "phased", "ploidy", "state"])
    star2 = g[(g.position == 94781859) & (g.state == "called")]
    freq = ((star2.allele1 == "A").sum() + (star2.allele2 == "A").sum()) / (2 * len(star2))
    assert 0.10 < freq < 0.25  # rs4244285 (CYP2C19*2) global allele frequency in 1000 Genomes is ~0.17
    g6pd = g[(g.gene == "G6PD") & (g.state == "called")]
    assert set(g6pd.ploidy) == {1, 2}  # males are haploid on chrX in the panel
