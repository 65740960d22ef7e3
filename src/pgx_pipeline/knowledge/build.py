"""Build the knowledge base: every source file read once, written as the project's Parquet tables.

Output (in `out_dir`): genes, positions, alleles (allele definitions), allele_functions and
diplotype_phenotypes (phenotype files), guidance and messages (reporter files), sources (what was read).
Every table carries the data version and source in its Parquet metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .. import __version__, schema
from ..errors import PgxInputError
from .build_map import DIFFERENCES_FILE, empty_build_map, lift_positions
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
    "build_map": schema.KB_BUILD_MAP,
    "sources": schema.KB_SOURCES,
}


UPSTREAM_REPOSITORY = "PharmGKB/PharmCAT"

# Licences of what the tables are derived from (PharmCAT's LICENSE; CPIC's and ClinPGx's stated terms).
LICENCES = [
    {"content": "PharmCAT repository files (allele definitions, phenotype tables, reporter messages and guidance)",
     "licence": "MPL-2.0", "url": "https://github.com/PharmGKB/PharmCAT/blob/main/LICENSE"},
    {"content": "CPIC guideline content (allele functions, phenotypes, recommendations)",
     "licence": "CC0-1.0", "url": "https://cpicpgx.org/license/"},
    {"content": "ClinPGx (formerly PharmGKB) guideline annotations, incl. DPWG recommendations",
     "licence": "attribution required (ClinPGx data usage policy)", "url": "https://www.clinpgx.org/"},
    {"content": "FDA Table of Pharmacogenetic Associations (fda_associations table and FDA guidance rows)",
     "licence": "public domain (work of the US federal government); cite the FDA page and its retrieval date",
     "url": "https://www.fda.gov/medical-devices/precision-medicine/table-pharmacogenetic-associations"},
]

# Added when the build map is made from a chain (from ../shared/genome-builds/PROVENANCE.md).
CHAIN_LICENCE = {"content": "UCSC liftOver chain file GRCh38->GRCh37 (hg38ToHg19.over.chain.gz; the build_map table is "
                            "derived from it)",
                 "licence": "freely available for any use (UCSC Genome Browser)",
                 "url": "https://hgdownload.soe.ucsc.edu/goldenPath/hg38/liftOver/"}


def kb_metadata(sources: SourceSet) -> dict[str, str]:
    """Versions stamped into every table: the definitions' data version and the upstream commits it came from.

    Only names and commits, never a machine path: the same data built anywhere gives the same tables.
    """
    versions = sorted({f.data_version for f in sources.read if f.data_version and not f.root.stale})
    current = _commits(f for f in sources.read if not f.root.stale)
    stale = _commits(f for f in sources.read if f.root.stale)
    source = "; ".join(
        [f"{UPSTREAM_REPOSITORY} {c}" for c in current if c != "unknown"]
        + [f"stale fallback {UPSTREAM_REPOSITORY} {c}" for c in stale if c != "unknown"]
        + [f"mirror {r.label} (no MANIFEST.tsv)" for r in sources.roots
           if not r.manifest and any(f.root is r for f in sources.read)]
    )
    return {
        "data_version": versions[-1] if versions else "unknown",
        "upstream_commit": ";".join(current) or "unknown",
        "source": source or "unknown",
        "stale_files": _stale_summary(sorted({f.relpath for f in sources.read if f.root.stale})),
        "pipeline_version": __version__,
    }


def _commits(files) -> list[str]:
    return sorted({f.upstream.get("upstream_commit") or "unknown" for f in files})


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
                         fda_associations: str | Path | None = None,
                         grch37_chain: str | Path | None = None, stale: list[bool] | None = None) -> dict[str, Path]:
    """Read the mirrors (first folder wins per file) and write all knowledge tables atomically.  `fda_associations`:
    the FDA Table of Pharmacogenetic Associations (JSON); without it the fda_associations table is empty.
    `grch37_chain`: the GRCh38->GRCh37 liftOver chain; without it the build_map table is empty (no GRCh37 input)."""
    from .guidance_sources import load_guidance, load_messages
    from .phenotype_sources import load_phenotypes

    out_dir = Path(out_dir)
    sources = SourceSet.from_paths(list(source_dirs), stale)
    genes, positions, alleles = load_definitions(sources)
    allele_functions, diplotype_phenotypes = load_phenotypes(sources)
    guidance = load_guidance(sources)
    messages = load_messages(sources)
    fda = fda_table(fda_associations, diplotype_phenotypes, alleles, positions)
    build_map = lift_positions(positions, grch37_chain) if grch37_chain else empty_build_map()
    read = pd.DataFrame(
        [
            {
                "file": f.relpath,
                "source_root": f.root.label,
                "priority": f.root.priority,
                "sha256": f.sha256,
                "git_blob": f.git_blob,
                "upstream_path": f.upstream.get("upstream_path") or None,
                "upstream_commit": f.upstream.get("upstream_commit") or None,
                "data_version": f.data_version,
                "stale": f.root.stale,
            }
            for f in sources.read
        ]
        + fda_source_rows(fda_associations)
        + chain_source_rows(grch37_chain)
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
        "build_map": build_map,
        "sources": read,
    }
    written = {
        name: schema.write_table(frames[name], out_dir / f"{name}.parquet", TABLE_FILES[name], metadata=meta)
        for name in TABLE_FILES
    }
    from .embedded import sources_sha256

    digest = sources_sha256([r.path for r in sources.roots], fda_associations, grch37_chain,
                            stale=[r.stale for r in sources.roots])
    _write_json_atomic(out_dir / PROVENANCE_FILE, provenance(meta, read) | {"sources_sha256": digest})
    return written


def fda_table(path: str | Path | None, diplotype_phenotypes: pd.DataFrame, alleles: pd.DataFrame,
              positions: pd.DataFrame) -> pd.DataFrame:
    from .fda import load_fda_associations

    if not path:
        return pd.DataFrame({c: [] for c in schema.KB_FDA_ASSOCIATIONS.column_names})
    return load_fda_associations(path, diplotype_phenotypes, alleles, positions)


def chain_source_rows(chain: str | Path | None) -> list[dict]:
    """The chain file and the reference differences shipped with the package, as rows of the sources table."""
    if not chain:
        return []
    from .sources import file_digests

    rows = []
    for p, root in ((Path(chain).expanduser().resolve(), Path(chain).expanduser().resolve().parent.name),
                    (DIFFERENCES_FILE, "pgx_pipeline.knowledge")):
        sha256, git_blob = file_digests(p)
        rows.append({"file": p.name, "source_root": root, "priority": -1, "sha256": sha256, "git_blob": git_blob,
                     "upstream_path": None, "upstream_commit": None, "data_version": None, "stale": False})
    return rows


def fda_source_rows(path: str | Path | None) -> list[dict]:
    """The FDA file as a row of the sources table (its own file, outside the PharmCAT mirrors)."""
    if not path:
        return []
    from .sources import file_digests

    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise PgxInputError("FDA associations file not found; set knowledge.fda_associations (or --fda-associations) "
                            "to the JSON table, or leave it empty for no FDA rows", path=path)
    sha256, git_blob = file_digests(p)
    return [{"file": p.name, "source_root": p.parent.name, "priority": -1, "sha256": sha256, "git_blob": git_blob,
             "upstream_path": None, "upstream_commit": None, "data_version": None, "stale": False}]


PROVENANCE_FILE = "provenance.json"


def provenance(meta: dict[str, str], read: pd.DataFrame) -> dict:
    """What a user needs to trust a built knowledge base: versions, upstream commits, every file read, licences."""
    files = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in read.to_dict(orient="records")]
    return {
        "data_version": meta["data_version"],
        "upstream_repository": UPSTREAM_REPOSITORY,
        "upstream_commit": meta["upstream_commit"],
        "source": meta["source"],
        "stale_files": meta["stale_files"],
        "built_by": f"pgx-pipeline {meta['pipeline_version']} (pgx-pipeline knowledge build)",
        "tables": sorted(TABLE_FILES),
        "licences": LICENCES + ([CHAIN_LICENCE] if any(f["file"].endswith(".chain.gz") for f in files) else []),
        "files": files,
    }


def read_provenance(kb_dir: str | Path) -> dict:
    """provenance.json of a built knowledge base, or what its tables' metadata say when it has none."""
    kb_dir = Path(kb_dir)
    path = kb_dir / PROVENANCE_FILE
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return schema.read_metadata(kb_dir / "genes.parquet")


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = schema.atomic_path(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
