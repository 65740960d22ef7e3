"""FDA rows in the patient report, its JSON and the cohort summary: a sub-line under the drug, labelled by content.

The FDA rows are made by the real matcher (pgx_pipeline.fda_guidance) from the real knowledge table, on the report
fixtures' phenotypes (PGX01: CYP2C19 *2/*17 intermediate, CYP2C9 *1/*3, CYP2D6 not called, HLA-B not typed).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pgx_pipeline import schema, sharding
from pgx_pipeline.fda_guidance import NOT_EVALUATED_TEXT, match_fda
from pgx_pipeline.report import render_reports, write_cohort_outputs
from tests.conftest import FDA_TABLE
from tests.report.conftest import INPUT, Page, write_results

DATE = "2025-01-31"
pytestmark = pytest.mark.skipif(not FDA_TABLE.is_file(), reason=f"FDA table not found at {FDA_TABLE}")


@pytest.fixture
def rendered(tmp_path, kb_dir):
    root = write_results(tmp_path / "results", {"PGX01": "pgx01"})
    part = sharding.stage_file(root, "guidance", INPUT, "part-000")
    phen = schema.read_table(sharding.stage_file(root, "phenotypes", INPUT, "part-000"), schema.PHENOTYPES)
    fda = schema.read_table(kb_dir / "fda_associations.parquet", schema.KB_FDA_ASSOCIATIONS)
    guid = pd.concat([schema.read_table(part, schema.GUIDANCE), match_fda(phen, fda)], ignore_index=True)
    schema.write_table(guid, part, schema.GUIDANCE, schema.read_metadata(part))
    out = root / "reports" / INPUT
    names = render_reports(root, INPUT, out, report_date=DATE)
    html = (out / f"{names['PGX01']}.html").read_text(encoding="utf-8")
    return root, html, json.loads((out / f"{names['PGX01']}.json").read_text(encoding="utf-8"))


def _guideline(ctx: dict, drug: str, source: str = "FDA") -> list[dict]:
    (d,) = [d for d in ctx["drugs"] if d["drug"] == drug]
    return [g for g in d["guidelines"] if g["source"] == source]


def test_fda_sub_line_under_the_drug_with_verbatim_text(rendered):
    _, html, ctx = rendered
    (clopi,) = _guideline(ctx, "clopidogrel")
    assert clopi["status"] == "matched" and clopi["priority"] == "consider" and clopi["fda_section"] == 1
    assert clopi["recommendation"].startswith("Results in lower systemic active metabolite concentrations")
    assert "FDA affected subgroup: intermediate or poor metabolizers (this patient is in it)" in Page(html).text
    (d,) = [d for d in ctx["drugs"] if d["drug"] == "clopidogrel"]
    assert [g["source"] for g in d["guidelines"]] == ["CPIC", "DPWG", "FDA"]  # the FDA line comes last
    assert d["priority"] == "act"  # CPIC's Strong alternative-drug advice still decides the drug's label


def test_fda_labels_by_content(rendered):
    _, _, ctx = rendered
    # One summary row per drug; each source's advice is a sub-line with its own label.
    actions = {(a["drug"], line["source"]): line["priority"] for a in ctx["summary"]["actions"] for line in a["lines"]}
    assert actions[("celecoxib", "FDA")] == "consider"  # *3 carrier, not a poor metabolizer
    assert actions[("clopidogrel", "FDA")] == "consider"
    (diaz,) = _guideline(ctx, "diazepam")  # section 3, poor metabolizers only: an intermediate is not in it
    assert diaz["status"] == "not_matched" and diaz["priority"] == "none"
    (dex,) = _guideline(ctx, "dexlansoprazole")  # section 3, intermediate or poor: info, not in the summary
    assert dex["status"] == "matched" and dex["priority"] == "info"
    assert ("dexlansoprazole", "FDA") not in actions


def test_not_evaluated_rows_say_see_label(rendered):
    _, html, ctx = rendered
    for drug in ("abacavir", "mivacurium", "codeine"):
        for g in _guideline(ctx, drug):
            assert g["reason"].startswith(NOT_EVALUATED_TEXT), (drug, g)
            # Never green, never raising the drug: a gene without a result is Incomplete, a wording the mapping
            # cannot settle for this genotype gives no label of its own.
            assert g["priority"] == ("incomplete" if g["status"] in ("gene_not_called", "gene_not_assessed") else "none")
    assert "FDA: see label, not evaluated for this genotype" in html
    # Genes the pipeline never calls are listed as not assessed, with their drugs.
    not_assessed = {n["gene"]: n["drugs"] for n in ctx["not_assessed"]}
    assert not_assessed["BCHE"] == ["mivacurium", "succinylcholine"]


def test_cohort_summary_counts_fda_rows(rendered, tmp_path):
    root, _, _ = rendered
    html_path, _ = write_cohort_outputs(root, [INPUT], root / "reports", report_date=DATE)
    page = Page(html_path.read_text(encoding="utf-8"))
    assert "FDA Table of Pharmacogenetic Associations: patients per row" in page.text
    rows = page.table(id="fda-table")
    assert rows[0] == ["Drug", "FDA row", "Section", "Matched", "of which Act", "Not matched", "Not evaluated"]
    clopi = page.row(rows[1:], "clopidogrel")
    assert clopi[2:] == ["1", "1", "0", "0", "0"]  # PGX01 (CYP2C19 intermediate) is in the subgroup; consider
    diaz = page.row(rows[1:], "diazepam")
    assert diaz[2:] == ["3", "0", "0", "1", "0"]
    assert page.row(rows[1:], "abacavir")[2:] == ["1", "0", "0", "0", "1"]
