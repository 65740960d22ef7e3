"""PharmCAT 3.1.1's own calling expectations, each built as a single-sample VCF and run through our ingest + call.

The cases (tests/conformance/pharmcat_cases*.yaml) are facts taken from PharmCAT's tests; each test id names the
PharmCAT test class and method (and the gene checked). How PharmCAT's output format maps onto ours is written
down as rules R1-R6 in harness.py. Cases that fail today are listed in known_failures.yaml with the issue-17
point that covers them and run as xfail(strict=True): a fix makes them pass, which fails this suite until the
entry is removed and the summary regenerated (python scripts/conformance_summary.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import PHARMCAT

from . import harness as H

pytestmark = pytest.mark.skipif(not PHARMCAT.is_dir(), reason=f"PharmCAT definitions not found at {PHARMCAT}")

DOC = H.load_cases()
KNOWN = H.load_known()
CHECKS = [(c, g) for c in DOC["cases"] for g in H.gene_checks(c)]


def _param(case: dict, gene: str):
    key = f"{case['id']}::{gene}"
    marks = []
    if key in KNOWN:
        k = KNOWN[key]
        marks.append(pytest.mark.xfail(strict=True, reason=f"issue 17 {k['point']}: {k['reason']}"))
    return pytest.param(case, gene, id=key, marks=marks)


@pytest.fixture(scope="module")
def calls(defs_dir, tmp_path_factory) -> pd.DataFrame:
    defs = H.Definitions(PHARMCAT)
    return H.run_all(DOC["cases"], defs, defs_dir, tmp_path_factory.mktemp("conformance"))


@pytest.mark.parametrize("case,gene", [_param(c, g) for c, g in CHECKS])
def test_pharmcat_expectation(calls, case, gene):
    o = H.compare(case, gene, calls)
    assert o.ok, f"{case['id']} {gene} ({o.rule}): PharmCAT {o.expected!r}, ours {o.got!r}"


def test_known_failures_name_existing_checks():
    keys = {f"{c['id']}::{g}" for c, g in CHECKS}
    stale = sorted(set(KNOWN) - keys)
    assert not stale, f"known_failures.yaml names checks that do not exist: {stale}"
    bad = {k: v["point"] for k, v in KNOWN.items() if not str(v["point"]).startswith(("P1", "P2", "P3", "P4", "P5", "P6", "NEW"))}
    assert not bad, bad


def test_breadth():
    """At least 130 checks over the genes the issue names (CYP2D6 SNV-only is not in PharmCAT's tests without CNV)."""
    genes = {g for _, g in CHECKS}
    assert len(CHECKS) >= 130
    assert {"CYP2B6", "CYP2C19", "CYP2C9", "CYP3A5", "DPYD", "G6PD", "NAT2", "NUDT15", "SLCO1B1", "TPMT", "UGT1A1",
            "VKORC1", "CFTR", "IFNL3", "ABCG2", "CACNA1S", "RYR1", "CYP4F2"} <= genes, genes


def test_summary_is_current(calls):
    outcomes = {(c["id"], g): H.compare(c, g, calls) for c, g in CHECKS}
    fresh = H.summarise(DOC["cases"], outcomes, KNOWN, DOC["not_ported"])
    committed = pd.read_csv(H.SUMMARY, sep="\t", dtype=str, keep_default_na=False)
    fresh = fresh.astype(str)
    assert committed.to_dict("records") == fresh.to_dict("records"), \
        "tests/conformance/conformance_summary.tsv is stale: run python scripts/conformance_summary.py"


# ---------------------------------------------------------------------------------------- issue 17 point 6
TIES = [c for c, g in CHECKS if c.get("top_only", True) and len(H.expectation(c, g)[1]) > 1
        and g not in H.LOWEST_FUNCTION]


def test_tied_candidates_share_rank_one(calls):
    """Where PharmCAT reports several top candidates (equal score), every one of ours must carry rank 1."""
    assert TIES, "no tie case in the suite"
    bad = []
    for case in TIES:
        for gene in H.gene_checks(case):
            rows = calls[(calls["sample_id"] == case["id"]) & (calls["gene"] == gene) & calls["diplotype"].notna()]
            if len(rows) > 1 and rows["score"].nunique() == 1 and set(rows["rank"]) != {1}:
                bad.append((case["id"], gene, list(rows["diplotype"]), list(rows["rank"])))
    assert not bad, bad[:5]


# ---------------------------------------------------------------------------------------- provenance of the cases
PHARMCAT_GIT = Path(os.environ.get("PHARMCAT_GIT", "/work/.mirror/PharmGKB+PharmCAT/repo"))


@pytest.mark.skipif(not PHARMCAT_GIT.is_dir(), reason="PharmCAT git mirror not available (set PHARMCAT_GIT)")
def test_extracted_cases_match_pharmcat_sources(tmp_path):
    """pharmcat_cases.yaml is exactly what scripts/extract_pharmcat_conformance.py reads from PharmCAT v3.1.1."""
    out = tmp_path / "cases.yaml"
    subprocess.run([sys.executable, str(H.HERE.parents[1] / "scripts" / "extract_pharmcat_conformance.py"),
                    str(PHARMCAT_GIT), "--out", str(out)], check=True, capture_output=True)
    assert H.read_yaml(out) == H.read_yaml(H.CASES)
