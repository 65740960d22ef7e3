import pandas as pd
from snakemake.utils import validate

from pgx_pipeline.inputs import inputs_from_config

validate(config, schema="../config/schemas/config.schema.yaml")

RESULTS = config["results"]
INPUTS = {spec.input_id: spec for spec in inputs_from_config(config)}
INPUT_IDS = sorted(INPUTS)
SAMPLE_SHEET = config.get("sample_sheet") or ""

if SAMPLE_SHEET:
    validate(
        pd.read_csv(SAMPLE_SHEET, sep="\t", dtype=str, keep_default_na=False),
        schema="../config/schemas/samples.schema.yaml",
    )

KB_TABLES = [
    "genes",
    "positions",
    "alleles",
    "allele_functions",
    "diplotype_phenotypes",
    "guidance",
    "messages",
    "sources",
]


wildcard_constraints:
    input_id="[A-Za-z0-9][A-Za-z0-9._-]*",


def kb_table(name):
    return f"{RESULTS}/knowledge/{name}.parquet"


def input_vcfs(wildcards):
    return INPUTS[wildcards.input_id].vcfs


def vcf_args(wildcards):
    return " ".join(f"--vcf '{v}'" for v in INPUTS[wildcards.input_id].vcfs)


def absent_flag(wildcards):
    return (
        "--absent-is-reference"
        if INPUTS[wildcards.input_id].absent_is_reference
        else ""
    )


def outside_call_files(wildcards):
    return INPUTS[wildcards.input_id].outside_calls


def outside_call_args(wildcards):
    return " ".join(
        f"--outside-calls '{f}'" for f in INPUTS[wildcards.input_id].outside_calls
    )


def sample_sheet_arg(wildcards):
    return f"--sample-sheet '{SAMPLE_SHEET}'" if SAMPLE_SHEET else ""


def knowledge_source_args():
    sources = config["knowledge"].get("sources") or []
    if sources:
        return " ".join(f"--source '{s['path']}'" for s in sources)
    return f"--source '{RESULTS}/knowledge/release'"


def final_outputs():
    return [
        *[f"{RESULTS}/reports/{i}" for i in INPUT_IDS],
        f"{RESULTS}/reports/cohort_summary.html",
        f"{RESULTS}/reports/calls_only.tsv",
    ]
