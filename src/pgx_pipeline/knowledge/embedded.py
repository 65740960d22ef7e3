"""The knowledge base shipped inside the package, and the rule deciding when the pipeline uses it.

`pgx_pipeline/data/knowledge/<data version>/` holds the tables `pgx-pipeline knowledge build` made from the pinned
PharmCAT data (scripts/refresh_embedded.py regenerates them; tests/knowledge/test_embedded.py checks they still
equal a rebuild) and their provenance.json. Only these derived tables are shipped, never the upstream files.

Which knowledge base a run uses (config `knowledge.sources`):
- no folder configured, or none of the configured folders exists (a fresh clone without ../shared): the
  embedded one, and the run says so;
- every configured folder exists: built from them, as configured;
- some exist and some do not: an error naming the missing ones (a half-present mirror set would silently
  build from less than was asked for).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import PgxInputError

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

    @property
    def embedded(self) -> bool:
        return not self.paths


def choose_knowledge(sources: list[dict] | None, base: str | Path = ".") -> KnowledgeChoice:
    """Apply the rule of the module docstring to config `knowledge.sources` (paths relative to `base`)."""
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
    return KnowledgeChoice(present, "building the knowledge base from " + ", ".join(present))
