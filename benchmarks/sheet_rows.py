"""Matching sample-sheet (or outside-call table) rows to a batch's inputs, against a floor in the same run.

    python benchmarks/sheet_rows.py [--rows 2504] [--inputs 50] [--rounds 3]

A batch's call job asks, for each of its inputs, which sheet rows describe it (`inputs.sheet_rows_for_input`). Every
row names its file (the panel's samples one file each, 50 files to a batch). The floor builds the same dict without
matching any path; the ratio is what the path matching costs on top.
"""

from __future__ import annotations

import argparse
import time

from pgx_pipeline.inputs import sheet_rows_for_input


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2504)
    ap.add_argument("--inputs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows = [{"sample_id": f"S{i}", "vcfs": [f"/data/lab/f{i % args.inputs}.vcf.gz"]} for i in range(args.rows)]
    inputs = [[f"/data/lab/f{k}.vcf.gz"] for k in range(args.inputs)]
    for r in range(args.rounds):
        t = time.perf_counter()
        for vcfs in inputs:
            {row["sample_id"]: row for row in rows if row["vcfs"]}
        floor = time.perf_counter() - t
        t = time.perf_counter()
        got = [sheet_rows_for_input(rows, vcfs) for vcfs in inputs]
        took = time.perf_counter() - t
        assert sum(len(g) for g in got) == args.rows  # each row describes exactly one input
        print(f"round {r + 1}: {args.rows} rows x {args.inputs} inputs: {took:.3f} s, floor {floor:.3f} s, "
              f"ratio {took / floor:.1f}")


if __name__ == "__main__":
    main()
