rule call_star_alleles:
    input:
        genotypes=f"{RESULTS}/ingest/{{input_id}}/genotypes.parquet",
        samples=f"{RESULTS}/ingest/{{input_id}}/samples.parquet",
        kb=[kb_table(name) for name in ("genes", "positions", "alleles")],
        outside=outside_call_files,
    output:
        f"{RESULTS}/calls/{{input_id}}.parquet",
    params:
        outside=outside_call_args,
        sheet=sample_sheet_arg,
        kb=f"{RESULTS}/knowledge",
    resources:
        mem_mb=2000,
    conda:
        "../envs/pgx.yaml"
    log:
        f"{RESULTS}/logs/call/{{input_id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/call/{{input_id}}.tsv"
    shell:
        "pgx-pipeline call --genotypes {input.genotypes} --samples {input.samples} --kb {params.kb} "
        "--out {output} {params.outside} {params.sheet} 2> {log}"
