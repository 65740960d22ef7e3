"""VCF ingestion: genotypes at the knowledge base's positions, one Parquet table per input."""
