"""Drug models the pipeline knows: one entry per drug, naming its feature spec and how its cohort is read.

Adding a drug means adding a `DrugModel` here (a spec in `features`, a cohort reader, the reference rules to
compare against) and a config entry for its training file; training, evaluation, storage, the card and prediction
are shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import iwpc
from .features import WARFARIN, FeatureSpec


@dataclass(frozen=True)
class Cohort:
    """A training cohort in model terms: ids, grouping key for splits, label, features, and the raw rows."""

    ids: pd.Series
    groups: pd.Series
    dose: np.ndarray
    x: pd.DataFrame
    n_source_rows: int
    source: str


@dataclass(frozen=True)
class ReferenceRule:
    """A published or trivial dosing rule the model is compared with; `fit` sees the training part only."""

    name: str
    doc: str
    fit: Callable[[pd.DataFrame, np.ndarray], Callable[[pd.DataFrame], np.ndarray]]


@dataclass(frozen=True)
class DrugModel:
    drug: str
    spec: FeatureSpec
    read_cohort: Callable[[Path], Cohort]
    features_of_file: Callable[[Path], tuple[pd.Series, pd.DataFrame]]
    references: tuple[ReferenceRule, ...]
    data_citation: str
    cohort_filter: str


def _read_warfarin_cohort(path: Path) -> Cohort:
    df = iwpc.read_workbook(path, training=True)
    kept = df[iwpc.cohort_mask(df)].reset_index(drop=True)
    return Cohort(
        ids=kept[iwpc.ID], groups=kept[iwpc.SITE].astype(int), dose=kept[iwpc.DOSE].astype(float).to_numpy(),
        x=iwpc.warfarin_features(kept), n_source_rows=len(df), source=str(path),
    )


def _warfarin_file_features(path: Path) -> tuple[pd.Series, pd.DataFrame]:
    df = iwpc.read_workbook(path, training=False)
    return df[iwpc.ID], iwpc.warfarin_features(df)


def _formula(which: str):
    def fit(x_train: pd.DataFrame, _dose: np.ndarray):
        fill = iwpc.height_weight_fill(x_train)
        return lambda x: iwpc.iwpc_formula_dose(x, which, fill)
    return fit


def _fixed(x_train: pd.DataFrame, _dose: np.ndarray):
    return lambda x: np.full(len(x), 35.0)


def _refitted_linear(x_train: pd.DataFrame, dose: np.ndarray):
    from .train import build_linear

    model = build_linear(WARFARIN).fit(x_train, dose)
    return model.predict


WARFARIN_MODEL = DrugModel(
    drug="warfarin",
    spec=WARFARIN,
    read_cohort=_read_warfarin_cohort,
    features_of_file=_warfarin_file_features,
    references=(
        ReferenceRule("iwpc_pharmacogenetic", "IWPC pharmacogenetic formula, NEJM 2009;360:753 Suppl. S1e (sqrt scale)",
                      _formula("pharmacogenetic")),
        ReferenceRule("iwpc_clinical", "IWPC clinical formula, NEJM 2009;360:753 Suppl. S1f (sqrt scale)",
                      _formula("clinical")),
        ReferenceRule("fixed_35", "fixed 35 mg/week (5 mg/day) for everyone", _fixed),
        ReferenceRule("linear_refitted", "least squares on sqrt(dose), same features, refitted on our training part",
                      _refitted_linear),
    ),
    data_citation=(
        "International Warfarin Pharmacogenetics Consortium. Estimation of the warfarin dose with clinical and "
        "pharmacogenetic data. N Engl J Med 2009;360:753-64 (doi 10.1056/NEJMoa0809329); data PharmGKB/ClinPGx "
        "PS206767 (CC BY-SA 4.0 per ClinPGx; research use)."
    ),
    cohort_filter=iwpc.cohort_mask.__doc__.split("\n\n")[1].strip().replace("\n    ", " "),
)

MODELS: dict[str, DrugModel] = {m.drug: m for m in (WARFARIN_MODEL,)}
