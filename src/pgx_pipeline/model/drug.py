"""What a drug model is made of: everything drug-specific, in one declaration the shared plumbing reads.

Training, validation, storage, the card, prediction for the pipeline's samples and for external cohorts, the
workflow rules and the report are written once against `DrugModel`; a drug contributes its feature spec, dose
classes, how its cohort file is read, how one pipeline sample becomes a feature row, and the rules it must beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .classes import DoseClasses
from .features import FeatureSpec


@dataclass(frozen=True)
class Cohort:
    """A training cohort in model terms: ids, grouping key for splits (site), label, features, source size."""

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
class PublishedFormula:
    """A published dose formula the model's dose estimate is blended with.

    `learn` returns what the formula needs from the training part to complete its inputs (plain floats in nested
    dicts, so a saved model holds no pandas objects); `dose` applies the formula with it.
    """

    name: str
    doc: str
    learn: Callable[[pd.DataFrame], dict]
    dose: Callable[[pd.DataFrame, dict], np.ndarray]


@dataclass(frozen=True)
class CohortFormat:
    """How an external cohort file is read and how its patients are named in the predictions."""

    description: str
    id_column: str
    features_of_file: Callable[[Path], tuple[pd.Series, pd.DataFrame]]


# One sample of the pipeline -> (feature values, reasons it cannot be predicted, notes).  Receives the sample's
# rows of the phenotypes table and its sample-sheet covariates already validated against the spec.
SampleFeatures = Callable[[pd.DataFrame, dict], tuple[dict, list[str], list[str]]]


@dataclass(frozen=True)
class DrugModel:
    drug: str
    spec: FeatureSpec
    classes: DoseClasses
    read_cohort: Callable[[Path], Cohort]
    cohort_format: CohortFormat
    sample_features: SampleFeatures
    # The rules the model is compared with on the held-out part; `published_reference` names the one the model
    # must not lose to in any `subgroup` (a categorical feature), `refitted_reference` the local refit.
    references: tuple[ReferenceRule, ...]
    published_reference: str
    refitted_reference: str
    subgroup: str
    # A published formula blended into the dose estimate, or None for the local refit alone.
    formula: PublishedFormula | None
    data_citation: str
    cohort_filter: str
    intended_use: str
    limitations: tuple[str, ...]
    # One sentence the report prints under every estimate: what decides the dose in practice.
    monitoring: str
    # (column, values): patients with one of these values get the class probabilities of the dose view alone
    # (`train.TwoViewClassifier`), for a category that stands for missing data rather than a patient trait.
    dose_view_only: tuple[str, tuple[str, ...]] | None = None

    def reference(self, name: str) -> ReferenceRule:
        return next(r for r in self.references if r.name == name)
