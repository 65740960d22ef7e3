"""How one input is cut into work units, and where each unit's tables live under results/.

Two axes, both planned before any job runs (from the VCF header and the config) so the DAG is static:

- gene groups: ingestion reads each group of gene regions in its own job. Only indexed inputs are split
  this way; a file that has to be streamed is read once, by one job.
- sample parts: every stage after ingestion (calling, phenotypes, guidance, predictions, reports) runs once
  per part, so peak memory follows `samples_per_part`, not the cohort size.

Layout (one Parquet dataset per stage and input; a dataset is a folder of part files):

    ingest/<input>/genes-<g>/part-<c>.genotypes.parquet   genotypes of group g's genes, samples of part c
    ingest/<input>/genes-<g>/part-<c>.samples.parquet     the part's samples and their ingestion outcome
    calls/<input>/part-<c>.parquet    (likewise phenotypes/, guidance/, predictions/)
    reports/<input>/                  patient reports when the input is one part, else reports/<input>/part-<c>/

A stage folder reads as one table with `pyarrow.dataset.dataset("results/calls/<input>")` (or
`pandas.read_parquet` on the folder). Ingestion holds (positions of its group x samples of the input) in
small integer arrays, about 5 bytes per cell (PS/DP/GQ add 16 when the file has them): 50,000 samples x 300
positions is ~75 MB, so more gene groups bound it for larger cohorts; it writes one gene x 500 samples at a time.
Every later stage is bounded by `samples_per_part`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import schema
from .errors import PgxInputError

DEFAULT_SAMPLES_PER_PART = 2000
DEFAULT_GENE_GROUPS = 4
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


def plan_input(vcfs: list[str], *, samples_per_part: int, gene_groups: int) -> InputPlan:
    from .inputs import header_samples

    samples = header_samples(vcfs[0]) if vcfs else None
    n = len(samples) if samples else None
    n_parts = max(1, math.ceil(n / samples_per_part)) if n and samples_per_part > 0 else 1
    # Splitting by gene only pays when each job can jump to its regions; a streamed file would be read G times.
    n_groups = gene_groups if gene_groups > 1 and all(_indexed(v) for v in vcfs) else 1
    return InputPlan(n, tuple(part_name(i) for i in range(n_parts)), tuple(group_name(i) for i in range(n_groups)))


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
    both = pd.concat(readable, ignore_index=True)
    order = pd.unique(both["sample_id"])
    both = both.assign(_ok=both["status"] == "ok").sort_values("_ok", kind="stable").drop_duplicates("sample_id")
    out = both.set_index("sample_id").loc[order].reset_index()
    # Every group noted what it read differently in its own genes (and which files of a split group failed, which
    # of its genes that leaves not assessed); a sample carries all of them.
    every = pd.concat(readable)
    for column in ("notes", "failed_files", "not_assessed_genes", "unlifted_positions"):
        merged: dict[str, list[str]] = {}
        for sid, n in zip(every["sample_id"], every[column]):
            have = merged.setdefault(sid, [])
            have.extend(x for x in (n if n is not None else []) if x not in have)
        out[column] = [merged.get(sid, []) for sid in out["sample_id"]]
    if broken:
        out = out.assign(status="failed", error=broken[0]["error"].iloc[0])
    return out[schema.SAMPLES.column_names]


def read_samples(paths: list[str | Path]) -> pd.DataFrame:
    return combine_samples([schema.read_table(p, schema.SAMPLES) for p in paths])


def read_genotypes(paths: list[str | Path], columns: list[str] | None = None) -> pd.DataFrame:
    frames = [schema.read_table(p, schema.GENOTYPES, columns=columns) for p in paths]
    frames = [f for f in frames if len(f)] or frames[:1]
    if not frames:
        return pd.DataFrame({c: [] for c in (columns or schema.GENOTYPES.column_names)})
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_part_samples(results: str | Path, input_id: str, part: str) -> pd.DataFrame:
    return read_samples(group_files(results, input_id, part, "samples"))


def read_part_genotypes(results: str | Path, input_id: str, part: str, columns: list[str] | None = None) -> pd.DataFrame:
    return read_genotypes(group_files(results, input_id, part, "genotypes"), columns)


def report_subdir(input_id: str, part: str, n_parts: int) -> str:
    """Patient reports of an input with one part sit in reports/<input>/; otherwise in reports/<input>/<part>/."""
    return input_id if n_parts <= 1 else f"{input_id}/{part}"
