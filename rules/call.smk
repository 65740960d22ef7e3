# One job per work unit and sample part, over all gene groups of that part.


rule call_star_alleles:
    input:
        groups=ingest_groups,
        genes=kb_table("genes"),
        positions=kb_table("positions"),
        alleles=kb_table("alleles"),
        functions=kb_table("allele_functions"),
        outside=outside_call_files,
    output:
        f"{RESULTS}/calls/{{unit}}/{{part}}.parquet",
    log:
        f"{RESULTS}/logs/call/{{unit}}/{{part}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/call/{{unit}}/{{part}}.tsv"
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=scaled(400, 300),
        runtime=minutes(20),
    params:
        code=code_fingerprint("call"),
        genotypes=group_part_args("genotypes"),
        samples=group_part_args("samples"),
        outside=outside_call_args,
        sheet=sample_sheet_arg,
        vcfs=vcf_args,
        kb=subpath(input.genes, parent=True),
    shell:
        "pgx-pipeline call {params.genotypes} {params.samples} --kb {params.kb} "
        "--out {output} {params.outside} {params.sheet} {params.vcfs} 2> {log}"
