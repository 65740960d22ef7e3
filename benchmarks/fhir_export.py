"""Cost of the FHIR bundle per patient, as a ratio to the rest of the patient report, measured in the same run.

N samples of the 1000 Genomes GRCh38 panel (every k-th of its 3,202) go through ingestion, calling, phenotype and
guidance in process; then for each patient, in one loop: the report context, the HTML, the JSON and the FHIR bundle
(build + R4B validation, each distinct resource once per part, as the report rule does), each timed.

    python benchmarks/fhir_export.py [--samples 300]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PANEL = SHARED / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
GENES = ["ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP2D6", "CYP3A4", "CYP3A5", "CYP4F2",
         "G6PD", "IFNL3", "NAT2", "NUDT15", "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=300)
    args = ap.parse_args()

    from pgx_pipeline import sharding
    from pgx_pipeline.calling.call import call_input
    from pgx_pipeline.guidance import run_guidance_stage
    from pgx_pipeline.ingest.vcf import ingest_vcf
    from pgx_pipeline.knowledge.build import build_knowledge_base
    from pgx_pipeline.phenotype import run_phenotype_stage
    from pgx_pipeline.report import exports, fhir
    from pgx_pipeline.report.context import build_sample_context, load_input_tables
    from pgx_pipeline.report.html import render_patient_html

    work = Path(tempfile.mkdtemp(prefix="fhir-bench-"))
    kb = work / "results" / "knowledge"
    build_knowledge_base([SHARED / "pgx-sources" / "pharmcat", SHARED / "pgx-sources" / "pharmcat-stale-fallback"], kb)
    names = subprocess.run(["bcftools", "query", "-l", str(PANEL / "CYP2C19.vcf.gz")], capture_output=True,
                           text=True, check=True).stdout.split()
    chosen = names[:: max(1, len(names) // args.samples)][: args.samples]
    vcfs = []
    for gene in GENES:
        out = work / f"{gene}.vcf.gz"
        subprocess.run(["bcftools", "view", "-s", ",".join(chosen), "-Oz", "-o", str(out), str(PANEL / f"{gene}.vcf.gz")],
                       check=True)
        subprocess.run(["tabix", "-p", "vcf", str(out)], check=True)
        vcfs.append(out)
    root, iid, part = work / "results", "panel", "part-000"
    ingest_vcf(vcfs, kb, sharding.ingest_dir(root, iid) / "genes-0", input_id=iid, absent_is_reference=True, n_parts=1)
    for stage in ("calls", "phenotypes", "guidance"):
        sharding.stage_file(root, stage, iid, part).parent.mkdir(parents=True)
    call_input(sharding.group_files(root, iid, part, "genotypes"), sharding.group_files(root, iid, part, "samples"),
               kb, sharding.stage_file(root, "calls", iid, part))
    run_phenotype_stage(sharding.stage_file(root, "calls", iid, part), kb, sharding.stage_file(root, "phenotypes", iid, part))
    run_guidance_stage(sharding.stage_file(root, "phenotypes", iid, part), kb, sharding.stage_file(root, "guidance", iid, part))

    tables = load_input_tables(root, iid, part)
    validator = fhir.Validator()
    t = {"context": 0.0, "html": 0.0, "json": 0.0, "fhir": 0.0}
    size = 0
    for sid in tables.samples["sample_id"]:
        t0 = time.perf_counter()
        ctx = build_sample_context(tables, sid, report_date="2026-01-01")
        t1 = time.perf_counter()
        render_patient_html(ctx)
        t2 = time.perf_counter()
        exports.sample_json(ctx)
        t3 = time.perf_counter()
        size += len(fhir.bundle_json(ctx, validator).encode())
        t4 = time.perf_counter()
        for k, a, b in (("context", t0, t1), ("html", t1, t2), ("json", t2, t3), ("fhir", t3, t4)):
            t[k] += b - a
    n = len(tables.samples)
    report = t["context"] + t["html"] + t["json"]
    print(f"{n} patients; ms per patient: " + ", ".join(f"{k} {1000 * v / n:.0f}" for k, v in t.items()))
    print(f"FHIR / (context + HTML + JSON) = {t['fhir'] / report:.2f}; bundle {size / n / 1e3:.0f} KB; "
          f"{validator.validated} distinct resource forms validated")


if __name__ == "__main__":
    main()
