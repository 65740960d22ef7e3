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


# ---------------------------------------------------------------- issue 19: what a prescriber sees first
def _real_patient(root, kb_dir):
    """One patient through the real phenotype and guidance stages (published knowledge base): CYP2D6 *1/*1 from an
    SNV VCF, CYP2C19 *2/*2 (poor metabolizer), CYP2C9 *1/*1, ABCG2 reference, HLA-B never typed."""
    import shutil

    import pandas as pd

    from pgx_pipeline import schema, sharding
    from pgx_pipeline.guidance import match_guidance, reference_gene_keys
    from pgx_pipeline.phenotype import assign_phenotypes
    from tests.phenotype.calls_frame import call, calls_frame
    from tests.report.conftest import _row, genotype_rows

    shutil.copytree(kb_dir, root / "knowledge")
    read = lambda name, table: schema.read_table(kb_dir / name, table)  # noqa: E731
    functions = read("allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS)
    diplotypes = read("diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES)
    calls = calls_frame([call("P1", "CYP2D6", "*1/*1"), call("P1", "CYP2C19", "*2/*2"), call("P1", "CYP2C9", "*1/*1"),
                         call("P1", "ABCG2", "rs2231142 reference (G)/rs2231142 reference (G)")])
    phen = assign_phenotypes(calls, functions, diplotypes)
    guid = match_guidance(phen, read("guidance.parquet", schema.KB_GUIDANCE), read("messages.parquet", schema.KB_MESSAGES),
                          reference_gene_keys(read("genes.parquet", schema.KB_GENES), functions, diplotypes))
    meta = {"input_id": INPUT}
    group = sharding.ingest_dir(root, INPUT) / "genes-0"
    schema.write_table(pd.DataFrame([_row(schema.SAMPLES, sample_id="P1", input_id=INPUT, source_file="p1.vcf.gz",
                                          absent_is_reference=False, status="ok")]),
                       group / "part-000.samples.parquet", schema.SAMPLES, meta)
    schema.write_table(pd.DataFrame(genotype_rows("P1"), columns=schema.GENOTYPES.column_names),
                       group / "part-000.genotypes.parquet", schema.GENOTYPES, meta)
    for stage, table, df in (("calls", schema.CALLS, calls), ("phenotypes", schema.PHENOTYPES, phen),
                             ("guidance", schema.GUIDANCE, guid)):
        schema.write_table(df, sharding.stage_file(root, stage, INPUT, "part-000"), table, meta)


def _probe(page, tmp_path):
    """The page with a measuring script (test copy only: its CSP is dropped): where the gene table and the act list
    sit in a 1280x800 window, and each drug section's labels."""
    html = page.read_text(encoding="utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    probe = """<script>
    var r = function (sel) { var e = document.querySelector(sel); return e ? e.getBoundingClientRect() : null; };
    var out = {gene_bottom: r('#gene-overview').bottom, act_top: r('#act-table').top,
               act_row1_top: r('#act-table tbody tr').top, width: window.innerWidth,
               drugs: {}};
    document.querySelectorAll('article.drug').forEach(function (a) {
      out.drugs[a.dataset.drug] = {label: a.querySelector('h3 .tl').className,
                                   rows: Array.from(a.querySelectorAll('.guideline')).map(function (g) {
                                     return [g.dataset.source, g.dataset.priority, g.textContent.replace(/\\s+/g, ' ')]; })};
    });
    var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
    </script></body>"""
    copy = tmp_path / "probe.html"
    copy.write_text(html.replace("</body>", probe), encoding="utf-8")
    dom, _ = _open(copy, tmp_path, "--dump-dom", "--window-size=1280,800")
    import html as html_lib
    import json

    return json.loads(html_lib.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1)))


def test_first_screen_and_safety_labels_in_the_browser(tmp_path, kb_dir):
    root = tmp_path / "results"
    _real_patient(root, kb_dir)
    render_reports(root, INPUT, root / "reports", report_date="2026-01-31")
    got = _probe(root / "reports" / "P1.html", tmp_path)
    # Headless Chromium lays the page out 1280 px wide (its innerHeight under --dump-dom is not the window's, so the
    # 800 px screen is the window size, as --screenshot renders it). The first screen holds the whole gene table
    # and the act list with its first drug.
    assert got["width"] == 1280, got
    assert got["gene_bottom"] <= 800 and got["act_top"] < got["act_row1_top"] <= 800 - 60, got
    drugs = got["drugs"]
    # HLA-B never typed: allopurinol and phenytoin are not green, whatever DPWG's ABCG2/CYP2C9 rows say.
    assert drugs["allopurinol"]["label"] == "tl tl-incomplete"
    assert "tl-standard" not in drugs["phenytoin"]["label"] and "tl-standard" not in drugs["fosphenytoin"]["label"]
    assert any("order HLA-B typing" in row[2] for row in drugs["phenytoin"]["rows"])
    # CYP2D6 *1/*1 from the SNV VCF: every codeine row says copy number was not tested and what it would change.
    assert drugs["codeine"]["label"] == "tl tl-incomplete"
    for source, priority, text in drugs["codeine"]["rows"]:
        assert priority != "standard", (source, text)
        assert "CYP2D6 copy number was not tested" in text and "*1/*1x2" in text and "*1/*5" in text, text
        assert "morphine toxicity" in text
    # DPWG 'avoid clopidogrel' for a CYP2C19 poor metabolizer is Act.
    dpwg = [row for row in drugs["clopidogrel"]["rows"] if row[0] == "DPWG"]
    assert dpwg and all(row[1] == "act" for row in dpwg), dpwg
    assert drugs["clopidogrel"]["label"] == "tl tl-act"
