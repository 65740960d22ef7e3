"""Where knowledge files come from: local mirror folders in priority order (PharmCAT's data layout).

A file is read from the first folder that has it, so a current release can be topped up by a stale
fallback folder for the files it lacks; every file read is recorded with its checksum and whether it
came from a folder declared stale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PgxInputError


@dataclass(frozen=True)
class SourceRoot:
    path: Path
    priority: int
    stale: bool = False
    # MANIFEST.tsv of the mirror (file -> upstream path, commit, git blob), when it has one.
    manifest: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        """How tables and reports name the mirror: its folder name, never a machine path."""
        return self.path.name


@dataclass
class SourceFile:
    relpath: str
    path: Path
    root: SourceRoot
    sha256: str
    git_blob: str
    data_version: str | None = None

    @property
    def upstream(self) -> dict[str, str]:
        return self.root.manifest.get(self.relpath, {})


@dataclass
class SourceSet:
    """Ordered mirror folders; `find` returns the first copy of a file, `record` what was read."""

    roots: list[SourceRoot]
    read: list[SourceFile] = field(default_factory=list)

    @classmethod
    def from_paths(cls, paths: list[str | Path], stale: list[bool] | None = None) -> "SourceSet":
        if not paths:
            raise PgxInputError("no knowledge source given; pass --knowledge DIR or set knowledge.sources in the config")
        stale = stale or [False] * len(paths)
        roots = []
        for i, (p, s) in enumerate(zip(paths, stale)):
            path = Path(p).expanduser().resolve()
            if not path.is_dir():
                raise PgxInputError("knowledge source folder does not exist; check knowledge.sources / --knowledge", path=p)
            roots.append(SourceRoot(path, i, s or declares_stale(path), read_manifest(path)))
        return cls(roots)

    def find(self, relpath: str, *, required: bool = True) -> SourceFile | None:
        for root in self.roots:
            candidate = root.path / relpath
            if candidate.is_file():
                sha256, blob = file_digests(candidate)
                expected = root.manifest.get(relpath, {}).get("git_blob")
                if expected and expected != blob:
                    raise PgxInputError(
                        f"does not match its MANIFEST.tsv (git blob {blob}, listed {expected}); the mirror copy is "
                        "damaged or edited: fetch it again (pgx-pipeline knowledge fetch)", path=candidate)
                return SourceFile(relpath, candidate, root, sha256, blob)
        if required:
            tried = ", ".join(str(r.path) for r in self.roots)
            raise PgxInputError(f"knowledge file {relpath} is in none of the source folders ({tried})")
        return None

    def names(self, folder: str, suffix: str) -> list[str]:
        """Relative paths of every file in `folder` ending in `suffix`, across all roots, deduplicated."""
        found: set[str] = set()
        for root in self.roots:
            d = root.path / folder
            if d.is_dir():
                found.update(f"{folder}/{p.name}" for p in d.iterdir() if p.name.endswith(suffix))
        return sorted(found)

    def load_json(self, relpath: str, *, required: bool = True) -> tuple[Any, SourceFile] | None:
        """Parse a JSON knowledge file and record it as read (with the `version` it carries)."""
        src = self.find(relpath, required=required)
        if src is None:
            return None
        try:
            data = json.loads(src.path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PgxInputError(f"is not valid JSON ({exc}); replace it with the upstream file", path=src.path) from exc
        if isinstance(data, dict) and data.get("version") is not None:
            src.data_version = str(data["version"])
        self.read.append(src)
        return data, src


def file_digests(path: Path) -> tuple[str, str]:
    """SHA-256 and git blob id (what `git hash-object` prints: SHA-1 of "blob <size>\\0" + content) of a file."""
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha256.update(chunk)
            blob.update(chunk)
    return sha256.hexdigest(), blob.hexdigest()


def read_manifest(path: Path) -> dict[str, dict[str, str]]:
    """A mirror's MANIFEST.tsv (file, upstream_path, upstream_commit, git_blob, ...) keyed by file, or {}."""
    manifest = path / "MANIFEST.tsv"
    if not manifest.is_file():
        return {}
    lines = manifest.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t") if lines else []
    if "file" not in header:
        raise PgxInputError("has no 'file' column; expected file, upstream_path, upstream_commit, git_blob", path=manifest)
    rows = (dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip())
    return {r["file"]: r for r in rows}


def declares_stale(path: Path) -> bool:
    """A mirror whose PROVENANCE.md says it is stale is treated as stale even if the config forgets to."""
    prov = path / "PROVENANCE.md"
    if not prov.is_file():
        return False
    head = prov.read_text(encoding="utf-8", errors="replace")[:400].lower()
    return "stale" in head
