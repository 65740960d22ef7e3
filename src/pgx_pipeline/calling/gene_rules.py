"""Gene-specific rules on top of the generic matcher (PharmCAT's documented gene exceptions)."""

from __future__ import annotations

import pandas as pd

from .matcher import GeneModel, MatchResult

# Structural variation an SNV VCF cannot show: said on every call of these genes.
NOT_ASSESSED_NOTES = {
    "CYP2D6": [
        "copy number (gene deletion *5, duplications xN) and CYP2D6/CYP2D7 hybrids (*13, *36, *68) were NOT assessed "
        "from this SNV VCF; supply an outside call from a CNV-aware caller to cover them",
    ],
}

SLCO1B1_RS4149056 = 21178615  # c.521T>C; CPIC: every SLCO1B1 test must interrogate it


def apply_gene_rules(model: GeneModel, result: MatchResult, gene_genotypes: pd.DataFrame, sample_id: str) -> MatchResult:
    if model.gene == "SLCO1B1" and result.status == "not_called":
        return _slco1b1_fallback(model, result, gene_genotypes, sample_id)
    return result


def _slco1b1_fallback(model: GeneModel, result: MatchResult, genotypes: pd.DataFrame, sample_id: str) -> MatchResult:
    """No star-allele call: CPIC's statin guideline still acts on the c.521T>C genotype alone (as PharmCAT does)."""
    row = genotypes[(genotypes["sample_id"] == sample_id) & (genotypes["position"] == SLCO1B1_RS4149056)]
    if row.empty or row["state"].iloc[0] != "called":
        return result
    alleles = [row["allele1"].iloc[0], row["allele2"].iloc[0]]
    if any(a not in ("T", "C") for a in alleles):
        return result
    # *5 is defined by c.521C alone; here it stands for "some c.521C allele" (*5, *15, ...), which share function.
    names = sorted("*5" if a == "C" else "*1" for a in alleles)
    return MatchResult(
        [(names[0], names[1], 0)],
        result.phased,
        result.missing,
        result.matched,
        result.undocumented,
        result.warnings
        + [
            f"star alleles could not be resolved; called from rs4149056 (c.521T>C) alone: {alleles[0]}/{alleles[1]} -> "
            f"{names[0]}/{names[1]} (*5 stands for any c.521C allele); the other variants found are not accounted for"
        ],
    )
