"""FHIR Genomics Reporting export (report/fhir.py): validity, round trip, ambiguity, absence and stable ids.

Real data: the bundled samples (with their outside calls) and 30 samples of the 1000 Genomes GRCh38 panel are run
through ingestion, calling, phenotype and guidance in process against the real knowledge base (the `kb_dir`
session fixture), then every sample's report context is exported. Expectations come from the report context (the
same dict the report JSON is), from the IG's published codes, and from the FHIR models of `fhir.resources` R4B,
never from the exporter itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pgx_pipeline import sharding
from pgx_pipeline.report import fhir
from pgx_pipeline.report.context import load_input_tables, sample_contexts
from tests.conftest import PANEL38, REPO, panel_slice
from tests.report.conftest import HOSTILE, write_results

SAMPLES = REPO / "data" / "sample_vcfs"
DATE = "2026-01-01"
PANEL_GENES = ["ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP2D6", "CYP3A4", "CYP3A5", "CYP4F2",
               "G6PD", "IFNL3", "NAT2", "NUDT15", "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1"]
IG = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/"


def _stage(root: Path, kb_dir: Path, input_id: str, vcfs: list[Path], *, absent_is_reference: bool,
           outside: Path | None = None, strip_phase: bool = False) -> Path:
    """Ingest, call, phenotype and guidance of one input in the workflow's results layout (one part).

    `strip_phase` rewrites the ingested genotypes as unphased (what an unphased VCF of the same samples gives)."""
    from pgx_pipeline.calling.call import call_input
    from pgx_pipeline.calling.outside import read_outside_calls
    from pgx_pipeline.guidance import run_guidance_stage
    from pgx_pipeline.ingest.vcf import ingest_vcf
    from pgx_pipeline.phenotype import run_phenotype_stage

    root.mkdir(parents=True)
    (root / "knowledge").symlink_to(kb_dir, target_is_directory=True)
    ingest_vcf(vcfs, kb_dir, sharding.ingest_dir(root, input_id) / "genes-0", input_id=input_id,
               absent_is_reference=absent_is_reference, n_parts=1)
    part = "part-000"
    if strip_phase:
        import pandas as pd

        from pgx_pipeline import schema

        for path in sharding.group_files(root, input_id, part, "genotypes"):
            geno = pd.read_parquet(path).assign(phased=False, phase_set=None)
            schema.write_table(geno, path, schema.GENOTYPES, schema.read_metadata(path))
    samples = sharding.group_files(root, input_id, part, "samples")
    ids = list(sharding.read_samples(samples)["sample_id"])
    oc = read_outside_calls(outside, ids) if outside else []
    calls = sharding.stage_file(root, "calls", input_id, part)
    calls.parent.mkdir(parents=True)
    call_input(sharding.group_files(root, input_id, part, "genotypes"), samples, kb_dir, calls, outside_calls=oc)
    for stage in ("phenotypes", "guidance"):
        sharding.stage_file(root, stage, input_id, part).parent.mkdir(parents=True)
    run_phenotype_stage(calls, kb_dir, sharding.stage_file(root, "phenotypes", input_id, part))
    run_guidance_stage(sharding.stage_file(root, "phenotypes", input_id, part), kb_dir,
                       sharding.stage_file(root, "guidance", input_id, part))
    return root


@pytest.fixture(scope="module")
def bundled(kb_dir, tmp_path_factory) -> list[dict]:
    root = _stage(tmp_path_factory.mktemp("fhir-bundled") / "results", kb_dir, "bundled",
                  [SAMPLES / "bundled_samples.vcf.gz"], absent_is_reference=False,
                  outside=SAMPLES / "bundled_outside_calls.tsv")
    return list(sample_contexts(load_input_tables(root, "bundled"), report_date=DATE))


@pytest.fixture(scope="module")
def panel_vcfs(tmp_path_factory) -> list[Path]:
    """30 samples of the 1000 Genomes panel, every 100th of its 3,202, all pharmacogenes the panel holds."""
    if not PANEL38.is_dir():
        pytest.skip(f"1000 Genomes panel not found at {PANEL38}")
    work = tmp_path_factory.mktemp("fhir-panel-vcfs")
    names = subprocess.run(["bcftools", "query", "-l", str(PANEL38 / "CYP2C19.vcf.gz")], capture_output=True,
                           text=True, check=True).stdout.split()
    chosen = names[::100][:30]
    assert len(chosen) == 30
    return panel_slice(chosen, PANEL_GENES, work)


@pytest.fixture(scope="module")
def panel(kb_dir, panel_vcfs, tmp_path_factory) -> list[dict]:
    root = _stage(tmp_path_factory.mktemp("fhir-panel") / "results", kb_dir, "panel", panel_vcfs,
                  absent_is_reference=True)
    return list(sample_contexts(load_input_tables(root, "panel"), report_date=DATE))


def _resources(bundle: dict, rtype: str, profile: str | None = None) -> list[dict]:
    out = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]
    if profile:
        out = [r for r in out if IG + profile in r.get("meta", {}).get("profile", [])]
    return out


def _component(res: dict, system: str, code: str) -> list[dict]:
    return [c for c in res.get("component", []) if any(cd["system"] == system and cd["code"] == code
                                                       for cd in c["code"]["coding"])]


def _check_bundle(ctx: dict) -> dict:
    """Validate with fhir.resources R4B, then the IG rules the export claims; returns the bundle as JSON data."""
    text = fhir.bundle_json(ctx)
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate_json(text)  # raises on any invalid element
    b = json.loads(text)
    urls = [e["fullUrl"] for e in b["entry"]]
    assert len(set(urls)) == len(urls)
    assert all(u == f"urn:uuid:{e['resource']['id']}" for u, e in zip(urls, b["entry"]))
    # Nothing outside the bundle: every reference anywhere resolves to an entry.
    refs = [m for m in _walk_refs(b)]
    assert refs and all(r in urls for r in refs), [r for r in refs if r not in urls]
    (report,) = _resources(b, "DiagnosticReport", "genomic-report")
    assert report["code"]["coding"][0] == {"system": "http://loinc.org", "code": "51969-4",
                                           "display": "Genetic analysis report"}
    assert {"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"} in report["category"][0]["coding"]
    observations = _resources(b, "Observation")
    assert {r["reference"] for r in report.get("result", [])} == {f"urn:uuid:{o['id']}" for o in observations}
    for o in observations:  # GenomicBase: laboratory + GE categories on every genomic observation
        codes = {(c["coding"][0]["system"].rsplit("/", 1)[-1], c["coding"][0]["code"]) for c in o["category"]}
        assert {("observation-category", "laboratory"), ("v2-0074", "GE")} <= codes
    for o in _resources(b, "Observation", "genotype"):
        assert o["code"]["coding"][0]["code"] == "84413-4" and o["valueCodeableConcept"]["text"]
        assert _component(o, "http://loinc.org", "48018-6")
    for o in _resources(b, "Observation", "therapeutic-implication"):
        assert o["code"]["coding"][0]["code"] == "therapeutic-implication"
        assert o["derivedFrom"], "the IG requires derivedFrom 1..*"
        assert "valueCodeableConcept" not in o
    for t in _resources(b, "Task", "medication-recommendation"):
        assert (t["status"], t["intent"]) == ("requested", "proposal")
        if "code" in t:
            assert t["code"]["coding"][0]["code"] == "LA26421-0"
    return b


def _walk_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference":
                yield v
            else:
                yield from _walk_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk_refs(v)


def _check_round_trip(ctx: dict, bundle: dict) -> None:
    """Parse the bundle back and compare with the report context (= the report JSON)."""
    back = fhir.read_back(json.dumps(bundle))
    for g in ctx["genes"]:
        got = back["genes"][g["gene"]]
        assert got["status_label"] == g["status_label"], g["gene"]
        if g["status"] in ("called", "outside_call"):
            assert got["value"] == g["diplotype"]
            assert got["candidates"] == []
            if g["phenotype"]:
                assert got["phenotypes"] == {None: {"phenotype": g["phenotype"], "activity_score": g["activity_score"],
                                                    "derived_from": got["phenotypes"][None]["derived_from"]}}
            else:
                assert got["phenotypes"] == {}
        elif g["status"] == "ambiguous":
            assert g["diplotype"] is None
            assert got["candidates"] == [c["diplotype"] for c in g["candidates"]]
            assert {k: (v["phenotype"], v["activity_score"]) for k, v in got["phenotypes"].items()} == {
                c["diplotype"]: (c["phenotype"], c["activity_score"]) for c in g["candidates"] if c["phenotype"]}
        else:
            assert "value" not in got and got["phenotypes"] == {}
        assert got["notes"][: len(g["notes"])] == g["notes"]
    assert set(back["drugs"]) == {d["drug"] for d in ctx["drugs"]}
    for d in ctx["drugs"]:
        got = back["drugs"][d["drug"]]
        want = [{"source": gl["source"], "url": gl["url"], "recommendation": gl["recommendation"],
                 "strength": gl["classification"], "phenotypes": gl["phenotypes"], "status": gl["status"],
                 "priority": gl["priority"], "priority_label": gl["priority_label"]} for gl in d["guidelines"]]
        assert [{k: v for k, v in x.items() if k != "derived_from"} for x in got] == want, d["drug"]
        assert all(x["derived_from"] and set(x["derived_from"]) == {"Observation"} for x in got)


# ---------------------------------------------------------------- synthetic report tables (fast, every picture)
def test_synthetic_pictures_validate_and_round_trip(tmp_path):
    root = write_results(tmp_path / "results", {"PGX01": "pgx01", HOSTILE: "normal"},
                         failed={"BAD1": "no genotype at any allele-defining position"})
    contexts = list(sample_contexts(load_input_tables(root, "batch1"), report_date=DATE))
    by_id = {c["header"]["sample_id"]: c for c in contexts}
    for ctx in contexts:
        _check_round_trip(ctx, _check_bundle(ctx))
    b = _check_bundle(by_id["PGX01"])
    # the ambiguous CYP2B6: both candidates, neither picked, each with its own phenotype
    (geno,) = [o for o in _resources(b, "Observation", "genotype") if o["valueCodeableConcept"]["text"].startswith("CYP2B6")]
    assert geno["valueCodeableConcept"]["text"] == "CYP2B6 *1/*6 or *4/*9"
    assert geno["interpretation"][0]["coding"][0]["code"] == "IND"
    assert [c["valueCodeableConcept"]["text"] for c in _component(geno, "http://loinc.org", "84413-4")] == ["*1/*6", "*4/*9"]
    phen = [o for o in _resources(b, "Observation", "therapeutic-implication")
            if not _component(o, "http://loinc.org", "51963-7")
            and _component(o, "http://loinc.org", "48018-6")[0]["valueCodeableConcept"]["coding"][0]["display"] == "CYP2B6"]
    assert sorted(p["component"][0]["valueCodeableConcept"]["text"] for p in phen) == ["Intermediate Metabolizer",
                                                                                        "Normal Metabolizer"]
    # LOINC answer codes from the IG's GeneticTherapeuticImplicationsVS
    assert {p["component"][0]["valueCodeableConcept"]["coding"][0]["code"] for p in phen} == {"LA10317-8", "LA25391-6"}
    # HLA-B never typed: an explicit not-assessed statement, and abacavir's implication derives from it
    (hla,) = [o for o in _resources(b, "Observation") if o.get("dataAbsentReason")
              and _component(o, "http://loinc.org", "48018-6")[0]["valueCodeableConcept"]["coding"][0]["code"] == "HGNC:4932"]
    assert hla["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert "NOT assessed" in hla["note"][0]["text"]
    (report,) = _resources(b, "DiagnosticReport")
    notes = [x["valueAnnotation"]["text"] for x in report["extension"] if x["url"].endswith("genomic-report-note")]
    assert any(n.startswith("NOT ASSESSED: HLA-B") for n in notes)
    assert any(n.startswith("NOT ASSESSED: CYP2D6 structural variants") for n in notes)
    # clopidogrel CPIC (Strong, another drug) -> a MedicationRecommendation coded "Consider alternative medication"
    tasks = _resources(b, "Task", "medication-recommendation")
    clopi = [t for t in tasks if t["description"].startswith("clopidogrel (CPIC)")]
    assert len(clopi) == 1 and clopi[0]["code"]["coding"][0]["code"] == "LA26421-0"
    # simvastatin is the reference patient's advice: an implication, no task
    assert not [t for t in tasks if t["description"].startswith("simvastatin")]
    # the failed sample: a cancelled report saying why, no genotype
    bad = _check_bundle(by_id["BAD1"])
    (report,) = _resources(bad, "DiagnosticReport")
    assert report["status"] == "cancelled" and "no genotype at any allele-defining position" in report["conclusion"]
    assert not _resources(bad, "Observation", "genotype")


def test_ids_are_stable_and_bundles_byte_identical_across_runs(tmp_path):
    texts = []
    for run in ("a", "b"):
        root = write_results(tmp_path / run / "results", {"PGX01": "pgx01", "PGX02": "normal"})
        texts.append([fhir.bundle_json(c) for c in sample_contexts(load_input_tables(root, "batch1"), report_date=DATE)])
    assert texts[0] == texts[1]
    # ...and ids differ between patients: a (input, sample) pair, never a name alone
    ids = [{e["resource"]["id"] for e in json.loads(t)["entry"]} for t in texts[0]]
    assert not ids[0] & ids[1]
    root = write_results(tmp_path / "other-input" / "results", {"PGX01": "pgx01"}, input_id="batch2")
    (other,) = [fhir.bundle_json(c) for c in sample_contexts(load_input_tables(root, "batch2"), report_date=DATE)]
    assert not {e["resource"]["id"] for e in json.loads(other)["entry"]} & ids[0]


def test_cli_writes_fhir_beside_the_reports(tmp_path):
    root = write_results(tmp_path / "results", {"PGX01": "pgx01", HOSTILE: "normal"})
    out = tmp_path / "reports"
    exe = str(Path(sys.executable).parent / "pgx-pipeline")
    for cmd in (["report", "patients", "--fhir"], ["report", "fhir"]):
        dest = out / cmd[1]
        proc = subprocess.run([exe, *cmd, "--results", str(root), "--input-id", "batch1", "--out", str(dest),
                               "--report-date", DATE], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in (out / "fhir").glob("*.fhir.json"))
    assert written == sorted(p.name for p in (out / "patients").glob("*.fhir.json"))
    assert "PGX01.fhir.json" in written and len(written) == 2  # the hostile id gets a safe file name
    for name in written:
        assert (out / "fhir" / name).read_bytes() == (out / "patients" / name).read_bytes()
        assert (out / "patients" / name.replace(".fhir.json", ".html")).is_file()


def test_the_validator_rejects_what_the_models_reject_even_after_a_valid_lookalike(tmp_path):
    from pydantic import ValidationError

    root = write_results(tmp_path / "results", {"PGX01": "pgx01", "PGX02": "pgx01"})
    a, b = [fhir.build_bundle_dict(c) for c in sample_contexts(load_input_tables(root, "batch1"), report_date=DATE)]
    validator = fhir.Validator()
    validator(a)
    validator(b)  # the same resources but for ids and references: valid, and from the cache
    bad = json.loads(json.dumps(b))
    geno = next(e["resource"] for e in bad["entry"] if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "84413-4")
    geno["effectiveDateTime"] = "2026-13-01"
    with pytest.raises(ValidationError):
        validator(bad)
    bad = json.loads(json.dumps(b))
    bad["entry"][0]["resource"]["identifier"][0]["value"] = ""  # FHIR strings are never empty
    with pytest.raises(ValidationError):
        validator(bad)
    bad = json.loads(json.dumps(b))
    bad["type"] = " collection"  # a FHIR code has no leading space: the bundle's own elements are checked too
    with pytest.raises(ValidationError):
        validator(bad)
    bad = json.loads(json.dumps(b))
    bad["entry"][-1]["fullUrl"] = 5  # not a URI: each entry's fullUrl is checked, not only those of UUID form
    with pytest.raises(ValidationError):
        validator(bad)
    # Free texts are validated once per form (masked as "x"): a text the models reject is never masked away, nor
    # is a sample id (the Patient's identifier value) the models reject.
    for bad_text in ("", "\x0b", "\u00a0\u2003"):
        bad = json.loads(json.dumps(b))
        geno = next(e["resource"] for e in bad["entry"]
                    if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "84413-4")
        geno["code"]["coding"][0]["display"] = bad_text
        with pytest.raises(ValidationError):
            validator(bad)
        bad = json.loads(json.dumps(b))
        bad["entry"][0]["resource"]["identifier"][0]["value"] = bad_text
        with pytest.raises(ValidationError):
            validator(bad)
    assert validator.validated < 2 * len(a["entry"])  # b came from the cache


def test_written_json_is_what_the_models_serialise(tmp_path):
    """The file is written from the validated dict; the R4B model's own serialisation says the same."""
    from fhir.resources.R4B.bundle import Bundle

    root = write_results(tmp_path / "results", {"PGX01": "pgx01"})
    (ctx,) = sample_contexts(load_input_tables(root, "batch1"), report_date=DATE)
    text = fhir.bundle_json(ctx)
    assert json.loads(Bundle.model_validate_json(text).model_dump_json(exclude_none=True)) == json.loads(text)


def test_bundle_text_is_the_bundle_dumped_byte_for_byte(tmp_path):
    """bundle_json assembles each resource from texts made once (guideline parts, codes, the patient reference):
    the result must be json.dumps of the same bundle, also for texts JSON must escape, and again from the cache."""
    root = write_results(tmp_path / "results", {"PGX01": "pgx01"})
    (ctx,) = sample_contexts(load_input_tables(root, "batch1"), report_date=DATE)
    ctx["drugs"][0]["guidelines"][0]["recommendation"] = 'Say "no"\n\\ é \u2028 \x07 end'
    for _ in range(2):
        text = fhir.bundle_json(ctx)
        assert text == json.dumps(fhir.build_bundle_dict(ctx), ensure_ascii=False, separators=(",", ":")) + "\n"
    assert 'Say \\"no\\"\\n' in text


def test_resource_text_equals_json_dumps_for_every_kind_of_value():
    shared = fhir._SHARED.add([{"text": 'a "quoted"\nline é'}])
    resource = {"id": "x", "resourceType": "Observation", "conclusion": 'Say "no" \\ é \u2028 \x07', "n": 3,
                "flag": True, "none": None, "note": shared, "category": fhir.CATEGORIES, "component": [{"x": "ü"}]}
    bundle_texts: dict[int, str] = {}
    for _ in range(2):
        assert fhir._resource_json(resource, bundle_texts) == fhir._dumps(resource)


def test_patients_sharing_guideline_rows_are_validated_once_and_a_bad_row_is_still_refused(tmp_path):
    """Implications and recommendations made from one shared guideline row are validated once per job; a row whose
    text the models refuse is refused on its first patient."""
    from pydantic import ValidationError

    root = write_results(tmp_path / "results", {"A": "pgx01", "B": "pgx01"})
    a, b = sample_contexts(load_input_tables(root, "batch1"), report_date=DATE)
    validator = fhir.Validator()
    fhir.bundle_json(a, validator)
    after_a = validator.validated
    fhir.bundle_json(b, validator)
    # B's resources are A's but for ids, references and texts: its Patient (the sample id is a free text) and its
    # report (the same notes, one result per entry) are not validated again.
    assert after_a > 0 and validator.validated == after_a

    root = write_results(tmp_path / "bad", {"A": "pgx01"})
    (ctx,) = sample_contexts(load_input_tables(root, "batch1"), report_date=DATE)
    ctx["drugs"][0]["guidelines"][0]["status"] = "matched  twice"  # a FHIR code has no double space
    with pytest.raises(ValidationError):
        fhir.bundle_json(ctx, validator)


def test_the_report_form_read_from_a_short_copy_is_the_whole_reports(tmp_path):
    """The report's key for the validator is its canonical form read from a copy with one result and one
    recommended action: the same as the whole report's, with and without actions, the hostile id among them."""
    root = write_results(tmp_path / "results", {"A": "pgx01", HOSTILE: "pgx01", "C": "normal"})
    most = 0
    for ctx in sample_contexts(load_input_tables(root, "batch1"), report_date=DATE):
        forms: dict[int, tuple] = {}
        bundle = fhir.build_bundle_dict(ctx, forms)
        (i,) = [i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "DiagnosticReport"]
        report = bundle["entry"][i]["resource"]
        actions = [x for x in report["extension"] if x["url"] == fhir.EXT_RECOMMENDED_ACTION]
        most = max(most, len(actions))
        assert len(report["result"]) > 1
        assert forms[i] == ("report", fhir._digest(fhir._canonical(report)))
    assert most > 1  # runs of actions too


def test_fast_ids_are_uuid5_of_input_sample_and_key():
    """_Ids hashes from a digest of the namespace and the patient's prefix: the same strings as uuid.uuid5."""
    import uuid

    keys = ["patient", "bundle", "genotype/CYP2C19", "implication/warfarin/CPIC/0", "", "é/漢字/\u2028/\x1f",
            "k" * 300]
    patients = [("GRCh38", "HG00096"), ("batch1", HOSTILE), ("ïnput", "NA-é漢字 \t\u00a0"), ("", "")]
    for input_id, sample_id in patients:
        ids = fhir._Ids(input_id, sample_id)
        for key in keys:
            want = str(uuid.uuid5(fhir.NAMESPACE, f"{input_id}\x1f{sample_id}\x1f{key}"))
            assert ids(key) == want and ids(key) == want  # computed, then cached
    with pytest.raises(UnicodeEncodeError):  # uuid5's strict UTF-8: a lone surrogate is refused, not hashed
        fhir._Ids("batch1", "bad\ud800")


def test_shared_rows_written_from_templates_are_their_dicts_dumped(tmp_path):
    """A shared guideline row's implication and recommendation, once their form was validated, are written from a
    template: for each patient (the hostile id among them), first and repeated use, the bundle is json.dumps of the
    dict-built bundle; and the template path is really taken."""
    root = write_results(tmp_path / "results", {"A": "pgx01", "B": "pgx01", HOSTILE: "pgx01", "C": "normal"})
    contexts = list(sample_contexts(load_input_tables(root, "batch1"), report_date=DATE))
    validator = fhir.Validator()
    for _ in range(2):
        for ctx in contexts:
            text = fhir.bundle_json(ctx, validator)
            assert text == json.dumps(fhir.build_bundle_dict(ctx), ensure_ascii=False, separators=(",", ":")) + "\n"
    forms: dict[int, tuple] = {}
    bundle, from_templates = fhir._build(contexts[1], forms, validator.knows)
    assert bundle["entry"][1]["resource"]["resourceType"] == "DiagnosticReport"  # keyed by its form, made fresh
    assert from_templates and set(from_templates) == set(forms) - {1}
    assert all(bundle["entry"][i]["resource"] is None for i in from_templates)


def test_a_row_text_that_reads_as_a_template_slot_is_still_written_right(tmp_path):
    root = write_results(tmp_path / "results", {"A": "pgx01"})
    (ctx,) = sample_contexts(load_input_tables(root, "batch1"), report_date=DATE)
    for gl in (g for d in ctx["drugs"] for g in d["guidelines"]):
        gl["recommendation"] = "see \x000\x00 and \\u00001\\u0000 100%"
    validator = fhir.Validator()
    for _ in range(2):  # the second time from the validator's cache: the template is refused, the dicts are written
        text = fhir.bundle_json(ctx, validator)
        assert text == json.dumps(fhir.build_bundle_dict(ctx), ensure_ascii=False, separators=(",", ":")) + "\n"


# ---------------------------------------------------------------- real data
@pytest.mark.slow
def test_bundled_samples_validate_and_round_trip(bundled):
    statuses = set()
    for ctx in bundled:
        b = _check_bundle(ctx)
        _check_round_trip(ctx, b)
        statuses |= {g["status"] for g in ctx["genes"]}
    # the bundled set exercises an outside call and a gene without a call
    assert {"called", "outside_call"} <= statuses


@pytest.mark.slow
def test_bundled_outside_call_is_marked_as_such(bundled):
    ctx = next(c for c in bundled if any(g["status"] == "outside_call" for g in c["genes"]))
    g = next(g for g in ctx["genes"] if g["status"] == "outside_call")
    b = _check_bundle(ctx)
    (geno,) = [o for o in _resources(b, "Observation", "genotype")
               if o["valueCodeableConcept"]["text"] == f"{g['gene']} {g['diplotype']}"]
    assert geno["method"]["text"].startswith("Outside call")


@pytest.mark.slow
def test_thirty_panel_patients_validate_and_round_trip(panel):
    assert len(panel) == 30
    seen_ambiguous = seen_absent = 0
    for ctx in panel:
        assert ctx["header"]["status"] == "ok"
        b = _check_bundle(ctx)
        _check_round_trip(ctx, b)
        genotypes = _resources(b, "Observation", "genotype")
        called = [g for g in ctx["genes"] if g["status"] in ("called", "ambiguous", "outside_call")]
        assert len(genotypes) == len(called)
        # every called gene carries its HGNC id; the panel's CYP2D6 says copy number was not assessed
        for o in genotypes:
            gene = _component(o, "http://loinc.org", "48018-6")[0]["valueCodeableConcept"]["coding"][0]
            assert gene["code"] == fhir.HGNC_IDS[gene["display"]]
            if gene["display"] == "CYP2D6":
                assert any("Copy number" in n["text"] for n in o["note"])
        seen_ambiguous += sum(g["status"] == "ambiguous" for g in ctx["genes"])
        seen_absent += len([o for o in _resources(b, "Observation") if o.get("dataAbsentReason")])
    assert seen_absent >= 30  # HLA-A and HLA-B are never typed from a VCF
    print(f"panel: {seen_ambiguous} ambiguous gene calls, {seen_absent} not-assessed statements")


@pytest.mark.slow
def test_real_ambiguous_calls_carry_every_candidate(kb_dir, panel_vcfs, tmp_path):
    """The same 30 panel patients with the phase stripped: real ambiguous calls (several diplotypes fit the
    unphased genotypes), each exported with all its candidates and each candidate's phenotype."""
    root = _stage(tmp_path / "results", kb_dir, "unphased", panel_vcfs, absent_is_reference=True, strip_phase=True)
    contexts = list(sample_contexts(load_input_tables(root, "unphased"), report_date=DATE))
    n = 0
    for ctx in contexts:
        ambiguous = [g for g in ctx["genes"] if g["status"] == "ambiguous"]
        if not ambiguous:  # nothing ambiguous: the same export test_thirty_panel_patients_... checks in full
            continue
        b = _check_bundle(ctx)
        _check_round_trip(ctx, b)
        for g in ambiguous:
            n += 1
            (geno,) = [o for o in _resources(b, "Observation", "genotype")
                       if o["valueCodeableConcept"]["text"].startswith(g["gene"] + " ")]
            want = [c["diplotype"] for c in g["candidates"]]
            assert len(want) >= 2
            assert geno["valueCodeableConcept"]["text"] == f"{g['gene']} " + " or ".join(want)
            assert [c["valueCodeableConcept"]["text"] for c in _component(geno, "http://loinc.org", "84413-4")] == want
    assert n >= 1, n  # measured: 2 (PharmCAT's scoring resolves most unphased genotypes to one diplotype)
    print(f"unphased panel: {n} ambiguous gene calls exported with every candidate")
