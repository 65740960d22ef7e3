"""Honest validation of a dose model: a frozen held-out part, CV and leave-one-site-out on the rest, references.

Design (all in one run, so the figures always describe the saved model):

* a site-stratified 80/20 split fixed by the seed; the held-out patient ids are written next to the model and can
  be passed back in to reuse exactly that split;
* 5-fold cross-validation and leave-one-site-out on the 80% only; the 20% is touched once, by the final model;
* on the 20%: dose error (MAE, % within 20% of the actual dose overall and per dose class), 3-class accuracy,
  per-class recall, low<->high confusions, calibration (reliability bins, expected calibration error), with
  percentile-bootstrap 95% intervals, for the model and each reference rule side by side, and per subgroup
  (race for warfarin).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from ..errors import PgxInputError
from .classes import CLASS_NAMES, DoseClasses
from .drug import Cohort, DrugModel
from .train import DoseModel, fit_dose_model

N_BOOTSTRAP = 1000
CALIBRATION_BINS = 10
ECE_TARGET = 0.05


def versus(drug: DrugModel) -> tuple[tuple[str, str], ...]:
    """The paired differences the targets are about: the model against the published rule and the local refit."""
    return (("model", drug.published_reference), ("model", drug.refitted_reference))


# ---------------------------------------------------------------- split
def site_split(cohort: Cohort, random_state: int, heldout_ids: list[str] | None = None) -> np.ndarray:
    """Boolean mask of the held-out 20%: stratified by site, or exactly `heldout_ids` when given."""
    if heldout_ids is not None:
        unknown = sorted(set(heldout_ids) - set(cohort.ids))
        if unknown:
            raise PgxInputError(f"{len(unknown)} held-out id(s) are not in the training cohort, e.g. {unknown[:3]}; "
                                "pass the heldout_ids.txt written with this workbook or none")
        return cohort.ids.isin(set(heldout_ids)).to_numpy()
    idx = np.arange(len(cohort.ids))
    _, test = train_test_split(idx, test_size=0.2, stratify=cohort.groups, random_state=random_state)
    mask = np.zeros(len(idx), dtype=bool)
    mask[test] = True
    return mask


def read_heldout(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise PgxInputError("held-out id file not found", path=path)
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


# ---------------------------------------------------------------- metrics
def _per_patient(classes: DoseClasses, dose: np.ndarray, pred_dose: np.ndarray,
                 pred_class: np.ndarray) -> dict[str, np.ndarray]:
    true_class = classes.of(dose)
    return {
        "abs_error": np.abs(pred_dose - dose),
        "within_20": (np.abs(pred_dose - dose) <= 0.2 * dose).astype(float),
        "correct": (pred_class == true_class).astype(float),
    }


def reliability(proba: np.ndarray, true_class: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """Top-label reliability curve in equal-width confidence bins and its expected calibration error.

    ECE = sum over bins of (share of patients in the bin) x |accuracy - mean confidence|.  Also the class-wise
    version (each class's probability against its frequency), which catches miscalibration the top label hides.
    """
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == true_class
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    curve, ece = [], 0.0
    for b in range(bins):
        m = which == b
        if not m.any():
            continue
        acc, mean_conf = float(correct[m].mean()), float(conf[m].mean())
        curve.append({"bin": [float(edges[b]), float(edges[b + 1])], "n": int(m.sum()),
                      "mean_confidence": mean_conf, "accuracy": acc})
        ece += m.mean() * abs(acc - mean_conf)
    classwise = []
    for k in range(proba.shape[1]):
        p, hit = proba[:, k], (true_class == k)
        wk = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
        classwise.append(sum((wk == b).mean() * abs(hit[wk == b].mean() - p[wk == b].mean())
                             for b in range(bins) if (wk == b).any()))
    return {"ece": float(ece), "classwise_ece": float(np.mean(classwise)), "curve": curve}


def _ece_only(proba: np.ndarray, true_class: np.ndarray) -> float:
    return reliability(proba, true_class)["ece"]


def point_metrics(classes: DoseClasses, dose: np.ndarray, pred_dose: np.ndarray, pred_class: np.ndarray,
                  proba: np.ndarray | None = None) -> dict:
    """All point figures for one method on one set of patients (`mae` in the classes' dose unit)."""
    true_class = classes.of(dose)
    pp = _per_patient(classes, dose, pred_dose, pred_class)
    out: dict = {
        "n": int(len(dose)),
        "mae": float(pp["abs_error"].mean()),
        "within_20pct": float(pp["within_20"].mean()),
        "within_20pct_by_class": {
            name: (float(pp["within_20"][true_class == k].mean()) if (true_class == k).any() else None)
            for k, name in enumerate(CLASS_NAMES)
        },
        "accuracy": float(pp["correct"].mean()),
        "recall": {
            name: (float((pred_class[true_class == k] == k).mean()) if (true_class == k).any() else None)
            for k, name in enumerate(CLASS_NAMES)
        },
        "confusion": [[int(((true_class == t) & (pred_class == p)).sum()) for p in range(3)] for t in range(3)],
        "low_predicted_high": int(((true_class == 0) & (pred_class == 2)).sum()),
        "high_predicted_low": int(((true_class == 2) & (pred_class == 0)).sum()),
    }
    if proba is not None:
        out["calibration"] = reliability(proba, true_class)
    return out


def bootstrap(classes: DoseClasses, dose: np.ndarray,
              methods: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]], random_state: int,
              n_boot: int = N_BOOTSTRAP, versus: tuple[tuple[str, str], ...] = ()) -> dict:
    """Percentile-bootstrap 95% intervals of MAE, within-20% and accuracy (and ECE where there are probabilities).

    All methods are resampled with the same patient draws, so each `versus` pair (a, b) also gives the interval of
    the paired difference a - b: the honest way to say whether one beats the other on these patients.
    """
    rng = np.random.default_rng(random_state)
    n = len(dose)
    draws = rng.integers(0, n, size=(n_boot, n))
    true_class = classes.of(dose)
    boot: dict[str, dict[str, np.ndarray]] = {}
    for name, (pred_dose, pred_class, proba) in methods.items():
        pp = _per_patient(classes, dose, pred_dose, pred_class)
        stats = {
            "mae": pp["abs_error"][draws].mean(axis=1),
            "within_20pct": pp["within_20"][draws].mean(axis=1),
            "accuracy": pp["correct"][draws].mean(axis=1),
        }
        if proba is not None:
            stats["ece"] = np.array([_ece_only(proba[d], true_class[d]) for d in draws[:200]])
        boot[name] = stats

    def ci(v: np.ndarray) -> list[float]:
        return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]

    out = {name: {k: ci(v) for k, v in stats.items()} for name, stats in boot.items()}
    for a, b in versus:
        out[f"{a}_minus_{b}"] = {k: ci(boot[a][k] - boot[b][k]) for k in ("mae", "within_20pct", "accuracy")}
    return out


# ---------------------------------------------------------------- the whole evaluation
def _reference_predictions(drug: DrugModel, x_tr, y_tr, x_te) -> dict[str, np.ndarray]:
    return {r.name: np.asarray(r.fit(x_tr, y_tr)(x_te), dtype=float) for r in drug.references}


def _model_methods(pred: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dose, class, probabilities) from a `DoseModel.predict_frame` result."""
    proba = pred[["prob_low", "prob_intermediate", "prob_high"]].to_numpy()
    return pred["predicted_dose"].to_numpy(), proba.argmax(axis=1), proba


def _fold_summary(classes: DoseClasses, dose, model_out, refs) -> dict:
    pred_dose, pred_class, proba = model_out
    row = {"model": point_metrics(classes, dose, pred_dose, pred_class, proba)}
    for name, p in refs.items():
        row[name] = point_metrics(classes, dose, p, classes.of(p))
    return {m: {k: v[k] for k in ("n", "mae", "within_20pct", "accuracy")}
            | ({"ece": v["calibration"]["ece"]} if "calibration" in v else {}) for m, v in row.items()}


def cross_validate(drug: DrugModel, cohort: Cohort, train_mask: np.ndarray, version: str, random_state: int) -> dict:
    """5-fold CV on the training part (site-stratified); pooled out-of-fold figures."""
    x, y, groups = cohort.x[train_mask].reset_index(drop=True), cohort.dose[train_mask], cohort.groups[train_mask]
    cv = StratifiedKFold(5, shuffle=True, random_state=random_state)
    n = len(y)
    model_dose, model_proba = np.zeros(n), np.zeros((n, 3))
    refs = {r.name: np.zeros(n) for r in drug.references}
    for tr, te in cv.split(x, groups):
        m = fit_dose_model(drug, x.iloc[tr], y[tr], groups.iloc[tr], version=version, random_state=random_state,
                           with_interval=False)
        model_dose[te], _, model_proba[te] = _model_methods(m.predict_frame(x.iloc[te]))
        for name, p in _reference_predictions(drug, x.iloc[tr], y[tr], x.iloc[te]).items():
            refs[name][te] = p
    return {"folds": 5, "n": n,
            **_fold_summary(drug.classes, y, (model_dose, model_proba.argmax(axis=1), model_proba), refs)}


def leave_one_site_out(drug: DrugModel, cohort: Cohort, train_mask: np.ndarray, version: str,
                       random_state: int) -> dict:
    """Train on all other sites of the training part, test on one: how the model travels to a new clinic."""
    x, y, groups = cohort.x[train_mask].reset_index(drop=True), cohort.dose[train_mask], cohort.groups[train_mask]
    groups = groups.reset_index(drop=True)
    per_site = {}
    for site in sorted(groups.unique()):
        te = (groups == site).to_numpy()
        m = fit_dose_model(drug, x[~te], y[~te], groups[~te], version=version, random_state=random_state,
                           with_interval=False)
        refs = _reference_predictions(drug, x[~te], y[~te], x[te])
        per_site[str(site)] = _fold_summary(drug.classes, y[te], _model_methods(m.predict_frame(x[te])), refs)
    methods = list(next(iter(per_site.values())))
    sites_model_better = {
        ref: int(sum(s["model"]["within_20pct"] >= s[ref]["within_20pct"] for s in per_site.values()))
        for ref in methods if ref != "model"
    }
    weights = np.array([s["model"]["n"] for s in per_site.values()], dtype=float)
    pooled = {
        meth: {k: float(np.average([s[meth][k] for s in per_site.values()], weights=weights))
               for k in ("mae", "within_20pct", "accuracy")}
        for meth in methods
    }
    return {"sites": len(per_site), "pooled": pooled, "sites_where_model_within20_ge": sites_model_better,
            "per_site": per_site}


def evaluate_heldout(drug: DrugModel, model: DoseModel, cohort: Cohort, test_mask: np.ndarray,
                     random_state: int) -> dict:
    """Every figure on the held-out 20%, the model and each reference side by side, overall and per subgroup."""
    train_mask = ~test_mask
    x_tr, y_tr = cohort.x[train_mask], cohort.dose[train_mask]
    x_te, y_te = cohort.x[test_mask], cohort.dose[test_mask]
    refs = _reference_predictions(drug, x_tr, y_tr, x_te)
    return score_patients(drug, model, x_te, y_te, refs, random_state, versus(drug))


def score_patients(drug: DrugModel, model: DoseModel, x: pd.DataFrame, y: np.ndarray, refs: dict[str, np.ndarray],
                   random_state: int, pairs: tuple[tuple[str, str], ...]) -> dict:
    """The model and the reference doses `refs` on the same patients: point figures, bootstrap intervals (paired
    for `pairs`), the model's interval coverage, and per subgroup against the first pair's reference."""
    classes = drug.classes
    pred = model.predict_frame(x)
    methods = {"model": _model_methods(pred)} | {name: (p, classes.of(p), None) for name, p in refs.items()}
    lo, hi = pred[["dose_lower", "dose_upper"]].to_numpy().T
    overall = {name: point_metrics(classes, y, *out) for name, out in methods.items()}
    overall["model"]["interval_coverage"] = float(((y >= lo) & (y <= hi)).mean())
    overall["model"]["interval_median_width"] = float(np.median(hi - lo))
    cis = bootstrap(classes, y, methods, random_state, versus=pairs)

    by_group = {}
    group_of = x[drug.subgroup].to_numpy()
    for group in sorted(set(group_of)):
        m = group_of == group
        sub = {name: (d[m], c[m], None if p is None else p[m]) for name, (d, c, p) in methods.items()}
        figures = {name: point_metrics(classes, y[m], *out) for name, out in sub.items()}
        figures = {name: {k: f[k] for k in ("n", "mae", "within_20pct", "accuracy")} for name, f in figures.items()}
        by_group[group] = {"figures": figures}
        if pairs:
            published = pairs[0][1]
            ci = bootstrap(classes, y[m], sub, random_state, versus=pairs[:1])
            ref = figures[published]
            by_group[group] |= {
                "ci95": {k: ci[k] for k in ("model", published, f"model_minus_{published}")},
                "model_not_worse_than_published": {
                    "within_20pct": figures["model"]["within_20pct"] >= ref["within_20pct"],
                    "accuracy": figures["model"]["accuracy"] >= ref["accuracy"],
                    "mae": figures["model"]["mae"] <= ref["mae"],
                },
            }
    result = {"n": int(len(y)), "methods": overall, "ci95": cis, "subgroup": drug.subgroup, "by_subgroup": by_group}
    return result | {"targets": target_verdicts(result, pairs)}


def target_verdicts(result: dict, pairs: tuple[tuple[str, str], ...]) -> dict[str, bool]:
    """The model's targets on these patients, each a plain yes/no: within 20% and accuracy strictly better than each
    reference it is paired with, top-label ECE below `ECE_TARGET`, and not worse than the first (published)
    reference in any subgroup on within 20%, accuracy and MAE."""
    model = result["methods"]["model"]
    out = {}
    for _, ref in pairs:
        for metric in ("within_20pct", "accuracy"):
            out[f"{metric}_better_than_{ref}"] = bool(model[metric] > result["methods"][ref][metric])
    out[f"ece_below_{ECE_TARGET:g}"] = bool(model["calibration"]["ece"] < ECE_TARGET)
    if pairs and result["by_subgroup"]:
        verdicts = [v for g in result["by_subgroup"].values() for v in g["model_not_worse_than_published"].values()]
        out[f"not_worse_than_{pairs[0][1]}_in_every_{result['subgroup']}"] = bool(all(verdicts))
    out["all_met"] = all(out.values())
    return out


def validate_on_cohort(model: DoseModel, path: str | Path, random_state: int = 0) -> dict:
    """Score a saved model on an external labelled cohort (same file format as its training data), without refitting.

    The cohort filter of training is applied.  The references are the ones computable without training data: the
    published formula and the local refit inside the model's dose estimate (for warfarin, exactly the held-out
    evaluation's `iwpc_pharmacogenetic` and `linear_refitted`: same fill, same least squares fit).
    """
    from .registry import drug_model
    from .train import PublishedBlendRegressor

    drug = drug_model(model.drug)
    cohort = drug.read_cohort(Path(path))
    if len(cohort.ids) == 0:
        raise PgxInputError("no patient of this file passes the cohort filter (" + drug.cohort_filter + ")", path=path)
    refs: dict[str, np.ndarray] = {}
    pairs: tuple[tuple[str, str], ...] = ()
    regressor = model.regressor
    if isinstance(regressor, PublishedBlendRegressor):
        refs = {regressor.formula: regressor.published_dose(cohort.x),
                drug.refitted_reference: regressor.refit_.predict(cohort.x)}
        # Paired against the published reference only when that is the formula the model blends.
        pairs = versus(drug) if regressor.formula == drug.published_reference else (("model", drug.refitted_reference),)
    result = score_patients(drug, model, cohort.x, cohort.dose, refs, random_state, pairs)
    return {
        "drug": drug.drug,
        "model_version": model.version,
        "dose_classes": drug.classes.text,
        "dose_unit": drug.classes.unit,
        "cohort": {"source": Path(path).name, "rows_in_file": cohort.n_source_rows,
                   "after_filter": int(len(cohort.ids)), "filter": drug.cohort_filter,
                   "dose_classes": _class_counts(drug.classes, cohort.dose)},
        "references": {name: ("the published formula inside the model's dose estimate" if name != drug.refitted_reference
                              else "the least squares refit inside the model's dose estimate (training part)")
                       for name in refs},
        "validation": result,
    }


def _class_counts(classes: DoseClasses, dose: np.ndarray) -> dict[str, int]:
    return dict(zip(CLASS_NAMES, np.bincount(classes.of(dose), minlength=3).tolist()))


def train_and_evaluate(drug: DrugModel, cohort: Cohort, *, version: str, random_state: int,
                       heldout_ids: list[str] | None = None, validate: bool = True) -> tuple[DoseModel, dict, list[str]]:
    """Split, validate on the training part, fit the final model on it, and score the held-out part once.

    The saved model is the one fitted on the 80%, so every held-out figure describes exactly what ships.
    """
    test_mask = site_split(cohort, random_state, heldout_ids)
    train_mask = ~test_mask
    x_tr = cohort.x[train_mask]
    model = fit_dose_model(drug, x_tr, cohort.dose[train_mask], cohort.groups[train_mask],
                           version=version, random_state=random_state)
    evaluation = {
        "drug": drug.drug,
        "model_version": version,
        "random_state": random_state,
        "dose_classes": model.info["dose_classes"],
        "dose_unit": drug.classes.unit,
        "published_reference": drug.published_reference,
        "refitted_reference": drug.refitted_reference,
        "cohort": {
            "source": Path(cohort.source).name,
            "rows_in_file": cohort.n_source_rows,
            "after_filter": int(len(cohort.ids)),
            "filter": drug.cohort_filter,
            "train": int(train_mask.sum()),
            "heldout": int(test_mask.sum()),
            "sites": int(cohort.groups.nunique()),
            "dose_classes_train": _class_counts(drug.classes, cohort.dose[train_mask]),
            "dose_classes_heldout": _class_counts(drug.classes, cohort.dose[test_mask]),
        },
        "references": {r.name: r.doc for r in drug.references},
        "heldout": evaluate_heldout(drug, model, cohort, test_mask, random_state),
    }
    if validate:
        evaluation["cross_validation"] = cross_validate(drug, cohort, train_mask, version, random_state)
        evaluation["leave_one_site_out"] = leave_one_site_out(drug, cohort, train_mask, version, random_state)
    return model, evaluation, sorted(cohort.ids[test_mask].tolist())
