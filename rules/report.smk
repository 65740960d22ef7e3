# Clinician reports: one HTML + JSON (+ outside-call TSV and FHIR bundle) per sample and input, then the cohort summary.
# The report code lives in pgx_pipeline.report; these rules only name files.


rule render_patient_reports:
    input:
        groups=ingest_groups,
        calls=stage_file("calls"),
        phenotypes=stage_file("phenotypes"),
        guidance=stage_file("guidance"),
        predictions=stage_file("predictions"),
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
        # only inputs of one part; reports/cohort_summary.html must never look like a patient-report folder
        input_id="|".join(
            i.replace(".", r"\.") for i in INPUT_IDS if len(PLANS[i].parts) == 1
        )
        or "(?!)",
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=scaled(400, 550),
        runtime=minutes(30),
    params:
        code=code_fingerprint("report"),
        results=subpath(input.calls, ancestor=3),
        part=part_of,
        date=config.get("report_date") or "",
    shell:
        "pgx-pipeline report patients --results {params.results} --input-id {wildcards.input_id} "
        "--part {params.part} --out {output} --report-date '{params.date}' --fhir 2> {log}"


# An input of several parts gets one report folder per part: reports/<input>/<part>/.
use rule render_patient_reports as render_patient_reports_part with:
    output:
        report(
            directory(f"{RESULTS}/reports/{{input_id}}/{{part}}"),
            patterns=["{name}.html"],
            caption="../report/patient_reports.rst",
            category="Patient reports",
            subcategory="{input_id}",
            labels={"input": "{input_id}", "report": "{name}"},
        ),
    log:
        f"{RESULTS}/logs/report/{{input_id}}/{{part}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/report/{{input_id}}/{{part}}.tsv"
    wildcard_constraints:
        input_id="|".join(
            i.replace(".", r"\.") for i in INPUT_IDS if len(PLANS[i].parts) > 1
        )
        or "(?!)",


rule summarize_cohort:
    input:
        reports=report_dirs(),
        calls=all_parts("calls"),
        phenotypes=all_parts("phenotypes"),
        guidance=all_parts("guidance"),
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
    benchmark:
        f"{RESULTS}/benchmarks/report/summarize_cohort.tsv"
    conda:
        "../envs/pgx.yaml"
    resources:
        mem_mb=scaled(1000),
        runtime=minutes(30),
    params:
        code=code_fingerprint("report"),
        results=subpath(output.summary, ancestor=2),
        ids=" ".join(f"--input-id '{i}'" for i in INPUT_IDS),
        out=subpath(output.summary, parent=True),
        date=config.get("report_date") or "",
    shell:
        "pgx-pipeline report cohort --results {params.results} {params.ids} --out {params.out} "
        "--report-date '{params.date}' 2> {log}"
