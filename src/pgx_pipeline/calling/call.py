"""The calling stage: an input's genotypes table to its calls table (one row per candidate diplotype)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import patients, schema, sharding
from ..errors import PgxInputError
from .gene_rules import NOT_ASSESSED_NOTES, apply_gene_rules
from .matcher import PARTIAL, UNPHASED_BLOCK_BASE, GeneModel, MatchResult, Pattern, match_pattern
from .outside import OutsideCall, apply_outside_calls, calls_for_input
from .variant_list import VARIANT_LIST_GENES, function_ranks, match_variant_list

MATCH_COLUMNS = [
    "sample_id", "gene", "position_index", "position", "state", "allele1", "allele2", "ploidy", "phased",
    "phase_set", "gene_region_read",
]
# Read as dictionaries: a part's ~1.6 million rows repeat few distinct values, and taking a gene's rows then moves
# codes, not strings.
CATEGORICAL = ["gene", "state", "allele1", "allele2"]


def load_gene_models(kb_dir: str | os.PathLike) -> dict[str, GeneModel]:
    kb_dir = Path(kb_dir)
    genes = schema.read_table(kb_dir / "genes.parquet", schema.KB_GENES)
    positions = schema.read_table(kb_dir / "positions.parquet", schema.KB_POSITIONS)
    alleles = schema.read_table(kb_dir / "alleles.parquet", schema.KB_ALLELES)
    models = {}
    for row in genes.itertuples(index=False):
        g = row.gene
        models[g] = GeneModel.build(
            pd.Series(row._asdict()), positions[positions["gene"] == g], alleles[alleles["gene"] == g]
        )
    return models


def call_input(
    genotypes_path: str | os.PathLike | list,
    samples_path: str | os.PathLike | list,
    kb_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    outside_calls: list[OutsideCall] | dict[str, list[OutsideCall]] | None = None,
    input_vcfs: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Call every gene for every patient of one work unit (an input's part, or a batch of small inputs) and write the
    calls table atomically.

    Lists of paths are the gene groups of one part (see `sharding`): their genotypes are concatenated. Patients are
    (input, sample): `outside_calls` as a list apply to the sample of that name in every input of the unit, as a dict
    only to the input named by the key; either way a call from a table row naming VCF files applies only to the input
    made of them (`input_vcfs`: input id -> its files).
    """
    geno_paths = genotypes_path if isinstance(genotypes_path, list) else [genotypes_path]
    sample_paths = samples_path if isinstance(samples_path, list) else [samples_path]
    models = load_gene_models(kb_dir)
    genotypes = sharding.read_genotypes(geno_paths, columns=[*MATCH_COLUMNS, "input_id"], categorical=CATEGORICAL)
    samples = sharding.read_samples(sample_paths)
    functions_path = Path(kb_dir) / "allele_functions.parquet"
    functions = schema.read_table(functions_path, schema.KB_ALLELE_FUNCTIONS) if functions_path.exists() else None
    # Grouped by patient key (pgx_pipeline.patients): two inputs' samples of the same name stay two patients.
    genotypes, samples = patients.keyed(genotypes), patients.keyed(samples)
    calls = call_genotypes(genotypes, samples, models, functions)
    calls = apply_outside_calls(calls, _keyed_outside(outside_calls, sorted(set(samples["input_id"])), input_vcfs or {}),
                                set(samples["sample_id"]))
    calls = patients.unkeyed(calls)
    inputs = sorted(set(samples["input_id"]))
    schema.write_table(calls, out_path, schema.CALLS, metadata={"input_id": inputs[0] if len(inputs) == 1 else ""})
    return calls


def _keyed_outside(outside: list[OutsideCall] | dict[str, list[OutsideCall]] | None, input_ids: list[str],
                   input_vcfs: dict[str, list[str]]) -> list[OutsideCall]:
    by_input = outside if isinstance(outside, dict) else {i: list(outside or []) for i in input_ids}
    for i, ocs in by_input.items():
        named = next((oc for oc in ocs if oc.vcfs), None)
        if named is not None and not input_vcfs.get(i):
            # Without its files the row cannot be matched to a patient; guessing would risk another patient's call.
            raise PgxInputError(f"{named.source}: the row names VCF file(s) in its vcf column, but the files of input "
                                f"{i} were not given; pass them (pgx-pipeline call --vcf / --member)")
    return [replace(oc, sample_id=patients.key(i, oc.sample_id))
            for i, ocs in by_input.items() for oc in calls_for_input(ocs, input_vcfs.get(i, []))]


def call_genotypes(
    genotypes: pd.DataFrame,
    samples: pd.DataFrame,
    models: dict[str, GeneModel],
    allele_functions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    samples = samples[samples["status"] == "ok"]
    sample_ids = list(samples["sample_id"])
    absent_ref = dict(zip(samples["sample_id"], samples["absent_is_reference"].astype(bool)))
    # Genes a failed file of a declared split group may hold: reported not assessed, never matched on the rest.
    failed_genes: dict[tuple[str, str], str] = {}
    if "not_assessed_genes" in samples:
        for sid, entries in zip(samples["sample_id"], samples["not_assessed_genes"]):
            for entry in (entries if entries is not None else []):
                gene, _, why = str(entry).partition(": ")
                failed_genes[(sid, gene)] = why
    rows: list[dict] = []
    # Row indices per gene, and one gene's rows taken at a time: a dict of every gene's sub-frame would hold
    # a second copy of the whole part in memory.
    rows_of_gene = genotypes.groupby("gene", sort=False, observed=True).indices
    for gene, model in sorted(models.items()):
        sub = genotypes.take(rows_of_gene.get(gene, []))
        if gene in VARIANT_LIST_GENES:
            ranks = function_ranks(allele_functions, gene)
            matcher = lambda m, p: match_variant_list(m, p, ranks)  # noqa: E731
        else:
            matcher = match_pattern
        results = _call_gene(model, sub, sample_ids, absent_ref, matcher)
        for sample_id, result in zip(sample_ids, results):
            if (sample_id, gene) in failed_genes:
                rows.append(_not_assessed_row(gene, sample_id, failed_genes[(sample_id, gene)]))
                continue
            result = apply_gene_rules(model, result, sub, sample_id)
            rows.extend(_rows(gene, sample_id, result, absent_ref[sample_id]))
    return pd.DataFrame(rows, columns=schema.CALLS.column_names)


def _call_gene(model: GeneModel, sub: pd.DataFrame, sample_ids: list[str], absent_ref: dict[str, bool], matcher) -> list[MatchResult]:
    S, P = len(sample_ids), len(model.positions)
    if sub.empty:
        h1 = np.full((S, P), -1, dtype=np.int64)
        h2 = np.full((S, P), -1, dtype=np.int64)
        blocks = np.full((S, P), -1, dtype=np.int64)
        absent = np.ones((S, P), dtype=bool)
    else:
        h1, h2, blocks, absent = _matrices(model, sub, sample_ids)
    use_ref = np.array([absent_ref[s] for s in sample_ids], dtype=bool)
    # Per patient: a batch holds many inputs, and one file's records in the gene say nothing of another file's.
    read_by_sample = sub.groupby("sample_id", sort=False)["gene_region_read"].any() if not sub.empty else {}
    region_read = np.array([bool(read_by_sample.get(s, False)) for s in sample_ids], dtype=bool)
    # Absent-as-reference needs evidence the region was read at all: a file with no record in the gene
    # (another build, a panel without the gene) must not turn into a confident reference call.
    refused = use_ref & ~region_read
    use_ref &= region_read
    fill = absent & use_ref[:, None]
    if fill.any():
        haploid_sample = (h2 == -2).any(axis=1)
        h1[fill] = 0
        h2[fill] = np.where(np.repeat(haploid_sample[:, None], P, axis=1)[fill], -2, 0)
    keys = np.ascontiguousarray(np.concatenate([h1, h2, blocks], axis=1))
    # Distinct genotype patterns by hashing rows (a dict beats np.unique(axis=0)'s lexicographic sort).
    first: dict[bytes, int] = {}
    inverse = np.fromiter((first.setdefault(row.tobytes(), len(first)) for row in keys), dtype=np.int64, count=S)
    uniq = keys[np.unique(inverse, return_index=True)[1]]
    cache = [matcher(model, Pattern(u[:P], u[P : 2 * P], u[2 * P :])) for u in uniq]
    results = []
    for s in range(S):
        r = cache[inverse[s]]
        if use_ref[s] and absent[s].any():
            r = replace(r, warnings=r.warnings + [f"{int(absent[s].sum())} position(s) absent from the VCF were read "
                                                  "as reference (input declared absent = reference)"])
        if refused[s]:
            r = replace(r, warnings=r.warnings + ["the input has no record anywhere in this gene's region, so absent "
                                                  "positions were NOT read as reference (region not covered, or another "
                                                  "genome build)"])
        results.append(r)
    return results


def _matrices(model: GeneModel, sub: pd.DataFrame, sample_ids: list[str]):
    """(samples x positions) allele codes, phase blocks and absence, from the long genotypes table."""
    S, P = len(sample_ids), len(model.positions)
    sidx = pd.Index(sample_ids).get_indexer(sub["sample_id"])
    pidx = sub["position_index"].to_numpy().astype(np.int64)
    h1 = np.full((S, P), -1, dtype=np.int64)
    h2 = np.full((S, P), -1, dtype=np.int64)
    doc_pos = [p for p, v in enumerate(model.vocab) for _ in v]
    doc_str = [a for v in model.vocab for a in v]
    doc_code = np.array([i for v in model.vocab for i in range(len(v))], dtype=np.int64)
    documented = pd.MultiIndex.from_arrays([doc_pos, doc_str])

    def encode(values: pd.Series) -> np.ndarray:
        vals = values.to_numpy(object)
        found = documented.get_indexer(pd.MultiIndex.from_arrays([pidx, vals]))
        out = np.where(found >= 0, doc_code[np.clip(found, 0, None)], -1)
        unknown = np.flatnonzero((found < 0) & pd.notna(vals))
        # Undocumented alleles get codes past the documented ones, numbered per position.
        extra: dict[tuple[int, str], int] = {}
        for k in unknown:
            p = int(pidx[k])
            key = (p, vals[k])
            if key not in extra:
                extra[key] = len(model.vocab[p]) + sum(1 for q, _ in extra if q == p)
            out[k] = extra[key]
        return out

    state = sub["state"].to_numpy(object)
    usable = np.isin(state, ["called"])
    a1 = encode(sub["allele1"])
    a2 = encode(sub["allele2"])
    ploidy = sub["ploidy"].to_numpy()
    a2 = np.where(ploidy == 1, -2, a2)
    h1[sidx, pidx] = np.where(usable, a1, -1)
    h2[sidx, pidx] = np.where(usable, a2, np.where(ploidy == 1, -2, -1))
    # Half calls (PharmCAT VcfReader): `0/.` is a missing position, except on chrX; `./T` keeps its known allele and
    # marks the other chromosome PARTIAL (unknown, not missing), which the matcher refuses to call.
    half = (state == "partial") & (ploidy == 2)
    known = np.where(a1 >= 0, a1, a2)
    kept = half & ((known != 0) | (model.chromosome == "chrX"))
    h1[sidx[kept], pidx[kept]] = np.where(a1[kept] >= 0, a1[kept], PARTIAL)
    h2[sidx[kept], pidx[kept]] = np.where(a2[kept] >= 0, a2[kept], PARTIAL)
    absent = np.zeros((S, P), dtype=bool)
    absent[sidx, pidx] = state == "absent"
    phased = sub["phased"].to_numpy(bool)
    ps = sub["phase_set"].to_numpy(dtype=float, na_value=np.nan)
    block = np.where(phased, np.where(np.isnan(ps), 0, np.nan_to_num(ps)).astype(np.int64), UNPHASED_BLOCK_BASE + pidx)
    blocks = np.full((S, P), -1, dtype=np.int64)
    het = usable & (a1 != a2) & (ploidy == 2)
    blocks[sidx, pidx] = np.where(het, block, -1)
    return h1, h2, blocks, absent


def _not_assessed_row(gene: str, sample_id: str, why: str) -> dict:
    return {
        "sample_id": sample_id, "gene": gene, "diplotype": None, "allele1": None, "allele2": None, "rank": 1, "candidate": 1,
        "score": None, "n_candidates": 0, "phased": False, "status": "not_assessed", "source": "vcf",
        "matched_positions": [], "missing_positions": [], "undocumented_positions": [], "absent_is_reference": False,
        "outside_phenotype": None, "outside_activity_score": None, "warnings": [why],
    }


def _rows(gene: str, sample_id: str, r: MatchResult, absent_is_reference: bool) -> list[dict]:
    base = {
        "sample_id": sample_id,
        "gene": gene,
        "phased": r.phased,
        "source": "vcf",
        "matched_positions": r.matched,
        "missing_positions": r.missing,
        "undocumented_positions": r.undocumented,
        "absent_is_reference": absent_is_reference,
        "outside_phenotype": None,
        "outside_activity_score": None,
        "warnings": r.warnings + NOT_ASSESSED_NOTES.get(gene, []),
    }
    if r.status != "called" or not r.diplotypes:
        return [{**base, "diplotype": None, "allele1": None, "allele2": None, "rank": 1, "candidate": 1, "score": None,
                 "n_candidates": 0, "status": r.status if r.status != "called" else "not_called"}]
    n = len(r.diplotypes)
    warnings = base["warnings"] + ([f"ambiguous: {n} diplotypes score equally"] if n > 1 and not r.labels else [])
    return [
        {
            **base,
            "warnings": warnings,
            "diplotype": r.labels[k - 1] if r.labels else (a if b is None else f"{a}/{b}"),
            "allele1": a,
            "allele2": b,
            # Competition ranking on the score: equal scores share a rank (every reported candidate is a top one
            # today, so all have rank 1); `candidate` numbers them for ordering and joins.
            "rank": 1 + sum(1 for *_, other in r.diplotypes if _higher(other, score)),
            "candidate": k,
            "score": score,
            "n_candidates": n,
            "status": "called",
        }
        for k, (a, b, score) in enumerate(r.diplotypes, start=1)
    ]


def _higher(other, score) -> bool:
    return other is not None and score is not None and other > score
