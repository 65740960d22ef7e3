"""Which inputs a run has: one file = one input unless a split group is declared; never grouped by sample name."""

from __future__ import annotations

import pytest

from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.inputs import (
    drop_index_files,
    inputs_from_config,
    inputs_from_paths,
    read_sample_sheet,
    sheet_rows_for_input,
    split_group_paths,
    stale_input_folders,
    write_manifest,
)
from tests.vcf_text import write_vcf

STAR2 = "chr10 94781859 . G A . PASS . GT"


def _vcf(path, samples=("SAMPLE",)):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_vcf(path, list(samples), [f"{STAR2} " + " ".join("0/1" for _ in samples)])


def test_files_naming_the_same_sample_are_separate_inputs(tmp_path):
    a = _vcf(tmp_path / "lab1" / "sample.vcf")
    b = _vcf(tmp_path / "lab2" / "sample.vcf")
    c = _vcf(tmp_path / "lab2" / "other.vcf")
    specs = inputs_from_paths([str(a), str(b), str(c)])
    assert [s.vcfs for s in specs] == [[str(a)], [str(b)], [str(c)]]
    # Same file name in two folders: the folder makes the ids differ, and they are never equal.
    assert [s.input_id for s in specs] == ["lab1_sample", "lab2_sample", "other"]


def test_declared_split_group_is_one_input(tmp_path):
    chr10 = _vcf(tmp_path / "cohort.chr10.vcf")
    chr16 = _vcf(tmp_path / "cohort.chr16.vcf")
    alone = _vcf(tmp_path / "alone.vcf")
    specs = inputs_from_paths([str(alone), str(chr10)], split_groups=[[str(chr10), str(chr16)]])
    assert [(s.input_id, s.vcfs) for s in specs] == [("alone", [str(alone)]), ("cohort", [str(chr10), str(chr16)])]


def test_a_file_twice_or_in_two_groups_is_refused(tmp_path):
    a = _vcf(tmp_path / "a.vcf")
    b = _vcf(tmp_path / "b.vcf")
    with pytest.raises(PgxInputError, match="given twice"):
        inputs_from_paths([str(a), str(a)])
    with pytest.raises(PgxInputError, match="named twice in the declared split groups"):
        inputs_from_paths([], split_groups=[[str(a), str(b)], [str(b)]])


def test_index_files_are_recognised(tmp_path):
    vcfs, indexes = drop_index_files(["a.vcf.gz", "a.vcf.gz.tbi", "b.bcf", "b.bcf.csi", "c.vcf.gz.gzi"])
    assert vcfs == ["a.vcf.gz", "b.bcf"] and indexes == ["a.vcf.gz.tbi", "b.bcf.csi", "c.vcf.gz.gzi"]


def test_split_group_spelling(tmp_path):
    odd = _vcf(tmp_path / "odd,name.vcf")
    assert split_group_paths(f"{tmp_path}/a.vcf;{tmp_path}/b.vcf") == [f"{tmp_path}/a.vcf", f"{tmp_path}/b.vcf"]
    assert split_group_paths("a.vcf, b.vcf") == ["a.vcf", "b.vcf"]
    assert split_group_paths(str(odd)) == [str(odd)]  # an existing file whose name holds a comma is one path


def test_sample_sheet_rows_declare_inputs(tmp_path):
    _vcf(tmp_path / "p1.chr10.vcf", ["P1"])
    _vcf(tmp_path / "p1.chr16.vcf", ["P1"])
    _vcf(tmp_path / "lab" / "sample.vcf")
    _vcf(tmp_path / "cohort.vcf", ["C1", "C2"])
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample_id\tvcf\tsex\tabsent_is_reference\n"
                     "P1\tp1.chr10.vcf;p1.chr16.vcf\tfemale\ttrue\n"
                     "SAMPLE\tlab/sample.vcf\tmale\t\n"
                     "C1\tcohort.vcf\t\t\n"
                     "C2\tcohort.vcf\t\t\n")
    specs = inputs_from_config({"inputs": [], "sample_sheet": str(sheet)})
    got = {s.input_id: ([p.rsplit("/", 1)[-1] for p in s.vcfs], s.absent_is_reference) for s in specs}
    assert got == {"sample": (["sample.vcf"], False), "cohort": (["cohort.vcf"], False),
                   "p1": (["p1.chr10.vcf", "p1.chr16.vcf"], True)}
    rows = read_sample_sheet(sheet)
    # A row naming VCFs applies only to the input made of them (sex of SAMPLE is not given to another file's SAMPLE).
    other = _vcf(tmp_path / "other" / "sample.vcf")
    assert "SAMPLE" not in sheet_rows_for_input(rows, [str(other)])
    assert sheet_rows_for_input(rows, [str(tmp_path / "lab" / "sample.vcf")])["SAMPLE"]["sex"] == "male"


def test_sample_sheet_overlapping_groups_are_refused(tmp_path):
    _vcf(tmp_path / "a.chr10.vcf", ["P1", "P2"])
    _vcf(tmp_path / "a.chr16.vcf", ["P1", "P2"])
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample_id\tvcf\nP1\ta.chr10.vcf;a.chr16.vcf\nP2\ta.chr10.vcf\n")
    with pytest.raises(PgxInputError, match="overlapping VCF sets"):
        inputs_from_config({"inputs": [], "sample_sheet": str(sheet)})


def test_config_file_in_two_inputs_is_refused(tmp_path):
    a = _vcf(tmp_path / "a.vcf")
    cfg = {"inputs": [{"id": "x", "vcfs": [str(a)]}, {"id": "y", "vcfs": [str(a)]}]}
    with pytest.raises(PgxInputError, match="is in inputs 'x' and 'y'"):
        inputs_from_config(cfg)


def test_stale_input_folders_are_found(tmp_path):
    for d in ("ingest/sample", "reports/sample", "calls/lab1_sample", "reports/lab1_sample"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "reports" / "cohort_summary.html").write_text("x")
    stale = stale_input_folders(tmp_path, ["lab1_sample", "lab2_sample"])
    assert [str(p.relative_to(tmp_path)) for p in stale] == ["ingest/sample", "reports/sample"]
    a = _vcf(tmp_path / "a.vcf")
    manifest = write_manifest(tmp_path, inputs_from_paths([str(a)]))
    assert manifest.read_text().splitlines() == ["input_id\tunit\tabsent_is_reference\tvcfs", f"a\ta\tfalse\t{a}"]


def test_stale_folders_of_another_unit_layout_are_found(tmp_path):
    """An earlier release ran each small file as its own unit (calls/<input>/); this run batches them: the old
    per-input stage folders must be refused, not read beside the batch's (and the reverse)."""
    for d in ("calls/lab1_sample", "ingest/lab1_sample", "reports/lab1_sample", "calls/batch-000"):
        (tmp_path / d).mkdir(parents=True)
    stale = stale_input_folders(tmp_path, ["lab1_sample", "lab2_sample"], ["batch-000"])
    assert [str(p.relative_to(tmp_path)) for p in stale] == ["calls/lab1_sample", "ingest/lab1_sample"]
    stale = stale_input_folders(tmp_path, ["lab1_sample", "lab2_sample"], ["lab1_sample", "lab2_sample"])
    assert [str(p.relative_to(tmp_path)) for p in stale] == ["calls/batch-000"]
