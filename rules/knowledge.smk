rule fetch_pharmcat_release:
    output:
        directory(f"{RESULTS}/knowledge/release"),
    params:
        url=config["knowledge"].get("release", {}).get("url", ""),
        sha256=config["knowledge"].get("release", {}).get("sha256", ""),
    conda:
        "../envs/pgx.yaml"
    log:
        f"{RESULTS}/logs/knowledge/fetch_pharmcat_release.log",
    shell:
        "pgx-pipeline knowledge fetch --url '{params.url}' --sha256 '{params.sha256}' --out {output} 2> {log}"


rule build_knowledge_base:
    input:
        [] if config["knowledge"].get("sources") else f"{RESULTS}/knowledge/release",
    output:
        [kb_table(name) for name in KB_TABLES],
    params:
        sources=knowledge_source_args(),
        out=f"{RESULTS}/knowledge",
    conda:
        "../envs/pgx.yaml"
    log:
        f"{RESULTS}/logs/knowledge/build_knowledge_base.log",
    benchmark:
        f"{RESULTS}/benchmarks/build_knowledge_base.tsv"
    shell:
        "pgx-pipeline knowledge build {params.sources} --out {params.out} > {log} 2>&1"
