rule fetch_pharmcat_release:
    output:
        directory(f"{RESULTS}/knowledge/release"),
    log:
        f"{RESULTS}/logs/knowledge/fetch_pharmcat_release.log",
    conda:
        "../envs/pgx.yaml"
    params:
        url=config["knowledge"].get("release", {}).get("url", ""),
        sha256=config["knowledge"].get("release", {}).get("sha256", ""),
    shell:
        "pgx-pipeline knowledge fetch --url '{params.url}' --sha256 '{params.sha256}' --out {output} 2> {log}"


rule build_knowledge_base:
    input:
        [] if config["knowledge"].get("sources") else f"{RESULTS}/knowledge/release",
    output:
        [kb_table(name) for name in KB_TABLES],
    log:
        f"{RESULTS}/logs/knowledge/build_knowledge_base.log",
    benchmark:
        f"{RESULTS}/benchmarks/build_knowledge_base.tsv"
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=scaled(1000),
        runtime=minutes(10),
    params:
        code=code_fingerprint("knowledge"),
        sources=knowledge_source_args(),
        fda=fda_associations_arg(),
        out=subpath(output[0], parent=True),
    shell:
        "pgx-pipeline knowledge build {params.sources} {params.fda} --out {params.out} > {log} 2>&1"
