"""The IWPC warfarin workbook: reading it, the derivation-cohort filter, its features, and the published formulas.

Reference: International Warfarin Pharmacogenetics Consortium. Estimation of the warfarin dose with clinical and
pharmacogenetic data. N Engl J Med 2009;360:753-64 (doi 10.1056/NEJMoa0809329), data from PharmGKB PS206767.
The workbook is read from a configured path and never copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import PgxInputError
from .features import (
    WARFARIN,
    age_decade_from_bin,
    cyp2c9_features,
    cyp4f2_star3_count,
    impute_vkorc1_iwpc,
    vkorc1_a_count,
)

SHEET = "Subject Data"
ID = "PharmGKB Subject ID"
SITE = "Project Site"
DOSE = "Therapeutic Dose of Warfarin"
STABLE = "Subject Reached Stable Dose of Warfarin"
TARGET_INR = "Target INR"
TARGET_RANGE = "Estimated Target INR Range Based on Indication"
RACE = "Race (OMB)"
AGE = "Age"
HEIGHT = "Height (cm)"
WEIGHT = "Weight (kg)"
AMIODARONE = "Amiodarone (Cordarone)"
INDUCERS = ("Carbamazepine (Tegretol)", "Phenytoin (Dilantin)", "Rifampin or Rifampicin")
CYP2C9 = "CYP2C9 consensus"
VKORC1_1639 = "VKORC1 -1639 consensus"
VKORC1_2255 = "VKORC1 2255 consensus"
VKORC1_1173 = "VKORC1 1173 consensus"
VKORC1_1542 = "VKORC1 1542 consensus"
# Optional: not in the IWPC release, but a site scoring its own cohort in this format may add it.
CYP4F2 = "CYP4F2 diplotype"

# Columns a file must have to be scored; the label and cohort columns are needed only for training.
INPUT_COLUMNS = (ID, RACE, AGE, HEIGHT, WEIGHT, AMIODARONE, *INDUCERS, CYP2C9, VKORC1_1639,
                 VKORC1_2255, VKORC1_1173, VKORC1_1542)
TRAINING_COLUMNS = (SITE, DOSE, STABLE, TARGET_INR, TARGET_RANGE)

# Never model inputs: they leak the outcome or the site (README of the data set).
LEAKING = (DOSE, STABLE, "INR on Reported Therapeutic Dose of Warfarin", SITE)

# Targets whose range is not 2-3 (the IWPC analysis kept target INR 2-3 patients only).
_OFF_TARGET_INR = {1.3, 1.75, 2.0, 3.0, 3.25, 3.5}
_OFF_TARGET_RANGE = {"3-4", "3.0-4.0", "2.5-3.5"}


def _normalise(name: object) -> str:
    # Copies of the workbook differ in runs of spaces inside the VKORC1 headers.
    return " ".join(str(name).split())


def read_workbook(path: str | Path, *, training: bool = False) -> pd.DataFrame:
    """The 'Subject Data' sheet with normalised headers; raises PgxInputError naming what is missing."""
    path = Path(path)
    if not path.is_file():
        raise PgxInputError("IWPC workbook not found; set models.warfarin.training_file (or --iwpc) to the PharmGKB file", path=path)
    try:
        df = pd.read_excel(path, sheet_name=SHEET)
    except ValueError as exc:
        raise PgxInputError(f"cannot read sheet {SHEET!r} ({exc}); the file must be in the IWPC workbook format", path=path) from exc
    df = df.rename(columns=_normalise)
    if df.empty:
        raise PgxInputError(f"sheet {SHEET!r} has no patient rows", path=path)
    needed = INPUT_COLUMNS + (TRAINING_COLUMNS if training else ())
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise PgxInputError(f"sheet {SHEET!r} lacks column(s) {missing}; use the IWPC workbook's headers", path=path)
    if df[ID].isna().any() or df[ID].duplicated().any():
        raise PgxInputError(f"column {ID!r} must be present and unique on every row", path=path)
    df[ID] = df[ID].astype(str)
    return df


def cohort_mask(df: pd.DataFrame) -> pd.Series:
    """Patients usable for derivation, following the IWPC analysis (NEJM 2009, Methods and Suppl. S2).

    Kept: a therapeutic dose is recorded, the site reports the patient reached a stable dose, age is known, and
    the target INR is 2-3 (explicit target INR values or, when that is missing, the indication-based range; an
    unknown target counts as 2-3 as in IWPC).  On the full 5,700-patient release this filter keeps ~5,050 patients
    with dose groups 34% / 54% / 12%, as the paper's 5,052.
    """
    target = pd.to_numeric(df[TARGET_INR], errors="coerce")
    rng = df[TARGET_RANGE].astype(object).where(df[TARGET_RANGE].notna(), None)
    off_target = target.isin(list(_OFF_TARGET_INR)) | (target.isna() & rng.isin(list(_OFF_TARGET_RANGE)))
    return (
        pd.to_numeric(df[DOSE], errors="coerce").notna()
        & (pd.to_numeric(df[STABLE], errors="coerce") == 1)
        & df[AGE].notna()
        & ~off_target
    )


def _binary(df: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(df[column], errors="coerce")


def enzyme_inducer(df: pd.DataFrame) -> pd.Series:
    """1 if any of carbamazepine, phenytoin, rifampin is 1; 0 if any is recorded and none is 1; else NaN."""
    drugs = pd.concat([_binary(df, c) for c in INDUCERS], axis=1)
    out = pd.Series(np.where((drugs == 1).any(axis=1), 1.0, np.where(drugs.notna().any(axis=1), 0.0, np.nan)),
                    index=df.index)
    return out


def imputed_vkorc1(df: pd.DataFrame) -> pd.Series:
    """VKORC1 -1639 genotype with the Appendix S4 imputation applied where it is missing."""
    def cell(v):
        return v if isinstance(v, str) else None

    return pd.Series(
        [
            impute_vkorc1_iwpc(cell(a), cell(r), cell(b), cell(c), cell(d))
            for a, r, b, c, d in zip(df[VKORC1_1639], df[RACE], df[VKORC1_2255], df[VKORC1_1173], df[VKORC1_1542])
        ],
        index=df.index,
        dtype=object,
    )


def warfarin_features(df: pd.DataFrame) -> pd.DataFrame:
    """IWPC-format rows -> the warfarin feature frame (`features.WARFARIN` columns, same index)."""
    out = pd.DataFrame(index=df.index)
    out["age_decade"] = [age_decade_from_bin(a) for a in df[AGE]]
    out["height_cm"] = pd.to_numeric(df[HEIGHT], errors="coerce")
    out["weight_kg"] = pd.to_numeric(df[WEIGHT], errors="coerce")
    race = df[RACE].astype(object)
    out["race"] = race.where(race.isin(["White", "Asian", "Black or African American"]), "Unknown")
    out["amiodarone"] = _binary(df, AMIODARONE)
    out["enzyme_inducer"] = enzyme_inducer(df)
    cyp = pd.DataFrame([cyp2c9_features(d) for d in df[CYP2C9].astype(object)], index=df.index,
                       columns=["cyp2c9_star2", "cyp2c9_star3", "cyp2c9_activity"])
    out = out.join(cyp)
    out["vkorc1_a"] = [vkorc1_a_count(g) for g in imputed_vkorc1(df)]
    cyp4f2 = df[CYP4F2] if CYP4F2 in df.columns else pd.Series([None] * len(df), index=df.index)
    out["cyp4f2_star3"] = [cyp4f2_star3_count(d) for d in cyp4f2.astype(object)]
    return out[WARFARIN.names]


# ---------------------------------------------------------------- the published IWPC formulas
# NEJM 2009;360:753-64, Supplementary Appendix S1e (pharmacogenetic) and S1f (clinical).  Both predict the square
# root of the weekly dose; "age in decades" is the IWPC age bin's first digit; unknown amiodarone/inducer = 0.
PHARMACOGENETIC = {
    "intercept": 5.6044, "age_decade": -0.2614, "height_cm": 0.0087, "weight_kg": 0.0128,
    "vkorc1_AG": -0.8677, "vkorc1_AA": -1.6974, "vkorc1_unknown": -0.4854,
    "cyp2c9_*1/*2": -0.5211, "cyp2c9_*1/*3": -0.9357, "cyp2c9_*2/*2": -1.0616, "cyp2c9_*2/*3": -1.9206,
    "cyp2c9_*3/*3": -2.3312, "cyp2c9_unknown": -0.2188,
    "asian": -0.1092, "black": -0.2760, "unknown_race": -0.1032,
    "enzyme_inducer": 1.1816, "amiodarone": -0.5503,
}
CLINICAL = {
    "intercept": 4.0376, "age_decade": -0.2546, "height_cm": 0.0118, "weight_kg": 0.0134,
    "asian": -0.6752, "black": 0.4060, "unknown_race": 0.0443,
    "enzyme_inducer": 1.2799, "amiodarone": -0.5695,
}


def _cyp2c9_iwpc_terms(x: pd.DataFrame) -> pd.DataFrame:
    """Indicator columns for the formula's CYP2C9 terms; diplotypes it has no term for count as unknown."""
    n2, n3 = x["cyp2c9_star2"], x["cyp2c9_star3"]
    terms = {
        "cyp2c9_*1/*2": (n2 == 1) & (n3 == 0),
        "cyp2c9_*1/*3": (n2 == 0) & (n3 == 1),
        "cyp2c9_*2/*2": n2 == 2,
        "cyp2c9_*2/*3": (n2 == 1) & (n3 == 1),
        "cyp2c9_*3/*3": n3 == 2,
    }
    out = pd.DataFrame({k: v.astype(float) for k, v in terms.items()})
    out["cyp2c9_unknown"] = (n2.isna() | n3.isna()).astype(float)
    return out


def iwpc_formula_dose(x: pd.DataFrame, which: str, fill: pd.DataFrame | None = None) -> np.ndarray:
    """Weekly dose (mg) from the IWPC pharmacogenetic or clinical formula on a warfarin feature frame.

    The formulas have no term for a missing height or weight; `fill` (race x mean table from the training part)
    supplies one, as reproductions of the IWPC analysis do.  Amiodarone and inducers unknown count as not taken.
    """
    coef = PHARMACOGENETIC if which == "pharmacogenetic" else CLINICAL
    height, weight = x["height_cm"].copy(), x["weight_kg"].copy()
    if fill is not None:
        height = height.fillna(x["race"].map(fill["height_cm"])).fillna(fill["height_cm"].mean())
        weight = weight.fillna(x["race"].map(fill["weight_kg"])).fillna(fill["weight_kg"].mean())
    age = x["age_decade"].fillna(x["age_decade"].median())
    s = (
        coef["intercept"] + coef["age_decade"] * age + coef["height_cm"] * height + coef["weight_kg"] * weight
        + coef["asian"] * (x["race"] == "Asian") + coef["black"] * (x["race"] == "Black or African American")
        + coef["unknown_race"] * (x["race"] == "Unknown")
        + coef["enzyme_inducer"] * (x["enzyme_inducer"] == 1) + coef["amiodarone"] * (x["amiodarone"] == 1)
    )
    if which == "pharmacogenetic":
        a = x["vkorc1_a"]
        s = s + coef["vkorc1_AG"] * (a == 1) + coef["vkorc1_AA"] * (a == 2) + coef["vkorc1_unknown"] * a.isna()
        terms = _cyp2c9_iwpc_terms(x)
        for name in terms.columns:
            s = s + coef[name] * terms[name]
    s = np.asarray(s, dtype=float)
    return np.square(np.clip(s, 0, None))


def height_weight_fill(x: pd.DataFrame) -> pd.DataFrame:
    """Mean height and weight per race on the training part, to complete the formulas' inputs."""
    return x.groupby("race")[["height_cm", "weight_kg"]].mean()
