"""Fixtures for the model tests: the real IWPC workbook (read in place) and one model trained on it per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IWPC_XLSX = REPO / ".." / "shared" / "training" / "iwpc_warfarin" / "iwpc_warfarin_dev.xlsx"
SEED = 20090219


@pytest.fixture(scope="session")
def iwpc_xlsx() -> Path:
    if not IWPC_XLSX.is_file():
        pytest.skip(f"IWPC workbook not found at {IWPC_XLSX.resolve()} (PharmGKB PS206767; see shared/training)")
    return IWPC_XLSX


@pytest.fixture(scope="session")
def trained_dir(iwpc_xlsx, tmp_path_factory) -> Path:
    """model.skops, card, evaluation and held-out ids from one training run (held-out figures only: the
    21-site leave-one-site-out loop runs in the workflow, not in CI)."""
    from pgx_pipeline.model.workflow import train_to_dir

    out = tmp_path_factory.mktemp("warfarin_model")
    train_to_dir(iwpc_xlsx, out, seed=SEED, validate=False)
    return out


@pytest.fixture(scope="session")
def evaluation(trained_dir) -> dict:
    return json.loads((trained_dir / "evaluation.json").read_text())


@pytest.fixture(scope="session")
def dose_model(request):
    """The model trained this session on ../shared's workbook; without it, the embedded model (the drift guard in
    test_embedded_model.py checks the two give the same held-out figures)."""
    from pgx_pipeline.model.embedded import embedded_model_dir
    from pgx_pipeline.model.store import load_model

    if IWPC_XLSX.is_file():
        return load_model(request.getfixturevalue("trained_dir") / "model.skops")
    return load_model(embedded_model_dir("warfarin") / "model.skops")
