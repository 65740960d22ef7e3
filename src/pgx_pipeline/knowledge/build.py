"""Build the knowledge base: every source file read once, written as the project's Parquet tables.

Output (in `out_dir`): genes, positions, alleles (allele definitions), allele_functions and
diplotype_phenotypes (phenotype files), guidance and messages (reporter files), sources (what was read).
Every table carries the data version and source in its Parquet metadata.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import __version__, schema
from .definitions import load_definitions
from .sources import SourceSet

TABLE_FILES = {
    "genes": schema.KB_GENES,
    "positions": schema.KB_POSITIONS,
    "alleles": schema.KB_ALLELES,
    "allele_functions": schema.KB_ALLELE_FUNCTIONS,
    "diplotype_phenotypes": schema.KB_DIPLOTYPE_PHENOTYPES,
    "guidance": schema.KB_GUIDANCE,
    "messages": schema.KB_MESSAGES,
    "fda_associations": schema.KB_FDA_ASSOCIATIONS,
    "sources": schema.KB_SOURCES,
}


def kb_metadata(sources: SourceSet) -> dict[str, str]:
    """Versions stamped into every table: the definitions' data version and where it came from."""
    versions = sorted({f.data_version for f in sources.read if f.data_version and not f.root.stale})
    return {
        "data_version": versions[-1] if versions else "unknown",
        "source": ";".join(str(r.path) for r in sources.roots),
        "stale_files": _stale_summary(sorted({f.relpath for f in sources.read if f.root.stale})),
        "pipeline_version": __version__,
    }


def _stale_summary(relpaths: list[str]) -> str:
    """One short line: single files by name, whole folders by count (118 guideline files are not a list)."""
    by_folder: dict[str, list[str]] = {}
    for rel in relpaths:
        folder, _, name = rel.rpartition("/")
        by_folder.setdefault(folder, []).append(name)
    parts = []
    for folder, names in sorted(by_folder.items()):
        parts.append(f"{folder}/{names[0]}" if len(names) == 1 else
                     (", ".join(f"{folder}/{n}" for n in names) if len(names) <= 3 else f"{len(names)} files in {folder}/"))
    return "; ".join(parts)


def build_knowledge_base(source_dirs: list[str | Path], out_dir: str | Path,
                         fda_associations: str | Path | None = None) -> dict[str, Path]:
    """Read the mirrors (first folder wins per file) and write all knowledge tables atomically.  `fda_associations`:
    the FDA Table of Pharmacogenetic Associations (JSON); without it the fda_associations table is empty."""
    from .guidance_sources import load_guidance, load_messages
    from .phenotype_sources import load_phenotypes

    out_dir = Path(out_dir)
    sources = SourceSet.from_paths(list(source_dirs))
    genes, positions, alleles = load_definitions(sources)
    allele_functions, diplotype_phenotypes = load_phenotypes(sources)
    guidance = load_guidance(sources)
    messages = load_messages(sources)
    fda = fda_table(fda_associations, diplotype_phenotypes, alleles, positions)
    read = pd.DataFrame(
        [
            {
                "file": f.relpath,
                "source_root": str(f.root.path),
                "priority": f.root.priority,
                "sha256": f.sha256,
                "data_version": f.data_version,
                "stale": f.root.stale,
            }
            for f in sources.read
        ]
        + fda_source_rows(fda_associations)
    )
    meta = kb_metadata(sources)
    frames = {
        "genes": genes,
        "positions": positions,
        "alleles": alleles,
        "allele_functions": allele_functions,
        "diplotype_phenotypes": diplotype_phenotypes,
        "guidance": guidance,
        "messages": messages,
        "fda_associations": fda,
        "sources": read,
    }
    return {
        name: schema.write_table(frames[name], out_dir / f"{name}.parquet", TABLE_FILES[name], metadata=meta)
        for name in TABLE_FILES
    }


def fda_table(path: str | Path | None, diplotype_phenotypes: pd.DataFrame, alleles: pd.DataFrame,
              positions: pd.DataFrame) -> pd.DataFrame:
    from .fda import load_fda_associations

    if not path:
        return pd.DataFrame({c: [] for c in schema.KB_FDA_ASSOCIATIONS.column_names})
    return load_fda_associations(path, diplotype_phenotypes, alleles, positions)


def fda_source_rows(path: str | Path | None) -> list[dict]:
    """The FDA file as a row of the sources table (its own file, outside the PharmCAT mirrors)."""
    if not path:
        return []
    from .sources import _sha256

    p = Path(path).expanduser().resolve()
    return [{"file": p.name, "source_root": str(p.parent), "priority": -1, "sha256": _sha256(p),
             "data_version": None, "stale": False}]
