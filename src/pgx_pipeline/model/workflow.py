"""One call that does what `pgx-pipeline model train` promises: fit, validate, save, and describe a model."""

from __future__ import annotations

import json
from pathlib import Path

from .. import __version__
from ..provenance import file_sha256
from .card import write_card
from .evaluate import read_heldout, train_and_evaluate
from .registry import drug_model
from .store import save_model


def train_to_dir(training_file: str | Path, out_dir: str | Path, *, drug: str = "warfarin", seed: int = 0,
                 heldout_file: str | Path | None = None, validate: bool = True) -> dict:
    """Write model.skops, evaluation.json, heldout_ids.txt, model_card.json/html into `out_dir`.

    The model version names the drug, pgx-pipeline version, seed and the training file's checksum, so two models
    with the same version were trained the same way on the same bytes.
    """
    training_file, out_dir = Path(training_file), Path(out_dir)
    entry = drug_model(drug)
    cohort = entry.read_cohort(training_file)
    sha = file_sha256(training_file)
    version = f"{drug}-{__version__}-s{seed}-{sha[:10]}"
    heldout = read_heldout(heldout_file) if heldout_file else None
    model, evaluation, heldout_ids = train_and_evaluate(entry, cohort, version=version, random_state=seed,
                                                        heldout_ids=heldout, validate=validate)
    evaluation["cohort"]["sha256"] = sha
    model.info["training_sha256"] = sha
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "heldout_ids.txt").write_text(
        f"# held-out patients ({len(heldout_ids)}), {training_file.name} sha256 {sha}, seed {seed}\n"
        + "\n".join(heldout_ids) + "\n"
    )
    (out_dir / "evaluation.json").write_text(json.dumps(evaluation, indent=2) + "\n")
    save_model(model, out_dir / "model.skops")
    write_card(model, evaluation, out_dir)
    return evaluation
