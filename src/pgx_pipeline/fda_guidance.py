"""FDA guidance rows: each sample against each row of the FDA Table of Pharmacogenetic Associations.

Every (sample, FDA row) gets one guidance row with source "FDA" and one status:

* matched: the patient is in the row's affected subgroup (its mapped condition holds);
* not_matched: the patient is not in it;
* ambiguous: the tied candidate diplotypes disagree on it;
* gene_not_called / gene_not_assessed: a gene of the condition has no result (HLA without an outside typing; genes the
  pipeline never calls: BCHE, HLA-DRB1, HLA-DQA1, UGT2B17; the nonspecific NAT label);
* not_evaluated: the row is unmapped, or this patient's result is not one the condition can be read on exactly
  ("Likely Poor Metabolizer" against "poor metabolizers"; a CYP2D6 call from a VCF against a row naming ultrarapid
  metabolizers, since duplications are invisible there).  The report says "FDA: see label, not evaluated for this
  genotype".

"TPMT and/or NUDT15" rows are evaluated gene by gene and joined by "or", as "and/or" reads: matched when either gene
is an intermediate or poor metabolizer (even if the other is not called), not matched only when both are called and
neither is, otherwise the status of the gene that has no usable result.

Rows carry the FDA text verbatim (`recommendation` = description, `fda_affected_subgroups`), the section
(`fda_section`, `classification` = section title) and, on a match, `fda_label` (act | consider | info) from the
knowledge table's text rule, limited by its `act_for` part of the subgroup.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from . import schema
from .guidance import Rows, reference_phenotypes
from .knowledge.fda import SECTION_SHORT
from .phenotype import HLA_ALLELES
from .records import records

SOURCE = "FDA"
NOT_EVALUATED_TEXT = "FDA: see label, not evaluated for this genotype"
HLA_GENES = ("HLA-A", "HLA-B")
# Phenotypes the FDA words cannot be said to include or exclude: a hedged or missing phenotype.
UNCERTAIN_PREFIXES = ("Likely ", "Possible ")
STATUS_ORDER = ("gene_not_assessed", "gene_not_called", "ambiguous", "not_evaluated")


def gene_states(phenotypes: pd.DataFrame) -> dict[tuple[str, str], tuple]:
    """(sample, gene) -> (status, candidates, source): status called | not_called; candidates a tuple of
    (diplotype, phenotype, lookup_key) for every top-ranked candidate (more than one when tied)."""
    out: dict[tuple[str, str], list] = {}
    for r in records(phenotypes):
        key = (r["sample_id"], r["gene"])
        entry = out.setdefault(key, ["not_called", [], "vcf"])
        if r["status"] in ("called", "outside_call"):
            entry[0] = "called"
            entry[1].append((_s(r["diplotype"]), _s(r["phenotype"]), _s(r["lookup_key"])))
            if r["status"] == "outside_call":
                entry[2] = "outside"
    return {k: (v[0], tuple(sorted(set(v[1]), key=str)), v[2]) for k, v in out.items()}


def _s(v: Any) -> str | None:
    return v if isinstance(v, str) and v.strip() else None


def evaluate_clause(clause: dict, state: tuple | None) -> tuple[bool | None, str, str | None]:
    """(holds, status-if-unknown, reason) of one clause for one gene state."""
    gene = clause["gene"]
    if state is None:
        if gene in HLA_GENES:
            return None, "gene_not_assessed", f"{gene} was not typed: supply an outside HLA typing to assess it"
        return None, "gene_not_assessed", f"{gene} was not assessed"
    status, candidates, source = state
    if status != "called" or not candidates:
        return None, "gene_not_called", f"{gene} could not be called from the input"
    answers = [_candidate(clause, c, source) for c in candidates]
    values = {a[0] for a in answers}
    if len(values) == 1 and None not in values:
        return answers[0][0], "", None
    if len(candidates) > 1 and {True, False} <= values:
        listed = "; ".join(f"{c[0]} ({c[1] or 'no phenotype'})" for c in candidates)
        return None, "ambiguous", f"{gene} is ambiguous ({listed}) and the candidates differ on this row: confirm " \
                                  "before acting"
    reason = next(a[1] for a in answers if a[0] is None)
    return None, "not_evaluated", reason


def _candidate(clause: dict, cand: tuple, source: str) -> tuple[bool | None, str | None]:
    diplotype, phenotype, lookup_key = cand
    gene = clause["gene"]
    if "hla_positive" in clause:
        keys = {k.strip() for k in (lookup_key or "").split(";")}
        allele = clause["hla_positive"]
        if f"{allele} positive" in keys:
            return True, None
        if f"{allele} negative" in keys:
            return False, None
        return None, f"the {gene} result does not say whether {allele} is present"
    if "phenotypes" in clause:
        wanted = set(clause["phenotypes"])
        if phenotype is None or phenotype == "Indeterminate":
            return None, f"{gene} {diplotype or ''} has no definite phenotype".replace("  ", " ")
        if phenotype in wanted:
            return True, None
        if phenotype.startswith(UNCERTAIN_PREFIXES) and phenotype.split(" ", 1)[1] in wanted:
            return None, f"{gene} {phenotype}: the FDA row names {' or '.join(sorted(wanted))} and does not say " \
                         "whether a likely/possible phenotype is included"
        if gene == "CYP2D6" and "Ultrarapid Metabolizer" in wanted and source != "outside":
            return None, "CYP2D6 gene duplications (ultrarapid metabolizers) cannot be seen in a VCF and this row " \
                         "names ultrarapid metabolizers: supply a copy-number-aware CYP2D6 call"
        return False, None
    alleles = (diplotype or "").split("/") if diplotype else []
    if not alleles:
        return None, f"{gene} has no diplotype"
    if "diplotypes" in clause:
        wanted = set(clause["diplotypes"])
        if _same_diplotype(diplotype, wanted):
            return True, None
        named = {a for d in wanted for a in d.split("/")}
        combined = [a for a in alleles if "+" in a and set(a.split("+")) & named]
        if combined:
            return None, f"{gene} {diplotype}: {', '.join(combined)} carries an allele the FDA names, but the FDA " \
                         f"row lists only {', '.join(sorted(wanted))}"
        return False, None
    if "alleles_present" in clause:
        wanted = set(clause["alleles_present"])
        if any(a in wanted for a in alleles):
            return True, None
        if any("+" in a and set(a.split("+")) & wanted for a in alleles):
            return None, f"{gene} {diplotype} holds a combined allele: not evaluated"
        return False, None
    if "variant" in clause:
        carriers = set(clause["variant_alleles"])
        copies = sum(a in carriers for a in alleles)
        return copies in set(clause["copies"]), None
    return None, "unknown clause"


def _same_diplotype(diplotype: str, wanted: set[str]) -> bool:
    a = sorted(diplotype.split("/"))
    return any(sorted(w.split("/")) == a for w in wanted)


def evaluate(condition: dict, states: dict[str, tuple | None]) -> tuple[str, str | None, list[str]]:
    """(status, reason, genes the match rests on) of a row's condition ({"any": clauses})."""
    results = [(c, *evaluate_clause(c, states.get(c["gene"]))) for c in condition["any"]]
    true = [c["gene"] for c, v, _, _ in results if v is True]
    unknown = [(st, why) for _, v, st, why in results if v is None]
    if true:
        notes = "; ".join(why for _, why in unknown) or None
        return "matched", notes, true
    if not unknown:
        return "not_matched", None, []
    status = min((st for st, _ in unknown), key=STATUS_ORDER.index)
    return status, "; ".join(why for _, why in unknown), []


def _act_applies(act_for: dict | None, genes: list[str], states: dict[str, tuple | None]) -> bool:
    if act_for is None:
        return True
    for g in genes:
        state = states.get(g)
        if not state or state[0] != "called":
            continue
        cands = state[1]
        if "phenotypes" in act_for and all(c[1] in act_for["phenotypes"] for c in cands):
            return True
        if "diplotypes" in act_for and all(c[0] and _same_diplotype(c[0], set(act_for["diplotypes"])) for c in cands):
            return True
    return False


def _phenotype_texts(genes: list[str], states: dict[str, tuple | None]) -> list[str]:
    out = []
    for g in genes:
        st = states.get(g)
        if st is None:
            out.append(f"{g}: not assessed")
        elif st[0] != "called":
            out.append(f"{g}: not called")
        else:
            out.append(f"{g}: " + " or ".join(f"{d} ({p or 'no phenotype'})" for d, p, _ in st[1]))
    return out


def decide_row(fda: dict, states: dict[str, tuple | None], reference: dict[str, tuple | None] | None) -> dict:
    """One guidance row (without sample_id) for one FDA association and one patient's gene states."""
    section = int(fda["section"])
    genes = list(fda["genes"])
    # Parquet nulls arrive as None or NaN: plain strings or None from here on.
    fda = {**fda, **{k: _s(fda.get(k)) for k in ("condition", "condition_text", "unmapped_reason", "act_for",
                                                  "source_url")}}
    base = {
        "drug": str(fda["drug"]).lower(), "source": SOURCE,
        "guideline": f"FDA Table of Pharmacogenetic Associations, section {section} ({SECTION_SHORT[section]}): "
                     f"{fda['gene_label']}",
        "guideline_version": f"retrieved {str(fda['retrieved_at'])[:10]}", "url": fda["source_url"] or None,
        "genes": genes, "phenotypes": [], "lookup_keys": [fda["condition_text"]] if fda["condition_text"] else [],
        "population": None, "recommendation": fda["description"], "implications": [],
        "classification": f"FDA section {section}: {fda['section_title']}",
        "dosing_information": None, "alternate_drug": None, "other_guidance": None, "same_as_reference": None,
        "messages": [], "fda_section": section, "fda_affected_subgroups": fda["affected_subgroups"],
        "fda_label": None,
    }
    if not fda["condition"]:
        kind = fda["mapping_kind"]
        status = "gene_not_assessed" if kind in ("gene not called", "compound gene") else "not_evaluated"
        return {**base, "phenotypes": _phenotype_texts([g for g in genes if g in states], states),
                "status": status, "reason": f"{NOT_EVALUATED_TEXT}: {fda['unmapped_reason']}"}
    condition = json.loads(fda["condition"])
    status, reason, on = evaluate(condition, states)
    row = {**base, "phenotypes": _phenotype_texts(genes, states), "status": status}
    if status in ("not_evaluated", "ambiguous", "gene_not_called", "gene_not_assessed"):
        row["reason"] = f"{NOT_EVALUATED_TEXT}: {reason}"
        return row
    row["reason"] = reason
    if status == "matched":
        label = fda["label"]
        if label == "act" and not _act_applies(json.loads(fda["act_for"]) if fda["act_for"] else None, on, states):
            label = "consider"
        row["fda_label"] = label
        if reference is not None:
            row["same_as_reference"] = evaluate(condition, reference)[0] == "matched"
    return row


def reference_states(genes: pd.DataFrame, allele_functions: pd.DataFrame,
                     diplotype_phenotypes: pd.DataFrame) -> dict[str, tuple | None]:
    """Gene states of a patient with reference genotypes (each gene's reference allele twice, as guidance.py's
    reference patient; CYP3A5 *3/*3) and no HLA risk allele."""
    return reference_states_of(reference_phenotypes(genes, allele_functions, diplotype_phenotypes))


def reference_states_of(phen: pd.DataFrame) -> dict[str, tuple | None]:
    """`reference_states` from the reference patient's phenotypes (`guidance.reference_phenotypes`)."""
    states = {g: s for (_, g), s in gene_states(phen).items()}
    for gene, alleles in HLA_ALLELES.items():
        states[gene] = ("called", (("reference", "reference", "; ".join(f"{a} negative" for a in alleles)),), "outside")
    return states


def match_fda(phenotypes: pd.DataFrame, fda: pd.DataFrame, reference: dict[str, tuple | None] | None = None) -> pd.DataFrame:
    """Guidance rows (schema.GUIDANCE columns) with source FDA for every sample and FDA row."""
    if fda.empty or phenotypes.empty:
        return pd.DataFrame({c: [] for c in schema.GUIDANCE.column_names})
    return fda_rows(phenotypes, fda, reference).frame()


def fda_rows(phenotypes: pd.DataFrame, fda: pd.DataFrame, reference: dict[str, tuple | None] | None = None) -> Rows:
    """`match_fda`'s rows, FDA row by FDA row and, within one, sample by sample."""
    states = gene_states(phenotypes)
    samples = list(dict.fromkeys(phenotypes["sample_id"]))
    n = len(samples)
    # Each distinct (FDA row, gene states) outcome is decided once; samples then point at it (as match_guidance).
    # Samples are grouped by their states once per gene set, not once per FDA row.
    keys_of: dict[tuple[str, ...], tuple[list[tuple], np.ndarray]] = {}
    templates: list[dict] = []
    take: list[np.ndarray] = []
    for rec in records(fda):
        rec["genes"] = list(rec["genes"])
        genes = tuple(rec["genes"])
        if genes not in keys_of:
            index: dict[tuple, int] = {}
            inverse = np.empty(n, dtype=np.int64)
            for i, s in enumerate(samples):
                inverse[i] = index.setdefault(tuple(states.get((s, g)) for g in genes), len(index))
            keys_of[genes] = (list(index), inverse)
        keys, inverse = keys_of[genes]
        start = len(templates)
        templates.extend(decide_row(rec, dict(zip(genes, key)), reference) for key in keys)
        take.append(start + inverse)
    template = np.concatenate(take) if take else np.zeros(0, dtype=np.int64)
    sample = np.tile(np.arange(n, dtype=np.int64), len(take))
    return Rows(samples, templates, template, sample, [[]], np.zeros(len(template), dtype=np.int64))


def fda_priority(status: str, fda_label: str | None) -> str:
    """The report label of an FDA row: a match takes the row's label (act | consider | info); a gene that was not
    called or not assessed makes the row Incomplete (never green); otherwise the row does not raise the drug's
    label (not matched: the FDA table says nothing for this genotype; not evaluated: the row's wording cannot be
    settled for this genotype, and the row says "see label")."""
    if status == "matched":
        return fda_label or "consider"
    if status in ("gene_not_called", "gene_not_assessed"):
        return "incomplete"
    return "none"


def cohort_counts(guid: pd.DataFrame) -> list[dict]:
    """Per FDA row (drug, genes, section): patients matched / not matched / not evaluated, for the cohort page."""
    fda = guid[guid["source"] == SOURCE]
    if fda.empty:
        return []
    # One grouped sum over outcome flags: a value_counts per FDA row and part cost ~1 s at panel scale.
    matched = fda["status"] == "matched"
    flags = pd.DataFrame({"drug": fda["drug"], "guideline": fda["guideline"], "section": fda["fda_section"],
                          "n": 1, "matched": matched, "not_matched": fda["status"] == "not_matched",
                          "act": matched & (fda["fda_label"] == "act")})
    # observed: drug and guideline may be categoricals (the cohort page reads them so); sorted after, as text.
    sums = flags.groupby(["drug", "guideline", "section"], sort=False, observed=True)[
        ["n", "matched", "not_matched", "act"]].sum()
    out = [{"drug": str(drug), "guideline": str(guideline), "section": int(section), "matched": int(m),
            "not_matched": int(nm), "not_evaluated": int(n - m - nm), "act": int(act)}
           for (drug, guideline, section), n, m, nm, act in zip(sums.index, sums["n"], sums["matched"],
                                                                sums["not_matched"], sums["act"])]
    return sorted(out, key=lambda r: (r["drug"], r["guideline"], r["section"]))
