"""Fixtures for the calling tests: a tiny hand-written knowledge base and a run-ingest-then-call helper."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pgx_pipeline import schema
from pgx_pipeline.calling.call import call_input
from pgx_pipeline.ingest.vcf import ingest_vcf

# NamedAlleleMatcher-101's example table (PharmCAT docs/methods/NamedAlleleMatcher-101.md), placed on chr10.
TOY_POSITIONS = [  # rsid, position, ref, alts
    ("rs1", 1000, "C", ["T"]),
    ("rs2", 1010, "C", ["T"]),
    ("rs3", 1020, "T", ["C"]),
    ("rs4", 1030, "G", ["A"]),
    ("rs5", 1040, "A", ["G"]),
]
TOY_ALLELES = {
    "*1": ["C", "C", "T", "G", "A"],
    "*2": ["T", None, None, "A", None],
    "*3": [None, None, None, "A", None],
    "*4": [None, "T", None, None, None],
    "*5": ["T", None, None, None, None],
}


@pytest.fixture(scope="session")
def toy_kb(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toykb")
    genes = pd.DataFrame([{
        "gene": "TOY", "chromosome": "chr10", "genome_build": "GRCh38.p13", "refseq_chromosome": "NC_000010.11",
        "reference_allele": "*1", "n_positions": 5, "n_alleles": 5, "undocumented_as_reference": False,
        "required_positions": [], "ignored_alleles": [], "unphased_priorities": [], "data_version": "doc-101",
    }])
    positions = pd.DataFrame([
        {"gene": "TOY", "position_index": i, "chromosome": "chr10", "position": pos, "rsid": rs, "hgvs": None,
         "ref": ref, "alts": alts, "is_extra": False}
        for i, (rs, pos, ref, alts) in enumerate(TOY_POSITIONS)
    ])
    alleles = pd.DataFrame([
        {"gene": "TOY", "allele": name, "allele_id": None, "is_reference": name == "*1", "bases": bases,
         "n_defined": sum(b is not None for b in bases)}
        for name, bases in TOY_ALLELES.items()
    ])
    schema.write_table(genes, out / "genes.parquet", schema.KB_GENES)
    schema.write_table(positions, out / "positions.parquet", schema.KB_POSITIONS)
    schema.write_table(alleles, out / "alleles.parquet", schema.KB_ALLELES)
    return out


def run_calls(vcfs, kb: Path, work: Path, absent_is_reference: bool = False, sample_sex=None) -> pd.DataFrame:
    """Ingest + call one input in-process; returns the calls table."""
    res = ingest_vcf(vcfs, kb, work, input_id="t", absent_is_reference=absent_is_reference, sample_sex=sample_sex)
    return call_input(res.genotypes, res.samples, kb, work / "calls.parquet")


def diplotypes(calls: pd.DataFrame, sample: str, gene: str) -> set[frozenset]:
    """Top candidates as unordered allele sets (order-insensitive comparison with the truth)."""
    rows = calls[(calls["sample_id"] == sample) & (calls["gene"] == gene)]
    return {frozenset(d.split("/")) for d in rows["diplotype"] if isinstance(d, str)}


def one(calls: pd.DataFrame, sample: str, gene: str) -> pd.Series:
    rows = calls[(calls["sample_id"] == sample) & (calls["gene"] == gene)]
    return rows.iloc[0]
