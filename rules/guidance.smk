rule match_guidance:
    input:
        phenotypes=f"{RESULTS}/phenotypes/{{unit}}/{{part}}.parquet",
        guidance=kb_table("guidance"),
        messages=kb_table("messages"),
        fda=kb_table("fda_associations"),
    output:
        f"{RESULTS}/guidance/{{unit}}/{{part}}.parquet",
    log:
        f"{RESULTS}/logs/guidance/{{unit}}/{{part}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/guidance/{{unit}}/{{part}}.tsv"
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=scaled(500, 400),
        runtime=minutes(20),
    params:
        code=code_fingerprint("guidance"),
        kb=subpath(input.guidance, parent=True),
    shell:
        "pgx-pipeline guidance --phenotypes {input.phenotypes} --kb {params.kb} --out {output} 2> {log}"
