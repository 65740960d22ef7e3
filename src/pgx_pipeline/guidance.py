"""The guidance stage: every CPIC/DPWG recommendation that applies to each sample, and why none does.

A recommendation applies when, for each gene of its lookup key, the key is one of the sample's keys for
that gene (the CPIC lookup key, the phenotype, `score (phenotype)` as DPWG writes DPYD, the diplotype as
an allele-count object, or HLA allele presence).  Samples sharing the same keys are matched once.
Every (sample, drug, guideline) gets at least one row: matched, or a status saying why not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from . import schema
from .knowledge.guidance_sources import diplotype_key_text
from .phenotype import HLA_GENES

NOT_ASSESSED_WITHOUT_OUTSIDE = {
    "HLA-A": "HLA-A is not typed from a VCF: supply an outside call (HLA typing) to assess it",
    "HLA-B": "HLA-B is not typed from a VCF: supply an outside call (HLA typing) to assess it",
    "MT-RNR1": "MT-RNR1 (mitochondrial) is not called from the VCF: supply an outside call to assess it",
}
NO_RESULT = "No Result"


def sample_gene_keys(phenotypes: pd.DataFrame) -> dict[tuple[str, str], tuple[str, frozenset[str], str]]:
    """(sample, gene) -> (state, lookup keys, phenotype text): state is called | not_called | ambiguous."""
    out: dict[tuple[str, str], tuple[str, frozenset[str], str]] = {}
    for (sample, gene), rows in phenotypes.groupby(["sample_id", "gene"], sort=False):
        called = rows[rows["status"].isin(["called", "outside_call"])]
        if called.empty:
            out[(sample, gene)] = ("not_called", frozenset({NO_RESULT}), "not called")
            continue
        if not bool(rows["candidates_agree"].iloc[0]):
            out[(sample, gene)] = ("ambiguous", frozenset(), " or ".join(sorted({str(p) for p in called["phenotype"]})))
            continue
        r = called.iloc[0]
        keys: set[str] = set()
        for value in (r.lookup_key, r.phenotype, r.activity_score):
            if not isinstance(value, str):
                continue
            if gene in HLA_GENES:  # "*15:02 negative; *57:01 positive; ..."
                keys.update(v.strip() for v in value.split(";"))
            else:
                keys.add(value)
        if isinstance(r.activity_score, str) and isinstance(r.phenotype, str):
            keys.add(f"{r.activity_score} ({r.phenotype})")
        if isinstance(r.diplotype, str):
            alleles = r.diplotype.split("/")
            counts: dict[str, int] = {}
            for a in alleles:
                counts[a] = counts.get(a, 0) + 1
            keys.add(diplotype_key_text(counts))
        if not keys - {r.diplotype}:
            out[(sample, gene)] = ("no_phenotype", frozenset(), str(r.diplotype))
            continue
        out[(sample, gene)] = ("called", frozenset(keys), str(r.phenotype))
    return out


def match_guidance(phenotypes: pd.DataFrame, guidance: pd.DataFrame, messages: pd.DataFrame) -> pd.DataFrame:
    keys = sample_gene_keys(phenotypes)
    samples = list(dict.fromkeys(phenotypes["sample_id"]))
    diplotypes = {
        (s, g): d for s, g, d, r in phenotypes[["sample_id", "gene", "diplotype", "rank"]].itertuples(index=False) if r == 1
    }
    by_drug = {d: list(m.itertuples(index=False)) for d, m in messages.explode("drugs").groupby("drugs")}
    rows: list[dict] = []
    for (gid, drug), recs in guidance.groupby(["guideline_id", "drug"], sort=True):
        first = recs.iloc[0]
        genes = [str(g) for g in first["genes"]]
        by_combo: dict[tuple, list[str]] = {}
        for s in samples:
            combo = tuple(keys.get((s, g), ("absent", frozenset(), "")) for g in genes)
            by_combo.setdefault(combo, []).append(s)
        for combo, members in by_combo.items():
            template = _decide(first, genes, combo, recs)
            for s in members:
                for t in template:
                    rows.append({**t, "sample_id": s, "messages": _messages(by_drug.get(drug, []), genes, s, diplotypes)})
    out = pd.DataFrame(rows, columns=schema.GUIDANCE.column_names)
    return out.sort_values(["sample_id", "drug", "source", "guideline"], kind="stable").reset_index(drop=True)


def _decide(first: pd.Series, genes: list[str], combo: tuple, recs: pd.DataFrame) -> list[dict]:
    state = dict(zip(genes, combo))
    phenotypes = [f"{g}: {state[g][2]}" for g in genes if state[g][2]]
    base = {
        "drug": first["drug"], "source": first["source"], "guideline": first["guideline_name"],
        "guideline_version": first["guideline_version"], "url": first["url"], "genes": genes, "phenotypes": phenotypes,
        "lookup_keys": [], "population": None, "recommendation": None, "implications": [], "classification": None,
        "dosing_information": None, "alternate_drug": None, "other_guidance": None,
    }
    matched = []
    for rec in recs.itertuples(index=False):
        if len(rec.lookup_genes) == 0:
            continue
        if all(g in state and v in state[g][1] for g, v in zip(rec.lookup_genes, rec.lookup_values)):
            matched.append(rec)
    matched = _most_specific(matched)
    problems = _problems(genes, state)
    if matched:
        status = "matched" if not problems else problems[0][0]
        return [
            {
                **base, "lookup_keys": [f"{g}: {v}" for g, v in zip(rec.lookup_genes, rec.lookup_values)],
                "population": rec.population, "recommendation": rec.recommendation, "implications": list(rec.implications),
                "classification": rec.classification, "dosing_information": rec.dosing_information,
                "alternate_drug": rec.alternate_drug, "other_guidance": rec.other_guidance, "status": status,
                "reason": "; ".join(p[1] for p in problems) or None,
            }
            for rec in matched
        ]
    if problems:
        status, reason = problems[0][0], "; ".join(p[1] for p in problems)
    elif recs["lookup_genes"].map(len).max() == 0:
        status, reason = "no_recommendation", (
            f"{first['source']} gives no genotype lookup for {first['drug']} (e.g. a dosing algorithm); read the guideline"
        )
    else:
        status, reason = "no_recommendation", f"{first['source']} has no recommendation for this genotype"
    return [{**base, "status": status, "reason": reason}]


def _most_specific(matched: list) -> list:
    """Where a guideline has both a diplotype-keyed and a phenotype-keyed row for the same population (DPWG
    CYP2C9: {"*1": 1, "*3": 1} and "Intermediate Metabolizer"), the diplotype row is the one that applies."""
    def specificity(rec) -> int:
        return sum(v.startswith("{") for v in rec.lookup_values)

    best: dict[str, int] = {}
    for rec in matched:
        best[rec.population] = max(best.get(rec.population, 0), specificity(rec))
    return [rec for rec in matched if specificity(rec) == best[rec.population]]


def _problems(genes: list[str], state: dict) -> list[tuple[str, str]]:
    out = []
    for g in genes:
        kind = state[g][0]
        if kind == "absent":
            text = NOT_ASSESSED_WITHOUT_OUTSIDE.get(g, f"{g} was not assessed")
            out.append(("gene_not_assessed", text))
        elif kind == "not_called":
            out.append(("gene_not_called", f"{g} could not be called from the input"))
        elif kind == "ambiguous":
            out.append(("ambiguous", f"{g} is ambiguous ({state[g][2]}): confirm before acting"))
        elif kind == "no_phenotype":
            out.append(("no_recommendation", f"{g} {state[g][2]} has no phenotype in the knowledge base"))
    return out


def _messages(messages: list, genes: list[str], sample: str, diplotypes: dict) -> list[str]:
    """Knowledge-base messages for this drug whose gene and diplotype conditions hold (variant conditions need
    genotypes and are left to the report's allele-matching details)."""
    out = []
    for m in messages:
        if m.gene not in genes or len(m.variants) or len(m.variants_missing):
            continue
        dip = diplotypes.get((sample, m.gene))
        if len(m.diplotypes) and dip not in list(m.diplotypes):
            continue
        if len(m.haps_called) and not (isinstance(dip, str) and set(m.haps_called) <= set(dip.split("/"))):
            continue
        out.append(m.message)
    return out


def run_guidance_stage(phenotypes_path: str | os.PathLike, kb_dir: str | os.PathLike, out_path: str | os.PathLike) -> pd.DataFrame:
    kb_dir = Path(kb_dir)
    phenotypes = schema.read_table(phenotypes_path, schema.PHENOTYPES)
    guidance = schema.read_table(kb_dir / "guidance.parquet", schema.KB_GUIDANCE)
    messages = schema.read_table(kb_dir / "messages.parquet", schema.KB_MESSAGES)
    rows = match_guidance(phenotypes, guidance, messages)
    schema.write_table(rows, out_path, schema.GUIDANCE, metadata=schema.read_metadata(phenotypes_path))
    return rows
