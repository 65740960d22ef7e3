"""How the warfarin model's design was chosen: candidates scored on the training 80% only, by CV and by site.

    python benchmarks/warfarin_design_cv.py [--iwpc ../shared/training/iwpc_warfarin/iwpc_warfarin_dev.xlsx]
        [--seed 20090219] [--repeats 3]

The held-out 20% is the one `pgx-pipeline model train --seed SEED` holds out and is never read here. On the rest:
5-fold CV stratified by site, repeated --repeats times (fold seeds 1000, 1001, ...; pooled out-of-fold figures),
and leave-one-site-out (train on the other sites, test on one). Prints, for dose candidates, within-20%, MAE and
the accuracy of the predicted dose's class; for class candidates, 3-class accuracy and top-label ECE; each per
race too. The tables in `pgx_pipeline.model.train`'s docstring come from this script. Takes ~30 s.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from pgx_pipeline.model import iwpc
from pgx_pipeline.model import train as T
from pgx_pipeline.model.evaluate import reliability, site_split
from pgx_pipeline.model.features import Feature
from pgx_pipeline.model.registry import WARFARIN_MODEL

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IWPC = REPO.parent / "shared" / "training" / "iwpc_warfarin" / "iwpc_warfarin_dev.xlsx"
RACES = ("White", "Asian", "Black or African American", "Unknown")
SPEC = WARFARIN_MODEL.spec
SPEC_WITH_FORMULA = replace(SPEC, features=SPEC.features + (Feature("iwpc_sqrt", "numeric", "sqrt(IWPC formula dose)"),))


def _blend(formula: np.ndarray, other: np.ndarray, w: float) -> np.ndarray:
    return np.square(w * np.sqrt(formula) + (1 - w) * np.sqrt(other))


def candidates(x_tr, y_tr, x_te) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Dose predictions and class probabilities of every candidate, fitted on (x_tr, y_tr)."""
    fill = iwpc.height_weight_fill(x_tr)
    f_tr = iwpc.iwpc_formula_dose(x_tr, "pharmacogenetic", fill)
    f_te = iwpc.iwpc_formula_dose(x_te, "pharmacogenetic", fill)
    lin = T.build_linear(SPEC).fit(x_tr, y_tr)
    xs_tr, xs_te = x_tr.assign(iwpc_sqrt=np.sqrt(f_tr)), x_te.assign(iwpc_sqrt=np.sqrt(f_te))
    dose = {"iwpc formula alone": f_te, "least squares sqrt (linear_refitted)": lin.predict(x_te)}
    for w in (0.3, 0.4, 0.5):
        dose[f"formula + least squares, w {w}"] = _blend(f_te, dose["least squares sqrt (linear_refitted)"], w)
    dose["least squares + formula as feature"] = T.build_linear(SPEC_WITH_FORMULA).fit(xs_tr, y_tr).predict(xs_te)
    chosen = T.build_regressor(SPEC).fit(x_tr, y_tr)
    dose["chosen (build_regressor)"] = chosen.predict(x_te)

    c_tr = T.dose_class(y_tr)
    logistic = T.build_classifier(SPEC, chosen).features_model
    proba = {"multinomial logistic": logistic.fit(x_tr, c_tr).predict_proba(x_te)}
    b_tr, b_te = (np.sqrt(chosen.predict(x)).reshape(-1, 1) for x in (x_tr, x_te))
    proba["logistic on the blended dose"] = LogisticRegression().fit(b_tr, c_tr).predict_proba(b_te)
    proba["chosen (build_classifier)"] = T.build_classifier(SPEC, chosen).fit(x_tr, c_tr).predict_proba(x_te)
    proba["class of the blended dose"] = np.eye(3)[T.dose_class(dose["chosen (build_regressor)"])]
    return dose, proba


def run(x, y, splits) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Pooled out-of-split predictions over `splits` (a list of lists of (train, test) index pairs, one per repeat)."""
    dose, proba = {}, {}
    for rep, folds in enumerate(splits):
        for tr, te in folds:
            d, p = candidates(x.iloc[tr], y[tr], x.iloc[te])
            for k, v in d.items():
                dose.setdefault(k, np.zeros((len(splits), len(y))))[rep, te] = v
            for k, v in p.items():
                proba.setdefault(k, np.zeros((len(splits), len(y), 3)))[rep, te] = v
    reps = len(splits)
    return ({k: v.reshape(-1) for k, v in dose.items()}, {k: v.reshape(-1, 3) for k, v in proba.items()},
            np.tile(y, reps), np.tile(x["race"].to_numpy(), reps))


def print_tables(title: str, dose: dict, proba: dict, y: np.ndarray, race: np.ndarray) -> None:
    true_class = T.dose_class(y)
    within = lambda p, m: 100 * np.mean(np.abs(p[m] - y[m]) <= 0.2 * y[m])  # noqa: E731
    print(f"\n## {title}\n\n| dose candidate | within 20% | MAE | class accuracy | " + " | ".join(RACES) + " |")
    print("|---" * (4 + len(RACES)) + "|")
    everyone = np.ones(len(y), dtype=bool)
    for name, p in dose.items():
        per_race = " | ".join(f"{within(p, race == r):.1f}" for r in RACES)
        print(f"| {name} | {within(p, everyone):.2f} | {np.mean(np.abs(p - y)):.3f} | "
              f"{100 * np.mean(T.dose_class(p) == true_class):.2f} | {per_race} |")
    print("\n| class candidate | accuracy | ECE | " + " | ".join(RACES) + " |")
    print("|---" * (3 + len(RACES)) + "|")
    for name, p in proba.items():
        hit = p.argmax(axis=1) == true_class
        per_race = " | ".join(f"{100 * hit[race == r].mean():.1f}" for r in RACES)
        print(f"| {name} | {100 * hit.mean():.2f} | {reliability(p, true_class)['ece']:.3f} | {per_race} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iwpc", type=Path, default=DEFAULT_IWPC)
    ap.add_argument("--seed", type=int, default=20090219, help="the training seed whose held-out part is left out")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    cohort = WARFARIN_MODEL.read_cohort(args.iwpc)
    train = ~site_split(cohort, args.seed)
    x, y = cohort.x[train].reset_index(drop=True), cohort.dose[train]
    sites = cohort.groups[train].reset_index(drop=True)
    print(f"training part: {len(y)} patients, {sites.nunique()} sites (held-out part of seed {args.seed} not read)")
    cv = [list(StratifiedKFold(5, shuffle=True, random_state=1000 + r).split(x, sites)) for r in range(args.repeats)]
    print_tables(f"5-fold site-stratified CV x {args.repeats}", *run(x, y, cv))
    loso = [[(np.flatnonzero(sites != s), np.flatnonzero(sites == s)) for s in sorted(sites.unique())]]
    print_tables("leave-one-site-out", *run(x, y, loso))


if __name__ == "__main__":
    main()
