"""Every entry of tests/data/bad_inputs/expected.tsv through the entry point a user hits.

error   -> `pgx-pipeline ingest --strict` exits 2 with one line naming the file and the problem, no traceback;
ok      -> ingest + call in process give the correct call, with no warning;
warning -> a result plus the expected message (ingest note or call warning).
"""

from __future__ import annotations

import pytest

from pgx_pipeline.errors import PgxInputError
from tests.robustness.harness import CORPUS, ingest_and_call, read_expected, stage_copy

ENTRIES = read_expected()


def test_expected_tsv_lists_every_corpus_file():
    listed = {e["file"] for e in ENTRIES}
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "expected.tsv" and not p.name.endswith(".tbi")}
    assert listed == on_disk
    assert {e["outcome"] for e in ENTRIES} <= {"error", "warning", "ok"}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_corpus_entry(entry, tmp_path, defs_dir, cli):
    name, stage, outcome, message = entry["file"], entry["stage"], entry["outcome"], entry["message"]
    src = stage_copy(name, tmp_path / "in")
    good = stage_copy("good.vcf", tmp_path / "in")
    out = tmp_path / "out"

    if stage in ("ingest", "sheet") and outcome == "error":
        args = ["ingest", "--input-id", "x", "--kb", defs_dir, "--out-dir", out, "--strict"]
        args += ["--vcf", src] if stage == "ingest" else ["--vcf", good, "--sample-sheet", src]
        res = cli(*args)
        assert res.exit_code == 2, (res.stderr, res.exception)
        assert isinstance(res.exception, SystemExit)  # a user error, not a crash
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
        assert lines[0].startswith(f"pgx-pipeline: error: {src}: "), lines[0]
        assert message in lines[0]
        assert not (out / "genotypes.parquet").exists()  # nothing half-written
        return

    if stage == "ingest":
        lines, calls = ingest_and_call(src, defs_dir, out)
    elif stage == "outside":
        lines, calls = ingest_and_call(good, defs_dir, out, outside=[src])
    elif stage == "covariates":
        from pgx_pipeline.model.predict import check_covariates, read_sample_sheet
        from pgx_pipeline.model.registry import MODELS

        sheet = read_sample_sheet(src)
        _, blocking, notes = check_covariates(MODELS["warfarin"].spec, sheet.loc["GOOD1"])
        assert blocking, "absurd covariates must block the prediction"
        lines = [f"not_predicted: {r}" for r in blocking] + notes
    else:  # pragma: no cover - a new stage in expected.tsv needs a branch here
        raise AssertionError(f"unknown stage {stage}")

    text = "\n".join(lines)
    assert message in text, text
    notes = [ln for ln in lines if ln.startswith("warning:") and "no contig for" not in ln]
    if outcome == "ok":
        assert not notes, notes
        cyp = [ln for ln in lines if " CYP2C19 " in ln]
        assert cyp and all(ln.endswith("called: ") for ln in cyp), cyp  # a clean call, no warning
    else:
        assert notes or any(": " in ln and not ln.endswith(": ") for ln in lines)


def test_outside_calls_file_that_is_not_a_table_fails_that_file_only(tmp_path, defs_dir):
    """A per-sample outside-call file for a multi-sample VCF that does not name its sample: clear error."""
    from pgx_pipeline.calling.outside import read_outside_calls

    with pytest.raises(PgxInputError, match=r"outside_conflict\.tsv: a per-sample outside-call file must name its sample"):
        read_outside_calls(CORPUS / "outside_conflict.tsv", ["A", "B"])
