"""`pgx-pipeline model ...`: train a dose model and apply it (the commands the model rules call)."""

from __future__ import annotations


import click

from .errors import PgxInputError, user_errors


@click.group()
def model() -> None:
    """Trained drug-response models (warfarin): train, evaluate, predict."""


@model.command()
@click.option("--iwpc", "training_file", required=True, type=click.Path(dir_okay=False),
              help="IWPC workbook (PharmGKB PS206767 format) to train on; read in place, never copied.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for model.skops, model_card.json/html, evaluation.json, heldout_ids.txt.")
@click.option("--seed", default=0, show_default=True, type=int, help="random_state for the split and the models.")
@click.option("--heldout", "heldout_file", type=click.Path(dir_okay=False),
              help="Reuse the held-out ids of an earlier run (its heldout_ids.txt) instead of a new split.")
@click.option("--drug", default="warfarin", show_default=True, type=click.Choice(["warfarin"]))
@click.option("--no-validation", is_flag=True, help="Skip CV and leave-one-site-out (held-out figures only).")
@user_errors
def train(training_file, out_dir, seed, heldout_file, drug, no_validation):
    """Train, validate and save a dose model with its card."""
    from .model.workflow import train_to_dir

    evaluation = train_to_dir(training_file, out_dir, drug=drug, seed=seed, heldout_file=heldout_file,
                              validate=not no_validation)
    m = evaluation["heldout"]["methods"]
    for name in m:
        click.echo(f"{name:22s} within20={m[name]['within_20pct']:.3f} mae={m[name]['mae_mg_week']:.2f} "
                   f"accuracy={m[name]['accuracy']:.3f}", err=True)


@model.command()
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False), help="model.skops to apply.")
@click.option("--iwpc", "cohort_file", type=click.Path(dir_okay=False),
              help="Score an external cohort in the IWPC workbook format (one row per patient).")
@click.option("--phenotypes", type=click.Path(dir_okay=False), help="The pipeline's phenotypes Parquet table.")
@click.option("--sample-sheet", type=click.Path(dir_okay=False),
              help="TSV with sample_id, age, height_cm, weight_kg, race, amiodarone, enzyme_inducer.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Predictions Parquet to write.")
@user_errors
def predict(model_path, cohort_file, phenotypes, sample_sheet, out):
    """Predict dose class and weekly dose for pipeline samples (--phenotypes) or a cohort file (--iwpc)."""
    from .model.predict import predict_cohort_files, predict_pipeline_files
    from .model.store import load_model

    if bool(cohort_file) == bool(phenotypes):
        raise PgxInputError("give exactly one of --iwpc FILE or --phenotypes FILE")
    dose_model = load_model(model_path)
    if cohort_file:
        pred = predict_cohort_files(dose_model, cohort_file, out)
    else:
        pred = predict_pipeline_files(dose_model, phenotypes, sample_sheet, out)
    n_ok = int((pred["status"] == "predicted").sum())
    click.echo(f"{n_ok} of {len(pred)} predicted -> {out}", err=True)
