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
# PharmCAT's Slco1b1CustomCaller: with no star diplotype, each rs4149056 allele stands for a haplotype for the
# phenotype lookup only (T -> *1, C -> *5: *5 is defined by c.521C alone and shares its function with the other
# c.521C alleles); the genotype shown is the rs4149056 genotype, never a star diplotype.
RS4149056_LOOKUP = {"rs4149056 T": "*1", "rs4149056 C": "*5"}


def apply_gene_rules(model: GeneModel, result: MatchResult, gene_genotypes: pd.DataFrame, sample_id: str) -> MatchResult:
    if model.gene == "SLCO1B1" and result.status == "not_called":
        return _slco1b1_fallback(model, result, gene_genotypes, sample_id)
    return result


def _slco1b1_fallback(model: GeneModel, result: MatchResult, genotypes: pd.DataFrame, sample_id: str) -> MatchResult:
    """No star-allele call: PharmCAT reports no diplotype and takes the phenotype from the c.521T>C genotype alone
    (docs/methods/Gene-Definition-Exceptions.md, SLCO1B1). The call names the rs4149056 genotype (as PharmCAT's
    report does, e.g. `rs4149056 T/rs4149056 C`); the phenotype stage looks it up through RS4149056_LOOKUP."""
    row = genotypes[(genotypes["sample_id"] == sample_id) & (genotypes["position"] == SLCO1B1_RS4149056)]
    if row.empty or row["state"].iloc[0] != "called":
        return result
    alleles = [row["allele1"].iloc[0], row["allele2"].iloc[0]]
    if any(a not in ("T", "C") for a in alleles):
        return result
    alleles = sorted(alleles, reverse=True)  # T before C, as PharmCAT lists them
    names = [f"rs4149056 {a}" for a in alleles]
    looked_up = "/".join(RS4149056_LOOKUP[n] for n in names)
    return MatchResult(
        [(names[0], names[1], None)],
        result.phased,
        result.missing,
        result.matched,
        result.undocumented,
        result.warnings
        + [
            f"no star-allele diplotype fits; the phenotype comes from rs4149056 (c.521T>C) alone: "
            f"{alleles[0]}/{alleles[1]}, looked up as {looked_up} (PharmCAT's SLCO1B1 rule; *5 stands for any c.521C "
            "allele); the other variants found are not accounted for"
        ],
    )
