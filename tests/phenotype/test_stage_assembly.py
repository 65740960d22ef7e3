"""The guidance stage's fast paths against the plain computations they replace (issue 19: panel-scale speed).

The stage keeps rows as templates and index arrays and writes them in Arrow; the reference here is the plain path
it replaced: `match_guidance` and `match_fda` DataFrames concatenated, stably sorted by (patient, drug, source,
guideline), split back into input and sample, cast with `schema.to_arrow`.  Likewise the reference patient is
phenotyped against the whole diplotype table, and `records` is compared with pandas' own `to_dict("records")`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pgx_pipeline import fda_guidance, guidance, patients, schema
from pgx_pipeline.phenotype import assign_phenotypes
from pgx_pipeline.records import records
from tests.phenotype.calls_frame import call, calls_frame


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.tolist() == b.tolist()
    return a == b


@pytest.mark.parametrize("name, table", [("guidance", schema.KB_GUIDANCE), ("fda_associations", schema.KB_FDA_ASSOCIATIONS),
                                         ("messages", schema.KB_MESSAGES), ("allele_functions", schema.KB_ALLELE_FUNCTIONS)])
def test_records_are_what_to_dict_gives(kb_dir, name, table):
    path = kb_dir / f"{name}.parquet"
    if not path.is_file():
        pytest.skip(f"{name} not in this knowledge base")
    df = schema.read_table(path, table)
    expected = df.to_dict("records")
    got = records(df)
    assert len(got) == len(expected) > 0
    bad = [(i, k) for i, (x, y) in enumerate(zip(expected, got)) for k in x if not _same(x[k], y[k])]
    assert not bad, bad[:5]


def test_reference_patient_is_phenotyped_as_with_the_whole_table(monkeypatch, kb_genes, allele_functions,
                                                                 diplotype_phenotypes):
    seen = {}

    def spy(calls, functions, table):
        seen["calls"], seen["rows"] = calls, len(table)
        return assign_phenotypes(calls, functions, table)

    monkeypatch.setattr(guidance, "assign_phenotypes", spy)
    got = guidance.reference_phenotypes(kb_genes, allele_functions, diplotype_phenotypes)
    assert seen["rows"] < len(diplotype_phenotypes)
    pd.testing.assert_frame_equal(got, assign_phenotypes(seen["calls"], allele_functions, diplotype_phenotypes))
    # CYP2D6 *1/*1 carries the hemizygous (*1/*5) note, which reads its phenotype from the table.
    cyp2d6 = got[got["gene"] == "CYP2D6"].iloc[0]
    assert any("*1/*5" in w and "which would be" in w for w in cyp2d6["warnings"])


def _phenotypes(allele_functions, diplotype_phenotypes) -> pd.DataFrame:
    """Two inputs in one unit, each naming a sample SAMPLE (two patients), plus ambiguous, uncalled and outside calls."""
    rows = []
    for sample, c19, d6, tpmt in (("SAMPLE", "*2/*2", "*1/*4", "*1/*3A"), ("HG00096", "*1/*17", "*4/*4", "*1/*1"),
                                  ("NA12878", "*1/*1", "*1/*1", "*3A/*3A")):
        rows += [call(sample, "CYP2C19", c19), call(sample, "CYP2D6", d6), call(sample, "TPMT", tpmt),
                 call(sample, "CYP2C9", "*1/*3"), call(sample, "SLCO1B1", "*1/*5"), call(sample, "NUDT15", None)]
    rows += [call("AMBIG", "CYP2C19", "*1/*2", rank=1, candidate=1, n_candidates=2),
             call("AMBIG", "CYP2C19", "*2/*17", rank=1, candidate=2, n_candidates=2),
             call("AMBIG", "CYP2D6", "*1/*2"), call("AMBIG", "TPMT", "*1/*3C"),
             call("AMBIG", "HLA-B", "*57:01/*08:01", source="outside")]
    first = calls_frame(rows)
    first["input_id"] = "lab-a"
    second = calls_frame([call("SAMPLE", "CYP2C19", "*1/*1"), call("SAMPLE", "CYP2D6", "*2/*2"),
                          call("SAMPLE", "TPMT", "*1/*1")])
    second["input_id"] = "lab-b"
    calls = pd.concat([first, second], ignore_index=True)
    return assign_phenotypes(calls, allele_functions, diplotype_phenotypes)


def test_written_guidance_is_the_sorted_concatenation_of_cpic_dpwg_and_fda_rows(
        tmp_path, kb_dir, kb_genes, allele_functions, diplotype_phenotypes, kb_guidance, kb_messages):
    phen_path = tmp_path / "phenotypes.parquet"
    schema.write_table(_phenotypes(allele_functions, diplotype_phenotypes), phen_path, schema.PHENOTYPES)
    out = tmp_path / "guidance.parquet"
    guidance.write_guidance(phen_path, kb_dir, out)

    phen = patients.keyed(schema.read_table(phen_path, schema.PHENOTYPES), "unit")
    reference = guidance.reference_gene_keys(kb_genes, allele_functions, diplotype_phenotypes)
    frames = [guidance.match_guidance(phen, kb_guidance, kb_messages, reference)]
    fda_path = kb_dir / "fda_associations.parquet"
    if fda_path.is_file():
        fda = schema.read_table(fda_path, schema.KB_FDA_ASSOCIATIONS)
        states = fda_guidance.reference_states(kb_genes, allele_functions, diplotype_phenotypes)
        frames.append(fda_guidance.match_fda(phen, fda, states))
    expected = pd.concat(frames, ignore_index=True).sort_values(["sample_id", "drug", "source", "guideline"],
                                                                kind="stable")
    expected = schema.to_arrow(patients.unkeyed(expected.reset_index(drop=True)), schema.GUIDANCE)

    got = pq.read_table(out)
    assert got.num_rows == expected.num_rows > 0
    assert got.select(schema.GUIDANCE.column_names).equals(expected)
    # Two patients named SAMPLE keep their own rows: lab-b's CYP2D6 *2/*2 is not lab-a's *1/*4.
    df = got.to_pandas()
    codeine = df[(df["sample_id"] == "SAMPLE") & (df["drug"] == "codeine") & (df["source"] == "CPIC")]
    assert sorted(codeine["input_id"]) == ["lab-a", "lab-b"]
    assert {tuple(p) for p in codeine["phenotypes"]} == {("CYP2D6: Intermediate Metabolizer",),
                                                         ("CYP2D6: Normal Metabolizer",)}
