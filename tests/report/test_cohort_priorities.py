"""Cohort-page counts computed on codes (issue 19) against the row-by-row definition.

The reference counts here label every guidance row with `row_priority`, keep each (patient, drug)'s best label in
`PRIORITIES` order and count drugs per class, one row at a time; the FDA counts are recounted with plain loops.
"""

from __future__ import annotations

from collections import Counter

from pgx_pipeline import guidance, schema
from pgx_pipeline.fda_guidance import cohort_counts
from pgx_pipeline.report import cohort
from pgx_pipeline.report.context import PRIORITIES, row_priority
from tests.phenotype.test_stage_assembly import _phenotypes


def _guidance(tmp_path, kb_dir, allele_functions, diplotype_phenotypes):
    phen = tmp_path / "phenotypes.parquet"
    schema.write_table(_phenotypes(allele_functions, diplotype_phenotypes), phen, schema.PHENOTYPES)
    out = tmp_path / "guidance.parquet"
    guidance.write_guidance(phen, kb_dir, out)
    return out


def test_class_counts_and_fda_counts_match_the_row_by_row_definition(tmp_path, kb_dir, allele_functions,
                                                                     diplotype_phenotypes):
    path = _guidance(tmp_path, kb_dir, allele_functions, diplotype_phenotypes)
    guid = cohort._guidance(path, "unit", {"lab-a", "lab-b"})  # text columns categorical, as the page reads them
    plain = schema.read_table(path, schema.GUIDANCE)

    order = list(PRIORITIES)
    best: dict[tuple[str, str, str], int] = {}
    for r in plain.to_dict("records"):
        key = (r["input_id"], r["sample_id"], r["drug"])
        best[key] = min(best.get(key, len(order)), order.index(row_priority(r)))
    expected: dict[tuple[str, str], Counter] = {}
    for (input_id, sample, _), rank in best.items():
        expected.setdefault((input_id, sample), Counter())[order[rank]] += 1

    got = cohort.sample_priorities(guid)
    assert len(got) == len(expected) == 5  # SAMPLE of lab-a and of lab-b are two patients
    for r in got.to_dict("records"):
        input_id, sample = r["sample_id"].split("\x1f")
        assert [r[k] for k in cohort.COUNTED_PRIORITIES] == [expected[(input_id, sample)][k]
                                                              for k in cohort.COUNTED_PRIORITIES], r
    assert any(r["incomplete"] for r in got.to_dict("records"))  # NUDT15 not called: thiopurines are incomplete

    fda = plain[plain["source"] == "FDA"]
    if fda.empty:
        return
    plain_counts: dict[tuple, Counter] = {}
    for r in fda.to_dict("records"):
        c = plain_counts.setdefault((r["drug"], r["guideline"], int(r["fda_section"])), Counter())
        c["matched" if r["status"] == "matched" else "not_matched" if r["status"] == "not_matched"
          else "not_evaluated"] += 1
        c["act"] += r["status"] == "matched" and r["fda_label"] == "act"
    rows = cohort_counts(guid)
    assert [(r["drug"], r["guideline"], r["section"]) for r in rows] == sorted(plain_counts)
    for r in rows:
        c = plain_counts[(r["drug"], r["guideline"], r["section"])]
        assert (r["matched"], r["not_matched"], r["not_evaluated"], r["act"]) == (
            c["matched"], c["not_matched"], c["not_evaluated"], c["act"])
