"""Run one corpus entry through the entry point a user would hit, and summarise what they would see."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from pgx_pipeline import schema

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"


def read_expected() -> list[dict]:
    lines = (CORPUS / "expected.tsv").read_text(encoding="utf-8").splitlines()
    cols = lines[0].split("\t")
    return [dict(zip(cols, ln.split("\t"))) for ln in lines[1:] if ln.strip()]


def stage_copy(name: str, dest: Path) -> Path:
    """Copy an entry (and its index) into `dest`; give the stale index an older mtime (git keeps none)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in CORPUS.glob(name + "*"):
        if f.name == name or f.name in (name + ".tbi", name + ".csi"):
            shutil.copy2(f, dest / f.name)
    target = dest / name
    if name == "stale_index.vcf.gz":
        now = time.time()
        os.utime(target, (now, now))
        os.utime(dest / (name + ".tbi"), (now - 86400, now - 86400))
    return target


def call_summary(calls) -> list[str]:
    """One line per call row: `<sample> <gene> <diplotype> <status>: <warnings>`."""
    return [
        f"{r.sample_id} {r.gene} {r.diplotype if isinstance(r.diplotype, str) else '-'} {r.status}: {'; '.join(r.warnings)}"
        for r in calls.itertuples()
    ]


def ingest_and_call(vcf: Path, defs_dir: Path, out: Path, *, outside: list[Path] = ()) -> tuple[list[str], object]:
    """In process, as the workflow's ingest and call stages do: (notes + call lines, calls frame)."""
    from pgx_pipeline.calling.call import call_input
    from pgx_pipeline.calling.outside import read_outside_calls
    from pgx_pipeline.ingest.vcf import ingest_vcf

    res = ingest_vcf([vcf], defs_dir, out, input_id="corpus")
    samples = list(schema.read_table(res.samples, schema.SAMPLES)["sample_id"])
    oc = [c for f in outside for c in read_outside_calls(f, samples)]
    calls = call_input(res.genotypes, res.samples, defs_dir, out / "calls.parquet", outside_calls=oc)
    return [f"warning: {n}" for n in res.notes] + call_summary(calls), calls
