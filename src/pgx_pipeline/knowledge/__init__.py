"""Knowledge base: PharmCAT's published data turned into the project's normalised Parquet tables."""
