"""Shared fixtures: the real knowledge base, built once per test session from ../shared (the embedded one when
../shared is absent), and the ../shared paths with `needs(path)` to skip a test that reads one when it is absent."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pgx_pipeline import schema

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PHARMCAT = SHARED / "pgx-sources" / "pharmcat"
FALLBACK = SHARED / "pgx-sources" / "pharmcat-stale-fallback"
FDA_TABLE = SHARED / "pgx-sources" / "fda-pgx-associations" / "fda_pgx_associations.json"
PANEL38 = SHARED / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh38"
GETRM30X = SHARED / "reference-samples" / "pharmcat-tutorial-getrm30x"
PANEL37 = SHARED / "reference-samples" / "pypgx-bundle-1kgp" / "GRCh37"
CHAIN_TO_37 = SHARED / "genome-builds" / "hg38ToHg19.over.chain.gz"


SAMPLES = REPO / "data" / "sample_vcfs"
EXE = str(Path(sys.executable).parent / "pgx-pipeline")

HAVE_SHARED = PHARMCAT.is_dir()
NO_SHARED = f"needs the public data folder {SHARED} (absent, e.g. a fresh clone)"


def knowledge_args() -> list[str]:
    """`pgx-pipeline run` options for the ../shared mirrors; none without them (the embedded knowledge base)."""
    return ["--knowledge", str(PHARMCAT), "--knowledge", str(FALLBACK)] if HAVE_SHARED else []


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip a test that reads this ../shared file or folder when it is absent, saying which."""
    return pytest.mark.skipif(not path.exists(), reason=f"needs {path} from the public data folder (absent)")


def pytest_collection_modifyitems(config, items):
    if not HAVE_SHARED:
        skip = pytest.mark.skip(reason=NO_SHARED)
        for item in items:
            if "shared" in item.fixturenames:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def kb_dir(tmp_path_factory) -> Path:
    """The knowledge base built from ../shared as the workflow does; without ../shared, the embedded one (which
    tests/knowledge/test_embedded.py checks equals that build)."""
    out = tmp_path_factory.mktemp("kb")
    if HAVE_SHARED:
        from pgx_pipeline.knowledge.build import build_knowledge_base

        build_knowledge_base([PHARMCAT, FALLBACK], out, fda_associations=FDA_TABLE if FDA_TABLE.is_file() else None,
                             grch37_chain=CHAIN_TO_37 if CHAIN_TO_37.is_file() else None)
    else:
        from pgx_pipeline.knowledge.embedded import install_embedded

        install_embedded(out)
    return out


@pytest.fixture(scope="session")
def defs_dir(tmp_path_factory) -> Path:
    """Only the allele-definition tables (genes, positions, alleles): all that ingestion and matching read."""
    import shutil

    from pgx_pipeline import schema
    from pgx_pipeline.knowledge.definitions import load_definitions
    from pgx_pipeline.knowledge.embedded import embedded_kb_dir
    from pgx_pipeline.knowledge.sources import SourceSet

    out = tmp_path_factory.mktemp("kbdefs")
    if not HAVE_SHARED:
        for name in ("genes", "positions", "alleles", "build_map"):
            shutil.copyfile(embedded_kb_dir() / f"{name}.parquet", out / f"{name}.parquet")
        return out
    genes, positions, alleles = load_definitions(SourceSet.from_paths([PHARMCAT, FALLBACK]))
    schema.write_table(genes, out / "genes.parquet", schema.KB_GENES)
    schema.write_table(positions, out / "positions.parquet", schema.KB_POSITIONS)
    schema.write_table(alleles, out / "alleles.parquet", schema.KB_ALLELES)
    if CHAIN_TO_37.is_file():
        from pgx_pipeline.knowledge.build_map import lift_positions

        schema.write_table(lift_positions(positions, CHAIN_TO_37), out / "build_map.parquet", schema.KB_BUILD_MAP)
    return out


# Knowledge-base tables read as the stages read them (phenotype, guidance and calling tests feed them to the stages).
@pytest.fixture(scope="session")
def allele_functions(kb_dir):
    return schema.read_table(kb_dir / "allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS)


@pytest.fixture(scope="session")
def diplotype_phenotypes(kb_dir):
    return schema.read_table(kb_dir / "diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES)


@pytest.fixture(scope="session")
def kb_guidance(kb_dir):
    return schema.read_table(kb_dir / "guidance.parquet", schema.KB_GUIDANCE)


@pytest.fixture(scope="session")
def kb_messages(kb_dir):
    return schema.read_table(kb_dir / "messages.parquet", schema.KB_MESSAGES)


@pytest.fixture(scope="session")
def kb_genes(kb_dir):
    return schema.read_table(kb_dir / "genes.parquet", schema.KB_GENES)


def panel_slice(samples: list[str], genes, work: Path) -> list[Path]:
    """These samples of the GRCh38 1000 Genomes panel, one bgzipped and indexed VCF per gene file (bcftools)."""
    import subprocess

    out = []
    for gene in genes:
        path = work / f"{gene}.vcf.gz"
        subprocess.run(["bcftools", "view", "-s", ",".join(samples), "-Oz", "-o", str(path),
                        str(PANEL38 / f"{gene}.vcf.gz")], check=True)
        subprocess.run(["tabix", "-p", "vcf", str(path)], check=True)
        out.append(path)
    return out


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """The whole workflow on the bundled samples, as a user runs it (`pgx-pipeline run`): once per session; it builds
    the knowledge base and trains the warfarin model. tests/workflow/test_end_to_end.py checks its outputs; other
    workflow tests copy its knowledge base and model (`seed_from`) so they rerun only the stages they test."""
    out = tmp_path_factory.mktemp("run")
    proc = subprocess.run(
        [EXE, "run", str(SAMPLES / "bundled_samples.vcf.gz"), "--out", str(out),
         *knowledge_args(),
         "--sample-sheet", str(SAMPLES / "sample_sheet.tsv"),
         "--outside-calls", str(SAMPLES / "bundled_outside_calls.tsv"),
         "--cores", "2", "--report-date", "2026-01-01"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def seed_from(run: Path, out: Path, folders=("knowledge", "model")) -> Path:
    """Copy a finished run's knowledge base (and model) into a new results folder, times kept, so Snakemake finds
    them up to date and does not rebuild them: the same `--knowledge` options build the same tables (the rule's
    inputs are the mirror folders, not the samples). Only for tests about the stages after them."""
    out.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        shutil.copytree(run / folder, out / folder)
    return out
