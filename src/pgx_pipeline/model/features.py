"""Feature specs: how genotype calls and clinical covariates become model columns, one spec per drug.

A `FeatureSpec` says which columns a drug model reads, of which kind, and which sample-sheet covariates it
requires (with their plausible ranges).  The mappings into those columns (from a cohort file, from one pipeline
sample) are the drug's hooks in `pgx_pipeline.model.drug.DrugModel`; this module holds the warfarin spec and the
genotype and covariate mappings it is built from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

# CPIC allele activity values for CYP2C9 as published in PharmCAT's phenotype data (phenotype/CYP2C9.json,
# `activityValues`).  Only alleles seen in IWPC and common elsewhere are listed; other alleles give a missing
# activity rather than a guess.
CYP2C9_ALLELE_ACTIVITY: dict[str, float] = {
    "*1": 1.0, "*2": 0.5, "*3": 0.0, "*5": 0.5, "*6": 0.0, "*8": 0.5, "*11": 0.5, "*13": 0.0, "*14": 0.5,
}

# OMB race categories as coded in the IWPC workbook; IWPC's "Unknown" means missing or mixed race.
RACES: tuple[str, ...] = ("White", "Asian", "Black or African American", "Unknown")

VKORC1_GENOTYPES: tuple[str, ...] = ("G/G", "A/G", "A/A")


@dataclass(frozen=True)
class Feature:
    """One model input column."""

    name: str
    kind: Literal["numeric", "categorical"]
    doc: str
    categories: tuple[str, ...] = ()
    # Checked against the training range and flagged when outside it.
    range_checked: bool = False
    # Values seen in training are remembered; unseen values are flagged.
    seen_checked: bool = False
    # An external cohort row without this value says "imputed: <name>"; off for a feature the training data
    # never has (it carries no weight, so its absence changes nothing).
    note_when_missing: bool = True


@dataclass(frozen=True)
class Plausible:
    """Limits outside which a sample-sheet value is a data-entry error, not a patient (-> not_predicted)."""

    column: str
    low: float
    high: float
    unit: str


@dataclass(frozen=True)
class FeatureSpec:
    """What a drug model reads.  `required` are sample-sheet columns without which no prediction is made."""

    drug: str
    features: tuple[Feature, ...]
    required: tuple[str, ...]
    plausible: tuple[Plausible, ...] = ()
    # Required covariates that must be 0 or 1 (medications).
    binary: tuple[str, ...] = ()
    genes_required: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def of_kind(self, kind: str) -> list[str]:
        return [f.name for f in self.features if f.kind == kind]

    def feature(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)


# ---------------------------------------------------------------- genotype -> feature mappings
_STAR = re.compile(r"^\*\d+[A-Z]?$")


def split_diplotype(diplotype: object) -> tuple[str, str] | None:
    """'*1/*3' -> ('*1', '*3'); anything that is not two star alleles -> None."""
    if not isinstance(diplotype, str):
        return None
    parts = [p.strip() for p in diplotype.split("/")]
    if len(parts) != 2 or not all(_STAR.match(p) for p in parts):
        return None
    return parts[0], parts[1]


def cyp2c9_features(diplotype: object, activity_score: object = None) -> dict[str, float]:
    """CYP2C9 diplotype -> counts of *2 and *3 and the CPIC activity score.

    Counts are only defined when both alleles are *1, *2 or *3 (what IWPC genotyped); other known alleles (*5, *6,
    *8, *11, *13, *14 ...) still give an activity score, so the model sees their reduced function through it.
    An activity score given by the caller (the pipeline's phenotype step, or an outside call) wins over the table.
    Unknown or uncalled -> all missing (NaN), never *1/*1.
    """
    out = {"cyp2c9_star2": math.nan, "cyp2c9_star3": math.nan, "cyp2c9_activity": math.nan}
    alleles = split_diplotype(diplotype)
    if alleles is not None:
        if set(alleles) <= {"*1", "*2", "*3"}:
            out["cyp2c9_star2"] = float(alleles.count("*2"))
            out["cyp2c9_star3"] = float(alleles.count("*3"))
        if all(a in CYP2C9_ALLELE_ACTIVITY for a in alleles):
            out["cyp2c9_activity"] = sum(CYP2C9_ALLELE_ACTIVITY[a] for a in alleles)
    given = _to_float(activity_score)
    if not math.isnan(given):
        out["cyp2c9_activity"] = given
    return out


def vkorc1_a_count(genotype: object) -> float:
    """VKORC1 -1639 (rs9923231) genotype on the coding strand -> number of A (low-expression) alleles.

    Accepts 'A/A', 'A/G', 'G/A', 'G/G' and the pipeline's lookup-key form '-1639 AG'; anything else -> NaN.
    """
    if not isinstance(genotype, str):
        return math.nan
    text = genotype.strip().upper().removeprefix("-1639").strip().replace("/", "")
    if len(text) != 2 or set(text) - {"A", "G"}:
        return math.nan
    return float(text.count("A"))


def vkorc1_from_pipeline(lookup_key: object, diplotype: object) -> float:
    """A-allele count from the pipeline's VKORC1 row: the lookup key ('-1639 AG'), else the diplotype text.

    The diplotype names dbSNP-strand alleles ('rs9923231 reference (C)/rs9923231 variant (T)'): the variant T is
    the coding-strand A allele.
    """
    count = vkorc1_a_count(lookup_key)
    if not math.isnan(count) or not isinstance(diplotype, str):
        return count
    halves = [h for h in diplotype.split("/") if "rs9923231" in h]
    if len(halves) != 2:
        return math.nan
    return float(sum("variant" in h for h in halves))


def cyp4f2_star3_count(diplotype: object) -> float:
    """CYP4F2 diplotype -> number of *3 (V433M, rs2108622) alleles; unknown -> NaN."""
    alleles = split_diplotype(diplotype)
    if alleles is None:
        return math.nan
    return float(sum(a == "*3" for a in alleles))


def impute_vkorc1_iwpc(
    vkorc1_1639: object, race: object, rs2359612: object, rs9934438: object, rs8050894: object
) -> object:
    """IWPC rule for a missing VKORC1 -1639 genotype (NEJM 2009;360:753, Supplementary Appendix S4).

    The supplement fills rs9923231 from SNPs in strong linkage disequilibrium with it, in this order, and only when
    -1639 itself is missing:

    1. rs2359612 (2255C>T), only if race is not Black or African American and not missing/mixed:
       C/C -> G/G, C/T -> A/G, T/T -> A/A.
    2. rs9934438 (1173C>T), any race: C/C -> G/G, C/T -> A/G, T/T -> A/A.
    3. rs8050894 (1542G>C), only if race is not Black or African American and not missing/mixed:
       G/G -> G/G, C/G -> A/G, C/C -> A/A.

    Otherwise -1639 stays missing.  The race condition exists because linkage with -1639 is weaker in African
    ancestry; IWPC's "missing or mixed race" is OMB "Unknown" in the workbook.  A measured -1639 is never changed.
    """
    if isinstance(vkorc1_1639, str) and vkorc1_1639.strip():
        return vkorc1_1639.strip()
    ld_ok = isinstance(race, str) and race not in ("Black or African American", "Unknown", "")
    rules = (
        (rs2359612, {"C/C": "G/G", "C/T": "A/G", "T/T": "A/A"}, ld_ok),
        (rs9934438, {"C/C": "G/G", "C/T": "A/G", "T/T": "A/A"}, True),
        (rs8050894, {"G/G": "G/G", "C/G": "A/G", "C/C": "A/A"}, ld_ok),
    )
    for value, table, allowed in rules:
        if allowed and isinstance(value, str) and value.strip() in table:
            return table[value.strip()]
    return None


def age_decade_from_years(age: float) -> float:
    """Age in years -> IWPC 'age in decades' (the first digit of the 10-year bin: 63 -> 6, 90+ -> 9)."""
    if age is None or (isinstance(age, float) and math.isnan(age)):
        return math.nan
    return float(min(int(age // 10), 9))


def age_decade_from_bin(text: object) -> float:
    """IWPC age bin ('60 - 69', '90+') -> decade (6, 9)."""
    if not isinstance(text, str) or not text.strip()[:1].isdigit():
        return math.nan
    return float(min(int(text.strip().split()[0].rstrip("+")) // 10, 9))


def _to_float(value: object) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# ---------------------------------------------------------------- the warfarin spec
WARFARIN = FeatureSpec(
    drug="warfarin",
    features=(
        Feature("age_decade", "numeric", "age in decades as IWPC codes it (first digit of the 10-year bin, 1-9)", range_checked=True),
        Feature("height_cm", "numeric", "height in cm", range_checked=True),
        Feature("weight_kg", "numeric", "weight in kg", range_checked=True),
        Feature("race", "categorical", "OMB race (Unknown = missing or mixed, as in IWPC)", categories=RACES),
        Feature("amiodarone", "numeric", "takes amiodarone (1/0)"),
        Feature("enzyme_inducer", "numeric", "takes carbamazepine, phenytoin or rifampin (any = 1)"),
        Feature("cyp2c9_star2", "numeric", "number of CYP2C9*2 alleles (only for *1/*2/*3 diplotypes)", seen_checked=True),
        Feature("cyp2c9_star3", "numeric", "number of CYP2C9*3 alleles (only for *1/*2/*3 diplotypes)", seen_checked=True),
        Feature("cyp2c9_activity", "numeric", "CYP2C9 CPIC activity score", seen_checked=True),
        Feature("vkorc1_a", "numeric", "number of VKORC1 -1639 A alleles (rs9923231 T on the dbSNP strand)", seen_checked=True),
        Feature("cyp4f2_star3", "numeric", "number of CYP4F2*3 alleles (absent from IWPC: imputed, carries no weight)",
                note_when_missing=False),
    ),
    required=("age", "height_cm", "weight_kg", "race", "amiodarone", "enzyme_inducer"),
    binary=("amiodarone", "enzyme_inducer"),
    plausible=(
        Plausible("age", 0, 120, "years"),
        Plausible("height_cm", 50, 250, "cm"),
        Plausible("weight_kg", 2, 350, "kg"),
    ),
    genes_required=("CYP2C9", "VKORC1"),
    notes=(
        "CYP4F2 is not genotyped in IWPC: the feature is all-missing in training, so the model gives it no weight.",
    ),
)


def warfarin_from_covariates(sheet: pd.DataFrame) -> pd.DataFrame:
    """Sample-sheet covariates (validated numbers) -> the clinical half of the warfarin feature frame."""
    out = pd.DataFrame(index=sheet.index)
    out["age_decade"] = [age_decade_from_years(a) for a in sheet["age"].astype(float)]
    out["height_cm"] = sheet["height_cm"].astype(float)
    out["weight_kg"] = sheet["weight_kg"].astype(float)
    out["race"] = sheet["race"].astype(object)
    out["amiodarone"] = sheet["amiodarone"].astype(float)
    out["enzyme_inducer"] = sheet["enzyme_inducer"].astype(float)
    return out


def normalise_race(value: object) -> tuple[str | None, str | None]:
    """Sample-sheet race -> an IWPC OMB category, and a note when it had to be folded into 'Unknown'."""
    if not isinstance(value, str) or not value.strip():
        return None, None
    text = value.strip()
    for race in RACES:
        if text.casefold() == race.casefold():
            return race, None
    if text.casefold() in {"black", "african american"}:
        return "Black or African American", None
    return "Unknown", f"race {text!r} is not an IWPC training category; treated as Unknown (missing or mixed)"


def empty_frame(spec: FeatureSpec, n: int = 0) -> pd.DataFrame:
    """A feature frame with the spec's columns in order (numeric NaN, categorical None)."""
    return pd.DataFrame(
        {f.name: (np.full(n, np.nan) if f.kind == "numeric" else [None] * n) for f in spec.features}
    )


def best_call(phen: pd.DataFrame, gene: str) -> tuple[pd.Series | None, str | None]:
    """A sample's rank-1 phenotype row for a gene, or why there is none a model can use."""
    # Positions, not a filtered and sorted frame: this runs three times per patient, and frame operations made the
    # prediction job of a 1,601-patient part take 11 s.
    at = np.flatnonzero(phen["gene"].to_numpy(dtype=object) == gene) if not phen.empty else []
    if not len(at):
        return None, f"missing: {gene} genotype (gene not in the phenotypes table)"
    order = np.lexsort((phen["candidate"].to_numpy()[at], phen["rank"].to_numpy()[at]))
    top = phen.iloc[int(at[order[0]])]
    if top["status"] not in ("called", "outside_call"):
        return None, f"missing: {gene} genotype (status {top['status']})"
    if not bool(top["candidates_agree"]):
        return None, f"ambiguous: {gene} has tied diplotypes with different function; resolve the call first"
    return top, None
