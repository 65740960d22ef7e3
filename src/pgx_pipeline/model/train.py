"""Fitting a dose model from a `FeatureSpec`: a dose regressor and a dose-class classifier, preprocessing inside.

* Dose: the average, on the square-root scale, of the published IWPC pharmacogenetic formula (NEJM 2009, S1e) and
  least squares on sqrt(dose) refitted on the training part (`PublishedBlendRegressor`). The interval comes from
  the quantiles of cross-validated dose ratios (actual / predicted) on the training data.
* Class (IWPC/NEJM 2009 convention: low <= 21 mg/week, intermediate > 21 and < 49, high >= 49; `IWPC_CLASSES`):
  the average of the probabilities of a multinomial logistic regression on the features and of a logistic
  regression on sqrt(the dose estimate) (`TwoViewClassifier`); patients of "Unknown" race (IWPC's missing or mixed
  race) get the second view alone (see the end of this docstring).

How it was chosen (`benchmarks/warfarin_design_cv.py`; training 80% only, n = 3,440; the held-out 20% not read):
5-fold site-stratified CV repeated 3 times, and leave-one-site-out (LOSO: train on 20 sites, test on the 21st).
The rule, fixed before the held-out part was scored: the best mean of the CV and LOSO figure (within 20% for the
dose, 3-class accuracy for the class), because the patients the model will meet may come from the training sites
or from a new clinic.

| dose candidate                                         | CV within 20% | LOSO within 20% | mean  |
|--------------------------------------------------------|---------------|-----------------|-------|
| least squares on sqrt(dose) (= reference linear_refitted) | 46.79       | 45.00           | 45.90 |
| boosting + least squares vote (the previous design)     | 46.42         | 44.01           | 45.22 |
| IWPC formula + least squares, weight 0.3 / 0.4 / 0.5    | 46.89 / 46.72 / 46.74 | 45.64 / 45.81 / 45.90 | 46.27 / 46.27 / 46.32 |
| least squares with the formula as a feature             | 46.68         | 44.68           | 45.68 |
| boosting vote with the formula as a feature             | 46.71         | 44.30           | 45.51 |
| ridge on the residual from the formula (alpha 10-1000)  | 46.58-46.61   |                 |       |
| (IWPC formula alone: fitted on all sites, so LOSO is not out-of-sample for it) | 46.19 | 46.22 |  |

| class candidate                                        | CV accuracy (ECE) | LOSO accuracy (ECE) | mean  |
|--------------------------------------------------------|-------------------|---------------------|-------|
| calibrated boosting + logistic vote (the previous design) | 69.30 (0.010)  | 66.42 (0.045)       | 67.86 |
| multinomial logistic                                   | 69.18 (0.018)     | 66.77 (0.020)       | 67.98 |
| logistic on the blended dose only                      | 68.61 (0.012)     | 67.76 (0.006)       | 68.19 |
| average of the two (chosen until session 5)            | 69.06 (0.020)     | 67.44 (0.009)       | 68.25 |
| the same, Unknown race on the dose view alone (chosen)  | 69.22 (0.019)     | 67.47 (0.012)       | 68.35 |
| class of the blended dose (no probabilities)           | 67.83             | 67.18               |       |

What the search showed: flexible learners (boosting) fit the training sites' idiosyncrasies and lose 1-2 points
when a site is new, worst for the East Asian sites; the published formula, fitted on the whole IWPC cohort,
carries information a refit on 3,440 patients lacks (it is the best single rule for Black and Unknown-race
patients); averaging it with a local refit keeps the refit's CV level and travels better. Earlier searches, also
on the 80% only: log or other power targets, median/Huber losses, a direct within-20% loss, a tuned dose
multiplier, VKORC1 x race terms and sex all moved CV within-20% by less than 0.3 points; dropping the missing-value
indicator columns cost 0.7 (CV) and 0.3 (LOSO) points of within-20% and 1 point of accuracy; optional covariates
(target INR, valve, smoking, statins, ...) helped only through their missingness, a site fingerprint (LOSO 39.7%).

Checked after the held-out part had been scored once (same protocol, 80% only; none adopted, and a design change
chosen now would make the held-out figures no longer a clean test):

| class candidate (CV / LOSO accuracy, mean)                  |                       |
|-------------------------------------------------------------|-----------------------|
| multinomial logistic, C = 0.03 / 0.1                        | 68.91 / 66.40, 67.66; 69.14 / 66.66, 67.90 |
| the two views averaged with weight 0.3 / 0.7 on the features | 69.14 / 67.65, 68.40; 69.22 / 67.12, 68.17 |
| logistic on sqrt(formula) and sqrt(refit) as two inputs     | 69.01 / 67.33, 68.17  |
| multinomial logistic with sqrt(formula dose) as a feature   | 69.32 / 66.54, 67.93  |
| normal predictive distribution on sqrt(blended dose)         | 67.93 / 67.35, 67.64  |

The best (0.3 on the features) is 0.15 points above the chosen 68.25, about 5 of 3,440 patients. Optional IWPC
covariates added to the refit (CV within 20% / accuracy; LOSO within 20%): valve replacement +0.17 / +0.49; +0.35,
current smoker +0.11 / +0.59; -0.06, sex, statin, azole, aspirin, diabetes + heart failure, target INR each within
+-0.25 and mixed under LOSO; five together +0.46 / +0.77; +0.15; all nine +0.70 / +0.67; -1.69 (missingness as a
site fingerprint again). Per-race formula weights: in CV the blend's MAE is below the formula's in every race
(White 8.82 / 8.90, Asian 6.59 / 6.70, Black 11.28 / 11.32, Unknown 8.38 / 8.44 mg/week), so the held-out
reversals for Black (n = 79) and Unknown (n = 58) patients are not a design signal; race-specific weights gave no
gain that held in both CV and LOSO.

VKORC1 beyond -1639 (session 6, training part only, none adopted): the 3730 G>A (rs7294) A-allele count, which
IWPC has for 3,344 patients and which is linked more weakly to -1639 in African ancestry, as an extra feature (with
its missing indicator), and sex: CV within 20% 46.74 -> 46.76 / 46.80, LOSO 45.90 -> 45.84 / 45.81, accuracy CV
69.22 -> 69.22 / 69.11 and LOSO 67.47 -> 67.59 / 67.33; Black patients within 20% CV 47.2 -> 47.6 / 47.4, LOSO 46.3 -> 45.6 / 46.3.

Unknown race (adopted in session 5, after the held-out part had been scored; chosen on the training part only).
Repeated 75/25 splits of the training part showed the class accuracy for Unknown-race patients systematically
below the formula's (model 65.9, features view 65.4, dose view 67.2, formula 67.1%), and 200 random 80/20 splits of
the whole cohort had the model not worse than the formula on Unknown-race accuracy in only 27% of them. IWPC's
"Unknown" is missing data, and the features view's coefficient for it mostly marks the sites that left race out
(the same site fingerprint as missing optional covariates). Giving those patients the dose view alone: CV accuracy
69.06 -> 69.22 (Unknown 64.8 -> 67.2), LOSO 67.44 -> 67.47, so by the rule above it is the better design; on the
held-out part it changes no predicted class (593 / 861 either way) and ECE 0.018 -> 0.015; across the 200 splits
the Unknown-race share becomes 48% and accuracy is ahead of the linear refit in 83% (was 79%).

How noisy is one held-out part of 861? (`--repeated-splits 200`: the shipped design refitted on 200 random
site-stratified 80/20 splits of all 4,301 patients.) Model minus reference, mean (sd) in points and share of splits
with the model ahead: within 20% vs the IWPC formula +0.50 (0.80), 73%; accuracy vs the formula +1.84 (0.91), 98%;
within 20% vs the linear refit +0.04 (0.70), 55%; accuracy vs the linear refit +0.86 (0.88), 83%. Not worse than
the formula in every race on within 20%, accuracy and MAE at once: 2% of splits, the same as the linear refit (2%);
per race and metric the model is not worse in 48-100% of splits (Black or African American 57 / 62 / 57%,
Unknown 66 / 48 / 60%). With 58-80 held-out patients in the small groups, that criterion is decided by noise.

Would more patients help? (`benchmarks/warfarin_design_cv.py --learning-curve`: each 5-fold CV training fold
subsampled, the same test folds, 5 repeats.) No: from 1,761 to 2,752 training patients (+56%) the chosen design
gives 46.72 / 46.66 / 46.77% within 20% and 69.28 / 69.28 / 69.20% accuracy, the linear refit 46.91 / 46.94 /
46.86% and 68.41 / 68.41 / 68.36%. Both are at what these inputs carry; refitting the shipped model on all 4,301
patients would not move its figures, and the held-out differences to the references (paired 95% intervals about
+-2 points) are of the size this ceiling leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .classes import CLASS_NAMES
from .drug import DrugModel
from .features import FeatureSpec
from .registry import published_formula

INTERVAL_LEVEL = 0.90


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


class PublishedBlendRegressor(RegressorMixin, BaseEstimator):
    """Dose as the average, on the square-root scale, of a published formula and a model refitted here.

    `formula` names a registered model's `PublishedFormula` (`registry.published_formula`); the only thing learned
    for it is what completes its inputs (for IWPC the per-race mean height and weight), kept as plain floats so
    the saved file holds no pandas objects.
    """

    def __init__(self, refit=None, formula: str = "iwpc_pharmacogenetic", weight: float = 0.5):
        self.refit = refit
        self.formula = formula
        self.weight = weight

    def fit(self, x: pd.DataFrame, y):
        self.refit_ = clone(self.refit).fit(x, y)
        self.fill_ = published_formula(self.formula).learn(x)
        return self

    def published_dose(self, x: pd.DataFrame) -> np.ndarray:
        return published_formula(self.formula).dose(x, self.fill_)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        root = self.weight * np.sqrt(self.published_dose(x)) + (1 - self.weight) * np.sqrt(self.refit_.predict(x))
        return np.square(root)


class TwoViewClassifier(ClassifierMixin, BaseEstimator):
    """Dose-class probabilities averaged over two calibrated views of the patient.

    * multinomial logistic regression on the features;
    * a logistic regression on the square root of `dose_model`'s predicted dose (already fitted: it is the
      regressor shipped next to this classifier), so the class probabilities agree with the dose estimate.
    Both are logistic fits, whose probabilities are calibrated on their own (ECE ~0.01-0.02 in CV): no extra
    calibration layer.  `dose_view_only` = (column, values): those patients get the dose view alone (warfarin:
    race "Unknown", see the module docstring).
    """

    def __init__(self, features_model=None, dose_model=None, dose_view_only=None):
        self.features_model = features_model
        self.dose_model = dose_model
        self.dose_view_only = dose_view_only

    def _dose_view_input(self, x: pd.DataFrame) -> np.ndarray:
        return np.sqrt(self.dose_model.predict(x)).reshape(-1, 1)

    def fit(self, x: pd.DataFrame, y):
        self.features_model_ = clone(self.features_model).fit(x, y)
        self.dose_view_ = LogisticRegression().fit(self._dose_view_input(x), y)
        if list(self.features_model_.classes_) != list(self.dose_view_.classes_):
            raise ValueError("the two views saw different classes")
        self.classes_ = self.features_model_.classes_
        return self

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        dose_view = self.dose_view_.predict_proba(self._dose_view_input(x))
        both = (self.features_model_.predict_proba(x) + dose_view) / 2
        rule = getattr(self, "dose_view_only", None)  # absent from models saved before it existed
        if not rule:
            return both
        column, values = rule
        only = x[column].isin(list(values)).to_numpy()[:, None]
        return np.where(only, dose_view, both)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(axis=1)]


def build_linear(spec: FeatureSpec) -> TransformedTargetRegressor:
    """The reference 'IWPC-style' linear model refitted on our split: least squares on sqrt(dose)."""
    base = Pipeline([("features", preprocessor(spec)), ("linear", LinearRegression())])
    return TransformedTargetRegressor(base, func=np.sqrt, inverse_func=np.square, check_inverse=False)


def build_regressor(entry: DrugModel):
    """Dose regressor: the drug's published formula and least squares refitted here, averaged (or the refit alone
    for a drug without a published formula)."""
    if entry.formula is None:
        return build_linear(entry.spec)
    return PublishedBlendRegressor(build_linear(entry.spec), entry.formula.name, weight=0.5)


def build_classifier(spec: FeatureSpec, dose_model: PublishedBlendRegressor,
                     dose_view_only: tuple[str, tuple[str, ...]] | None = None) -> TwoViewClassifier:
    """Dose-class classifier: logistic regression on the features and on the fitted dose model's estimate."""
    features_model = Pipeline([("features", preprocessor(spec)), ("scale", StandardScaler()),
                               ("logistic", LogisticRegression(max_iter=2000))])
    return TwoViewClassifier(features_model, dose_model, dose_view_only)


@dataclass
class DoseModel:
    """A fitted drug-response model with everything prediction and the card need."""

    drug: str
    version: str
    classifier: TwoViewClassifier
    regressor: RegressorMixin
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
    entry: DrugModel, x: pd.DataFrame, dose: np.ndarray, groups, *, version: str, random_state: int = 0,
    with_interval: bool = True,
) -> DoseModel:
    """Fit classifier, regressor and interval on (x, dose); `groups` (site) stratifies the internal folds.

    Validation folds skip the interval (`with_interval=False`): it needs its own inner CV and is not scored there.
    """
    dose = np.asarray(dose, dtype=float)
    regressor = build_regressor(entry)
    interval = interval_ratios(regressor, x, dose, groups, random_state) if with_interval else (float("nan"),) * 2
    regressor.fit(x, dose)
    classifier = build_classifier(entry.spec, regressor, entry.dose_view_only).fit(x, entry.classes.of(dose))
    ranges, seen = training_ranges(entry.spec, x)
    classes = entry.classes
    return DoseModel(entry.drug, version, classifier, regressor, interval, ranges, seen,
                     info={"n_train": int(len(x)), "random_state": int(random_state), "dose_classes": classes.text,
                           "class_bounds": [classes.low_max, classes.high_min], "dose_unit": classes.unit})
