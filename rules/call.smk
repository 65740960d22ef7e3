rule call_star_alleles:
    input:
        genotypes=f"{RESULTS}/ingest/{{input_id}}/genotypes.parquet",
        samples=f"{RESULTS}/ingest/{{input_id}}/samples.parquet",
        genes=kb_table("genes"),
        positions=kb_table("positions"),
        alleles=kb_table("alleles"),
        functions=kb_table("allele_functions"),
        outside=outside_call_files,
    output:
        f"{RESULTS}/calls/{{input_id}}.parquet",
    log:
        f"{RESULTS}/logs/call/{{input_id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/call/{{input_id}}.tsv"
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=2000,
    params:
        outside=outside_call_args,
        sheet=sample_sheet_arg,
        kb=subpath(input.genes, parent=True),
    shell:
        "pgx-pipeline call --genotypes {input.genotypes} --samples {input.samples} --kb {params.kb} "
        "--out {output} {params.outside} {params.sheet} 2> {log}"
