"""The bundled samples (data/sample_vcfs) are called as the generator intended (truth.tsv)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .conftest import diplotypes, run_calls

DATA = Path(__file__).resolve().parents[2] / "data" / "sample_vcfs"


def test_bundled_truth(defs_dir, tmp_path):
    sheet = pd.read_csv(DATA / "sample_sheet.tsv", sep="\t", dtype=str).fillna("")
    calls = run_calls(DATA / "bundled_samples.vcf.gz", defs_dir, tmp_path, sample_sex=dict(zip(sheet["sample_id"], sheet["sex"])))
    truth = pd.read_csv(DATA / "truth.tsv", sep="\t", dtype=str)
    wrong = []
    for row in truth.itertuples():
        if diplotypes(calls, row.sample_id, row.gene) != {frozenset(row.expected_diplotype.split("/"))}:
            wrong.append((row.sample_id, row.gene, row.expected_diplotype, sorted(map(sorted, diplotypes(calls, row.sample_id, row.gene)))))
    assert not wrong, wrong
    assert set(truth["gene"]) == set(calls["gene"])  # every called gene is covered


def test_bundled_files_are_small():
    assert sum(p.stat().st_size for p in DATA.iterdir()) < 200_000
