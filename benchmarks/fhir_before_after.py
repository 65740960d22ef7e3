"""FHIR bundles per patient, before against after, in one process: each trial imports a fresh copy of each
`report/fhir.py` (empty caches) and writes the same patients' bundles with a new Validator, alternating which goes
first; the two must write the same bytes.

    git archive <before> src | tar -x -C /tmp/before
    python benchmarks/fhir_before_after.py --before /tmp/before/src/pgx_pipeline/report/fhir.py \
        --results <a finished run's results folder> [--patients 800] [--trials 4]

On a shared machine one process per version varies by +-20% from run to run; alternating in one process over the
same contexts lets the two versions share whatever load there is.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import time
from pathlib import Path

from pgx_pipeline.report.context import load_input_tables, sample_contexts

AFTER = Path(__file__).resolve().parents[1] / "src" / "pgx_pipeline" / "report" / "fhir.py"


def _fresh(path: str, name: str):
    spec = importlib.util.spec_from_file_location(f"pgx_pipeline.report.{name}", path)  # relative imports resolve
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the fhir.py to compare against")
    ap.add_argument("--after", default=str(AFTER))
    ap.add_argument("--results", required=True)
    ap.add_argument("--input-id", default="GRCh38")
    ap.add_argument("--part", default="part-000")
    ap.add_argument("--patients", type=int, default=800)
    ap.add_argument("--trials", type=int, default=4)
    args = ap.parse_args()

    tables = load_input_tables(args.results, args.input_id, args.part)
    gc.freeze()
    ctxs = [c for _, c in zip(range(args.patients), sample_contexts(tables, report_date="2026-01-01"))]
    paths = {"before": args.before, "after": args.after}
    ms: dict[str, list[float]] = {k: [] for k in paths}
    for trial in range(args.trials):
        texts = {}
        for name in ("before", "after") if trial % 2 == 0 else ("after", "before"):
            fhir = _fresh(paths[name], f"fhir_{name}_{trial}")
            validator = fhir.Validator()
            start = time.process_time()
            texts[name] = [fhir.bundle_json(c, validator) for c in ctxs]
            ms[name].append((time.process_time() - start) / len(ctxs) * 1000)
        assert texts["before"] == texts["after"], "the two versions wrote different bundles"
        print(f"trial {trial}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in ms.items()) + " ms/patient", flush=True)
    for name, values in ms.items():
        print(f"{name}: min {min(values):.2f}, median {statistics.median(values):.2f} ms/patient")
    print(f"after/before, medians: {statistics.median(ms['after']) / statistics.median(ms['before']):.2f}")


if __name__ == "__main__":
    main()
