"""Test helpers shipped with the package: synthetic VCFs built from the knowledge base's own definitions.

They live in the package (not in tests/) because the sample-data generator in `scripts/` uses them too.
"""

from .synthetic import (
    GRCH38_LENGTHS,
    KnowledgeTables,
    Record,
    SampleSpec,
    allele_haplotype,
    build_kb_dir,
    genotype_records,
    resolve_base,
    write_vcf,
)

__all__ = [
    "GRCH38_LENGTHS",
    "KnowledgeTables",
    "Record",
    "SampleSpec",
    "allele_haplotype",
    "build_kb_dir",
    "genotype_records",
    "resolve_base",
    "write_vcf",
]
