# Warfarin dose model: trained on the IWPC workbook named in config (read in place, never copied),
# applied to each input's phenotypes with the sample sheet's covariates.


rule train_warfarin_model:
    input:
        config["training"]["iwpc_xlsx"],
    output:
        model=f"{RESULTS}/model/warfarin/model.skops",
        card_json=f"{RESULTS}/model/warfarin/model_card.json",
        card_html=f"{RESULTS}/model/warfarin/model_card.html",
        evaluation=f"{RESULTS}/model/warfarin/evaluation.json",
        heldout=f"{RESULTS}/model/warfarin/heldout_ids.txt",
    log:
        f"{RESULTS}/logs/model/train_warfarin_model.log",
    benchmark:
        f"{RESULTS}/benchmarks/model/train_warfarin_model.tsv"
    conda:
        "../envs/pgx.yaml"
    threads: 1
    resources:
        # measured: 15 s and 283 MB peak with cross-validation and leave-one-site-out
        mem_mb=scaled(1000),
        runtime=minutes(10),
    params:
        seed=config["training"].get("seed", 0),
        out=subpath(output.model, parent=True),
    shell:
        "OMP_NUM_THREADS={threads} pgx-pipeline model train --iwpc '{input}' --out {params.out} "
        "--seed {params.seed} 2> {log}"


rule predict_warfarin_dose:
    input:
        phenotypes=f"{RESULTS}/phenotypes/{{input_id}}/{{part}}.parquet",
        model=rules.train_warfarin_model.output.model,
        sheet=[SAMPLE_SHEET] if SAMPLE_SHEET else [],
    output:
        f"{RESULTS}/predictions/{{input_id}}/{{part}}.parquet",
    log:
        f"{RESULTS}/logs/model/predict_warfarin_dose/{{input_id}}/{{part}}.log",
    conda:
        "../envs/pgx.yaml"
    threads: 1
    resources:
        mem_mb=scaled(500, 150),
        runtime=minutes(10),
    params:
        sheet=sample_sheet_arg,
    shell:
        "pgx-pipeline model predict --model {input.model} --phenotypes {input.phenotypes} "
        "{params.sheet} --out {output} 2> {log}"
