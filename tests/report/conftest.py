"""Small, schema-conforming stage tables for report tests, and an HTML parser to assert on rendered content.

The tables mimic what the stages write for a few telling cases: CYP2C19 *2/*17 with clopidogrel guidance, an
ambiguous CYP2B6 call, a CYP2D6 that could not be called, HLA-B never typed, a warfarin estimate and a refusal,
a failed sample, and a hostile sample id.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from pgx_pipeline import schema, sharding

HOSTILE = "<script>alert(1)</script>"
INPUT = "batch1"
CLOPIDOGREL_PM_IM = (
    "If considering clopidogrel, use an alternative antiplatelet agent (for example prasugrel or ticagrelor) "
    "if no contraindication."
)
CPIC_CLOPI_URL = "https://www.clinpgx.org/guidelineAnnotation/PA166104948"
# `incomplete` texts as the guidance stage writes them (tests/phenotype/test_incomplete_advice.py checks the stage).
HLA_B_UNTYPED = "HLA-B not assessed: order HLA-B typing"
CYP2B6_TIED = "CYP2B6 is ambiguous (Intermediate Metabolizer or Normal Metabolizer): confirm the CYP2B6 genotype"


def _row(table: schema.Table, **values) -> dict:
    row = {c: None for c in table.column_names}
    row.update(values)
    return row


def call(sample, gene, diplotype, *, rank=1, candidate=None, n=1, status="called", phased=False, missing=(), warnings=(),
         source="vcf", score=10, outside_phenotype=None, outside_activity=None):
    a1, a2 = (diplotype.split("/") + [None])[:2] if diplotype else (None, None)
    return _row(
        schema.CALLS, sample_id=sample, gene=gene, diplotype=diplotype, allele1=a1, allele2=a2, rank=rank,
        candidate=rank if candidate is None else candidate,
        score=score if diplotype and source == "vcf" else None, n_candidates=n, phased=phased, status=status,
        source=source, matched_positions=[], missing_positions=list(missing), undocumented_positions=[],
        absent_is_reference=False, outside_phenotype=outside_phenotype, outside_activity_score=outside_activity,
        warnings=list(warnings),
    )


def phen(sample, gene, diplotype, phenotype, *, rank=1, candidate=None, status="called", f1=None, f2=None, score=None, key=None,
         agree=True, warnings=()):
    return _row(
        schema.PHENOTYPES, sample_id=sample, gene=gene, diplotype=diplotype, rank=rank,
        candidate=rank if candidate is None else candidate, status=status,
        allele1_function=f1, allele2_function=f2, activity_score=score, phenotype=phenotype,
        lookup_key=key or phenotype, candidates_agree=agree, warnings=list(warnings),
    )


def guide(sample, drug, source, genes, status, *, recommendation=None, classification=None, phenotypes=(),
          alternate=False, dosing=False, other=False, reason=None, messages=(), implications=(), url=CPIC_CLOPI_URL,
          same=None, incomplete=None):
    return _row(
        schema.GUIDANCE, sample_id=sample, drug=drug, source=source,
        guideline=f"{'Annotation of CPIC Guideline' if source == 'CPIC' else 'Annotation of DPWG Guideline'} for {drug} and {', '.join(genes)}",
        guideline_version="2024-01", url=url, genes=list(genes), lookup_keys=[], phenotypes=list(phenotypes),
        population="general", recommendation=recommendation, implications=list(implications),
        classification=classification, dosing_information=dosing, alternate_drug=alternate, other_guidance=other,
        same_as_reference=same, status=status, reason=reason, messages=list(messages), incomplete=incomplete,
    )


def sample_tables(sample: str, *, variant: str = "pgx01") -> dict[str, list[dict]]:
    """Rows for one sample; `variant` picks the clinical picture."""
    c, p, g = [], [], []
    if variant == "pgx01":
        c += [call(sample, "CYP2C19", "*2/*17")]
        p += [phen(sample, "CYP2C19", "*2/*17", "Intermediate Metabolizer", f1="No function", f2="Increased function")]
        c += [call(sample, "CYP2B6", "*1/*6", n=2), call(sample, "CYP2B6", "*4/*9", candidate=2, n=2)]
        p += [phen(sample, "CYP2B6", "*1/*6", "Intermediate Metabolizer", agree=False),
              phen(sample, "CYP2B6", "*4/*9", "Normal Metabolizer", candidate=2, agree=False)]
        c += [call(sample, "CYP2D6", None, status="not_called", n=0, missing=[42127941, 42128945],
                   warnings=["2 allele-defining position(s) missing: variants there were not assessed"])]
        p += [phen(sample, "CYP2D6", None, None, status="not_called")]
        c += [call(sample, "CYP2C9", "*1/*3")]
        p += [phen(sample, "CYP2C9", "*1/*3", "Intermediate Metabolizer", f1="Normal function",
                   f2="No function", score="1.0", key="1.0")]
        c += [call(sample, "SLCO1B1", "*1/*1")]
        p += [phen(sample, "SLCO1B1", "*1/*1", "Normal Function", f1="Normal function", f2="Normal function")]
        g += [
            guide(sample, "clopidogrel", "CPIC", ["CYP2C19"], "matched", recommendation=CLOPIDOGREL_PM_IM,
                  classification="Strong", phenotypes=["CYP2C19:Intermediate Metabolizer"], alternate=True,
                  implications=["CYP2C19: Reduced platelet inhibition; increased risk for adverse events."]),
            guide(sample, "clopidogrel", "DPWG", ["CYP2C19"], "matched",
                  recommendation="Choose an alternative or double the dose.", classification="N/A",
                  phenotypes=["CYP2C19:Intermediate Metabolizer"], alternate=True, dosing=True,
                  url="https://www.clinpgx.org/guidelineAnnotation/PA166104956"),
            guide(sample, "efavirenz", "CPIC", ["CYP2B6"], "ambiguous",
                  reason="CYP2B6 has 2 candidate diplotypes with different phenotypes", incomplete=CYP2B6_TIED),
            # CYP2B6 is ambiguous (*1/*6 or *4/*9): the guidance stage lists each candidate's advice.
            guide(sample, "sertraline", "CPIC", ["CYP2B6"], "ambiguous",
                  recommendation="Initiate therapy with recommended starting dose. Consider a slower titration schedule "
                                 "and lower maintenance dose.", classification="Moderate",
                  phenotypes=["CYP2B6: Intermediate Metabolizer or Normal Metabolizer"], dosing=True, same=False,
                  reason="CYP2B6 could be Intermediate Metabolizer (*1/*6) or Normal Metabolizer (*4/*9). This is the "
                         "advice if CYP2B6 is Intermediate Metabolizer (*1/*6): confirm the genotype before acting",
                  incomplete=CYP2B6_TIED),
            guide(sample, "sertraline", "CPIC", ["CYP2B6"], "ambiguous",
                  recommendation="Initiate therapy with recommended starting dose.", classification="Strong",
                  phenotypes=["CYP2B6: Intermediate Metabolizer or Normal Metabolizer"], same=True,
                  reason="CYP2B6 could be Intermediate Metabolizer (*1/*6) or Normal Metabolizer (*4/*9). This is the "
                         "advice if CYP2B6 is Normal Metabolizer (*4/*9): confirm the genotype before acting",
                  incomplete=CYP2B6_TIED),
            guide(sample, "codeine", "CPIC", ["CYP2D6"], "gene_not_called", reason="CYP2D6 was not called",
                  incomplete="CYP2D6 could not be called from the input: order CYP2D6 genotyping that includes "
                             "copy number"),
            guide(sample, "abacavir", "CPIC", ["HLA-B"], "gene_not_assessed",
                  reason="HLA-B is not assessed from a VCF; no outside call", incomplete=HLA_B_UNTYPED),
            guide(sample, "simvastatin", "CPIC", ["SLCO1B1"], "matched",
                  recommendation="Prescribe desired starting dose and adjust doses based on disease-specific guidelines.",
                  classification="Strong", phenotypes=["SLCO1B1:Normal Function"], dosing=True, same=True),
            guide(sample, "warfarin", "CPIC", ["CYP2C9", "CYP4F2", "VKORC1"], "matched",
                  recommendation="Calculate the dose with a validated pharmacogenetic algorithm.",
                  classification="Strong", phenotypes=["CYP2C9:Intermediate Metabolizer"], dosing=True),
            guide(sample, "fosphenytoin", "CPIC", ["CYP2C9", "HLA-B"], "matched",
                  recommendation="Consider 25% reduction of recommended starting maintenance dose.",
                  classification="Moderate", phenotypes=["CYP2C9:Intermediate Metabolizer", "HLA-B:not assessed"],
                  dosing=True, same=False,
                  reason="HLA-B is not typed from a VCF: supply an outside call (HLA typing) to assess it: this is the "
                         "guideline's advice for an untested HLA-B", incomplete=HLA_B_UNTYPED),
            guide(sample, "phenytoin", "DPWG", ["CYP2C9"], "no_recommendation",
                  reason="no DPWG recommendation for this genotype"),
        ]
    else:
        c += [call(sample, "CYP2C19", "*1/*1"), call(sample, "CYP2D6", "*1/*5", source="outside", status="outside_call",
                                                       outside_phenotype="Intermediate Metabolizer",
                                                       outside_activity="1.0",
                                                       warnings=["outside call replaces the VCF call (*1/*1); they DISAGREE: review"])]
        p += [phen(sample, "CYP2C19", "*1/*1", "Normal Metabolizer", f1="Normal function", f2="Normal function"),
              phen(sample, "CYP2D6", "*1/*5", "Intermediate Metabolizer", status="outside_call", score="1.0", key="1.0")]
        g += [guide(sample, "clopidogrel", "CPIC", ["CYP2C19"], "matched",
                    recommendation="If considering clopidogrel, use at standard dose (75 mg/day).",
                    classification="Strong", phenotypes=["CYP2C19:Normal Metabolizer"]),
              # CPIC gives activity score 1.0 the normal metabolizer's atomoxetine advice, flagged "dosing" on both;
              # the guidance stage found it is the reference advice.
              guide(sample, "atomoxetine", "CPIC", ["CYP2D6"], "matched",
                    recommendation="Initiate with a dose of 40 mg/day and increase to 80 mg/day after 3 days.",
                    classification="Moderate", phenotypes=["CYP2D6:Intermediate Metabolizer"], dosing=True, same=True)]
    return {"calls": c, "phenotypes": p, "guidance": g}


def genotype_rows(sample: str) -> list[dict]:
    rows = []
    for i, (pos, a1, a2, state) in enumerate([
        (94781859, "G", "A", "called"), (94842866, "A", "A", "called"), (94761900, "C", "T", "called"),
        (94852738, None, None, "no_call"),
    ]):
        rows.append(_row(
            schema.GENOTYPES, sample_id=sample, input_id=INPUT, gene="CYP2C19", position_index=i, chromosome="chr10",
            position=pos, state=state, allele1=a1, allele2=a2, ploidy=2 if a1 else 0, phased=False, phase_set=None,
            depth=30 if a1 else None, genotype_quality=None, filter="PASS", vcf_ref=None, vcf_alts=[],
            gene_region_read=True,
        ))
    return rows


def write_results(root: Path, samples: dict[str, str], *, failed: dict[str, str] | None = None,
                  predictions: list[dict] | None = None, input_id: str = INPUT, kb: bool = True) -> Path:
    """Write one input's tables under `root` (a RESULTS folder); `samples` maps id -> clinical picture."""
    failed = failed or {}
    srows, calls, phens, guids, genos = [], [], [], [], []
    for sid, variant in samples.items():
        srows.append(_row(schema.SAMPLES, sample_id=sid, input_id=input_id, source_file="cohort.vcf.gz",
                          absent_is_reference=False, sex="female", status="ok"))
        t = sample_tables(sid, variant=variant)
        calls += t["calls"]
        phens += t["phenotypes"]
        guids += t["guidance"]
        genos += genotype_rows(sid)
    for sid, err in failed.items():
        srows.append(_row(schema.SAMPLES, sample_id=sid, input_id=input_id, source_file="cohort.vcf.gz",
                          absent_is_reference=False, status="failed", error=err))
    meta = {"input_id": input_id}
    group = sharding.ingest_dir(root, input_id) / "genes-0"
    schema.write_table(pd.DataFrame(srows), group / "part-000.samples.parquet", schema.SAMPLES, meta)
    schema.write_table(pd.DataFrame(genos, columns=schema.GENOTYPES.column_names),
                       group / "part-000.genotypes.parquet", schema.GENOTYPES, meta)
    schema.write_table(pd.DataFrame(calls), sharding.stage_file(root, "calls", input_id, "part-000"), schema.CALLS, meta)
    schema.write_table(pd.DataFrame(phens), sharding.stage_file(root, "phenotypes", input_id, "part-000"),
                       schema.PHENOTYPES, meta)
    schema.write_table(pd.DataFrame(guids), sharding.stage_file(root, "guidance", input_id, "part-000"),
                       schema.GUIDANCE, meta)
    if predictions is not None:
        schema.write_table(pd.DataFrame(predictions, columns=schema.PREDICTIONS.column_names),
                           sharding.stage_file(root, "predictions", input_id, "part-000"), schema.PREDICTIONS, meta)
    if kb:
        write_kb(root)
    return root


def write_kb(root: Path) -> None:
    meta = {"data_version": "2025-06-01", "source": "pharmcat-data-v3.1.1"}
    genes = pd.DataFrame([_row(schema.KB_GENES, gene="CYP2C19", chromosome="chr10", genome_build="GRCh38.p14",
                               reference_allele="*1", n_positions=4, n_alleles=3, undocumented_as_reference=False,
                               required_positions=[], ignored_alleles=[], unphased_priorities=[],
                               data_version="2025-06-01")])
    schema.write_table(genes, root / "knowledge" / "genes.parquet", schema.KB_GENES, meta)
    pos = pd.DataFrame([_row(schema.KB_POSITIONS, gene="CYP2C19", position_index=0, chromosome="chr10",
                             position=94781859, rsid="rs4244285", ref="G", alts=["A"], is_extra=False)])
    schema.write_table(pos, root / "knowledge" / "positions.parquet", schema.KB_POSITIONS, meta)
    fn = pd.DataFrame([_row(schema.KB_ALLELE_FUNCTIONS, gene="CYP2C9", allele=a, function=f, activity_value=v,
                            lookup_key=v, data_version="x", stale_source=False)
                       for a, f, v in [("*1", "Normal function", "1.0"), ("*3", "No function", "0.0")]])
    schema.write_table(fn, root / "knowledge" / "allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS, meta)


def prediction(sample, *, predicted=True, dose=31.5, predicted_class="intermediate", drug="warfarin",
               unit="mg/week"):
    if predicted:
        return _row(schema.PREDICTIONS, sample_id=sample, drug=drug, model_version="iwpc-rf-1.0",
                    status="predicted", predicted_class=predicted_class, prob_low=0.2, prob_intermediate=0.7,
                    prob_high=0.1, predicted_dose=dose, dose_lower=21.0, dose_upper=45.5, dose_unit=unit,
                    out_of_distribution=False, reasons=[])
    return _row(schema.PREDICTIONS, sample_id=sample, drug=drug, model_version="iwpc-rf-1.0",
                status="not_predicted", dose_unit=unit,
                reasons=["age, height and weight are missing from the sample sheet"])


@pytest.fixture
def results(tmp_path) -> Path:
    root = tmp_path / "results"
    write_results(
        root, {"PGX01": "pgx01", HOSTILE: "normal"}, failed={"BAD1": "no genotype at any allele-defining position"},
        predictions=[prediction("PGX01"), prediction(HOSTILE, predicted=False)],
    )
    card = root / "model" / "warfarin" / "model_card.html"
    card.parent.mkdir(parents=True)
    card.write_text("<html><body>card</body></html>")
    return root


def files_as_main_wrote(results: Path, input_id: str, out: Path, report_date: str) -> dict[str, str]:
    """{file name: text} of the four files per sample main's report loop wrote (html, json, outside-call TSV and,
    with --fhir, the bundle), made by calling the renderers one by one: what the default reports.formats must keep."""
    from pgx_pipeline.report import exports, fhir
    from pgx_pipeline.report.context import load_input_tables, sample_contexts
    from pgx_pipeline.report.files import safe_filenames
    from pgx_pipeline.report.html import _model_card_hrefs, render_patient_html

    tables = load_input_tables(results, input_id)
    names = safe_filenames([str(s) for s in tables.samples["sample_id"]])
    validator = fhir.Validator()
    files = {}
    for ctx in sample_contexts(tables, report_date=report_date, model_card_hrefs=_model_card_hrefs(tables, out)):
        stem = names[ctx["header"]["sample_id"]]
        files |= {f"{stem}.html": render_patient_html(ctx), f"{stem}.json": exports.sample_json(ctx),
                  f"{stem}.outside_calls.tsv": exports.outside_call_tsv(ctx),
                  f"{stem}.fhir.json": fhir.bundle_json(ctx, validator)}
    return files


# ---------------------------------------------------------------- HTML inspection
class Page(HTMLParser):
    """Tables (rows of cell texts, keyed by id and caption), every tag with its attributes, and the text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.tables: list[dict] = []
        self._stack: list[dict] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._caption: list[str] | None = None
        self._skip = 0
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "table":
            self._stack.append({"id": a.get("id"), "caption": "", "rows": []})
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._stack:
            self._stack[-1]["rows"].append(self._row)
            self._row = None
        elif tag == "caption" and self._caption is not None:
            self._stack[-1]["caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())

    def handle_data(self, data):
        if self._skip:
            return
        self.text_parts.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.text_parts).split())

    def table(self, *, id: str | None = None, caption: str | None = None) -> list[list[str]]:
        for t in self.tables:
            if (id and t["id"] == id) or (caption and t["caption"].startswith(caption)):
                return t["rows"]
        raise AssertionError(f"no table id={id!r} caption={caption!r}; have {[(t['id'], t['caption']) for t in self.tables]}")

    def row(self, rows: list[list[str]], first: str) -> list[str]:
        hits = [r for r in rows if r and r[0] == first]
        assert len(hits) == 1, f"expected one row starting {first!r}, got {hits}"
        return hits[0]
