rule assign_phenotypes:
    input:
        calls=f"{RESULTS}/calls/{{unit}}/{{part}}.parquet",
        functions=kb_table("allele_functions"),
        table=kb_table("diplotype_phenotypes"),
    output:
        f"{RESULTS}/phenotypes/{{unit}}/{{part}}.parquet",
    log:
        f"{RESULTS}/logs/phenotype/{{unit}}/{{part}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/phenotype/{{unit}}/{{part}}.tsv"
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=scaled(400, 150),
        runtime=minutes(20),
    params:
        code=code_fingerprint("phenotype"),
        kb=subpath(input.functions, parent=True),
    shell:
        "pgx-pipeline phenotype --calls {input.calls} --kb {params.kb} --out {output} 2> {log}"
