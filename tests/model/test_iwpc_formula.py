"""The published IWPC formulas on hand-computed patients (NEJM 2009 Suppl. S1e/S1f coefficients)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pgx_pipeline.model.iwpc import iwpc_formula_dose


def _patient(**kw):
    base = dict(age_decade=6.0, height_cm=170.0, weight_kg=80.0, race="White", amiodarone=0.0, enzyme_inducer=0.0,
                cyp2c9_star2=0.0, cyp2c9_star3=0.0, cyp2c9_activity=2.0, vkorc1_a=0.0, cyp4f2_star3=math.nan)
    return pd.DataFrame([base | kw])


def test_pharmacogenetic_reference_patient():
    # 5.6044 - 1.5684 + 1.4790 + 1.0240 = 6.5390 (by hand) -> 42.76 mg/week
    assert iwpc_formula_dose(_patient(), "pharmacogenetic")[0] == pytest.approx(6.5390 ** 2, rel=1e-4)


def test_pharmacogenetic_vkorc1_aa_cyp2c9_13_asian_amiodarone():
    # 6.5390 - 1.6974 - 0.9357 - 0.1092 - 0.5503 = 3.2464
    x = _patient(vkorc1_a=2.0, cyp2c9_star3=1.0, race="Asian", amiodarone=1.0)
    assert iwpc_formula_dose(x, "pharmacogenetic")[0] == pytest.approx(3.2464 ** 2, rel=1e-4)


def test_pharmacogenetic_unknown_genotypes():
    # 6.5390 - 0.4854 - 0.2188 = 5.8348
    x = _patient(vkorc1_a=math.nan, cyp2c9_star2=math.nan, cyp2c9_star3=math.nan)
    assert iwpc_formula_dose(x, "pharmacogenetic")[0] == pytest.approx(5.8348 ** 2, rel=1e-4)


def test_clinical_black_inducer():
    # 4.0376 - 1.5276 + 2.0060 + 1.0720 + 0.4060 + 1.2799 = 7.2739
    x = _patient(race="Black or African American", enzyme_inducer=1.0)
    assert iwpc_formula_dose(x, "clinical")[0] == pytest.approx(7.2739 ** 2, rel=1e-4)
