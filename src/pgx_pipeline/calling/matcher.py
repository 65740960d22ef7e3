"""Named-allele matching (PharmCAT's Named Allele Matcher semantics), vectorised over samples.

A named allele is the reference allele's sequence with its non-blank cells substituted; a haplotype
matches it when every non-missing position agrees (IUPAC cells accept any of their bases).  Score =
defined cells over non-missing positions (the reference allele scores every non-missing position);
a diplotype's score is the sum of its alleles', and only the top-scoring diplotypes are reported.

Samples with identical genotype patterns are matched once: cohort cost grows with distinct
patterns, not with samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd

from ..knowledge.definitions import IUPAC

MAX_BLOCK_ENUMERATION = 12  # 2**11 orientations of phase blocks; beyond that, read as unphased
UNPHASED_BLOCK_BASE = 1 << 40  # block ids from here on: an unphased heterozygous position, its own phase block

# Haplotype codes below 0: MISSING = no usable genotype (dropped from every allele); PARTIAL = this chromosome's allele
# is '.' while the other one is known and is not the reference (`./T`), or any half call on chrX (see match_pattern).
MISSING = -1
HAPLOID = -2
PARTIAL = -5


@dataclass
class GeneModel:
    """One gene's definitions as arrays: accept[a, p, c] = allele a accepts observed code c at position p."""

    gene: str
    positions: np.ndarray  # (P,) genomic positions
    rsids: list[str | None]
    allele_names: list[str]
    reference_index: int
    defined: np.ndarray  # (A, P) bool: non-blank cell
    wobble: np.ndarray  # (A, P) bool: the allele's own cell is an IUPAC ambiguity code (R, Y, S, ...)
    accept: np.ndarray  # (A, P, V) bool
    vocab: list[list[str]]  # per position: observed strings by code; code 0 = REF, then documented ALTs
    n_documented: np.ndarray  # (P,) number of documented strings per position (REF + ALTs)
    undocumented_as_reference: bool
    required_positions: set[int]
    unphased_priorities: list[tuple[frozenset[str], str]]
    chromosome: str = ""

    @classmethod
    def build(cls, gene_row: pd.Series, positions: pd.DataFrame, alleles: pd.DataFrame) -> "GeneModel":
        positions = positions[positions["position_index"] >= 0].sort_values("position_index")
        vocab = [[r.ref, *r.alts] for r in positions.itertuples()]
        width = max(len(v) for v in vocab) + 1
        names = list(alleles["allele"])
        A, P = len(names), len(vocab)
        accept = np.zeros((A, P, width), dtype=bool)
        defined = np.zeros((A, P), dtype=bool)
        wobble = np.zeros((A, P), dtype=bool)
        reference_bases = list(alleles["bases"].iloc[names.index(gene_row["reference_allele"])])
        for a, bases in enumerate(alleles["bases"]):
            for p, base in enumerate(bases):
                defined[a, p] = base is not None
                wobble[a, p] = _is_wobble(base)
                # A blank cell is the reference allele's cell; where that cell is itself a wobble (CYP2D6 *1 has R and
                # S cells) the blank is the genome's REF base (PharmCAT MatchData.defaultMissingAllelesToReference).
                if base is None:
                    base = vocab[p][0] if _is_wobble(reference_bases[p]) else reference_bases[p]
                if base in vocab[p]:
                    accept[a, p, vocab[p].index(base)] = True
                else:
                    for b in IUPAC.get(base, ""):
                        if b in vocab[p]:
                            accept[a, p, vocab[p].index(b)] = True
        ref_idx = names.index(gene_row["reference_allele"])
        priorities = [
            (frozenset(p["candidates"]), p["pick"]) for p in _listed(gene_row.get("unphased_priorities"))
        ]
        return cls(
            gene=gene_row["gene"],
            positions=positions["position"].to_numpy(np.int64),
            rsids=list(positions["rsid"]),
            allele_names=names,
            reference_index=ref_idx,
            defined=defined,
            wobble=wobble,
            accept=accept,
            vocab=vocab,
            n_documented=np.array([len(v) for v in vocab]),
            undocumented_as_reference=bool(gene_row["undocumented_as_reference"]),
            required_positions=set(int(x) for x in _listed(gene_row.get("required_positions"))),
            unphased_priorities=priorities,
            chromosome=str(gene_row.get("chromosome") or ""),
        )


@dataclass
class Pattern:
    """One distinct genotype pattern of a gene (shared by every sample that has it)."""

    h1: np.ndarray  # (P,) codes; -1 missing
    h2: np.ndarray  # (P,) codes; -2 haploid
    block: np.ndarray  # (P,) phase block id of heterozygous positions (-1 = homozygous/missing)


@dataclass
class MatchResult:
    diplotypes: list[tuple[str, str | None, int]]  # (allele1, allele2, score), best first
    phased: bool
    missing: list[int]
    matched: list[int]
    undocumented: list[int]
    warnings: list[str] = field(default_factory=list)
    status: str = "called"
    # How each candidate is reported when it is not "allele1/allele2" (DPYD/RYR1 variant lists, see variant_list)
    labels: list[str] | None = None


def diplotype_name(a: str, b: str | None, reference: str = "") -> tuple[str, str | None]:
    if b is None:
        return a, None
    return tuple(sorted((a, b), key=lambda n: allele_sort_key(n, reference)))  # type: ignore[return-value]


_SUBALLELE = re.compile(r"^(\*\d+[A-Z]?)\.\d{3}$")


def core_allele_name(name: str) -> str:
    """A PharmVar suballele's core allele ('*45.001' -> '*45'); any other name unchanged.

    Definitions may split a core allele into suballeles so that each is an unambiguous haplotype (SLCO1B1 *45.001,
    *45.002 since PharmCAT 3.1), while functions, phenotypes and guidance are published for the core allele only:
    a call names the core allele, and says which suballele matched.
    """
    m = _SUBALLELE.match(name)
    return m.group(1) if m else name


def allele_sort_key(name: str, reference: str = "") -> tuple:
    """Star alleles in PharmVar order (*2 before *10, whatever the reference); otherwise the reference first, then
    the others in natural order."""
    if name.startswith("*"):
        head = name[1:].split("+")[0].split(".")[0].split("x")[0]
        digits = "".join(ch for ch in head if ch.isdigit())
        return (0, int(digits) if digits else 0, name)
    if name == reference:
        return (1, 0, name)
    # Other names with their numbers compared as numbers, as PharmCAT orders them (CACNA1S c.520C>T/c.3257G>A).
    return (2, 0, tuple((0, int(c), "") if c.isdigit() else (1, 0, c) for c in re.split(r"(\d+)", name) if c))


def match_pattern(model: GeneModel, pat: Pattern) -> MatchResult:
    """All top-scoring diplotypes for one genotype pattern."""
    P = len(model.positions)
    h1, h2 = pat.h1.copy(), pat.h2.copy()
    # Haploid (a male's chrX gene) when no position has a second allele; a missing position (-1) does not make the
    # sample diploid. Haploid and diploid calls mixed in one gene fit no diplotype (PharmCAT makes no call either).
    haploid = bool((h2 == HAPLOID).any() and not (h2 >= 0).any())
    missing = (h1 < 0) | ((h2 < 0) & (h2 != -2))
    warnings: list[str] = []
    if (h2 == HAPLOID).any() and (h2 >= 0).any():
        return MatchResult([], False, _ints(model, missing), [], [],
                           [f"haploid and diploid genotypes mixed in {model.gene}: no call can be made; check the "
                            "sample's sex and the caller's ploidy on this chromosome"], "not_called")

    undocumented = ~missing & ((h1 >= model.n_documented) | ((h2 >= model.n_documented) & (h2 != -2)))
    undocumented_pos = [int(x) for x in model.positions[undocumented]]
    if undocumented.any():
        where = ", ".join(_pos_label(model, i) for i in np.flatnonzero(undocumented))
        if model.undocumented_as_reference:
            h1[undocumented & (h1 >= model.n_documented)] = 0
            h2[undocumented & (h2 >= model.n_documented)] = 0
            warnings.append(f"undocumented variant at {where} read as reference (PharmCAT rule for {model.gene})")
        else:
            return MatchResult([], False, _ints(model, missing), [], undocumented_pos,
                               [f"undocumented variant at {where}: no named allele has it, so {model.gene} cannot be called"],
                               status="not_called")

    partial = (h1 == PARTIAL) | (h2 == PARTIAL)
    if partial.any():
        # PharmCAT (VcfReader, NamedAlleleMatcher.callAssumingReference): `0/.` off chrX is a missing position, but a
        # half call whose known allele is not the reference (`./T`), or any half call on chrX, is kept as a call with
        # an unknown allele, and a gene with such a position is not called: the unknown chromosome could carry anything.
        where = ", ".join(f"{_pos_label(model, i)} ({_half_call(model, i, h1[i], h2[i])})" for i in np.flatnonzero(partial))
        return MatchResult([], False, _ints(model, missing), [], undocumented_pos,
                           [f"partial genotype at {where}: one allele of the call is unknown, so {model.gene} is not "
                            "called (PharmCAT makes no call on a half call with a non-reference allele, or on any half "
                            "call on chrX; a half call with the reference allele elsewhere is a missing position); "
                            "re-genotype the position to call the gene"],
                           "not_called")
    missing_pos = _ints(model, missing)
    present = ~missing
    if not present.any():
        return MatchResult([], False, missing_pos, [], undocumented_pos, ["no allele-defining position was genotyped"], "not_called")
    lacking = sorted(model.required_positions & set(missing_pos))
    if lacking:
        return MatchResult([], False, missing_pos, [], undocumented_pos,
                           [f"required position(s) {lacking} missing: {model.gene} is not called without them"], "not_called")

    defined = model.defined & present
    scores = defined.sum(axis=1)
    scores[model.reference_index] = int(present.sum())
    # An allele whose every defining position is missing cannot be told from the reference: never call it.
    callable_alleles = defined.any(axis=1) | (np.arange(len(scores)) == model.reference_index)

    idx = np.arange(P)
    c1 = np.where(present, h1, 0)
    acc1 = model.accept[:, idx, c1] | ~present  # (A, P)
    if haploid:
        ok = acc1.all(axis=1) & callable_alleles
        wobble_ref = (model.wobble & present & (h1 == 0)).sum(axis=1)
        dips = [(model.allele_names[a], None, int(scores[a] - wobble_ref[a])) for a in np.flatnonzero(ok)]
        return _finish(model, dips, True, missing_pos, present, undocumented_pos, warnings, (h1,))

    c2 = np.where(present, h2, 0)
    acc2 = model.accept[:, idx, c2] | ~present
    het = present & (h1 != h2)
    blocks = sorted(set(pat.block[het].tolist()))
    phased = len(blocks) <= 1
    wob = model.wobble & present
    # An allele that fits both chromosomes is scored on both (PharmCAT scores a match on every sequence it matches).
    fits_both = acc1.all(axis=1) & acc2.all(axis=1)
    best: dict[tuple[int, int], int] = {}
    if phased:
        _keep_best(best, _oriented_scores(_phased_pairs(acc1, acc2, callable_alleles), scores, wob, h1, h2, fits_both))
    elif len(blocks) <= MAX_BLOCK_ENUMERATION and any((pat.block[het] == b).sum() > 1 for b in blocks):
        for flips in product((False, True), repeat=len(blocks) - 1):
            swap = np.zeros(P, dtype=bool)
            for b, f in zip(blocks[1:], flips):
                if f:
                    swap |= pat.block == b
            a1 = np.where(swap, acc2, acc1)
            a2 = np.where(swap, acc1, acc2)
            x1, x2 = np.where(swap, h2, h1), np.where(swap, h1, h2)
            _keep_best(best, _oriented_scores(_phased_pairs(a1, a2, callable_alleles), scores, wob, x1, x2, fits_both))
    else:
        if len(blocks) > MAX_BLOCK_ENUMERATION:
            warnings.append(f"{len(blocks)} phase blocks: phase between them was not used")
        pairs = _unphased_pairs(acc1, acc2, callable_alleles)
        _keep_best(best, _unphased_scores(pairs, scores, wob, h1, h2, acc1, acc2, het, fits_both))
    dips = [(model.allele_names[a], model.allele_names[b], s) for (a, b), s in best.items()]
    return _finish(model, dips, phased, missing_pos, present, undocumented_pos, warnings, (h1, h2))


def _is_wobble(base) -> bool:
    return isinstance(base, str) and len(base) == 1 and len(IUPAC.get(base, "")) > 1


def _keep_best(best: dict[tuple[int, int], int], scored: dict[tuple[int, int], int]) -> None:
    for pair, s in scored.items():
        if s > best.get(pair, -1):
            best[pair] = s


def _oriented_scores(pairs, scores, wob, x1, x2, fits_both) -> dict[tuple[int, int], int]:
    """Scores of pairs with allele a on chromosome x1 and b on x2 (PharmCAT NamedAllele.scoreForSample).

    A wobble cell (IUPAC code) scores only where the sample's base there is not the reference: a wobble matched by the
    reference base tells nothing. An allele that fits both chromosomes loses the point only where both are reference.
    """
    if not pairs:
        return {}
    ref1, ref2 = x1 == 0, x2 == 0
    out = {}
    for a, b in pairs:
        both_a, both_b = fits_both[a] and a != b, fits_both[b] and a != b
        pen_a = int((wob[a] & ref1 & (ref2 if both_a else True)).sum())
        pen_b = int((wob[b] & ref2 & (ref1 if both_b else True)).sum())
        out[(a, b)] = int(scores[a] + scores[b]) - pen_a - pen_b
    return out


def _unphased_scores(pairs, scores, wob, h1, h2, acc1, acc2, het, fits_both) -> dict[tuple[int, int], int]:
    """Scores of unordered pairs on unphased data: the best orientation at each heterozygous position (each position
    is its own phase block, so orientations are independent), as PharmCAT's best-scoring sequence pair."""
    if not pairs:
        return {}
    ref1, ref2 = h1 == 0, h2 == 0
    hom = ~het
    out = {}
    for a, b in pairs:
        if not (wob[a].any() or wob[b].any()):
            out[(a, b)] = int(scores[a] + scores[b])
            continue
        # An allele that fits both chromosomes cannot lose a point at a heterozygous position (one base is not REF).
        one_a, one_b = not (fits_both[a] and a != b), not (fits_both[b] and a != b)
        fixed = (wob[a] & hom & ref1).sum() + (wob[b] & hom & ref1).sum()
        # a on chromosome 1 (o = 0) or on chromosome 2 (o = 1), where the pair fits that way round.
        cost0 = (wob[a] & ref1 & one_a).astype(int) + (wob[b] & ref2 & one_b)
        cost1 = (wob[a] & ref2 & one_a).astype(int) + (wob[b] & ref1 & one_b)
        ok0, ok1 = acc1[a] & acc2[b], acc2[a] & acc1[b]
        cost = np.where(ok0 & ok1, np.minimum(cost0, cost1), np.where(ok0, cost0, cost1))
        out[(a, b)] = int(scores[a] + scores[b]) - int(fixed) - int(cost[het].sum())
    return out


def _phased_pairs(acc1: np.ndarray, acc2: np.ndarray, callable_alleles: np.ndarray) -> set[tuple[int, int]]:
    m1 = np.flatnonzero(acc1.all(axis=1) & callable_alleles)
    m2 = np.flatnonzero(acc2.all(axis=1) & callable_alleles)
    return {(int(a), int(b)) for a in m1 for b in m2}


def _unphased_pairs(acc1: np.ndarray, acc2: np.ndarray, callable_alleles: np.ndarray) -> set[tuple[int, int]]:
    """Unordered pairs whose bases can explain the unphased genotype at every position."""
    cand = np.flatnonzero((acc1 | acc2).all(axis=1) & callable_alleles)
    if len(cand) == 0:
        return set()
    x1, x2 = acc1[cand], acc2[cand]  # (C, P)
    ok = ((x1[:, None, :] & x2[None, :, :]) | (x2[:, None, :] & x1[None, :, :])).all(axis=2)
    ia, ib = np.nonzero(np.triu(ok))
    return {(int(cand[i]), int(cand[j])) for i, j in zip(ia, ib)}


def _finish(model, dips, phased, missing_pos, present, undocumented_pos, warnings, haplotypes) -> MatchResult:
    matched = [int(x) for x in model.positions[present]]
    if not dips:
        found = variants_found(model, haplotypes, present)
        warnings = warnings + ["no combination of named alleles explains the genotypes (possible novel haplotype)"
                               + (f"; variants found: {'; '.join(found)}" if found else "")]
        return MatchResult([], phased, missing_pos, matched, undocumented_pos, warnings, "not_called")
    ref = model.allele_names[model.reference_index]
    named: dict[tuple, int] = {}
    suballeles: dict[tuple, set[str]] = {}
    for a, b, s in dips:
        key = diplotype_name(core_allele_name(a), b and core_allele_name(b), ref)
        if s > named.get(key, -1):
            named[key], suballeles[key] = s, set()
        if s == named[key]:
            suballeles[key] |= {n for n in (a, b) if n and core_allele_name(n) != n}
    top = max(named.values())
    best = sorted((k for k, s in named.items() if s == top),
                  key=lambda k: (allele_sort_key(k[0], ref), allele_sort_key(k[1] or "", ref)))
    via = sorted(set().union(*(suballeles[k] for k in best)), key=lambda n: allele_sort_key(n, ref))
    if via:
        warnings = warnings + [f"{', '.join(sorted({core_allele_name(n) for n in via}))} matched through the suballele "
                               f"definition(s) {', '.join(via)}; the core allele's function applies"]
    if not phased and model.unphased_priorities:
        # PharmCAT (ResultBuilder, NAT2): with unphased data every diplotype that fits the genotype counts, whatever
        # its score; the first priority set they include gives the call (its frequency-based pick).
        fits = {f"{a}/{b}": (a, b) for a, b in named if b is not None}
        for candidates, pick in model.unphased_priorities:
            if pick in fits and candidates <= fits.keys():
                others = ", ".join(sorted(c for c in candidates if c != pick))
                outscored = [f"{a}/{b}" for a, b in best if f"{a}/{b}" != pick and named[(a, b)] > named[fits[pick]]]
                warnings = warnings + [
                    f"unphased: {', '.join(sorted(candidates))} all fit the genotype; {pick} picked by the knowledge "
                    f"base's frequency-based priority table (PharmCAT)"
                    + (f" over the higher-scoring {', '.join(outscored)}" if outscored else "")
                    + f"; {others} cannot be ruled out"]
                best, top = [fits[pick]], named[fits[pick]]
                break
    if missing_pos:
        warnings = warnings + [f"{len(missing_pos)} allele-defining position(s) missing: alleles defined there could not be tested"]
    return MatchResult([(a, b, top) for a, b in best], phased, missing_pos, matched, undocumented_pos, warnings)


def variants_found(model: GeneModel, haplotypes, present: np.ndarray, max_names: int = 6) -> list[str]:
    """Each non-reference allele at a genotyped defining position, with the named alleles that carry it.

    What a clinician needs when no named allele explains a haplotype: which defined variants are there (e.g. CFTR
    R74W and D1270N on one chromosome, a combination no single definition has).
    """
    out = []
    for p in np.flatnonzero(present):
        codes = sorted({int(h[p]) for h in haplotypes if 0 < h[p] < len(model.vocab[p])})
        for code in codes:
            carriers: list[str] = []
            for a in np.flatnonzero(model.defined[:, p] & model.accept[:, p, code]):
                core = core_allele_name(model.allele_names[a])
                if a != model.reference_index and core not in carriers:
                    carriers.append(core)
            shown = ", ".join(carriers[:max_names]) + (", ..." if len(carriers) > max_names else "")
            out.append(f"{_pos_label(model, p)} {model.vocab[p][0]}>{model.vocab[p][code]}"
                       + (f" (in {shown})" if carriers else ""))
    return out


def _half_call(model: GeneModel, i: int, c1: int, c2: int) -> str:
    """A half call as the VCF would show it, e.g. `./T` (unknown allele strings show as `?`)."""
    vocab = model.vocab[i]
    name = lambda c: "." if c < 0 else (vocab[c] if c < len(vocab) else "?")  # noqa: E731
    return f"{name(c1)}/{name(c2)}"


def _listed(value) -> list:
    """Parquet list cells arrive as arrays or None."""
    return [] if value is None else list(value)


def _ints(model: GeneModel, mask: np.ndarray) -> list[int]:
    return [int(x) for x in model.positions[mask]]


def _pos_label(model: GeneModel, i: int) -> str:
    rsid = model.rsids[i]
    return f"{model.positions[i]}" + (f" ({rsid})" if rsid else "")
