"""File names and writes for patient outputs: sample ids never become paths, and no reader ever sees half a file.

Sample ids come from VCF headers and sample sheets, i.e. from outside; `../x`, `a/b` or control characters must
not turn into paths. Outputs are written to a temporary file in the same folder and renamed, so a reader sees
either the old file or the new one. Files get mode 0o640 (and the CLI runs under umask 027): these are patient
results, which must not be world-readable on a shared cluster filesystem.

A single file is flushed to disk before its rename. A job writing thousands of patients' files into a new (or
empty) folder writes them under a hidden sibling folder and renames that folder into place once every file is
flushed (`ReportFolder`): readers see no patient's files or all of them, a failed job leaves nothing behind, and the
disk is flushed once per folder instead of once per file (a fifth of the report job's time) with no temporary name
and rename per file (another twelfth, on ext4 under the job's write load).
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import re
import shutil
import uuid
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


_STAGING = re.compile(r"\.[0-9a-f]{12}\.tmp")


class ReportFolder:
    """The files of one report folder, written as a whole (module docstring). Use as a context manager: the folder
    appears when the block ends without an error; on an error nothing is left of what was written.

    A folder that already holds files (reports written into an existing folder by hand) is written in place
    instead, each file atomically, flushed once at the end."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        self._staged = not self.out.is_dir() or not any(self.out.iterdir())
        if self._staged:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            # What a killed job of this folder left behind (one job writes a folder at a time: Snakemake's lock).
            for stale in self.out.parent.glob(f".{glob.escape(self.out.name)}.*.tmp"):
                if _STAGING.fullmatch(stale.name[len(self.out.name) + 1:]):
                    shutil.rmtree(stale, ignore_errors=True)
            self._dir = self.out.parent / f".{self.out.name}.{uuid.uuid4().hex[:12]}.tmp"
            os.mkdir(self._dir)  # under the process umask, as the folder it becomes
        else:
            self._dir = self.out

    def write(self, name: str, text: str) -> None:
        if not self._staged:
            write_text_atomic(self._dir / name, text, flush=False)
            return
        fd = os.open(self._dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(self._dir / name, FILE_MODE)  # whatever the umask

    def __enter__(self) -> ReportFolder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            if self._staged:
                shutil.rmtree(self._dir, ignore_errors=True)
            return
        sync_folder(self._dir)
        if self._staged:
            os.replace(self._dir, self.out)  # replaces an empty folder of that name
            sync_folder(self.out.parent)
