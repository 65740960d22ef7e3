"""`report` commands the Snakemake rules call: patient reports for one input, and the cohort outputs.

Run as `python -m pgx_pipeline.report ...`; the group can also be mounted on the main `pgx-pipeline` CLI.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

import click

from ..errors import PgxInputError
from .formats import DEFAULT_FORMATS, FORMATS, parse_formats


def _today() -> str:
    return dt.date.today().isoformat()


@click.group("report")
def report() -> None:
    """Clinician reports: per-patient HTML (and JSON, outside-call TSV, FHIR) and the cohort summary."""
    # Patient data: files and folders we create are readable by owner and group only (0640 / 0750).
    os.umask(0o027)


@report.command("patients")
@click.option("--results", "results_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--input-id", default=None, help="The input (its reports go to --out).")
@click.option("--unit", default=None, help="A batch of small inputs (see docs/SCHEMAS.md): every input's reports go to "
                                           "--out-root/<input>/.")
@click.option("--part", default="part-000", show_default=True, help="Sample part of the input (see docs/SCHEMAS.md).")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False))
@click.option("--out-root", default=None, type=click.Path(file_okay=False), help="The reports/ folder (with --unit).")
@click.option("--report-date", default="", help="Date printed on the reports (YYYY-MM-DD); default today.")
@click.option("--formats", "formats_text", default=",".join(DEFAULT_FORMATS), show_default=True,
              help=f"Files to write per sample, comma-separated from {', '.join(FORMATS)}; html is required "
                   "(config reports.formats).")
@click.option("--fhir", is_flag=True, help="Also write the FHIR bundle <sample>.fhir.json (kept for compatibility: "
                                           "the same as adding fhir to --formats).")
def patients(results_dir: str, input_id: str | None, unit: str | None, part: str, out_dir: str | None,
             out_root: str | None, report_date: str, formats_text: str, fhir: bool) -> None:
    """The files of --formats (HTML, JSON, outside-call TSV, FHIR bundle) per sample of one part of INPUT_ID, or of
    every input of a batch (--unit)."""
    from .html import render_reports, render_unit_reports

    formats = _run(parse_formats, formats_text)
    if fhir and "fhir" not in formats:
        formats = (*formats, "fhir")
    if unit and out_root and not input_id:
        written = _run(render_unit_reports, results_dir, unit, out_root, report_date=report_date or _today(),
                       part=part, formats=formats)
        n = sum(len(names) for names in written.values())
        click.echo(f"pgx-pipeline report: {n} patient report(s) of {len(written)} input(s) in {out_root}", err=True)
        return
    if not input_id or not out_dir:
        click.echo("pgx-pipeline: error: give --input-id and --out, or --unit and --out-root", err=True)
        sys.exit(2)
    names = _run(render_reports, results_dir, input_id, out_dir, report_date=report_date or _today(), part=part,
                 formats=formats, unit=unit)
    click.echo(f"pgx-pipeline report: {len(names)} patient report(s) in {out_dir}", err=True)


@report.command("fhir")
@click.option("--results", "results_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--input-id", required=True)
@click.option("--part", default="part-000", show_default=True, help="Sample part of the input (see docs/SCHEMAS.md).")
@click.option("--unit", default=None, help="The batch holding the input, when it is not its own unit (see "
                                           "results/inputs_manifest.tsv).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--report-date", default="", help="Date written on the bundles (YYYY-MM-DD); default today.")
def fhir_cmd(results_dir: str, input_id: str, part: str, unit: str | None, out_dir: str, report_date: str) -> None:
    """One FHIR R4 Bundle (HL7 Genomics Reporting IG 3.0.0) per sample of one part of INPUT_ID: <sample>.fhir.json."""
    from .fhir import render_fhir

    names = _run(render_fhir, results_dir, input_id, out_dir, report_date=report_date or _today(), part=part,
                 unit=unit)
    click.echo(f"pgx-pipeline report: {len(names)} FHIR bundle(s) in {out_dir}", err=True)


@report.command("cohort")
@click.option("--results", "results_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--input-id", "input_ids", multiple=True, required=True)
@click.option("--unit", "units", multiple=True, help="Work units holding the inputs (default: each input its own).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--report-date", default="", help="Date printed on the summary (YYYY-MM-DD); default today.")
def cohort(results_dir: str, input_ids: tuple[str, ...], units: tuple[str, ...], out_dir: str, report_date: str) -> None:
    """cohort_summary.html and calls_only.tsv for all inputs."""
    from .html import write_cohort_outputs

    html, tsv = _run(write_cohort_outputs, results_dir, list(input_ids), out_dir, report_date=report_date or _today(),
                     units=list(units) or None)
    click.echo(f"pgx-pipeline report: {html} and {tsv}", err=True)


def _run(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except PgxInputError as exc:
        click.echo(f"pgx-pipeline: error: {exc}", err=True)
        sys.exit(2)
