"""The workflow under bad inputs and a crash: one `pgx-pipeline run` per session (bundled samples + corpus
inputs + 2 bad ones, stopped after guidance; small inputs, so batched three files a job), then a SIGKILLed Snakemake
run resumed with --rerun-incomplete must give the same tables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pgx_pipeline import sharding
from tests.conftest import REPO, knowledge_args, seed_from
from tests.robustness.conftest import EXE
from tests.robustness.harness import stage_copy

GOOD = ["good.vcf", "contig_10.vcf", "gvcf_blocks.g.vcf", "odd_sample_ids.vcf"]
BAD = {"truncated": "truncated.vcf.gz", "duplicate_samples": "duplicate_samples.vcf"}
UNTIL = "--until match_guidance"


@pytest.fixture(scope="module")
def cohort(run_dir, tmp_path_factory) -> Path:
    inputs = tmp_path_factory.mktemp("inputs")
    files = [stage_copy(n, inputs) for n in [*GOOD, *BAD.values()]]
    # The session's knowledge base (same --knowledge): these tests are about the stages after it.
    out = seed_from(run_dir, tmp_path_factory.mktemp("cohort") / "results", ["knowledge"])
    proc = subprocess.run(
        [EXE, "run", str(REPO / "data" / "sample_vcfs" / "bundled_samples.vcf.gz"), *map(str, files), "--out", str(out),
         *knowledge_args(), "--cores", "2", "--files-per-batch", "3", "--snakemake-args", UNTIL],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr.split("Error in rule")[0]
    return out


def _tables(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*.parquet")) if ".snakemake" not in p.parts}


def _unit(cohort: Path, input_id: str) -> str:
    """The work unit whose folders hold the input (a batch of small inputs, or the input itself)."""
    rows = [line.split("\t") for line in (cohort / "inputs_manifest.tsv").read_text().splitlines()[1:]]
    return next(unit for i, unit, *_ in rows if i == input_id)


def test_good_inputs_complete_bad_ones_are_recorded(cohort):
    for input_id in ["bundled_samples", "good", "contig_10", "gvcf_blocks.g", "odd_sample_ids"]:
        assert len(sharding.read_input_stage(cohort, "guidance", input_id)) > 0, input_id
    calls = sharding.read_input_stage(cohort, "calls", "gvcf_blocks.g")
    assert calls[(calls.gene == "CYP2C19") & (calls["candidate"] == 1)]["diplotype"].tolist() == ["*1/*2"]
    for input_id, message in [("truncated", "BGZF end-of-file marker missing"), ("duplicate_samples", "duplicate sample id")]:
        failed = sharding.read_input_samples(cohort, input_id)
        assert failed["status"].tolist() == ["failed"] and message in failed["error"].iloc[0]
        assert BAD[input_id] in failed["error"].iloc[0]  # names the file
        logs = [p.read_text() for p in (cohort / "logs" / "ingest" / _unit(cohort, input_id)).glob("*.log")]
        assert logs and all("Traceback" not in log and "recorded as failed" in log for log in logs)
    # The batches mixed good and bad files: every good one completed.
    assert len({_unit(cohort, i) for i in ["bundled_samples", "good", "contig_10", "gvcf_blocks.g", "odd_sample_ids",
                                           "truncated", "duplicate_samples"]}) == 3


def test_failed_input_flows_through_the_call_stage(cohort):
    unit = _unit(cohort, "truncated")
    assert sharding.stage_file(cohort, "calls", unit, "part-000").exists()
    assert "Traceback" not in (cohort / "logs" / "call" / unit / "part-000.log").read_text()


def test_sigkill_then_rerun_incomplete_gives_the_same_outputs(cohort, tmp_path):
    config = yaml.safe_load((cohort / "run_config.yaml").read_text())
    # The knowledge base is built before any input's job starts, so the kill never reaches it: start from it.
    out = seed_from(cohort, tmp_path / "killed", ["knowledge"])
    config["results"] = str(out)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(out),
           "--configfile", str(cfg), "--cores", "1", "--keep-going", *UNTIL.split()]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        # kill once some, but not all, per-input outputs exist: in the middle of the cohort
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((out / "calls").glob("*/*.parquet"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert len(_tables(out)) < len(_tables(cohort))
    subprocess.run([*cmd, "--unlock"], env=env, capture_output=True, check=True)  # the killed run's lock
    rerun = subprocess.run([*cmd, "--rerun-incomplete"], env=env, capture_output=True, text=True)
    assert "Traceback" not in rerun.stderr.split("Error in rule")[0]
    got, want = _tables(out), _tables(cohort)
    assert sorted(got) == sorted(want)
    for rel in want:
        assert pq.read_table(got[rel]).equals(pq.read_table(want[rel]), check_metadata=True), rel
    stray = [p for p in out.rglob("*") if p.name.endswith(".tmp") and ".snakemake" not in p.parts]
    assert not stray, stray
