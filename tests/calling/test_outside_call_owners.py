"""Outside calls given for a whole run are matched to patients by sample id, and a patient is (input, sample): a
file that cannot say whose it is stops the run instead of giving one patient's CYP2D6 or HLA-B result to another
(a lab's single-sample VCFs whose sample column all reads SAMPLE)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pgx_pipeline.calling.outside import assign_outside_calls
from pgx_pipeline.errors import PgxInputError
from tests.vcf_text import write_vcf

EXE = str(Path(sys.executable).parent / "pgx-pipeline")
# CYP2C19 rs4244285 (*2), GRCh38
STAR2 = "chr10 94781859 G A"


def _per_sample(path: Path) -> str:
    path.write_text("CYP2D6\t*1/*1xN\tUltrarapid Metabolizer\n")
    return str(path)


def _table(path: Path, rows: list[str]) -> str:
    path.write_text("sample_id\tgene\tdiplotype\tphenotype\tactivity_score\n" + "".join(f"{r}\n" for r in rows))
    return str(path)


def test_one_input_takes_every_file_as_before(tmp_path):
    f = _per_sample(tmp_path / "cyp2d6.tsv")
    assert assign_outside_calls([f], {"lab1": ["SAMPLE"]}) == {"lab1": [f]}


def test_per_sample_file_goes_to_the_one_input_whose_sample_it_names(tmp_path):
    f = _per_sample(tmp_path / "outside.HG00096.tsv")
    assert assign_outside_calls([f], {"a": ["HG00096"], "b": ["HG00103"]}) == {"a": [f], "b": []}


def test_per_sample_file_naming_no_patient_with_several_inputs_is_an_error(tmp_path):
    f = _per_sample(tmp_path / "cyp2d6.tsv")
    with pytest.raises(PgxInputError, match=r"name exactly one patient.*2 inputs.*no sample of this run") as e:
        assign_outside_calls([f], {"a": ["SAMPLE"], "b": ["SAMPLE"]})
    assert "cyp2d6.tsv" in str(e.value) and "inputs[].outside_calls" in str(e.value)


def test_per_sample_file_naming_a_sample_two_inputs_share_is_an_error(tmp_path):
    f = _per_sample(tmp_path / "SAMPLE.cyp2d6.tsv")
    with pytest.raises(PgxInputError, match="SAMPLE in input a; SAMPLE in input b"):
        assign_outside_calls([f], {"a": ["SAMPLE"], "b": ["SAMPLE"]})


def test_cohort_table_rows_go_to_the_inputs_holding_those_samples(tmp_path):
    f = _table(tmp_path / "hla.tsv", ["P1\tHLA-B\t*57:01/*08:01\t\t", "P3\tCYP2D6\t*1/*5\tIntermediate Metabolizer\t1.0"])
    assert assign_outside_calls([f], {"a": ["P1", "P2"], "b": ["P3"], "c": ["P4"]}) == {"a": [f], "b": [f], "c": []}


def test_cohort_table_naming_a_sample_two_inputs_hold_is_an_error(tmp_path):
    f = _table(tmp_path / "hla.tsv", ["SAMPLE\tHLA-B\t*57:01/*08:01\t\t"])
    with pytest.raises(PgxInputError, match=r"sample_id SAMPLE is a sample of 2 inputs \(a, b\)"):
        assign_outside_calls([f], {"a": ["SAMPLE"], "b": ["SAMPLE"]})


def test_run_with_two_files_named_SAMPLE_and_one_outside_call_stops_before_any_job(tmp_path):
    for d in ("p1", "p2"):
        (tmp_path / d).mkdir()
    one = write_vcf(tmp_path / "p1" / "sample.vcf", ["SAMPLE"], [f"{STAR2} 0/1"])
    two = write_vcf(tmp_path / "p2" / "sample.vcf", ["SAMPLE"], [f"{STAR2} 0/0"])
    f = _per_sample(tmp_path / "cyp2d6_duplication.tsv")
    out = tmp_path / "results"
    proc = subprocess.run([EXE, "run", str(one), str(two), "--out", str(out), "--outside-calls", f],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "cyp2d6_duplication.tsv" in proc.stderr and "name exactly one patient" in proc.stderr
    assert not (out / "calls").exists()


def _two_samples(tmp_path: Path) -> tuple[Path, Path]:
    for d in ("p1", "p2"):
        (tmp_path / d).mkdir(exist_ok=True)
    return (write_vcf(tmp_path / "p1" / "sample.vcf", ["SAMPLE"], [f"{STAR2} 0/1"]),
            write_vcf(tmp_path / "p2" / "sample.vcf", ["SAMPLE"], [f"{STAR2} 0/0"]))


def test_sheet_row_without_vcf_for_a_sample_two_inputs_hold_stops_the_run(tmp_path):
    one, two = _two_samples(tmp_path)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample_id\tsex\nSAMPLE\tmale\n")
    proc = subprocess.run([EXE, "run", str(one), str(two), "--out", str(tmp_path / "results"), "--sample-sheet",
                           str(sheet)], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "sheet.tsv" in proc.stderr and "line 2: sample_id SAMPLE is a sample of 2 inputs" in proc.stderr


def test_a_sheet_row_naming_its_vcf_describes_only_that_files_SAMPLE(tmp_path):
    from pgx_pipeline.inputs import check_sheet_rows_owned, read_sample_sheet, sheet_rows_for_input

    one, two = _two_samples(tmp_path)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(f"sample_id\tsex\tvcf\nSAMPLE\tmale\t{one}\n")
    rows = read_sample_sheet(sheet)
    check_sheet_rows_owned(rows, {"p1_sample": ["SAMPLE"], "p2_sample": ["SAMPLE"]}, sheet)
    assert sheet_rows_for_input(rows, [str(one)])["SAMPLE"]["sex"] == "male"
    assert sheet_rows_for_input(rows, [str(two)]) == {}


def test_two_SAMPLE_rows_each_naming_its_file_describe_two_patients(tmp_path):
    from pgx_pipeline.inputs import read_sample_sheet, sheet_rows_for_input
    from pgx_pipeline.model import predict

    one, two = _two_samples(tmp_path)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(f"sample_id\tsex\tage\tvcf\nSAMPLE\tmale\t60-69\t{one}\nSAMPLE\tfemale\t20-29\t{two}\n")
    rows = read_sample_sheet(sheet)
    assert sheet_rows_for_input(rows, [str(one)])["SAMPLE"]["sex"] == "male"
    assert sheet_rows_for_input(rows, [str(two)])["SAMPLE"]["sex"] == "female"
    # The warfarin covariates follow the same rows: each input's SAMPLE gets its own age.
    keyed = predict._keyed_sheet(predict.read_sample_sheet(sheet), tmp_path, {"p1": [str(one)], "p2": [str(two)]})
    assert len(keyed) == 2 and sorted(keyed["age"]) == ["20-29", "60-69"]
    assert keyed.loc[[k for k in keyed.index if "p1" in str(k)][0], "age"] == "60-69"


@pytest.mark.parametrize("second", ["", "SAME"])
def test_a_sample_id_repeated_without_its_own_file_is_refused(tmp_path, second):
    from pgx_pipeline.inputs import read_sample_sheet
    from pgx_pipeline.model import predict

    one, _ = _two_samples(tmp_path)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(f"sample_id\tsex\tvcf\nSAMPLE\tmale\t{one}\nSAMPLE\tfemale\t{one if second else ''}\n")
    for reader in (read_sample_sheet, predict.read_sample_sheet):
        with pytest.raises(PgxInputError, match="line 3: sample_id 'SAMPLE' appears twice"):
            reader(sheet)
