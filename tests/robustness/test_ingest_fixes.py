"""Focused tests for the ingestion fixes the corpus led to (each fix has its own test here)."""

from __future__ import annotations

import pysam
import pytest

from pgx_pipeline import schema
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
    top = calls[(calls.gene == "CYP2C19") & (calls["rank"] == 1)].iloc[0]
    assert top["diplotype"] == "*1/*2" and list(top["missing_positions"]) == [94852914]


def test_non_ref_block_allele_is_never_reference(tmp_path, defs_dir):
    """0/1 on a <NON_REF>-only block: one haplotype unknown, so the position is partial, not reference."""
    text = (CORPUS / "gvcf_blocks.g.vcf").read_text().replace("END=94775366\tGT\t0/0", "END=94775366\tGT\t0/1")
    vcf = tmp_path / "nonref.g.vcf"
    vcf.write_text(text)
    ingest_and_call(vcf, defs_dir, tmp_path / "out")
    assert _cyp2c19_rows(tmp_path / "out").loc[94761900, "state"] == "partial"
