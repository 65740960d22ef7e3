"""`reports.formats`: which per-patient files a report job writes. The config schema refuses a list the report code
could not honour; `report patients --formats` writes exactly those files, and by default the four files the
pipeline has always written, byte for byte (compared with the renderers called one by one, as main's loop did)."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.report import fhir
from pgx_pipeline.report.cli import report
from pgx_pipeline.report.files import safe_filenames
from pgx_pipeline.report.formats import parse_formats
from pgx_pipeline.report.html import render_reports
from tests.conftest import REPO
from tests.report.conftest import HOSTILE, INPUT, files_as_main_wrote

DATE = "2025-01-31"
SCHEMA = str(REPO / "config" / "schemas" / "config.schema.yaml")
ALL_FOUR = ["html", "json", "fhir", "outside_calls"]


def _validated(**extra) -> dict:
    config = {"results": "results", "knowledge": {}, **extra}
    validate(config, schema=SCHEMA)
    return config


def test_the_default_is_the_four_files_runs_have_always_written():
    assert _validated()["reports"]["formats"] == ALL_FOUR
    assert _validated(reports={})["reports"]["formats"] == ALL_FOUR
    shipped = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert shipped["reports"]["formats"] == ALL_FOUR
    assert _validated(reports={"formats": ["html"]})["reports"]["formats"] == ["html"]


@pytest.mark.parametrize("formats, says", [
    (["json", "fhir"], "does not contain"),                       # no html: the summary would link to nothing
    (["html", "pdf"], "'pdf' is not one of ['html', 'json', 'fhir', 'outside_calls']"),
    (["html", "json", "json"], "has non-unique elements"),
    ([], "does not contain"),
])
def test_the_schema_refuses_a_list_naming_the_key(formats, says):
    with pytest.raises(WorkflowError) as err:
        _validated(reports={"formats": formats})
    message = str(err.value)
    assert says in message and "['reports']['formats']" in message, message


@pytest.mark.parametrize("text, says", [
    ("json,fhir", "--formats: html is missing (allowed: html, json, fhir, outside_calls; html is required)"),
    ("html,pdf", "--formats: unknown format(s) 'pdf' (allowed: html, json, fhir, outside_calls"),
    ("html,json,html", "--formats: html listed more than once (allowed: html, json, fhir, outside_calls"),
])
def test_a_bad_command_line_list_names_the_option_and_the_allowed_values(text, says):
    with pytest.raises(PgxInputError) as err:
        parse_formats(text)
    assert str(err.value).startswith(says), str(err.value)


def _patients(results, out, *options):
    proc = CliRunner().invoke(report, ["patients", "--results", str(results), "--input-id", INPUT, "--out", str(out),
                                       "--report-date", DATE, *options])
    assert proc.exit_code == 0, proc.output
    return sorted(p.name for p in out.iterdir())


def test_html_only_writes_one_html_per_patient_and_nothing_else(results, tmp_path):
    stems = safe_filenames(["PGX01", HOSTILE, "BAD1"]).values()
    assert _patients(results, tmp_path / "r", "--formats", "html") == sorted(f"{s}.html" for s in stems)


def test_the_default_files_are_byte_identical_to_the_renderers_called_one_by_one(results):
    """The default of `report patients` writes the four files main wrote with --fhir, not a byte changed."""
    out = results / "reports" / INPUT  # the workflow's layout: the model card link is relative to it
    written = _patients(results, out)
    expected = files_as_main_wrote(results, INPUT, out, DATE)
    assert written == sorted(expected) and len(written) == 12
    for name, text in expected.items():
        assert (out / name).read_bytes() == text.encode("utf-8"), name


def test_fhir_flag_still_adds_the_bundle(results, tmp_path):
    assert _patients(results, tmp_path / "a", "--formats", "html,json", "--fhir") == sorted(
        f"{s}{x}" for s in safe_filenames(["PGX01", HOSTILE, "BAD1"]).values() for x in (".html", ".json", ".fhir.json"))
    assert _patients(results, tmp_path / "b", "--fhir") == _patients(results, tmp_path / "c")


def test_a_bad_list_stops_the_command_before_any_file(results, tmp_path):
    proc = CliRunner().invoke(report, ["patients", "--results", str(results), "--input-id", INPUT,
                                       "--out", str(tmp_path / "r"), "--formats", "json"])
    assert proc.exit_code == 2 and "--formats: html is missing" in proc.output
    assert not (tmp_path / "r").exists()


def test_no_fhir_validator_is_built_unless_bundles_are_written(results, tmp_path, monkeypatch):
    def refuse():
        raise AssertionError("Validator built")

    monkeypatch.setattr(fhir, "Validator", refuse)
    render_reports(results, INPUT, tmp_path / "r", report_date=DATE, formats=["html", "json", "outside_calls"])
    with pytest.raises(AssertionError, match="Validator built"):
        render_reports(results, INPUT, tmp_path / "f", report_date=DATE, formats=["html", "fhir"])
