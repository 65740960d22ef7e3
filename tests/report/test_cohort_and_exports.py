"""Cohort summary (small at 3,202 samples, searchable, escaped), PharmCAT calls-only TSV and safe file names."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from pgx_pipeline import schema, sharding
from pgx_pipeline.report import safe_filename, safe_filenames, write_cohort_outputs
from pgx_pipeline.report.exports import CALLS_ONLY_COLUMNS
from tests.report.conftest import HOSTILE, INPUT, Page, call, guide, phen, write_kb

DATE = "2025-01-31"
PHENOS = ["Normal Metabolizer", "Intermediate Metabolizer", "Poor Metabolizer", "Rapid Metabolizer"]
GENES = ["ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP2D6", "CYP3A4", "CYP3A5", "CYP4F2", "DPYD",
         "G6PD", "IFNL3", "NAT2", "NUDT15", "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1"]


# ---------------------------------------------------------------- cohort summary
def test_cohort_summary_counts_links_and_failures(results):
    out = results / "reports"
    html_path, tsv_path = write_cohort_outputs(results, [INPUT], out, report_date=DATE)
    html = html_path.read_text(encoding="utf-8")
    page = Page(html)
    assert "3 (2 analysed, 1 failed)" in page.text
    genes = page.table(id="gene-table")
    assert genes[0] == ["Gene", "Called", "Ambiguous", "Outside call", "Not called", "Not assessed"]
    assert page.row(genes, "CYP2B6")[1:] == ["0", "1", "0", "0", "0"]
    assert page.row(genes, "CYP2D6")[1:] == ["0", "0", "1", "1", "0"]
    fails = page.table(id="failure-table")
    assert page.row(fails, "no genotype at any allele-defining position")[1:] == ["1", "BAD1"]
    assert "CYP2C19 phenotype frequencies" in html and "Intermediate Metabolizer" in page.text
    rows = json.loads(re.search(r'<script type="application/json" id="sample-data">(.*?)</script>', html, re.S).group(1))
    by_id = {r[0]: r for r in rows}
    assert by_id["PGX01"][2] == f"{INPUT}/PGX01.html" and by_id["PGX01"][4] == 3  # clopidogrel, warfarin, fosphenytoin: act
    assert by_id["PGX01"][8] == 1 and by_id[HOSTILE][8] == 0  # sertraline: CYP2B6 ambiguous, one candidate changes it
    assert by_id[HOSTILE][2] == f"{INPUT}/{safe_filename(HOSTILE)}.html"
    assert by_id["BAD1"][3] == "failed"
    # The hostile id travels as JSON inside a script element: it must not be able to close it.
    assert HOSTILE not in html
    assert html.count("</script>") == 2
    assert not [a for t, a in page.tags if "src" in a or t in ("link", "img")]


def _big_cohort(root, n: int) -> None:
    samples, calls, phens, guids = [], [], [], []
    for i in range(n):
        sid = f"HG{i:05d}" if i % 500 else f"<b>odd/{i}</b>"
        failed = i % 997 == 5
        samples.append({c: None for c in schema.SAMPLES.column_names} | dict(
            sample_id=sid, input_id=INPUT, source_file="panel.vcf.gz", absent_is_reference=False,
            status="failed" if failed else "ok", error="GT field missing" if failed else None))
        if failed:
            continue
        for k, gene in enumerate(GENES):
            if (i + k) % 53 == 0:
                calls.append(call(sid, gene, None, status="not_called", n=0))
                phens.append(phen(sid, gene, None, None, status="not_called"))
                continue
            calls.append(call(sid, gene, "*1/*2"))
            phens.append(phen(sid, gene, "*1/*2", PHENOS[(i * 7 + k) % 4]))
        guids.append(guide(sid, "clopidogrel", "CPIC", ["CYP2C19"], "matched", recommendation="Use an alternative.",
                           classification="Strong", alternate=i % 3 == 0))
        guids.append(guide(sid, "codeine", "CPIC", ["CYP2D6"], "no_recommendation", reason="none"))
    meta = {"input_id": INPUT}
    # Two sample parts, as the workflow cuts a cohort: the summary must add them up.
    half = len(samples) // 2
    for part, rows in (("part-000", samples[:half]), ("part-001", samples[half:])):
        ids = {r["sample_id"] for r in rows}
        schema.write_table(pd.DataFrame(rows), sharding.ingest_dir(root, INPUT) / "genes-0" / f"{part}.samples.parquet",
                           schema.SAMPLES, meta)
        for stage, table, frame in (("calls", schema.CALLS, calls), ("phenotypes", schema.PHENOTYPES, phens),
                                    ("guidance", schema.GUIDANCE, guids)):
            df = pd.DataFrame(frame)
            schema.write_table(df[df["sample_id"].isin(ids)], sharding.stage_file(root, stage, INPUT, part), table, meta)
    write_kb(root)


@pytest.mark.slow
def test_cohort_summary_for_3202_samples_stays_small(tmp_path):
    root = tmp_path / "results"
    _big_cohort(root, 3202)
    html_path, tsv_path = write_cohort_outputs(root, [INPUT], root / "reports", report_date=DATE)
    size = html_path.stat().st_size
    print(f"cohort_summary.html for 3,202 samples: {size:,} bytes")
    assert size < 2_000_000
    html = html_path.read_text(encoding="utf-8")
    assert "3202 (3198 analysed, 4 failed)" in Page(html).text
    assert html.count("<tr") < 200  # aggregated tables; the per-sample list is paged by script, not a wall
    assert "<b>odd/" not in html
    assert len(tsv_path.read_text().splitlines()) == 2 + 3198 * len(GENES)
    # The cohort came in two sample parts: each patient's link points into its part's report folder.
    rows = json.loads(re.search(r'<script type="application/json" id="sample-data">(.*?)</script>', html, re.S).group(1))
    by_id = {r[0]: r for r in rows}
    assert len(by_id) == 3202
    assert by_id["HG00001"][2] == f"{INPUT}/part-000/HG00001.html"
    assert by_id["HG03201"][2] == f"{INPUT}/part-001/HG03201.html"


# ---------------------------------------------------------------- calls-only TSV
def test_calls_only_tsv_follows_pharmcat_layout(results):
    _, tsv = write_cohort_outputs(results, [INPUT], results / "reports", report_date=DATE)
    lines = tsv.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("pgx-pipeline ")
    assert lines[1].split("\t") == CALLS_ONLY_COLUMNS
    rows = [dict(zip(CALLS_ONLY_COLUMNS, ln.split("\t"))) for ln in lines[2:]]
    assert all(len(ln.split("\t")) == len(CALLS_ONLY_COLUMNS) for ln in lines[2:])
    got = {(r["Sample ID"], r["Gene"]): r for r in rows}
    c19 = got[("PGX01", "CYP2C19")]
    assert (c19["Source Diplotype"], c19["Phenotype"], c19["Haplotype 1"], c19["Haplotype 1 Function"],
            c19["Haplotype 2"], c19["Outside Call"], c19["Missing positions"]) == (
        "*2/*17", "Intermediate Metabolizer", "*2", "No function", "*17", "no", "no")
    assert c19["Recommendation Lookup Phenotype"] == "Intermediate Metabolizer"
    c9 = got[("PGX01", "CYP2C9")]
    assert (c9["Activity Score"], c9["Haplotype 1 Activity Value"], c9["Haplotype 2 Activity Value"]) == ("1.0", "1.0", "0.0")
    b6 = got[("PGX01", "CYP2B6")]
    assert b6["Source Diplotype"] == "*1/*6 OR *4/*9"
    assert b6["Phenotype"] == "Intermediate Metabolizer / Normal Metabolizer"
    assert b6["Haplotype 1"] == "" and b6["Recommendation Lookup Diplotype"] == ""
    d6 = got[("PGX01", "CYP2D6")]
    assert d6["Source Diplotype"] == "no call" and d6["Missing positions"] == "yes"
    out = got[(HOSTILE, "CYP2D6")]
    assert (out["Source Diplotype"], out["Outside Call"], out["Phenotype"], out["Activity Score"]) == (
        "*1/*5", "yes", "Intermediate Metabolizer", "1.0")
    assert not [k for k in got if k[0] == "BAD1"]


# ---------------------------------------------------------------- file names
@pytest.mark.parametrize("sample_id", [
    "../../etc/passwd", "a/b", "..", ".", "", "x\x00y", "tab\there", "new\nline", "C:\\win", "  ", "é", "CON",
    HOSTILE, "a" * 500,
])
def test_safe_filename_is_a_plain_stem(sample_id):
    name = safe_filename(sample_id)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), name
    assert ".." not in name and len(name) <= 80
    assert safe_filename(sample_id) == name  # stable


def test_safe_filename_keeps_plain_ids_and_separates_lookalikes():
    assert safe_filename("NA12878") == "NA12878" and safe_filename("HG00096.1_a-b") == "HG00096.1_a-b"
    ids = ["a/b", "a:b", "a_b", "a b", "a\tb"]
    assert len({safe_filename(i) for i in ids}) == len(ids)


def test_safe_filenames_unique_on_case_insensitive_filesystems():
    names = safe_filenames(["Sample1", "sample1", "OTHER"])
    assert len({n.casefold() for n in names.values()}) == 3
    assert names["OTHER"] == "OTHER"
