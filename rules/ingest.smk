# One job per work unit and gene group: an input's group writes every sample part of its genes; a batch of small
# inputs is one job over all of them (pgx_pipeline.sharding).


rule ingest_vcf:
    input:
        vcfs=input_vcfs,
        positions=kb_table("positions"),
        genes=kb_table("genes"),
    output:
        directory(f"{RESULTS}/ingest/{{unit}}/{{group}}"),
    log:
        f"{RESULTS}/logs/ingest/{{unit}}/{{group}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest/{{unit}}/{{group}}.tsv"
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=scaled(1500),
        runtime=minutes(30),
    params:
        code=code_fingerprint("ingest"),
        target=ingest_target_args,
        absent=absent_flag,
        build=build_arg,
        sheet=sample_sheet_arg,
        kb=subpath(input.positions, parent=True),
    shell:
        "pgx-pipeline ingest {params.target} --kb {params.kb} "
        "--out-dir {output} {params.absent} {params.build} {params.sheet} 2> {log}"
