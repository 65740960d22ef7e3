"""Every published diplotype of every gene, fed to the phenotype stage, yields that row of the published table.

For each `phenotype/<GENE>.json` (read here with `json.load`, from the first source folder that has it:
the current PharmCAT release, then the stale fallback, as the knowledge base resolves files), every entry of
its `diplotypes` list becomes a called diplotype - alleles from the entry's `diplotypekey` (allele -> copies),
heterozygous entries in both allele orders, haploid entries (G6PD males, MT-RNR1) with one allele - and
`assign_phenotypes` must return that entry's phenotype, activity score and lookup key, and each allele's
published function.  Expected values come from the JSON only; the stage sees the built knowledge base.
One calls table per gene, so tens of thousands of rows run in a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pgx_pipeline.phenotype import assign_phenotypes
from tests.conftest import FALLBACK, PHARMCAT
from tests.phenotype.calls_frame import bulk_calls

SOURCE_FOLDERS = (PHARMCAT, FALLBACK)


def _phenotype_files() -> dict[str, Path]:
    """File name -> first folder's copy (the current release wins over the stale fallback)."""
    found: dict[str, Path] = {}
    for folder in SOURCE_FOLDERS:
        d = folder / "phenotype"
        if d.is_dir():
            for p in sorted(d.glob("*.json")):
                found.setdefault(p.name, p)
    return dict(sorted(found.items()))


PHENOTYPE_FILES = _phenotype_files()


def _functions(data: dict) -> dict[str, str | None]:
    """Allele -> published function: `namedAlleles[].functionValue`, or the older `haplotypes` map."""
    if data.get("namedAlleles"):
        return {a["name"]: a.get("functionValue") for a in data["namedAlleles"]}
    return dict(data.get("haplotypes") or {})


def _expected_rows(path: Path) -> tuple[str, pd.DataFrame]:
    data = json.loads(path.read_text(encoding="utf-8"))
    gene = data["gene"]
    functions = _functions(data)
    rows = []
    for i, entry in enumerate(data.get("diplotypes") or []):
        alleles = [name for name, copies in entry["diplotypekey"].items() for _ in range(int(copies))]
        assert 1 <= len(alleles) <= 2, f"{path.name}: {entry['diplotype']!r} has {len(alleles)} alleles"
        # The older file shape (stale G6PD) has no `phenotype` field: its result is `generesult`.
        if "phenotype" in entry:
            assert entry["phenotype"] == entry["generesult"], f"{path.name}: {entry['diplotype']!r} phenotype != generesult"
            phenotype = entry["phenotype"]
        else:
            phenotype = entry["generesult"]
        if len(alleles) == 1:
            orders = [(alleles[0], None)]
        elif alleles[0] == alleles[1]:
            orders = [(alleles[0], alleles[1])]
        else:
            orders = [(alleles[0], alleles[1]), (alleles[1], alleles[0])]
        for j, (a1, a2) in enumerate(orders):
            rows.append(
                {
                    "sample_id": f"{gene}-{i}-{j}",
                    "published": entry["diplotype"],
                    "allele1": a1,
                    "allele2": a2,
                    "exp_phenotype": phenotype,
                    "exp_activity_score": entry.get("activityScore"),
                    "exp_lookup_key": entry["lookupkey"],
                    "exp_allele1_function": functions[a1],
                    "exp_allele2_function": functions[a2] if a2 is not None else None,
                }
            )
    return gene, pd.DataFrame(rows)


def _differs(got: pd.Series, expected: pd.Series) -> pd.Series:
    """Element-wise: not equal, where two nulls are equal and a null never equals a value."""
    got_na, exp_na = got.isna(), expected.isna()
    return (got_na != exp_na) | (~got_na & ~exp_na & (got.astype(object) != expected.astype(object)))


@pytest.mark.parametrize("file_name", list(PHENOTYPE_FILES))
def test_every_published_diplotype_gives_its_published_phenotype(
    file_name, allele_functions, diplotype_phenotypes
):
    gene, expected = _expected_rows(PHENOTYPE_FILES[file_name])
    if expected.empty:
        pytest.skip(f"{file_name} publishes no diplotype table (only allele functions)")
    calls = bulk_calls(expected["sample_id"].tolist(), gene, expected["allele1"].tolist(), expected["allele2"].tolist())

    got = assign_phenotypes(calls, allele_functions, diplotype_phenotypes)

    assert len(got) == len(expected), "one phenotype row per call"
    assert got["sample_id"].is_unique
    merged = expected.merge(got, on="sample_id", how="left", validate="one_to_one")
    assert (merged["gene"] == gene).all()
    assert (merged["status"] == "called").all()
    assert merged["candidates_agree"].all()
    problems = []
    for column in ("phenotype", "activity_score", "lookup_key", "allele1_function", "allele2_function"):
        bad = merged[_differs(merged[column], merged[f"exp_{column}"])]
        for r in bad.head(5).itertuples(index=False):
            problems.append(
                f"{gene} {r.published!r} as {r.allele1}/{r.allele2}: {column} {getattr(r, column)!r}, "
                f"published {getattr(r, f'exp_{column}')!r}"
            )
        if len(bad) > 5:
            problems.append(f"... {len(bad)} rows differ in {column}")
    assert not problems, "\n".join(problems)
    # A published diplotype is in the table: the stage must not warn that it is missing.
    missing = merged[merged["warnings"].map(lambda w: any("not in the knowledge base" in x for x in w))]
    assert missing.empty, missing[["published", "allele1", "allele2"]].head().to_string()


def test_the_generated_test_covers_every_phenotype_file():
    """Guard against the parametrisation silently shrinking (a folder moved, a glob that stopped matching)."""
    if not PHARMCAT.is_dir():
        pytest.skip("shared data not found")
    names = set(PHENOTYPE_FILES)
    assert {"CYP2C19.json", "CYP2C9.json", "CYP2D6.json", "DPYD.json", "G6PD.json", "TPMT.json", "NUDT15.json"} <= names
    total = sum(len(json.loads(p.read_text(encoding="utf-8")).get("diplotypes") or []) for p in PHENOTYPE_FILES.values())
    assert total > 40_000, f"only {total} published diplotypes found"
