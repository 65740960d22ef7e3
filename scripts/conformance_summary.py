#!/usr/bin/env python
"""Run the PharmCAT conformance cases (tests/conformance) and write tests/conformance/conformance_summary.tsv.

One row per PharmCAT test class and per gene: checks (case x gene), pass, xfail, and the xfail count per issue-17
point (from tests/conformance/known_failures.yaml; UNEXPLAINED = failing and not listed), plus, per class, how many
of its tests were not ported (pharmcat_cases.yaml `not_ported`, with reasons). Prints the failing checks.

Usage (repo root): python scripts/conformance_summary.py [--shared ../shared] [--out tests/conformance/conformance_summary.tsv]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.conformance.harness

from pgx_pipeline.testing import build_kb_dir  # noqa: E402
from tests.conformance import harness as H  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=H.SUMMARY)
    a = ap.parse_args(argv)
    pharmcat = a.shared / "pgx-sources" / "pharmcat"
    doc, known = H.load_cases(), H.load_known()
    with tempfile.TemporaryDirectory() as tmp:
        kb = build_kb_dir([pharmcat, a.shared / "pgx-sources" / "pharmcat-stale-fallback"], Path(tmp) / "kb")
        calls = H.run_all(doc["cases"], H.Definitions(pharmcat), kb, Path(tmp) / "work")
    outcomes = {(c["id"], g): H.compare(c, g, calls) for c in doc["cases"] for g in H.gene_checks(c)}
    summary = H.summarise(doc["cases"], outcomes, known, doc["not_ported"])
    summary.to_csv(a.out, sep="\t", index=False)
    print(summary.to_string(index=False))
    print("\nfailing checks:")
    for (cid, gene), o in outcomes.items():
        if not o.ok:
            k = known.get(f"{cid}::{gene}", {"point": "UNEXPLAINED"})
            print(f"  {k['point']:<12} {cid}::{gene}  PharmCAT {o.expected!r}  ours {o.got!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
