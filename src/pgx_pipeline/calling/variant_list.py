"""DPYD and RYR1: every defined variant is found, and the two lowest-function ones make the diplotype.

CPIC (DPYD, PMID 29152729): "the gene activity score ... is calculated as the sum of the activity scores of the
two DPYD variants with the lowest variant activity score"; "if two different decreased/no function variants
are present, they are presumed to be on different gene copies".  PharmCAT applies the same to RYR1
(lowest function first).  With phased data the lowest-function variant of each haplotype is used.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .matcher import GeneModel, MatchResult, Pattern, diplotype_name

VARIANT_LIST_GENES = frozenset({"DPYD", "RYR1"})

FUNCTION_RANK = (  # lower = less function; used when no numeric activity value exists
    ("malignant hyperthermia", 0.0),
    ("no function", 0.0),
    ("decreased", 0.5),
    ("uncertain", 0.9),
    ("unknown", 0.9),
    ("normal", 1.0),
)


def function_ranks(allele_functions: pd.DataFrame | None, gene: str) -> dict[str, float]:
    """Allele -> number ordering alleles from least to most function."""
    if allele_functions is None:
        return {}
    out = {}
    for row in allele_functions[allele_functions["gene"] == gene].itertuples():
        value = None
        if isinstance(row.activity_value, str):
            try:
                value = float(row.activity_value)
            except ValueError:
                value = None
        if value is None or math.isnan(value):
            text = row.function.lower() if isinstance(row.function, str) else ""
            value = next((v for key, v in FUNCTION_RANK if key in text), None)
        if value is not None:
            out[row.allele] = value
    return out


def match_variant_list(model: GeneModel, pat: Pattern, ranks: dict[str, float]) -> MatchResult:
    """Variants carried (with copy number, or per haplotype when phased) -> two lowest-function alleles."""
    h1, h2 = pat.h1.copy(), pat.h2.copy()
    missing = (h1 < 0) | ((h2 < 0) & (h2 != -2))
    undocumented = ~missing & ((h1 >= model.n_documented) | ((h2 >= model.n_documented) & (h2 != -2)))
    h1[undocumented & (h1 >= model.n_documented)] = 0
    h2[undocumented & (h2 >= model.n_documented)] = 0
    present = ~missing
    ref = model.reference_index
    P = len(model.positions)
    idx = np.arange(P)
    on1 = model.accept[:, idx, np.where(present, h1, 0)]
    on2 = model.accept[:, idx, np.where(present, np.where(h2 == -2, 0, h2), 0)]
    # An allele is carried on a haplotype when every one of its defined positions shows its base there.
    defined = model.defined
    assessable = ((defined & present).sum(axis=1) == defined.sum(axis=1)) & defined.any(axis=1)
    assessable[ref] = False
    carried1 = assessable & ((on1 | ~defined).all(axis=1))
    carried2 = assessable & ((on2 | ~defined).all(axis=1)) & ~(h2 == -2).all()
    het = present & (h1 != h2) & (h2 != -2)
    phased = len(set(pat.block[het].tolist())) <= 1
    names = model.allele_names
    rank = lambda i: (ranks.get(names[i], 0.9), names[i])  # noqa: E731 - a sort key, local on purpose
    # PharmCAT: normal-function variants are shown as the reference allele in the calculated genotype.
    reduced = lambda i: ranks.get(names[i], 0.9) < 1.0  # noqa: E731
    if phased:
        hap1 = sorted(np.flatnonzero(carried1), key=rank)
        hap2 = sorted(np.flatnonzero(carried2), key=rank)
        pick = [names[h[0]] if h and reduced(h[0]) else names[ref] for h in (hap1, hap2)]
        found = [" + ".join(names[i] for i in h) or names[ref] for h in (hap1, hap2)]
        detail = f"variants by haplotype: {found[0]} / {found[1]}"
    else:
        # Unphased: copies of a variant = fewest copies of its base over its defined positions.
        counts = np.where(defined, on1.astype(int) + np.where((h2 == -2)[None, :], 0, on2.astype(int)), 99)
        copies = np.where(assessable, counts.min(axis=1), 0)
        alleles = sorted((i for i in np.flatnonzero(copies) for _ in range(copies[i])), key=rank)
        lowest = [i for i in alleles if reduced(i)][:2]
        pick = [names[i] for i in lowest] + [names[ref]] * (2 - len(lowest))
        detail = "variants found: " + (", ".join(
            f"{names[i]}" + (" (homozygous)" if copies[i] == 2 else "") for i in sorted(set(alleles), key=rank)
        ) or "none")
    warnings = [detail + "; the two lowest-function variants make the diplotype (CPIC/PharmCAT rule)"]
    if undocumented.any():
        warnings.append(f"undocumented variant at {', '.join(str(p) for p in model.positions[undocumented])} read as reference")
    if missing.any():
        warnings.append(f"{int(missing.sum())} allele-defining position(s) missing: variants there were not assessed")
    if not present.any():
        return MatchResult([], phased, [int(x) for x in model.positions[missing]], [], [], ["no allele-defining position was genotyped"], "not_called")
    a, b = diplotype_name(pick[0], pick[1], names[ref])
    return MatchResult(
        [(a, b, None)], phased, [int(x) for x in model.positions[missing]], [int(x) for x in model.positions[present]],
        [int(x) for x in model.positions[undocumented]], warnings,
    )
