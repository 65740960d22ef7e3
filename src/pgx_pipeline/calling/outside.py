"""Outside calls: diplotypes made by another tool (CYP2D6 CNV callers, HLA typing...) that override the VCF call.

Two file shapes are read: PharmCAT's per-sample file (`GENE<TAB>DIPLOTYPE[<TAB>PHENOTYPE[<TAB>ACTIVITY]]`,
`#` comments, no header; the sample is named by the file name or given by the caller) and a cohort table
with a header starting `sample_id`.  A bad line fails that gene for that sample only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import schema
from ..errors import PgxInputError

GENE_RE = re.compile(r"^[A-Z][A-Z0-9_-]{1,15}$")


@dataclass(frozen=True)
class OutsideCall:
    sample_id: str
    gene: str
    diplotype: str | None
    phenotype: str | None
    activity_score: str | None
    source: str  # "file:line"
    error: str | None = None


def read_outside_calls(path: str | Path, known_samples: list[str]) -> list[OutsideCall]:
    path = Path(path)
    if not path.is_file():
        raise PgxInputError("outside-call file not found; check --outside-calls / the sample sheet", path=path)
    text = path.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    header = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    if header.lower().startswith("sample_id"):
        return _read_cohort_table(path, lines)
    sample = _sample_from_name(path, known_samples)
    calls = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        calls.append(_parse_fields(sample, line.split("\t"), f"{path.name}:{n}"))
    return calls


def _names_sample(path: Path, sample: str) -> bool:
    return re.search(rf"(^|[^A-Za-z0-9]){re.escape(sample)}([^A-Za-z0-9]|$)", path.name) is not None


def _table_samples(path: Path) -> list[str] | None:
    """Sample ids a cohort table (header `sample_id`) lists; None for a per-sample file in PharmCAT's format."""
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    rows = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    if not rows or not rows[0].lower().startswith("sample_id"):
        return None
    return [ln.split("\t")[0].strip() for ln in rows[1:]]


def assign_outside_calls(files: list[str], input_samples: dict[str, list[str]]) -> dict[str, list[str]]:
    """Input id -> the outside-call files given for a whole run (`--outside-calls`) that belong to it.

    Outside calls name patients by sample id, and a patient is (input, sample): with several inputs, a file must say
    whose it is without doubt. A per-sample file must name exactly one sample of the run in its file name (a lab's
    single-sample VCFs all called SAMPLE cannot share one); a cohort table may list a sample id held by one input
    only. Anything else is an error naming the file and the inputs, rather than one patient's CYP2D6 or HLA result
    applied to another patient.
    """
    out: dict[str, list[str]] = {i: [] for i in input_samples}
    if len(input_samples) == 1:
        out[next(iter(input_samples))] = list(files)
        return out
    per_input_hint = ("give it for one input instead: config inputs[].outside_calls, or the sample sheet's "
                      "outside_calls column on the row that names the sample's vcf")
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise PgxInputError("outside-call file not found; check --outside-calls", path=path)
        listed = _table_samples(path)
        if listed is None:
            hits = [(i, s) for i, samples in input_samples.items() for s in samples if _names_sample(path, s)]
            if len(hits) != 1:
                found = "; ".join(f"{s} in input {i}" for i, s in hits) or "no sample of this run"
                raise PgxInputError(f"a per-sample outside-call file must name exactly one patient of the run in its "
                                    f"file name, and this run has {len(input_samples)} inputs (it names: {found}); "
                                    f"{per_input_hint}", path=path)
            out[hits[0][0]].append(f)
            continue
        owners: set[str] = set()
        for sample in dict.fromkeys(listed):
            holders = sorted(i for i, samples in input_samples.items() if sample in samples)
            if len(holders) > 1:
                raise PgxInputError(f"sample_id {sample} is a sample of {len(holders)} inputs ({', '.join(holders)}), "
                                    f"so its outside calls cannot be given to one patient; {per_input_hint}", path=path)
            owners.update(holders)
        for i in sorted(owners):
            out[i].append(f)
    return out


def _sample_from_name(path: Path, known: list[str]) -> str:
    hits = [s for s in known if _names_sample(path, s)]
    if len(hits) == 1:
        return hits[0]
    if len(known) == 1:
        return known[0]
    raise PgxInputError(
        "a per-sample outside-call file must name its sample in the file name (e.g. calls.NA18526.tsv), or use a table "
        "with a 'sample_id' column",
        path=path,
    )


def _read_cohort_table(path: Path, lines: list[str]) -> list[OutsideCall]:
    rows = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    cols = rows[0].split("\t")
    calls = []
    for n, line in enumerate(rows[1:], start=2):
        fields = line.split("\t")
        rec = dict(zip(cols, fields))
        sample = rec.get("sample_id", "").strip()
        ordered = [rec.get("gene", ""), rec.get("diplotype", ""), rec.get("phenotype", ""), rec.get("activity_score", "")]
        calls.append(_parse_fields(sample, ordered, f"{path.name}:{n}"))
    return calls


def _parse_fields(sample: str, fields: list[str], where: str) -> OutsideCall:
    fields = [f.strip() for f in fields] + [""] * 4
    gene, dip, pheno, score = fields[:4]
    if not GENE_RE.match(gene):
        return OutsideCall(sample, gene or "?", None, None, None, where, f"{where}: {gene!r} is not a gene symbol")
    if not dip and not pheno and not score:
        return OutsideCall(sample, gene, None, None, None, where, f"{where}: {gene} has neither a diplotype, a phenotype nor an activity score")
    if dip and dip.count("/") > 1:
        return OutsideCall(sample, gene, None, None, None, where, f"{where}: {gene} diplotype {dip!r} is malformed")
    if score:
        try:
            float(score.lstrip("≥>"))
        except ValueError:
            return OutsideCall(sample, gene, None, None, None, where, f"{where}: {gene} activity score {score!r} is not a number")
    return OutsideCall(sample, gene, dip or None, pheno or None, score or None, where)


def apply_outside_calls(calls: pd.DataFrame, outside: list[OutsideCall], samples: set[str]) -> pd.DataFrame:
    """Replace the VCF rows of each (sample, gene) with the outside call, saying what it replaced."""
    if not outside:
        return calls
    new_rows = []
    drop = set()
    for oc in outside:
        if oc.sample_id not in samples:
            continue
        key = (oc.sample_id, oc.gene)
        drop.add(key)
        prior = calls[(calls["sample_id"] == oc.sample_id) & (calls["gene"] == oc.gene) & (calls["candidate"] == 1)]
        note = []
        if not prior.empty and prior["status"].iloc[0] == "called":
            vcf_dips = ", ".join(calls[(calls["sample_id"] == oc.sample_id) & (calls["gene"] == oc.gene)]["diplotype"])
            agree = oc.diplotype is not None and oc.diplotype in vcf_dips.split(", ")
            note.append(f"outside call replaces the VCF call ({vcf_dips})" + ("" if agree else "; they DISAGREE: review"))
        elif oc.error is None:
            note.append("outside call (not made from the VCF)")
        a1, a2 = (oc.diplotype.split("/") + [None])[:2] if oc.diplotype else (None, None)
        new_rows.append(
            {
                "sample_id": oc.sample_id, "gene": oc.gene,
                "diplotype": oc.diplotype if oc.error is None else None,
                "allele1": a1 if oc.error is None else None, "allele2": a2 if oc.error is None else None,
                "rank": 1, "candidate": 1, "score": None, "n_candidates": 1 if oc.error is None else 0, "phased": False,
                "status": "outside_call" if oc.error is None else "not_called", "source": "outside",
                "matched_positions": [], "missing_positions": [], "undocumented_positions": [],
                "absent_is_reference": False,
                "outside_phenotype": oc.phenotype if oc.error is None else None,
                "outside_activity_score": oc.activity_score if oc.error is None else None,
                "warnings": note + ([oc.error + "; fix that line to use the outside call"] if oc.error else []),
            }
        )
    keep = [(s, g) not in drop for s, g in zip(calls["sample_id"], calls["gene"])]
    out = pd.concat([calls[keep], pd.DataFrame(new_rows, columns=schema.CALLS.column_names)], ignore_index=True)
    return out.sort_values(["sample_id", "gene", "candidate"], kind="stable").reset_index(drop=True)
