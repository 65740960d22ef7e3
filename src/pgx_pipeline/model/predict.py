"""Applying a dose model: to the pipeline's own samples (phenotypes + sample sheet) and to external cohorts.

For the pipeline's samples no value is guessed: a sample without a required covariate or genotype, or with an
implausible one (weight 0, age 300), gets a `not_predicted` row saying why.  A prediction whose inputs fall
outside what the model was trained on (range, unseen genotype) is made but flagged `out_of_distribution`.

An external cohort in the IWPC workbook format is scored row by row as IWPC itself was modelled (missing inputs
imputed inside the pipeline, and said so in `reasons`), so another site can validate the model on its patients.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..errors import PgxInputError
from .features import (
    FeatureSpec,
    cyp2c9_features,
    cyp4f2_star3_count,
    empty_frame,
    normalise_race,
    vkorc1_from_pipeline,
    warfarin_from_covariates,
)
from .registry import MODELS
from .train import DoseModel

PROB_COLUMNS = ["prob_low", "prob_intermediate", "prob_high"]
OUTPUT_COLUMNS = ["predicted_class", *PROB_COLUMNS, "predicted_dose", "dose_lower", "dose_upper"]

IWPC_PREDICTIONS = schema.Table(
    "iwpc_predictions",
    "One row per patient of an IWPC-format workbook scored by a dose model (external validation).",
    tuple(
        schema.Column(*c)
        for c in (
            ("PharmGKB Subject ID", schema.STR, "patient id from the workbook", False),
            ("drug", schema.STR, "drug the model is for", False),
            ("model_version", schema.STR, "model version", False),
            ("status", schema.STR, "predicted | not_predicted", False),
            ("predicted_class", schema.STR, "low | intermediate | high (IWPC: <=21, 21-49, >=49 mg/week)"),
            ("prob_low", schema.F64, "class probability"),
            ("prob_intermediate", schema.F64, "class probability"),
            ("prob_high", schema.F64, "class probability"),
            ("predicted_dose", schema.F64, "predicted weekly dose (mg/week)"),
            ("dose_lower", schema.F64, "lower bound of the 90% dose interval"),
            ("dose_upper", schema.F64, "upper bound of the 90% dose interval"),
            ("out_of_distribution", schema.BOOL, "inputs outside the training distribution"),
            ("reasons", schema.STR_LIST, "imputed inputs, out-of-distribution notes, or why not predicted"),
        )
    ),
)

NUMERIC_COVARIATES = {"age": "years", "height_cm": "cm", "weight_kg": "kg"}
BINARY_COVARIATES = ("amiodarone", "enzyme_inducer")


# ---------------------------------------------------------------- shared checks
def _fmt(v: float) -> str:
    return f"{v:g}"


def distribution_notes(model: DoseModel, spec: FeatureSpec, x: pd.DataFrame) -> list[list[str]]:
    """Per row: notes for values outside the training range and genotype values never seen in training."""
    notes: list[list[str]] = [[] for _ in range(len(x))]
    for name, (lo, hi) in model.feature_ranges.items():
        for i, v in enumerate(x[name].to_numpy(dtype=float)):
            if not math.isnan(v) and not lo <= v <= hi:
                notes[i].append(f"out of training range: {name}={_fmt(v)} (training {_fmt(lo)}-{_fmt(hi)})")
    for name, seen in model.seen_values.items():
        seen_set = set(seen)
        for i, v in enumerate(x[name].to_numpy(dtype=float)):
            if not math.isnan(v) and v not in seen_set:
                notes[i].append(f"genotype not seen in training: {name}={_fmt(v)}")
    return notes


def _predict(model: DoseModel, x: pd.DataFrame) -> pd.DataFrame:
    return model.predict_frame(x)[OUTPUT_COLUMNS]


# ---------------------------------------------------------------- (a) the pipeline's samples
def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """The sample sheet as text, indexed by sample_id (validation of values happens per sample)."""
    path = Path(path)
    if not path.is_file():
        raise PgxInputError("sample sheet not found", path=path)
    sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if "sample_id" not in sheet.columns:
        raise PgxInputError("sample sheet needs a 'sample_id' column (tab-separated header)", path=path)
    if sheet["sample_id"].duplicated().any():
        dup = sheet.loc[sheet["sample_id"].duplicated(), "sample_id"].iloc[0]
        raise PgxInputError(f"sample_id {dup!r} appears twice", path=path)
    return sheet.set_index("sample_id")


def check_covariates(spec: FeatureSpec, row: pd.Series | None) -> tuple[dict, list[str], list[str]]:
    """Parse one sample's sheet row: (values, reasons it cannot be predicted, notes)."""
    if row is None:
        return {}, [f"missing: sample sheet row ({', '.join(spec.required)})"], []
    values: dict = {}
    blocking: list[str] = []
    notes: list[str] = []
    limits = {p.column: p for p in spec.plausible}
    for col in spec.required:
        text = str(row.get(col, "") or "").strip()
        if not text:
            blocking.append(f"missing: {col}")
            continue
        if col == "race":
            race, note = normalise_race(text)
            values[col] = race
            if note:
                notes.append(note)
            continue
        try:
            number = float(text)
        except ValueError:
            blocking.append(f"invalid: {col}={text!r} (expected a number)")
            continue
        if math.isnan(number) or math.isinf(number):
            blocking.append(f"invalid: {col}={text!r} (expected a number)")
            continue
        if col in BINARY_COVARIATES and number not in (0.0, 1.0):
            blocking.append(f"invalid: {col}={text!r} (expected 0 or 1)")
            continue
        lim = limits.get(col)
        if lim is not None and not lim.low < number <= lim.high:
            blocking.append(f"implausible: {col}={text} {lim.unit} (expected {_fmt(lim.low)}-{_fmt(lim.high)} {lim.unit})")
            continue
        values[col] = number
    return values, blocking, notes


def _best_call(phen: pd.DataFrame, gene: str) -> tuple[pd.Series | None, str | None]:
    """The sample's rank-1 phenotype row for a gene, or why there is none usable."""
    rows = phen[phen["gene"] == gene]
    if rows.empty:
        return None, f"missing: {gene} genotype (gene not in the phenotypes table)"
    top = rows.sort_values("rank").iloc[0]
    if top["status"] not in ("called", "outside_call"):
        return None, f"missing: {gene} genotype (status {top['status']})"
    if not bool(top["candidates_agree"]):
        return None, f"ambiguous: {gene} has tied diplotypes with different function; resolve the call first"
    return top, None


def genotype_features(phen: pd.DataFrame) -> tuple[dict, list[str], list[str]]:
    """Warfarin genotype features from one sample's phenotype rows: (values, blocking reasons, notes)."""
    values: dict = {}
    blocking: list[str] = []
    notes: list[str] = []
    cyp, why = _best_call(phen, "CYP2C9")
    if why:
        blocking.append(why)
    else:
        feats = cyp2c9_features(cyp["diplotype"], cyp["activity_score"])
        if math.isnan(feats["cyp2c9_activity"]):
            blocking.append(f"missing: CYP2C9 activity score for {cyp['diplotype']!r}")
        elif math.isnan(feats["cyp2c9_star2"]):
            notes.append(f"CYP2C9 {cyp['diplotype']}: outside *1/*2/*3, only its activity score is used")
        values.update(feats)
    vk, why = _best_call(phen, "VKORC1")
    if why:
        blocking.append(why)
    else:
        count = vkorc1_from_pipeline(vk["lookup_key"], vk["diplotype"])
        if math.isnan(count):
            blocking.append(f"missing: VKORC1 -1639 genotype (lookup key {vk['lookup_key']!r})")
        values["vkorc1_a"] = count
    f2, _ = _best_call(phen, "CYP4F2")
    values["cyp4f2_star3"] = cyp4f2_star3_count(f2["diplotype"]) if f2 is not None else math.nan
    if f2 is not None and not math.isnan(values["cyp4f2_star3"]):
        notes.append("CYP4F2 called but not used: the training data (IWPC) has no CYP4F2 genotypes")
    return values, blocking, notes


def predict_samples(model: DoseModel, phenotypes: pd.DataFrame, sheet: pd.DataFrame | None) -> pd.DataFrame:
    """One PREDICTIONS row per sample in the phenotypes table."""
    spec = MODELS[model.drug].spec
    samples = list(dict.fromkeys(phenotypes["sample_id"]))
    rows, xs, ok = [], [], []
    for sid in samples:
        sheet_row = sheet.loc[sid] if sheet is not None and sid in sheet.index else None
        cov, blocking, notes = check_covariates(spec, sheet_row)
        if sheet is None:
            blocking = ["missing: sample sheet (config sample_sheet) with age, height_cm, weight_kg, race, "
                        "amiodarone, enzyme_inducer"]
        geno, g_block, g_notes = genotype_features(phenotypes[phenotypes["sample_id"] == sid])
        blocking += g_block
        notes += g_notes
        rows.append({"sample_id": sid, "drug": model.drug, "model_version": model.version, "reasons": blocking or notes})
        ok.append(not blocking)
        if not blocking:
            x = warfarin_from_covariates(pd.DataFrame([cov])).iloc[0].to_dict() | geno
            xs.append(x)
    out = pd.DataFrame(rows)
    for col in OUTPUT_COLUMNS:
        out[col] = None if col == "predicted_class" else np.nan
    out["status"] = np.where(ok, "predicted", "not_predicted")
    out["out_of_distribution"] = None
    if xs:
        x = pd.concat([empty_frame(spec, 0), pd.DataFrame(xs)], ignore_index=True)[spec.names]
        pred = _predict(model, x)
        idx = np.flatnonzero(ok)
        for col in OUTPUT_COLUMNS:
            out.loc[idx, col] = pred[col].to_numpy()
        ood = distribution_notes(model, spec, x)
        for i, extra in zip(idx, ood):
            race_folded = any(r.startswith("race ") for r in out.at[i, "reasons"])
            out.at[i, "reasons"] = list(out.at[i, "reasons"]) + extra
            out.at[i, "out_of_distribution"] = bool(extra) or race_folded
    return out[schema.PREDICTIONS.column_names]


def predict_pipeline_files(model: DoseModel, phenotypes_path: str | Path, sheet_path: str | Path | None,
                           out: str | Path) -> pd.DataFrame:
    """Read the phenotypes table and sample sheet, predict, write the PREDICTIONS table atomically."""
    phen = schema.read_table(phenotypes_path, schema.PHENOTYPES)
    sheet = read_sample_sheet(sheet_path) if sheet_path else None
    pred = predict_samples(model, phen, sheet)
    schema.write_table(pred, out, schema.PREDICTIONS, metadata=_metadata(model))
    return pred


# ---------------------------------------------------------------- (b) external cohorts
def predict_cohort_file(model: DoseModel, path: str | Path) -> pd.DataFrame:
    """Score every row of an IWPC-format workbook (one row per patient)."""
    drug = MODELS[model.drug]
    ids, x = drug.features_of_file(Path(path))
    spec = drug.spec
    pred = _predict(model, x).reset_index(drop=True)
    x = x.reset_index(drop=True)
    notes = distribution_notes(model, spec, x)
    limits = {"height_cm": (50, 250), "weight_kg": (2, 350)}
    status, reasons = [], []
    for i in range(len(x)):
        blocking = [f"implausible: {c}={_fmt(x.at[i, c])}" for c, (lo, hi) in limits.items()
                    if not math.isnan(x.at[i, c]) and not lo < x.at[i, c] <= hi]
        imputed = [f"imputed: {f.name}" for f in spec.features
                   if f.kind == "numeric" and f.name != "cyp4f2_star3" and pd.isna(x.at[i, f.name])]
        status.append("not_predicted" if blocking else "predicted")
        reasons.append(blocking or (imputed + notes[i]))
    out = pd.DataFrame({"PharmGKB Subject ID": ids.to_numpy(), "drug": model.drug, "model_version": model.version,
                        "status": status})
    for col in OUTPUT_COLUMNS:
        out[col] = pred[col].to_numpy()
    blocked = out["status"] == "not_predicted"
    out.loc[blocked, OUTPUT_COLUMNS] = None
    out["out_of_distribution"] = [bool(n) for n in notes]
    out["reasons"] = reasons
    return out[IWPC_PREDICTIONS.column_names]


def predict_cohort_files(model: DoseModel, path: str | Path, out: str | Path) -> pd.DataFrame:
    pred = predict_cohort_file(model, path)
    schema.write_table(pred, out, IWPC_PREDICTIONS, metadata=_metadata(model) | {"source": Path(path).name})
    return pred


def _metadata(model: DoseModel) -> dict[str, str]:
    versions = model.info.get("library_versions", {})
    return {"drug": model.drug, "model_version": model.version,
            "label": "model estimate; read next to the CPIC guidance, not instead of it",
            **{f"trained_with.{k}": v for k, v in versions.items()}}
