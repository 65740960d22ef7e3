"""FHIR R4 export of one patient's report: a Bundle following the HL7 Genomics Reporting IG v3.0.0 (STU3).

The bundle is a translation of the report context (`context.build_sample_context`), the dict the HTML and the JSON
export render, so the three can never disagree. The mapping (resources, profiles, codes, simplifications) is
documented in docs/FHIR.md; in short:

- Patient: the (input, VCF sample) pair, nothing else;
- DiagnosticReport (genomic-report): code LOINC 51969-4, every observation as a result, the MedicationRecommendation
  tasks as recommended-action extensions, the pipeline, knowledge base and what was not assessed as coded notes;
- per gene a Genotype observation (LOINC 84413-4, gene as HGNC 48018-6, GRCh38 62374-4); an ambiguous call lists
  every candidate diplotype, one component each, and picks none;
- per gene (per candidate when ambiguous) a phenotype: a TherapeuticImplication without a medication, derived from
  the genotype, its phenotype in the therapeutic-implication component (LOINC answer codes where the IG has one);
- genes not called or not assessed: a plain Observation with a dataAbsentReason (the Genotype profile requires a
  value) saying so and why;
- per drug and guideline row a TherapeuticImplication (medication assessed LOINC 51963-7, the phenotypes it was
  looked up with, the recommendation as conclusion-string, the strength as evidence level LOINC 93044-6, the
  guideline and its source as a citation), and for advice that changes prescribing a MedicationRecommendation task.

Resources are built as plain dicts and validated by `fhir.resources` R4B models (R4B is wire-compatible with R4 for
every resource used here; `fhir.resources` 8 defaults to R5). Ids are UUID5 over (input, sample, resource key):
the same input gives a byte-identical bundle, and every reference is a `urn:uuid:` fullUrl inside the bundle.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import uuid
from typing import Any, Callable, Iterable

from .memo import IdentityMemo, SharedForm

# ---------------------------------------------------------------- code systems and profiles (IG v3.0.0)
IG = "http://hl7.org/fhir/uv/genomics-reporting"
PROFILE = {
    "report": f"{IG}/StructureDefinition/genomic-report",
    "genotype": f"{IG}/StructureDefinition/genotype",
    "implication": f"{IG}/StructureDefinition/therapeutic-implication",
    "recommendation": f"{IG}/StructureDefinition/medication-recommendation",
}
EXT_RECOMMENDED_ACTION = f"{IG}/StructureDefinition/recommended-action"
EXT_REPORT_NOTE = f"{IG}/StructureDefinition/genomic-report-note"
EXT_ANNOTATION_CODE = f"{IG}/StructureDefinition/annotation-code"
EXT_RELATED_ARTIFACT = "http://hl7.org/fhir/StructureDefinition/workflow-relatedArtifact"
TBD = f"{IG}/CodeSystem/tbd-codes-cs"
ANNOTATION_TYPES = f"{IG}/CodeSystem/coded-annotation-types-cs"
LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# Our own codes for what neither LOINC nor the IG names (documented in docs/FHIR.md).
LOCAL = "urn:pgx-pipeline:fhir-codes"
SAMPLE_ID_SYSTEM = "urn:pgx-pipeline:vcf-sample"

# Fixed namespace of every resource id: uuid5(NAMESPACE, input \x1f sample \x1f key).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:pgx-pipeline:fhir-export")

# HGNC ids, checked against CPIC's gene table (cpicpgx/cpic-data, `gene.hgncid`) and, for CYP2C19, CYP2C9 and
# VKORC1, against the IG's own examples. A gene missing here keeps its symbol as text only.
HGNC_IDS = {
    "ABCG2": "HGNC:74", "CACNA1S": "HGNC:1397", "CFTR": "HGNC:1884", "CYP2B6": "HGNC:2615",
    "CYP2C19": "HGNC:2621", "CYP2C9": "HGNC:2623", "CYP2D6": "HGNC:2625", "CYP3A4": "HGNC:2637",
    "CYP3A5": "HGNC:2638", "CYP4F2": "HGNC:2645", "DPYD": "HGNC:1806", "G6PD": "HGNC:4057",
    "IFNL3": "HGNC:18365", "NAT2": "HGNC:7646", "NUDT15": "HGNC:23063", "RYR1": "HGNC:10483",
    "SLCO1B1": "HGNC:10959", "TPMT": "HGNC:12014", "UGT1A1": "HGNC:12530", "VKORC1": "HGNC:23663",
    "HLA-A": "HGNC:4931", "HLA-B": "HGNC:4932", "MT-RNR1": "HGNC:7470",
}
# The IG's GeneticTherapeuticImplicationsVS (LOINC answers), for the CPIC phenotypes that have one; others
# (Likely Poor Metabolizer, Deficient, Malignant Hyperthermia Susceptibility, ...) are sent as text only, which the
# extensible binding allows.
PHENOTYPE_LOINC = {
    "ultrarapid metabolizer": ("LA10315-2", "Ultrarapid metabolizer"),
    "rapid metabolizer": ("LA25390-8", "Rapid metabolizer"),
    "normal metabolizer": ("LA25391-6", "Normal metabolizer"),
    "intermediate metabolizer": ("LA10317-8", "Intermediate metabolizer"),
    "poor metabolizer": ("LA9657-3", "Poor metabolizer"),
    "increased function": ("LA25392-4", "Increased function"),
    "normal function": ("LA25393-2", "Normal function"),
    "decreased function": ("LA25395-7", "Decreased function"),
    "poor function": ("LA25394-0", "Poor function"),
}
# Medication Recommendation codes (LOINC LL4049-4, as used in the IG's examples). Our guidance says "another
# drug" or "a dose change" without the direction, so only the first is ever coded; a dose change stays text.
CONSIDER_ALTERNATIVE = ("LA26421-0", "Consider alternative medication")
# Labels that mean the advice changes prescribing (context.PRIORITIES); only these become MedicationRecommendations.
ACTIONABLE = ("act", "consider", "confirm")

CATEGORIES = [
    {"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]},
    {"coding": [{"system": V2_0074, "code": "GE"}]},
]
META = {profile: {"profile": [profile]} for profile in PROFILE.values()}


def _code(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    cc: dict[str, Any] = {"coding": [coding]}
    if text:
        cc["text"] = text
    return cc


IMPLICATION_CODE = _code(TBD, "therapeutic-implication", "Therapeutic Implication")


def _gene_cc(gene: str) -> dict:
    hgnc = HGNC_IDS.get(gene)
    return _code(HGNC, hgnc, gene) if hgnc else {"text": gene}


def _phenotype_cc(text: str) -> dict:
    """A phenotype as CodeableConcept: the text as the report says it, the IG's LOINC answer when there is one.

    `text` is either a bare phenotype or a guideline key "GENE: phenotype"."""
    _, sep, rest = text.partition(": ")
    hit = PHENOTYPE_LOINC.get((rest if sep else text).strip().lower())
    return _code(LOINC, hit[0], hit[1], text) if hit else {"text": text}


def _note(text: str) -> dict:
    return {"text": text}


def _local(code: str, value: str) -> dict:
    """A component in our own code system, value as text (status labels, activity score...)."""
    return {"code": _code(LOCAL, code), "valueString": value}


# ---------------------------------------------------------------- bundle
# uuid.uuid5(NAMESPACE, name) hashes NAMESPACE.bytes + name: a patient's ids share that start and its prefix.
_NAMESPACE_SHA1 = hashlib.sha1(NAMESPACE.bytes)


class _Ids(dict):
    """Deterministic ids: the same (input, sample, key) always gives the same UUID. `ids(key)`, ~1,400 times a
    bundle, is a dict lookup (each id is made once, by `__missing__`)."""

    def __init__(self, input_id: str, sample_id: str) -> None:
        super().__init__()
        self._sha1 = _NAMESPACE_SHA1.copy()
        self._sha1.update(f"{input_id}\x1f{sample_id}\x1f".encode("utf-8"))  # strict, as uuid5: a lone surrogate raises

    def __missing__(self, key: str) -> str:
        done = self[key] = _uuid5_text(self._sha1, key)
        return done

    __call__ = dict.__getitem__

    def ref(self, key: str, display: str | None = None) -> dict:
        r = {"reference": f"urn:uuid:{self(key)}"}
        if display:
            r["display"] = display
        return r


def _uuid5_text(prefix_sha1: Any, key: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, prefix + key))` from the SHA-1 of NAMESPACE.bytes + prefix: ~1 µs instead of ~3 µs
    (a bundle asks for ~360). The UUID is the digest's first 16 bytes with version 5 (its 13th hex digit) and the
    RFC 4122 variant (the 17th's top two bits)."""
    sha1 = prefix_sha1.copy()
    sha1.update(key.encode("utf-8"))
    h = sha1.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_RFC4122_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


# The first hex digit of a UUID's 9th byte with the variant bits (10xx) set, by the digest's digit.
_RFC4122_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def build_bundle_dict(ctx: dict[str, Any], forms: dict[int, tuple] | None = None) -> dict[str, Any]:
    """The report context of one sample as a FHIR R4 Bundle (type collection), as a plain dict (not validated).

    `forms`, when given, receives for each entry made from a shared guideline row (memo.SharedForm) or a gene's
    report entry, and for the report, a key that is equal for two entries only if they are equal but for ids and
    references (the report: but for what its canonical form replaces, `_canonical`) (`Validator`'s `known`)."""
    return _build(ctx, forms)[0]


def _build(ctx: dict[str, Any], forms: dict[int, tuple] | None = None,
           known: Callable[[tuple], bool] | None = None) -> tuple[dict[str, Any], dict[int, str]]:
    """`build_bundle_dict`, and: an entry made of a shared guideline row whose form `known` says was validated
    before is written as JSON text straight from the row's template (`_RowTemplate`), returned by entry index, and
    its entry's resource is None. The dicts of such rows were ~85% of a bundle's build and serialisation time."""
    h = ctx["header"]
    ids = _Ids(h["input_id"], h["sample_id"])
    patient = ids.ref("patient", h["sample_id"])
    date = h["report_date"]
    base = {"subject": patient, "effectiveDateTime": date}
    entries: list[tuple[str, dict]] = []
    results: list[dict] = []

    entries.append(("patient", {
        "resourceType": "Patient",
        "identifier": [{
            "system": SAMPLE_ID_SYSTEM,
            "value": h["sample_id"],
            "type": {"text": f"VCF sample of input {h['input_id']} ({h.get('source_file') or 'unknown file'})"},
        }],
    }))

    genes = {g["gene"]: g for g in ctx["genes"]}
    gene_keys: dict[str, str] = {}  # gene -> key of the observation that states its result (or its absence)
    form_of: dict[str, tuple] = {}
    rows = _SharedRows(ids, patient, known)
    for g in ctx["genes"]:
        key, resources = _gene_entries(g, ids, base, rows, form_of)
        gene_keys[g["gene"]] = key
        for k, res, display in resources:
            entries.append((k, res))
            results.append(ids.ref(k, display))
    # Genes the report lists as not assessed that have no row of their own (HLA typing never supplied).
    for na in ctx["not_assessed"]:
        gene = na["gene"]
        if gene in genes or gene.endswith(" structural variants") or gene in gene_keys:
            continue
        key = f"genotype/{gene}"
        gene_keys[gene] = key
        entries.append((key, _absent(gene, "not_assessed", [na["what"]], ids, base, drugs=na["drugs"])))
        results.append(ids.ref(key, f"{gene}: not assessed"))

    # A guideline gene with no result anywhere in the report still gets an explicit statement to derive from.
    for d in ctx["drugs"]:
        for gl in d["guidelines"]:
            for gene in gl["genes"]:
                if gene not in gene_keys:
                    key = gene_keys[gene] = f"genotype/{gene}"
                    entries.append((key, _absent(gene, "no_result", [f"{gene} has no result in this report."],
                                                 ids, base)))
                    results.append(ids.ref(key, f"{gene}: no result"))

    tasks: list[dict] = []
    for d in ctx["drugs"]:
        drug = d["drug"]
        for i, gl in enumerate(d["guidelines"]):
            key = f"implication/{drug}/{gl['source']}/{i}"
            derived = tuple((gene_keys[g], g) for g in gl["genes"] if g in gene_keys)
            shared = type(gl) is SharedForm
            # The rest of an implication is the row's, the date and how many genes it derives from.
            made_of = form_of[key] = ("implication", gl.serial, date, len(derived)) if shared else None
            entries.append((key, rows.resource(
                key, made_of, derived,
                lambda ids, patient: _implication(drug, gl, ids, {"subject": patient, "effectiveDateTime": date},
                                                  derived))))
            results.append(ids.ref(key, f"{drug} ({gl['source']}): {gl['priority_label']}"))
            if gl["shows_advice"] and gl["priority"] in ACTIONABLE:
                tkey = f"recommendation/{drug}/{gl['source']}/{i}"
                made_of = form_of[tkey] = ("recommendation", gl.serial, date) if shared else None
                entries.append((tkey, rows.resource(
                    tkey, made_of, key, lambda ids, patient: _recommendation(drug, gl, ids, key, patient, date))))
                tasks.append({"url": EXT_RECOMMENDED_ACTION,
                              "valueReference": ids.ref(tkey, f"{drug}: {gl['priority_label']}")})

    report = _report(ctx, ids, patient, results, tasks)
    entries.insert(1, ("report", report))
    if forms is not None:
        # Every result and recommended action (the first extensions) is a reference (`ids.ref`), and a run of them
        # is one in the canonical form: the report's is that of the report with one of each, read in a few KB, not
        # ~50 KB. The copy holds every free text of the report, so where it masks them (a text under 1 MiB) each
        # is under 1 MiB in the report too: two reports with this key are valid or invalid together.
        short = {**report, "extension": report["extension"][max(len(tasks) - 1, 0):],
                 **({"result": results[:1]} if results else {})}
        form_of["report"] = ("report", _digest(_canonical({"id": ids("report"), **short})))
    texts: dict[int, str] = {}
    for i, (k, res) in enumerate(entries):
        if type(res) is str:
            texts[i] = res
        else:
            res.pop("_display", None)
        if forms is not None and form_of.get(k) is not None:
            forms[i] = form_of[k]
    return {
        "resourceType": "Bundle",
        "id": ids("bundle"),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{ids('bundle')}"},
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{ids(k)}", "resource": None if type(res) is str else {"id": ids(k), **res}}
                  for k, res in entries],
    }, texts


class _SharedRows:
    """One bundle's resources made of shared guideline rows: as a dict, or, when their form was validated before,
    as text filled in from the row's template."""

    def __init__(self, ids: _Ids, patient: dict, known: Callable[[tuple], bool] | None) -> None:
        self._ids = ids
        self._patient = patient
        self._known = known
        self._patient_text: str | None = None

    def known_all(self, forms: list[tuple]) -> bool:
        """Whether every one of these forms was validated before (so each is written from its template)."""
        return self._known is not None and all(self._known(f) for f in forms)

    def resource(self, key: str, made_of: tuple | None, refs: Any,
                 make: Callable[[Any, Any], dict]) -> dict | str:
        """`make(ids, patient)`, or its JSON with `{"id": ...}` first; `refs`: the keys it refers to besides the
        patient (with the form, what its template is made of)."""
        if made_of is None or self._known is None or not self._known(made_of):
            return make(self._ids, self._patient)
        template = _ROW_TEMPLATES.get((made_of, refs))
        if template is None:
            template = _ROW_TEMPLATES.make((made_of, refs), make)
            if template is None:
                return make(self._ids, self._patient)
        if self._patient_text is None:
            self._patient_text = _dumps(self._patient)
        return template.fill(self._ids, key, self._patient_text)


_SELF, _PATIENT = object(), object()  # what a template's slots hold besides keys: the resource's own id, the patient
# A slot as json.dumps writes it: "\x00<n>\x00" alone in a string (group 1: the string is the slot) or inside one.
_SLOT = re.compile(r'"\\u0000(\d+)\\u0000"|\\u0000(\d+)\\u0000')


class _SlotIds:
    """Stands in for a patient's `_Ids` while a template is made: every id asked for is a fresh marker, and what it
    stands for (a key, the resource's own id, the patient reference) is kept by the marker's number."""

    def __init__(self) -> None:
        self.slots: list[Any] = []

    def __call__(self, key: Any) -> str:
        self.slots.append(key)
        return f"\x00{len(self.slots) - 1}\x00"

    ref = _Ids.ref


class _RowTemplate:
    """A resource's JSON as literal pieces around a slot for each per-patient part: the patient reference (a whole
    value), the resource's own id and the ids inside its references. Made from the very dict the rows' builder
    makes, so the filled text is `_dumps({"id": ..., **resource})` byte for byte (tested)."""

    def __init__(self, pieces: list[str], slots: list[Any]) -> None:
        self._pieces = pieces
        self._slots = slots

    @classmethod
    def of(cls, make: Callable[[Any, Any], dict]) -> _RowTemplate | None:
        """The template of `make`'s resource; None when its texts hold something that reads as a marker."""
        ids = _SlotIds()
        resource = {"id": ids(_SELF), **make(ids, ids(_PATIENT))}
        text = _resource_json(resource, {})  # the guideline row's bulk is dumped once already (`_SHARED`)
        matches = list(_SLOT.finditer(text))
        numbers = [int(m.group(1) or m.group(2)) for m in matches]
        if sorted(numbers) != list(range(len(ids.slots))):
            return None
        pieces, slots, start, quote = [], [], 0, ""
        for n, m in zip(numbers, matches):
            what, whole = ids.slots[n], m.group(1) is not None
            if (what is _PATIENT) is not whole and (what is _PATIENT or what is not _SELF):
                return None  # the patient reference is a whole value; an id stands alone (quoted) or in a reference
            keep = '"' if whole and what is not _PATIENT else ""  # an id's own quotes stay in the pieces
            pieces.append(quote + text[start:m.start()] + keep)
            slots.append(what)
            start, quote = m.end(), keep
        pieces.append(quote + text[start:])
        return cls(pieces, slots)

    def fill(self, ids: _Ids, key: str, patient_text: str) -> str:
        out = [""] * (2 * len(self._pieces) - 1)  # the pieces at even places, the slots' values at odd ones
        out[::2] = self._pieces
        out[1::2] = [patient_text if what is _PATIENT else ids(key if what is _SELF else what) for what in self._slots]
        return "".join(out)


class _RowTemplates:
    """Templates by (form, what the resource refers to); bounded, as a miss only costs time."""

    def __init__(self, limit: int = 20_000) -> None:  # ~3 KB each: ~60 MB at most
        self._by_key: dict[tuple, _RowTemplate | None] = {}
        self._limit = limit

    def get(self, key: tuple) -> _RowTemplate | None:
        return self._by_key.get(key)

    def make(self, key: tuple, make: Callable[[Any, Any], dict]) -> _RowTemplate | None:
        if len(self._by_key) >= self._limit:
            self._by_key.clear()
        template = self._by_key[key] = _RowTemplate.of(make)
        return template


_ROW_TEMPLATES = _RowTemplates()


def _report(ctx: dict, ids: _Ids, patient: dict, results: list[dict], tasks: list[dict]) -> dict:
    h, s = ctx["header"], ctx["summary"]
    failed = h["status"] != "ok"
    notes = [
        ("test-methodology",
         f"pgx-pipeline {h['pipeline_version']}: star alleles called from the SNV genotypes of a VCF with PharmCAT's "
         f"Named Allele Matcher rules, genome build {h['genome_build']}; absent positions {h['absent_positions']}. "
         f"Knowledge base {h['kb_data_version']} ({h['kb_provenance']}). Input file: {h.get('source_file') or 'unknown'}."),
    ]
    if h.get("kb_older_release"):
        notes.append(("test-disclaimer", f"Older knowledge-base release in use: {h['kb_older_release']}"))
    for gap in s["gaps"]:
        notes.append(("test-disclaimer", f"Incomplete: {gap['gene']} ({gap['reason']}); {gap['order']}. "
                                         f"Drugs affected: {', '.join(gap['drugs'])}."))
    for na in ctx["not_assessed"]:
        drugs = f" Drugs affected: {', '.join(na['drugs'])}." if na["drugs"] else ""
        notes.append(("test-disclaimer", f"NOT ASSESSED: {na['gene']}. {na['what']}{drugs}"))
    for m in h.get("input_notes") or []:
        notes.append(("test-disclaimer", str(m)))
    if failed:
        conclusion = f"No result: the analysis of this sample failed ({h.get('error') or 'no reason recorded'})."
    else:
        acts = [f"{a['drug']} ({', '.join(line['source'] for line in a['lines']) or 'no advice'}): {a['priority_label']}"
                for a in s["actions"]]
        conclusion = (
            f"{s['n_drugs']} drug(s) looked up; "
            + (f"{len(acts)} guideline result(s) that change prescribing or need the genotype confirmed: "
               + "; ".join(acts) + "." if acts else "no guideline result changes prescribing.")
            + (f" Not assessed: {', '.join(s['not_assessed_genes'])}." if s["not_assessed_genes"] else "")
        )
    return {
        "resourceType": "DiagnosticReport",
        "meta": {"profile": [PROFILE["report"]]},
        "extension": tasks + [
            {"url": EXT_REPORT_NOTE, "valueAnnotation": {
                "extension": [{"url": EXT_ANNOTATION_CODE, "valueCodeableConcept": _code(ANNOTATION_TYPES, kind)}],
                "text": text}}
            for kind, text in notes
        ],
        "status": "cancelled" if failed else "final",
        "category": [{"coding": [{"system": V2_0074, "code": "GE"}]}],
        "code": _code(LOINC, "51969-4", "Genetic analysis report", "Pharmacogenomic report"),
        "subject": patient,
        "effectiveDateTime": h["report_date"],
        **({"result": results} if results else {}),
        "conclusion": conclusion,
    }


def _observation(profile: str | None, code: dict, base: dict, **fields) -> dict:
    obs: dict[str, Any] = {"resourceType": "Observation"}
    if profile:
        obs["meta"] = META[profile]
    obs.update({"status": "final", "category": CATEGORIES, "code": code, **base})
    obs.update({k: v for k, v in fields.items() if v not in (None, [], {})})
    return obs


# A gene's result repeats across a cohort (most patients of a part share their CYP2C19 entry with hundreds of
# others): its resources' keys and reference displays by what they are made of, for `_gene_entries`.
_GENE_LAYOUTS: dict[tuple, list[tuple[str, str | None]]] = {}


def _gene_entries(g: dict, ids: _Ids, base: dict, rows: _SharedRows,
                  form_of: dict[str, tuple]) -> tuple[str, list[tuple[str, dict | str, str | None]]]:
    """`_gene_resources` as (key, resource, display of the references to it). A resource is made of the gene's
    whole report entry (its JSON: every field, used or not, so two entries alike in it make the same resource but
    for ids and the patient) and the date; once a resource of that make was validated, later patients' are written
    from its template (`_SharedRows`)."""
    made = ("gene", _dumps(g), base["effectiveDateTime"])  # one builder (context._gene) makes every entry alike
    layout = _GENE_LAYOUTS.get(made)
    if layout is not None and rows.known_all([made + (k,) for k, _ in layout]):
        out = []
        for k, display in layout:
            form_of[k] = made + (k,)
            out.append((k, rows.resource(k, made + (k,), None, _one_gene_resource(g, base, k)), display))
        return f"genotype/{g['gene']}", out
    key, resources = _gene_resources(g, ids, base)
    if len(_GENE_LAYOUTS) >= 20_000:
        _GENE_LAYOUTS.clear()
    _GENE_LAYOUTS[made] = [(k, res.get("_display")) for k, res in resources]
    for k, _ in resources:
        form_of[k] = made + (k,)
    return key, [(k, res, res.get("_display")) for k, res in resources]


def _one_gene_resource(g: dict, base: dict, k: str) -> Callable[[Any, Any], dict]:
    def make(ids: Any, patient: Any) -> dict:
        res = dict(_gene_resources(g, ids, {**base, "subject": patient}, only=k)[1])[k]
        return {name: v for name, v in res.items() if name != "_display"}
    return make


def _gene_resources(g: dict, ids: _Ids, base: dict, only: str | None = None) -> tuple[str, list[tuple[str, dict]]]:
    """The genotype observation of one gene (or its absence) and its phenotype observation(s); with `only` the
    phenotype observations but that one are left out (a template asks ids only of the resource it is made of)."""
    gene, status = g["gene"], g["status"]
    key = f"genotype/{gene}"
    if status in ("not_called", "not_assessed"):
        return key, [(key, _absent(gene, status, g["notes"], ids, base))]
    if status == "ambiguous":
        value = " or ".join(c["diplotype"] for c in g["candidates"])
    else:
        value = g["diplotype"]
    components = [
        {"code": _code(LOINC, "48018-6", "Gene studied [ID]"), "valueCodeableConcept": _gene_cc(gene)},
        {"code": _code(LOINC, "62374-4", "Human reference sequence assembly version"),
         "valueCodeableConcept": _code(LOINC, "LA26806-2", "GRCh38")},
        {"code": _code(LOCAL, "call-status", "Call status"), "valueCodeableConcept": {"text": g["status_label"]}},
    ]
    # Every candidate of an ambiguous call, in the matcher's rank order; none is picked.
    for c in g["candidates"]:
        components.append({"code": _code(LOINC, "84413-4", "Genotype display name", "Candidate diplotype"),
                           "valueCodeableConcept": {"text": c["diplotype"]}})
    if g["missing_positions"]:
        components.append(_local("missing-positions", ", ".join(str(p) for p in g["missing_positions"])))
    method = (
        "Outside call supplied with the input; not made from the VCF"
        if status == "outside_call" else
        "Star-allele calling from SNV genotypes in a VCF (PharmCAT Named Allele Matcher rules); "
        "copy number and structural variants not assessed"
    )
    genotype = _observation(
        PROFILE["genotype"], _code(LOINC, "84413-4", "Genotype display name"), base,
        valueCodeableConcept={"text": f"{gene} {value}"},
        interpretation=([_code(V3_INTERPRETATION, "IND", "Indeterminate",
                               f"Ambiguous: {len(g['candidates'])} diplotypes fit the data equally well")]
                        if status == "ambiguous" else None),
        method={"text": method},
        note=[_note(t) for t in g["notes"]],
        component=components,
    )
    genotype["_display"] = f"{gene} {value}"
    out = [(key, genotype)]
    # Phenotype(s): one per candidate when ambiguous, so each candidate's phenotype travels with it.
    if status == "ambiguous":
        phenos = [(f"phenotype/{gene}/{i + 1}", c["diplotype"], c["phenotype"], c["activity_score"],
                   f"Phenotype if {gene} is {c['diplotype']} (candidate {i + 1} of {len(g['candidates'])}); "
                   "confirm the genotype before acting on it")
                  for i, c in enumerate(g["candidates"])]
    else:
        phenos = [(f"phenotype/{gene}", g["diplotype"], g["phenotype"], g["activity_score"], None)]
    for pkey, dip, pheno, score, caveat in phenos:
        if not pheno or (only is not None and pkey != only):
            continue
        comps = [{"code": _code(TBD, "therapeutic-implication", "Therapeutic Implication"),
                  "valueCodeableConcept": _phenotype_cc(pheno)},
                 {"code": _code(LOINC, "48018-6", "Gene studied [ID]"), "valueCodeableConcept": _gene_cc(gene)}]
        if score:
            comps.append(_local("activity-score", str(score)))
        if status == "ambiguous":
            comps.append({"code": _code(LOINC, "84413-4", "Genotype display name", "Candidate diplotype"),
                          "valueCodeableConcept": {"text": dip}})
        obs = _observation(
            PROFILE["implication"], IMPLICATION_CODE, base,
            derivedFrom=[ids.ref(key, f"{gene} {value}")],
            note=[_note(caveat)] if caveat else None,
            component=comps,
        )
        obs["_display"] = f"{gene}: {pheno}" + (f" (if {dip})" if caveat else "")
        out.append((pkey, obs))
    return key, out


def _absent(gene: str, status: str, notes: list[str], ids: _Ids, base: dict, drugs: list[str] | None = None) -> dict:
    """A gene with no result: not the Genotype profile (it requires a value), a plain Observation saying why."""
    reason = ("not-performed", "Not Performed") if status == "not_assessed" else ("unknown", "Unknown")
    label = {"not_assessed": "Not assessed", "not_called": "Not called"}.get(status, "No result")
    text = list(notes)
    if drugs:
        text.append(f"Drugs without a genotype-based recommendation because of this: {', '.join(drugs)}.")
    return _observation(
        None, _code(LOINC, "84413-4", "Genotype display name"), base,
        dataAbsentReason=_code(DATA_ABSENT, reason[0], reason[1], f"{gene}: {label}"),
        note=[_note(t) for t in text] or [_note(f"{gene}: {label}")],
        component=[
            {"code": _code(LOINC, "48018-6", "Gene studied [ID]"), "valueCodeableConcept": _gene_cc(gene)},
            {"code": _code(LOCAL, "call-status", "Call status"), "valueCodeableConcept": {"text": label}},
        ],
    )


def _implication(drug: str, gl: dict, ids: _Ids, base: dict, derived: Iterable[tuple[str, str]]) -> dict:
    """One guideline row of one drug as a TherapeuticImplication; `derived`: (key, display) of its genes' results."""
    extension, note, component = _implication_parts(drug, gl)
    return _observation(
        PROFILE["implication"], IMPLICATION_CODE, base,
        extension=extension,
        derivedFrom=[ids.ref(k, g) for k, g in derived],
        note=note,
        component=component,
    )


# What an implication says apart from whose it is repeats across patients (one drug, guideline row and phenotype):
# made once per process and shared, read-only, by the bundles that hold it, with its JSON text (`_SHARED`).
_PARTS: dict[tuple, tuple[list, list, list]] = {}
_PARTS_READ = ("source", "guideline", "guideline_version", "url", "phenotypes", "recommendation", "classification",
               "status", "status_label", "priority", "priority_label", "implications", "reason", "messages",
               "population")


_FORM_PARTS = IdentityMemo()


def _implication_parts(drug: str, gl: dict) -> tuple[list, list, list]:
    if type(gl) is SharedForm:  # one drug's row: its parts are made once per form
        return _FORM_PARTS.get(gl, lambda form: _parts_by_content(drug, form))
    return _parts_by_content(drug, gl)


def _parts_by_content(drug: str, gl: dict) -> tuple[list, list, list]:
    key = (drug, *(tuple(v) if isinstance(v, list) else v for v in (gl[k] for k in _PARTS_READ)))
    parts = _PARTS.get(key)
    if parts is None:
        if len(_PARTS) >= 100_000:
            _PARTS.clear()
            _SHARED.clear()
        parts = _PARTS[key] = tuple(_SHARED.add(x) for x in _make_implication_parts(drug, gl))
    return parts


def _make_implication_parts(drug: str, gl: dict) -> tuple[list, list, list]:
    comps = [{"code": _code(LOINC, "51963-7", "Medication assessed"),
              "valueCodeableConcept": {"text": drug}}]
    comps += [{"code": _code(TBD, "therapeutic-implication", "Therapeutic Implication"),
               "valueCodeableConcept": _phenotype_cc(p)} for p in gl["phenotypes"]]
    if gl["recommendation"]:
        comps.append({"code": _code(TBD, "conclusion-string", "Conclusion Text"),
                      "valueString": gl["recommendation"]})
    if gl["classification"]:
        comps.append({"code": _code(LOINC, "93044-6", "Level of evidence"),
                      "valueCodeableConcept": {"text": f"{gl['source']} {gl['classification']}"}})
    comps.append({"code": _code(LOCAL, "guidance-status", "Guidance status"),
                  "valueCodeableConcept": _code(LOCAL, gl["status"], gl["status_label"])})
    comps.append({"code": _code(LOCAL, "report-label", "Report label"),
                  "valueCodeableConcept": _code(LOCAL, gl["priority"], gl["priority_label"])})
    artifact: dict[str, Any] = {"type": "citation", "label": gl["source"],
                                "display": " ".join(x for x in (gl["guideline"], gl["guideline_version"]) if x)
                                or gl["source"]}
    if gl["url"]:
        artifact["url"] = gl["url"]
    notes = list(gl["implications"])
    if gl["reason"]:
        notes.append(gl["reason"])
    notes += gl["messages"]
    if gl["population"] and gl["population"] != "general":
        notes.append(f"Population: {gl['population']}")
    return [{"url": EXT_RELATED_ARTIFACT, "valueRelatedArtifact": artifact}], [_note(t) for t in notes], comps


def _recommendation(drug: str, gl: dict, ids: _Ids, implication_key: str, patient: dict, date: str) -> dict:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "meta": {"profile": [PROFILE["recommendation"]]},
        "status": "requested",
        "intent": "proposal",
        "description": f"{drug} ({gl['source']}): {gl['recommendation']}",
        "for": patient,
        "authoredOn": date,
        "reasonReference": ids.ref(implication_key, f"{drug} ({gl['source']})"),
    }
    if gl["alternate_drug"]:
        task["code"] = _code(LOINC, *CONSIDER_ALTERNATIVE)
    if gl["priority"] == "confirm":
        task["note"] = [_note(gl["reason"] or "The genotype is ambiguous: confirm it before acting.")]
    return task


# ---------------------------------------------------------------- validation and output
def validate(bundle: dict[str, Any]):
    """Parse the whole bundle with the `fhir.resources` R4B models; raises pydantic.ValidationError when invalid."""
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle)


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_REFERENCE = re.compile(r'\{"reference":"urn:uuid:' + _UUID + r'"(?:,"display":"(?:[^"\\]|\\.)+")?\}')
_ID = re.compile(r'^\{"id":"' + _UUID + '"')  # entries are written id first


# Elements the R4B models type as FHIR `string` or `markdown` wherever these names occur in the resources this module
# writes (CodeableConcept.text, Coding.display, Annotation.text, RelatedArtifact.label/display, Task.description,
# DiagnosticReport.conclusion, valueString, and Identifier.value: the one element named `value` here, the Patient's
# sample id, an R4B `string` with no pattern or terminology of its own), when their value holds a raw non-whitespace
# character (an escape such as \u000b is read whole, never as its letters): fhir_core's string pattern is searched,
# so such a value is valid as "x" is. (A numeric `value`, as Quantity's, is not a JSON string: never matched.)
_FREE_TEXT = re.compile(
    r'"(text|display|valueString|description|conclusion|label|value)":"(?:\s|\\u[0-9a-fA-F]{4}|\\["\\/bfnrt])*[^"\\\s]'
    r'[^"\\]*(?:\\(?:u[0-9a-fA-F]{4}|["\\/bfnrt])[^"\\]*)*"')
# Surrogates are the one kind of character whose validity we do not argue about; a text with one keeps its texts.
_ESCAPED_SURROGATE = re.compile(r'\\u[dD][89abAB]')
_MAX_STRING = 1024 * 1024  # FHIR's limit on a string's length: a resource text shorter than it has no longer string
# A run of identical references is one: every list that holds them (result, derivedFrom, extension) is 0..*.
_REFERENCE_RUN = re.compile(r'\{"reference":"x"\}(?:,\{"reference":"x"\})+')
_ACTION_RUN = re.compile(r'(\{"url":"[^"]*","valueReference":\{"reference":"x"\}\})(?:,\1)+')


# json.dumps(obj, ensure_ascii=False, separators=(",", ":")) makes this very encoder for every call (~1 µs, for
# ~250 values a bundle); its other settings are json.dumps's defaults.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# What json.dumps(text, ensure_ascii=False) calls for a str, without building an encoder per value.
_encode_str = json.encoder.encode_basestring


class _SharedJson:
    """The JSON text of values many resources hold (an implication's guideline parts, constant codes), made once,
    kept by the value's identity (memo.IdentityMemo). Shared values are never changed after they are added."""

    def __init__(self, constants: Iterable[Any] = ()) -> None:
        constants = list(constants)
        self._constants = IdentityMemo(limit=len(constants) + 1)
        for value in constants:
            self._constants.get(value, _dumps)
        self._parts = IdentityMemo(limit=300_000)  # cleared with _PARTS, whose three lists it holds

    def add(self, value: Any) -> Any:
        self._parts.get(value, _dumps)
        return value

    def text(self, value: Any, bundle_texts: dict[int, str]) -> str:
        """`value`'s JSON; `bundle_texts` keeps the texts of one bundle's values while the bundle (which holds
        them) is being written: its patient reference, date and ids recur in every resource."""
        if type(value) is str:
            return _encode_str(value)
        text = self._parts.peek(value) or self._constants.peek(value) or bundle_texts.get(id(value))
        if text is None:
            text = bundle_texts[id(value)] = _dumps(value)
        return text

    def clear(self) -> None:
        self._parts.clear()


_SHARED = _SharedJson([CATEGORIES, IMPLICATION_CODE, *META.values()])


@functools.lru_cache(maxsize=None)
def _key_text(key: str) -> str:
    return _dumps(key)


def _resource_json(resource: dict[str, Any], bundle_texts: dict[int, str]) -> str:
    """`_dumps(resource)`, byte for byte, with each shared value's text reused: ~300 resources per bundle, most of
    whose bulk (guideline texts) repeats from patient to patient."""
    return "{" + ",".join(f"{_key_text(k)}:{_SHARED.text(v, bundle_texts)}" for k, v in resource.items()) + "}"


def _without_ids(text: str) -> str:
    """A resource's JSON with its id, its references and their displays replaced by fixed values."""
    return _REFERENCE.sub('{"reference":"x"}', _ID.sub('{"id":"x"', text, count=1))


def _masked(text: str) -> str:
    """`_without_ids` output with free texts replaced by "x" and runs of identical references collapsed."""
    if len(text) < _MAX_STRING and not _ESCAPED_SURROGATE.search(text) and _encodable(text):
        text = _FREE_TEXT.sub(r'"\1":"x"', text)
    text = _REFERENCE_RUN.sub('{"reference":"x"}', text)
    if text.startswith('{"id":"x","resourceType":"DiagnosticReport"'):
        text = _ACTION_RUN.sub(r"\1", text)
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")  # fails on a lone surrogate
    except UnicodeEncodeError:
        return False
    return True


def _canonical(resource: dict[str, Any] | str) -> str:
    """A resource (or its JSON) with its id, references, reference displays and free texts replaced by fixed values,
    and runs of identical references collapsed.

    What the R4B models check of those (an id's and a `urn:uuid:` reference's pattern; a string or markdown with a
    non-whitespace character and under 1 MiB; a list's cardinality, 0..* for every list of references here) holds
    for every value replaced, so two resources with the same canonical form are both valid or both invalid. Codes,
    systems, URLs, dates and the structure are kept: those are what the models check."""
    return _masked(_without_ids(resource if isinstance(resource, str) else _dumps(resource)))


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


_ANY_UUID = re.compile(r'"(urn:uuid:)?' + _UUID + '"')


_URN_UUIDS = re.compile(f"urn:uuid:{_UUID}(?:,urn:uuid:{_UUID})*")


def _masked_entries(urls: list[Any]) -> list[dict] | int:
    """A bundle's entries as the shell's form keeps them (`{"fullUrl": url}`, UUIDs masked by the caller), or, when
    every fullUrl is a `urn:uuid:` UUID, just their count: the form of ~360 entries in one regex match instead of
    dumping and masking each (an int never stands where the general form has its list)."""
    if all(type(url) is str for url in urls) and _URN_UUIDS.fullmatch(",".join(urls)):
        return len(urls)
    return [{"fullUrl": url} for url in urls]


class Validator:
    """Validates bundles with the R4B models, each distinct resource (canonical form) once.

    Validating a whole ~250-resource bundle takes ~0.4 s. Resources differ from patient to patient in ids,
    references and texts (sample names, diplotypes, guideline texts) far more than in form, so a part of a cohort
    validates a few hundred resources in all. The bundle's own elements (id, identifier, type, fullUrls) are
    validated once per form too: the bundle id, its identifier and every fullUrl are UUIDs (`urn:uuid:` URIs).
    Forms are kept as 16-byte BLAKE2 digests; a resource whose text (ids aside) was seen before skips the masking,
    and one made of what made a valid resource before (`known`: a shared guideline row, a gene's entry, the report's
    canonical form read from a short copy) skips even reading its text.
    """

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self._made_of: set[tuple] = set()
        self.validated = 0

    def __call__(self, bundle: dict[str, Any], resource_texts: list[str] | None = None,
                 known: dict[int, tuple] | None = None) -> None:
        """Raise pydantic.ValidationError unless the bundle is valid; `resource_texts` are its entries' resources
        as JSON (`_dumps`), when the caller has them already; `known` keys entries by what they are made of
        (`build_bundle_dict`'s `forms`): an entry whose key a valid entry had before is not looked at again (and
        may come without its resource dict: `bundle_json` writes it from a template)."""
        texts = resource_texts if resource_texts is not None else [_dumps(e["resource"]) for e in bundle["entry"]]
        known = known or {}
        for i, (e, text) in enumerate(zip(bundle["entry"], texts)):
            made_of = known.get(i)
            if made_of is not None and made_of in self._made_of:
                continue
            self._check(e, text)
            if made_of is not None:
                self._made_of.add(made_of)
        urls = [e["fullUrl"] for e in bundle["entry"]]
        key = _digest(_ANY_UUID.sub(r'"\1x"', _dumps({**bundle, "entry": _masked_entries(urls)})))
        if key not in self._seen:
            validate({**bundle, "entry": [{"fullUrl": url} for url in urls]})
            self.validated += 1
            self._seen.add(key)

    def knows(self, made_of: tuple) -> bool:
        """Whether an entry made of `made_of` (`build_bundle_dict`'s `forms`) was valid before: such an entry is not
        looked at again."""
        return made_of in self._made_of

    def _check(self, e: dict[str, Any], text: str) -> None:
        from fhir.resources.R4B import get_fhir_model_class

        exact = _without_ids(text)
        seen_exact = _digest(exact)
        if seen_exact in self._seen:
            return
        form = _digest(_masked(exact))
        if form not in self._seen:
            res = e["resource"]
            get_fhir_model_class(res["resourceType"]).model_validate(res)
            self.validated += 1
            self._seen.add(form)
        self._seen.add(seen_exact)


def build_bundle(ctx: dict[str, Any]):
    """The validated R4B Bundle model of one report context."""
    return validate(build_bundle_dict(ctx))


def bundle_json(ctx: dict[str, Any], validator: Validator | None = None) -> str:
    """The bundle as deterministic JSON (fixed key order, no timestamp but the report date), validated first.

    Written from the dicts the models validated, or from the template of a shared row whose form they validated
    (the same bytes, tested): `model_dump_json` gives back the same JSON (tested) at twice the cost of validation."""
    validator = validator or Validator()
    forms: dict[int, tuple] = {}
    bundle, made = _build(ctx, forms, validator.knows)
    bundle_texts: dict[int, str] = {}
    # Field by field where a guideline row's parts have their texts already; the rest (genes, the report) are made
    # fresh for each patient and dump faster whole.
    texts = [made.get(i) or (_resource_json(e["resource"], bundle_texts) if i in forms else _dumps(e["resource"]))
             for i, e in enumerate(bundle["entry"])]
    validator(bundle, texts, forms)
    # The same bytes as json.dumps of the whole bundle, from the entries already serialised for validation.
    # One join over small pieces and the resource texts: ~1 MB copied once, not once per level of nesting.
    out = [_dumps({k: v for k, v in bundle.items() if k != "entry"})[:-1], ',"entry":[']
    for e, text in zip(bundle["entry"], texts):
        out += ('{"fullUrl":', _encode_str(e["fullUrl"]), ',"resource":', text, "},")
    if texts:
        out[-1] = "}"  # no comma after the last entry
    out.append("]}\n")
    return "".join(out)


def write_bundles(contexts: Iterable[dict[str, Any]], out_dir: str | os.PathLike, names: dict[str, str]) -> int:
    """`<stem>.fhir.json` per context into out_dir (stems from `files.safe_filenames`); returns the count."""
    from .files import ReportFolder

    n = 0
    validator = Validator()
    with ReportFolder(out_dir) as folder:
        for ctx in contexts:
            folder.write(f"{names[ctx['header']['sample_id']]}.fhir.json", bundle_json(ctx, validator))
            n += 1
    return n


def render_fhir(results_dir: str | os.PathLike, input_id: str, out_dir: str | os.PathLike, *, report_date: str,
                part: str = "part-000", unit: str | None = None) -> dict[str, str]:
    """`<stem>.fhir.json` for every sample of one part of an input (`unit`: the batch holding it, if any), from the
    same tables as the reports."""
    from .context import load_input_tables, sample_contexts
    from .files import safe_filenames
    from .html import _check_date

    _check_date(report_date)
    tables = load_input_tables(results_dir, input_id, part, unit)
    names = safe_filenames([str(s) for s in tables.samples["sample_id"]])
    write_bundles(sample_contexts(tables, report_date=report_date), out_dir, names)
    return names


# ---------------------------------------------------------------- reading back
def read_back(bundle_text: str) -> dict[str, Any]:
    """What a receiving system recovers from a bundle, keyed like the report JSON: per gene its status, diplotype,
    candidates and phenotype; per drug its guideline rows (source, recommendation, strength, status, label).

    Parses with the R4B models first, so only a valid bundle is read.
    """
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(bundle_text)
    by_url = {e.fullUrl: e.resource for e in bundle.entry}

    def comps(obs, system, code):
        return [c for c in (obs.component or []) for cd in (c.code.coding or []) if cd.system == system and cd.code == code]

    def text(cc):
        return cc.text if cc.text is not None else cc.coding[0].display

    genes: dict[str, dict] = {}
    drugs: dict[str, list[dict]] = {}
    for e in bundle.entry:
        r = e.resource
        if r.get_resource_type() != "Observation":
            continue
        profiles = list(r.meta.profile) if r.meta and r.meta.profile else []
        code = r.code.coding[0]
        gene_c = comps(r, LOINC, "48018-6")
        if code.code == "84413-4":
            gene = text(gene_c[0].valueCodeableConcept)
            status = text(comps(r, LOCAL, "call-status")[0].valueCodeableConcept)
            g = genes.setdefault(gene, {"phenotypes": {}})
            g["status_label"] = status
            if r.valueCodeableConcept is not None:
                g["value"] = r.valueCodeableConcept.text.removeprefix(f"{gene} ")
                g["candidates"] = [c.valueCodeableConcept.text for c in comps(r, LOINC, "84413-4")]
            g["notes"] = [n.text for n in r.note or []]
        elif PROFILE["implication"] in profiles and not comps(r, LOINC, "51963-7"):
            gene = text(gene_c[0].valueCodeableConcept)
            pheno = comps(r, TBD, "therapeutic-implication")[0].valueCodeableConcept.text
            cand = comps(r, LOINC, "84413-4")
            score = comps(r, LOCAL, "activity-score")
            genes.setdefault(gene, {"phenotypes": {}})["phenotypes"][cand[0].valueCodeableConcept.text if cand else None] = {
                "phenotype": pheno, "activity_score": score[0].valueString if score else None,
                "derived_from": [d.reference for d in r.derivedFrom]}
        elif PROFILE["implication"] in profiles:
            drug = comps(r, LOINC, "51963-7")[0].valueCodeableConcept.text
            art = r.extension[0].valueRelatedArtifact
            rec = comps(r, TBD, "conclusion-string")
            ev = comps(r, LOINC, "93044-6")
            st = comps(r, LOCAL, "guidance-status")[0].valueCodeableConcept.coding[0]
            lab = comps(r, LOCAL, "report-label")[0].valueCodeableConcept.coding[0]
            drugs.setdefault(drug, []).append({
                "source": art.label,
                "url": art.url,
                "recommendation": rec[0].valueString if rec else None,
                "strength": ev[0].valueCodeableConcept.text.removeprefix(f"{art.label} ") if ev else None,
                "phenotypes": [c.valueCodeableConcept.text for c in comps(r, TBD, "therapeutic-implication")],
                "status": st.code,
                "priority": lab.code,
                "priority_label": lab.display,
                "derived_from": [by_url[d.reference].get_resource_type() for d in r.derivedFrom],
            })
    return {"genes": genes, "drugs": drugs}


__all__ = ["build_bundle_dict", "build_bundle", "bundle_json", "validate", "Validator", "write_bundles", "render_fhir",
           "read_back", "HGNC_IDS"]
