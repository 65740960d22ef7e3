"""Star-allele calling: genotypes to ranked diplotype candidates with their evidence."""
