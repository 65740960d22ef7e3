"""Turn one input's stage tables into a plain, JSON-ready dict per sample: the single source of every report.

The HTML template and the JSON export both render this dict, so the two can never say different things.
Nothing here formats HTML; everything here decides *what* a reader is told (labels, priorities, footnotes).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from .. import __version__, schema, sharding
from ..errors import PgxInputError
from ..fda_guidance import SOURCE as FDA_SOURCE
from ..fda_guidance import fda_priority
from ..model.registry import MODELS

GENOME_BUILD = "GRCh38"

# CFTR's reference allele in PharmCAT's definitions; the report names CFTR results by their variants instead.
CFTR_REFERENCE = "ivacaftor non-responsive CFTR sequence"
# Genes with guidance that an SNV VCF can never type: they only exist as outside calls.
OUTSIDE_ONLY_GENES = ("HLA-A", "HLA-B")
# What an SNV VCF cannot show even when the gene is called; said plainly on every report.
STRUCTURAL_NOT_ASSESSED = {
    "CYP2D6": (
        "Copy number (whole-gene deletion *5, duplications such as *1x2) and CYP2D6/CYP2D7 hybrid alleles "
        "(*13, *36, *68) were NOT assessed: an SNV VCF cannot show them. A deletion or duplication would change "
        "the phenotype. Supply an outside call from a copy-number-aware caller to cover them."
    ),
}
HLA_NOT_ASSESSED = (
    "HLA alleles cannot be typed from an SNV VCF and no outside call was supplied, so this gene was NOT assessed. "
    "Order HLA typing before prescribing the drugs listed."
)

GENE_STATUS_LABELS = {
    "called": "Called",
    "ambiguous": "Ambiguous",
    "outside_call": "Outside call",
    "not_called": "Not called",
    "not_assessed": "Not assessed",
}
GUIDANCE_STATUS_LABELS = {
    "matched": "Recommendation found",
    "no_recommendation": "No recommendation for this genotype",
    "gene_not_called": "No recommendation: gene not called",
    "gene_not_assessed": "No recommendation: gene not assessed",
    "ambiguous": "No single recommendation: genotype ambiguous",
    "not_matched": "Not in the FDA's affected subgroup",
    "not_evaluated": "FDA: see label, not evaluated for this genotype",
}
# Traffic light: the label is the message, the colour only repeats it.
PRIORITIES = {
    "act": ("Act", "Guideline recommends changing the drug or dose"),
    "consider": ("Consider", "Guideline suggests a change or extra care; weaker evidence or optional"),
    "confirm": ("Confirm genotype", "The genotype is ambiguous and one of its possibilities changes prescribing: "
                                    "confirm it before acting"),
    "info": ("Info", "The FDA table lists a pharmacokinetic effect for this genotype (section 3) and states no "
                     "prescribing change"),
    "standard": ("Standard", "No change for this genotype: the guideline gives the advice a patient with typical "
                             "(reference) genotypes gets, or says standard prescribing"),
    "unknown": ("No result", "No recommendation could be made for this patient; see why"),
    "none": ("No guidance", "The guideline has no recommendation for this genotype"),
}
PRIORITY_ORDER = {k: i for i, k in enumerate(PRIORITIES)}
STRONG_CLASSES = {"strong", "moderate"}
# Recommendations that say "no change" even when a dosing flag is set on them.
NO_CHANGE_TEXT = re.compile(
    r"no action is (needed|required)|no reason to (adjust|change)|no need to avoid", re.IGNORECASE)
# No pattern for "standard dose": it stands inside changes too ("Use 50% of the standard dose", "increase starting
# dose 1.5 to 2 times recommended starting dose"); whether advice is the usual one is decided by comparing it with
# the reference patient's (`same_as_reference`, from the guidance stage).
MAX_LISTED_POSITIONS = 12


# ---------------------------------------------------------------- value helpers
def _s(v: Any) -> str | None:
    """A clean string or None: pandas hands back NaN/None/numpy scalars from Parquet."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    text = str(v)
    return text if text.strip() else None


def _l(v: Any) -> list:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    return [x.item() if hasattr(x, "item") else x for x in list(v)]


def _b(v: Any) -> bool:
    return bool(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else False


def _b_or_none(v: Any) -> bool | None:
    """A nullable flag kept nullable: unknown is not the same as no."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v)


def _f(v: Any) -> float | None:
    if v is None:
        return None
    x = float(v)
    return None if math.isnan(x) else x


def _i(v: Any) -> int | None:
    f = _f(v)
    return None if f is None else int(f)


def _dedup(items) -> list:
    return list(dict.fromkeys(i for i in items if i))


# ---------------------------------------------------------------- loading
@dataclass
class InputTables:
    """Everything the reports of one input need, read once and grouped by sample."""

    input_id: str
    results_dir: Path
    samples: pd.DataFrame
    calls: SampleRows
    phenotypes: SampleRows
    guidance: SampleRows
    predictions: SampleRows | None
    genotypes: SampleRows
    kb: dict[str, str] = field(default_factory=dict)
    rsids: dict[tuple[str, int], str] = field(default_factory=dict)
    # drug -> model_card.html of every model trained in this results folder
    model_cards: dict[str, Path] = field(default_factory=dict)

    @cached_property
    def predicted_drugs(self) -> set[str]:
        """Drugs whose model ran on this input (rows in its predictions, predicted or not)."""
        return set(self.predictions.frame["drug"]) if self.predictions is not None else set()

    @cached_property
    def model_drugs(self) -> list[str]:
        """Drugs with a model: trained in this results folder (a card) or present in this input's predictions."""
        return sorted(self.predicted_drugs | set(self.model_cards))


# What the report shows of the genotypes table (the evidence table and unphased counts); the VCF's own ALT
# lists and the other columns stay on disk.
GENOTYPE_COLUMNS = ["sample_id", "gene", "position", "chromosome", "state", "allele1", "allele2", "phased", "depth",
                    "filter"]


class SampleRows:
    """A stage table's rows per sample, taken when a sample's report is built.

    A frame per sample made up front (groupby) doubled the report job's memory: 1.4 GB for a part of 1,601
    1000 Genomes samples, over the rule's declared mem_mb.
    """

    def __init__(self, df: pd.DataFrame) -> None:
        codes, names = pd.factorize(df["sample_id"])
        # One stable sort by sample, then each sample is a slice: a view, neither a copy nor a gather per report.
        self.frame = df.take(np.argsort(codes, kind="stable")).reset_index(drop=True)
        counts = np.bincount(codes, minlength=len(names))
        self._slices = {str(n): (int(e - c), int(e)) for n, e, c in zip(names, np.cumsum(counts), counts)}

    def get(self, sample_id: str, default: pd.DataFrame) -> pd.DataFrame:
        span = self._slices.get(sample_id)
        return default if span is None else self.frame.iloc[span[0]:span[1]]


def _required(path: Path, table: schema.Table) -> pd.DataFrame:
    if not path.is_file():
        raise PgxInputError(f"{table.name} table not found; run the stage that makes it before the report", path=path)
    return schema.read_table(path, table)


def kb_info(results_dir: str | os.PathLike) -> dict[str, str]:
    """Knowledge-base version and source, from the metadata every knowledge table carries."""
    kb_dir = Path(results_dir) / "knowledge"
    for name in ("guidance", "genes", "diplotype_phenotypes", "allele_functions"):
        path = kb_dir / f"{name}.parquet"
        if path.is_file():
            meta = schema.read_metadata(path)
            return {
                "data_version": meta.get("data_version", "unknown"),
                "source": meta.get("source", "unknown"),
                "stale_files": meta.get("stale_files", ""),
            }
    raise PgxInputError("no knowledge-base table found; build the knowledge base first", path=kb_dir)


def load_input_tables(results_dir: str | os.PathLike, input_id: str, part: str = "part-000") -> InputTables:
    """Read one part of one input (see `sharding`). Predictions are optional: no model may be configured."""
    root = Path(results_dir)
    sample_files = sharding.group_files(root, input_id, part, "samples")
    if not sample_files:
        raise PgxInputError(f"no ingested samples for input {input_id!r} {part}; run the earlier stages first",
                            path=sharding.ingest_dir(root, input_id))
    samples = sharding.read_samples(sample_files)
    genotypes = sharding.read_genotypes(sharding.group_files(root, input_id, part, "genotypes"), GENOTYPE_COLUMNS)
    calls = _required(sharding.stage_file(root, "calls", input_id, part), schema.CALLS)
    phenotypes = _required(sharding.stage_file(root, "phenotypes", input_id, part), schema.PHENOTYPES)
    guidance = _required(sharding.stage_file(root, "guidance", input_id, part), schema.GUIDANCE)
    pred_path = sharding.stage_file(root, "predictions", input_id, part)
    predictions = SampleRows(schema.read_table(pred_path, schema.PREDICTIONS)) if pred_path.is_file() else None
    rsids: dict[tuple[str, int], str] = {}
    pos_path = root / "knowledge" / "positions.parquet"
    if pos_path.is_file():
        pos = schema.read_table(pos_path, schema.KB_POSITIONS, columns=["gene", "position", "rsid"])
        rsids = {(g, int(p)): r for g, p, r in zip(pos["gene"], pos["position"], pos["rsid"]) if _s(r)}
    cards = {p.parent.name: p for p in sorted((root / "model").glob("*/model_card.html"))}
    return InputTables(
        input_id=input_id,
        results_dir=root,
        samples=samples,
        calls=SampleRows(calls),
        phenotypes=SampleRows(phenotypes),
        guidance=SampleRows(guidance),
        predictions=predictions,
        genotypes=SampleRows(genotypes),
        kb=kb_info(root),
        rsids=rsids,
        model_cards=cards,
    )


# ---------------------------------------------------------------- per sample
def sample_contexts(
    tables: InputTables, *, report_date: str, model_card_hrefs: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """One context per sample of the input, in the samples table's order."""
    for row in tables.samples.itertuples(index=False):
        yield build_sample_context(tables, row.sample_id, report_date=report_date, model_card_hrefs=model_card_hrefs)


def build_sample_context(
    tables: InputTables, sample_id: str, *, report_date: str, model_card_hrefs: dict[str, str] | None = None
) -> dict[str, Any]:
    """Everything the patient report and its JSON say about one sample."""
    srow = tables.samples[tables.samples["sample_id"] == sample_id]
    if srow.empty:
        raise PgxInputError(f"sample not in the samples table of input {tables.input_id!r}", sample=sample_id)
    s = srow.iloc[0]
    empty = pd.DataFrame()
    calls = tables.calls.get(sample_id, empty)
    phen = tables.phenotypes.get(sample_id, empty)
    guid = tables.guidance.get(sample_id, empty)
    geno = tables.genotypes.get(sample_id, empty)
    preds = (tables.predictions or {}).get(sample_id, empty)
    ran = tables.predicted_drugs

    header = {
        "sample_id": sample_id,
        "input_id": tables.input_id,
        "report_date": report_date,
        "pipeline_version": __version__,
        "kb_data_version": tables.kb.get("data_version", "unknown"),
        "kb_source": tables.kb.get("source", "unknown"),
        "kb_stale_files": [f.strip() for f in tables.kb.get("stale_files", "").split(";") if f.strip()],
        "genome_build": GENOME_BUILD,
        "source_file": _s(s["source_file"]),
        "absent_is_reference": _b(s["absent_is_reference"]),
        "absent_positions": (
            "treated as reference (the input declared that absent positions are reference)"
            if _b(s["absent_is_reference"])
            else "treated as missing (not assumed to be reference)"
        ),
        "status": _s(s["status"]) or "failed",
        "error": _s(s["error"]),
        "input_notes": _l(s["notes"]) if "notes" in s.index else [],
    }
    genes = _genes(calls, phen, geno, tables.rsids)
    drugs = _drugs(guid)
    not_assessed = _not_assessed(genes, guid)
    ctx = {
        "header": header,
        "summary": _summary(drugs, genes, not_assessed),
        "genes": genes,
        "footnotes": _number_footnotes(genes),
        "not_assessed": not_assessed,
        "drugs": drugs,
        "models": [_model_estimate(drug, preds, drugs, (model_card_hrefs or {}).get(drug), drug in ran)
                   for drug in tables.model_drugs],
        "matching": _matching(geno, tables.rsids, calls),
        "messages": _dedup(m for d in drugs for g in d["guidelines"] for m in g["messages"]),
    }
    return ctx


# ---------------------------------------------------------------- genes
def _by_gene(df: pd.DataFrame, order: list[str]) -> dict[str, list[dict]]:
    """A sample's rows as plain records per gene, sorted: one conversion per table, not one per gene and row
    (pandas row access dominated report time at ~100 drugs and 20 genes per patient)."""
    out: dict[str, list[dict]] = {}
    if not df.empty:
        for r in df.sort_values(order).to_dict("records"):
            out.setdefault(r["gene"], []).append(r)
    return out


def _genes(calls: pd.DataFrame, phen: pd.DataFrame, geno: pd.DataFrame, rsids: dict) -> list[dict]:
    if calls.empty:
        return []
    het_unphased = _unphased_het_counts(geno)
    phen_by_gene = _by_gene(phen, ["gene", "rank"])
    return [_gene(gene, rows, phen_by_gene.get(gene, []), het_unphased.get(gene, 0), rsids)
            for gene, rows in sorted(_by_gene(calls, ["gene", "rank"]).items())]


def _unphased_het_counts(geno: pd.DataFrame) -> dict[str, int]:
    if geno.empty:
        return {}
    het = geno[(geno["state"] == "called") & (~geno["phased"].astype(bool)) & geno["allele2"].notna()
               & (geno["allele1"] != geno["allele2"])]
    return het.groupby("gene").size().to_dict()


def _shown_diplotype(gene: str, diplotype: str | None) -> str | None:
    """CFTR as PharmCAT reports it, by its variants: "No CPIC variants found", "G551D (heterozygous)"; the called
    diplotype names the reference sequence ("ivacaftor non-responsive CFTR sequence"), which reads as a finding."""
    if gene != "CFTR" or not diplotype:
        return diplotype
    variants = [a for a in diplotype.split("/") if a != CFTR_REFERENCE]
    if not variants:
        return "No CPIC variants found"
    if len(variants) == 1:
        return f"{variants[0]} (heterozygous)"
    return f"{variants[0]} (homozygous)" if variants[0] == variants[1] else "/".join(variants)


def _gene(gene: str, calls: list[dict], phen: list[dict], n_unphased_het: int, rsids: dict) -> dict:
    top = calls[0]
    status = _s(top["status"]) or "not_called"
    n = _i(top["n_candidates"]) or 0
    by_rank = {int(r["rank"]): r for r in phen}
    candidates = []
    for c in calls:
        pr = by_rank.get(int(c["rank"]))
        candidates.append({
            "diplotype": _s(c["diplotype"]),
            "score": _i(c["score"]),
            "phenotype": _s(pr["phenotype"]) if pr is not None else _s(c["outside_phenotype"]),
            "activity_score": _s(pr["activity_score"]) if pr is not None else _s(c["outside_activity_score"]),
            "allele1_function": _s(pr["allele1_function"]) if pr is not None else None,
            "allele2_function": _s(pr["allele2_function"]) if pr is not None else None,
            "lookup_key": _s(pr["lookup_key"]) if pr is not None else None,
        })
    first = candidates[0]
    agree = _b(by_rank[1]["candidates_agree"]) if 1 in by_rank else n <= 1
    display_status = "ambiguous" if status == "called" and n > 1 else status
    missing = sorted(int(x) for x in _l(top["missing_positions"]))
    warnings = _dedup(_l(top["warnings"]) + (_l(by_rank[1]["warnings"]) if 1 in by_rank else []))

    phenotype, activity, functions = first["phenotype"], first["activity_score"], None
    if display_status == "ambiguous" and not agree:
        phenotype, activity = "Indeterminate: candidates differ (see note)", None
    if display_status in ("called", "outside_call"):
        functions = [f for f in (first["allele1_function"], first["allele2_function"]) if f] or None
    if display_status in ("not_called", "not_assessed"):
        phenotype = activity = None

    notes = []
    if display_status == "ambiguous":
        listed = "; ".join(f"{c['diplotype']} ({c['phenotype'] or 'phenotype unknown'})" for c in candidates)
        notes.append(
            f"{n} diplotypes fit the data equally well: {listed}. "
            + ("They all give the same phenotype, so the guidance below applies to each of them."
               if agree else "They give different phenotypes: the guidance below gives each candidate's advice "
               "where it differs; confirm the genotype before acting on it.")
        )
    if missing:
        where = ", ".join(_pos_label(gene, p, rsids) for p in missing[:MAX_LISTED_POSITIONS])
        more = f" and {len(missing) - MAX_LISTED_POSITIONS} more" if len(missing) > MAX_LISTED_POSITIONS else ""
        notes.append(
            f"{len(missing)} allele-defining position(s) had no usable genotype ({where}{more}). Alleles defined "
            "there could not be detected; the call assumes none of them is present."
        )
    if status == "called" and not _b(top["phased"]) and n_unphased_het >= 2:
        notes.append(
            f"Unphased data: {n_unphased_het} heterozygous positions without phase. Which variants sit on the same "
            "chromosome was inferred, not observed."
        )
    if status == "outside_call":
        notes.append("Outside call: this result was supplied by another test or tool, not made from the VCF.")
    if status == "not_called":
        notes.append("No diplotype could be called from the data (see the notes and allele-matching details).")
    if status == "not_assessed":
        notes.append(f"{gene} was NOT assessed for this patient.")
    if gene in STRUCTURAL_NOT_ASSESSED and status != "outside_call":
        notes.append(STRUCTURAL_NOT_ASSESSED[gene])
    # Call warnings the notes above do not already say in plainer words.
    covered = re.compile(r"^ambiguous: |allele-defining position\(s\) missing|copy number .*NOT assessed")
    notes.extend(w for w in warnings if not covered.search(w))

    return {
        "gene": gene,
        "status": display_status,
        "status_label": GENE_STATUS_LABELS.get(display_status, display_status),
        "diplotype": _shown_diplotype(gene, first["diplotype"]) if display_status in ("called", "outside_call") else None,
        "called_diplotype": first["diplotype"],
        "n_candidates": n,
        "candidates": candidates if display_status == "ambiguous" else [],
        "candidates_agree": agree,
        "allele_functions": functions,
        "phenotype": phenotype,
        "activity_score": activity,
        "phased": _b(top["phased"]),
        "source": _s(top["source"]) or "vcf",
        "missing_positions": missing,
        "notes": _dedup(notes),
    }


def _pos_label(gene: str, pos: int, rsids: dict) -> str:
    rs = rsids.get((gene, pos))
    return f"{pos:,} ({rs})" if rs else f"{pos:,}"


def _number_footnotes(genes: list[dict]) -> list[dict]:
    """Number every gene note once, in table order; genes keep the numbers they point to."""
    foot = []
    for g in genes:
        g["footnote_ids"] = []
        for text in g["notes"]:
            foot.append({"id": len(foot) + 1, "gene": g["gene"], "text": text})
            g["footnote_ids"].append(len(foot))
    return foot


def _not_assessed(genes: list[dict], guid: pd.DataFrame) -> list[dict]:
    """What was NOT assessed, in plain words, with the drugs it leaves without guidance."""
    called = {g["gene"]: g for g in genes}
    drugs_by_gene: dict[str, set[str]] = {}
    if not guid.empty:
        for drug, gs, status in zip(guid["drug"], guid["genes"], guid["status"]):
            for gene in _l(gs):
                drugs_by_gene.setdefault(gene, set()).add(drug)
    out = []
    for gene in OUTSIDE_ONLY_GENES:
        g = called.get(gene)
        if g is None or g["status"] in ("not_assessed", "not_called"):
            out.append({"gene": gene, "what": HLA_NOT_ASSESSED, "drugs": sorted(drugs_by_gene.get(gene, ()))})
    for gene, text in STRUCTURAL_NOT_ASSESSED.items():
        g = called.get(gene)
        if g is not None and g["status"] != "outside_call":
            out.append({"gene": gene + " structural variants", "what": text, "drugs": sorted(drugs_by_gene.get(gene, ()))})
    listed = {o["gene"] for o in out}
    for g in genes:
        if g["status"] == "not_assessed" and g["gene"] not in listed:
            out.append({"gene": g["gene"], "what": f"{g['gene']} was NOT assessed.",
                        "drugs": sorted(drugs_by_gene.get(g["gene"], ()))})
    if not guid.empty:
        for gene in sorted({x for gs, st in zip(guid["genes"], guid["status"]) if st == "gene_not_assessed" for x in _l(gs)}):
            if gene not in listed and gene not in called:
                out.append({"gene": gene, "what": f"{gene} was NOT assessed.", "drugs": sorted(drugs_by_gene.get(gene, ()))})
    return out


# ---------------------------------------------------------------- drugs
def _priority(status: str, classification: str | None, recommendation: str | None, dosing: bool, alternate: bool,
              other: bool, same_as_reference: bool | None = None) -> str:
    if status == "ambiguous" and recommendation:
        # One candidate's advice (the guidance stage made candidates that share advice a match).
        inner = _priority("matched", classification, recommendation, dosing, alternate, other, same_as_reference)
        return "confirm" if inner in ("act", "consider") else "unknown"
    if status != "matched":
        return "none" if status == "no_recommendation" else "unknown"
    if same_as_reference:
        # CPIC sets dosing flags on normal-metabolizer advice too; what a patient with reference genotypes gets
        # is, by definition, not a change driven by this genotype.
        return "standard"
    strong = (classification or "").strip().lower() in STRONG_CLASSES
    if alternate:
        return "act" if strong else "consider"
    if recommendation and NO_CHANGE_TEXT.search(recommendation):
        return "standard"
    if dosing:
        return "act" if strong else "consider"
    if other:
        return "consider"
    return "standard"


def row_priority(r: Mapping[str, Any]) -> str:
    """The label of one GUIDANCE row (a record or a Series), as the report, the cohort table and the labels
    benchmark read it."""
    if r.get("source") == FDA_SOURCE:
        return fda_priority(_s(r["status"]) or "not_evaluated", _s(r.get("fda_label")))
    return _priority(_s(r["status"]) or "no_recommendation", _s(r["classification"]), _s(r["recommendation"]),
                     _b(r["dosing_information"]), _b(r["alternate_drug"]), _b(r["other_guidance"]),
                     _b_or_none(r["same_as_reference"]))


def _drugs(guid: pd.DataFrame) -> list[dict]:
    if guid.empty:
        return []
    order = {"CPIC": 0, "DPWG": 1, "FDA": 2}
    by_drug: dict[str, list[dict]] = {}
    for r in guid.to_dict("records"):
        by_drug.setdefault(r["drug"], []).append(r)
    out = []
    for drug in sorted(by_drug):
        rows = sorted(by_drug[drug], key=lambda r: (order.get(r["source"], 9), r["guideline"] or ""))
        gl = []
        for r in rows:
            status = _s(r["status"]) or "no_recommendation"
            pr = row_priority(r)
            gl.append({
                "source": _s(r["source"]),
                "guideline": _s(r["guideline"]),
                "guideline_version": _s(r["guideline_version"]),
                "url": _safe_url(_s(r["url"])),
                "genes": _l(r["genes"]),
                "phenotypes": [_gene_colon(x) for x in _l(r["phenotypes"])],
                "lookup_keys": _l(r["lookup_keys"]),
                "population": _s(r["population"]),
                "status": status,
                "status_label": GUIDANCE_STATUS_LABELS.get(status, status),
                "recommendation": _s(r["recommendation"]),
                "implications": _l(r["implications"]),
                "classification": _s(r["classification"]),
                "dosing_information": _b(r["dosing_information"]),
                "alternate_drug": _b(r["alternate_drug"]),
                "other_guidance": _b(r["other_guidance"]),
                "same_as_reference": _b_or_none(r["same_as_reference"]),
                "reason": _s(r["reason"]),
                "messages": _dedup(_l(r["messages"])),
                # a match, or one candidate's advice for an ambiguous genotype
                "shows_advice": status == "matched" or (status == "ambiguous" and bool(_s(r["recommendation"]))
                                                        and r.get("source") != FDA_SOURCE),
                "priority": pr,
                "priority_label": PRIORITIES[pr][0],
                "fda_section": _i(r.get("fda_section")),
                "fda_affected_subgroups": _s(r.get("fda_affected_subgroups")),
            })
        best = min((g["priority"] for g in gl), key=PRIORITY_ORDER.__getitem__)
        out.append({
            "drug": drug,
            "genes": sorted({x for g in gl for x in g["genes"]}),
            "priority": best,
            "priority_label": PRIORITIES[best][0],
            "has_guidance": any(g["shows_advice"] for g in gl),
            "guidelines": gl,
        })
    return out


def _gene_colon(text: str) -> str:
    """'CYP2C19:Poor Metabolizer' (the guidance table's key form) as readers expect it: 'CYP2C19: Poor Metabolizer'."""
    gene, sep, rest = str(text).partition(":")
    return f"{gene}: {rest.strip()}" if sep else str(text)


def _safe_url(url: str | None) -> str | None:
    """Only plain web links become anchors: a javascript: or data: URL from the data would be an attack."""
    return url if url and re.match(r"^https?://[^\s\"'<>]+$", url) else None


def _summary(drugs: list[dict], genes: list[dict], not_assessed: list[dict]) -> dict:
    actions = []
    for d in drugs:
        for g in d["guidelines"]:
            if g["priority"] in ("act", "consider", "confirm"):
                actions.append({
                    "drug": d["drug"],
                    "source": g["source"],
                    "population": g["population"] if g["population"] not in (None, "", "general") else None,
                    "genes": g["genes"],
                    "phenotypes": g["phenotypes"],
                    "recommendation": g["recommendation"],
                    "classification": g["classification"],
                    "priority": g["priority"],
                    "priority_label": g["priority_label"],
                    "reason": g["reason"],
                })
    actions.sort(key=lambda a: (PRIORITY_ORDER[a["priority"]], a["drug"], a["source"] or ""))
    # Drugs left without a recommendation, grouped by the gene that caused it.
    gaps: dict[tuple[str, str], set[str]] = {}
    for d in drugs:
        if d["has_guidance"]:
            continue
        for g in d["guidelines"]:
            if g["status"] in ("gene_not_called", "gene_not_assessed", "ambiguous"):
                gene_state = {x["gene"]: x["status"] for x in genes}
                for gene in g["genes"]:
                    st = gene_state.get(gene, "not_assessed")
                    if st in ("not_called", "not_assessed", "ambiguous"):
                        gaps.setdefault((gene, GENE_STATUS_LABELS[st]), set()).add(d["drug"])
    return {
        "actions": actions,
        "gaps": [{"gene": k[0], "reason": k[1], "drugs": sorted(v)} for k, v in sorted(gaps.items())],
        "n_standard": sum(1 for d in drugs if d["priority"] == "standard"),
        "n_no_guidance": sum(1 for d in drugs if d["priority"] == "none"),
        "n_drugs": len(drugs),
        "not_assessed_genes": [n["gene"] for n in not_assessed],
        "legend": [{"priority": k, "label": v[0], "meaning": v[1]} for k, v in PRIORITIES.items()],
    }


# ---------------------------------------------------------------- model estimates
def _model_estimate(drug: str, preds: pd.DataFrame, drugs: list[dict], card_href: str | None, model_ran: bool) -> dict:
    """One drug's model estimate for the sample, with that drug's guideline rows beside it."""
    guideline = next((d for d in drugs if d["drug"].lower() == drug.lower()), None)
    entry = MODELS.get(drug)
    model = None
    rows = preds[preds["drug"].str.lower() == drug.lower()] if not preds.empty else preds
    if not rows.empty:
        r = rows.iloc[0]
        dose = _f(r["predicted_dose"])
        probs = [("low", _f(r["prob_low"])), ("intermediate", _f(r["prob_intermediate"])), ("high", _f(r["prob_high"]))]
        model = {
            "status": _s(r["status"]),
            "model_version": _s(r["model_version"]),
            "predicted_class": _s(r["predicted_class"]),
            "probabilities": [{"class": c, "p": p} for c, p in probs if p is not None],
            "predicted_dose": dose,
            "dose_unit": _s(r["dose_unit"]),
            # The class the dose estimate falls in: the class probabilities come from a separate model and
            # can lean to the neighbouring class near a boundary; the report then says so.
            "dose_band": entry.classes.name_of(dose) if dose is not None and entry else None,
            "dose_classes": entry.classes.text if entry else None,
            "dose_lower": _f(r["dose_lower"]),
            "dose_upper": _f(r["dose_upper"]),
            "out_of_distribution": _b(r["out_of_distribution"]),
            "reasons": _l(r["reasons"]),
        }
    reason = None
    if model is None:
        reason = (f"the {drug} model was not run for this input" if not model_ran
                  else f"no {drug} model row for this sample")
    return {"drug": drug, "model": model, "not_run_reason": reason, "model_card_href": card_href,
            "monitoring": entry.monitoring if entry else "",
            "guidelines": guideline["guidelines"] if guideline else []}


# ---------------------------------------------------------------- matching details
def _matching(geno: pd.DataFrame, rsids: dict, calls: pd.DataFrame) -> list[dict]:
    if geno.empty:
        return []
    missing_by_gene: dict[str, set[int]] = {}
    absent_ref: dict[str, bool] = {}
    if not calls.empty:
        top = calls[calls["rank"] == 1]
        missing_by_gene = {g: {int(x) for x in _l(m)} for g, m in zip(top["gene"], top["missing_positions"])}
        absent_ref = {g: _b(a) for g, a in zip(top["gene"], top["absent_is_reference"])}
    out = []
    cols = ["gene", "position", "chromosome", "state", "allele1", "allele2", "phased", "depth", "filter"]
    for gene, records in sorted(_by_gene(geno[cols], ["gene", "position"]).items()):
        miss = missing_by_gene.get(gene, set())
        rows = []
        for r in records:
            a1, a2 = _s(r["allele1"]), _s(r["allele2"])
            observed = "—" if a1 is None else (a1 if a2 is None else f"{a1}{'|' if _b(r['phased']) else '/'}{a2}")
            pos = int(r["position"])
            # The input's absent-is-reference promise does not hold where the call found the gene region unread.
            read_as_ref = r["state"] == "absent" and absent_ref.get(gene, False) and pos not in miss
            if a1 is None and read_as_ref:
                observed = "absent: read as reference"
            rows.append({
                "chromosome": _s(r["chromosome"]),
                "position": pos,
                "rsid": rsids.get((gene, pos)),
                "observed": observed,
                "state": _s(r["state"]),
                "depth": _i(r["depth"]),
                "filter": _s(r["filter"]),
                "missing": pos in miss or (r["state"] != "called" and not read_as_ref),
            })
        out.append({"gene": gene, "positions": rows, "n_missing": sum(1 for x in rows if x["missing"])})
    return out
