"""`pgx-pipeline model ...`: train a dose model and apply it (the commands the model rules call)."""

from __future__ import annotations

import click

from .errors import PgxInputError, user_errors

# A work unit of several small inputs (pgx_pipeline.sharding) names each with its file: sample-sheet rows apply per input.
member_option = click.option("--member", "members", multiple=True, nargs=2, metavar="INPUT_ID VCF",
                             help="An input of this work unit and its VCF; repeat for each input of the unit.")


def members_vcfs(members) -> dict[str, list[str]]:
    return {input_id: [vcf] for input_id, vcf in members}


@click.group()
def model() -> None:
    """Trained drug-response models (one per drug in pgx_pipeline.model.registry): train, evaluate, predict."""


@model.command()
@click.option("--training-file", "--iwpc", "training_file", required=True, type=click.Path(dir_okay=False),
              help="The drug's training cohort (warfarin: the IWPC workbook, PharmGKB PS206767); read in place, "
                   "never copied.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for model.skops, model_card.json/html, evaluation.json, heldout_ids.txt.")
@click.option("--seed", default=0, show_default=True, type=int, help="random_state for the split and the models.")
@click.option("--heldout", "heldout_file", type=click.Path(dir_okay=False),
              help="Reuse the held-out ids of an earlier run (its heldout_ids.txt) instead of a new split.")
@click.option("--drug", default="warfarin", show_default=True, help="A drug model of the registry.")
@click.option("--no-validation", is_flag=True, help="Skip CV and leave-one-site-out (held-out figures only).")
@user_errors
def train(training_file, out_dir, seed, heldout_file, drug, no_validation):
    """Train, validate and save a dose model with its card."""
    from .model.workflow import train_to_dir

    evaluation = train_to_dir(training_file, out_dir, drug=drug, seed=seed, heldout_file=heldout_file,
                              validate=not no_validation)
    m = evaluation["heldout"]["methods"]
    for name in m:
        click.echo(f"{name:22s} within20={m[name]['within_20pct']:.3f} mae={m[name]['mae']:.2f} "
                   f"{evaluation['dose_unit']} accuracy={m[name]['accuracy']:.3f}", err=True)


@model.command()
@click.option("--model", "model_paths", multiple=True, type=click.Path(dir_okay=False),
              help="model.skops to apply; repeat for several drugs (--phenotypes). None: an empty table.")
@click.option("--iwpc", "--cohort", "cohort_file", type=click.Path(dir_okay=False),
              help="Score an external cohort in the model's cohort format (warfarin: the IWPC workbook), one row "
                   "per patient.")
@click.option("--phenotypes", type=click.Path(dir_okay=False), help="The pipeline's phenotypes Parquet table.")
@click.option("--sample-sheet", type=click.Path(dir_okay=False),
              help="TSV with sample_id, age, height_cm, weight_kg, race, amiodarone, enzyme_inducer.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Predictions Parquet to write.")
@click.option("--vcf", "vcfs", multiple=True, help="The input's VCF(s): sample-sheet rows naming other VCFs do not apply; without it, no row naming a VCF applies.")
@member_option
@user_errors
def predict(model_paths, cohort_file, phenotypes, sample_sheet, out, vcfs, members):
    """Predict dose class and dose for pipeline samples (--phenotypes) or a cohort file (--iwpc / --cohort)."""
    from .model.predict import predict_cohort_files, predict_pipeline_files
    from .model.store import load_model

    if bool(cohort_file) == bool(phenotypes):
        raise PgxInputError("give exactly one of --iwpc FILE or --phenotypes FILE")
    models = [load_model(p) for p in model_paths]
    drugs = [m.drug for m in models]
    if len(set(drugs)) != len(drugs):
        raise PgxInputError(f"two --model files for the same drug ({', '.join(drugs)}); give one per drug")
    if cohort_file:
        if len(models) != 1:
            raise PgxInputError("scoring a cohort file needs exactly one --model")
        pred = predict_cohort_files(models[0], cohort_file, out)
    else:
        pred = predict_pipeline_files(models, phenotypes, sample_sheet, out, members_vcfs(members) or list(vcfs))
    n_ok = int((pred["status"] == "predicted").sum())
    click.echo(f"{n_ok} of {len(pred)} predicted -> {out}", err=True)


@model.command()
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False), help="model.skops to validate.")
@click.option("--iwpc", "--cohort", "cohort_file", required=True, type=click.Path(dir_okay=False),
              help="A labelled cohort in the model's training format (warfarin: an IWPC workbook with the dose).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Validation figures (JSON) to write.")
@click.option("--seed", default=0, show_default=True, type=int, help="random_state of the bootstrap intervals.")
@user_errors
def validate(model_path, cohort_file, out, seed):
    """Score a trained model on another site's labelled patients, without retraining: the held-out figures."""
    import json
    from pathlib import Path

    from .model.evaluate import validate_on_cohort
    from .model.store import load_model
    from .report.files import write_text_atomic

    result = validate_on_cohort(load_model(model_path), cohort_file, random_state=seed)
    write_text_atomic(Path(out), json.dumps(result, indent=2) + "\n")
    v = result["validation"]
    click.echo(f"{v['n']} of {result['cohort']['rows_in_file']} rows pass the cohort filter", err=True)
    for name, m in v["methods"].items():
        click.echo(f"{name:22s} within20={m['within_20pct']:.3f} mae={m['mae']:.2f} {result['dose_unit']} "
                   f"accuracy={m['accuracy']:.3f}", err=True)
    click.echo("targets: " + ", ".join(f"{k}={'yes' if ok else 'no'}" for k, ok in v["targets"].items()), err=True)


@model.command()
@click.option("--drug", default="warfarin", show_default=True, help="A drug model of the registry.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to copy it into.")
@click.option("--why", default="", help="Reason printed with the model version (the workflow says why).")
@user_errors
def install(drug, out_dir, why):
    """Copy the model embedded in the package (skops, card, evaluation, provenance) into a folder."""
    import json
    from pathlib import Path

    from .model.embedded import install_embedded_model

    install_embedded_model(drug, out_dir)
    prov = json.loads((Path(out_dir) / "provenance.json").read_text(encoding="utf-8"))
    click.echo(f"pgx-pipeline: {why + '; ' if why else ''}embedded model {prov['model_version']} "
               f"(trained on {prov['training_file']} sha256 {prov['training_sha256'][:12]}..., "
               f"{prov['training_data'].get('dataset', '')})", err=True)


@model.command()
@click.option("--drug", default="warfarin", show_default=True, help="A drug model of the registry.")
@user_errors
def info(drug):
    """Version, training data, licence and held-out figures of the model embedded in the package."""
    import json

    from .model.embedded import embedded_model_dir

    folder = embedded_model_dir(drug)
    if folder is None:
        raise PgxInputError(f"no embedded {drug} model in this pgx-pipeline")
    prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    h = prov["heldout"]
    click.echo(f"model:          {prov['model_version']} (embedded; {prov['made_by']})")
    click.echo(f"training data:  {prov['training_data'].get('dataset', '')}")
    click.echo(f"                {prov['training_file']} sha256 {prov['training_sha256']}")
    click.echo(f"licence:        {prov['training_data'].get('licence', 'unknown')}")
    click.echo(f"held-out:       n={h['n']} within 20%={h['within_20pct']:.3f} accuracy={h['accuracy']:.3f} "
               f"MAE={h['mae']:.2f} {h['dose_unit']} (evaluation.json, model_card.html)")
