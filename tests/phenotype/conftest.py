"""Knowledge-base tables the phenotype and guidance tests feed to the stages (read as the stages read them)."""

from __future__ import annotations

import pytest

from pgx_pipeline import schema


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
