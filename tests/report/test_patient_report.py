"""The patient report says the right thing in the right row, escapes what comes from outside, and loads nothing."""

from __future__ import annotations

import json
import re
import stat

import pytest
from markupsafe import escape

from pgx_pipeline import sharding
from pgx_pipeline.calling.outside import read_outside_calls
from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.report import render_reports, safe_filename, write_cohort_outputs
from tests.report.conftest import CLOPIDOGREL_PM_IM, CYP2B6_TIED, HOSTILE, INPUT, Page, prediction, write_results

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
    html, page, _ = _page(out, names, "PGX01")
    rows = page.table(id="act-table")
    header, body = rows[0], rows[1:]
    assert header == ["Priority", "Drug", "Based on", "What the guidelines say"]
    # One row per drug, labelled by its strongest row; CPIC and DPWG are sub-lines of it.
    assert [r[1] for r in body].count("clopidogrel") == 1
    clopidogrel = page.row([r[1:] for r in body], "clopidogrel")
    assert clopidogrel[1] == "CYP2C19 *2/*17 (Intermediate Metabolizer)"
    assert clopidogrel[2].startswith(f"CPIC (Strong) Act: {CLOPIDOGREL_PM_IM}")
    # DPWG states no strength: its row is Act because its flagged advice directs another drug or dose.
    assert "DPWG Act: Choose an alternative or double the dose." in clopidogrel[2]
    assert body[[r[1] for r in body].index("clopidogrel")][0] == "Act"
    # The reference genotype's advice is not "actionable", although CPIC flags it "dosing information".
    assert not [r for r in body if r[1] == "simvastatin"]
    # fosphenytoin's CPIC advice was written for an untested HLA-B: Act, and the row says HLA-B is missing.
    fos = page.row([r[1:] for r in body], "fosphenytoin")
    assert fos[1] == "CYP2C9 *1/*3 (Intermediate Metabolizer); HLA-B not assessed"
    assert "Incomplete: HLA-B not assessed: order HLA-B typing." in fos[2]
    assert 'href="#drug-clopidogrel"' in html and 'id="drug-clopidogrel"' in html
    gaps = page.table(caption="Incomplete: drugs whose guideline needs a gene without a usable result")
    assert page.row([r[1:] for r in gaps[1:]], "CYP2D6") == [
        "CYP2D6", "Not called", "Order CYP2D6 genotyping that includes copy number", "codeine"]
    # fosphenytoin has CPIC's advice for an untested HLA-B (Act), and HLA-B still lists it: the same drugs as
    # "What was NOT assessed" says for HLA-B.
    assert page.row([r[1:] for r in gaps[1:]], "HLA-B") == [
        "HLA-B", "Not assessed", "Order HLA-B typing", "abacavir, fosphenytoin"]
    assert "HLA-B: HLA alleles cannot be typed" in page.text
    assert "Drugs concerned: abacavir, fosphenytoin." in page.text


def test_reference_advice_flagged_dosing_is_standard_not_act(rendered):
    # The atomoxetine row carries CPIC's dosing flag and a Moderate strength, which alone would read "Act"; the
    # guidance stage found it is what a patient with reference genotypes gets.
    out, names = rendered
    _, page, data = _page(out, names, HOSTILE)
    assert data["summary"]["actions"] == [] and "Drugs to act on (" not in page.text
    atomoxetine = next(d for d in data["drugs"] if d["drug"] == "atomoxetine")
    assert atomoxetine["priority"] == "standard" and atomoxetine["guidelines"][0]["dosing_information"] is True
    assert atomoxetine["guidelines"][0]["same_as_reference"] is True
    # Unknown stays unknown in the JSON (a row the guidance stage could not compare is not "different").
    clopidogrel = next(d for d in data["drugs"] if d["drug"] == "clopidogrel")
    assert clopidogrel["guidelines"][0]["same_as_reference"] is None


def test_advice_given_without_a_full_genotype_is_listed_and_says_so(rendered):
    out, names = rendered
    html, page, _ = _page(out, names, "PGX01")
    body = page.table(id="act-table")[1:]
    assert [r[0] for r in body if r[1] == "fosphenytoin"] == ["Act"]
    section = html[html.index('id="drug-fosphenytoin"'):]
    section = section[:section.index("</article>")]
    assert "Genotype note:" in section and "advice for an untested HLA-B" in section


def test_ambiguous_genotype_lists_each_candidates_advice_and_asks_to_confirm(rendered):
    out, names = rendered
    html, page, data = _page(out, names, "PGX01")
    body = page.table(id="act-table")[1:]
    rows = [r for r in body if r[1] == "sertraline"]
    # The drug is "Confirm genotype", not "Act"; each candidate's advice is a sub-line saying which it is for.
    assert [r[0] for r in rows] == ["Confirm genotype"]
    assert "CPIC (Moderate) Confirm genotype: Initiate therapy with recommended starting dose. …" in rows[0][3]
    assert "advice if CYP2B6 is Intermediate Metabolizer (*1/*6)" in rows[0][3]
    assert "if CYP2B6 is Normal Metabolizer (*4/*9)" in rows[0][3]
    assert rows[0][2] == "CYP2B6 *1/*6 or *4/*9 (Indeterminate: candidates differ (see note))"
    section = html[html.index('id="drug-sertraline"'):]
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
    assert page.row(none, "efavirenz")[3].startswith(f"Incomplete {CYP2B6_TIED}. No single recommendation: genotype ambiguous")


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
    assert "No dose estimate: age, height and weight are missing from the sample sheet." in page.text


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
        actions = page.table(id="act-table") if data["summary"]["actions"] else []
        got = [(r[0], r[1]) for r in actions[1:]]
        assert got == [(a["priority_label"], a["drug"]) for a in data["summary"]["actions"]]
        for row, a in zip(actions[1:], data["summary"]["actions"]):
            for line in a["lines"]:
                # A "confirm genotype" line says which candidate genotype its advice is for.
                assert line["advice"] in row[3] and (line["reason"] or "") in row[3]
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
    summary = page.table(id="act-table")
    clopi_rows = [r for r in summary if r[1] == "clopidogrel"]
    assert len(clopi_rows) == 1
    assert f"{extra['source'].iloc[0]} (Strong), pediatrics Act: Pediatric: use an alternative agent." in clopi_rows[0][3]


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


def test_a_grch37_input_says_so_with_what_could_not_be_lifted(results, tmp_path):
    """The build line and the ingestion notes of a GRCh37 input: lifted, and each unlifted position with its reason."""
    from pgx_pipeline import schema

    path = sharding.group_files(results, INPUT, "part-000", "samples")[0]
    samples = schema.read_table(path, schema.SAMPLES)
    unlifted = "CYP2C19 rs4244285 (chr10:94781859 GRCh38): in no GRCh38->GRCh37 chain block"
    samples["input_build"] = "GRCh37"
    samples["unlifted_positions"] = [[unlifted]] * len(samples)
    schema.write_table(samples, path, schema.SAMPLES)
    render_reports(results, INPUT, tmp_path / "r", report_date=DATE)
    page = Page((tmp_path / "r" / "PGX01.html").read_text(encoding="utf-8"))
    assert "Build GRCh37 input, lifted to GRCh38 (1 position(s) could not be lifted: missing)" in page.text
    assert f"Not lifted from GRCh37 (missing): {unlifted}" in page.text


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

    from pgx_pipeline.report.context import GenotypeRows, _matching

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
    rows = GenotypeRows(geno.assign(sample_id="S"))
    by_gene = {g["gene"]: {r["position"]: r for r in g["positions"]}
               for g in _matching(rows, rows.sample_codes("S"), {}, calls.to_dict("records"))}
    assert by_gene["CYP2C19"][94842866]["observed"] == "absent: read as reference"
    assert not by_gene["CYP2C19"][94842866]["missing"]
    assert by_gene["CYP2D6"][42130692]["observed"] == "—"
    assert by_gene["CYP2D6"][42130692]["missing"]


def test_no_machine_paths_or_fallback_lists_on_the_page(results, tmp_path):
    """The knowledge folders are named by their PROVENANCE.md (title, upstream commit), never by a machine path;
    a stale folder reads as 'guideline texts from the 2024-05 release'."""
    from pgx_pipeline import schema

    current, stale = tmp_path / "mirrors" / "pharmcat", tmp_path / "mirrors" / "pharmcat-stale-fallback"
    current.mkdir(parents=True)
    stale.mkdir()
    (current / "PROVENANCE.md").write_text(
        "# Provenance: PharmGKB/PharmCAT data files (v3.1.1)\n\n- Commit: `5431bf1187e50383df7e7db18ef67b36fc8b562e` "
        "(2025-11-19, \"build\")\n")
    (stale / "PROVENANCE.md").write_text(
        "# Provenance: OLDER PharmGKB/PharmCAT data (stale fallback, NOT v3.1.1)\n\n| here | commit |\n|---|---|\n"
        "| `reporter/guidelines/*.json` | `30f8cfb7b3d71f6b579212f8161689e5f7dc2e63` (2024-05-29; last commit) |\n")
    path = results / "knowledge" / "genes.parquet"
    schema.write_table(schema.read_table(path, schema.KB_GENES), path, schema.KB_GENES,
                       {"data_version": "2025-11-05-00-25", "source": f"{current};{stale}",
                        "stale_files": "118 files in reporter/guidelines/"})
    render_reports(results, INPUT, tmp_path / "r", report_date=DATE)
    write_cohort_outputs(results, [INPUT], tmp_path / "r", report_date=DATE)
    for page_path in (tmp_path / "r" / "PGX01.html", tmp_path / "r" / "cohort_summary.html",
                      tmp_path / "r" / "PGX01.json"):
        html = page_path.read_text(encoding="utf-8")
        assert str(tmp_path) not in html and "/mirrors/" not in html, page_path.name
        assert "fallback" not in html.lower() and "stale" not in html.lower(), page_path.name
    page = Page((tmp_path / "r" / "PGX01.html").read_text(encoding="utf-8"))
    assert "CPIC and DPWG, data release 2025-11-05-00-25; guideline texts from the 2024-05 release" in page.text
    assert ("knowledge base: data release 2025-11-05-00-25; PharmGKB/PharmCAT data files (v3.1.1), upstream commit "
            "5431bf1 (2025-11); guideline texts from the 2024-05 release (upstream commit 30f8cfb)") in page.text


def test_upstream_messages_never_cite_sections_or_tools_the_report_lacks(kb_dir):
    """Every message of the real knowledge base, as the report shows it."""
    from pgx_pipeline import schema
    from pgx_pipeline.report.context import clinical_message

    messages = schema.read_table(kb_dir / "messages.parquet", schema.KB_MESSAGES)["message"]
    shown = [clinical_message(m) for m in messages]
    assert any("HLA-B*15:02" in m for m in shown) and any("RYR1" in m for m in shown)
    for text in shown:
        assert "section III" not in text and "Named Allele Matcher" not in text, text
        assert "RYR1:Unknown/Unknown" not in text and "PharmCAT disclaimer" not in text, text
        # Whatever still speaks of PharmCAT says it is PharmCAT's note.
        assert "PharmCAT" not in text or text.startswith("Note from PharmCAT: "), text


def test_no_sample_sheet_reads_as_a_plain_reason(results, tmp_path):
    from pgx_pipeline import schema

    path = sharding.stage_file(results, "predictions", INPUT, "part-000")
    pred = schema.read_table(path, schema.PREDICTIONS)
    pred["reasons"] = [["missing: sample sheet (config sample_sheet) with age, height_cm, weight_kg, race, "
                        "amiodarone, enzyme_inducer"]] * len(pred)
    pred["status"] = "not_predicted"
    schema.write_table(pred, path, schema.PREDICTIONS)
    render_reports(results, INPUT, tmp_path / "r", report_date=DATE)
    page = Page((tmp_path / "r" / "PGX01.html").read_text(encoding="utf-8"))
    assert ("No dose estimate: the patient's age, height, weight, race, amiodarone use, enzyme-inducer use were not "
            "supplied with this run (no sample sheet), and the model needs them.") in page.text
    assert "config sample_sheet" not in page.text


def test_warfarin_section_states_cpic_advice_and_the_model_limits(results, tmp_path, kb_dir):
    """CPIC's warfarin guidance is an algorithm (no genotype lookup): the report says what it advises instead of
    'No recommendation for this genotype', and the model's limits stand next to its estimate."""
    import pandas as pd

    from pgx_pipeline import schema
    from pgx_pipeline.guidance import match_guidance
    from pgx_pipeline.phenotype import assign_phenotypes
    from tests.phenotype.calls_frame import call, calls_frame

    read = lambda name, table: schema.read_table(kb_dir / name, table)  # noqa: E731
    # Every gene of CPIC's warfarin guideline called: a missing one would be the reason given instead (issue 19).
    phen = assign_phenotypes(calls_frame([call("PGX01", "CYP2C9", "*1/*3"), call("PGX01", "CYP4F2", "*1/*1"),
                                          call("PGX01", "VKORC1", "rs9923231 reference (C)/rs9923231 variant (T)")]),
                             read("allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS),
                             read("diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES))
    staged = match_guidance(phen, read("guidance.parquet", schema.KB_GUIDANCE), read("messages.parquet", schema.KB_MESSAGES))
    cpic = staged[(staged["drug"] == "warfarin") & (staged["source"] == "CPIC")]
    assert cpic["status"].tolist() == ["no_recommendation"]  # as the guidance stage writes it

    path = sharding.stage_file(results, "guidance", INPUT, "part-000")
    guid = schema.read_table(path, schema.GUIDANCE)
    guid = guid[~((guid["sample_id"] == "PGX01") & (guid["drug"] == "warfarin"))]
    schema.write_table(pd.concat([guid, cpic], ignore_index=True), path, schema.GUIDANCE)
    render_reports(results, INPUT, tmp_path / "r", report_date=DATE)
    html = (tmp_path / "r" / "PGX01.html").read_text(encoding="utf-8")
    section = Page(html[html.index('id="s-warfarin"'):html.index('id="s-matching"')]).text
    assert "No recommendation for this genotype" not in section
    assert "Advice given as a dosing algorithm, not by genotype" in section
    assert "validated pharmacogenetic dosing algorithm that uses the CYP2C9 and VKORC1 genotypes" in section
    assert "Limits of this model:" in section and "Black or African American" in section
    assert "model/warfarin/model_card.html in the results folder" in section


def test_cpic_population_codes_read_in_plain_words():
    from pgx_pipeline.report.context import population_text

    # the codes of the published CPIC phenytoin and clopidogrel guidelines
    assert population_text("PHT use >3mos") == "taking phenytoin for more than 3 months"
    assert population_text("CVI ACS PCI").startswith("cardiovascular indication: acute coronary syndrome")
    assert population_text("general") is None and population_text("adults") == "adults"


def test_a_gene_not_called_does_not_claim_a_call_assumption(rendered):
    out, names = rendered
    _, page, data = _page(out, names, "PGX01")
    cyp2d6 = next(g for g in data["genes"] if g["gene"] == "CYP2D6")
    assert cyp2d6["status"] == "not_called"
    missing_note = next(n for n in cyp2d6["notes"] if "had no usable genotype" in n)
    assert "the call assumes" not in missing_note
    assert "No diplotype could be called" in " ".join(cyp2d6["notes"])


def test_each_page_shows_its_own_guideline_rows_when_patients_share_a_process(tmp_path):
    """Guideline rows are rendered once per distinct row and reused: two patients with different clopidogrel advice,
    written by one job in both orders, each get their own advice and never the other's."""
    standard = "If considering clopidogrel, use at standard dose (75 mg/day)."
    for order in (("A", "B"), ("B", "A")):
        pictures = {"A": "pgx01", "B": "outside"}
        root = write_results(tmp_path / "".join(order) / "results", {s: pictures[s] for s in order})
        out = tmp_path / "".join(order) / "reports"
        render_reports(root, INPUT, out, report_date="2026-01-01")
        a, b = (out / "A.html").read_text(), (out / "B.html").read_text()
        assert str(escape(CLOPIDOGREL_PM_IM)) in a and standard not in a
        assert standard in b and str(escape(CLOPIDOGREL_PM_IM)) not in b
