"""DPYD and RYR1, PharmCAT's "lowest-function" genes: the variants found are reported, not a star diplotype.

PharmCAT 3 (docs/methods/Gene-Definition-Exceptions.md, "Calling DPYD named alleles" and "Calling RYR1 named
alleles"; DpydTest, Ryr1Test, PipelineTest.phaseSetDpyd):

* Phased or *effectively* phased data (homozygous everywhere, or heterozygous at one position only): every variant
  found on each chromosome is listed; several variants in cis form one combination, ``[c.498G>A + c.2582A>G]``;
  a chromosome with none is ``Reference``.  Diplotype: ``[c.498G>A + c.2582A>G]/[c.2846A>T + c.2933A>G]``.
* Phase sets (VCF PS) that leave the relative phase of blocks unknown: every arrangement of the blocks is a
  candidate diplotype (``Reference/[c.85T>C (*9A) + c.3067C>A]`` and ``c.85T>C (*9A)/c.3067C>A``).
* Unphased data: no diplotype; the list of variants found, a variant on both chromosomes marked
  ``(homozygous)``.  We write the list joined by `` AND `` as PharmCAT's calls-only TSV does
  (``c.2582A>G AND c.2846A>T AND c.2933A>G (homozygous)``).

The phenotype is looked up with two alleles (PharmCAT's "recommendation diplotype", our ``allele1``/``allele2``):
the lowest-function variant of each chromosome when phased, otherwise the two lowest-function variants found (CPIC
DPYD, PMID 29152729: "the sum of the activity scores of the two DPYD variants with the lowest variant activity
score"; "if two different decreased/no function variants are present, they are presumed to be on different gene
copies").  DPYD orders variants by CPIC activity value, RYR1 puts "Malignant Hyperthermia associated" variants
first and ranks every other function alike; equal variants are ordered by name.  With several block arrangements
the arrangement whose pair has the lowest activity sum (RYR1: the most MH-associated variants) is used, as
PharmCAT's reporter does: for an unknown relative phase that is CPIC's different-copies presumption.
"""

from __future__ import annotations

import math
import re
from itertools import product

import numpy as np
import pandas as pd

from .matcher import UNPHASED_BLOCK_BASE, GeneModel, MatchResult, Pattern

VARIANT_LIST_GENES = frozenset({"DPYD", "RYR1"})
REFERENCE = "Reference"
HAPB3 = "c.1129-5923C>G, c.1236G>A (HapB3)"
HAPB3_INTRONIC = "c.1129-5923C>G"  # the intronic variant alone: its own allele
MAX_BLOCK_ARRANGEMENTS = 12  # 2**11 arrangements of phase blocks; beyond that, read as unphased

FUNCTION_RANK = (  # lower = less function; used when no numeric activity value exists
    ("malignant hyperthermia", 0.0),
    ("no function", 0.0),
    ("decreased", 0.5),
)
OTHER_FUNCTION = 1.0  # normal, uncertain, unknown: PharmCAT ranks RYR1's non-MH functions alike (Ryr1Test Het3)


def function_ranks(allele_functions: pd.DataFrame | None, gene: str) -> dict[str, float]:
    """Allele -> number ordering alleles from least to most function (CPIC activity value when published)."""
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
            value = next((v for key, v in FUNCTION_RANK if key in text), OTHER_FUNCTION)
        out[row.allele] = value
    return out


def name_key(name: str) -> tuple:
    """PharmCAT's haplotype name order: Reference, single variants, then combinations (fewer components first);
    names compared with their numbers as numbers (c.498G>A before c.2582A>G)."""
    if name == REFERENCE:
        return (0,)
    if is_combination(name):
        parts = split_combination(name)
        return (2, len(parts), tuple(_natural(p) for p in parts))
    return (1, _natural(name))


def is_combination(name: str) -> bool:
    return name.startswith("[") and name.endswith("]")


def split_combination(name: str) -> list[str]:
    return [p.strip() for p in name[1:-1].split(" + ")] if is_combination(name) else [name]


def _natural(text: str) -> tuple:
    return tuple((0, int(c), "") if c.isdigit() else (1, 0, c) for c in re.split(r"(\d+)", text) if c)


def haplotype_label(variants: list[str]) -> str:
    """One chromosome: Reference, one variant, or '[a + b]' for variants in cis."""
    if not variants:
        return REFERENCE
    ordered = sorted(variants, key=name_key)
    return ordered[0] if len(ordered) == 1 else "[" + " + ".join(ordered) + "]"


def diplotype_label(hap1: list[str], hap2: list[str]) -> str:
    return "/".join(sorted((haplotype_label(hap1), haplotype_label(hap2)), key=name_key))


def match_variant_list(model: GeneModel, pat: Pattern, ranks: dict[str, float]) -> MatchResult:
    """The variants carried (per chromosome when phased) and the lowest-function pair the phenotype comes from."""
    h1, h2 = pat.h1.copy(), pat.h2.copy()
    haploid = h2 == -2
    missing = (h1 < 0) | ((h2 < 0) & ~haploid)
    # PharmCAT reads undocumented alleles as reference for DPYD and RYR1 (TREAT_UNDOCUMENTED_VARIATIONS_AS_REFERENCE).
    undocumented = ~missing & ((h1 >= model.n_documented) | ((h2 >= model.n_documented) & ~haploid))
    h1[undocumented & (h1 >= model.n_documented)] = 0
    h2[undocumented & (h2 >= model.n_documented)] = 0
    present = ~missing
    missing_pos = [int(x) for x in model.positions[missing]]
    if not present.any():
        return MatchResult([], False, missing_pos, [], [], ["no allele-defining position was genotyped"], "not_called")

    names = model.allele_names
    ref = model.reference_index
    idx = np.arange(len(model.positions))
    defined = model.defined
    # An allele can be seen only when every position defining it was genotyped.
    assessable = ((defined & present).sum(axis=1) == defined.sum(axis=1)) & defined.any(axis=1)
    on1 = model.accept[:, idx, np.where(present, h1, 0)]
    on2 = model.accept[:, idx, np.where(present & ~haploid, h2, 0)]
    warnings: list[str] = []
    if model.gene == "DPYD" and HAPB3 in names and HAPB3_INTRONIC in names:
        # PharmCAT (DpydHapB3Matcher; DpydTest's hapB3 sheet): with the intronic position missing, HapB3 is called
        # from the exonic c.1236G>A alone, with a warning. With the exonic position missing, HapB3 is not called:
        # the intronic variant is reported as its own allele c.1129-5923C>G (same CPIC value, 0.5).
        hb = names.index(HAPB3)
        intronic = defined[names.index(HAPB3_INTRONIC)]
        if not assessable[hb] and (defined[hb] & present).any():
            if (defined[hb] & ~present & intronic).any():
                assessable[hb] = True
                on1[hb] |= ~present
                on2[hb] |= ~present
                warnings.append(f"{HAPB3}: the intronic c.1129-5923C>G position is missing, so HapB3 was judged on "
                                "the exonic c.1236G>A alone (PharmCAT rule); genotype c.1129-5923C>G to confirm")
            else:
                warnings.append("DPYD c.1236G>A (HapB3 exonic) position missing: a c.1129-5923C>G found is reported "
                                "as the intronic allele c.1129-5923C>G, not as HapB3 (PharmCAT rule; same function)")
    assessable[ref] = False
    # Alleles whose defining variants are a subset of another allele's (DPYD c.1129-5923C>G within HapB3) are
    # reported only where the larger allele does not already account for them.
    within = _within(model, assessable)
    if model.gene == "DPYD" and HAPB3 in names and assessable[names.index(HAPB3)]:
        warnings.extend(_hapb3_conflict(model, names.index(HAPB3), on1, on2, present, haploid))

    het = present & (h1 != h2) & ~haploid
    blocks = sorted(set(pat.block[het].tolist()))
    effectively_phased = len(blocks) <= 1
    phase_sets = [b for b in blocks if b < UNPHASED_BLOCK_BASE]
    rank = lambda n: (ranks.get(n, OTHER_FUNCTION), name_key(n))  # noqa: E731 - local sort key

    if effectively_phased or (phase_sets and len(blocks) <= MAX_BLOCK_ARRANGEMENTS):
        candidates: dict[str, tuple[str, str]] = {}
        arrangements = product((False, True), repeat=max(len(blocks) - 1, 0))
        for flips in arrangements:
            swap = np.zeros(len(idx), dtype=bool)
            for b, flip in zip(blocks[1:], flips):
                if flip:
                    swap |= pat.block == b
            s1, s2 = np.where(swap, on2, on1), np.where(swap, on1, on2)
            hap1 = _carried(names, s1, defined, assessable, within)
            hap2 = _carried(names, s2, defined, assessable, within)
            low = tuple(sorted((min(h, key=rank) if h else REFERENCE for h in (hap1, hap2)), key=name_key))
            candidates.setdefault(diplotype_label(hap1, hap2), low)  # type: ignore[arg-type]
        labels = sorted(candidates, key=name_key_diplotype)
        pick = min(candidates.values(), key=lambda pair: _pair_order(model.gene, pair, ranks))
        phased = True
        if len(labels) > 1:
            warnings.append(
                f"the relative phase of {len(blocks)} phase blocks is unknown: {len(labels)} arrangements fit "
                f"({', '.join(labels)}); the phenotype uses the arrangement with the lowest-function pair "
                f"{pick[0]}/{pick[1]} (CPIC: variants presumed on different copies; PharmCAT)")
        how = "the lowest-function variant of each chromosome"
    else:
        if len(blocks) > MAX_BLOCK_ARRANGEMENTS and phase_sets:
            warnings.append(f"{len(blocks)} phase blocks: phase between them was not used")
        counts = np.where(defined, on1.astype(int) + np.where(haploid[None, :], 0, on2.astype(int)), 99)
        copies = np.where(assessable, counts.min(axis=1), 0)
        for small, large in within:
            copies[small] = max(copies[small] - copies[large], 0)
        found = [names[i] for i in np.flatnonzero(copies)]
        ordered = sorted(found + _reference_entry(model, found, copies, h1, h2, present), key=name_key)
        labels = [" AND ".join(n + (" (homozygous)" if copies[names.index(n)] >= 2 else "") for n in ordered)
                  or f"{REFERENCE}/{REFERENCE}"]
        alleles = sorted((n for n in found for _ in range(min(int(copies[names.index(n)]), 2))), key=rank)
        pair = (alleles + [REFERENCE, REFERENCE])[:2]
        pick = tuple(sorted(pair, key=name_key))  # type: ignore[assignment]
        phased = False
        how = "the two lowest-function variants found (unphased: presumed on different copies)"
    warnings.insert(0, f"phenotype from {pick[0]}/{pick[1]}: {how} (CPIC {model.gene} rule, as PharmCAT applies it)")
    if undocumented.any():
        warnings.append(f"undocumented variant at {', '.join(str(p) for p in model.positions[undocumented])} "
                        f"read as reference (PharmCAT rule for {model.gene})")
    if missing.any():
        warnings.append(f"{int(missing.sum())} allele-defining position(s) missing: variants there were not assessed")
    return MatchResult(
        [(pick[0], pick[1], None)] * len(labels), phased, missing_pos, [int(x) for x in model.positions[present]],
        [int(x) for x in model.positions[undocumented]], warnings, labels=labels,
    )


def _reference_entry(model: GeneModel, found: list[str], copies: np.ndarray, h1, h2, present) -> list[str]:
    """PharmCAT's unphased list (NamedAlleleMatcher.callHaplotypesForLowestFunctionGene) holds the haplotypes that
    some arrangement of the positions other than HapB3's matches, Reference included when one arrangement is all
    reference (no such position homozygous for a variant), plus the HapB3 calls; Reference is dropped when that makes
    more than two entries. So ``Reference`` stays only where HapB3's positions made the data unphased (DpydTest
    hapB3 sheet: exonic and intronic both heterozygous -> ``Reference, HapB3``; c.1236G>A with c.61C>T ->
    ``Reference, c.61C>T``)."""
    names = model.allele_names
    hb_cells = np.zeros(len(model.positions), dtype=bool)
    hb_names = {HAPB3, HAPB3_INTRONIC} if model.gene == "DPYD" else set()
    for n in hb_names & set(names):
        hb_cells |= model.defined[names.index(n)]
    if (present & ~hb_cells & (h1 != 0) & (h2 != 0)).any():
        return []
    others = [n for n in found if n not in hb_names]
    hb_called = sum(int(min(copies[names.index(n)], 2)) for n in found if n in hb_names)
    return [REFERENCE] if 1 + len(others) + hb_called <= 2 else []


def name_key_diplotype(label: str) -> tuple:
    return tuple(name_key(h) for h in label.split("/"))


def _pair_order(gene: str, pair: tuple[str, str], ranks: dict[str, float]) -> tuple:
    """PharmCAT's choice among candidate pairs: lowest activity sum (DPYD) / most MH-associated variants (RYR1)."""
    values = [ranks.get(n, OTHER_FUNCTION) for n in pair]
    severity = sum(values) if gene != "RYR1" else -sum(v == 0.0 for v in values)
    return (severity, name_key(pair[0]), name_key(pair[1]))


def _within(model: GeneModel, assessable: np.ndarray) -> list[tuple[int, int]]:
    """(small, large) allele pairs where small's defining cells are all cells of large."""
    out = []
    cand = [a for a in np.flatnonzero(assessable)]
    multi = [a for a in cand if model.defined[a].sum() > 1]
    for large in multi:
        for small in cand:
            if small == large or model.defined[small].sum() >= model.defined[large].sum():
                continue
            cells = model.defined[small]
            if (model.defined[large] | ~cells).all() and (
                    (model.accept[small] == model.accept[large]) | ~cells[:, None]).all():
                out.append((int(small), int(large)))
    return out


def _hapb3_conflict(model: GeneModel, hb: int, on1, on2, present, haploid) -> list[str]:
    """PharmCAT warns when c.1236G>A (exonic) is found without c.1129-5923C>G (intronic) on a chromosome: HapB3's
    decreased function is attributed to the intronic variant, which decides (no HapB3 is called)."""
    cells = np.flatnonzero(model.defined[hb] & present)
    if len(cells) < 2:
        return []
    # the exonic cell is the one no single-position allele of HapB3's shares (c.1129-5923C>G covers the intronic one)
    singles = [a for a in range(len(model.allele_names)) if model.defined[a].sum() == 1 and a != hb]
    exonic = [p for p in cells if not any(model.defined[a, p] and (model.accept[a, p] == model.accept[hb, p]).all()
                                          for a in singles)]
    intronic = [p for p in cells if p not in exonic]
    if len(exonic) != 1 or len(intronic) != 1:
        return []
    e, i = exonic[0], intronic[0]
    copies = lambda p: int(on1[hb, p]) + (0 if haploid[p] else int(on2[hb, p]))  # noqa: E731
    per_strand = any(on[hb, e] and not on[hb, i] for on in (on1, on2))
    if copies(e) > copies(i) or per_strand:
        return ["DPYD c.1236G>A (HapB3 exonic) found without c.1129-5923C>G (HapB3 intronic) on the same chromosome: "
                "HapB3 is called from the intronic variant (PharmCAT rule); confirm the HapB3 genotype"]
    return []


def _carried(names, on: np.ndarray, defined: np.ndarray, assessable: np.ndarray, within) -> list[str]:
    hits = assessable & (on | ~defined).all(axis=1)
    for small, large in within:
        if hits[large]:
            hits[small] = False
    return [names[i] for i in np.flatnonzero(hits)]
