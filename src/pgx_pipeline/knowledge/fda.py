"""The FDA Table of Pharmacogenetic Associations as a knowledge table, each row mapped to what the pipeline calls.

Input: the FDA table as one JSON object (`source_url`, `retrieved_at`, `associations`: `{gene, drug, section,
affected_subgroups, description}` with the page's cell text; `../shared/pgx-sources/fda-pgx-associations/`).

`affected_subgroups` is free text written for people.  Each row is mapped by the explicit rules below, nothing
else: a text no rule reads exactly, a gene the pipeline does not call, or a compound/nonspecific gene label is
recorded with `mapping_kind` saying so and a reason, and is never matched loosely.  The mapping is checked against
the knowledge base's own vocabulary (each phenotype named must be one of the gene's published phenotypes, each
allele one of its named alleles), so a row whose words do not exist for that gene stays unmapped.

A row's condition (`condition`, JSON) is a disjunction `{"any": [clause, ...]}`; clause kinds:

* `{"gene", "phenotypes": [...]}`: the patient's phenotype is one of these (FDA "intermediate or poor metabolizers");
* `{"gene", "diplotypes": [...]}`: the called diplotype is one of these ("*28/*28", "*3/*3");
* `{"gene", "alleles_present": [...]}`: the diplotype contains one of these alleles ("*3 carriers"; "V433M variant
  carriers" as the alleles whose definition carries that variant);
* `{"gene", "variant", "variant_alleles": [...], "copies": [...]}`: the number of the diplotype's alleles that carry
  the variant ("521 CC" = rs4149056 C on both alleles);
* `{"gene", "hla_positive": "*57:01"}`: HLA allele presence, from an outside HLA typing.

Act vs Consider for a matched section-1 row is decided from the FDA text by `ACT_RULES` (reviewed row by row; see
docs/FDA_ASSOCIATIONS.md): "act" only where the text itself instructs a different drug or dose for the subgroup
("Do not use", "Contraindicated in", "Dosage adjustment is recommended", "Reduce dosage by 50%", a maximum dose).
Hedged advice ("Consider ...", "may be necessary"), monitoring, and instructions restricted to a population the
pipeline does not check (children, CYP3A4-inhibitor co-medication) are "consider".  Section 2 rows are "consider";
section 3 rows (pharmacokinetic effect only) are "info".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import PgxInputError

SECTION_TITLES = {
    1: "Pharmacogenetic Associations for which the Data Support Therapeutic Management Recommendations",
    2: "Pharmacogenetic Associations for which the Data Indicate a Potential Impact on Safety or Response",
    3: "Pharmacogenetic Associations for which the Data Demonstrate a Potential Impact on Pharmacokinetic "
       "Properties Only",
}
SECTION_SHORT = {1: "therapeutic management recommendations", 2: "potential impact on safety or response",
                 3: "pharmacokinetic properties only"}

# Gene labels the pipeline does not call from a VCF and takes no outside call for.
NOT_CALLED_GENES = {
    "BCHE": "BCHE is not called by pgx-pipeline (no allele definitions in the knowledge base)",
    "HLA-DRB1": "HLA-DRB1 is not typed by pgx-pipeline (no VCF typing, no outside call accepted for it)",
    "HLA-DQA1": "HLA-DQA1 is not typed by pgx-pipeline (no VCF typing, no outside call accepted for it)",
    "UGT2B17": "UGT2B17 (a whole-gene deletion polymorphism) is not called by pgx-pipeline",
}
# Compound labels: the genes they name, and how the row is evaluated.
COMPOUND_LABELS = {
    # "and/or": the patient is in the subgroup if either gene is; evaluated (see `compound_clauses`).
    "TPMT and/or NUDT15": ("TPMT", "NUDT15"),
    # UGT2B17 is never called, and the description asks for poor metabolizers "for both genes": not assessed.
    "CYP2C19 and/or UGT2B17": ("CYP2C19", "UGT2B17"),
}
NONSPECIFIC_LABELS = {
    "Nonspecific (NAT)": "the FDA names no specific gene ('Nonspecific (NAT)'); the NAT2 call is not evaluated "
                         "against it",
}
HLA_GENES = ("HLA-A", "HLA-B")
# Variant names the FDA uses, as the dbSNP id of the defining position (explicit, reviewed: SLCO1B1 c.521T>C,
# CYP4F2 c.1297G>A p.V433M, VKORC1 c.-1639G>A).  The ALT base is read from the knowledge base's positions.
VARIANT_NAMES = {
    ("SLCO1B1", "521"): "rs4149056",
    ("CYP4F2", "V433M"): "rs2108622",
    ("VKORC1", "-1639G>A"): "rs9923231",
}
# The FDA's genotype letters for SLCO1B1 c.521T>C (reference T, variant C) -> copies of the variant.
SLCO1B1_521_GENOTYPES = {"TT": 0, "TC": 1, "CC": 2}

_WORDS = "ultrarapid|normal|intermediate|poor"
# "poor metabolizers", "intermediate or poor metabolizer", "ultrarapid, normal, intermediate, or poor metabolizers";
# a trailing digit is a footnote marker glued on by the page copy ("Ultrarapid metabolizers3", tramadol).
PHENOTYPE_RE = re.compile(
    rf"^(?P<words>(?:{_WORDS})(?:, (?:{_WORDS}))*(?:,? or (?:{_WORDS}))?) metabolizers?(?P<footnote>\d)?$",
    re.IGNORECASE)
# "poor metabolizers or *3 carriers"
PHENOTYPE_OR_CARRIER_RE = re.compile(
    rf"^(?P<words>(?:{_WORDS})(?:,? or (?:{_WORDS}))?) metabolizers? or (?P<allele>\*\d+) carriers$", re.IGNORECASE)
# "*28/*28 (poor metabolizers)"; "*1/*6, *1/*28 (intermediate metabolizers) or *6/*6, *6/*28, *28/*28 (poor ...)"
_DIP = r"\*\d+/\*\d+"
_DIP_GROUP = rf"{_DIP}(?:, {_DIP})* \((?:{_WORDS}) metabolizers\)"
DIPLOTYPE_RE = re.compile(rf"^{_DIP_GROUP}(?: or {_DIP_GROUP})?$", re.IGNORECASE)
# "*57:01 allele positive"
HLA_RE = re.compile(r"^(?P<allele>\*\d{2}:\d{2}) allele positive$")
# "521 TC or 521 CC (intermediate or poor function transporters)", "521 CC (poor function transporters)"
SLCO1B1_RE = re.compile(r"^521 (?P<g1>[TC]{2})(?: or 521 (?P<g2>[TC]{2}))? \((?:intermediate or )?(?:poor) function "
                        r"transporters\)$")
# "V433M variant carriers", "-1639G>A variant carriers"
VARIANT_CARRIER_RE = re.compile(r"^(?P<name>\S+) variant carriers$")


@dataclass(frozen=True)
class ActRule:
    """Why a section-1 row is "act": the phrase of the FDA text that instructs a change (checked to be present), and
    optionally the part of the subgroup it is written for (phenotypes or diplotypes); the rest is "consider"."""

    phrase: str
    phenotypes: tuple[str, ...] = ()
    diplotypes: tuple[str, ...] = ()


PM = "Poor Metabolizer"
# (drug, gene label) -> rule.  Reviewed against all 62 section-1 rows (docs/FDA_ASSOCIATIONS.md lists the rest as
# consider with the reason).  A phrase that disappears from a future FDA text drops the row back to consider.
ACT_RULES: dict[tuple[str, str], ActRule] = {
    ("Abacavir", "HLA-B"): ActRule("Do not use abacavir"),
    ("Abrocitinib", "CYP2C19"): ActRule("Dosage adjustment is recommended"),
    ("Amifampridine", "NAT2"): ActRule("Use lowest recommended starting dosage"),
    ("Amifampridine Phosphate", "NAT2"): ActRule("Use lowest recommended starting dosage"),
    ("Aripiprazole", "CYP2D6"): ActRule("Dosage adjustment is recommended"),
    ("Aripiprazole Lauroxil", "CYP2D6"): ActRule("Dosage adjustment is recommended"),
    ("Atomoxetine", "CYP2D6"): ActRule("Adjust titration interval"),
    ("Azathioprine", "TPMT and/or NUDT15"): ActRule("Dosage reduction is recommended in intermediate metabolizers"),
    ("Belinostat", "UGT1A1"): ActRule("Reduce starting dose to 750 mg/m2 in poor metabolizers"),
    ("Brexpiprazole", "CYP2D6"): ActRule("Dosage adjustment is recommended"),
    ("Capecitabine", "DPYD"): ActRule("No dosage has proven safe in poor metabolizers"),
    ("Carbamazepine", "HLA-B"): ActRule("Avoid use unless potential benefits outweigh risks"),
    ("Celecoxib", "CYP2C9"): ActRule("Reduce starting dose to half of the lowest recommended dose in poor metabolizers",
                                     phenotypes=(PM,)),
    ("Citalopram", "CYP2C19"): ActRule("The maximum recommended dose is 20 mg"),
    ("Clobazam", "CYP2C19"): ActRule("Poor metabolism results in higher adverse reaction risk. Dosage adjustment is "
                                     "recommended", phenotypes=(PM,)),
    ("Deutetrabenazine", "CYP2D6"): ActRule("The maximum recommended dosage should not exceed 36 mg"),
    ("Flurbiprofen", "CYP2C9"): ActRule("Use a reduced dosage in poor metabolizers", phenotypes=(PM,)),
    ("Fluorouracil", "DPYD"): ActRule("No dosage has proven safe in poor metabolizers"),
    ("Iloperidone", "CYP2D6"): ActRule("Reduce dosage by 50%"),
    ("Mercaptopurine", "TPMT and/or NUDT15"): ActRule("Initial dosages should be reduced in poor metabolizers",
                                                      phenotypes=(PM,)),
    ("Metoclopramide", "CYP2D6"): ActRule("The recommended dosage is lower"),
    ("Nateglinide", "CYP2C9"): ActRule("Dosage reduction is recommended"),
    ("Pimozide", "CYP2D6"): ActRule("4 mg/day in adults who are poor metabolizers"),
    ("Pitolisant", "CYP2D6"): ActRule("Use lowest recommended starting dosage"),
    ("Siponimod", "CYP2C9"): ActRule("Do not use in patients with CYP2C9 *3/*3 genotype", diplotypes=("*3/*3",)),
    ("Tetrabenazine", "CYP2D6"): ActRule("The maximum recommended single dose is 25 mg"),
    ("Thioguanine", "TPMT and/or NUDT15"): ActRule("Initial dosages should be reduced in poor metabolizers",
                                                   phenotypes=(PM,)),
    ("Thioridazine", "CYP2D6"): ActRule("Contraindicated in poor metabolizers"),
    ("Vortioxetine", "CYP2D6"): ActRule("The maximum recommended dose is 10 mg"),
}


def _phenotype_names(words: str) -> list[str]:
    found = re.findall(_WORDS, words, re.IGNORECASE)
    return [f"{w.capitalize()} Metabolizer" for w in found]


def _core(allele: str) -> str:
    """PharmVar suballele to its core allele, as calls report them (*45.001 -> *45)."""
    return re.sub(r"^(\*\d+)\.\d+$", r"\1", allele)


class Mapper:
    """Maps FDA rows onto the knowledge base's vocabulary (phenotypes, alleles, variant positions)."""

    def __init__(self, diplotype_phenotypes: pd.DataFrame, alleles: pd.DataFrame, positions: pd.DataFrame) -> None:
        self.phenotypes = {g: set(p.dropna()) for g, p in diplotype_phenotypes.groupby("gene")["phenotype"]}
        self.alleles = {g: {_core(a) for a in al} for g, al in alleles.groupby("gene")["allele"]}
        self._alleles = alleles
        self._positions = positions

    def variant_alleles(self, gene: str, rsid: str) -> list[str] | None:
        """Named alleles of `gene` whose definition carries the ALT at `rsid` (core names)."""
        pos = self._positions[(self._positions["gene"] == gene) & (self._positions["rsid"] == rsid)
                              & (self._positions["position_index"] >= 0)]
        if len(pos) != 1 or len(pos.iloc[0]["alts"]) != 1:
            return None
        idx, alt = int(pos.iloc[0]["position_index"]), str(pos.iloc[0]["alts"][0])
        rows = self._alleles[self._alleles["gene"] == gene]
        return sorted({_core(a) for a, bases in zip(rows["allele"], rows["bases"]) if bases[idx] == alt},
                      key=_allele_order)

    def map_row(self, gene_label: str, subgroup: str) -> dict:
        """-> {kind, genes, condition (dict or None), text, reason, note}."""
        text = subgroup.strip()
        if gene_label in NOT_CALLED_GENES:
            return _unassessed("gene not called", [gene_label], NOT_CALLED_GENES[gene_label])
        if gene_label in NONSPECIFIC_LABELS:
            return _unassessed("compound gene", [gene_label], NONSPECIFIC_LABELS[gene_label])
        if gene_label in COMPOUND_LABELS:
            genes = list(COMPOUND_LABELS[gene_label])
            missing = [g for g in genes if g in NOT_CALLED_GENES]
            if missing:
                return _unassessed("compound gene", genes, f"{'; '.join(NOT_CALLED_GENES[g] for g in missing)}, and the "
                                   f"row is written for '{gene_label}'")
            m = PHENOTYPE_RE.match(text)
            if not m:
                return _unmapped(genes, f"no rule reads the subgroup text {text!r} for a compound gene label")
            names = _phenotype_names(m.group("words"))
            bad = [(g, n) for g in genes for n in names if n not in self.phenotypes.get(g, set())]
            if bad:
                return _unmapped(genes, f"phenotype(s) {bad} are not in the knowledge base")
            clauses = [{"gene": g, "phenotypes": names} for g in genes]
            return _mapped("compound gene", genes, clauses,
                           " or ".join(f"{g}: {' or '.join(names)}" for g in genes))
        gene = gene_label
        if gene in HLA_GENES:
            m = HLA_RE.match(text)
            if not m:
                return _unmapped([gene], f"no rule reads the HLA subgroup text {text!r}")
            allele = m.group("allele")
            return _mapped("allele presence", [gene], [{"gene": gene, "hla_positive": allele}],
                           f"{gene}{allele} positive (outside HLA typing)")
        note = None
        m = PHENOTYPE_RE.match(text)
        if m:
            names = _phenotype_names(m.group("words"))
            if m.group("footnote"):
                note = f"footnote digit '{m.group('footnote')}' at the end of the FDA text ignored"
            missing = [n for n in names if n not in self.phenotypes.get(gene, set())]
            if missing:
                return _unmapped([gene], f"{gene} has no phenotype {', '.join(missing)} in the knowledge base")
            return _mapped("phenotype", [gene], [{"gene": gene, "phenotypes": names}],
                           f"{gene}: {' or '.join(names)}", note)
        m = PHENOTYPE_OR_CARRIER_RE.match(text)
        if m:
            names = _phenotype_names(m.group("words"))
            allele = m.group("allele")
            if any(n not in self.phenotypes.get(gene, set()) for n in names) or allele not in self.alleles.get(gene, ()):
                return _unmapped([gene], f"phenotype or allele of {text!r} is not in the {gene} knowledge base")
            return _mapped("phenotype or allele presence", [gene],
                           [{"gene": gene, "phenotypes": names}, {"gene": gene, "alleles_present": [allele]}],
                           f"{gene}: {' or '.join(names)}, or {allele} on either allele")
        if DIPLOTYPE_RE.match(text):
            dips = re.findall(_DIP, text)
            unknown = sorted({a for d in dips for a in d.split("/") if a not in self.alleles.get(gene, ())})
            if unknown:
                return _unmapped([gene], f"allele(s) {', '.join(unknown)} are not {gene} alleles in the knowledge base")
            return _mapped("genotype", [gene], [{"gene": gene, "diplotypes": dips}],
                           f"{gene} diplotype {' or '.join(dips)}")
        m = SLCO1B1_RE.match(text)
        if m and gene == "SLCO1B1":
            rsid = VARIANT_NAMES[(gene, "521")]
            carriers = self.variant_alleles(gene, rsid)
            if not carriers:
                return _unmapped([gene], f"{rsid} is not a single-ALT defining position of {gene} in the knowledge base")
            copies = sorted(SLCO1B1_521_GENOTYPES[g] for g in (m.group("g1"), m.group("g2")) if g)
            letters = [g for g in (m.group("g1"), m.group("g2")) if g]
            return _mapped("genotype", [gene], [{"gene": gene, "variant": rsid, "variant_alleles": carriers,
                                                 "copies": copies}],
                           f"{gene} {rsid} {' or '.join(letters)} (c.521T>C on {' or '.join(map(str, copies))} "
                           f"allele(s): {', '.join(carriers)})")
        m = VARIANT_CARRIER_RE.match(text)
        if m and (gene, m.group("name")) in VARIANT_NAMES:
            rsid = VARIANT_NAMES[(gene, m.group("name"))]
            carriers = self.variant_alleles(gene, rsid)
            if not carriers:
                return _unmapped([gene], f"{rsid} is not a single-ALT defining position of {gene} in the knowledge base")
            return _mapped("allele presence", [gene], [{"gene": gene, "alleles_present": carriers}],
                           f"{gene} {m.group('name')} ({rsid}) on either allele: {', '.join(carriers)}")
        return _unmapped([gene], f"no mapping rule reads {text!r} exactly")


def _allele_order(a: str) -> tuple:
    m = re.match(r"^\*(\d+)$", a)
    return (0, int(m.group(1)), "") if m else (1, 0, a)


def _mapped(kind: str, genes: list[str], clauses: list[dict], text: str, note: str | None = None) -> dict:
    return {"kind": kind, "genes": genes, "condition": {"any": clauses}, "text": text, "reason": None, "note": note}


def _unassessed(kind: str, genes: list[str], reason: str) -> dict:
    return {"kind": kind, "genes": genes, "condition": None, "text": None, "reason": reason, "note": None}


def _unmapped(genes: list[str], reason: str) -> dict:
    return {"kind": "unmapped", "genes": genes, "condition": None, "text": None, "reason": reason, "note": None}


def label_rule(section: int, drug: str, gene_label: str, description: str) -> tuple[str, str, dict | None]:
    """(label, basis, act_for) of a matched row: label act | consider | info; act_for limits "act" to part of the
    subgroup ({"phenotypes": [...]} or {"diplotypes": [...]}), None = the whole subgroup."""
    if section == 3:
        return "info", "section 3: pharmacokinetic effect only, no prescribing instruction", None
    if section == 2:
        return "consider", "section 2: potential impact on safety or response", None
    rule = ACT_RULES.get((drug, gene_label))
    if rule is None:
        return "consider", "section 1; the text gives no unconditional drug or dose change", None
    if rule.phrase not in description:
        return "consider", f"section 1; expected phrase {rule.phrase!r} is no longer in the FDA text", None
    act_for = ({"phenotypes": list(rule.phenotypes)} if rule.phenotypes else
               {"diplotypes": list(rule.diplotypes)} if rule.diplotypes else None)
    return "act", f"section 1: {rule.phrase!r}", act_for


def load_fda_associations(path: str | Path, diplotype_phenotypes: pd.DataFrame, alleles: pd.DataFrame,
                          positions: pd.DataFrame) -> pd.DataFrame:
    """The FDA table, one row per association with its mapping (schema.KB_FDA_ASSOCIATIONS)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PgxInputError("FDA associations file not found; check knowledge.fda_associations in the config",
                            path=path) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PgxInputError(f"is not valid JSON ({exc}); replace it with the FDA table copy", path=path) from exc
    if not isinstance(data, dict) or not isinstance(data.get("associations"), list):
        raise PgxInputError("has no 'associations' list: not the FDA table layout (see PROVENANCE.md)", path=path)
    mapper = Mapper(diplotype_phenotypes, alleles, positions)
    rows = []
    for i, a in enumerate(data["associations"]):
        missing = [k for k in ("gene", "drug", "section", "affected_subgroups", "description") if k not in a]
        if missing:
            raise PgxInputError(f"association {i} lacks {missing}", path=path)
        section = int(a["section"])
        if section not in SECTION_TITLES:
            raise PgxInputError(f"association {i} ({a['drug']}) has section {section}, not 1, 2 or 3", path=path)
        m = mapper.map_row(str(a["gene"]), str(a["affected_subgroups"]))
        label, basis, act_for = label_rule(section, str(a["drug"]), str(a["gene"]), str(a["description"]))
        rows.append({
            "row": i,
            "source_url": str(data.get("source_url") or ""),
            "retrieved_at": str(data.get("retrieved_at") or ""),
            "section": section,
            "section_title": SECTION_TITLES[section],
            "gene_label": str(a["gene"]),
            "drug": str(a["drug"]),
            "affected_subgroups": str(a["affected_subgroups"]),
            "description": str(a["description"]),
            "mapping_kind": m["kind"],
            "genes": m["genes"],
            "condition": json.dumps(m["condition"], sort_keys=True) if m["condition"] else None,
            "condition_text": m["text"],
            "unmapped_reason": m["reason"],
            "mapping_note": m["note"],
            "label": label,
            "label_basis": basis,
            "act_for": json.dumps(act_for, sort_keys=True) if act_for else None,
        })
    return pd.DataFrame(rows)


def empty_fda_table(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in columns})


def _cell(v) -> str:
    text = "" if v is None or (isinstance(v, float) and v != v) else str(v)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(table: pd.DataFrame) -> str:
    """docs/FDA_ASSOCIATIONS.md: every FDA row with its mapping and label rule (scripts/fda_associations_table.py)."""
    first = table.iloc[0] if len(table) else None
    out = [
        "# FDA Table of Pharmacogenetic Associations: how each row is read",
        "",
        "Generated by `python scripts/fda_associations_table.py` from the knowledge base's `fda_associations` table "
        "(`src/pgx_pipeline/knowledge/fda.py`); `tests/phenotype/test_fda_guidance.py` checks it is current. "
        "Do not edit by hand.",
        "",
        f"Source: {first['source_url'] if first is not None else ''}, retrieved "
        f"{first['retrieved_at'] if first is not None else ''}. {len(table)} rows: "
        + ", ".join(f"section {s} {n}" for s, n in sorted(table["section"].value_counts().items())) + ".",
        "",
        "How a row is evaluated for a patient (`pgx_pipeline.fda_guidance`): **matched** when the condition holds, "
        "**not matched** when it does not, **not evaluated** (the report says \"FDA: see label, not evaluated for this "
        "genotype\") when the row has no condition or the patient's result cannot be read on it exactly: a gene not "
        "called or not assessed, an ambiguous call whose candidates disagree, a hedged phenotype (\"Likely Poor "
        "Metabolizer\", \"Possible Intermediate Metabolizer\") or Indeterminate, a CYP2D6 call from a VCF against a "
        "row naming ultrarapid metabolizers (duplications are invisible in a VCF), a combined allele (UGT1A1 "
        "`*80+*28`) against a diplotype list. \"TPMT and/or NUDT15\" rows: matched when either gene is an "
        "intermediate or poor metabolizer (the other may be uncalled), not matched only when both are called and "
        "neither is. Compound labels naming a gene the pipeline does not call (UGT2B17), \"Nonspecific (NAT)\" and "
        "genes not called (BCHE, HLA-DRB1, HLA-DQA1) are never evaluated.",
        "",
        "Label of a matched row: section 1 **act** where the FDA text itself instructs a drug or dose change for the "
        "subgroup (the phrase quoted in the last column; limited to the named phenotypes/diplotypes where the text "
        "is), otherwise **consider** (hedged advice, monitoring, or an instruction for a population the pipeline does "
        "not check, such as children or CYP3A4-inhibitor co-medication); section 2 **consider**; section 3 **info** "
        "(pharmacokinetic effect only; does not put the drug in the Act/Consider list). Not matched and not evaluated "
        "rows never change a drug's label.",
        "",
        "| # | section | gene (FDA) | drug | affected subgroups (FDA, verbatim) | mapping | condition / reason not "
        "evaluated | label if matched |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table.sort_values("row").to_dict("records"):
        cond = r["condition_text"] if isinstance(r["condition_text"], str) else f"not evaluated: {r['unmapped_reason']}"
        if isinstance(r["mapping_note"], str):
            cond += f" ({r['mapping_note']})"
        mapped = isinstance(r["condition"], str)
        label = r["label"] if mapped else "—"
        if mapped and r["label"] == "act":
            part = json.loads(r["act_for"]) if isinstance(r["act_for"], str) else None
            only = f" for {' or '.join(next(iter(part.values())))}, else consider" if part else ""
            label = f"act{only}: {r['label_basis'].split(': ', 1)[1]}"
        out.append("| " + " | ".join(_cell(x) for x in (
            r["row"], r["section"], r["gene_label"], r["drug"], r["affected_subgroups"], r["mapping_kind"], cond,
            label)) + " |")
    return "\n".join(out) + "\n"
