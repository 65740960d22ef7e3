"""Per-patient cost of the report rule, step by step, against a floor measured in the same run.

Reads one part of a finished results folder (e.g. from `pgx-pipeline run ... --out DIR`), then for N of its
patients times each step the report rule does: the report context, the HTML, the JSON, the FHIR bundle (build +
R4B validation, each distinct resource once per part) and the four atomic file writes. The floor, timed on the same
patients: the patient's rows of the same four stage tables (calls, phenotypes, guidance, genotypes) as plain
records, serialised with json.dumps, and written once with a plain write.

    python benchmarks/report_render.py --results DIR [--input-id GRCh38] [--part part-000] [--samples 200]
        [--profile out.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import tempfile
import time
from pathlib import Path

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True, type=Path)
    ap.add_argument("--input-id", default="GRCh38")
    ap.add_argument("--part", default="part-000")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--profile", type=Path, help="also write a cProfile of the report steps")
    args = ap.parse_args()

    from pgx_pipeline.report import exports, fhir
    from pgx_pipeline.report.context import build_sample_context, load_input_tables
    from pgx_pipeline.report.files import sync_folder, write_text_atomic
    from pgx_pipeline.report.html import render_patient_html

    t0 = time.perf_counter()
    tables = load_input_tables(args.results, args.input_id, args.part)
    load = time.perf_counter() - t0
    sids = [str(s) for s in tables.samples["sample_id"]][: args.samples]
    out = Path(tempfile.mkdtemp(prefix="report-bench-"))
    validator = fhir.Validator()
    steps = ["context", "html", "json", "fhir", "write"]
    t = dict.fromkeys(steps + ["floor"], 0.0)
    size = 0
    prof = cProfile.Profile() if args.profile else None
    stage_rows = _stage_rows(args.results, args.input_id, args.part)
    for sid in sids:
        # Floor: the same rows, read as records, dumped and written once.
        a = time.perf_counter()
        rows = {name: _plain_records(df.iloc[slice(*span.get(sid, (0, 0)))]) for name, (df, span) in stage_rows.items()}
        (out / f"{sid}.floor.json").write_text(json.dumps(rows, default=str))
        t["floor"] += time.perf_counter() - a

        if prof:
            prof.enable()
        a = time.perf_counter()
        ctx = build_sample_context(tables, sid, report_date="2026-01-01")
        b = time.perf_counter()
        html = render_patient_html(ctx)
        c = time.perf_counter()
        js = exports.sample_json(ctx)
        d = time.perf_counter()
        fj = fhir.bundle_json(ctx, validator)
        e = time.perf_counter()
        for suffix, text in ((".html", html), (".json", js), (".outside_calls.tsv", exports.outside_call_tsv(ctx)),
                             (".fhir.json", fj)):
            write_text_atomic(out / f"{sid}{suffix}", text, flush=False)  # as the rule: one sync_folder at the end
        f = time.perf_counter()
        if prof:
            prof.disable()
        size += len(html) + len(js) + len(fj)
        for k, x, y in zip(steps, (a, b, c, d, e), (b, c, d, e, f)):
            t[k] += y - x
    a = time.perf_counter()
    sync_folder(out)
    t["write"] += time.perf_counter() - a
    n = len(sids)
    total = sum(t[k] for k in steps)
    print(f"{n} patients of {args.input_id} {args.part}; tables loaded in {load:.1f} s")
    print("ms per patient: " + ", ".join(f"{k} {1000 * t[k] / n:.1f}" for k in steps)
          + f"; report total {1000 * total / n:.1f}; floor {1000 * t['floor'] / n:.1f}"
          + f"; report / floor = {total / t['floor']:.1f}x; {size / n / 1e3:.0f} KB written per patient")
    if prof:
        prof.dump_stats(args.profile)


def _stage_rows(results: Path, input_id: str, part: str) -> dict:
    """The four stage tables of the part as Arrow tables (the columns the report reads of the genotypes), with each
    sample's row numbers: what the floor reads, independent of the report code."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pgx_pipeline import sharding
    from pgx_pipeline.report.context import GENOTYPE_COLUMNS

    paths = {name: [sharding.stage_file(results, name, input_id, part)] for name in ("calls", "phenotypes", "guidance")}
    paths["genotypes"] = sharding.group_files(results, input_id, part, "genotypes")
    out = {}
    for name, files in paths.items():
        df = pa.concat_tables(pq.read_table(f, columns=GENOTYPE_COLUMNS if name == "genotypes" else None)
                              for f in files).to_pandas()
        df = df.sort_values("sample_id", kind="stable").reset_index(drop=True)  # each sample's rows: one slice
        ids = df["sample_id"].to_numpy(dtype=object)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        out[name] = (df, {ids[a]: (a, b) for a, b in zip(starts, np.r_[starts[1:], len(ids)])})
    return out


def _plain_records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain values, column by column (the cheapest pandas way)."""
    names = list(df.columns)
    arrays = [df[c].to_numpy(dtype=object, na_value=None) for c in names]
    return [dict(zip(names, values)) for values in zip(*arrays)]


if __name__ == "__main__":
    main()
