"""Models are config entries: the workflow trains and applies exactly the configured, enabled drug models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pgx_pipeline import schema
from pgx_pipeline.cli import main
from tests.conftest import REPO

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def _dry_run(tmp_path: Path, models_yaml: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "models.yaml"
    cfg.write_text(f"results: {tmp_path / 'results'}\nmodels:\n{models_yaml}")
    return subprocess.run([SNAKEMAKE, "-n", "--printshellcmds", "--configfile", str(cfg)], cwd=REPO,
                          capture_output=True, text=True)


def test_a_present_training_file_trains_and_applies_warfarin(tmp_path):
    workbook = tmp_path / "iwpc.xlsx"
    workbook.write_bytes(b"not read by a dry run")
    proc = _dry_run(tmp_path, f"  warfarin:\n    seed: 5\n    training_file: {workbook}\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pgx-pipeline model train --drug warfarin" in proc.stdout and "--seed 5" in proc.stdout
    assert "model install" not in proc.stdout
    assert f"training the warfarin model on {workbook}" in proc.stderr
    assert "model predict --model '" in proc.stdout and "model/warfarin/model.skops" in proc.stdout


@pytest.mark.parametrize("entry", ["    training_file: /nonexistent/iwpc.xlsx\n", "    training_file: \"\"\n"])
def test_without_the_training_file_the_embedded_model_is_installed_and_applied(tmp_path, entry):
    proc = _dry_run(tmp_path, "  warfarin:\n" + entry)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model train" not in proc.stdout
    assert "pgx-pipeline model install --drug warfarin" in proc.stdout
    assert "using the embedded warfarin model" in proc.stderr
    assert "model predict --model '" in proc.stdout and "model/warfarin/model.skops" in proc.stdout


def test_a_disabled_model_is_neither_trained_nor_applied(tmp_path):
    proc = _dry_run(tmp_path, "  warfarin:\n    enabled: false\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model train" not in proc.stdout
    assert "pgx-pipeline model predict  --phenotypes" in proc.stdout  # no --model: an empty predictions table


def test_an_unknown_model_name_is_one_clear_error(tmp_path):
    proc = _dry_run(tmp_path, "  aspirin:\n    training_file: aspirin.csv\n")
    assert proc.returncode != 0
    assert "no drug model named aspirin; known: warfarin" in proc.stdout + proc.stderr


def test_predict_without_models_writes_an_empty_valid_table(tmp_path):
    phen = pd.DataFrame([{"sample_id": "S1", "input_id": None, "gene": "CYP2C9", "diplotype": "*1/*1", "rank": 1, "candidate": 1, "status": "called",
                          "allele1_function": None, "allele2_function": None, "activity_score": "2.0",
                          "phenotype": None, "lookup_key": "2.0", "candidates_agree": True, "warnings": []}])
    schema.write_table(phen, tmp_path / "phen.parquet", schema.PHENOTYPES)
    out = tmp_path / "pred.parquet"
    result = CliRunner().invoke(main, ["model", "predict", "--phenotypes", str(tmp_path / "phen.parquet"),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = schema.read_table(out, schema.PREDICTIONS)
    assert table.empty and list(table.columns) == schema.PREDICTIONS.column_names
