"""Shared pieces for the robustness tests: the CLI run in process (umask restored afterwards)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pgx_pipeline import sharding

EXE = str(Path(sys.executable).parent / "pgx-pipeline")


@pytest.fixture
def cli():
    """Invoke `pgx-pipeline ARGS...` in process; returns click's Result (stdout/stderr separate)."""
    from pgx_pipeline.cli import main

    old = os.umask(0o022)
    os.umask(old)
    runner = CliRunner()

    def invoke(*args: str):
        try:
            return runner.invoke(main, [str(a) for a in args], catch_exceptions=True)
        finally:
            os.umask(old)  # the CLI sets umask 027 for the whole process

    return invoke


def run_stages(cli, vcf: Path, results: Path, kb_dir: Path, input_id: str, *, report_date: str | None = None) -> Path:
    """ingest -> call -> phenotype -> guidance (-> report patients) for one input, as the rules run them."""
    kb = results / "knowledge"
    if not kb.exists():
        shutil.copytree(kb_dir, kb)
    ingest_out = results / "ingest" / input_id / "genes-0"
    part = "part-000"
    steps = [
        ["ingest", "--input-id", input_id, "--vcf", vcf, "--kb", kb, "--out-dir", ingest_out, "--parts", "1"],
        ["call", "--genotypes", ingest_out / f"{part}.genotypes.parquet", "--samples", ingest_out / f"{part}.samples.parquet",
         "--kb", kb, "--out", sharding.stage_file(results, "calls", input_id, part)],
        ["phenotype", "--calls", sharding.stage_file(results, "calls", input_id, part), "--kb", kb,
         "--out", sharding.stage_file(results, "phenotypes", input_id, part)],
        ["guidance", "--phenotypes", sharding.stage_file(results, "phenotypes", input_id, part), "--kb", kb,
         "--out", sharding.stage_file(results, "guidance", input_id, part)],
    ]
    if report_date:
        steps.append(["report", "patients", "--results", results, "--input-id", input_id,
                      "--out", results / "reports" / input_id, "--report-date", report_date])
    for step in steps:
        res = cli(*step)
        assert res.exit_code == 0, (step[0], res.stderr, res.exception)
    return results
