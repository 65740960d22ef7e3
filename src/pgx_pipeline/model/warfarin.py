"""The warfarin dose model's declaration: IWPC cohort, features, dose classes, references, card text.

Everything else (fitting, validation, storage, card, prediction, workflow rules, report) is shared by all drug
models; see `pgx_pipeline.model.drug`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import iwpc
from .classes import IWPC_CLASSES
from .drug import Cohort, CohortFormat, DrugModel, PublishedFormula, ReferenceRule
from .features import (
    WARFARIN,
    best_call,
    cyp2c9_features,
    cyp4f2_star3_count,
    vkorc1_from_pipeline,
    warfarin_from_covariates,
)


def read_cohort(path: Path) -> Cohort:
    df = iwpc.read_workbook(path, training=True)
    kept = df[iwpc.cohort_mask(df)].reset_index(drop=True)
    return Cohort(
        ids=kept[iwpc.ID], groups=kept[iwpc.SITE].astype(int), dose=kept[iwpc.DOSE].astype(float).to_numpy(),
        x=iwpc.warfarin_features(kept), n_source_rows=len(df), source=str(path),
    )


def file_features(path: Path) -> tuple[pd.Series, pd.DataFrame]:
    df = iwpc.read_workbook(path, training=False)
    return df[iwpc.ID], iwpc.warfarin_features(df)


def genotype_features(phen: pd.DataFrame) -> tuple[dict, list[str], list[str]]:
    """Warfarin genotype features from one sample's phenotype rows: (values, blocking reasons, notes)."""
    values: dict = {}
    blocking: list[str] = []
    notes: list[str] = []
    cyp, why = best_call(phen, "CYP2C9")
    if why:
        blocking.append(why)
    else:
        feats = cyp2c9_features(cyp["diplotype"], cyp["activity_score"])
        if math.isnan(feats["cyp2c9_activity"]):
            blocking.append(f"missing: CYP2C9 activity score for {cyp['diplotype']!r}")
        elif math.isnan(feats["cyp2c9_star2"]):
            notes.append(f"CYP2C9 {cyp['diplotype']}: outside *1/*2/*3, only its activity score is used")
        values.update(feats)
    vk, why = best_call(phen, "VKORC1")
    if why:
        blocking.append(why)
    else:
        count = vkorc1_from_pipeline(vk["lookup_key"], vk["diplotype"])
        if math.isnan(count):
            blocking.append(f"missing: VKORC1 -1639 genotype (lookup key {vk['lookup_key']!r})")
        values["vkorc1_a"] = count
    f2, _ = best_call(phen, "CYP4F2")
    values["cyp4f2_star3"] = cyp4f2_star3_count(f2["diplotype"]) if f2 is not None else math.nan
    if f2 is not None and not math.isnan(values["cyp4f2_star3"]):
        notes.append("CYP4F2 called but not used: the training data (IWPC) has no CYP4F2 genotypes")
    return values, blocking, notes


def sample_features(phen: pd.DataFrame, covariates: dict) -> tuple[dict, list[str], list[str]]:
    values, blocking, notes = genotype_features(phen)
    if covariates:
        values = warfarin_from_covariates(pd.DataFrame([covariates])).iloc[0].to_dict() | values
    return values, blocking, notes


def _learn_fill(x: pd.DataFrame) -> dict:
    fill = iwpc.height_weight_fill(x)
    return {col: {str(race): float(v) for race, v in fill[col].items()} for col in fill.columns}


def _formula_rule(which: str):
    def fit(x_train: pd.DataFrame, _dose: np.ndarray):
        fill = iwpc.height_weight_fill(x_train)
        return lambda x: iwpc.iwpc_formula_dose(x, which, fill)
    return fit


def _fixed(x_train: pd.DataFrame, _dose: np.ndarray):
    return lambda x: np.full(len(x), 35.0)


def _refitted_linear(x_train: pd.DataFrame, dose: np.ndarray):
    from .train import build_linear

    return build_linear(WARFARIN).fit(x_train, dose).predict


IWPC_PHARMACOGENETIC = PublishedFormula(
    name="iwpc_pharmacogenetic",
    doc="the IWPC pharmacogenetic formula (NEJM 2009, Suppl. S1e), a missing height or weight filled with the "
        "training part's race mean",
    learn=_learn_fill,
    dose=lambda x, fill: iwpc.iwpc_formula_dose(x, "pharmacogenetic", pd.DataFrame(fill)),
)

INTENDED_USE = (
    "Research and decision support: an estimate of the stable weekly warfarin dose and of the IWPC dose class for "
    "adults starting warfarin with a target INR of 2-3, from CYP2C9 and VKORC1 genotypes and clinical covariates. "
    "Shown to clinicians only as a model estimate next to the CPIC warfarin guidance, never instead of it; INR "
    "monitoring decides the dose."
)
LIMITATIONS = (
    "Trained on the IWPC cohort (21 sites, 2008 data release): doses and stable-dose definitions differ by site, "
    "and patients are mostly White and East Asian; figures for Black or African American and Unknown-race patients "
    "rest on few held-out patients and have wide intervals.",
    "Does not use CYP4F2, CYP2C9*5/*6/*8/*11 beyond their activity score, or the VKORC1/CYP2C cluster variants "
    "important in African ancestry (e.g. rs12777823): none is available for training in IWPC.",
    "Not validated for children, pregnancy, liver disease, or target INR ranges other than 2-3.",
    "On the held-out part the model's gains over the IWPC pharmacogenetic formula and a refitted linear model are "
    "small; read the paired bootstrap intervals before claiming superiority.",
    "Leave-one-site-out figures compare a model that never saw the left-out site with the published IWPC "
    "formulas, which were fitted on all IWPC sites including it: that comparison favours the formulas. Half of "
    "the dose estimate is the published formula itself, fitted on IWPC patients that may include this file's "
    "held-out part.",
    "Inputs outside the training range or genotypes never seen in training are flagged out_of_distribution; "
    "such estimates are extrapolations.",
)

WARFARIN_MODEL = DrugModel(
    drug="warfarin",
    spec=WARFARIN,
    classes=IWPC_CLASSES,
    read_cohort=read_cohort,
    cohort_format=CohortFormat("IWPC workbook (PharmGKB PS206767 format, sheet 'Subject Data')", iwpc.ID,
                               file_features),
    sample_features=sample_features,
    references=(
        ReferenceRule("iwpc_pharmacogenetic", "IWPC pharmacogenetic formula, NEJM 2009;360:753 Suppl. S1e (sqrt scale)",
                      _formula_rule("pharmacogenetic")),
        ReferenceRule("iwpc_clinical", "IWPC clinical formula, NEJM 2009;360:753 Suppl. S1f (sqrt scale)",
                      _formula_rule("clinical")),
        ReferenceRule("fixed_35", "fixed 35 mg/week (5 mg/day) for everyone", _fixed),
        ReferenceRule("linear_refitted", "least squares on sqrt(dose), same features, refitted on our training part",
                      _refitted_linear),
    ),
    published_reference="iwpc_pharmacogenetic",
    refitted_reference="linear_refitted",
    subgroup="race",
    formula=IWPC_PHARMACOGENETIC,
    data_citation=(
        "International Warfarin Pharmacogenetics Consortium. Estimation of the warfarin dose with clinical and "
        "pharmacogenetic data. N Engl J Med 2009;360:753-64 (doi 10.1056/NEJMoa0809329); data PharmGKB/ClinPGx "
        "PS206767 (CC BY-SA 4.0 per ClinPGx; research use)."
    ),
    cohort_filter=iwpc.cohort_mask.__doc__.split("\n\n")[1].strip().replace("\n    ", " "),
    intended_use=INTENDED_USE,
    limitations=LIMITATIONS,
    monitoring="Start and adjust warfarin on INR.",
    # IWPC's "Unknown" race is missing data; the features view's coefficient for it mostly marks the sites that
    # left race out (as missing optional covariates did), so those patients get the dose view alone.
    dose_view_only=("race", ("Unknown",)),
)
