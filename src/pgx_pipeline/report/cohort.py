"""Cohort-level counts for the summary page: built from the calls/phenotypes/guidance tables, never from HTML.

Everything is aggregated per gene or per failure reason, so the page stays small at thousands of samples; the
per-sample list travels as compact JSON that a few lines of inline script page and search.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import patients, schema, sharding
from ..fda_guidance import cohort_counts
from ..records import records
from .context import GENE_STATUS_LABELS, PRIORITIES, _s, row_priority

MAX_FAILURE_EXAMPLES = 8
# Traffic-light classes counted per sample in the cohort table (drugs whose best label is this one).
COUNTED_PRIORITIES = ("act", "consider", "confirm", "incomplete")
CHART_STATUSES = ("called", "ambiguous", "outside_call", "not_called", "not_assessed")


def cohort_build_text(inputs: list[dict]) -> str:
    """Results are on GRCh38 coordinates; GRCh37 inputs were read through the build map, and the page says which."""
    lifted = sorted(i["input_id"] for i in inputs if i.get("lifted"))
    if not lifted:
        return "GRCh38"
    return f"GRCh38 (inputs read as GRCh37 and lifted to GRCh38: {', '.join(lifted)})"


def gene_status(top: pd.DataFrame) -> pd.Series:
    """Rank-1 rows -> display status, with ties made visible as 'ambiguous'."""
    st = top["status"].astype(str).copy()
    st[(st == "called") & (top["n_candidates"].fillna(0).astype(int) > 1)] = "ambiguous"
    return st


def rank1_phenotypes(calls: pd.DataFrame, phen: pd.DataFrame) -> pd.DataFrame:
    """One row per sample and gene: display status and the phenotype a frequency table may count."""
    top = calls[calls["candidate"] == 1][["sample_id", "gene", "status", "n_candidates", "outside_phenotype"]].copy()
    top["display"] = gene_status(top)
    p1 = phen[phen["candidate"] == 1][["sample_id", "gene", "phenotype", "candidates_agree"]]
    top = top.merge(p1, on=["sample_id", "gene"], how="left")
    ph = top["phenotype"].where(top["phenotype"].notna(), top["outside_phenotype"])
    label = ph.fillna("Phenotype not determined").astype(str)
    agree = top["candidates_agree"].fillna(False).astype(bool)
    label[(top["display"] == "ambiguous") & ~agree] = "Indeterminate (ambiguous call)"
    label[top["display"] == "not_called"] = "Not called"
    label[top["display"] == "not_assessed"] = "Not assessed"
    top["phenotype_label"] = label
    return top


def sample_priorities(guid: pd.DataFrame) -> pd.DataFrame:
    """Per sample: how many drugs fall in each traffic-light class (the cohort table's columns), sorted by sample.

    A drug's class is its best-ranked row's (`PRIORITIES` order); counted on integer codes, not row by row."""
    if guid.empty:
        return pd.DataFrame(columns=["sample_id", *COUNTED_PRIORITIES])
    rank = row_priorities(guid)
    patient, names = pd.factorize(guid["sample_id"])
    drug, drugs = pd.factorize(guid["drug"])
    worst = len(PRIORITIES)
    best = np.full(len(names) * len(drugs), worst, dtype=np.int64)
    np.minimum.at(best, patient.astype(np.int64) * len(drugs) + drug, rank)
    best = best.reshape(len(names), len(drugs))
    order = list(PRIORITIES)
    counts = pd.DataFrame({k: (best == order.index(k)).sum(axis=1) for k in COUNTED_PRIORITIES},
                          index=pd.Index(np.asarray(names, dtype=object), name="sample_id"))
    return counts.sort_index().reset_index()


# Every GUIDANCE column the cohort page reads; its text columns are read as categoricals, from Parquet's dictionary
# pages, so ~270 rows a patient never become one string each (reading them as strings took ~1 s a part).
GUIDANCE_COLUMNS = ["input_id", "sample_id", "drug", "status", "classification", "recommendation", "dosing_information",
                    "alternate_drug", "other_guidance", "same_as_reference", "incomplete", "source", "guideline",
                    "fda_section", "fda_label"]
TEXT_COLUMNS = [c for c in GUIDANCE_COLUMNS if schema.GUIDANCE.arrow_schema.field(c).type == "string"]
# The GUIDANCE columns `row_priority` reads: a row's label is a function of these alone.
PRIORITY_COLUMNS = ("source", "status", "fda_label", "classification", "recommendation", "dosing_information",
                    "alternate_drug", "other_guidance", "same_as_reference", "incomplete")


def row_priorities(guid: pd.DataFrame) -> np.ndarray:
    """Rank in `PRIORITIES` of every row's `row_priority`, decided once per distinct combination of
    `PRIORITY_COLUMNS`: ~270 rows a patient repeat a few thousand combinations across a panel part, and labelling
    rows one by one cost ~10 s."""
    key = np.zeros(len(guid), dtype=np.int64)
    for c in PRIORITY_COLUMNS:
        # pandas' factorize gives every missing value (None or NaN) one code, -1: missing cells are alike to _s/_b.
        codes, uniques = pd.factorize(guid[c], use_na_sentinel=True)
        key = pd.factorize(key * (len(uniques) + 1) + (codes + 1))[0].astype(np.int64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = list(PRIORITIES)
    ranks = np.array([order.index(row_priority(r)) for r in records(guid.iloc[first][list(PRIORITY_COLUMNS)])],
                     dtype=np.int64)
    return ranks[inverse.reshape(-1)]


def _guidance(path: Path, unit: str, keep: set[str]) -> pd.DataFrame:
    """A part's guidance rows of the kept inputs, `sample_id` the patient key (as `patients.keyed`: rows without an
    input_id are the unit's own), text columns categorical."""
    guid = schema.read_table(path, schema.GUIDANCE, columns=GUIDANCE_COLUMNS, categorical=TEXT_COLUMNS)
    input_names = [*guid["input_id"].cat.categories, unit]
    ic = guid["input_id"].cat.codes.to_numpy().astype(np.int64)
    ic[ic < 0] = len(input_names) - 1
    sc = guid["sample_id"].cat.codes.to_numpy().astype(np.int64)
    if (sc < 0).any():
        raise ValueError(f"{path}: rows without a sample_id")
    sample_names = guid["sample_id"].cat.categories
    n = max(len(sample_names), 1)
    pair, inverse = np.unique(ic * n + sc, return_inverse=True)
    keys = [patients.key(input_names[p // n], sample_names[p % n]) for p in pair]
    guid["sample_id"] = pd.Categorical.from_codes(inverse.reshape(-1), categories=keys)
    return guid[np.isin(ic, [i for i, name in enumerate(input_names) if name in keep])]


def build_cohort_context(
    results_dir: str | Path, input_ids: list[str], *, report_date: str, hrefs: dict[tuple[str, str], str],
    kb: dict[str, str], pipeline_version: str, units: list[str] | None = None,
) -> dict[str, Any]:
    """The summary of `input_ids`, read from the stage tables of `units` (the work units holding them; by default
    each input is its own unit). Rows are counted per patient (input, sample), never per sample name."""
    root = Path(results_dir)
    keep = set(input_ids)
    by_input: dict[str, dict] = {}
    sample_rows, failures = [], Counter()
    failure_examples: dict[str, list[str]] = {}
    gene_counts: dict[str, Counter] = {}
    pheno_counts: dict[str, Counter] = {}
    fda_counts: dict[tuple, Counter] = {}
    for unit, part, _ in sharding.unit_parts(root, units or input_ids):
        samples = sharding.read_part_samples(root, unit, part)
        samples = samples[samples["input_id"].isin(keep)]
        calls = _patients(schema.read_table(sharding.stage_file(root, "calls", unit, part), schema.CALLS, columns=[
            "input_id", "sample_id", "gene", "candidate", "status", "n_candidates", "outside_phenotype"]), unit, keep)
        phen = _patients(schema.read_table(sharding.stage_file(root, "phenotypes", unit, part), schema.PHENOTYPES,
                                           columns=["input_id", "sample_id", "gene", "candidate", "phenotype",
                                                    "candidates_agree"]), unit, keep)
        guid = _guidance(sharding.stage_file(root, "guidance", unit, part), unit, keep)
        _add_fda_counts(fda_counts, guid)
        top = rank1_phenotypes(calls, phen)
        for gene, g in top.groupby("gene", sort=True):
            gene_counts.setdefault(gene, Counter()).update(g["display"])
            pheno_counts.setdefault(gene, Counter()).update(g["phenotype_label"])
        not_called = top[top["display"].isin(["not_called", "ambiguous"])].groupby("sample_id")["gene"].apply(
            lambda s: ", ".join(sorted(s))).to_dict()
        prio = {p: tuple(c) for p, *c in zip(*(col for _, col in sample_priorities(guid).items()))}
        lifted_ids = set(samples.loc[samples["input_build"] == "GRCh37", "input_id"])
        for input_id, sid, status, err, source in zip(samples["input_id"], samples["sample_id"], samples["status"],
                                                      samples["error"], samples["source_file"]):
            patient = patients.key(input_id, sid)
            entry = by_input.setdefault(input_id, {"input_id": input_id, "source_files": [], "n_samples": 0,
                                                   "n_ok": 0, "n_failed": 0})
            if _s(source) and source not in entry["source_files"]:
                entry["source_files"] = sorted([*entry["source_files"], source])
            entry["n_samples"] += 1
            entry["n_ok" if status == "ok" else "n_failed"] += 1
            if input_id in lifted_ids:
                entry["lifted"] = True
            reason = (_s(err) or "no reason recorded") if status != "ok" else None
            if reason:
                failures[reason] += 1
                failure_examples.setdefault(reason, [])
                if len(failure_examples[reason]) < MAX_FAILURE_EXAMPLES:
                    failure_examples[reason].append(sid)
            act, consider, confirm, incomplete = (int(n) for n in prio.get(patient, (0,) * len(COUNTED_PRIORITIES)))
            # Compact row: [id, input, href, status, act, consider, genes not called/ambiguous, failure reason,
            # confirm, incomplete, source file]
            sample_rows.append([sid, input_id, hrefs.get((input_id, sid), ""), status, act, consider,
                                not_called.get(patient, ""), reason or "", confirm, incomplete, _s(source) or ""])
    inputs = list(by_input.values())
    n_total = sum(i["n_samples"] for i in inputs)
    genes = []
    for gene in sorted(gene_counts):
        counts = gene_counts[gene]
        ph = pheno_counts[gene]
        total = sum(ph.values()) or 1
        bars = [{"label": k, "n": v, "pct": 100.0 * v / total} for k, v in sorted(ph.items(), key=lambda kv: (-kv[1], kv[0]))]
        genes.append({"gene": gene, "counts": {k: int(counts.get(k, 0)) for k in CHART_STATUSES},
                      "n": int(sum(counts.values())), "phenotypes": bars})
    return {
        "report_date": report_date,
        "pipeline_version": pipeline_version,
        "kb_data_version": kb.get("data_version", "unknown"),
        "kb_provenance": kb.get("provenance", "unknown"),
        "genome_build": cohort_build_text(inputs),
        "n_samples": n_total,
        "n_ok": sum(i["n_ok"] for i in inputs),
        "n_failed": sum(i["n_failed"] for i in inputs),
        "inputs": inputs,
        "genes": genes,
        "status_labels": {k: GENE_STATUS_LABELS[k] for k in CHART_STATUSES},
        "failures": [{"reason": r, "n": n, "examples": failure_examples[r]} for r, n in failures.most_common()],
        "samples": sample_rows,
        "fda": [{"drug": k[0], "guideline": k[1], "section": k[2], **dict(v)} for k, v in sorted(fda_counts.items())],
    }


def _patients(df: pd.DataFrame, unit: str, keep: set[str]) -> pd.DataFrame:
    """A unit's rows of the kept inputs, `sample_id` keyed by patient (a table without input ids is the unit's own)."""
    df = patients.keyed(df, unit)
    return df[df["input_id"].isin(keep)]


def _add_fda_counts(acc: dict[tuple, Counter], guid: pd.DataFrame) -> None:
    """Patients per FDA row and outcome, summed over parts (pgx_pipeline.fda_guidance.cohort_counts)."""
    for row in cohort_counts(guid):
        key = (row.pop("drug"), row.pop("guideline"), row.pop("section"))
        acc.setdefault(key, Counter()).update(row)
