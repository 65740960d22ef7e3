"""File names and writes for patient outputs: sample ids never become paths, and no reader ever sees half a file.

Sample ids come from VCF headers and sample sheets, i.e. from outside; `../x`, `a/b` or control characters must
not turn into paths. Outputs are written to a temporary file in the same folder and renamed, so a reader sees
either the old file or the new one. Files get mode 0o640 (and the CLI runs under umask 027): these are patient
results, which must not be world-readable on a shared cluster filesystem.

A single file is flushed to disk before its rename. A job writing thousands of patients' files instead flushes its
folder once at the end (`sync_folder`): one flush per file was a fifth of the report job's time, and the job (a
Snakemake output folder) is only complete, and only reported complete, after that flush.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
from pathlib import Path
from typing import Iterable

from ..schema import atomic_path

FILE_MODE = 0o640
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_SLUG = 60


def safe_filename(sample_id: str) -> str:
    """A stable, portable file stem for a sample id.

    The id itself when it is already plain (letters, digits, `.`, `_`, `-`, not starting with a dot); otherwise a
    readable slug plus 10 hex digits of the id's SHA-256, so two ids that slug alike (`a/b`, `a:b`) never collide
    and `..` or `/` can never appear.
    """
    slug = _UNSAFE.sub("_", sample_id).strip("._-")[:_MAX_SLUG] or "sample"
    if slug == sample_id:
        return slug
    return f"{slug}-{hashlib.sha256(sample_id.encode('utf-8')).hexdigest()[:10]}"


def safe_filenames(sample_ids: list[str]) -> dict[str, str]:
    """`safe_filename` for a batch, also unique on case-insensitive filesystems (macOS, Windows shares)."""
    names = {s: safe_filename(s) for s in sample_ids}
    folded: dict[str, list[str]] = {}
    for s, n in names.items():
        folded.setdefault(n.casefold(), []).append(s)
    for group in folded.values():
        if len(group) > 1:
            for s in group:
                names[s] = f"{names[s]}-{hashlib.sha256(s.encode('utf-8')).hexdigest()[:10]}"
    return names


def write_text_atomic(path: str | os.PathLike, text: str | Iterable[str], *, flush: bool = True) -> Path:
    """Write UTF-8 text via a temporary file in the same folder, then rename over `path`.

    `text` may be an iterable of pieces, so a cohort-sized file is streamed rather than built in memory. With
    `flush=False` the data is not forced to disk before the rename: the caller calls `sync_folder` when its batch
    is written.
    """
    path = Path(path)
    fd, tmp = atomic_path(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                fh.writelines(text)
            if flush:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _syncfs():
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # Linux: flush one filesystem, not the whole machine
    except (AttributeError, OSError):
        return None


def sync_folder(folder: str | os.PathLike) -> None:
    """Force everything written in `folder` (files and their names) to disk: the end of a batch written with
    `write_text_atomic(..., flush=False)`."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        syncfs = _syncfs()
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
        os.fsync(fd)
    finally:
        os.close(fd)
