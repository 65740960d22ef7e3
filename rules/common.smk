import sys
from pathlib import Path

import pandas as pd
from snakemake.utils import validate

from pgx_pipeline.inputs import (
    check_sheet_rows_owned,
    header_samples,
    inputs_from_config,
    read_sample_sheet,
    stale_folders_error,
    stale_input_folders,
)
from pgx_pipeline.calling.outside import check_run_tables
from pgx_pipeline.knowledge.embedded import choose_knowledge, embedded_kb_dir
from pgx_pipeline.model.embedded import choose_model, embedded_model_dir
from pgx_pipeline.provenance import code_fingerprint
from pgx_pipeline.report.formats import check_formats
from pgx_pipeline.model.registry import MODELS as DRUG_MODELS
from pgx_pipeline.sharding import plan_run_units, report_subdir

validate(config, schema="../config/schemas/config.schema.yaml")

RESULTS = config["results"]
# Built from the configured mirror folders, or the knowledge base embedded in the package when none exists or they
# are the very files it was built from (pgx_pipeline.knowledge.embedded).
KNOWLEDGE = choose_knowledge(
    config["knowledge"].get("sources"),
    fda_associations=config["knowledge"].get("fda_associations"),
    grch37_chain=config["knowledge"].get("grch37_chain"),
)
print(f"pgx-pipeline: {KNOWLEDGE.note}", file=sys.stderr)
INPUTS = {spec.input_id: spec for spec in inputs_from_config(config)}
INPUT_IDS = sorted(INPUTS)
SAMPLE_SHEET = config.get("sample_sheet") or ""
MODELS_CONFIG = config.get("models") or {}
MODEL_DRUGS = sorted(d for d, m in MODELS_CONFIG.items() if m.get("enabled", True))
_unknown_models = sorted(set(MODEL_DRUGS) - set(DRUG_MODELS))
if _unknown_models:
    raise ValueError(
        f"config models: no drug model named {', '.join(_unknown_models)}; known: {', '.join(sorted(DRUG_MODELS))} "
        "(a new drug needs a DrugModel in pgx_pipeline.model.registry)"
    )
# Files each report job writes per patient, in a fixed order so reordering the list does not rerun the jobs.
REPORT_FORMATS = ",".join(check_formats(config["reports"]["formats"]))
SHARDING = config.get("sharding") or {}
# Work units, planned from VCF headers so the DAG is static: an input cut into parts and gene groups, or a batch of
# small inputs that share one job per stage (pgx_pipeline.sharding.plan_units).
UNITS = {u.name: u for u in plan_run_units(list(INPUTS.values()), SHARDING)}
UNIT_IDS = sorted(UNITS)
BATCHES = [u for u in UNIT_IDS if UNITS[u].batched]
# Outputs of inputs (or units) that are not this run's (an earlier run or release grouped files differently) would
# sit beside the new reports: refuse to start until they are removed.
_stale = stale_input_folders(RESULTS, INPUT_IDS, UNIT_IDS)
if _stale:
    raise stale_folders_error(RESULTS, _stale)

if SAMPLE_SHEET:
    validate(
        pd.read_csv(SAMPLE_SHEET, sep="\t", dtype=str, keep_default_na=False),
        schema="../config/schemas/samples.schema.yaml",
    )
SHEET_ROWS = read_sample_sheet(SAMPLE_SHEET) if SAMPLE_SHEET else []
_outside = any(s.outside_calls for s in INPUTS.values()) or any(
    r.get("outside_calls") for r in SHEET_ROWS
)
if (len(INPUTS) > 1 and SHEET_ROWS) or _outside:
    _held = {i: header_samples(spec.vcfs[0]) or [] for i, spec in INPUTS.items()}
    # A row naming no VCF must not fit two patients (inputs holding the same sample id).
    check_sheet_rows_owned(SHEET_ROWS, _held, SAMPLE_SHEET)
    # Outside-call table rows must each be for a patient of an input the table is given to.
    check_run_tables(list(INPUTS.values()), SHEET_ROWS, _held)

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
    unit="[A-Za-z0-9][A-Za-z0-9._-]*",
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
    return lambda wc: f"{RESULTS}/{stage}/{wc.unit}/{part_of(wc)}.parquet"


def ingest_groups(wildcards):
    return [
        f"{RESULTS}/ingest/{wildcards.unit}/{g}" for g in UNITS[wildcards.unit].groups
    ]


def group_part_args(kind):
    def args(wildcards):
        part = part_of(wildcards)
        return " ".join(
            f"--{kind} '{d}/{part}.{kind}.parquet'" for d in ingest_groups(wildcards)
        )

    return args


def gene_group_arg(wildcards):
    groups = UNITS[wildcards.unit].groups
    return f"--gene-group {groups.index(wildcards.group)}/{len(groups)}"


def n_parts(wildcards):
    return len(UNITS[wildcards.unit].parts)


def all_parts(stage):
    return [
        f"{RESULTS}/{stage}/{u}/{part}.parquet"
        for u in UNIT_IDS
        for part in UNITS[u].parts
    ]


def report_dirs():
    return [
        f"{RESULTS}/reports/{report_subdir(i, part, len(UNITS[u].parts))}"
        for u in UNIT_IDS
        for i in UNITS[u].inputs
        for part in UNITS[u].parts
    ]


def single_units(n_parts_test):
    """Units of one input whose part count passes the test, as a wildcard pattern (reports/ has other files)."""
    names = [
        u.replace(".", r"\.")
        for u in UNIT_IDS
        if not UNITS[u].batched and n_parts_test(len(UNITS[u].parts))
    ]
    return "|".join(names) or "(?!)"


def first_spec(wildcards):
    return INPUTS[UNITS[wildcards.unit].inputs[0]]


def input_vcfs(wildcards):
    return [v for i in UNITS[wildcards.unit].inputs for v in INPUTS[i].vcfs]


def vcf_args(wildcards):
    """The unit's files: --vcf for one input, --member ID VCF for each input of a batch."""
    unit = UNITS[wildcards.unit]
    if unit.batched:
        return " ".join(f"--member '{i}' '{INPUTS[i].vcfs[0]}'" for i in unit.inputs)
    return " ".join(f"--vcf '{v}'" for v in INPUTS[unit.inputs[0]].vcfs)


def ingest_target_args(wildcards):
    if UNITS[wildcards.unit].batched:
        return vcf_args(wildcards)
    return f"--input-id {wildcards.unit} {vcf_args(wildcards)} {gene_group_arg(wildcards)} --parts {n_parts(wildcards)}"


def absent_flag(wildcards):
    # A batch's inputs share it (plan_units batches by it).
    return "--absent-is-reference" if first_spec(wildcards).absent_is_reference else ""


def build_arg(wildcards):
    # A batch's inputs share it (plan_run_units batches by it).
    return f"--build {first_spec(wildcards).build}"


def outside_call_files(wildcards):
    return first_spec(wildcards).outside_calls


def outside_call_args(wildcards):
    return " ".join(
        f"--outside-calls '{f}'" for f in first_spec(wildcards).outside_calls
    )


def sample_sheet_arg(wildcards):
    return f"--sample-sheet '{SAMPLE_SHEET}'" if SAMPLE_SHEET else ""


def knowledge_command(wildcards, output):
    out = Path(output[0]).parent
    if KNOWLEDGE.embedded:
        return f"pgx-pipeline knowledge install --out '{out}' --why '{KNOWLEDGE.note}'"
    sources = " ".join(
        [f"--source '{p}'" for p in KNOWLEDGE.paths]
        + [f"--stale-source '{p}'" for p in KNOWLEDGE.stale]
    )
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
