"""Build CALLS-schema DataFrames by hand, shaped exactly as the phenotype stage reads them from Parquet.

`call(...)` describes one candidate diplotype of one sample and gene; `calls_frame(rows)` validates the rows
against `schema.CALLS` (types, required columns) and round-trips them through Arrow, so list columns arrive
as arrays and integers as int32, as they do from `calls.parquet`.  Nothing here looks anything up: alleles
come from the diplotype text (or are given explicitly), every other field from the arguments.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import pandas as pd

from pgx_pipeline import schema


def call(
    sample_id: str,
    gene: str,
    diplotype: str | None,
    *,
    alleles: Sequence[str | None] | None = None,
    rank: int = 1,
    candidate: int | None = None,
    n_candidates: int = 1,
    score: int | None = None,
    status: str | None = None,
    source: str = "vcf",
    phased: bool = False,
    outside_phenotype: str | None = None,
    outside_activity_score: str | None = None,
    warnings: Sequence[str] = (),
) -> dict:
    """One CALLS row.  Alleles default to the diplotype split on '/' (one name = haploid, allele2 null);
    status defaults to 'outside_call' for source 'outside', 'called' with a diplotype, else 'not_called'."""
    if alleles is None:
        alleles = diplotype.split("/") if diplotype is not None else []
    alleles = list(alleles)
    if len(alleles) > 2:
        raise ValueError(f"{gene} {diplotype!r}: at most two alleles, got {alleles}")
    allele1, allele2 = (alleles + [None, None])[:2]
    if status is None:
        status = "outside_call" if source == "outside" else ("called" if diplotype is not None else "not_called")
    return {
        "sample_id": sample_id,
        "gene": gene,
        "diplotype": diplotype,
        "allele1": allele1,
        "allele2": allele2,
        "rank": rank,
        "candidate": rank if candidate is None else candidate,
        "score": score,
        "n_candidates": n_candidates,
        "phased": phased,
        "status": status,
        "source": source,
        "matched_positions": [],
        "missing_positions": [],
        "undocumented_positions": [],
        "absent_is_reference": False,
        "outside_phenotype": outside_phenotype,
        "outside_activity_score": outside_activity_score,
        "warnings": list(warnings),
    }


def calls_frame(rows: Iterable[dict] | pd.DataFrame) -> pd.DataFrame:
    """Rows (dicts from `call`, or a DataFrame with the CALLS columns) as a validated CALLS table."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=schema.CALLS.column_names)
    return schema.to_arrow(df, schema.CALLS).to_pandas()


def bulk_calls(
    sample_ids: Sequence[str], gene: str, allele1: Sequence[str], allele2: Sequence[str | None]
) -> pd.DataFrame:
    """Many single-candidate VCF calls of one gene at once (column-wise, for tables of thousands of rows)."""
    n = len(sample_ids)
    if not (len(allele1) == len(allele2) == n):
        raise ValueError("sample_ids, allele1 and allele2 must have the same length")
    diplotypes = [a if b is None else f"{a}/{b}" for a, b in zip(allele1, allele2)]
    df = pd.DataFrame(
        {
            "sample_id": list(sample_ids),
            "gene": gene,
            "diplotype": diplotypes,
            "allele1": list(allele1),
            "allele2": list(allele2),
            "rank": 1,
            "candidate": 1,
            "score": None,
            "n_candidates": 1,
            "phased": False,
            "status": "called",
            "source": "vcf",
            "matched_positions": [[] for _ in range(n)],
            "missing_positions": [[] for _ in range(n)],
            "undocumented_positions": [[] for _ in range(n)],
            "absent_is_reference": False,
            "outside_phenotype": None,
            "outside_activity_score": None,
            "warnings": [[] for _ in range(n)],
        },
        columns=schema.CALLS.column_names,
    )
    return calls_frame(df)
