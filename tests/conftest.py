"""Shared fixtures: the real knowledge base, built once per test session from ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PHARMCAT = SHARED / "pgx-sources" / "pharmcat"
FALLBACK = SHARED / "pgx-sources" / "pharmcat-stale-fallback"
FDA_TABLE = SHARED / "pgx-sources" / "fda-pgx-associations" / "fda_pgx_associations.json"
PANEL38 = SHARED / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
GETRM30X = SHARED / "reference-samples" / "pharmcat-tutorial-getrm30x"


def pytest_collection_modifyitems(config, items):
    if not PHARMCAT.is_dir():
        skip = pytest.mark.skip(reason=f"shared data not found at {SHARED}")
        for item in items:
            if "shared" in item.fixturenames or "kb_dir" in item.fixturenames:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def kb_dir(tmp_path_factory) -> Path:
    from pgx_pipeline.knowledge.build import build_knowledge_base

    out = tmp_path_factory.mktemp("kb")
    build_knowledge_base([PHARMCAT, FALLBACK], out, fda_associations=FDA_TABLE if FDA_TABLE.is_file() else None)
    return out


@pytest.fixture(scope="session")
def defs_dir(tmp_path_factory) -> Path:
    """Only the allele-definition tables (genes, positions, alleles): all that ingestion and matching read."""
    from pgx_pipeline import schema
    from pgx_pipeline.knowledge.definitions import load_definitions
    from pgx_pipeline.knowledge.sources import SourceSet

    out = tmp_path_factory.mktemp("kbdefs")
    genes, positions, alleles = load_definitions(SourceSet.from_paths([PHARMCAT, FALLBACK]))
    schema.write_table(genes, out / "genes.parquet", schema.KB_GENES)
    schema.write_table(positions, out / "positions.parquet", schema.KB_POSITIONS)
    schema.write_table(alleles, out / "alleles.parquet", schema.KB_ALLELES)
    return out
