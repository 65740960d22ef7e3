"""Outputs: sample ids never escape the results folder, patient files are not world-readable, same input ->
same Parquet content and report text."""

from __future__ import annotations

import os
import stat

import pyarrow.parquet as pq

from pgx_pipeline import sharding
from tests.robustness.conftest import run_stages
from tests.robustness.harness import stage_copy

DATE = "2026-01-01"


def _files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_hostile_sample_ids_stay_inside_results(tmp_path, kb_dir, cli):
    vcf = stage_copy("odd_sample_ids.vcf", tmp_path / "in")
    results = tmp_path / "work" / "results"
    run_stages(cli, vcf, results, kb_dir, "odd", report_date=DATE)
    reports = results / "reports" / "odd"
    # nothing was written outside results/ (e.g. ../../etc/x.html next to it)
    assert {p.name for p in (tmp_path / "work").iterdir()} == {"results"}
    assert not (tmp_path / "etc").exists() and not (results / "etc").exists()
    for p in _files(results):
        assert p.resolve().is_relative_to(results.resolve()), p
        assert not p.name.endswith(".tmp"), p  # no temp file left behind
    htmls = sorted(p.name for p in reports.glob("*.html"))
    assert len(htmls) == 6  # one per sample, no two collapsed into one name
    assert all("/" not in h and ".." not in h and " " not in h for h in htmls)
    page = next(reports.glob("script*.html")).read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_outputs_not_world_readable(tmp_path, kb_dir, cli):
    """The CLI runs under umask 027: Parquet tables and reports are rw-r----- (folders rwxr-x---)."""
    vcf = stage_copy("good.vcf", tmp_path / "in")
    results = run_stages(cli, vcf, tmp_path / "results", kb_dir, "good", report_date=DATE)
    for path in [results / "ingest" / "good" / "genes-0" / "part-000.genotypes.parquet",
                 sharding.stage_file(results, "calls", "good", "part-000"),
                 next((results / "reports" / "good").glob("*.html")), next((results / "reports" / "good").glob("*.json"))]:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & stat.S_IRWXO == 0, (path, oct(mode))
    assert stat.S_IMODE(os.stat(results / "reports" / "good").st_mode) & stat.S_IRWXO == 0


def test_same_input_same_tables_and_reports(tmp_path, kb_dir, cli):
    vcf = stage_copy("odd_sample_ids.vcf", tmp_path / "in")
    runs = [run_stages(cli, vcf, tmp_path / f"run{i}", kb_dir, "odd", report_date=DATE) for i in (1, 2)]
    tables = [p.relative_to(runs[0]) for p in _files(runs[0]) if p.suffix == ".parquet" and "knowledge" not in p.parts]
    assert len(tables) == 5
    for rel in tables:
        a, b = (pq.read_table(r / rel) for r in runs)
        assert a.equals(b, check_metadata=True), rel
    reports = [p.relative_to(runs[0]) for p in _files(runs[0] / "reports")]
    assert {p.relative_to(runs[1]) for p in _files(runs[1] / "reports")} == set(reports)
    for rel in reports:
        assert (runs[0] / rel).read_text() == (runs[1] / rel).read_text(), rel
