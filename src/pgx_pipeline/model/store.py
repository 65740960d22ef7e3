"""Saving and loading a dose model with skops, never bare pickle: a model file is data the user points us at.

`load_model` first asks skops which types in the file are not on its own safe list and refuses the file if any of
them is not on ours (`TRUSTED_TYPES`, exactly the scikit-learn internals our estimators contain).  The file also
records the library versions it was trained with; a different scikit-learn minor version is refused, because
fitted estimators are not guaranteed to behave the same across them.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import sklearn
import skops
import skops.io as sio

from .. import __version__
from ..errors import PgxInputError
from ..schema import atomic_path
from .registry import MODELS, drug_model
from .train import DoseModel

FORMAT = "pgx-pipeline dose model 1"

# Types beyond skops' defaults that our fitted pipelines contain.  Anything else in a file is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "pgx_pipeline.model.train.PublishedBlendRegressor",
    "pgx_pipeline.model.train.TwoViewClassifier",
)


def library_versions() -> dict[str, str]:
    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "skops": skops.__version__,
            "pgx-pipeline": __version__}


def save_model(model: DoseModel, path: str | Path) -> Path:
    """Write the model atomically as a skops file carrying its feature list and library versions."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "drug": model.drug,
        "version": model.version,
        "features": drug_model(model.drug).spec.names,
        "classifier": model.classifier,
        "regressor": model.regressor,
        "interval_ratio": [float(v) for v in model.interval_ratio],
        "feature_ranges": model.feature_ranges,
        "seen_values": model.seen_values,
        "info": model.info,
        "library_versions": library_versions(),
    }
    fd, tmp = atomic_path(path)
    os.close(fd)
    try:
        sio.dump(payload, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def load_model(path: str | Path, trusted: tuple[str, ...] = TRUSTED_TYPES) -> DoseModel:
    """Load a model file, refusing any type outside `trusted` before anything in it is constructed."""
    path = Path(path)
    if not path.is_file():
        raise PgxInputError("model file not found; train one with `pgx-pipeline model train`", path=path)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises several types for a corrupt or foreign file
        raise PgxInputError(f"not a skops model file ({exc}); use a model.skops written by `pgx-pipeline model train`",
                            path=path) from exc
    refused = sorted(t for t in untrusted if t not in trusted)
    if refused:
        raise PgxInputError(f"refusing to load: the file contains types outside the trusted list: {refused}. "
                            "Only load model files made by `pgx-pipeline model train`", path=path)
    payload = sio.load(path, trusted=list(untrusted))
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise PgxInputError(f"not a {FORMAT!r} file", path=path)
    drug = payload["drug"]
    if drug not in MODELS:
        raise PgxInputError(f"model is for {drug!r}, which this pgx-pipeline does not know (known: "
                            f"{', '.join(sorted(MODELS))})", path=path)
    if payload["features"] != drug_model(drug).spec.names:
        raise PgxInputError("model was trained on a different feature list than this pgx-pipeline's; retrain it",
                            path=path)
    trained = payload["library_versions"]["scikit-learn"]
    if _minor(trained) != _minor(sklearn.__version__):
        raise PgxInputError(f"model was trained with scikit-learn {trained}, this environment has "
                            f"{sklearn.__version__}; retrain the model or install scikit-learn=={trained}", path=path)
    info = dict(payload["info"]) | {"library_versions": payload["library_versions"]}
    return DoseModel(drug, payload["version"], payload["classifier"], payload["regressor"],
                     tuple(payload["interval_ratio"]), payload["feature_ranges"], payload["seen_values"], info)
