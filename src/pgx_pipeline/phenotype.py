"""The phenotype stage: each candidate diplotype to allele functions, activity score, phenotype and lookup key.

Everything comes from the knowledge base's published tables (matched regardless of allele order), so a
reviewer can retrace a phenotype to one row of the gene's diplotype table.  Outside calls bring their own
phenotype/activity score; HLA genes are read as allele presence (`*57:01 positive`).
"""

from __future__ import annotations

import os

import pandas as pd

from . import patients, schema
from .calling.gene_rules import RS4149056_LOOKUP
from .calling.matcher import diplotype_name
from .knowledge.phenotype_sources import pair_key

ACTIVITY_SCORE_GENES = frozenset({"CYP2C9", "CYP2D6", "DPYD"})
HLA_GENES = frozenset({"HLA-A", "HLA-B"})
# Alleles CPIC/DPWG guidance tests for; an HLA outside call is read as presence/absence of each.
HLA_ALLELES = {"HLA-A": ("*31:01",), "HLA-B": ("*15:02", "*15:11", "*57:01", "*58:01")}
# Whole-gene deletion alleles an SNV VCF cannot see (a homozygous call may be hemizygous).
DELETION_ALLELES = {"CYP2D6": "*5"}


def hla_lookup_keys(gene: str, diplotype: str | None, phenotype: str | None = None) -> list[str]:
    """Presence of each guideline allele, from the typed diplotype or an outside phenotype like '*57:01 positive'."""
    present = set(diplotype.replace(" ", "").split("/")) if isinstance(diplotype, str) else set()
    stated = phenotype if isinstance(phenotype, str) else ""
    keys = []
    for allele in HLA_ALLELES.get(gene, ()):
        if allele in present or f"{allele} positive" in stated:
            keys.append(f"{allele} positive")
        elif present or f"{allele} negative" in stated:
            keys.append(f"{allele} negative")  # a full typing rules the allele out; a phenotype must say so
    return keys


def assign_phenotypes(
    calls: pd.DataFrame, allele_functions: pd.DataFrame, diplotype_phenotypes: pd.DataFrame
) -> pd.DataFrame:
    out = calls.reindex(columns=["input_id", "sample_id", "gene", "diplotype", "allele1", "allele2", "rank", "candidate", "status", "source",
                 "outside_phenotype", "outside_activity_score", "warnings"])
    # The haplotypes the phenotype is looked up with: the called alleles, except an SLCO1B1 call made from rs4149056
    # alone (`rs4149056 T/rs4149056 C`), looked up as *1/*5 (PharmCAT Slco1b1CustomCaller).
    genes = out["gene"].tolist()
    lookup1 = [RS4149056_LOOKUP.get(a, a) if g == "SLCO1B1" else a for g, a in zip(genes, _nullable(out["allele1"]))]
    lookup2 = [RS4149056_LOOKUP.get(a, a) if g == "SLCO1B1" else a for g, a in zip(genes, _nullable(out["allele2"]))]
    out["key"] = [pair_key(a, b) if isinstance(a, str) else "" for a, b in zip(lookup1, lookup2)]

    table = diplotype_phenotypes.copy()
    table["key"] = [pair_key(a, b) for a, b in zip(table["allele1"], _nullable(table["allele2"]))]
    table = table.drop_duplicates(["gene", "key"])[["gene", "key", "phenotype", "activity_score", "lookup_key"]]
    out = out.merge(table, on=["gene", "key"], how="left")

    # Plain dicts: a MultiIndex lookup per row was a third of the stage's time.
    first = allele_functions.drop_duplicates(["gene", "allele"])
    functions = dict(zip(zip(first["gene"], first["allele"]), first["function"]))
    out["allele1_function"] = [functions.get((g, a)) for g, a in zip(genes, lookup1)]
    out["allele2_function"] = [functions.get((g, a)) for g, a in zip(genes, lookup2)]

    by_key = table.set_index(["gene", "key"])
    notes: list[list[str]] = []
    for i, row in enumerate(out.itertuples(index=False)):
        warnings = list(row.warnings) if row.warnings is not None else []
        if row.source == "outside":
            _outside(out, i, row, warnings)
        elif row.status == "called" and pd.isna(row.phenotype):
            unassigned = sorted({a for a, f in ((row.allele1, row.allele1_function), (row.allele2, row.allele2_function))
                                 if isinstance(a, str) and not isinstance(f, str)})
            why = f" ({', '.join(unassigned)}: no allele function in the knowledge base)" if unassigned else ""
            warnings.append(f"diplotype {row.diplotype} is not in the knowledge base's {row.gene} phenotype table{why}: "
                            "no phenotype assigned")
        if row.status == "called" and row.gene in DELETION_ALLELES and row.allele1 == row.allele2:
            warnings.append(_hemizygous_note(row.gene, row.allele1, by_key))
        notes.append(warnings)
    out["warnings"] = notes

    agree = out[out["status"].isin(["called", "outside_call"])].groupby(["sample_id", "gene"])["lookup_key"].nunique(dropna=False)
    agree = dict(zip(agree.index, agree.to_numpy()))
    out["candidates_agree"] = [agree.get((s, g), 1) <= 1 for s, g in zip(out["sample_id"], out["gene"])]
    out.loc[~out["candidates_agree"], "warnings"] = out.loc[~out["candidates_agree"], "warnings"].map(
        lambda w: w + ["the tied diplotypes give different phenotypes: no single recommendation can be chosen"]
    )
    return out[schema.PHENOTYPES.column_names].reset_index(drop=True)


def _hemizygous_note(gene: str, allele: str, by_key: pd.DataFrame) -> str:
    """A homozygous call from an SNV VCF cannot be told from one copy of the allele with the gene deleted on the
    other chromosome (GeT-RM NA18861: SNVs read *29/*29, the consensus is *5/*29)."""
    deletion = DELETION_ALLELES[gene]
    hemizygous = "/".join(diplotype_name(allele, deletion))
    text = (f"{allele}/{allele} is homozygous in the VCF; with copy number not assessed it cannot be told from "
            f"{hemizygous} (one {allele} and the gene deleted on the other chromosome)")
    key = (gene, pair_key(allele, deletion))
    if key in by_key.index:
        alt = by_key.loc[key]
        score = f", activity score {alt['activity_score']}" if isinstance(alt["activity_score"], str) else ""
        text += f", which would be {alt['phenotype']}{score}"
    return text


def _outside(out: pd.DataFrame, i: int, row, warnings: list[str]) -> None:
    """An outside call's own phenotype/activity replace the table's (both, never one of each); with
    neither, its diplotype is looked up like any other."""
    if row.status != "outside_call":
        return
    if row.gene in HLA_GENES:
        keys = hla_lookup_keys(row.gene, row.diplotype, row.outside_phenotype)
        positives = [k for k in keys if k.endswith("positive")]
        out.at[i, "phenotype"] = "; ".join(positives) if positives else ("; ".join(keys) or None)
        out.at[i, "lookup_key"] = "; ".join(keys) or None
        if not keys:
            warnings.append(f"outside call for {row.gene} names none of {', '.join(HLA_ALLELES[row.gene])}")
        return
    phenotype = row.outside_phenotype if isinstance(row.outside_phenotype, str) else None
    activity = row.outside_activity_score if isinstance(row.outside_activity_score, str) else None
    if phenotype or activity:
        out.at[i, "phenotype"] = phenotype
        out.at[i, "activity_score"] = activity
        out.at[i, "lookup_key"] = activity if (activity and row.gene in ACTIVITY_SCORE_GENES) else phenotype
    if pd.isna(out.at[i, "lookup_key"]):
        warnings.append(f"outside call {row.diplotype} has no phenotype and is not in the {row.gene} phenotype table")


def _nullable(series: pd.Series) -> list:
    return [v if isinstance(v, str) else None for v in series.tolist()]


def run_phenotype_stage(calls_path: str | os.PathLike, kb_dir: str | os.PathLike, out_path: str | os.PathLike) -> pd.DataFrame:
    from pathlib import Path

    kb_dir = Path(kb_dir)
    calls = schema.read_table(calls_path, schema.CALLS)
    functions = schema.read_table(kb_dir / "allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS)
    table = schema.read_table(kb_dir / "diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES)
    # A unit's calls may hold several inputs: grouped by patient (input, sample), never by sample name.
    calls = patients.keyed(calls, patients.own_input(calls_path))
    phenotypes = patients.unkeyed(assign_phenotypes(calls, functions, table))
    schema.write_table(phenotypes, out_path, schema.PHENOTYPES, metadata=schema.read_metadata(calls_path))
    return phenotypes
