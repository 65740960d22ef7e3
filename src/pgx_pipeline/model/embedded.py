"""Trained models shipped inside the package, and the rule deciding when the workflow trains instead.

`pgx_pipeline/data/models/<drug>/` holds what `pgx-pipeline model train` wrote (model.skops, model_card.json/html,
evaluation.json, heldout_ids.txt) and a provenance.json naming the training data (warfarin: the IWPC data from
PharmGKB) and its licence. scripts/refresh_embedded.py regenerates them; tests/model/test_embedded_model.py retrains
and checks the same evaluation figures.

A configured model is trained only when its `training_file` is given and exists; otherwise its embedded model is
used and the run says so. A drug with neither is a configuration error.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import PgxInputError
from ..provenance import file_sha256

EMBEDDED_MODELS = Path(__file__).resolve().parents[1] / "data" / "models"
MODEL_FILES = ("model.skops", "model_card.json", "model_card.html", "evaluation.json", "heldout_ids.txt")

# Where the training data came from, per drug: written into the embedded model's provenance.json.
TRAINING_DATA = {
    "warfarin": {
        "dataset": "IWPC warfarin data (International Warfarin Pharmacogenetics Consortium, NEJM 2009), "
                   "PharmGKB submission PS206767",
        "origin": "https://www.pharmgkb.org/ (now ClinPGx), IWPC Data, submission PS206767",
        "licence": "CC BY-SA 4.0 (ClinPGx/PharmGKB data licence): attribution to PharmGKB required",
        "note": "development part of the workbook (4,848 of 5,700 patients; 15% of each site kept aside as an "
                "independent test set the project never trains on); only the trained model and its evaluation are "
                "shipped, never the patient rows",
    },
}


def embedded_model_dir(drug: str) -> Path | None:
    folder = EMBEDDED_MODELS / drug
    return folder if (folder / "model.skops").is_file() else None


def install_embedded_model(drug: str, out_dir: str | Path) -> list[Path]:
    """Copy the drug's embedded model files into `out_dir` (each replaced atomically)."""
    folder = embedded_model_dir(drug)
    if folder is None:
        raise PgxInputError(f"no embedded {drug} model in this pgx-pipeline; configure models.{drug}.training_file")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in (*MODEL_FILES, "provenance.json"):
        tmp = out_dir / f".{name}.tmp"
        shutil.copyfile(folder / name, tmp)
        os.replace(tmp, out_dir / name)
        written.append(out_dir / name)
    return written


def write_model_provenance(drug: str, model_dir: str | Path, training_file: str | Path, seed: int) -> dict:
    """provenance.json beside a trained model: the figures it was shipped with and where its data came from."""
    model_dir = Path(model_dir)
    evaluation = json.loads((model_dir / "evaluation.json").read_text(encoding="utf-8"))
    heldout = evaluation["heldout"]["methods"]["model"]
    prov = {
        "drug": drug,
        "model_version": evaluation["model_version"],
        "seed": seed,
        "training_file": Path(training_file).name,
        "training_sha256": evaluation["cohort"]["sha256"],
        "training_data": TRAINING_DATA.get(drug, {}),
        "heldout": {"n": evaluation["heldout"]["n"], "within_20pct": heldout["within_20pct"],
                    "accuracy": heldout["accuracy"], "mae": heldout["mae"], "dose_unit": evaluation["dose_unit"]},
        "made_by": f"pgx-pipeline model train --drug {drug} --seed {seed}",
    }
    (model_dir / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n", encoding="utf-8")
    return prov


@dataclass(frozen=True)
class ModelChoice:
    drug: str
    training_file: str | None
    note: str

    @property
    def embedded(self) -> bool:
        return self.training_file is None


def choose_model(drug: str, entry: dict, base: str | Path = ".") -> ModelChoice:
    """Train on the configured file when it exists, else use the embedded model (saying why).

    A configured file that is the very file the embedded model was trained on, with the same seed and by this
    pgx-pipeline version, would give the embedded model again (tests/model/test_embedded_model.py retrains it and
    compares): it is installed instead, which saves a core for ~10 s at the start of every run."""
    entry = entry or {}
    training = entry.get("training_file") or ""
    if training and (Path(base) / training).is_file():
        same = _embedded_version_of(drug, Path(base) / training, int(entry.get("seed", 0)))
        if same:
            return ModelChoice(drug, None, f"models.{drug}.training_file {training} is the file the embedded {drug} "
                                           f"model was trained on (model version {same}): using the embedded model")
        return ModelChoice(drug, training, f"training the {drug} model on {training}")
    why = f"models.{drug}.training_file {training} not found" if training else f"no models.{drug}.training_file"
    if embedded_model_dir(drug) is None:
        raise PgxInputError(f"{why} and this pgx-pipeline has no embedded {drug} model; give the training file or "
                            f"set models.{drug}.enabled: false")
    return ModelChoice(drug, None, f"{why}: using the embedded {drug} model")


def _embedded_version_of(drug: str, training_file: Path, seed: int) -> str | None:
    """The embedded model's version when training on `training_file` with `seed` would make that same version
    (drug, pgx-pipeline version, seed and the file's SHA-256: model/workflow.py), else None."""
    from .. import __version__

    folder = embedded_model_dir(drug)
    if folder is None:
        return None
    prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    sha = file_sha256(training_file)
    version = f"{drug}-{__version__}-s{seed}-{sha[:10]}"
    return version if prov.get("training_sha256") == sha and prov.get("model_version") == version else None
