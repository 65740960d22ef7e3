"""The patient report says the right thing in the right row, escapes what comes from outside, and loads nothing."""

from __future__ import annotations

import json
import re
import stat

import pytest

from pgx_pipeline import sharding
from pgx_pipeline.calling.outside import read_outside_calls
from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.report import render_reports, safe_filename
from tests.report.conftest import CLOPIDOGREL_PM_IM, HOSTILE, INPUT, Page, prediction, write_results

DATE = "2025-01-31"


@pytest.fixture
def rendered(results):
    out = results / "reports" / INPUT  # the workflow's layout: the model card link is relative to it
    names = render_reports(results, INPUT, out, report_date=DATE)
    return out, names


def _page(out, names, sample):
    html = (out / f"{names[sample]}.html").read_text(encoding="utf-8")
    return html, Page(html), json.loads((out / f"{names[sample]}.json").read_text(encoding="utf-8"))


def test_header_names_sample_versions_build_and_absent_policy(rendered):
    out, names = rendered
    _, page, _ = _page(out, names, "PGX01")
    text = page.text
    for expected in ("PGX01", DATE, "GRCh38", "cohort.vcf.gz", "2025-06-01", "pharmcat-data-v3.1.1",
                     "treated as missing"):
        assert expected in text
    from pgx_pipeline import __version__
    assert f"pgx-pipeline {__version__}" in text


def test_summary_lists_clopidogrel_as_act_with_text_label(rendered):
    out, names = rendered
    _, page, _ = _page(out, names, "PGX01")
    rows = page.table(caption="Results that change or may change prescribing")
    header, body = rows[0], rows[1:]
    assert header == ["Priority", "Drug", "Gene(s)", "Phenotype", "What to do", "Strength", "Source"]
    cpic = [r for r in body if r[1] == "clopidogrel" and r[6] == "CPIC"]
    assert cpic == [["Act", "clopidogrel", "CYP2C19", "CYP2C19: Intermediate Metabolizer", CLOPIDOGREL_PM_IM,
                     "Strong", "CPIC"]]
    # The reference genotype's advice is not "actionable", although CPIC flags it "dosing information".
    assert not [r for r in body if r[1] == "simvastatin"]
    gaps = page.table(caption="Drugs without a recommendation")
    assert page.row([r[1:] for r in gaps[1:]], "CYP2D6") == ["CYP2D6", "Not called", "codeine"]
    assert page.row([r[1:] for r in gaps[1:]], "HLA-B") == ["HLA-B", "Not assessed", "abacavir"]


def test_reference_advice_flagged_dosing_is_standard_not_act(rendered):
    # The atomoxetine row carries CPIC's dosing flag and a Moderate strength, which alone would read "Act"; the
    # guidance stage found it is what a patient with reference genotypes gets.
    out, names = rendered
    _, page, data = _page(out, names, HOSTILE)
    assert data["summary"]["actions"] == [] and "Results that change or may change prescribing" not in page.text
    atomoxetine = next(d for d in data["drugs"] if d["drug"] == "atomoxetine")
    assert atomoxetine["priority"] == "standard" and atomoxetine["guidelines"][0]["dosing_information"] is True
    assert atomoxetine["guidelines"][0]["same_as_reference"] is True
    # Unknown stays unknown in the JSON (a row the guidance stage could not compare is not "different").
    clopidogrel = next(d for d in data["drugs"] if d["drug"] == "clopidogrel")
    assert clopidogrel["guidelines"][0]["same_as_reference"] is None


def test_advice_given_without_a_full_genotype_is_listed_and_says_so(rendered):
    out, names = rendered
    html, page, _ = _page(out, names, "PGX01")
    body = page.table(caption="Results that change or may change prescribing")[1:]
    assert [r[0] for r in body if r[1] == "fosphenytoin" and r[6] == "CPIC"] == ["Act"]
    section = html[html.index('data-drug="fosphenytoin"'):]
    section = section[:section.index("</article>")]
    assert "Genotype note:" in section and "advice for an untested HLA-B" in section


def test_ambiguous_genotype_lists_each_candidates_advice_and_asks_to_confirm(rendered):
    out, names = rendered
    html, page, data = _page(out, names, "PGX01")
    body = page.table(caption="Results that change or may change prescribing")[1:]
    rows = [r for r in body if r[1] == "sertraline"]
    # Only the candidate whose advice changes prescribing is listed, as "Confirm genotype", not "Act".
    assert [r[0] for r in rows] == ["Confirm genotype"]
    assert "advice if CYP2B6 is Intermediate Metabolizer (*1/*6)" in rows[0][4]
    section = html[html.index('data-drug="sertraline"'):]
    section = section[:section.index("</article>")]
    assert section.count("Possible recommendation, genotype ambiguous:") == 2
    assert "if CYP2B6 is Normal Metabolizer (*4/*9)" in section
    assert next(d for d in data["drugs"] if d["drug"] == "sertraline")["priority"] == "confirm"


def test_genotype_table_rows(rendered):
    out, names = rendered
    _, page, _ = _page(out, names, "PGX01")
    rows = page.table(id="genotype-table")
    assert rows[0][:6] == ["Gene", "Diplotype", "Allele functions", "Phenotype", "Activity score", "Call status"]
    c19 = page.row(rows, "CYP2C19")
    assert c19[1:6] == ["*2/*17", "No function; Increased function", "Intermediate Metabolizer", "—", "Called"]
    c9 = page.row(rows, "CYP2C9")
    assert c9[1] == "*1/*3" and c9[4] == "1.0"
    b6 = page.row(rows, "CYP2B6")
    assert b6[1] == "*1/*6 or *4/*9"
    assert b6[5] == "Ambiguous (2 candidates)"
    assert b6[3].startswith("Indeterminate")
    d6 = page.row(rows, "CYP2D6")
    assert d6[1] == "—" and d6[5] == "Not called"


def test_footnotes_explain_ambiguity_missing_unphased_and_not_assessed(rendered):
    out, names = rendered
    _, page, _ = _page(out, names, "PGX01")
    text = page.text
    assert "2 diplotypes fit the data equally well: *1/*6 (Intermediate Metabolizer); *4/*9 (Normal Metabolizer)" in text
    assert "2 allele-defining position(s) had no usable genotype (42,127,941, 42,128,945)" in text
    assert "Unphased data: 2 heterozygous positions" in text
    assert re.search(r"HLA-B: HLA alleles cannot be typed .* NOT assessed", text)
    assert "Copy number (whole-gene deletion *5" in text


def test_guidance_by_drug_and_drugs_without_guidance(rendered):
    out, names = rendered
    html, page, _ = _page(out, names, "PGX01")
    assert 'data-drug="clopidogrel"' in html
    assert "Implications: CYP2C19: Reduced platelet inhibition" in page.text
    none = page.table(id="no-guidance-table")
    assert page.row(none, "phenytoin")[1:] == ["DPWG", "CYP2C9",
                                              "No recommendation for this genotype: no DPWG recommendation for this genotype"]
    assert page.row(none, "efavirenz")[3].startswith("No single recommendation: genotype ambiguous")


def test_warfarin_model_estimate_is_labelled_with_bar_dose_interval_and_card(rendered):
    out, names = rendered
    html, page, _ = _page(out, names, "PGX01")
    section = html[html.index('id="warfarin-model"'):html.index("Allele-matching details")]
    assert "MODEL ESTIMATE" in section and "not a guideline recommendation" in section
    assert "31.5 mg/week" in section and "21.0–45.5 mg/week" in section
    assert "<svg" in section and "intermediate: 70% (predicted)" in section
    assert 'href="../../model/warfarin/model_card.html"' in section
    assert "Calculate the dose with a validated pharmacogenetic algorithm." in section


def test_warfarin_dose_and_class_in_different_classes_is_said(tmp_path, rendered):
    out, names = rendered
    consistent, _, _ = _page(out, names, "PGX01")  # 31.5 mg/week and class intermediate agree
    assert 'id="warfarin-boundary"' not in consistent
    root = tmp_path / "boundary"
    write_results(root, {"PGX01": "pgx01"}, predictions=[prediction("PGX01", dose=21.8, predicted_class="low")])
    names = render_reports(root, INPUT, root / "reports", report_date=DATE)
    _, page, data = _page(root / "reports", names, "PGX01")
    assert data["models"][0]["model"]["dose_band"] == "intermediate"
    assert ("Near a class boundary: the dose estimate falls in the intermediate class while the class "
            "probabilities lean low") in page.text
    assert "Dose class: low (low <= 21 mg/week; intermediate > 21 and < 49 mg/week; high >= 49 mg/week" in page.text


def test_warfarin_not_predicted_gives_reason(rendered):
    out, names = rendered
    _, page, _ = _page(out, names, HOSTILE)
    assert "Not predicted. Reason: age, height and weight are missing from the sample sheet." in page.text


def test_matching_details_collapsed_and_print_css(rendered):
    out, names = rendered
    html, page, _ = _page(out, names, "PGX01")
    details = [a for t, a in page.tags if t == "details"]
    assert details and all("open" not in a for a in details)
    rows = page.table(caption="CYP2C19 allele-defining positions")
    assert page.row(rows, "chr10:94781859")[1:3] == ["rs4244285", "G/A"]
    assert page.row(rows, "chr10:94852738")[-1] == "missing"
    assert "@media print" in html and "@page" in html and "details::details-content" in html
    assert 'addEventListener("beforeprint"' in html


def test_hostile_sample_id_is_text_and_not_a_path(rendered):
    out, names = rendered
    stem = names[HOSTILE]
    assert stem == safe_filename(HOSTILE) and "/" not in stem and "<" not in stem
    html, page, data = _page(out, names, HOSTILE)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE in page.text
    assert [t for t, _ in page.tags].count("script") == 1  # our print helper only
    assert data["header"]["sample_id"] == HOSTILE


def test_no_external_resource_is_loaded(rendered):
    out, names = rendered
    for sample in ("PGX01", HOSTILE, "BAD1"):
        html, page, _ = _page(out, names, sample)
        for tag, attrs in page.tags:
            assert tag not in ("link", "img", "iframe", "object", "embed", "base"), tag
            if "src" in attrs:
                raise AssertionError(f"{tag} loads {attrs['src']}")
            if "href" in attrs and re.match(r"(?i)\s*(https?:)?//", attrs["href"]):
                assert tag == "a", f"{tag} links out to {attrs['href']}"
        assert not re.search(r"@import|url\(", html)
        csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
        assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_semantic_tables_have_scoped_headers_and_ordered_headings(rendered):
    out, names = rendered
    html, page, _ = _page(out, names, "PGX01")
    ths = [a for t, a in page.tags if t == "th"]
    assert ths and all(a.get("scope") in ("col", "row") for a in ths)
    levels = [int(t[1]) for t, _ in page.tags if re.fullmatch(r"h[1-6]", t)]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:]))
    assert '<html lang="en">' in html


def test_json_says_what_the_html_says(rendered):
    out, names = rendered
    for sample in ("PGX01", HOSTILE):
        html, page, data = _page(out, names, sample)
        rows = page.table(id="genotype-table")
        for g in data["genes"]:
            row = page.row(rows, g["gene"])
            if g["status"] != "ambiguous":
                assert row[1] == (g["diplotype"] or "—")
            assert row[3] == (g["phenotype"] or "—")
            assert row[5].startswith(g["status_label"])
        actions = page.table(caption="Results that change") if data["summary"]["actions"] else []
        got = sorted((r[1], r[6], r[4]) for r in actions[1:])
        # A "confirm genotype" row says under its advice which candidate genotype it is for.
        said = [(a["drug"], a["source"], a["recommendation"] + (a["reason"] if a["priority"] == "confirm" else ""))
                for a in data["summary"]["actions"]]
        assert got == sorted(said)
        assert data["header"]["report_date"] == DATE


def test_json_is_deterministic(results, tmp_path):
    a = render_reports(results, INPUT, tmp_path / "a", report_date=DATE)
    render_reports(results, INPUT, tmp_path / "b", report_date=DATE)
    for stem in a.values():
        for ext in (".json", ".html"):
            assert (tmp_path / "a" / f"{stem}{ext}").read_bytes() == (tmp_path / "b" / f"{stem}{ext}").read_bytes()
    text = (tmp_path / "a" / "PGX01.json").read_text()
    assert json.loads(text) and list(json.loads(text)) == sorted(json.loads(text))


def test_failed_sample_report_says_it_failed(rendered):
    out, names = rendered
    _, page, data = _page(out, names, "BAD1")
    assert "This sample could not be analysed. Reason: no genotype at any allele-defining position" in page.text
    assert data["header"]["status"] == "failed"


def test_files_are_not_world_readable_and_no_temp_files_remain(rendered):
    out, _ = rendered
    for f in out.iterdir():
        assert not f.name.startswith("."), f
        assert stat.S_IMODE(f.stat().st_mode) == 0o640


def test_outside_call_tsv_round_trips_through_our_reader(rendered):
    out, names = rendered
    path = out / f"{names[HOSTILE]}.outside_calls.tsv"
    calls = {c.gene: c for c in read_outside_calls(path, [HOSTILE])}
    assert calls["CYP2C19"].diplotype == "*1/*1" and calls["CYP2C19"].phenotype == "Normal Metabolizer"
    assert calls["CYP2D6"].diplotype == "*1/*5" and calls["CYP2D6"].activity_score == "1.0"
    pgx01 = (out / "PGX01.outside_calls.tsv").read_text()
    assert "CYP2B6" not in pgx01 and "CYP2D6" not in pgx01  # ambiguous / not called never become facts


def test_bad_report_date_is_a_user_error(results, tmp_path):
    with pytest.raises(PgxInputError, match="not a date"):
        render_reports(results, INPUT, tmp_path / "x", report_date="31/01/2025")


def test_missing_stage_table_is_a_user_error(results, tmp_path):
    sharding.stage_file(results, "guidance", INPUT, "part-000").unlink()
    with pytest.raises(PgxInputError, match="guidance table not found"):
        render_reports(results, INPUT, tmp_path / "x", report_date=DATE)


def test_summary_names_the_population_when_a_drug_has_rows_for_several(results, tmp_path):
    """Two recommendations for one drug that differ only by population must not look like a contradiction."""
    import pandas as pd

    from pgx_pipeline import schema

    path = sharding.stage_file(results, "guidance", INPUT, "part-000")
    guid = schema.read_table(path, schema.GUIDANCE)
    clopi = guid[(guid["sample_id"] == "PGX01") & (guid["drug"] == "clopidogrel") & (guid["status"] == "matched")]
    assert len(clopi) >= 1
    extra = clopi.iloc[[0]].assign(population="pediatrics", recommendation="Pediatric: use an alternative agent.")
    schema.write_table(pd.concat([guid, extra], ignore_index=True), path, schema.GUIDANCE)
    render_reports(results, INPUT, tmp_path / "r", report_date=DATE)
    page = Page((tmp_path / "r" / "PGX01.html").read_text(encoding="utf-8"))
    summary = page.table(caption="Results that change")
    clopi_rows = [r for r in summary if r[1].startswith("clopidogrel") and r[-1] == extra["source"].iloc[0]]
    assert len(clopi_rows) == 2
    assert sorted(r[1] for r in clopi_rows) == ["clopidogrel", "clopidogrelpopulation: pediatrics"]


def test_ingestion_notes_are_on_the_report(results, tmp_path):
    """What ingestion read differently (here: haploid calls on an autosome) is said to the clinician, not only logged."""
    from pgx_pipeline import schema

    path = sharding.group_files(results, INPUT, "part-000", "samples")[0]
    samples = schema.read_table(path, schema.SAMPLES)
    note = "haploid genotype(s) on autosomal CYP2C19 (3): read as missing; check the caller's ploidy setting"
    samples["notes"] = [[note]] * len(samples)
    schema.write_table(samples, path, schema.SAMPLES)
    render_reports(results, INPUT, tmp_path / "r", report_date=DATE)
    page = Page((tmp_path / "r" / "PGX01.html").read_text(encoding="utf-8"))
    assert f"How the input file was read: {note}" in page.text


def test_every_model_gets_its_own_section_in_its_own_unit(tmp_path):
    root = tmp_path / "two_models"
    write_results(root, {"PGX01": "pgx01"}, predictions=[
        prediction("PGX01"), prediction("PGX01", drug="tacrolimus", dose=6.2, unit="mg/day")])
    names = render_reports(root, INPUT, root / "reports", report_date=DATE)
    html, _, data = _page(root / "reports", names, "PGX01")
    assert [m["drug"] for m in data["models"]] == ["tacrolimus", "warfarin"]
    tac = html[html.index('id="tacrolimus-model"'):html.index('id="s-warfarin"')]
    assert "6.2 mg/day" in tac and "mg/week" not in tac
    assert "No tacrolimus guideline row for this patient." in tac
    assert "31.5 mg/week" in html[html.index('id="warfarin-model"'):]


def test_a_model_switched_off_since_its_card_was_written_is_said_not_run(tmp_path):
    # results/ still holds an earlier warfarin card, but this input's predictions are empty (no model enabled).
    root = tmp_path / "off"
    write_results(root, {"PGX01": "pgx01"}, predictions=[])
    card = root / "model" / "warfarin" / "model_card.html"
    card.parent.mkdir(parents=True)
    card.write_text("<html></html>")
    names = render_reports(root, INPUT, root / "reports", report_date=DATE)
    _, page, data = _page(root / "reports", names, "PGX01")
    assert [m["drug"] for m in data["models"]] == ["warfarin"]
    assert "Not predicted: the warfarin model was not run for this input." in page.text


def test_no_model_no_model_section(tmp_path):
    root = tmp_path / "none"
    write_results(root, {"PGX01": "pgx01"}, predictions=[])
    names = render_reports(root, INPUT, root / "reports", report_date=DATE)
    html, _, data = _page(root / "reports", names, "PGX01")
    assert data["models"] == [] and "MODEL ESTIMATE" not in html and "Model estimates (" not in html


def test_cftr_is_named_by_its_variants_as_pharmcat_reports_it(kb_dir):
    from pgx_pipeline import schema
    from pgx_pipeline.report.context import CFTR_REFERENCE, _shown_diplotype

    genes = schema.read_table(kb_dir / "genes.parquet", schema.KB_GENES).set_index("gene")
    assert genes.at["CFTR", "reference_allele"] == CFTR_REFERENCE  # the knowledge base still names it so
    ref = CFTR_REFERENCE
    assert _shown_diplotype("CFTR", f"{ref}/{ref}") == "No CPIC variants found"
    assert _shown_diplotype("CFTR", f"{ref}/G551D") == "G551D (heterozygous)"
    assert _shown_diplotype("CFTR", "G551D/G551D") == "G551D (homozygous)"
    assert _shown_diplotype("CFTR", "F508del(CTT)/G551D") == "F508del(CTT)/G551D"
    assert _shown_diplotype("CYP2C19", "*1/*2") == "*1/*2"


def test_absent_positions_of_an_unread_gene_region_are_not_shown_as_reference():
    """An input declared absent-is-reference whose file has no record in a gene's region (a single-gene VCF, or
    another build): the call reads those positions as missing, and the evidence table must say so too."""
    import pandas as pd

    from pgx_pipeline.report.context import _matching

    geno = pd.DataFrame({
        "gene": ["CYP2C19", "CYP2C19", "CYP2D6"], "position": [94781859, 94842866, 42130692],
        "chromosome": ["chr10", "chr10", "chr22"], "state": ["called", "absent", "absent"],
        "allele1": ["G", None, None], "allele2": ["A", None, None], "phased": [True, False, False],
        "depth": [None, None, None], "filter": ["PASS", None, None],
    })
    calls = pd.DataFrame({  # the calling stage's verdicts: CYP2D6's region was never read
        "gene": ["CYP2C19", "CYP2D6"], "rank": [1, 1], "candidate": [1, 1], "missing_positions": [[], [42130692]],
        "absent_is_reference": [True, True],
    })
    by_gene = {g["gene"]: {r["position"]: r for r in g["positions"]} for g in _matching(geno, {}, calls)}
    assert by_gene["CYP2C19"][94842866]["observed"] == "absent: read as reference"
    assert not by_gene["CYP2C19"][94842866]["missing"]
    assert by_gene["CYP2D6"][42130692]["observed"] == "—"
    assert by_gene["CYP2D6"][42130692]["missing"]
