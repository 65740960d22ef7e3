"""The shipped design on the real IWPC workbook: the blend is the formula and the refit averaged on the sqrt scale,
and the class probabilities follow the dose estimate."""

from __future__ import annotations

import numpy as np
import pytest

from pgx_pipeline.model import iwpc
from pgx_pipeline.model.classes import IWPC_CLASSES
from pgx_pipeline.model.registry import WARFARIN_MODEL
from pgx_pipeline.model.train import build_classifier, build_linear, build_regressor


@pytest.fixture(scope="module")
def cohort(iwpc_xlsx):
    return WARFARIN_MODEL.read_cohort(iwpc_xlsx)


def test_blend_ends_are_the_formula_and_the_refit(cohort):
    x, y = cohort.x.iloc[:3000], cohort.dose[:3000]
    x_new = cohort.x.iloc[3000:]
    fill = iwpc.height_weight_fill(x)
    formula = iwpc.iwpc_formula_dose(x_new, "pharmacogenetic", fill)
    refit = build_linear(WARFARIN_MODEL.spec).fit(x, y).predict(x_new)
    blend = build_regressor(WARFARIN_MODEL)
    assert np.allclose(blend.set_params(weight=1.0).fit(x, y).predict(x_new), formula)
    assert np.allclose(blend.set_params(weight=0.0).fit(x, y).predict(x_new), refit)
    half = blend.set_params(weight=0.5).fit(x, y).predict(x_new)
    assert np.allclose(np.sqrt(half), (np.sqrt(formula) + np.sqrt(refit)) / 2)
    # Patients with a missing height get the training part's race mean, as the formula reference does.
    assert np.isnan(x_new["height_cm"]).any() and np.isfinite(half).all()


def test_class_probabilities_follow_the_dose_estimate(cohort):
    x, y = cohort.x, cohort.dose
    regressor = build_regressor(WARFARIN_MODEL).fit(x, y)
    classifier = build_classifier(WARFARIN_MODEL.spec, regressor, WARFARIN_MODEL.dose_view_only).fit(x, IWPC_CLASSES.of(y))
    proba = classifier.predict_proba(x)
    assert np.allclose(proba.sum(axis=1), 1)
    dose = regressor.predict(x)
    # Higher estimated doses must carry a higher probability of the high class and a lower one of the low class.
    order = np.argsort(dose)
    low_quarter, high_quarter = order[: len(order) // 4], order[-len(order) // 4:]
    assert proba[high_quarter, 2].mean() > 3 * proba[low_quarter, 2].mean()
    assert proba[low_quarter, 0].mean() > 3 * proba[high_quarter, 0].mean()
    assert WARFARIN_MODEL.classes is IWPC_CLASSES


def test_iwpc_dose_classes_follow_the_paper():
    # NEJM 2009: low <= 21 mg/week, intermediate > 21 and < 49, high >= 49 (both cut points belong to the outer class).
    assert IWPC_CLASSES.of([20.9, 21.0, 21.1, 48.9, 49.0, 70.0]).tolist() == [0, 0, 1, 1, 2, 2]
    assert IWPC_CLASSES.text == ("low <= 21 mg/week; intermediate > 21 and < 49 mg/week; high >= 49 mg/week "
                                 "(IWPC, NEJM 2009)")


def test_unknown_race_gets_the_dose_view_alone(cohort):
    x, y = cohort.x, cohort.dose
    regressor = build_regressor(WARFARIN_MODEL).fit(x, y)
    classifier = build_classifier(WARFARIN_MODEL.spec, regressor, WARFARIN_MODEL.dose_view_only).fit(
        x, IWPC_CLASSES.of(y))
    assert WARFARIN_MODEL.dose_view_only == ("race", ("Unknown",))
    proba = classifier.predict_proba(x)
    dose_view = classifier.dose_view_.predict_proba(np.sqrt(regressor.predict(x)).reshape(-1, 1))
    features_view = classifier.features_model_.predict_proba(x)
    unknown = (x["race"] == "Unknown").to_numpy()
    assert unknown.sum() > 100 and (~unknown).sum() > 1000
    assert np.allclose(proba[unknown], dose_view[unknown])
    assert np.allclose(proba[~unknown], (features_view[~unknown] + dose_view[~unknown]) / 2)
    # The same patients with a race given are averaged again: the rule keys on the value, not on the row.
    relabelled = x[unknown].assign(race="White")
    dose_view_white = classifier.dose_view_.predict_proba(np.sqrt(regressor.predict(relabelled)).reshape(-1, 1))
    both = (classifier.features_model_.predict_proba(relabelled) + dose_view_white) / 2
    assert np.allclose(classifier.predict_proba(relabelled), both)
    assert not np.allclose(both, dose_view_white)
