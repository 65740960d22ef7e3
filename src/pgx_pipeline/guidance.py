"""The guidance stage: every CPIC/DPWG recommendation that applies to each sample, and why none does.

A recommendation applies when, for each gene of its lookup key, the key is one of the sample's keys for
that gene (the CPIC lookup key, the phenotype, `score (phenotype)` as DPWG writes DPYD, the diplotype as
an allele-count object, or HLA allele presence).  Samples sharing the same keys are matched once.
Every (sample, drug, guideline) gets at least one row: matched, or a status saying why not.

* An untested gene matches CPIC's "No Result" keys (azathioprine on TPMT alone when NUDT15 is not called): the
  advice is a match whose `reason` names the missing gene.
* An ambiguous gene (tied diplotypes, different phenotypes) gets each candidate phenotype's advice as rows of status
  "ambiguous" saying which candidate they are for; advice every candidate shares is a match.
* Every row whose advice a gene of the guideline could not inform (not called, not assessed, ambiguous where it
  matters) says so in `incomplete`, in plain words with the test to order ("HLA-B not assessed: order HLA-B
  typing"); so does every CYP2D6 row from a VCF call, whose copy number an SNV VCF cannot show.  The report never
  labels such advice "Standard".

Each matched row also says whether a patient with reference genotypes would get the same recommendation from the
same guideline and population (`same_as_reference`).  CPIC flags "dosing information" on the advice for normal
metabolizers too (atomoxetine: "Initiate with a dose of 40 mg/day..."); comparing with the reference patient is
what tells a clinician whether this genotype changes prescribing.
"""

from __future__ import annotations

import os
from collections import namedtuple
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from . import patients, schema
from .calling.variant_list import VARIANT_LIST_GENES
from .knowledge.guidance_sources import diplotype_key_text
from .phenotype import DELETION_ALLELES, HLA_ALLELES, HLA_GENES, assign_phenotypes
from .records import records

NOT_ASSESSED_WITHOUT_OUTSIDE = {
    "HLA-A": "HLA-A is not typed from a VCF: supply an outside call (HLA typing) to assess it",
    "HLA-B": "HLA-B is not typed from a VCF: supply an outside call (HLA typing) to assess it",
    "MT-RNR1": "MT-RNR1 (mitochondrial) is not called from the VCF: supply an outside call to assess it",
}
NO_RESULT = "No Result"
# Genes never called from a VCF: without an outside call they are "No Result", which guidelines key on
# (CPIC phenytoin: CYP2C9 advice with HLA-B "No Result").
ABSENT = {g: ("absent", frozenset({NO_RESULT}), "not assessed") for g in NOT_ASSESSED_WITHOUT_OUTSIDE}
# What to do about a gene without a usable result, said on each row it leaves incomplete.
ORDER_TEST = {
    "HLA-A": "order HLA-A typing",
    "HLA-B": "order HLA-B typing",
    "MT-RNR1": "order MT-RNR1 testing",
    "CYP2D6": "order CYP2D6 genotyping that includes copy number",
}
# Drug-specific consequence of a hidden CYP2D6 copy-number change (CPIC codeine/tramadol: ultrarapid metabolizers
# form more active metabolite, risk of life-threatening toxicity; CPIC tamoxifen: lower endoxifen with lower activity).
CNV_CONSEQUENCE = {
    "codeine": "an ultrarapid metabolizer risks morphine toxicity from codeine",
    "tramadol": "an ultrarapid metabolizer risks toxicity from tramadol",
    "tamoxifen": "a lower activity means less endoxifen and a higher risk of breast cancer recurrence",
}
REFERENCE_PATIENT = "(reference genotypes)"
MAX_LISTED_DIPLOTYPES = 4
# Beyond this many phenotype combinations of ambiguous genes, candidate-wise advice is not spelled out.
MAX_CANDIDATE_COMBINATIONS = 6
# Genes whose reference allele is not the genotype standard doses were set for.  CPIC tacrolimus (Birdwell 2015):
# starting doses were established in CYP3A5 non-expressers (*3/*3, the usual European genotype); *1 carriers are
# the ones told to "increase starting dose 1.5 to 2 times".
REFERENCE_ALLELE_OVERRIDES = {"CYP3A5": "*3"}


def sample_gene_keys(phenotypes: pd.DataFrame) -> dict[tuple[str, str], tuple]:
    """(sample, gene) -> (state, lookup keys, phenotype text): state is called | not_called | no_phenotype |
    ambiguous; an ambiguous gene has a fourth element, its candidates (`_candidates`)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for rec in records(phenotypes):  # plain dicts: pandas row access is the slow part here
        groups.setdefault((rec["sample_id"], rec["gene"]), []).append(rec)
    out: dict[tuple[str, str], tuple] = {}
    for (sample, gene), rows in groups.items():
        called = [r for r in rows if r["status"] in ("called", "outside_call")]
        if not called and all(r["status"] == "not_assessed" for r in rows):
            # A file of the input failed (calls.warnings says which and why): CPIC's untested-gene advice applies.
            why = next((w for r in rows for w in (r["warnings"] if r["warnings"] is not None else [])
                        if str(w).startswith("not assessed")), "not assessed")
            out[(sample, gene)] = ("not_assessed", frozenset({NO_RESULT}), str(why))
            continue
        if not called:
            out[(sample, gene)] = ("not_called", frozenset({NO_RESULT}), "not called")
            continue
        if not bool(rows[0]["candidates_agree"]):
            out[(sample, gene)] = ("ambiguous", frozenset(), " or ".join(sorted({_phenotype_text(r) for r in called})),
                                   _candidates(gene, called))
            continue
        r = called[0]
        keys = _row_keys(gene, r)
        state = "called" if _phenotype_keyed(r) else "no_phenotype"
        text = str(r["phenotype"]) if isinstance(r["phenotype"], str) else f"{r['diplotype']} (no phenotype)"
        out[(sample, gene)] = (state, keys, text)
    return out


def cyp2d6_copy_number_caveats(phenotypes: pd.DataFrame) -> dict[str, str]:
    """Sample -> what an untested CYP2D6 copy number could change, for CYP2D6 called from the VCF (an outside call
    from a copy-number-aware caller covers it).  Copy number cannot turn two no-function alleles into anything
    else, so those get none."""
    rows = phenotypes[(phenotypes["gene"] == "CYP2D6") & (phenotypes["rank"] == 1) & (phenotypes["status"] == "called")]
    out = {}
    for r in records(rows):
        functions = {r["allele1_function"], r["allele2_function"]}
        if functions == {"No function"}:
            continue
        dip = str(r["diplotype"])
        alleles = dip.split("/")
        dup = f"{alleles[0]}/{alleles[-1]}x2" if len(alleles) == 2 else f"{dip}x2"
        text = (f"CYP2D6 copy number was not tested (SNV VCF): {dip} could be {dup} (a duplication: higher activity, "
                "possibly an ultrarapid metabolizer)")
        if len(alleles) == 2 and alleles[0] == alleles[1]:
            text += f" or {alleles[0]}/*5 (one copy deleted: lower activity, a poorer metabolizer)"
        out[str(r["sample_id"])] = text
    return out


def _phenotype_text(r: dict) -> str:
    return str(r["phenotype"]) if isinstance(r["phenotype"], str) else "no phenotype"


def _phenotype_keyed(r: dict) -> bool:
    return any(isinstance(r[k], str) for k in ("lookup_key", "phenotype", "activity_score"))


def _row_keys(gene: str, r: dict) -> frozenset[str]:
    """Every form a guideline may key this phenotype row by."""
    keys: set[str] = set()
    for value in (r["lookup_key"], r["phenotype"], r["activity_score"]):
        if not isinstance(value, str):
            continue
        if gene in HLA_GENES:  # "*15:02 negative; *57:01 positive; ..."
            keys.update(v.strip() for v in value.split(";"))
        else:
            keys.add(value)
    if isinstance(r["activity_score"], str) and isinstance(r["phenotype"], str):
        keys.add(f"{r['activity_score']} ({r['phenotype']})")
    if isinstance(r["diplotype"], str) and gene not in VARIANT_LIST_GENES:
        # (DPYD/RYR1 "diplotypes" list variants found; their phenotype comes from the lowest-function pair)
        keys.add(_diplotype_key(r["diplotype"]))  # DPWG keys some rows by diplotype
    return frozenset(keys)


@lru_cache(maxsize=65536)
def _diplotype_key(diplotype: str) -> str:
    """A diplotype as DPWG's allele-count key (one JSON text per distinct diplotype, not per sample)."""
    counts: dict[str, int] = {}
    for a in diplotype.split("/"):
        counts[a] = counts.get(a, 0) + 1
    return diplotype_key_text(counts)


def _candidates(gene: str, called: list[dict]) -> tuple[tuple[str, frozenset[str]], ...]:
    """An ambiguous gene's tied diplotypes grouped by phenotype: ('Intermediate Metabolizer (*1/*6)', keys).

    Diplotype-specific keys are dropped so that diplotypes sharing a phenotype share one set of advice."""
    by_phenotype: dict[frozenset[str], list[str]] = {}
    for r in called:
        phenotype_keys = frozenset(k for k in _row_keys(gene, r) if not k.startswith("{"))
        by_phenotype.setdefault(phenotype_keys, []).append(str(r["diplotype"]))
    out = []
    for keys, diplotypes in by_phenotype.items():
        first = next(r for r in called if str(r["diplotype"]) == diplotypes[0])
        phenotype = _phenotype_text(first)
        if isinstance(first["activity_score"], str):
            phenotype += f", activity score {first['activity_score']}"
        listed = ", ".join(diplotypes[:MAX_LISTED_DIPLOTYPES]) + (
            f" and {len(diplotypes) - MAX_LISTED_DIPLOTYPES} more" if len(diplotypes) > MAX_LISTED_DIPLOTYPES else "")
        out.append((f"{phenotype} ({listed})", keys))
    return tuple(sorted(out))


def reference_phenotypes(genes: pd.DataFrame, allele_functions: pd.DataFrame,
                         diplotype_phenotypes: pd.DataFrame) -> pd.DataFrame:
    """Phenotypes of a patient with reference genotypes: each gene's reference allele twice (as its diplotype table
    phenotypes it; `REFERENCE_ALLELE_OVERRIDES` where dosing was set for another genotype, e.g. CYP3A5 *3/*3)."""
    n = len(genes)
    ref = [REFERENCE_ALLELE_OVERRIDES.get(g, a) for g, a in zip(genes["gene"], genes["reference_allele"])]
    calls = pd.DataFrame({
        "sample_id": [REFERENCE_PATIENT] * n, "gene": list(genes["gene"]), "diplotype": [f"{a}/{a}" for a in ref],
        "allele1": ref, "allele2": ref, "rank": [1] * n, "candidate": [1] * n, "status": ["called"] * n, "source": ["vcf"] * n,
        "outside_phenotype": [None] * n, "outside_activity_score": [None] * n, "warnings": [[] for _ in range(n)],
    })
    # Only table rows whose diplotype this patient's lookups can name (its alleles and the deletion allele of the
    # hemizygous note) matter; keying the whole table (~110,000 rows) took most of a second.  A name holding the
    # key separator "|" could collide with another pair's key, so such rows are kept too.
    names = set(zip(genes["gene"], ref)) | set(DELETION_ALLELES.items())
    table = diplotype_phenotypes
    keep = [((g, a) in names or "|" in a) and (not isinstance(b, str) or (g, b) in names or "|" in b)
            for g, a, b in zip(*(table[c].to_numpy(dtype=object) for c in ("gene", "allele1", "allele2")))]
    return assign_phenotypes(calls, allele_functions, table[np.asarray(keep, dtype=bool)])


def reference_gene_keys(genes: pd.DataFrame, allele_functions: pd.DataFrame,
                        diplotype_phenotypes: pd.DataFrame) -> dict[str, tuple[str, frozenset[str], str]]:
    """Gene -> lookup state of the reference patient (`reference_phenotypes`), who carries none of the HLA alleles
    guidelines test for."""
    return reference_keys_of(reference_phenotypes(genes, allele_functions, diplotype_phenotypes))


def reference_keys_of(phen: pd.DataFrame) -> dict[str, tuple[str, frozenset[str], str]]:
    """`reference_gene_keys` from the reference patient's phenotypes (computed once per stage for CPIC/DPWG and FDA)."""
    keys = {gene: state for (_, gene), state in sample_gene_keys(phen).items()}
    for gene, alleles in HLA_ALLELES.items():
        keys[gene] = ("called", frozenset(f"{a} negative" for a in alleles), "reference")
    return keys


@dataclass
class Rows:
    """Guidance rows kept compact: each distinct row body (`templates`, without sample_id and messages) once, and per
    output row the patient (`sample`, into `samples`), its template and its message list (into `message_lists`).
    Rows of one patient keep the order they were made in: guideline by guideline, a guideline's templates in order."""
    samples: list[str]
    templates: list[dict]
    template: np.ndarray
    sample: np.ndarray
    message_lists: list[list[str]]
    message: np.ndarray

    def frame(self) -> pd.DataFrame:
        """Schema-ordered rows in the order made (patient keys in sample_id), as a DataFrame."""
        columns = [c for c in schema.GUIDANCE.column_names if c != "sample_id"]
        out = pd.DataFrame(self.templates, columns=columns).iloc[self.template].reset_index(drop=True)
        out.insert(0, "sample_id", [self.samples[i] for i in self.sample])
        out["messages"] = [self.message_lists[i] for i in self.message]
        return out[schema.GUIDANCE.column_names]


def expand(n_samples: int, starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sample, template) per row when sample i takes templates starts[i] .. starts[i] + counts[i] - 1."""
    sample = np.repeat(np.arange(n_samples), counts)
    offset = np.arange(len(sample)) - np.repeat(np.cumsum(counts) - counts, counts)
    return sample, np.repeat(starts, counts) + offset


def match_guidance(phenotypes: pd.DataFrame, guidance: pd.DataFrame, messages: pd.DataFrame,
                   reference_keys: dict[str, tuple[str, frozenset[str], str]] | None = None) -> pd.DataFrame:
    out = guidance_rows(phenotypes, guidance, messages, reference_keys).frame()
    return out.sort_values(["sample_id", "drug", "source", "guideline"], kind="stable").reset_index(drop=True)


def guidance_rows(phenotypes: pd.DataFrame, guidance: pd.DataFrame, messages: pd.DataFrame,
                  reference_keys: dict[str, tuple[str, frozenset[str], str]] | None = None) -> Rows:
    keys = sample_gene_keys(phenotypes)
    copy_number = cyp2d6_copy_number_caveats(phenotypes)
    columns = {c: phenotypes[c].to_numpy(dtype=object) for c in ("sample_id", "gene", "diplotype", "candidate")}
    samples = list(dict.fromkeys(columns["sample_id"]))
    n = len(samples)
    diplotypes = {(s, g): d for s, g, d, c in zip(*columns.values()) if c == 1}
    by_drug = {d: list(m.itertuples(index=False)) for d, m in messages.explode("drugs").groupby("drugs")}
    # Recommendations grouped by (guideline, drug) in sorted order, rows in table order (as a sorted groupby), as
    # named tuples (as itertuples) built from records: pandas' per-group frames cost more than the matching.
    Rec = namedtuple("Rec", guidance.columns, rename=True)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records(guidance):
        groups.setdefault((r["guideline_id"], r["drug"]), []).append(r)
    # Each distinct (guideline, genotype keys) outcome is decided once; samples then point at it.  Samples are
    # grouped by their keys once per gene set, not once per guideline.
    combos_of: dict[tuple[str, ...], tuple[list[tuple], np.ndarray]] = {}
    diplotypes_of: dict[tuple[str, ...], tuple[list[tuple], np.ndarray]] = {}
    message_lists: list[list[str]] = [[]]
    message_ids: dict[tuple, int] = {}
    templates: list[dict] = []
    sample_parts, template_parts, message_parts = [], [], []
    for gid, drug in sorted(groups):
        first = groups[(gid, drug)][0]
        genes = [str(g) for g in first["genes"]]
        rec_list = Recommendations(
            Rec(*r.values())._replace(lookup_genes=tuple(r["lookup_genes"]), lookup_values=tuple(r["lookup_values"]),
                                      implications=list(r["implications"]))
            for r in groups[(gid, drug)]
        )
        no_lookup = all(len(r.lookup_genes) == 0 for r in rec_list)
        reference = _reference_advice(first, genes, rec_list, no_lookup, reference_keys or {})
        if tuple(genes) not in combos_of:
            index: dict[tuple, int] = {}
            inverse = np.empty(n, dtype=np.int64)
            for i, s in enumerate(samples):
                combo = tuple(keys.get((s, g), ABSENT.get(g, ("absent", frozenset(), ""))) for g in genes)
                inverse[i] = index.setdefault((combo, copy_number.get(s) if "CYP2D6" in genes else None), len(index))
            combos_of[tuple(genes)] = (list(index), inverse)
        combos, inverse = combos_of[tuple(genes)]
        starts, counts = [], []
        for combo, caveat in combos:
            starts.append(len(templates))
            templates.extend(_with_reference(_with_caveat(t, caveat, first["drug"]), reference)
                             for t in _decide(first, genes, combo, rec_list, no_lookup))
            counts.append(len(templates) - starts[-1])
        per_sample = np.asarray(counts, dtype=np.int64)[inverse]
        sample, template = expand(n, np.asarray(starts, dtype=np.int64)[inverse], per_sample)
        drug_messages = by_drug.get(drug, [])
        msg = np.zeros(n, dtype=np.int64)
        if drug_messages:
            # A message depends on the sample only through the diplotypes of the guideline's genes.
            if tuple(genes) not in diplotypes_of:
                index = {}
                inverse = np.empty(n, dtype=np.int64)
                for i, s in enumerate(samples):
                    inverse[i] = index.setdefault(tuple(diplotypes.get((s, g)) for g in genes), i)
                diplotypes_of[tuple(genes)] = (list(index.values()), inverse)
            holders, inverse = diplotypes_of[tuple(genes)]
            ids = {}
            for i in holders:  # the first sample holding each combination of diplotypes
                key = (drug, first["source"], tuple(genes), inverse[i])
                if key not in message_ids:
                    message_ids[key] = len(message_lists)
                    message_lists.append(_messages(drug_messages, genes, samples[i], diplotypes, first["source"]))
                ids[i] = message_ids[key]
            msg = np.array([ids[h] for h in inverse], dtype=np.int64)
        sample_parts.append(sample)
        template_parts.append(template)
        message_parts.append(np.repeat(msg, per_sample))
    return Rows(samples, templates, _cat(template_parts), _cat(sample_parts), message_lists, _cat(message_parts))


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _decide(first: dict, genes: list[str], combo: tuple, recs: list, no_lookup: bool) -> list[dict]:
    state = dict(zip(genes, combo))
    phenotypes = [f"{g}: {state[g][2]}" for g in genes if state[g][2]]
    base = {
        "drug": first["drug"], "source": first["source"], "guideline": first["guideline_name"],
        "guideline_version": first["guideline_version"], "url": first["url"], "genes": genes, "phenotypes": phenotypes,
        "lookup_keys": [], "population": None, "recommendation": None, "implications": [], "classification": None,
        "dosing_information": None, "alternate_drug": None, "other_guidance": None,
    }
    matched = _most_specific(_applying(recs, state))
    problems = _problems(genes, state)
    if matched:  # a diplotype-keyed row can apply although the gene has no phenotype
        problems = [p for p in problems if p[0] != "no_recommendation"]
    if matched:
        return [_matched_row(base, rec, problems, state) for rec in matched]
    possible = _candidate_rows(base, genes, state, recs, problems)
    if possible:
        return possible
    no_lookup_text = (f"{first['source']} gives no genotype lookup for {first['drug']} (e.g. a dosing algorithm); "
                      "read the guideline")
    if problems:
        # A gene without a result is what holds the row up; "no lookup" alone would read as if it had one (issue 19).
        status, reason = problems[0][0], "; ".join(p[1] for p in problems)
        if no_lookup:
            reason += f". Even with a result: {no_lookup_text}"
    elif no_lookup:
        status, reason = "no_recommendation", no_lookup_text
    else:
        status, reason = "no_recommendation", f"{first['source']} has no recommendation for this genotype"
    return [{**base, "status": status, "reason": reason, "incomplete": _incomplete(problems, state)}]


def _candidate_rows(base: dict, genes: list[str], state: dict, recs: list, problems: list) -> list[dict]:
    """For a guideline held up only by ambiguous genes: the advice each of their candidate phenotypes would get
    (status 'ambiguous', `reason` saying which candidate), as PharmCAT lists advice per possible diplotype."""
    ambiguous = [g for g in genes if state[g][0] == "ambiguous"]
    if not ambiguous or any(p[0] != "ambiguous" for p in problems):
        return []
    choices = list(product(*(state[g][3] for g in ambiguous)))
    if len(choices) > MAX_CANDIDATE_COMBINATIONS:
        return []
    # Candidates whose advice is the same text share one row.
    advice: dict[tuple, tuple[dict, list[str]]] = {}
    for choice in choices:
        alt = dict(state)
        for g, (label, keys) in zip(ambiguous, choice):
            alt[g] = ("called", keys, label)
        which = " and ".join(f"{g} is {label}" for g, (label, _) in zip(ambiguous, choice))
        for rec in _most_specific(_applying(recs, alt)):
            key = (rec.population, rec.recommendation)
            if key not in advice:
                advice[key] = (_matched_row(base, rec, [], alt), [])
            advice[key][1].append(which)
    between = "; ".join(f"{g} could be {' or '.join(label for label, _ in state[g][3])}" for g in ambiguous)
    per_population: dict[str | None, int] = {}
    for population, _ in advice:
        per_population[population] = per_population.get(population, 0) + 1
    rows = []
    for (population, _), (row, cases) in advice.items():
        row["phenotypes"] = [f"{g}: {state[g][2]}" for g in genes if state[g][2]]
        if len(cases) == len(choices) and per_population[population] == 1:
            # Every candidate gets this same advice: the tie does not matter here.
            row["status"] = "matched"
            row["reason"] = f"{between}; the advice is the same for each"
            row["incomplete"] = None
        else:
            row["status"] = "ambiguous"
            row["reason"] = f"{between}. This is the advice if {' or if '.join(cases)}: confirm the genotype before acting"
            row["incomplete"] = _incomplete(problems, state)
        rows.append(row)
    return rows


def _incomplete(problems: list[tuple[str, str, str]], state: dict) -> str | None:
    """What a row's advice could not take into account, in plain words, with the test to order; None when every
    gene of the guideline had a usable result."""
    out = []
    for kind, _, g in problems:
        order = ORDER_TEST.get(g)
        if kind == "gene_not_assessed":
            out.append(f"{g} not assessed: {order or f'test {g}'}")
        elif kind == "gene_not_called":
            out.append(f"{g} could not be called from the input: {order or f'genotype {g} with another test'}")
        elif kind == "ambiguous":
            out.append(f"{g} is ambiguous ({state[g][2]}): confirm the {g} genotype")
    return "; ".join(out) or None


def _with_caveat(row: dict, caveat: str | None, drug: str) -> dict:
    """A CYP2D6 row from a VCF call says what its untested copy number could change, with the test to order."""
    if not caveat:
        return row
    consequence = CNV_CONSEQUENCE.get(str(drug).lower())
    text = f"{caveat}{'; ' + consequence if consequence else ''}: {ORDER_TEST['CYP2D6']}"
    return {**row, "incomplete": "; ".join(x for x in (row.get("incomplete"), text) if x)}


class Recommendations(list):
    """A guideline's recommendations (in table order), indexed by the first gene and value of their lookup key: a
    guideline holds ~30 of them and is decided for ~10,000 genotype combinations a panel part."""

    def __init__(self, recs):
        super().__init__(recs)
        self.by_first: dict[str, dict[str, list[int]]] = {}
        for i, rec in enumerate(self):
            if len(rec.lookup_genes):
                self.by_first.setdefault(rec.lookup_genes[0], {}).setdefault(rec.lookup_values[0], []).append(i)


def _applying(recs: list, state: dict) -> list:
    """The recommendations that apply to `state` (`_applies`), in table order."""
    if not isinstance(recs, Recommendations):
        return [rec for rec in recs if _applies(rec, state)]
    hits = []
    for gene, by_value in recs.by_first.items():
        if gene in state:
            hits.extend(i for value in state[gene][1] for i in by_value.get(value, ()))
    return [recs[i] for i in sorted(hits) if _applies(recs[i], state)]


def _applies(rec, state: dict) -> bool:
    return len(rec.lookup_genes) > 0 and all(
        g in state and v in state[g][1] for g, v in zip(rec.lookup_genes, rec.lookup_values))


def _matched_row(base: dict, rec, problems: list[tuple[str, str, str]], state: dict) -> dict:
    """A recommendation that applies.  CPIC writes advice for an untested gene ("No Result" in the lookup key, e.g.
    azathioprine on TPMT alone when NUDT15 is unknown, phenytoin without HLA-B typing): that advice is the match,
    with the missing gene said in `reason`.  Any other problem gene leaves the row unmatched."""
    keyed = dict(zip(rec.lookup_genes, rec.lookup_values))
    unresolved = [p for p in problems if keyed.get(p[2]) != NO_RESULT]
    notes = [f"{p[1]}: this is the guideline's advice for an untested {p[2]}" if keyed.get(p[2]) == NO_RESULT else p[1]
             for p in problems]
    return {
        **base, "lookup_keys": [f"{g}: {v}" for g, v in zip(rec.lookup_genes, rec.lookup_values)],
        "population": rec.population, "recommendation": rec.recommendation, "implications": rec.implications,
        "classification": rec.classification, "dosing_information": rec.dosing_information,
        "alternate_drug": rec.alternate_drug, "other_guidance": rec.other_guidance,
        "status": unresolved[0][0] if unresolved else "matched", "reason": "; ".join(notes) or None,
        "incomplete": _incomplete(problems, state),
    }


def _reference_advice(first: dict, genes: list[str], recs: list, no_lookup: bool,
                      reference_keys: dict) -> dict[str | None, str | None] | None:
    """Population -> recommendation the reference patient gets from this guideline (None when some gene of it has
    no reference lookup, e.g. MT-RNR1)."""
    combo = tuple(reference_keys.get(g, ("absent", frozenset(), "")) for g in genes)
    if any(state[0] != "called" for state in combo):
        return None
    return {t["population"]: t["recommendation"] for t in _decide(first, genes, combo, recs, no_lookup)
            if t["status"] == "matched"}


def _with_reference(row: dict, reference: dict | None) -> dict:
    same = None
    if row["status"] in ("matched", "ambiguous") and row["recommendation"] is not None and reference is not None:
        same = reference.get(row["population"], None) == row["recommendation"]
    return {**row, "same_as_reference": same}


def _most_specific(matched: list) -> list:
    """Where a guideline has both a diplotype-keyed and a phenotype-keyed row for the same population (DPWG
    CYP2C9: {"*1": 1, "*3": 1} and "Intermediate Metabolizer"), the diplotype row is the one that applies."""
    def specificity(rec) -> int:
        return sum(v.startswith("{") for v in rec.lookup_values)

    best: dict[str, int] = {}
    for rec in matched:
        best[rec.population] = max(best.get(rec.population, 0), specificity(rec))
    return [rec for rec in matched if specificity(rec) == best[rec.population]]


def _problems(genes: list[str], state: dict) -> list[tuple[str, str, str]]:
    """(status, reason, gene) for each gene of the guideline without a usable result."""
    out = []
    for g in genes:
        kind = state[g][0]
        if kind == "absent":
            text = NOT_ASSESSED_WITHOUT_OUTSIDE.get(g, f"{g} was not assessed")
            out.append(("gene_not_assessed", text, g))
        elif kind == "not_assessed":
            out.append(("gene_not_assessed", f"{g} {state[g][2]}", g))
        elif kind == "not_called":
            out.append(("gene_not_called", f"{g} could not be called from the input", g))
        elif kind == "ambiguous":
            out.append(("ambiguous", f"{g} is ambiguous ({state[g][2]}): confirm before acting", g))
        elif kind == "no_phenotype":
            out.append(("no_recommendation", f"{g} {state[g][2]} has no phenotype in the knowledge base", g))
    return out


def _messages(messages: list, genes: list[str], sample: str, diplotypes: dict, source: str) -> list[str]:
    """Knowledge-base messages for this drug whose gene and diplotype conditions hold (variant conditions need
    genotypes and are left to the report's allele-matching details)."""
    out = []
    for m in messages:
        if len(m.variants) or len(m.variants_missing):
            continue
        if not isinstance(m.gene, str):
            # Drug-level notes: those named for one source (e.g. pcat-cpic-warfarin-*) go on that source's rows only.
            named = {src for src in ("cpic", "dpwg") if src in str(m.name).lower()}
            if not named or source.lower() in named:
                out.append(m.message)
            continue
        if m.gene not in genes:
            continue
        dip = diplotypes.get((sample, m.gene))
        if len(m.diplotypes) and dip not in list(m.diplotypes):
            continue
        if len(m.haps_called) and not (isinstance(dip, str) and set(m.haps_called) <= set(dip.split("/"))):
            continue
        out.append(m.message)
    return out


def run_guidance_stage(phenotypes_path: str | os.PathLike, kb_dir: str | os.PathLike, out_path: str | os.PathLike) -> pd.DataFrame:
    """Write the guidance table of a phenotypes part; returns it as a reader of the file gets it."""
    return write_guidance(phenotypes_path, kb_dir, out_path).to_pandas()


def write_guidance(phenotypes_path: str | os.PathLike, kb_dir: str | os.PathLike, out_path: str | os.PathLike) -> pa.Table:
    """CPIC/DPWG rows (`match_guidance`) plus one FDA row per sample and FDA association (pgx_pipeline.fda_guidance;
    a knowledge base built without the FDA table adds none), sorted as `match_guidance` sorts."""
    from . import fda_guidance

    kb_dir = Path(kb_dir)
    phenotypes = schema.read_table(phenotypes_path, schema.PHENOTYPES)
    guidance = schema.read_table(kb_dir / "guidance.parquet", schema.KB_GUIDANCE)
    messages = schema.read_table(kb_dir / "messages.parquet", schema.KB_MESSAGES)
    reference = reference_phenotypes(schema.read_table(kb_dir / "genes.parquet", schema.KB_GENES),
                                     schema.read_table(kb_dir / "allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS),
                                     schema.read_table(kb_dir / "diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES))
    # A unit's phenotypes may hold several inputs: grouped by patient (input, sample), never by sample name.
    phenotypes = patients.keyed(phenotypes, patients.own_input(phenotypes_path))
    parts = [guidance_rows(phenotypes, guidance, messages, reference_keys_of(reference))]
    fda_path = kb_dir / "fda_associations.parquet"
    if fda_path.is_file() and not phenotypes.empty:
        fda = schema.read_table(fda_path, schema.KB_FDA_ASSOCIATIONS)
        if not fda.empty:
            parts.append(fda_guidance.fda_rows(phenotypes, fda, fda_guidance.reference_states_of(reference)))
    table = sorted_table(parts)
    schema.write_table(table, out_path, schema.GUIDANCE, metadata=schema.read_metadata(phenotypes_path))
    return table


def sorted_table(parts: list[Rows]) -> pa.Table:
    """The parts' rows as one GUIDANCE table with sample_id and input_id split back out of the patient key, in the
    order a stable sort by (patient key, drug, source, guideline) of the parts' rows one after the other gives.

    Row bodies stay templates until the end: only index arrays are sorted and each column is taken once in Arrow, so
    the ~270 rows a patient never pass through Python objects one by one."""
    samples = parts[0].samples
    if any(p.samples != samples for p in parts):
        raise ValueError("guidance parts made for different samples")
    templates, template, sample, message_lists, message = [], [], [], [], []
    for p in parts:
        template.append(p.template + len(templates))
        message.append(p.message + len(message_lists))
        sample.append(p.sample)
        templates.extend(p.templates)
        message_lists.extend(p.message_lists)
    template, sample, message = _cat(template), _cat(sample), _cat(message)
    # Template indices follow the order rows were made in (guideline by guideline, then FDA), which is the order a
    # stable sort keeps among one patient's rows of equal drug, source and guideline.
    keys = pd.DataFrame({k: [t[k] for t in templates] for k in ("drug", "source", "guideline")})
    template_rank = _rank(keys.sort_values(["drug", "source", "guideline"], kind="stable").index, len(templates))
    sample_rank = _rank(pd.Series(samples).sort_values(kind="stable").index, len(samples))
    order = np.lexsort((template_rank[template], sample_rank[sample]))
    split = [k.split(patients.SEP, 1) for k in samples]
    if any(len(x) != 2 for x in split):
        raise ValueError("sample_id without an input: every row must be keyed by (input, sample)")
    types = {c.name: c.type for c in schema.GUIDANCE.columns}
    body = [c for c in schema.GUIDANCE.column_names if c not in ("sample_id", "input_id", "messages")]
    template_order = pa.array(template[order])
    arrays = {c: pa.array([t.get(c) for t in templates], type=types[c], from_pandas=True).take(template_order)
              for c in body}
    sample_order = pa.array(sample[order])
    arrays["sample_id"] = pa.array([x[1] for x in split], type=types["sample_id"]).take(sample_order)
    arrays["input_id"] = pa.array([x[0] for x in split], type=types["input_id"]).take(sample_order)
    arrays["messages"] = pa.array(message_lists, type=types["messages"]).take(pa.array(message[order]))
    return schema.from_arrays(arrays, schema.GUIDANCE)


def _rank(sorted_index: pd.Index, n: int) -> np.ndarray:
    rank = np.empty(n, dtype=np.int64)
    rank[sorted_index.to_numpy()] = np.arange(n)
    return rank
