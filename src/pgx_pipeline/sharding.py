"""How a run's inputs are cut into work units, and where each unit's tables live under results/.

Planned before any job runs (from the VCF headers and the config) so the DAG is static:

- batches: small inputs (one file of at most half `samples_per_part` samples, e.g. single-sample lab exports) are
  packed into batches of at most `samples_per_part` samples and `files_per_batch` files. A batch is one job per
  stage: its ingestion job reads the files one after the other (each with its index when present), so a
  single-sample file costs about its own read, not a process start-up per stage. A file that cannot be read fails
  its own input only. Every other input is its own unit, cut as follows.
- gene groups: ingestion reads each group of gene regions in its own job. Only indexed inputs are split
  this way; a file that has to be streamed is read once, by one job.
- sample parts: every stage after ingestion (calling, phenotypes, guidance, predictions, reports) runs once
  per part, so peak memory follows `samples_per_part`, not the cohort size.

Layout (one Parquet dataset per stage and unit; a dataset is a folder of part files; a unit is an input's id, or
`batch-NNN` for a batch):

    ingest/<unit>/genes-<g>/part-<c>.genotypes.parquet   genotypes of group g's genes, samples of part c
    ingest/<unit>/genes-<g>/part-<c>.samples.parquet     the part's samples and their ingestion outcome
    calls/<unit>/part-<c>.parquet    (likewise phenotypes/, guidance/, predictions/)
    reports/<input>/                 patient reports when the input is one part (always for a batch's inputs),
                                     else reports/<input>/part-<c>/

Every table has an `input_id` column: a patient is (input_id, sample_id), and a batch's tables hold many inputs
(`read_input_stage` reads one input's rows wherever its unit put them; results/inputs_manifest.tsv names each
input's unit). A stage folder reads as one table with `pyarrow.dataset.dataset("results/calls/<unit>")` (or
`pandas.read_parquet` on the folder). Ingestion holds (positions of its group x samples of the input) in
small integer arrays, about 5 bytes per cell (PS/DP/GQ add 16 when the file has them): 50,000 samples x 300
positions is ~75 MB, so more gene groups bound it for larger cohorts; it writes one gene x 500 samples at a time.
A batch holds one file's arrays at a time. Every later stage is bounded by `samples_per_part`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .errors import PgxInputError

DEFAULT_SAMPLES_PER_PART = 2000
DEFAULT_GENE_GROUPS = 4
# Inputs per batch: one job reads them one after the other (~0.3-0.6 s a single-sample indexed panel file, measured
# in benchmarks/single_files.py), so a batch stays a job of tens of seconds against ~2 s of process start-up, and
# 100 files still make two batches that run side by side.
DEFAULT_FILES_PER_BATCH = 50
STAGES = ("calls", "phenotypes", "guidance", "predictions")


def part_name(index: int) -> str:
    return f"part-{index:03d}"


def group_name(index: int) -> str:
    return f"genes-{index}"


@dataclass(frozen=True)
class InputPlan:
    n_samples: int | None  # None: the header could not be read (ingestion reports why)
    parts: tuple[str, ...]
    groups: tuple[str, ...]


def plan_input(vcfs: list[str], *, samples_per_part: int, gene_groups: int, n_samples: int | None = -1) -> InputPlan:
    from .inputs import header_samples

    if n_samples == -1:
        samples = header_samples(vcfs[0]) if vcfs else None
        n_samples = len(samples) if samples else None
    n = n_samples
    n_parts = max(1, math.ceil(n / samples_per_part)) if n and samples_per_part > 0 else 1
    # Splitting by gene only pays when each job can jump to its regions; a streamed file would be read G times.
    n_groups = gene_groups if gene_groups > 1 and all(_indexed(v) for v in vcfs) else 1
    return InputPlan(n, tuple(part_name(i) for i in range(n_parts)), tuple(group_name(i) for i in range(n_groups)))


@dataclass(frozen=True)
class WorkUnit:
    """The jobs of one unit: an input cut into parts and gene groups, or a batch of small inputs read by one job
    per stage (one part, one gene group; results/<stage>/<batch>/part-000 holds every input of the batch)."""

    name: str
    inputs: tuple[str, ...]
    parts: tuple[str, ...]
    groups: tuple[str, ...]

    @property
    def batched(self) -> bool:
        return len(self.inputs) > 1


def plan_units(inputs: dict[str, list[str]], *, samples_per_part: int, gene_groups: int,
               files_per_batch: int = DEFAULT_FILES_PER_BATCH, batch_keys: dict[str, object] | None = None,
               ) -> list[WorkUnit]:
    """Work units of a run, planned from the VCF headers.

    A one-file input of at most half a part's samples is small: small inputs with the same `batch_keys` value
    (settings every input of a job must share) are packed, in input-id order, into batches of at most
    `samples_per_part` samples and `files_per_batch` files, so a single-sample file costs its read rather than a
    job per stage; each other input is its own unit (cut into parts and gene groups). A batch left with one input
    is that input's own unit.
    """
    from .inputs import header_samples

    cap = samples_per_part if samples_per_part > 0 else DEFAULT_SAMPLES_PER_PART
    n_of: dict[str, int | None] = {}
    for input_id, vcfs in inputs.items():
        samples = header_samples(vcfs[0]) if vcfs else None
        n_of[input_id] = len(samples) if samples else None
    batches: list[list[str]] = []
    open_batch: dict[object, tuple[list[str], list[int]]] = {}
    for input_id in sorted(inputs):
        # An unreadable header counts as one sample: its ingestion fails that input alone, inside the batch.
        n = n_of[input_id] or 1
        if len(inputs[input_id]) != 1 or files_per_batch < 2 or 2 * n > cap:
            continue
        k = (batch_keys or {}).get(input_id)
        members, total = open_batch.get(k, ([], [0]))
        if members and (total[0] + n > cap or len(members) >= files_per_batch):
            members, total = [], [0]
        if not members:
            batches.append(members)
            open_batch[k] = (members, total)
        members.append(input_id)
        total[0] += n
    units: list[WorkUnit] = []
    in_batch = {i for b in batches if len(b) > 1 for i in b}
    names = iter(_batch_names(set(inputs)))
    for members in batches:
        if len(members) > 1:
            units.append(WorkUnit(next(names), tuple(members), (part_name(0),), (group_name(0),)))
    for input_id in sorted(set(inputs) - in_batch):
        plan = plan_input(inputs[input_id], samples_per_part=samples_per_part, gene_groups=gene_groups,
                          n_samples=n_of[input_id])
        units.append(WorkUnit(input_id, (input_id,), plan.parts, plan.groups))
    return sorted(units, key=lambda u: u.name)


def plan_run_units(specs: list, sharding_config: dict | None) -> list[WorkUnit]:
    """`plan_units` for a run's inputs (inputs.InputSpec) and its config `sharding` section. Inputs share a batch
    only with inputs of the same absent-is-reference flag and outside-call files (one job passes them to all)."""
    cfg = sharding_config or {}
    return plan_units({s.input_id: s.vcfs for s in specs},
                      samples_per_part=cfg.get("samples_per_part", DEFAULT_SAMPLES_PER_PART),
                      gene_groups=cfg.get("gene_groups", DEFAULT_GENE_GROUPS),
                      files_per_batch=cfg.get("files_per_batch", DEFAULT_FILES_PER_BATCH),
                      batch_keys={s.input_id: (s.absent_is_reference, s.build, tuple(s.outside_calls)) for s in specs})


def _batch_names(taken: set[str]):
    """batch-000, batch-001, ...: never an input's id (a file may be called batch-000.vcf.gz)."""
    k = 0
    while True:
        name = f"batch-{k:03d}"
        while name in taken:
            name += "b"
        yield name
        k += 1


def _indexed(vcf: str) -> bool:
    p = Path(vcf)
    return any(Path(f"{p}{ext}").is_file() for ext in (".tbi", ".csi"))


def part_slices(n_samples: int, n_parts: int) -> list[slice]:
    """Near-equal consecutive runs of samples in header order (a part may be empty if the header shrank)."""
    edges = np.linspace(0, n_samples, n_parts + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def assign_gene_groups(kb_positions: pd.DataFrame, n_groups: int) -> dict[str, int]:
    """Gene -> group, balancing the number of defining positions (largest first onto the lightest group)."""
    defining = kb_positions[kb_positions["position_index"] >= 0]
    sizes = defining.groupby("gene").size().sort_index()
    loads = [0] * max(1, n_groups)
    out: dict[str, int] = {}
    for gene, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        g = loads.index(min(loads))
        out[str(gene)] = g
        loads[g] += int(size)
    return out


def parse_group(name: str) -> tuple[int, int]:
    """'2/4' -> (2, 4): group index and number of groups, as the ingest command takes them."""
    try:
        k, n = (int(x) for x in name.split("/"))
    except ValueError:
        raise PgxInputError(f"--gene-group must look like K/N (e.g. 0/4), got {name!r}") from None
    if not 0 <= k < n:
        raise PgxInputError(f"--gene-group {name!r}: K must be in 0..N-1")
    return k, n


# ---------------------------------------------------------------- reading a part back


def ingest_dir(results: str | Path, input_id: str) -> Path:
    return Path(results) / "ingest" / input_id


def stage_file(results: str | Path, stage: str, input_id: str, part: str) -> Path:
    return Path(results) / stage / input_id / f"{part}.parquet"


def list_parts(results: str | Path, input_id: str) -> list[str]:
    """Parts of an input, from what ingestion wrote (every group writes every part)."""
    names = {p.name.split(".")[0] for p in ingest_dir(results, input_id).glob("genes-*/part-*.samples.parquet")}
    if not names:
        raise PgxInputError(f"no ingested parts for input {input_id!r}; run ingestion first",
                            path=ingest_dir(results, input_id))
    return sorted(names)


def unit_parts(results: str | Path, units: list[str]) -> list[tuple[str, str, int]]:
    """(unit, part, number of parts of the unit) for every part of the units, from what ingestion wrote."""
    out = []
    for unit in units:
        parts = list_parts(results, unit)
        out.extend((unit, part, len(parts)) for part in parts)
    return out


def rows_by_input(df: pd.DataFrame, unit: str) -> dict[str, pd.DataFrame]:
    """A unit's stage table per input, in table order (rows without an input id are the unit's own input's)."""
    ids = df["input_id"].where(df["input_id"].notna(), unit) if "input_id" in df else pd.Series(unit, index=df.index)
    return {str(k): df.take(v) for k, v in ids.groupby(ids, sort=False).indices.items()}


def table_rows_by_input(table: pa.Table, unit: str) -> dict[str, pa.Table]:
    """`rows_by_input` for an Arrow table."""
    if "input_id" not in table.column_names:
        return {unit: table}
    ids = table["input_id"]
    if pa.types.is_dictionary(ids.type):  # a categorical read
        ids = ids.cast(ids.type.value_type)
    coded = pc.dictionary_encode(pc.fill_null(ids, unit)).combine_chunks()
    index = coded.indices.to_numpy()
    return {str(k): table.take(np.flatnonzero(index == i)) for i, k in enumerate(coded.dictionary.to_pylist())}


def read_input_stage(results: str | Path, stage: str, input_id: str) -> pd.DataFrame:
    """One input's rows of a stage (calls, phenotypes, guidance, predictions) wherever its work unit put them: its
    own folder, or a batch's (rows are told apart by their input_id column)."""
    table = {"calls": schema.CALLS, "phenotypes": schema.PHENOTYPES, "guidance": schema.GUIDANCE,
             "predictions": schema.PREDICTIONS}[stage]
    frames = []
    for path in sorted(Path(results, stage).glob("*/part-*.parquet")):
        df = schema.read_table(path, table)
        frames.append(df[df["input_id"].fillna(path.parent.name) == input_id])
    if not frames:
        raise PgxInputError(f"no {stage} tables; run the stage first", path=Path(results, stage))
    return pd.concat(frames, ignore_index=True)


def read_input_samples(results: str | Path, input_id: str) -> pd.DataFrame:
    """One input's samples table (every part, every gene group combined), wherever its work unit put it."""
    root = Path(results, "ingest")
    frames = []
    for unit in sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for part in list_parts(results, unit):
            samples = read_part_samples(results, unit, part)
            frames.append(samples[samples["input_id"] == input_id])
    if not frames:
        raise PgxInputError(f"no ingested samples for input {input_id!r}; run ingestion first", path=root)
    return pd.concat(frames, ignore_index=True)


def group_files(results: str | Path, input_id: str, part: str, kind: str) -> list[Path]:
    return sorted(ingest_dir(results, input_id).glob(f"genes-*/{part}.{kind}.parquet"))


def combine_samples(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One samples table from the gene groups' copies of a part.

    A group that could not read the input at all (every row failed) fails every sample of the part with its
    error: a file that breaks in one gene region is not trusted in the others, as when one job reads it all.
    Otherwise a sample failed in any group is failed, keeping that group's error.
    """
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame({c: [] for c in schema.SAMPLES.column_names})
    broken = [t for t in tables if (t["status"] != "ok").all()]
    readable = [t for t in tables if not (t["status"] != "ok").all()]
    if broken and not readable:
        return broken[0][schema.SAMPLES.column_names].reset_index(drop=True)
    if len(readable) == 1 and not broken:
        return readable[0][schema.SAMPLES.column_names].reset_index(drop=True)
    # A patient is (input, sample): a unit of several inputs may name two samples the same.
    both = pd.concat(readable, ignore_index=True)
    both["_patient"] = _patients(both)
    order = pd.unique(both["_patient"])
    both = both.assign(_ok=both["status"] == "ok").sort_values("_ok", kind="stable").drop_duplicates("_patient")
    out = both.set_index("_patient").loc[order].reset_index(drop=True)
    patients_of, out_patients = [_patients(t) for t in readable], _patients(out)
    # Every group noted what it read differently in its own genes (and which files of a split group failed, which
    # of its genes that leaves not assessed); a sample carries all of them.
    for column in ("notes", "failed_files", "not_assessed_genes", "unlifted_positions"):
        merged: dict[tuple[str, str], list[str]] = {}
        for t, patients in zip(readable, patients_of):
            for patient, n in zip(patients, t[column]):
                have = merged.setdefault(patient, [])
                have.extend(x for x in (n if n is not None else []) if x not in have)
        out[column] = [merged.get(p, []) for p in out_patients]
    if broken:
        out = out.assign(status="failed", error=broken[0]["error"].iloc[0])
    return out[schema.SAMPLES.column_names]


def _patients(t: pd.DataFrame) -> list[tuple[str, str]]:
    """(input, sample) per row; columns converted once (iterating Arrow-backed strings cell by cell is slow)."""
    return list(zip(t["input_id"].to_numpy(dtype=object), t["sample_id"].to_numpy(dtype=object)))


def read_samples(paths: list[str | Path]) -> pd.DataFrame:
    return combine_samples([schema.read_table(p, schema.SAMPLES) for p in paths])


def read_genotypes(paths: list[str | Path], columns: list[str] | None = None,
                   categorical: list[str] | None = None) -> pd.DataFrame:
    """The genotypes of a part's gene groups as one frame; `categorical` columns as pandas categoricals, one set of
    categories across the groups."""
    if not paths:
        return pd.DataFrame({c: [] for c in (columns or schema.GENOTYPES.column_names)})
    return read_genotype_table(paths, columns, categorical).to_pandas()


def read_genotype_table(paths: list[str | Path], columns: list[str] | None = None,
                        categorical: list[str] | None = None) -> pa.Table:
    """`read_genotypes` as one Arrow table (`categorical` columns dictionary-encoded, one dictionary)."""
    if not paths:
        empty = schema.GENOTYPES.arrow_schema.empty_table()
        return empty.select(columns) if columns else empty
    tables = [schema.read_arrow(p, schema.GENOTYPES, columns=columns, categorical=categorical) for p in paths]
    return pa.concat_tables(tables).unify_dictionaries()


def read_part_samples(results: str | Path, input_id: str, part: str) -> pd.DataFrame:
    return read_samples(group_files(results, input_id, part, "samples"))


def read_part_genotypes(results: str | Path, input_id: str, part: str, columns: list[str] | None = None) -> pd.DataFrame:
    return read_genotypes(group_files(results, input_id, part, "genotypes"), columns)


def report_subdir(input_id: str, part: str, n_parts: int) -> str:
    """Patient reports of an input with one part sit in reports/<input>/; otherwise in reports/<input>/<part>/."""
    return input_id if n_parts <= 1 else f"{input_id}/{part}"
