# One job per input and gene group; each writes every sample part of its genes (pgx_pipeline.sharding).


rule ingest_vcf:
    input:
        vcfs=input_vcfs,
        positions=kb_table("positions"),
        genes=kb_table("genes"),
    output:
        directory(f"{RESULTS}/ingest/{{input_id}}/{{group}}"),
    log:
        f"{RESULTS}/logs/ingest/{{input_id}}/{{group}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest/{{input_id}}/{{group}}.tsv"
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=scaled(1500),
        runtime=minutes(30),
    params:
        code=code_fingerprint("ingest"),
        vcfs=vcf_args,
        absent=absent_flag,
        build=build_arg,
        sheet=sample_sheet_arg,
        kb=subpath(input.positions, parent=True),
        group=gene_group_arg,
        parts=n_parts,
    shell:
        "pgx-pipeline ingest --input-id {wildcards.input_id} {params.vcfs} --kb {params.kb} "
        "--gene-group {params.group} --parts {params.parts} "
        "--out-dir {output} {params.absent} {params.build} {params.sheet} 2> {log}"
