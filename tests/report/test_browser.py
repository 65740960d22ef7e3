"""Headless Chromium opens the pages from disk: the script runs under the page's CSP, nothing is fetched or refused.

Skipped where Chromium is not installed (`apt-get install chromium`); CI installs it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from pgx_pipeline.report import render_reports, safe_filename, write_cohort_outputs
from tests.report.conftest import HOSTILE, INPUT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"]


def _open(path, tmp_path, *extra):
    profile = tmp_path / "profile"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, path.as_uri()],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    # CSP violations (a blocked fetch or script) and script errors both reach the console log.
    console = "\n".join(ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln)
    return proc.stdout, console


def test_pages_run_offline_without_errors(results, tmp_path):
    out = results / "reports"
    render_reports(results, INPUT, out / INPUT, report_date="2025-01-31")
    write_cohort_outputs(results, [INPUT], out, report_date="2025-01-31")

    dom, console = _open(out / "cohort_summary.html", tmp_path, "--dump-dom")
    assert console == ""
    # The table is built by the inline script: rows present means it ran under the CSP.
    assert f'href="{INPUT}/PGX01.html"' in dom
    assert f'href="{INPUT}/{safe_filename(HOSTILE)}.html"' in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    # act, consider, confirm-genotype and incomplete counts land in their columns (incomplete: efavirenz on an
    # ambiguous CYP2B6, codeine on an uncalled CYP2D6, abacavir on an untyped HLA-B)
    row = dom[dom.index(f'href="{INPUT}/PGX01.html"'):]
    row = row[:row.index("</tr>")]
    assert re.findall(r"<td>(\d+)</td>", row) == ["3", "0", "1", "3"], row

    dom, console = _open(out / INPUT / "PGX01.html", tmp_path, "--dump-dom")
    assert console == ""
    assert "Pharmacogenomic test report" in dom

    shot = tmp_path / "patient.png"
    _open(out / INPUT / "PGX01.html", tmp_path, f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.is_file() and shot.stat().st_size > 10_000
