"""File names and writes for patient outputs: sample ids never become paths, and no reader ever sees half a file.

Sample ids come from VCF headers and sample sheets, i.e. from outside; `../x`, `a/b` or control characters must
not turn into paths. Outputs are written to a temporary file in the same folder and renamed, so a crash leaves
either the old file or the new one. Files get mode 0o640 (and the CLI runs under umask 027): these are patient
results, which must not be world-readable on a shared cluster filesystem.
"""

from __future__ import annotations

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


def write_text_atomic(path: str | os.PathLike, text: str | Iterable[str]) -> Path:
    """Write UTF-8 text via a temporary file in the same folder, then rename over `path`.

    `text` may be an iterable of pieces, so a cohort-sized file is streamed rather than built in memory.
    """
    path = Path(path)
    fd, tmp = atomic_path(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                fh.writelines(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
