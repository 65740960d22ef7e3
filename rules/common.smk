import sys
from pathlib import Path

import pandas as pd
from snakemake.utils import validate

from pgx_pipeline.inputs import (
    inputs_from_config,
    stale_folders_error,
    stale_input_folders,
)
from pgx_pipeline.knowledge.embedded import choose_knowledge, embedded_kb_dir
from pgx_pipeline.model.embedded import choose_model, embedded_model_dir
from pgx_pipeline.provenance import code_fingerprint
from pgx_pipeline.model.registry import MODELS as DRUG_MODELS
from pgx_pipeline.sharding import plan_input, report_subdir

validate(config, schema="../config/schemas/config.schema.yaml")

RESULTS = config["results"]
# Built from the configured mirror folders, or the knowledge base embedded in the package when none exists.
KNOWLEDGE = choose_knowledge(config["knowledge"].get("sources"))
print(f"pgx-pipeline: {KNOWLEDGE.note}", file=sys.stderr)
INPUTS = {spec.input_id: spec for spec in inputs_from_config(config)}
INPUT_IDS = sorted(INPUTS)
# Outputs of inputs that are not this run's (an earlier run or release grouped files differently) would sit beside
# the new reports: refuse to start until they are removed.
_stale = stale_input_folders(RESULTS, INPUT_IDS)
if _stale:
    raise stale_folders_error(RESULTS, _stale)
SAMPLE_SHEET = config.get("sample_sheet") or ""
MODELS_CONFIG = config.get("models") or {}
MODEL_DRUGS = sorted(d for d, m in MODELS_CONFIG.items() if m.get("enabled", True))
_unknown_models = sorted(set(MODEL_DRUGS) - set(DRUG_MODELS))
if _unknown_models:
    raise ValueError(
        f"config models: no drug model named {', '.join(_unknown_models)}; known: {', '.join(sorted(DRUG_MODELS))} "
        "(a new drug needs a DrugModel in pgx_pipeline.model.registry)"
    )
SHARDING = config.get("sharding") or {}
# Parts (sample chunks) and gene groups of every input, planned from VCF headers so the DAG is static.
PLANS = {
    i: plan_input(
        spec.vcfs,
        samples_per_part=SHARDING.get("samples_per_part", 2000),
        gene_groups=SHARDING.get("gene_groups", 4),
    )
    for i, spec in INPUTS.items()
}

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
    "fda_associations",
    "build_map",
    "sources",
]


wildcard_constraints:
    input_id="[A-Za-z0-9][A-Za-z0-9._-]*",
    part="part-[0-9]+",
    group="genes-[0-9]+",


def kb_table(name):
    return f"{RESULTS}/knowledge/{name}.parquet"


def scaled(base_mb, per_1000_samples_mb=0):
    """mem_mb from measured peaks (benchmarks/README.md) plus headroom, grown with the part size and
    doubled on each retry (`attempt`), so a job killed for memory is resubmitted with more.
    """
    part = SHARDING.get("samples_per_part", 2000) or 50000
    need = base_mb + per_1000_samples_mb * part / 1000
    return lambda wildcards, attempt: int(need * attempt)


def minutes(base):
    return lambda wildcards, attempt: base * attempt


def part_of(wildcards):
    # The single-part report rule has no {part} wildcard.
    return getattr(wildcards, "part", "part-000")


def stage_file(stage):
    return lambda wc: f"{RESULTS}/{stage}/{wc.input_id}/{part_of(wc)}.parquet"


def ingest_groups(wildcards):
    return [
        f"{RESULTS}/ingest/{wildcards.input_id}/{g}"
        for g in PLANS[wildcards.input_id].groups
    ]


def group_part_args(kind):
    def args(wildcards):
        part = part_of(wildcards)
        return " ".join(
            f"--{kind} '{d}/{part}.{kind}.parquet'" for d in ingest_groups(wildcards)
        )

    return args


def gene_group_arg(wildcards):
    groups = PLANS[wildcards.input_id].groups
    return f"{groups.index(wildcards.group)}/{len(groups)}"


def n_parts(wildcards):
    return len(PLANS[wildcards.input_id].parts)


def all_parts(stage):
    return [
        f"{RESULTS}/{stage}/{i}/{part}.parquet"
        for i in INPUT_IDS
        for part in PLANS[i].parts
    ]


def report_dirs():
    return [
        f"{RESULTS}/reports/{report_subdir(i, part, len(PLANS[i].parts))}"
        for i in INPUT_IDS
        for part in PLANS[i].parts
    ]


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


def build_arg(wildcards):
    return f"--build {INPUTS[wildcards.input_id].build}"


def outside_call_files(wildcards):
    return INPUTS[wildcards.input_id].outside_calls


def outside_call_args(wildcards):
    return " ".join(
        f"--outside-calls '{f}'" for f in INPUTS[wildcards.input_id].outside_calls
    )


def sample_sheet_arg(wildcards):
    return f"--sample-sheet '{SAMPLE_SHEET}'" if SAMPLE_SHEET else ""


def knowledge_command(wildcards, output):
    out = Path(output[0]).parent
    if KNOWLEDGE.embedded:
        return f"pgx-pipeline knowledge install --out '{out}' --why '{KNOWLEDGE.note}'"
    sources = " ".join(f"--source '{p}'" for p in KNOWLEDGE.paths)
    return (
        f"pgx-pipeline knowledge build {sources} {fda_associations_arg()} "
        f"{grch37_chain_arg()} --out '{out}'"
    )


def embedded_fingerprint(folder):
    """Changes when the shipped data change, so an upgrade reinstalls them (like code_fingerprint for code)."""
    import hashlib

    digest = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        digest.update(f.name.encode() + f.read_bytes())
    return digest.hexdigest()[:16]


def fda_associations_arg():
    path = config["knowledge"].get("fda_associations") or ""
    return f"--fda-associations '{path}'" if path else ""


def grch37_chain_arg():
    path = config["knowledge"].get("grch37_chain") or ""
    return f"--grch37-chain '{path}'" if path else ""


def final_outputs():
    return [
        *report_dirs(),
        f"{RESULTS}/reports/cohort_summary.html",
        f"{RESULTS}/reports/calls_only.tsv",
    ]
