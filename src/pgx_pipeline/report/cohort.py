"""Cohort-level counts for the summary page: built from the calls/phenotypes/guidance tables, never from HTML.

Everything is aggregated per gene or per failure reason, so the page stays small at thousands of samples; the
per-sample list travels as compact JSON that a few lines of inline script page and search.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from .. import schema, sharding
from ..fda_guidance import cohort_counts
from .context import GENE_STATUS_LABELS, PRIORITIES, _s, row_priority

MAX_FAILURE_EXAMPLES = 8
# Traffic-light classes counted per sample in the cohort table (drugs whose best label is this one).
COUNTED_PRIORITIES = ("act", "consider", "confirm", "incomplete")
CHART_STATUSES = ("called", "ambiguous", "outside_call", "not_called", "not_assessed")


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
    """Per sample: how many drugs fall in each traffic-light class (the cohort table's columns)."""
    if guid.empty:
        return pd.DataFrame(columns=["sample_id", *COUNTED_PRIORITIES])
    pr = [row_priority(r) for r in guid.to_dict("records")]
    g = pd.DataFrame({"sample_id": guid["sample_id"], "drug": guid["drug"], "priority": pr})
    order = {k: i for i, k in enumerate(PRIORITIES)}
    g["rank"] = g["priority"].map(order)
    best = g.sort_values("rank").drop_duplicates(["sample_id", "drug"])
    counts = best.pivot_table(index="sample_id", columns="priority", values="drug", aggfunc="count", fill_value=0)
    for k in COUNTED_PRIORITIES:
        if k not in counts:
            counts[k] = 0
    return counts[list(COUNTED_PRIORITIES)].reset_index()


def build_cohort_context(
    results_dir: str | Path, input_ids: list[str], *, report_date: str, hrefs: dict[tuple[str, str], str],
    kb: dict[str, str], pipeline_version: str,
) -> dict[str, Any]:
    root = Path(results_dir)
    by_input: dict[str, dict] = {}
    sample_rows, failures = [], Counter()
    failure_examples: dict[str, list[str]] = {}
    gene_counts: dict[str, Counter] = {}
    pheno_counts: dict[str, Counter] = {}
    fda_counts: dict[tuple, Counter] = {}
    parts = [(input_id, part) for input_id in input_ids for part in sharding.list_parts(root, input_id)]
    for input_id, part in parts:
        samples = sharding.read_part_samples(root, input_id, part)
        calls = schema.read_table(sharding.stage_file(root, "calls", input_id, part), schema.CALLS,
                                  columns=["sample_id", "gene", "candidate", "status", "n_candidates", "outside_phenotype"])
        phen = schema.read_table(sharding.stage_file(root, "phenotypes", input_id, part), schema.PHENOTYPES,
                                 columns=["sample_id", "gene", "candidate", "phenotype", "candidates_agree"])
        guid_path = sharding.stage_file(root, "guidance", input_id, part)
        guid = schema.read_table(guid_path, schema.GUIDANCE, columns=[
            "sample_id", "drug", "status", "classification", "recommendation", "dosing_information",
            "alternate_drug", "other_guidance", "same_as_reference", "incomplete", "source", "guideline", "fda_section",
            "fda_label"])
        _add_fda_counts(fda_counts, guid)
        top = rank1_phenotypes(calls, phen)
        for gene, g in top.groupby("gene", sort=True):
            gene_counts.setdefault(gene, Counter()).update(g["display"])
            pheno_counts.setdefault(gene, Counter()).update(g["phenotype_label"])
        not_called = top[top["display"].isin(["not_called", "ambiguous"])].groupby("sample_id")["gene"].apply(
            lambda s: ", ".join(sorted(s))).to_dict()
        prio = sample_priorities(guid).set_index("sample_id")
        n_ok = int((samples["status"] == "ok").sum())
        entry = by_input.setdefault(input_id, {"input_id": input_id, "source_files": [], "n_samples": 0, "n_ok": 0,
                                             "n_failed": 0})
        entry["source_files"] = sorted(set(entry["source_files"]) | set(samples["source_file"].dropna()))
        entry["n_samples"] += len(samples)
        entry["n_ok"] += n_ok
        entry["n_failed"] += len(samples) - n_ok
        for sid, status, err in zip(samples["sample_id"], samples["status"], samples["error"]):
            reason = (_s(err) or "no reason recorded") if status != "ok" else None
            if reason:
                failures[reason] += 1
                failure_examples.setdefault(reason, [])
                if len(failure_examples[reason]) < MAX_FAILURE_EXAMPLES:
                    failure_examples[reason].append(sid)
            act, consider, confirm, incomplete = (int(prio.at[sid, k]) if sid in prio.index else 0
                                                  for k in COUNTED_PRIORITIES)
            # Compact row: [id, input, href, status, act, consider, genes not called/ambiguous, failure reason,
            # confirm, incomplete]
            sample_rows.append([sid, input_id, hrefs.get((input_id, sid), ""), status, act, consider,
                                not_called.get(sid, ""), reason or "", confirm, incomplete])
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
        "genome_build": "GRCh38",
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


def _add_fda_counts(acc: dict[tuple, Counter], guid: pd.DataFrame) -> None:
    """Patients per FDA row and outcome, summed over parts (pgx_pipeline.fda_guidance.cohort_counts)."""
    for row in cohort_counts(guid):
        key = (row.pop("drug"), row.pop("guideline"), row.pop("section"))
        acc.setdefault(key, Counter()).update(row)
