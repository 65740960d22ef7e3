"""Outside calls: diplotypes made by another tool (CYP2D6 CNV callers, HLA typing...) that override the VCF call.

Two file shapes are read: PharmCAT's per-sample file (`GENE<TAB>DIPLOTYPE[<TAB>PHENOTYPE[<TAB>ACTIVITY]]`,
`#` comments, no header; the sample is named by the file name or given by the caller) and a cohort table
with a header starting `sample_id`, whose optional `vcf` column says which input a row's patient is in, as in the
sample sheet (a patient is input + sample).  A bad line fails that gene for that sample only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from .. import schema
from ..errors import PgxInputError
from ..inputs import InputSpec, row_applies_to_input, split_group_paths

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
    # Resolved files of the table's `vcf` cell: the row is for the patient of the input made of them; empty = the
    # sample id in every input.
    vcfs: tuple[str, ...] = ()


def read_outside_calls(path: str | Path, known_samples: list[str]) -> list[OutsideCall]:
    path = Path(path)
    if not path.is_file():
        raise PgxInputError("outside-call file not found; check --outside-calls / the sample sheet", path=path)
    lines = _lines(path)
    table = _cohort_table(path, lines)
    if table is not None:
        return table
    sample = _sample_from_name(path, known_samples)
    calls = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        calls.append(_parse_fields(sample, line.split("\t"), f"{path.name}:{n}"))
    return calls


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _cohort_table(path: Path, lines: list[str]) -> list[OutsideCall] | None:
    """The rows of a cohort table (header starting `sample_id`); None for a per-sample file in PharmCAT's format."""
    header = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    return _read_cohort_table(path, lines) if header.lower().startswith("sample_id") else None


def _names_sample(path: Path, sample: str) -> bool:
    return re.search(rf"(^|[^A-Za-z0-9]){re.escape(sample)}([^A-Za-z0-9]|$)", path.name) is not None


# How a file is given to one input; a table's rows can also name their patient's file.
FOR_ONE_INPUT = ("config inputs[].outside_calls, or the sample sheet's outside_calls column on the row that names "
                 "the sample's vcf")
PER_INPUT_HINT = f"name the patient's file in the table's vcf column, or give the file for one input: {FOR_ONE_INPUT}"


def assign_outside_calls(files: list[str], input_samples: dict[str, list[str]],
                         input_vcfs: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Input id -> the outside-call files given for a whole run (`--outside-calls`) that belong to it.

    Outside calls name patients by sample id, and a patient is (input, sample): with several inputs, a file must say
    whose it is without doubt. A per-sample file must name exactly one sample of the run in its file name (a lab's
    single-sample VCFs all called SAMPLE cannot share one); a cohort table's rows must each be for one patient
    (`table_owners`: a row's `vcf` cell names the input, or its sample id is held by one input only). Anything else
    is an error naming the file and the inputs, rather than one patient's CYP2D6 or HLA result applied to another
    patient. `input_vcfs` (input id -> its files) is what table rows naming files are matched against.
    """
    input_vcfs = input_vcfs or {i: [] for i in input_samples}
    out: dict[str, list[str]] = {i: [] for i in input_samples}
    only = next(iter(input_samples)) if len(input_samples) == 1 else None
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise PgxInputError("outside-call file not found; check --outside-calls", path=path)
        table = _cohort_table(path, _lines(path))
        if table is not None:
            owners = table_owners(path, table, input_samples, input_vcfs)
            for i in [only] if only else owners:
                out[i].append(f)
            continue
        if only:
            out[only].append(f)
            continue
        hits = [(i, s) for i, samples in input_samples.items() for s in samples if _names_sample(path, s)]
        if len(hits) != 1:
            found = "; ".join(f"{s} in input {i}" for i, s in hits) or "no sample of this run"
            raise PgxInputError(f"a per-sample outside-call file must name exactly one patient of the run in its "
                                f"file name, and this run has {len(input_samples)} inputs (it names: {found}); give "
                                f"it for one input instead: {FOR_ONE_INPUT}", path=path)
        out[hits[0][0]].append(f)
    return out


def table_owners(path: Path, table: list[OutsideCall], input_samples: dict[str, list[str]],
                 input_vcfs: dict[str, list[str]], given_to: list[str] | None = None) -> list[str]:
    """The inputs whose patients a cohort table's rows describe, checked before any job runs.

    A row naming files in `vcf` is for the input made of them, which must hold its sample id; a row naming none is for
    its sample id in the inputs the table is given to (`given_to`: config inputs[].outside_calls or sample-sheet
    rows; None for a table given to the whole run), and must find it in one of them only. Two rows giving one gene
    for one patient are refused. Each error names the table's line and what to do.
    """
    scope = list(input_samples) if given_to is None else given_to
    owners: set[str] = set()
    for oc in table:
        line = _line(oc)
        if not oc.vcfs:
            holders = sorted(i for i in scope if oc.sample_id in input_samples.get(i, []))
            if len(holders) > 1:
                raise PgxInputError(f"line {line}: sample_id {oc.sample_id} is a sample of {len(holders)} inputs "
                                    f"({', '.join(holders)}), so its outside calls cannot be given to one patient; "
                                    f"{PER_INPUT_HINT}", path=path)
            owners.update(holders)
            continue
        named = "; ".join(oc.vcfs)
        hits = [i for i, vcfs in input_vcfs.items() if vcfs and row_applies_to_input(oc.vcfs, vcfs)]
        if not hits:
            shown = "; ".join(f"{i} = {', '.join(v)}" for i, v in list(input_vcfs.items())[:3])
            more = f" and {len(input_vcfs) - 3} more" if len(input_vcfs) > 3 else ""
            raise PgxInputError(f"line {line}: the vcf cell names {named}, which is no input of this run (inputs: "
                                f"{shown}{more}); name the patient's VCF file(s) as the run reads them (paths "
                                "relative to this table's folder)", path=path)
        owner = hits[0]
        if oc.sample_id not in input_samples.get(owner, []):
            held = ", ".join(input_samples.get(owner, [])[:5]) or "none: its header could not be read"
            raise PgxInputError(f"line {line}: input {owner} ({named}) holds no sample {oc.sample_id!r} (its samples: "
                                f"{held}); fix the row's sample_id or its vcf cell", path=path)
        if owner not in scope:
            raise PgxInputError(f"line {line}: the row is for input {owner} ({named}), but this table is given to "
                                f"input(s) {', '.join(scope)} only; give the table to input {owner} too, or give it "
                                "to the whole run (pgx-pipeline run --outside-calls)", path=path)
        owners.add(owner)
    for i in sorted(owners):
        mine = [oc for oc in table if row_applies_to_input(oc.vcfs, input_vcfs[i])]
        for k, (why, _) in _repeats(mine).items():
            if mine[k].sample_id in input_samples.get(i, []):
                raise PgxInputError(why, path=path)
    return sorted(owners)


def check_run_tables(specs: list[InputSpec], sheet_rows: list[dict], input_samples: dict[str, list[str]]) -> None:
    """Before any job: every cohort table given to inputs (config inputs[].outside_calls, a run's --outside-calls as
    assigned, a sample-sheet row's outside_calls for the input the row describes) describes patients of the inputs
    it is given to (`table_owners`)."""
    given = {s.input_id: list(s.outside_calls) for s in specs}
    for r in sheet_rows:
        if r.get("outside_calls"):
            for s in specs:
                if r["sample_id"] in input_samples.get(s.input_id, []) and row_applies_to_input(r["vcfs"], s.vcfs):
                    given[s.input_id].append(r["outside_calls"])
    tables: dict[str, set[str]] = {}
    for i, files in given.items():
        for f in files:
            tables.setdefault(str(Path(f).resolve()), set()).add(i)
    input_vcfs = {s.input_id: s.vcfs for s in specs}
    for f, to in tables.items():
        path = Path(f)
        table = _cohort_table(path, _lines(path)) if path.is_file() else None
        if table is not None:
            table_owners(path, table, input_samples, input_vcfs, given_to=sorted(to))


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
    # (file line number, text): an error names the line as an editor shows it, comments and blank lines counted
    rows = [(n, ln) for n, ln in enumerate(lines, start=1) if ln.strip() and not ln.startswith("#")]
    cols = [c.strip() for c in rows[0][1].split("\t")]
    calls = []
    for n, line in rows[1:]:
        fields = line.split("\t")
        rec = dict(zip(cols, fields))
        sample = rec.get("sample_id", "").strip()
        ordered = [rec.get("gene", ""), rec.get("diplotype", ""), rec.get("phenotype", ""), rec.get("activity_score", "")]
        cell = (rec.get("vcf") or "").strip()
        vcfs = tuple(split_group_paths(cell, base=path.parent)) if cell else ()
        calls.append(replace(_parse_fields(sample, ordered, f"{path.name}:{n}"), vcfs=vcfs))
    return calls


def calls_for_input(calls: list[OutsideCall], input_vcfs: list[str]) -> list[OutsideCall]:
    """The calls that describe patients of the input made of `input_vcfs` (the sample sheet's rule,
    `inputs.row_applies_to_input`). Rows giving one gene for the same patient fail that gene: none is applied (one
    not-called row says why), since nothing says which is right."""
    mine = [oc for oc in calls if row_applies_to_input(oc.vcfs, input_vcfs)]
    repeated = _repeats(mine)
    dropped = {k for _, others in repeated.values() for k in others}
    return [replace(oc, diplotype=None, phenotype=None, activity_score=None, error=f"{oc.source}: {repeated[k][0]}")
            if k in repeated else oc for k, oc in enumerate(mine) if k not in dropped]


def _repeats(calls: list[OutsideCall]) -> dict[int, tuple[str, list[int]]]:
    """For each (sample, gene) that several calls of the list give: index of the first -> (why, the others)."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for k, oc in enumerate(calls):
        by_key.setdefault((oc.sample_id, oc.gene), []).append(k)
    # file:line of each: the calls may come from several files given to the same input
    return {ks[0]: (f"{calls[ks[0]].gene} of sample {calls[ks[0]].sample_id} is given by "
                    f"{', '.join(calls[k].source for k in ks)} for the same patient; keep one row per gene and "
                    "patient (when two inputs hold this sample id, name each row's file in the vcf column)", ks[1:])
            for ks in by_key.values() if len(ks) > 1}


def _line(oc: OutsideCall) -> str:
    return oc.source.rpartition(":")[2]


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
