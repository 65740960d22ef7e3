"""A declared split group (one sample set cut into several files) with one bad file, on real panel data.

The good files are still read; the genes only the bad file could hold are "not assessed: <file> failed: <reason>"
in that input's calls, phenotypes and guidance; nothing is silently dropped. A single-file input still fails whole.
"""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest

from pgx_pipeline import schema, sharding
from pgx_pipeline.calling.call import call_input
from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.guidance import run_guidance_stage
from pgx_pipeline.ingest.vcf import ingest_vcf
from pgx_pipeline.phenotype import run_phenotype_stage
from tests.conftest import PANEL38

SAMPLES = ["HG00096", "HG00097", "HG00099", "HG00100", "HG00101", "HG00102", "HG00103"]


def _cut(gene: str, dest, samples=SAMPLES):
    out = dest / f"cohort.{gene}.vcf.gz"
    subprocess.run(["bcftools", "view", "-s", ",".join(samples), "-Oz", "-o", str(out), str(PANEL38 / f"{gene}.vcf.gz")],
                   check=True)
    return out


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _top(calls: pd.DataFrame, gene: str) -> dict[str, str]:
    rows = calls[(calls["gene"] == gene) & (calls["rank"] == 1)]
    return dict(zip(rows["sample_id"], rows["diplotype"]))


@pytest.fixture(scope="module")
def panel_files(tmp_path_factory):
    if not PANEL38.is_dir():
        pytest.skip(f"panel not found at {PANEL38}")
    d = tmp_path_factory.mktemp("split")
    return {g: _cut(g, d) for g in ("CYP2C19", "VKORC1", "TPMT")}


def test_one_bad_file_leaves_only_its_genes_not_assessed(panel_files, kb_dir, tmp_path):
    whole = ingest_vcf(list(panel_files.values()), kb_dir, tmp_path / "whole", input_id="whole", absent_is_reference=True)
    whole_calls = call_input(whole.genotypes, whole.samples, kb_dir, tmp_path / "whole" / "calls.parquet")

    bad = tmp_path / "cohort.VKORC1.vcf.gz"
    bad.write_bytes(panel_files["VKORC1"].read_bytes())
    _truncate(bad)
    files = [panel_files["CYP2C19"], bad, panel_files["TPMT"]]
    res = ingest_vcf(files, kb_dir, tmp_path / "split", input_id="split", absent_is_reference=True)
    samples = schema.read_table(res.samples, schema.SAMPLES)
    assert (samples["status"] == "ok").all() and list(samples["sample_id"]) == SAMPLES
    failed = list(samples["failed_files"].iloc[0])
    assert failed == ["cohort.VKORC1.vcf.gz: BGZF end-of-file marker missing: the file is truncated; copy or export it again"]
    not_assessed = dict(e.split(": ", 1) for e in samples["not_assessed_genes"].iloc[0])
    # VKORC1 is only in the bad file; so is every panel gene none of these files covers (the bad file might have).
    assert not_assessed["VKORC1"].startswith("not assessed: cohort.VKORC1.vcf.gz failed: BGZF end-of-file marker")
    assert "CYP2C19" not in not_assessed and "TPMT" not in not_assessed
    assert any("cohort.VKORC1.vcf.gz failed" in n for n in samples["notes"].iloc[0])

    calls = call_input(res.genotypes, res.samples, kb_dir, tmp_path / "split" / "calls.parquet")
    # The good files' genes are called exactly as from the whole set ...
    for gene in ("CYP2C19", "TPMT"):
        assert _top(calls, gene) == _top(whole_calls, gene), gene
    assert _top(whole_calls, "CYP2C19")["HG00096"] == "*1/*2"
    # ... and VKORC1 is not assessed, saying which file failed and why, for every sample.
    vk = calls[calls["gene"] == "VKORC1"]
    assert set(vk["status"]) == {"not_assessed"} and len(vk) == len(SAMPLES)
    assert all(any("cohort.VKORC1.vcf.gz failed: BGZF" in w for w in ws) for ws in vk["warnings"])

    phen = run_phenotype_stage(tmp_path / "split" / "calls.parquet", kb_dir, tmp_path / "split" / "phen.parquet")
    guid = run_guidance_stage(tmp_path / "split" / "phen.parquet", kb_dir, tmp_path / "split" / "guid.parquet")
    assert set(phen.loc[phen["gene"] == "VKORC1", "phenotype"].dropna()) == set()
    warf = guid[(guid["drug"] == "warfarin") & (guid["sample_id"] == "HG00096")]
    assert len(warf) and any("VKORC1 not assessed: cohort.VKORC1.vcf.gz failed: BGZF" in str(r) for r in warf["reason"])


def test_every_file_of_a_group_failing_fails_the_input_naming_each(panel_files, kb_dir, tmp_path):
    bad = []
    for gene in ("CYP2C19", "TPMT"):
        p = tmp_path / f"bad.{gene}.vcf.gz"
        p.write_bytes(panel_files[gene].read_bytes())
        bad.append(_truncate(p))
    with pytest.raises(PgxInputError, match=r"every file of this split group failed: bad\.CYP2C19\.vcf\.gz: BGZF .*; "
                                            r"bad\.TPMT\.vcf\.gz: BGZF"):
        ingest_vcf(bad, kb_dir, tmp_path / "out", input_id="bad")


def test_a_file_with_other_samples_in_a_group_fails_alone(panel_files, kb_dir, tmp_path):
    other = _cut("TPMT", tmp_path, samples=["HG00096", "HG00097"])  # not the group's sample list
    res = ingest_vcf([panel_files["CYP2C19"], other], kb_dir, tmp_path / "out", input_id="g", absent_is_reference=True)
    samples = schema.read_table(res.samples, schema.SAMPLES)
    assert (samples["status"] == "ok").all()
    assert "cohort.TPMT.vcf.gz: holds samples" in samples["failed_files"].iloc[0][0]
    na = dict(e.split(": ", 1) for e in samples["not_assessed_genes"].iloc[0])
    assert "TPMT" in na and "CYP2C19" not in na


def test_gene_groups_of_a_part_carry_every_failure(panel_files, kb_dir, tmp_path):
    """Gene-group jobs each record their own genes' failures; a part's samples table carries all of them."""
    bad = tmp_path / "cohort.VKORC1.vcf.gz"
    bad.write_bytes(panel_files["VKORC1"].read_bytes())
    _truncate(bad)
    files = [panel_files["CYP2C19"], bad, panel_files["TPMT"]]
    paths = []
    for k in range(2):
        ingest_vcf(files, kb_dir, tmp_path / f"genes-{k}", input_id="g", absent_is_reference=True, gene_group=(k, 2),
                   n_parts=1)
        paths.append(tmp_path / f"genes-{k}" / "part-000.samples.parquet")
    merged = sharding.read_samples(paths)
    one = [schema.read_table(p, schema.SAMPLES)["not_assessed_genes"].iloc[0] for p in paths]
    genes = {e.split(": ")[0] for e in merged["not_assessed_genes"].iloc[0]}
    assert genes == {e.split(": ")[0] for lst in one for e in lst} and "VKORC1" in genes
    assert list(merged["failed_files"].iloc[0]) == [
        "cohort.VKORC1.vcf.gz: BGZF end-of-file marker missing: the file is truncated; copy or export it again"]


def test_a_file_that_breaks_mid_read_leaves_the_genes_it_began_not_assessed(panel_files, kb_dir, tmp_path):
    """htslib fails on a record after the file gave one in CYP2C19: CYP2C19 is not assessed even though a good file
    covers it (the partial records would be mixed with the good file's); TPMT, which it never reached, is called."""
    from tests.vcf_text import write_vcf

    broken = write_vcf(tmp_path / "broken.chr10.vcf", SAMPLES, [
        "chr10 94781859 G A " + " ".join(["0/1"] * len(SAMPLES)),
        "chr10 notanumber . G A . PASS . GT " + " ".join(["0/1"] * len(SAMPLES)),
    ])
    res = ingest_vcf([panel_files["CYP2C19"], broken, panel_files["TPMT"]], kb_dir, tmp_path / "out", input_id="g",
                     absent_is_reference=True)
    samples = schema.read_table(res.samples, schema.SAMPLES)
    na = dict(e.split(": ", 1) for e in samples["not_assessed_genes"].iloc[0])
    assert na["CYP2C19"].startswith("not assessed: broken.chr10.vcf failed: could not read records")
    assert "TPMT" not in na
    calls = call_input(res.genotypes, res.samples, kb_dir, tmp_path / "out" / "calls.parquet")
    assert set(calls.loc[calls["gene"] == "CYP2C19", "status"]) == {"not_assessed"}
    assert set(calls.loc[(calls["gene"] == "TPMT") & (calls["rank"] == 1), "status"]) == {"called"}
