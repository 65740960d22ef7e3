rule assign_phenotypes:
    input:
        calls=f"{RESULTS}/calls/{{input_id}}.parquet",
        functions=kb_table("allele_functions"),
        table=kb_table("diplotype_phenotypes"),
    output:
        f"{RESULTS}/phenotypes/{{input_id}}.parquet",
    log:
        f"{RESULTS}/logs/phenotype/{{input_id}}.log",
    conda:
        "../envs/pgx.yaml"
    params:
        kb=subpath(input.functions, parent=True),
    shell:
        "pgx-pipeline phenotype --calls {input.calls} --kb {params.kb} --out {output} 2> {log}"
