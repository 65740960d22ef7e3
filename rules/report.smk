# Clinician reports: one HTML (+ JSON, outside-call TSV, FHIR bundle: reports.formats) per sample and input, then the
# cohort summary.
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
            directory(f"{RESULTS}/reports/{{unit}}"),
            patterns=["{name}.html"],
            caption="../report/patient_reports.rst",
            category="Patient reports",
            subcategory="{unit}",
            labels={"input": "{unit}", "report": "{name}"},
        ),
    log:
        f"{RESULTS}/logs/report/{{unit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/report/{{unit}}.tsv"
    wildcard_constraints:
        # only single inputs of one part; reports/cohort_summary.html must never look like a patient-report folder
        unit=single_units(lambda n: n == 1),
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
        formats=REPORT_FORMATS,
    shell:
        "pgx-pipeline report patients --results {params.results} --input-id {wildcards.unit} "
        "--part {params.part} --out {output} --report-date '{params.date}' --formats {params.formats} 2> {log}"


# An input of several parts gets one report folder per part: reports/<input>/<part>/.
use rule render_patient_reports as render_patient_reports_part with:
    output:
        report(
            directory(f"{RESULTS}/reports/{{unit}}/{{part}}"),
            patterns=["{name}.html"],
            caption="../report/patient_reports.rst",
            category="Patient reports",
            subcategory="{unit}",
            labels={"input": "{unit}", "report": "{name}"},
        ),
    log:
        f"{RESULTS}/logs/report/{{unit}}/{{part}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/report/{{unit}}/{{part}}.tsv"
    wildcard_constraints:
        unit=single_units(lambda n: n > 1),


# A batch of small inputs: one job writes every input's folder, reports/<input>/ as for an input of its own. Its
# outputs are the batch's folders, so the rule is made per batch (the batches are planned before the DAG is built).
for _batch in BATCHES:

    rule:
        name:
            f"render_batch_reports_{_batch.replace('-', '_')}"
        input:
            groups=[f"{RESULTS}/ingest/{_batch}/{g}" for g in UNITS[_batch].groups],
            calls=f"{RESULTS}/calls/{_batch}/part-000.parquet",
            phenotypes=f"{RESULTS}/phenotypes/{_batch}/part-000.parquet",
            guidance=f"{RESULTS}/guidance/{_batch}/part-000.parquet",
            predictions=f"{RESULTS}/predictions/{_batch}/part-000.parquet",
            kb=[kb_table(name) for name in KB_TABLES],
        output:
            [
                report(
                    directory(f"{RESULTS}/reports/{i}"),
                    patterns=["{name}.html"],
                    caption="../report/patient_reports.rst",
                    category="Patient reports",
                    subcategory=i,
                    labels={"input": i, "report": "{name}"},
                )
                for i in UNITS[_batch].inputs
            ],
        log:
            f"{RESULTS}/logs/report/{_batch}.log",
        benchmark:
            f"{RESULTS}/benchmarks/report/{_batch}.tsv"
        conda:
            "../envs/pgx.yaml"
        resources:
            mem_mb=scaled(400, 550),
            runtime=minutes(30),
        params:
            code=code_fingerprint("report"),
            results=subpath(input.calls, ancestor=3),
            out_root=subpath(output[0], parent=True),
            unit=_batch,
            date=config.get("report_date") or "",
            formats=REPORT_FORMATS,
        shell:
            "pgx-pipeline report patients --results {params.results} --unit {params.unit} "
            "--out-root {params.out_root} --report-date '{params.date}' --formats {params.formats} 2> {log}"


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
        units=" ".join(f"--unit '{u}'" for u in UNIT_IDS),
        out=subpath(output.summary, parent=True),
        date=config.get("report_date") or "",
    shell:
        "pgx-pipeline report cohort --results {params.results} {params.ids} {params.units} --out {params.out} "
        "--report-date '{params.date}' 2> {log}"
