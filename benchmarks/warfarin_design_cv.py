"""How the warfarin model's design was chosen: candidates scored on the training 80% only, by CV and by site.

    python benchmarks/warfarin_design_cv.py [--iwpc ../shared/training/iwpc_warfarin/iwpc_warfarin_dev.xlsx]
        [--seed 20090219] [--repeats 3] [--learning-curve]

The held-out 20% is the one `pgx-pipeline model train --seed SEED` holds out and is never read here. On the rest:
5-fold CV stratified by site, repeated --repeats times (fold seeds 1000, 1001, ...; pooled out-of-fold figures),
and leave-one-site-out (train on the other sites, test on one). Prints, for dose candidates, within-20%, MAE and
the accuracy of the predicted dose's class; for class candidates, 3-class accuracy and top-label ECE; each per
race too. It reproduces the rows of the tables in `pgx_pipeline.model.train`'s docstring for the candidates
built from shipped code; the rows for designs since removed (the boosting vote, ridge on the formula's residual)
were scored by the same protocol in the commit that replaced them (0fdf6c2). Takes ~30 s.

--learning-curve instead asks whether more patients would move the figures: the shipped design and the refitted
linear reference trained on 64%, 80% and 100% of each CV training fold (same test folds), 5 x 5-fold CV.

--repeated-splits N instead asks how often a held-out part of this size shows the model ahead of the references:
N fresh site-stratified 80/20 splits of the whole cohort (seeds 0..N-1; the shipped design refitted on each
training part, nothing tuned), the paired differences on each held-out part, and per race whether the model is
not worse than the IWPC formula. Not a selection step: it measures the noise of the single frozen split.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from pgx_pipeline.model import train as T
from pgx_pipeline.model.classes import IWPC_CLASSES
from pgx_pipeline.model.evaluate import reliability, site_split
from pgx_pipeline.model.features import Feature
from pgx_pipeline.model.registry import WARFARIN_MODEL

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IWPC = REPO.parent / "shared" / "training" / "iwpc_warfarin" / "iwpc_warfarin_dev.xlsx"
RACES = ("White", "Asian", "Black or African American", "Unknown")
SPEC = WARFARIN_MODEL.spec
dose_class = IWPC_CLASSES.of
SPEC_WITH_FORMULA = replace(SPEC, features=SPEC.features + (Feature("iwpc_sqrt", "numeric", "sqrt(IWPC formula dose)"),))


def candidates(x_tr, y_tr, x_te) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Dose predictions and class probabilities of every candidate, fitted on (x_tr, y_tr).

    The formula/refit blends are the shipped `build_regressor` at other weights: 1.0 is the formula alone (with its
    height/weight fill learned on x_tr), 0.0 least squares alone (= the linear_refitted reference).
    """
    blend = {w: T.build_regressor(WARFARIN_MODEL).set_params(weight=w).fit(x_tr, y_tr) for w in (1.0, 0.0, 0.3, 0.4, 0.5)}
    dose = {"iwpc formula alone": blend[1.0].predict(x_te),
            "least squares sqrt (linear_refitted)": blend[0.0].predict(x_te)}
    for w in (0.3, 0.4):
        dose[f"formula + least squares, w {w}"] = blend[w].predict(x_te)
    dose["formula + least squares, w 0.5 (chosen, build_regressor)"] = blend[0.5].predict(x_te)
    xs_tr = x_tr.assign(iwpc_sqrt=np.sqrt(blend[1.0].published_dose(x_tr)))
    xs_te = x_te.assign(iwpc_sqrt=np.sqrt(blend[1.0].published_dose(x_te)))
    dose["least squares + formula as feature"] = T.build_linear(SPEC_WITH_FORMULA).fit(xs_tr, y_tr).predict(xs_te)

    chosen = blend[0.5]
    c_tr = dose_class(y_tr)
    classifier = T.build_classifier(SPEC, chosen, WARFARIN_MODEL.dose_view_only)
    proba = {"multinomial logistic": clone(classifier.features_model).fit(x_tr, c_tr).predict_proba(x_te)}
    b_tr, b_te = (np.sqrt(chosen.predict(x)).reshape(-1, 1) for x in (x_tr, x_te))
    proba["logistic on the blended dose"] = LogisticRegression().fit(b_tr, c_tr).predict_proba(b_te)
    proba["chosen (build_classifier)"] = classifier.fit(x_tr, c_tr).predict_proba(x_te)
    proba["class of the blended dose"] = np.eye(3)[dose_class(chosen.predict(x_te))]
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
    true_class = dose_class(y)
    within = lambda p, m: 100 * np.mean(np.abs(p[m] - y[m]) <= 0.2 * y[m])  # noqa: E731
    print(f"\n## {title}\n\n| dose candidate | within 20% | MAE | class accuracy | " + " | ".join(RACES) + " |")
    print("|---" * (4 + len(RACES)) + "|")
    everyone = np.ones(len(y), dtype=bool)
    for name, p in dose.items():
        per_race = " | ".join(f"{within(p, race == r):.1f}" for r in RACES)
        print(f"| {name} | {within(p, everyone):.2f} | {np.mean(np.abs(p - y)):.3f} | "
              f"{100 * np.mean(dose_class(p) == true_class):.2f} | {per_race} |")
    print("\n| class candidate | accuracy | ECE | " + " | ".join(RACES) + " |")
    print("|---" * (3 + len(RACES)) + "|")
    for name, p in proba.items():
        hit = p.argmax(axis=1) == true_class
        per_race = " | ".join(f"{100 * hit[race == r].mean():.1f}" for r in RACES)
        print(f"| {name} | {100 * hit.mean():.2f} | {reliability(p, true_class)['ece']:.3f} | {per_race} |")


def learning_curve(x, y, sites, fractions=(0.64, 0.8, 1.0), repeats: int = 5) -> None:
    """Within-20% and accuracy of the shipped design and the linear refit against the number of training patients."""
    true_class = dose_class(y)
    print("\n## learning curve (5-fold site-stratified CV x 5; each training fold subsampled)\n")
    print("| training patients per fold | chosen: within 20% | chosen: accuracy | linear_refitted: within 20% | "
          "linear_refitted: accuracy |\n|---|---|---|---|---|")
    for frac in fractions:
        hits = {k: [] for k in ("w", "a", "lw", "la")}
        n_train = 0
        for rep in range(repeats):
            rng = np.random.default_rng(rep)
            for tr, te in StratifiedKFold(5, shuffle=True, random_state=1000 + rep).split(x, sites):
                sub = tr if frac == 1.0 else rng.choice(tr, int(len(tr) * frac), replace=False)
                n_train = len(sub)
                fitted = T.fit_dose_model(WARFARIN_MODEL, x.iloc[sub], y[sub], sites.iloc[sub], version="design",
                                          with_interval=False)
                reg, clf = fitted.regressor, fitted.classifier
                lin = reg.refit_.predict(x.iloc[te])
                hits["w"].append(np.abs(reg.predict(x.iloc[te]) - y[te]) <= 0.2 * y[te])
                hits["a"].append(clf.predict(x.iloc[te]) == true_class[te])
                hits["lw"].append(np.abs(lin - y[te]) <= 0.2 * y[te])
                hits["la"].append(dose_class(lin) == true_class[te])
        w, a, lw, la = (100 * np.concatenate(hits[k]).mean() for k in ("w", "a", "lw", "la"))
        print(f"| {n_train:,} | {w:.2f} | {a:.2f} | {lw:.2f} | {la:.2f} |")


def repeated_splits(cohort, n_splits: int) -> None:
    """Model minus each reference on N random site-stratified 80/20 splits of the whole cohort."""
    from sklearn.model_selection import train_test_split

    refs = {r.name: r for r in WARFARIN_MODEL.references}
    rows = []
    idx = np.arange(len(cohort.dose))
    for seed in range(n_splits):
        tr, te = train_test_split(idx, test_size=0.2, stratify=cohort.groups, random_state=seed)
        x_tr, x_te, y_tr, y_te = cohort.x.iloc[tr], cohort.x.iloc[te], cohort.dose[tr], cohort.dose[te]
        fitted = T.fit_dose_model(WARFARIN_MODEL, x_tr, y_tr, cohort.groups.iloc[tr], version="design",
                                  with_interval=False)
        reg, clf = fitted.regressor, fitted.classifier
        true = dose_class(y_te)
        hits = {"model": (np.abs(reg.predict(x_te) - y_te) <= 0.2 * y_te, clf.predict(x_te) == true,
                          np.abs(reg.predict(x_te) - y_te))}
        for name in ("iwpc_pharmacogenetic", "linear_refitted"):
            pred = refs[name].fit(x_tr, y_tr)(x_te)
            hits[name] = (np.abs(pred - y_te) <= 0.2 * y_te, dose_class(pred) == true, np.abs(pred - y_te))
        race = x_te["race"].to_numpy()
        row = {}
        for name in ("iwpc_pharmacogenetic", "linear_refitted"):
            row[f"w20 vs {name}"] = 100 * (hits["model"][0].mean() - hits[name][0].mean())
            row[f"acc vs {name}"] = 100 * (hits["model"][1].mean() - hits[name][1].mean())
        f = hits["iwpc_pharmacogenetic"]
        for who in ("model", "linear_refitted"):
            ok = {(r, m): (hits[who][m][race == r].mean() <= f[m][race == r].mean() if m == 2
                           else hits[who][m][race == r].mean() >= f[m][race == r].mean())
                  for r in RACES if (race == r).any() for m in range(3)}
            row[f"{who} not worse than formula"] = ok
        rows.append(row)
    print(f"\n## {n_splits} site-stratified 80/20 splits of all {len(idx):,} patients (model minus reference, points)\n")
    print("| comparison | mean | sd | model ahead | tie | model behind |\n|---|---|---|---|---|---|")
    for key in [k for k in rows[0] if k.startswith(("w20", "acc"))]:
        d = np.array([r[key] for r in rows])
        print(f"| {key} | {d.mean():+.2f} | {d.std(ddof=1):.2f} | {(d > 1e-9).mean():.0%} | "
              f"{(np.abs(d) <= 1e-9).mean():.0%} | {(d < -1e-9).mean():.0%} |")
    print("\nShare of splits in which each rule is not worse than the IWPC formula (within 20% / accuracy / MAE):\n")
    print("| race | model | linear_refitted |\n|---|---|---|")
    for r in RACES:
        cells = []
        for who in ("model", "linear_refitted"):
            oks = [row[f"{who} not worse than formula"] for row in rows]
            cells.append(" / ".join(f"{np.mean([o[(r, m)] for o in oks if (r, m) in o]):.0%}" for m in range(3)))
        print(f"| {r} | {cells[0]} | {cells[1]} |")
    for who in ("model", "linear_refitted"):
        every = np.mean([all(row[f"{who} not worse than formula"].values()) for row in rows])
        print(f"\n{who} not worse than the formula in every race on all three: {every:.0%} of splits")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iwpc", type=Path, default=DEFAULT_IWPC)
    ap.add_argument("--seed", type=int, default=20090219, help="the training seed whose held-out part is left out")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--learning-curve", action="store_true", help="only the learning curve")
    ap.add_argument("--repeated-splits", type=int, default=0, metavar="N",
                    help="only the N-random-split comparison with the references")
    args = ap.parse_args()

    cohort = WARFARIN_MODEL.read_cohort(args.iwpc)
    if args.repeated_splits:
        repeated_splits(cohort, args.repeated_splits)
        return
    train = ~site_split(cohort, args.seed)
    x, y = cohort.x[train].reset_index(drop=True), cohort.dose[train]
    sites = cohort.groups[train].reset_index(drop=True)
    print(f"training part: {len(y)} patients, {sites.nunique()} sites (held-out part of seed {args.seed} not read)")
    if args.learning_curve:
        learning_curve(x, y, sites)
        return
    cv = [list(StratifiedKFold(5, shuffle=True, random_state=1000 + r).split(x, sites)) for r in range(args.repeats)]
    print_tables(f"5-fold site-stratified CV x {args.repeats}", *run(x, y, cv))
    loso = [[(np.flatnonzero(sites != s), np.flatnonzero(sites == s)) for s in sorted(sites.unique())]]
    print_tables("leave-one-site-out", *run(x, y, loso))


if __name__ == "__main__":
    main()
