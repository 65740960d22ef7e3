"""A patient is (input, sample): the key the stages group by when one table holds several inputs.

A work unit may hold many small inputs (`sharding`), and two of them may name a sample the same (lab exports
called `SAMPLE`). The stage code groups rows by `sample_id`; `keyed` puts the input into that column for the
length of a stage, `unkeyed` takes it back out, so two inputs' samples never share a key.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

# Input ids are file-name safe (inputs.safe_id), so this separator never occurs in one.
SEP = "\x1f"


def key(input_id: str, sample_id: str) -> str:
    return f"{input_id}{SEP}{sample_id}"


def own_input(path: str | os.PathLike) -> str:
    """The input of a stage table's rows that carry none (tables written by hand or before the column existed): the
    input its metadata names, else its folder's (results/<stage>/<input>/part-NNN.parquet)."""
    from . import schema

    return schema.read_metadata(path).get("input_id") or Path(path).parent.name


def keyed(df: pd.DataFrame, input_id: str | None = None) -> pd.DataFrame:
    """`sample_id` replaced by the patient key; rows without an `input_id` take `input_id` (a one-input table)."""
    out = df.copy()
    inputs = out["input_id"] if "input_id" in out else pd.Series(None, index=out.index, dtype=object)
    inputs = inputs.where(inputs.notna(), input_id)
    if inputs.isna().any():
        raise ValueError("rows without an input_id: a patient is (input, sample)")
    out["input_id"] = inputs.astype(str)
    # Keys are built once per distinct (input, sample) pair, not per row: a genotypes part has ~1,000 rows a sample.
    ci, input_names = pd.factorize(out["input_id"])
    cs, sample_names = pd.factorize(out["sample_id"].astype(str))
    pair, first = np.unique(ci.astype(np.int64) * max(len(sample_names), 1) + cs, return_inverse=True)
    names = np.array([key(input_names[p // max(len(sample_names), 1)], sample_names[p % max(len(sample_names), 1)])
                      for p in pair], dtype=object)
    out["sample_id"] = names[first.reshape(-1)] if len(out) else out["sample_id"]
    return out


def unkeyed(df: pd.DataFrame) -> pd.DataFrame:
    """The patient key split back into `input_id` and `sample_id` (rows of a stage's own making included)."""
    out = df.copy()
    if out.empty:
        out["input_id"] = pd.Series(dtype=object)
        return out
    parts = out["sample_id"].astype(str).str.split(SEP, n=1, expand=True)
    if parts.shape[1] != 2 or parts[1].isna().any():
        raise ValueError("sample_id without an input: every row must be keyed by (input, sample)")
    out["input_id"], out["sample_id"] = parts[0].to_numpy(), parts[1].to_numpy()
    return out
