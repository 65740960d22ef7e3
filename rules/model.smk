# Drug-response models: one per `models:` entry of the config, trained on its training file (read in place, never
# copied) when that file is configured and present, otherwise the model embedded in the package is installed (the
# run says which; pgx_pipeline.model.embedded). All of them are applied to each part of each input's phenotypes
# with the sample sheet's covariates. The drug-specific parts live in pgx_pipeline.model; these rules name files.

MODEL_CHOICES = {d: choose_model(d, MODELS_CONFIG[d]) for d in MODEL_DRUGS}
for _choice in MODEL_CHOICES.values():
    print(f"pgx-pipeline: {_choice.note}", file=sys.stderr)
TRAINED_DRUGS = sorted(d for d, c in MODEL_CHOICES.items() if not c.embedded)
EMBEDDED_DRUGS = sorted(d for d, c in MODEL_CHOICES.items() if c.embedded)


rule install_embedded_model:
    output:
        model=f"{RESULTS}/model/{{drug}}/model.skops",
        card_json=f"{RESULTS}/model/{{drug}}/model_card.json",
        card_html=f"{RESULTS}/model/{{drug}}/model_card.html",
        evaluation=f"{RESULTS}/model/{{drug}}/evaluation.json",
        heldout=f"{RESULTS}/model/{{drug}}/heldout_ids.txt",
    log:
        f"{RESULTS}/logs/model/install_embedded_model/{{drug}}.log",
    wildcard_constraints:
        drug="|".join(EMBEDDED_DRUGS) or "(?!)",
    conda:
        "../envs/pgx.yaml"
    params:
        data=lambda wildcards: embedded_fingerprint(embedded_model_dir(wildcards.drug)),
        why=lambda wildcards: MODEL_CHOICES[wildcards.drug].note,
        out=subpath(output.model, parent=True),
    shell:
        "pgx-pipeline model install --drug {wildcards.drug} --out {params.out} --why '{params.why}' 2> {log}"


rule train_model:
    input:
        lambda wildcards: MODEL_CHOICES[wildcards.drug].training_file,
    output:
        model=f"{RESULTS}/model/{{drug}}/model.skops",
        card_json=f"{RESULTS}/model/{{drug}}/model_card.json",
        card_html=f"{RESULTS}/model/{{drug}}/model_card.html",
        evaluation=f"{RESULTS}/model/{{drug}}/evaluation.json",
        heldout=f"{RESULTS}/model/{{drug}}/heldout_ids.txt",
    log:
        f"{RESULTS}/logs/model/train_model/{{drug}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/model/train_model/{{drug}}.tsv"
    wildcard_constraints:
        drug="|".join(TRAINED_DRUGS) or "(?!)",
    conda:
        "../envs/pgx.yaml"
    threads: 1
    resources:
        # measured for warfarin: 15 s and 283 MB peak with cross-validation and leave-one-site-out
        mem_mb=scaled(1000),
        runtime=minutes(10),
    params:
        code=code_fingerprint("model"),
        seed=lambda wildcards: MODELS_CONFIG[wildcards.drug].get("seed", 0),
        out=subpath(output.model, parent=True),
    shell:
        "OMP_NUM_THREADS={threads} pgx-pipeline model train --drug {wildcards.drug} --training-file '{input}' "
        "--out {params.out} --seed {params.seed} 2> {log}"


rule predict_drug_response:
    input:
        phenotypes=f"{RESULTS}/phenotypes/{{unit}}/{{part}}.parquet",
        models=expand(f"{RESULTS}/model/{{drug}}/model.skops", drug=MODEL_DRUGS),
        sheet=[SAMPLE_SHEET] if SAMPLE_SHEET else [],
    output:
        f"{RESULTS}/predictions/{{unit}}/{{part}}.parquet",
    log:
        f"{RESULTS}/logs/model/predict_drug_response/{{unit}}/{{part}}.log",
    conda:
        "../envs/pgx.yaml"
    threads: 1
    resources:
        mem_mb=scaled(500, 150),
        runtime=minutes(10),
    params:
        code=code_fingerprint("model"),
        sheet=sample_sheet_arg,
        vcfs=vcf_args,
        models=lambda wildcards, input: " ".join(f"--model '{m}'" for m in input.models),
    shell:
        "pgx-pipeline model predict {params.models} --phenotypes {input.phenotypes} "
        "{params.sheet} {params.vcfs} --out {output} 2> {log}"
