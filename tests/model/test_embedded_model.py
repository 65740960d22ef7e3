"""The warfarin model shipped in the package: a retrain gives the same held-out figures (drift guard), and the
workflow trains only when the training file is configured and present."""

from __future__ import annotations

import json

import pytest

from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.model.embedded import choose_model, embedded_model_dir
from tests.model.conftest import SEED


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads((embedded_model_dir("warfarin") / "evaluation.json").read_text())


def test_retraining_gives_the_embedded_evaluation(evaluation, trained_dir, shipped):
    """`trained_dir` is the session's retrain on ../shared's workbook (held-out part only: CV and
    leave-one-site-out are not rerun in CI); every held-out figure must equal the shipped evaluation.json."""
    for key in ("model_version", "random_state", "dose_classes", "dose_unit", "cohort", "heldout"):
        assert _same(evaluation[key], shipped[key]), f"{key} differs: rerun scripts/refresh_embedded.py if intended"
    held_new = (trained_dir / "heldout_ids.txt").read_text()
    assert held_new == (embedded_model_dir("warfarin") / "heldout_ids.txt").read_text()


def _same(a, b) -> bool:
    """Equal structure and text; numbers equal to 1e-9 relative (the same fit on another BLAS build)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


def test_embedded_model_provenance_names_the_data_and_its_licence(shipped):
    prov = json.loads((embedded_model_dir("warfarin") / "provenance.json").read_text())
    assert prov["seed"] == shipped["random_state"] == SEED
    assert prov["training_sha256"] == shipped["cohort"]["sha256"]
    assert "PharmGKB" in prov["training_data"]["dataset"] and "CC BY-SA 4.0" in prov["training_data"]["licence"]
    assert prov["heldout"]["within_20pct"] == shipped["heldout"]["methods"]["model"]["within_20pct"]
    assert shipped["cross_validation"] and shipped["leave_one_site_out"]  # shipped with its whole evaluation


def test_embedded_model_loads_and_predicts():
    from pgx_pipeline.model.store import load_model

    model = load_model(embedded_model_dir("warfarin") / "model.skops")
    assert model.drug == "warfarin"


def test_choice_trains_only_when_the_file_is_configured_and_present(tmp_path):
    (tmp_path / "iwpc.xlsx").write_bytes(b"x")
    assert choose_model("warfarin", {"training_file": "iwpc.xlsx"}, tmp_path).training_file == "iwpc.xlsx"
    absent = choose_model("warfarin", {"training_file": "gone.xlsx"}, tmp_path)
    assert absent.embedded and "gone.xlsx not found: using the embedded warfarin model" in absent.note
    assert choose_model("warfarin", {}, tmp_path).embedded


def test_a_drug_without_file_or_embedded_model_is_an_error(tmp_path):
    with pytest.raises(PgxInputError, match="no embedded tacrolimus model"):
        choose_model("tacrolimus", {"training_file": "nope.csv"}, tmp_path)


def test_the_file_the_embedded_model_was_trained_on_is_not_trained_again(iwpc_xlsx, tmp_path):
    """The shipped workbook with the shipped seed makes the embedded model (the retrain test above): the run
    installs it instead of training; another seed, or one changed byte in the workbook, trains."""
    same = choose_model("warfarin", {"training_file": str(iwpc_xlsx), "seed": SEED})
    assert same.embedded and "is the file the embedded warfarin model was trained on" in same.note
    assert not choose_model("warfarin", {"training_file": str(iwpc_xlsx), "seed": SEED + 1}).embedded
    changed = tmp_path / "iwpc.xlsx"
    data = bytearray(iwpc_xlsx.read_bytes())
    data[-1] ^= 1
    changed.write_bytes(bytes(data))
    assert not choose_model("warfarin", {"training_file": str(changed), "seed": SEED}).embedded
