"""Fitting a dose model: one scikit-learn Pipeline per task, preprocessing inside, from a `FeatureSpec`.

Two estimators are fitted on the same features:

* a classifier of the dose class, IWPC/NEJM 2009 convention: low <= 21 mg/week, intermediate > 21 and < 49,
  high >= 49 (`DOSE_CLASSES`), calibrated with `CalibratedClassifierCV` (sigmoid, 5 folds) so that its
  probabilities can be read as frequencies;
* a regressor of the weekly dose, fitted on the square-root scale like the IWPC formulas, whose interval comes
  from the quantiles of cross-validated dose ratios (actual / predicted) on the training data.

Both average a histogram gradient-boosting model with a linear one (soft voting): on IWPC the relation is
close to linear on the square-root scale (the published formulas are linear), and boosting adds the
interactions and the non-linearity in age and weight; in cross-validation on the training part the average
beat either alone.

What was tried to beat the refitted linear model on within-20% (issue 5), judged on the training 80% only
(5-fold site-stratified CV, and leave-one-site-out = LOSO, n = 3,440; the held-out 20% not looked at):

| candidate regressor                                          | CV acc / within 20% / MAE | LOSO within 20% |
|--------------------------------------------------------------|---------------------------|-----------------|
| least squares on sqrt(dose), IWPC variables (the reference)  | 68.4 / 47.3 / 8.33        | 45.0            |
| this module's vote (boosting + least squares, sqrt)          | 68.6 / 46.6 / 8.31        |                 |
| least squares / median / Huber regression on log(dose)       | 69.1-68.0 / 45.5-45.9     |                 |
| median / Huber regression on sqrt(dose)                      | 68.3-68.2 / 46.4-46.6     |                 |
| boosting with absolute error on log(dose)                    | 68.6 / 46.3 / 8.38        |                 |
| + optional covariates (sex, target INR, valve, smoking, diabetes, heart failure, statin, aspirin, supplements), with missing indicators | 69.1 / 48.1 / 8.21 | 39.7 |
| the same without missing indicators                          | 68.7 / 47.4 / 8.25        | 45.1            |
| dose scaled by a factor tuned by inner CV for within-20%     | 69.2 / 46.2 / 8.36        |                 |

The only CV gain (optional covariates) came from their missingness, which is a site fingerprint in IWPC (whole
sites lack whole columns): it vanished without the indicators and collapsed under LOSO (39.7% vs 45.0%), so
it would not carry to a new clinic and was not adopted. The classifier (calibrated argmax) does beat the
references on 3-class accuracy in CV (69.2 vs 68.4 and 67.2 for the IWPC formula).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .features import FeatureSpec

CLASS_NAMES: tuple[str, ...] = ("low", "intermediate", "high")
# IWPC/NEJM 2009 dose groups in mg/week: low <= 21, intermediate (21, 49), high >= 49.
LOW_MAX = 21.0
HIGH_MIN = 49.0
DOSE_CLASSES = "low <= 21 mg/week; intermediate > 21 and < 49 mg/week; high >= 49 mg/week (IWPC, NEJM 2009)"
INTERVAL_LEVEL = 0.90


def dose_class(dose) -> np.ndarray:
    """Weekly dose (mg) -> class index 0 low, 1 intermediate, 2 high (IWPC convention)."""
    dose = np.asarray(dose, dtype=float)
    return np.where(dose <= LOW_MAX, 0, np.where(dose < HIGH_MIN, 1, 2))


def preprocessor(spec: FeatureSpec) -> ColumnTransformer:
    """Imputation and encoding, inside the pipeline so that prediction repeats exactly what training did.

    Numeric features get a median fill plus a missing-indicator column (missingness is informative in IWPC: whole
    sites lack heights), and features never observed in training (CYP4F2 in IWPC) are kept as a constant column
    so that the feature layout does not depend on the training data.  Categories are one-hot encoded from the
    spec's fixed list; a category unseen in training encodes as all zeros.
    """
    categorical = [f for f in spec.features if f.kind == "categorical"]
    return ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
             spec.of_kind("numeric")),
            *[
                (f.name, OneHotEncoder(categories=[list(f.categories)], handle_unknown="ignore", sparse_output=False),
                 [f.name])
                for f in categorical
            ],
        ],
        verbose_feature_names_out=False,
    )


def _hgb_params(random_state: int) -> dict:
    # Small, strongly regularised trees: ~4,000 patients and a near-linear signal; settings chosen by 5-fold CV on
    # the training part only.
    return dict(learning_rate=0.03, max_leaf_nodes=8, min_samples_leaf=40, l2_regularization=1.0,
                random_state=random_state)


def build_classifier(spec: FeatureSpec, random_state: int = 0) -> CalibratedClassifierCV:
    """Calibrated dose-class classifier (soft vote of boosting and multinomial logistic regression)."""
    vote = VotingClassifier(
        [
            ("boosting", HistGradientBoostingClassifier(max_iter=300, **_hgb_params(random_state))),
            ("logistic", LogisticRegression(max_iter=2000)),
        ],
        voting="soft",
    )
    base = Pipeline([("features", preprocessor(spec)), ("scale", StandardScaler()), ("vote", vote)])
    # ensemble=False: calibrate on out-of-fold predictions, keep one base model fitted on all training data
    # (five times fewer trees to store and evaluate than an ensemble of fold models).
    return CalibratedClassifierCV(base, method="sigmoid", ensemble=False,
                                  cv=StratifiedKFold(5, shuffle=True, random_state=random_state))


def build_regressor(spec: FeatureSpec, random_state: int = 0) -> TransformedTargetRegressor:
    """Weekly-dose regressor on the square-root scale (average of boosting and least squares)."""
    vote = VotingRegressor(
        [
            ("boosting", HistGradientBoostingRegressor(max_iter=500, **_hgb_params(random_state))),
            ("linear", LinearRegression()),
        ]
    )
    base = Pipeline([("features", preprocessor(spec)), ("scale", StandardScaler()), ("vote", vote)])
    return TransformedTargetRegressor(base, func=np.sqrt, inverse_func=np.square, check_inverse=False)


def build_linear(spec: FeatureSpec) -> TransformedTargetRegressor:
    """The reference 'IWPC-style' linear model refitted on our split: least squares on sqrt(dose)."""
    base = Pipeline([("features", preprocessor(spec)), ("linear", LinearRegression())])
    return TransformedTargetRegressor(base, func=np.sqrt, inverse_func=np.square, check_inverse=False)


@dataclass
class DoseModel:
    """A fitted drug-response model with everything prediction and the card need."""

    drug: str
    version: str
    classifier: CalibratedClassifierCV
    regressor: TransformedTargetRegressor
    interval_ratio: tuple[float, float]
    feature_ranges: dict[str, list[float]]
    seen_values: dict[str, list[float]]
    info: dict = field(default_factory=dict)

    def predict_frame(self, x: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities, class and dose with its interval for a feature frame."""
        proba = self.classifier.predict_proba(x)
        # predict_proba columns follow classes_ (0, 1, 2); map them to names explicitly.
        order = [list(self.classifier.classes_).index(k) for k in range(len(CLASS_NAMES))]
        proba = proba[:, order]
        dose = self.regressor.predict(x)
        lo, hi = self.interval_ratio
        return pd.DataFrame(
            {
                "predicted_class": [CLASS_NAMES[k] for k in proba.argmax(axis=1)],
                "prob_low": proba[:, 0],
                "prob_intermediate": proba[:, 1],
                "prob_high": proba[:, 2],
                "predicted_dose": dose,
                "dose_lower": dose * lo,
                "dose_upper": dose * hi,
            },
            index=x.index,
        )


def interval_ratios(regressor, x: pd.DataFrame, y: np.ndarray, groups, random_state: int) -> tuple[float, float]:
    """Multiplicative 90% interval from cross-validated actual/predicted dose ratios (split-conformal style).

    The dose error is roughly proportional to the dose, so a ratio interval keeps its coverage across low and
    high doses better than a +/- mg one.
    """
    cv = StratifiedKFold(5, shuffle=True, random_state=random_state)
    oof = cross_val_predict(regressor, x, y, cv=cv.split(x, groups))
    ratio = y / oof
    alpha = (1 - INTERVAL_LEVEL) / 2
    return float(np.quantile(ratio, alpha)), float(np.quantile(ratio, 1 - alpha))


def training_ranges(spec: FeatureSpec, x: pd.DataFrame) -> tuple[dict, dict]:
    """Observed [min, max] of range-checked features and the set of values of genotype features."""
    ranges = {
        f.name: [float(x[f.name].min()), float(x[f.name].max())]
        for f in spec.features if f.range_checked and x[f.name].notna().any()
    }
    seen = {
        f.name: sorted(float(v) for v in x[f.name].dropna().unique())
        for f in spec.features if f.seen_checked
    }
    return ranges, seen


def fit_dose_model(
    spec: FeatureSpec, x: pd.DataFrame, dose: np.ndarray, groups, *, version: str, random_state: int = 0,
    with_interval: bool = True,
) -> DoseModel:
    """Fit classifier, regressor and interval on (x, dose); `groups` (site) stratifies the internal folds.

    Validation folds skip the interval (`with_interval=False`): it needs its own inner CV and is not scored there.
    """
    dose = np.asarray(dose, dtype=float)
    classifier = build_classifier(spec, random_state).fit(x, dose_class(dose))
    regressor = build_regressor(spec, random_state)
    interval = interval_ratios(regressor, x, dose, groups, random_state) if with_interval else (float("nan"),) * 2
    regressor.fit(x, dose)
    ranges, seen = training_ranges(spec, x)
    return DoseModel(spec.drug, version, classifier, regressor, interval, ranges, seen,
                     info={"n_train": int(len(x)), "random_state": int(random_state), "dose_classes": DOSE_CLASSES})
