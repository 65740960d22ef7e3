"""Real data: the PharmCAT tutorial GeT-RM 30x WGS samples (unphased, 11 per-chromosome files = one input).

No GeT-RM consensus diplotypes are asserted here: only behaviour checked against the raw genotypes
read independently with pysam (e.g. a sample homozygous for rs4244285 A must carry *2 twice).
"""

from __future__ import annotations

import pysam
import pytest

from .conftest import run_calls

pytestmark = pytest.mark.slow


def test_getrm30x_all_genes_called(defs_dir, tmp_path):
    from tests.conftest import GETRM30X

    vcfs = sorted(GETRM30X.glob("*.vcf.bgz"))
    assert len(vcfs) == 11
    calls = run_calls(vcfs, defs_dir, tmp_path)
    samples = sorted(set(calls["sample_id"]))
    assert len(samples) == 3
    rank1 = calls[calls["rank"] == 1]
    called = rank1[rank1["status"] == "called"]
    for s in samples:
        genes = set(called.loc[called["sample_id"] == s, "gene"])
        # whole genomes cover every defining position of these well-covered genes
        assert {"CYP2C19", "CYP2C9", "VKORC1", "CYP3A5", "TPMT", "NUDT15", "SLCO1B1", "DPYD"} <= genes, (s, genes)
    # rs4244285 (CYP2C19*2, chr10:94781859 G>A) read with pysam: homozygous ALT => *2/*2 family call
    with pysam.VariantFile(str(GETRM30X / "PharmCAT_tutorial_get-rm_wgs_30x_grch38_chr10.vcf.bgz")) as vf:
        for rec in vf.fetch("chr10", 94781858, 94781859):
            if rec.pos != 94781859:
                continue
            for s in samples:
                gt = rec.samples[s]["GT"]
                n_alt = sum(1 for a in gt if a is not None and a > 0 and rec.alleles[a] == "A")
                dips = list(calls.loc[(calls["sample_id"] == s) & (calls["gene"] == "CYP2C19"), "diplotype"].dropna())
                if n_alt == 2:
                    assert all(d.count("*2") == 2 for d in dips), (s, dips)
                if n_alt == 0:
                    assert all("*2" not in d.split("/") for d in dips), (s, dips)
