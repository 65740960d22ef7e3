"""An outside-call table's `vcf` column says which input a row's patient is in, as the sample sheet's does: two lab
files whose sample column both read SAMPLE are two patients, and one table can give each its own CYP2D6 call.

The VCFs are tiny hand-made files (CYP2C19 rs4244285 only); the expected diplotypes are the ones the table gives,
read back from the calls Parquet and from each patient's report JSON written by `pgx-pipeline run`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pgx_pipeline import schema
from pgx_pipeline.calling.outside import assign_outside_calls, check_run_tables, read_outside_calls
from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.inputs import InputSpec
from tests.vcf_text import write_vcf

EXE = str(Path(sys.executable).parent / "pgx-pipeline")
STAR2 = "chr10 94781859 G A"  # CYP2C19 rs4244285 (*2), GRCh38
HEADER = "sample_id\tgene\tdiplotype\tphenotype\tactivity_score\tvcf\n"
# What the table gives each patient (a CNV caller's CYP2D6 result): different, so a swap cannot pass.
P1_CALL, P2_CALL = "*4/*4", "*1/*2"


def _lab(tmp_path: Path) -> tuple[Path, Path]:
    """p1/sample.vcf and p2/sample.vcf, each one person whose sample column reads SAMPLE."""
    for d in ("p1", "p2"):
        (tmp_path / d).mkdir(exist_ok=True)
    return (write_vcf(tmp_path / "p1" / "sample.vcf", ["SAMPLE"], [f"{STAR2} 0/1"]),
            write_vcf(tmp_path / "p2" / "sample.vcf", ["SAMPLE"], [f"{STAR2} 0/0"]))


def _table(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows))
    return path


def _per_file_table(tmp_path: Path) -> Path:
    # Paths relative to the table's folder, as a sample sheet's vcf cells are.
    return _table(tmp_path / "cyp2d6.tsv", [f"SAMPLE\tCYP2D6\t{P1_CALL}\t\t\tp1/sample.vcf",
                                            f"SAMPLE\tCYP2D6\t{P2_CALL}\t\t\tp2/sample.vcf"])


def _specs(one: Path, two: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    return {"p1": ["SAMPLE"], "p2": ["SAMPLE"]}, {"p1": [str(one)], "p2": [str(two)]}


def test_vcf_cells_are_read_relative_to_the_table_folder(tmp_path):
    one, two = _lab(tmp_path)
    calls = read_outside_calls(_per_file_table(tmp_path), ["SAMPLE"])
    assert [(c.sample_id, c.diplotype, c.vcfs) for c in calls] == [
        ("SAMPLE", P1_CALL, (str(one.resolve()),)), ("SAMPLE", P2_CALL, (str(two.resolve()),))]


def test_a_table_naming_each_rows_file_goes_to_both_inputs_holding_SAMPLE(tmp_path):
    one, two = _lab(tmp_path)
    table = str(_per_file_table(tmp_path))
    samples, vcfs = _specs(one, two)
    assert assign_outside_calls([table], samples, vcfs) == {"p1": [table], "p2": [table]}


def test_a_row_naming_one_input_goes_to_that_input_only(tmp_path):
    one, two = _lab(tmp_path)
    table = str(_table(tmp_path / "t.tsv", [f"SAMPLE\tCYP2D6\t{P1_CALL}\t\t\tp2/sample.vcf"]))
    assert assign_outside_calls([table], *_specs(one, two)) == {"p1": [], "p2": [table]}


@pytest.mark.parametrize(("cell", "message"), [
    ("p3/sample.vcf", "line 3: the vcf cell names {tmp}/p3/sample.vcf, which is no input of this run"),
    ("other.vcf", "line 3: input p2 ({tmp}/other.vcf) holds no sample 'SAMPLE' (its samples: NA12878); fix the "
                  "row's sample_id or its vcf cell"),
])
def test_a_vcf_cell_that_is_no_patients_input_stops_with_its_line(tmp_path, cell, message):
    one, two = _lab(tmp_path)
    other = write_vcf(tmp_path / "other.vcf", ["NA12878"], [f"{STAR2} 0/1"])
    table = _table(tmp_path / "t.tsv", [f"SAMPLE\tCYP2D6\t{P1_CALL}\t\t\tp1/sample.vcf",
                                        f"SAMPLE\tCYP2D6\t{P2_CALL}\t\t\t{cell}"])
    with pytest.raises(PgxInputError) as e:
        assign_outside_calls([str(table)], {"p1": ["SAMPLE"], "p2": ["NA12878"]},
                             {"p1": [str(one)], "p2": [str(other)]})
    assert str(e.value).startswith(f"{table}: ")
    assert message.format(tmp=tmp_path) in str(e.value)


@pytest.mark.parametrize("second_cell", ["p1/sample.vcf", ""])
def test_one_gene_given_twice_for_one_patient_stops_with_both_lines(tmp_path, second_cell):
    one, _ = _lab(tmp_path)
    table = _table(tmp_path / "t.tsv", [f"SAMPLE\tCYP2D6\t{P1_CALL}\t\t\tp1/sample.vcf",
                                        f"SAMPLE\tCYP2D6\t{P2_CALL}\t\t\t{second_cell}"])
    with pytest.raises(PgxInputError, match="t.tsv: CYP2D6 of sample SAMPLE is given by t.tsv:2, t.tsv:3 for the same "
                                            "patient; keep one row per gene and patient"):
        assign_outside_calls([str(table)], {"p1": ["SAMPLE"]}, {"p1": [str(one)]})


def test_a_table_given_to_one_input_may_not_describe_another(tmp_path):
    # config inputs[].outside_calls: the table is p1's, and its second row is for p2's SAMPLE.
    one, two = _lab(tmp_path)
    table = _per_file_table(tmp_path)
    specs = [InputSpec("p1", [str(one)], outside_calls=[str(table)]), InputSpec("p2", [str(two)])]
    with pytest.raises(PgxInputError, match=r"line 3: the row is for input p2 .* given to input\(s\) p1 only"):
        check_run_tables(specs, [], {"p1": ["SAMPLE"], "p2": ["SAMPLE"]})
    specs[1].outside_calls = [str(table)]
    check_run_tables(specs, [], {"p1": ["SAMPLE"], "p2": ["SAMPLE"]})


def test_a_table_a_sheet_row_gives_to_one_input_may_not_describe_another(tmp_path):
    # The sample sheet's outside_calls cell gives the table to the input its row describes (p1's SAMPLE).
    from pgx_pipeline.inputs import read_sample_sheet

    one, two = _lab(tmp_path)
    _per_file_table(tmp_path)
    specs = [InputSpec("p1", [str(one)]), InputSpec("p2", [str(two)])]
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample_id\tvcf\toutside_calls\nSAMPLE\tp1/sample.vcf\tcyp2d6.tsv\n")
    with pytest.raises(PgxInputError, match=r"cyp2d6.tsv: line 3: the row is for input p2 .* given to input\(s\) p1 only"):
        check_run_tables(specs, read_sample_sheet(sheet), {"p1": ["SAMPLE"], "p2": ["SAMPLE"]})
    sheet.write_text(sheet.read_text() + "SAMPLE\tp2/sample.vcf\tcyp2d6.tsv\n")
    check_run_tables(specs, read_sample_sheet(sheet), {"p1": ["SAMPLE"], "p2": ["SAMPLE"]})


def test_the_run_stops_before_any_job_on_a_vcf_cell_that_is_no_input(tmp_path):
    one, two = _lab(tmp_path)
    table = _table(tmp_path / "t.tsv", [f"SAMPLE\tCYP2D6\t{P1_CALL}\t\t\tp3/sample.vcf"])
    out = tmp_path / "results"
    proc = subprocess.run([EXE, "run", str(one), str(two), "--out", str(out), "--outside-calls", str(table)],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"{table}: line 2: the vcf cell names {tmp_path}/p3/sample.vcf, which is no input of this run" in proc.stderr
    assert not (out / "calls").exists()


def _ingest(vcf: Path, defs_dir: Path, out: Path, input_id: str):
    from pgx_pipeline.ingest.vcf import ingest_vcf

    return ingest_vcf([vcf], defs_dir, out, input_id=input_id)


def _cyp2d6(calls_path: Path) -> list[tuple]:
    calls = schema.read_table(calls_path, schema.CALLS)
    rows = calls[calls["gene"] == "CYP2D6"]
    return [(r.input_id, r.sample_id, r.diplotype, r.status) for r in rows.itertuples()]


def test_the_call_stage_gives_each_input_its_own_row(tmp_path, defs_dir):
    """One call job per input (`pgx-pipeline call --vcf`), the same table given to both, as the workflow runs it."""
    from pgx_pipeline.cli import main

    one, two = _lab(tmp_path)
    table = _per_file_table(tmp_path)
    got = {}
    for input_id, vcf, want in (("p1", one, P1_CALL), ("p2", two, P2_CALL)):
        res = _ingest(vcf, defs_dir, tmp_path / "ingest" / input_id, input_id)
        out = tmp_path / "calls" / f"{input_id}.parquet"
        r = CliRunner().invoke(main, ["call", "--genotypes", str(res.genotypes), "--samples", str(res.samples),
                                      "--kb", str(defs_dir), "--out", str(out), "--outside-calls", str(table),
                                      "--vcf", str(vcf)])
        assert r.exit_code == 0, r.output
        got[input_id] = _cyp2d6(out)
    assert got == {"p1": [("p1", "SAMPLE", P1_CALL, "outside_call")], "p2": [("p2", "SAMPLE", P2_CALL, "outside_call")]}


def test_two_rows_for_one_patient_fail_that_gene_in_the_call_stage(tmp_path, defs_dir):
    from pgx_pipeline.calling.call import call_input

    one, _ = _lab(tmp_path)
    table = _table(tmp_path / "t.tsv", [f"SAMPLE\tCYP2D6\t{P1_CALL}\t\t\tp1/sample.vcf",
                                        f"SAMPLE\tCYP2D6\t{P2_CALL}\t\t\t"])
    res = _ingest(one, defs_dir, tmp_path / "ingest", "p1")
    calls = call_input(res.genotypes, res.samples, defs_dir, tmp_path / "calls.parquet",
                       outside_calls={"p1": read_outside_calls(table, ["SAMPLE"])}, input_vcfs={"p1": [str(one)]})
    cyp = calls[calls["gene"] == "CYP2D6"]
    assert list(cyp["status"]) == ["not_called"] and cyp["diplotype"].isna().all()
    assert "t.tsv:2: CYP2D6 of sample SAMPLE is given by t.tsv:2, t.tsv:3 for the same patient" in cyp["warnings"].iloc[0][0]
    # Without the input's files a row naming one cannot be placed: an error, not a guess.
    with pytest.raises(PgxInputError, match="t.tsv:2: the row names VCF file"):
        call_input(res.genotypes, res.samples, defs_dir, tmp_path / "calls2.parquet",
                   outside_calls=read_outside_calls(table, ["SAMPLE"]))


def test_sheet_rows_pointing_at_one_table_give_each_call_once(tmp_path, defs_dir):
    """Two sample-sheet rows whose outside_calls cell names the same cohort table: its calls are read once."""
    from pgx_pipeline.cli import main

    vcf = write_vcf(tmp_path / "duo.vcf", ["A", "B"], [f"{STAR2} 0/1 0/0"])
    _table(tmp_path / "t.tsv", [f"A\tCYP2D6\t{P1_CALL}\t\t\tduo.vcf", f"B\tCYP2D6\t{P2_CALL}\t\t\t"])
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample_id\tvcf\toutside_calls\nA\tduo.vcf\tt.tsv\nB\tduo.vcf\tt.tsv\n")
    res = _ingest(vcf, defs_dir, tmp_path / "ingest", "duo")
    out = tmp_path / "calls.parquet"
    r = CliRunner().invoke(main, ["call", "--genotypes", str(res.genotypes), "--samples", str(res.samples), "--kb",
                                  str(defs_dir), "--out", str(out), "--sample-sheet", str(sheet), "--vcf", str(vcf)])
    assert r.exit_code == 0, r.output
    assert _cyp2d6(out) == [("duo", "A", P1_CALL, "outside_call"), ("duo", "B", P2_CALL, "outside_call")]


def test_run_end_to_end_each_SAMPLE_reports_its_own_rows_call(tmp_path):
    one, two = _lab(tmp_path)
    out = tmp_path / "results"
    proc = subprocess.run([EXE, "run", str(one), str(two), "--out", str(out), "--outside-calls",
                           str(_per_file_table(tmp_path)), "--formats", "html,json", "--cores", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    calls = sorted(row for f in (out / "calls").glob("*/*.parquet") for row in _cyp2d6(f))
    assert calls == [("p1_sample", "SAMPLE", P1_CALL, "outside_call"), ("p2_sample", "SAMPLE", P2_CALL, "outside_call")]
    for input_id, want in (("p1_sample", P1_CALL), ("p2_sample", P2_CALL)):
        report = json.loads((out / "reports" / input_id / "SAMPLE.json").read_text())
        cyp = [g for g in report["genes"] if g["gene"] == "CYP2D6"]
        assert [(g["diplotype"], g["status"]) for g in cyp] == [(want, "outside_call")], input_id


def test_table_errors_name_the_line_an_editor_shows(tmp_path):
    """Comments and blank lines count: the bad row is line 5 of the file, not the 2nd row of data."""
    table = tmp_path / "t.tsv"
    table.write_text("# CNV caller export\nsample_id\tgene\tdiplotype\n\n# batch 2\nS1\tcyp 2d6\t*1/*2\n")
    (call,) = read_outside_calls(table, ["S1"])
    assert call.source == "t.tsv:5" and call.error.startswith("t.tsv:5: 'cyp 2d6' is not a gene symbol")


def test_run_outside_calls_reach_an_input_only_the_sample_sheet_adds(tmp_path):
    """`run p1/sample.vcf --sample-sheet` whose row adds p2/sample.vcf: the --outside-calls table's row naming p2's
    file is for that input (it was refused as "no input of this run"), and each SAMPLE gets its own row's call."""
    one, two = _lab(tmp_path)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample_id\tvcf\nSAMPLE\tp2/sample.vcf\n")
    out = tmp_path / "results"
    proc = subprocess.run([EXE, "run", str(one), "--sample-sheet", str(sheet), "--out", str(out), "--outside-calls",
                           str(_per_file_table(tmp_path)), "--formats", "html,json", "--cores", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = [line.split("\t") for line in (out / "inputs_manifest.tsv").read_text().splitlines()[1:]]
    input_of = {Path(vcfs).parent.name: input_id for input_id, _, _, vcfs in manifest}
    want = {input_of["p1"]: P1_CALL, input_of["p2"]: P2_CALL}
    assert len(want) == 2
    calls = sorted(row for f in (out / "calls").glob("*/*.parquet") for row in _cyp2d6(f))
    assert calls == sorted((i, "SAMPLE", call, "outside_call") for i, call in want.items())
    for input_id, call in want.items():
        report = json.loads((out / "reports" / input_id / "SAMPLE.json").read_text())
        assert [(g["diplotype"], g["status"]) for g in report["genes"] if g["gene"] == "CYP2D6"] == [(call, "outside_call")]
