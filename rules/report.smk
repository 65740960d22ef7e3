# Clinician reports: one HTML + JSON (+ outside-call TSV) per sample and input, then the cohort summary.
# The report code lives in pgx_pipeline.report; these rules only name files.


rule render_patient_reports:
    input:
        samples=f"{RESULTS}/ingest/{{input_id}}/samples.parquet",
        genotypes=f"{RESULTS}/ingest/{{input_id}}/genotypes.parquet",
        calls=f"{RESULTS}/calls/{{input_id}}.parquet",
        phenotypes=f"{RESULTS}/phenotypes/{{input_id}}.parquet",
        guidance=f"{RESULTS}/guidance/{{input_id}}.parquet",
        predictions=f"{RESULTS}/predictions/{{input_id}}.parquet",
        kb=[kb_table(name) for name in KB_TABLES],
    output:
        report(
            directory(f"{RESULTS}/reports/{{input_id}}"),
            patterns=["{name}.html"],
            caption="../report/patient_reports.rst",
            category="Patient reports",
            subcategory="{input_id}",
            labels={"input": "{input_id}", "report": "{name}"},
        ),
    log:
        f"{RESULTS}/logs/report/{{input_id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/report/{{input_id}}.tsv"
    wildcard_constraints:
        # reports/cohort_summary.html must never look like a patient-report folder
        input_id="|".join(i.replace(".", r"\.") for i in INPUT_IDS) or "(?!)",
    conda:
        "../envs/pgx.yaml"
    params:
        results=subpath(input.samples, ancestor=3),
        date=config.get("report_date") or "",
    shell:
        "pgx-pipeline report patients --results {params.results} --input-id {wildcards.input_id} "
        "--out {output} --report-date '{params.date}' 2> {log}"


rule summarize_cohort:
    input:
        reports=[f"{RESULTS}/reports/{i}" for i in INPUT_IDS],
        samples=[f"{RESULTS}/ingest/{i}/samples.parquet" for i in INPUT_IDS],
        calls=[f"{RESULTS}/calls/{i}.parquet" for i in INPUT_IDS],
        phenotypes=[f"{RESULTS}/phenotypes/{i}.parquet" for i in INPUT_IDS],
        guidance=[f"{RESULTS}/guidance/{i}.parquet" for i in INPUT_IDS],
        kb=[kb_table(name) for name in KB_TABLES],
    output:
        summary=report(
            f"{RESULTS}/reports/cohort_summary.html",
            caption="../report/cohort_summary.rst",
            category="Cohort",
        ),
        calls_only=report(
            f"{RESULTS}/reports/calls_only.tsv",
            caption="../report/calls_only.rst",
            category="Cohort",
        ),
    log:
        f"{RESULTS}/logs/report/summarize_cohort.log",
    conda:
        "../envs/pgx.yaml"
    params:
        results=subpath(output.summary, ancestor=2),
        ids=" ".join(f"--input-id '{i}'" for i in INPUT_IDS),
        out=subpath(output.summary, parent=True),
        date=config.get("report_date") or "",
    shell:
        "pgx-pipeline report cohort --results {params.results} {params.ids} --out {params.out} "
        "--report-date '{params.date}' 2> {log}"
