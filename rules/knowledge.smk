# The knowledge base: built from the configured mirror folders, or the one embedded in the package when none of
# them exists (pgx_pipeline.knowledge.embedded says which and why; the log says it too).


rule build_knowledge_base:
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
        data=embedded_fingerprint(embedded_kb_dir()) if KNOWLEDGE.embedded else "",
        command=knowledge_command,
    shell:
        "{params.command} > {log} 2>&1"
