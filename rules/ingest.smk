rule ingest_vcf:
    input:
        vcfs=input_vcfs,
        positions=kb_table("positions"),
        genes=kb_table("genes"),
    output:
        genotypes=f"{RESULTS}/ingest/{{input_id}}/genotypes.parquet",
        samples=f"{RESULTS}/ingest/{{input_id}}/samples.parquet",
    log:
        f"{RESULTS}/logs/ingest/{{input_id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest/{{input_id}}.tsv"
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=2000,
    params:
        vcfs=vcf_args,
        absent=absent_flag,
        sheet=sample_sheet_arg,
        kb=subpath(input.positions, parent=True),
        out=subpath(output.genotypes, parent=True),
    shell:
        "pgx-pipeline ingest --input-id {wildcards.input_id} {params.vcfs} --kb {params.kb} "
        "--out-dir {params.out} {params.absent} {params.sheet} 2> {log}"
