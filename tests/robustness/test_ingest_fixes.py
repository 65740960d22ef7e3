"""Focused tests for the ingestion fixes the corpus led to (each fix has its own test here)."""

from __future__ import annotations

import pysam
import pytest

from pgx_pipeline import schema
from tests.conftest import PANEL38, needs
from tests.robustness.harness import CORPUS, ingest_and_call, stage_copy


def _cyp2c19_rows(out):
    g = schema.read_table(out / "genotypes.parquet", schema.GENOTYPES)
    return g[g["gene"] == "CYP2C19"].set_index("position")


@pytest.mark.parametrize("indexed", [False, True])
def test_gvcf_reference_block_is_called_reference(tmp_path, defs_dir, indexed):
    """A 0/0 block (END=) covering a defining position is a reference call there; a ./. block stays missing."""
    vcf = stage_copy("gvcf_blocks.g.vcf", tmp_path / "in")
    if indexed:
        gz = tmp_path / "in" / "gvcf_blocks.g.vcf.gz"
        pysam.tabix_compress(str(vcf), str(gz), force=True)
        pysam.tabix_index(str(gz), preset="vcf", force=True)
        vcf = gz
    lines, calls = ingest_and_call(vcf, defs_dir, tmp_path / "out")
    rows = _cyp2c19_rows(tmp_path / "out")
    assert rows.loc[94761900, "state"] == "called"  # inside the first block
    assert (rows.loc[94761900, "allele1"], rows.loc[94761900, "allele2"]) == ("C", "C")
    assert rows.loc[94781859, "state"] == "called" and rows.loc[94781859, "allele2"] == "A"
    assert rows.loc[94852914, "state"] == "no_call"  # the ./. block
    top = calls[(calls.gene == "CYP2C19") & (calls["candidate"] == 1)].iloc[0]
    assert top["diplotype"] == "*1/*2" and list(top["missing_positions"]) == [94852914]


def test_non_ref_block_allele_is_never_reference(tmp_path, defs_dir):
    """0/1 on a <NON_REF>-only block: one haplotype unknown, so the position is partial, not reference."""
    text = (CORPUS / "gvcf_blocks.g.vcf").read_text().replace("END=94775366\tGT\t0/0", "END=94775366\tGT\t0/1")
    vcf = tmp_path / "nonref.g.vcf"
    vcf.write_text(text)
    ingest_and_call(vcf, defs_dir, tmp_path / "out")
    assert _cyp2c19_rows(tmp_path / "out").loc[94761900, "state"] == "partial"


def test_haploid_call_on_autosome_is_missing_not_a_single_allele(tmp_path, defs_dir):
    """Was: a haploid GT on CYP2C19 gave the one-allele 'diplotype' *2, silently."""
    lines, calls = ingest_and_call(stage_copy("haploid_autosome.vcf", tmp_path / "in"), defs_dir, tmp_path / "out")
    top = calls[(calls.gene == "CYP2C19")].iloc[0]
    assert top["status"] == "not_called" and top["diplotype"] is None
    assert any("haploid genotype(s) on autosomal CYP2C19 (35)" in line for line in lines)
    assert set(_cyp2c19_rows(tmp_path / "out")["state"]) == {"no_call"}


def test_haploid_chrx_still_haploid(tmp_path, defs_dir):
    from tests.vcf_text import write_vcf

    vcf = write_vcf(tmp_path / "x.vcf", ["M1"], ["chrX 154536002 C T 1"])
    lines, _ = ingest_and_call(vcf, defs_dir, tmp_path / "out")
    g = schema.read_table(tmp_path / "out" / "genotypes.parquet", schema.GENOTYPES)
    row = g[(g.gene == "G6PD") & (g.position == 154536002)].iloc[0]
    assert (row["state"], row["ploidy"]) == ("called", 1)
    assert not any("haploid" in line for line in lines)


@pytest.mark.parametrize("name, note", [
    ("polyploid.vcf", "polyploid genotype(s) in CYP2C19 (1)"),
    ("ref_mismatch.vcf", "REF differs from the allele definitions at 1 position(s) of CYP2C19 (94761900)"),
    ("stale_index.vcf.gz", "index is older than the file, so it was ignored"),
])
def test_silent_reinterpretations_are_now_said(tmp_path, defs_dir, name, note):
    """Was: these inputs were read as missing/ignored with no word in the log."""
    lines, _ = ingest_and_call(stage_copy(name, tmp_path / "in"), defs_dir, tmp_path / "out")
    assert any(note in line for line in lines), lines
    # ... and they travel with the samples to the report, not only to the log.
    samples = schema.read_table(tmp_path / "out" / "samples.parquet", schema.SAMPLES)
    assert all(any(note in n for n in notes) for notes in samples["notes"]), samples["notes"].tolist()


@pytest.mark.slow
@needs(PANEL38.parent / "GRCh37" / "CYP2C19.vcf.gz")
def test_real_grch37_file_is_read_as_grch37_by_every_gene_group(tmp_path, defs_dir, cli):
    """The real 1000 Genomes GRCh37 CYP2C19 file (indexed, no contig lines, no build in the header) once ran
    through every stage uncalled, then failed as another build; now each gene-group job detects GRCh37 from the
    records and reads it through the build map."""
    from tests.conftest import PANEL38

    grch37 = PANEL38.parent / "GRCh37" / "CYP2C19.vcf.gz"
    for group in ("0/4", "1/4", "2/4", "3/4"):
        out = tmp_path / group.replace("/", "-")
        res = cli("ingest", "--input-id", "g37", "--vcf", grch37, "--kb", defs_dir, "--out-dir", out,
                  "--gene-group", group)
        assert res.exit_code == 0, res.stderr
        samples = schema.read_table(out / "samples.parquet", schema.SAMPLES)
        assert set(samples["status"]) == {"ok"} and set(samples["input_build"]) == {"GRCh37"}
        assert samples["build_evidence"].iloc[0].startswith("records: REF matches GRCh37")


@pytest.mark.slow
@needs(PANEL38 / "CYP2C19.vcf.gz")
def test_single_gene_grch38_file_is_not_mistaken_for_another_build(tmp_path, defs_dir, cli):
    """The same check must look at the whole input: a GRCh38 CYP2C19-only file has no record in the regions of the
    other gene groups, and those jobs must still succeed (their genes are simply absent)."""
    from pgx_pipeline.sharding import assign_gene_groups
    from tests.conftest import PANEL38

    groups = assign_gene_groups(schema.read_table(defs_dir / "positions.parquet", schema.KB_POSITIONS), 4)
    other = next(k for k in range(4) if groups["CYP2C19"] != k)
    unindexed = tmp_path / "copy" / "CYP2C19.vcf.gz"  # no index: the file is streamed, not queried per region
    unindexed.parent.mkdir()
    unindexed.write_bytes((PANEL38 / "CYP2C19.vcf.gz").read_bytes())
    for vcf in (PANEL38 / "CYP2C19.vcf.gz", unindexed):
        out = tmp_path / vcf.parent.name
        res = cli("ingest", "--input-id", "g38", "--vcf", vcf, "--kb", defs_dir, "--out-dir", out,
                  "--gene-group", f"{other}/4")
        assert res.exit_code == 0, res.stderr
        samples = schema.read_table(out / "samples.parquet", schema.SAMPLES)
        assert set(samples["status"]) == {"ok"}, (vcf, samples["error"].iloc[0])
        assert len(samples) == 3202
