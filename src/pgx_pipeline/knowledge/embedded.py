"""The knowledge base shipped inside the package, and the rule deciding when the pipeline uses it.

`pgx_pipeline/data/knowledge/<data version>/` holds the tables `pgx-pipeline knowledge build` made from the pinned
PharmCAT data (scripts/refresh_embedded.py regenerates them; tests/knowledge/test_embedded.py checks they still
equal a rebuild) and their provenance.json. Only these derived tables are shipped, never the upstream files.

Which knowledge base a run uses (config `knowledge.sources`):
- no folder configured, or none of the configured folders exists (a fresh clone without ../shared): the
  embedded one, and the run says so;
- every configured folder exists: built from them, as configured, unless they, the FDA table and the liftOver chain
  are byte for byte the files the embedded one was built from (`sources_sha256`, recorded in its provenance.json):
  then the embedded one is installed, since a build would only make it again (~3 s of every run with ../shared);
- some exist and some do not: an error naming the missing ones (a half-present mirror set would silently
  build from less than was asked for).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import PgxInputError
from ..provenance import file_sha256

EMBEDDED_ROOT = Path(__file__).resolve().parents[1] / "data" / "knowledge"


def embedded_kb_dir() -> Path:
    """The folder of the embedded knowledge base (exactly one data version is shipped)."""
    versions = sorted(p for p in EMBEDDED_ROOT.glob("*/provenance.json")) if EMBEDDED_ROOT.is_dir() else []
    if len(versions) != 1:
        raise PgxInputError(
            f"expected one embedded knowledge base in {EMBEDDED_ROOT}, found {len(versions)}; reinstall pgx-pipeline "
            "or regenerate it with scripts/refresh_embedded.py")
    return versions[0].parent


def install_embedded(out_dir: str | Path) -> list[Path]:
    """Copy the embedded tables (and provenance.json) into `out_dir`, each file replaced atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sorted(embedded_kb_dir().iterdir()):
        if src.suffix not in (".parquet", ".json"):
            continue
        tmp = out_dir / f".{src.name}.tmp"
        shutil.copyfile(src, tmp)
        os.replace(tmp, out_dir / src.name)
        written.append(out_dir / src.name)
    return written


@dataclass(frozen=True)
class KnowledgeChoice:
    """`paths` to build from, or none for the embedded knowledge base; `note` says why, for the run's log."""

    paths: list[str]
    note: str
    # The folders among `paths` the config declares stale (`stale: true`): every row read from them is flagged.
    stale: tuple[str, ...] = ()

    @property
    def embedded(self) -> bool:
        return not self.paths


def sources_sha256(folders: list[str | Path], fda_associations: str | Path | None = None,
                   grch37_chain: str | Path | None = None, stale: list[bool] | None = None) -> str:
    """SHA-256 over everything a build reads: each mirror folder in priority order (its name, never where it sits
    on this machine; whether it is read as stale, declared or by its PROVENANCE.md; every file's path inside it and
    SHA-256), then the FDA table and the chain. Equal digests: a build reads the same bytes the same way."""
    from .sources import declares_stale

    digest = hashlib.sha256()
    for i, folder in enumerate(folders):
        folder = Path(folder)
        read_as_stale = bool(stale and stale[i]) or declares_stale(folder)
        digest.update(f"mirror {i} {folder.resolve().name} stale={read_as_stale}\n".encode())
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"{path.relative_to(folder).as_posix()} {file_sha256(path)}\n".encode())
    for label, path in (("fda_associations", fda_associations), ("grch37_chain", grch37_chain)):
        state = file_sha256(Path(path)) if path and Path(path).is_file() else "absent"
        digest.update(f"{label} {state}\n".encode())
    return digest.hexdigest()


def choose_knowledge(sources: list[dict] | None, base: str | Path = ".", *,
                     fda_associations: str | None = None, grch37_chain: str | None = None) -> KnowledgeChoice:
    """Apply the rule of the module docstring to config `knowledge.sources`, `knowledge.fda_associations` and
    `knowledge.grch37_chain` (paths relative to `base`)."""
    sources = sources or []
    if not sources:
        return KnowledgeChoice([], "knowledge.sources is empty: using the embedded knowledge base")
    present = [s["path"] for s in sources if (Path(base) / s["path"]).is_dir()]
    missing = [s["path"] for s in sources if s["path"] not in present]
    if not present:
        return KnowledgeChoice([], f"none of the knowledge.sources folders exists ({', '.join(missing)}): using the "
                                   "embedded knowledge base")
    if missing:
        raise PgxInputError(
            f"knowledge.sources: {', '.join(missing)} missing while {', '.join(present)} exist; give every mirror "
            "folder or none (none: the embedded knowledge base is used)")
    at = [Path(base) / p for p in present]
    extra = [Path(base) / p if p else None for p in (fda_associations, grch37_chain)]
    declared = [bool(s.get("stale")) for s in sources]
    embedded = json.loads((embedded_kb_dir() / "provenance.json").read_text(encoding="utf-8"))
    if embedded.get("sources_sha256") == sources_sha256(at, *extra, stale=declared):
        return KnowledgeChoice([], f"the knowledge sources ({', '.join(present)}, the FDA table and the liftOver "
                                   "chain) are byte for byte those the embedded knowledge base "
                                   f"{embedded['data_version']} was built from: using it instead of building it again")
    return KnowledgeChoice(present, "building the knowledge base from " + ", ".join(present),
                           tuple(p for p, d in zip(present, declared) if d))
