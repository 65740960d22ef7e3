"""Applying a dose model: to the pipeline's own samples (phenotypes + sample sheet) and to external cohorts.

For the pipeline's samples no value is guessed: a sample without a required covariate or genotype, or with an
implausible one (weight 0, age 300), gets a `not_predicted` row saying why.  A prediction whose inputs fall
outside what the model was trained on (range, unseen genotype) is made but flagged `out_of_distribution`.

An external cohort in the drug's cohort format (the IWPC workbook for warfarin) is scored row by row as the
training cohort was modelled (missing inputs imputed inside the pipeline, and said so in `reasons`), so another
site can validate the model on its own patients.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import patients, schema
from ..errors import PgxInputError
from .features import FeatureSpec, empty_frame, normalise_race
from .registry import drug_model
from .train import DoseModel

PROB_COLUMNS = ["prob_low", "prob_intermediate", "prob_high"]
OUTPUT_COLUMNS = ["predicted_class", *PROB_COLUMNS, "predicted_dose", "dose_lower", "dose_upper"]



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
    from ..inputs import repeated_sheet_row

    repeated = repeated_sheet_row(list(sheet["sample_id"]), list(sheet["vcf"]) if "vcf" in sheet.columns else [""] * len(sheet))
    if repeated:
        raise PgxInputError(repeated, path=path)
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
        if col in spec.binary and number not in (0.0, 1.0):
            blocking.append(f"invalid: {col}={text!r} (expected 0 or 1)")
            continue
        lim = limits.get(col)
        if lim is not None and not lim.low < number <= lim.high:
            blocking.append(f"implausible: {col}={text} {lim.unit} (expected {_fmt(lim.low)}-{_fmt(lim.high)} {lim.unit})")
            continue
        values[col] = number
    return values, blocking, notes


def predict_samples(model: DoseModel, phenotypes: pd.DataFrame, sheet: pd.DataFrame | None) -> pd.DataFrame:
    """One PREDICTIONS row per sample in the phenotypes table."""
    entry = drug_model(model.drug)
    spec = entry.spec
    samples = list(dict.fromkeys(phenotypes["sample_id"]))
    by_sample = dict(tuple(phenotypes.groupby("sample_id", sort=False)))
    rows, xs, ok = [], [], []
    for sid in samples:
        sheet_row = sheet.loc[sid] if sheet is not None and sid in sheet.index else None
        cov, blocking, notes = check_covariates(spec, sheet_row)
        if sheet is None:
            blocking = [f"missing: sample sheet (config sample_sheet) with {', '.join(spec.required)}"]
        values, g_block, g_notes = entry.sample_features(by_sample[sid], cov if not blocking else {})
        blocking += g_block
        notes += g_notes
        rows.append({"sample_id": sid, "drug": model.drug, "model_version": model.version, "reasons": blocking or notes})
        ok.append(not blocking)
        if not blocking:
            xs.append(values)
    out = pd.DataFrame(rows, columns=["sample_id", "drug", "model_version", "reasons"])
    out["input_id"] = None  # the stage runner keys samples by patient (pgx_pipeline.patients) and sets it
    for col in OUTPUT_COLUMNS:
        out[col] = None if col == "predicted_class" else np.nan
    out["dose_unit"] = entry.classes.unit
    out["status"] = np.where(ok, "predicted", "not_predicted") if ok else []
    out["out_of_distribution"] = None
    if xs:
        x = pd.concat([empty_frame(spec, 0), pd.DataFrame(xs)], ignore_index=True)[spec.names]
        pred = _predict(model, x)
        idx = np.flatnonzero(ok)
        for col in OUTPUT_COLUMNS:
            out.loc[idx, col] = pred[col].to_numpy()
        ood = distribution_notes(model, spec, x)
        for i, extra in zip(idx, ood):
            # A sheet value folded into a training category (features.normalise_race) is outside what was seen.
            folded = any("treated as Unknown" in r for r in out.at[i, "reasons"])
            out.at[i, "reasons"] = list(out.at[i, "reasons"]) + extra
            out.at[i, "out_of_distribution"] = bool(extra) or folded
    return out[schema.PREDICTIONS.column_names]


def predict_pipeline_files(models: list[DoseModel], phenotypes_path: str | Path, sheet_path: str | Path | None,
                           out: str | Path, input_vcfs: list[str] | dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Read the phenotypes table and sample sheet, apply every model, write one PREDICTIONS table atomically.

    With `input_vcfs` (the input's files, or input id -> files for a unit of several inputs), sheet rows naming
    other VCFs are left out: a patient is (input, sample), and another file's sample of the same name must not lend
    its covariates."""
    phen = schema.read_table(phenotypes_path, schema.PHENOTYPES)
    own_id = schema.read_metadata(phenotypes_path).get("input_id") or None
    phen = patients.keyed(phen, own_id or patients.own_input(phenotypes_path))
    sheet = read_sample_sheet(sheet_path) if sheet_path else None
    if sheet is not None:
        vcfs_of = input_vcfs if isinstance(input_vcfs, dict) else {i: list(input_vcfs or []) for i in set(phen["input_id"])}
        sheet = _keyed_sheet(sheet, Path(sheet_path).parent, vcfs_of)
    parts = [predict_samples(m, phen, sheet) for m in models]
    pred = (patients.unkeyed(pd.concat(parts, ignore_index=True)) if parts
            else pd.DataFrame({c: pd.Series(dtype=object) for c in schema.PREDICTIONS.column_names}))
    metadata = {"models": ", ".join(f"{m.drug}={m.version}" for m in models) or "none configured",
                "label": "model estimate; read next to the CPIC guidance, not instead of it"}
    if len(models) == 1:
        metadata |= _metadata(models[0])
    # The input travels with the table, as in calls/phenotypes/guidance (a patient is input + sample).
    metadata["input_id"] = own_id or ""
    schema.write_table(pred, out, schema.PREDICTIONS, metadata=metadata)
    return pred


def _keyed_sheet(sheet: pd.DataFrame, base: Path, vcfs_of: dict[str, list[str]]) -> pd.DataFrame:
    """The sheet indexed by patient key: each input gets the rows that apply to it (`inputs.row_applies_to_input`,
    the rule of the sample sheet and outside-call tables: a row naming VCFs applies only to the input made of them,
    and to no input whose files are not known)."""
    from ..inputs import row_applies_to_input, split_group_paths

    cells = sheet["vcf"] if "vcf" in sheet.columns else pd.Series("", index=sheet.index)
    named = [split_group_paths(c, base=base) if c.strip() else [] for c in cells]
    frames = []
    for input_id, vcfs in vcfs_of.items():
        rows = sheet[[row_applies_to_input(files, vcfs) for files in named]]
        frames.append(rows.set_axis([patients.key(input_id, s) for s in rows.index], axis=0))
    return pd.concat(frames) if frames else sheet.iloc[0:0]


# ---------------------------------------------------------------- (b) external cohorts
def predict_cohort_file(model: DoseModel, path: str | Path) -> pd.DataFrame:
    """Score every row of a cohort file in the drug's format (IWPC workbook for warfarin), one row per patient."""
    entry = drug_model(model.drug)
    ids, x = entry.cohort_format.features_of_file(Path(path))
    spec = entry.spec
    pred = _predict(model, x).reset_index(drop=True)
    x = x.reset_index(drop=True)
    notes = distribution_notes(model, spec, x)
    limits = {p.column: (p.low, p.high) for p in spec.plausible if p.column in x.columns}
    status, reasons = [], []
    for i in range(len(x)):
        blocking = [f"implausible: {c}={_fmt(x.at[i, c])}" for c, (lo, hi) in limits.items()
                    if not math.isnan(x.at[i, c]) and not lo < x.at[i, c] <= hi]
        imputed = [f"imputed: {f.name}" for f in spec.features
                   if f.kind == "numeric" and f.note_when_missing and pd.isna(x.at[i, f.name])]
        status.append("not_predicted" if blocking else "predicted")
        reasons.append(blocking or (imputed + notes[i]))
    id_column = entry.cohort_format.id_column
    out = pd.DataFrame({id_column: ids.to_numpy(), "drug": model.drug, "model_version": model.version,
                        "status": status})
    for col in OUTPUT_COLUMNS:
        out[col] = pred[col].to_numpy()
    blocked = out["status"] == "not_predicted"
    out.loc[blocked, OUTPUT_COLUMNS] = None
    out["dose_unit"] = entry.classes.unit
    out["out_of_distribution"] = [bool(n) for n in notes]
    out["reasons"] = reasons
    return out[schema.cohort_predictions(id_column).column_names]


def predict_cohort_files(model: DoseModel, path: str | Path, out: str | Path) -> pd.DataFrame:
    pred = predict_cohort_file(model, path)
    table = schema.cohort_predictions(drug_model(model.drug).cohort_format.id_column)
    schema.write_table(pred, out, table, metadata=_metadata(model) | {"source": Path(path).name})
    return pred


def _metadata(model: DoseModel) -> dict[str, str]:
    versions = model.info.get("library_versions", {})
    return {"drug": model.drug, "model_version": model.version,
            "label": "model estimate; read next to the CPIC guidance, not instead of it",
            **{f"trained_with.{k}": v for k, v in versions.items()}}
