"""Machine-readable exports: per-sample JSON, PharmCAT-layout calls-only TSV and outside-call TSV.

The JSON is the report context itself, so it says exactly what the HTML says. The TSVs follow PharmCAT's published
formats (docs: "Calls-Only TSV Reports" and "Outside Call Format") so tools that read PharmCAT output read ours.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Iterable, Iterator

import pandas as pd

from .. import __version__
from ..calling.variant_list import VARIANT_LIST_GENES
from ..records import records
from .context import _i, _l, _s, drug_key
from .memo import IdentityMemo, KeyedMemo, SharedForm

CALLS_ONLY_COLUMNS = [
    "Sample ID", "Gene", "Source Diplotype", "Phenotype", "Activity Score",
    "Haplotype 1", "Haplotype 1 Function", "Haplotype 1 Activity Value",
    "Haplotype 2", "Haplotype 2 Function", "Haplotype 2 Activity Value",
    "Outside Call", "Match Score", "Missing positions",
    "Recommendation Lookup Diplotype", "Recommendation Lookup Phenotype", "Recommendation Lookup Activity Score",
    # Not in PharmCAT's layout (one file per run there): a patient is (input, sample), and two inputs may both name
    # their sample "SAMPLE", so the last column says which input (results/<stage>/<input>/) the row comes from.
    "Input",
]
NO_CALL = "no call"


def sample_json(ctx: dict[str, Any]) -> str:
    """Deterministic JSON: sorted keys, no timestamp but the report date passed in. The same bytes as
    `json.dumps(ctx, sort_keys=True, ...)`, with each shared form's text made once (memo.py): 8.4 -> ~3 ms for a busy
    panel patient, whose ~270 guideline rows and ~1,400 evidence rows make most of the file."""
    return "{" + ",".join(f"{_encode_str(k)}:{_drugs_json(ctx[k]) if k == 'drugs' else _json(ctx[k])}"
                          for k in sorted(ctx)) + "}\n"


_DRUG_TEXT = KeyedMemo()


def _drugs_json(drugs: list[dict]) -> str:
    """The drugs list, each drug's text made once per distinct entry (context.drug_key)."""
    out = []
    for d in drugs:
        key = drug_key(d)
        out.append(_json(d) if key is None else _DRUG_TEXT.get(key, d["guidelines"], lambda d=d: _json(d)))
    return "[" + ",".join(out) + "]"


def _dumps_sorted(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


_FORM_TEXT = IdentityMemo()
_encode_str = json.encoder.encode_basestring  # what json.dumps(text, ensure_ascii=False) calls for a str


def _json(value: Any) -> str:
    t = type(value)
    if t is SharedForm:
        return _FORM_TEXT.get(value, _dumps_sorted)
    if t is dict:
        # json.dumps sorts and writes keys as str; the context's keys are str throughout
        return "{" + ",".join(f"{_encode_str(k)}:{_json(value[k])}" for k in sorted(value)) + "}"
    if t is list:
        return "[" + ",".join(_json(v) for v in value) + "]"
    if t is str:
        return _encode_str(value)
    return _dumps_sorted(value)


def _clean(text: Any) -> str:
    """A TSV cell: tabs and newlines from the data would shift columns for every reader."""
    s = _s(text)
    return "" if s is None else " ".join(s.replace("\t", " ").split())


def calls_only_rows(calls: pd.DataFrame, phenotypes: pd.DataFrame, allele_activity: dict | None = None,
                    input_id: str = "") -> Iterable[list[str]]:
    for row in _calls_only_rows(calls, phenotypes, allele_activity):
        yield row + [_clean(input_id)]


def _calls_only_rows(calls: pd.DataFrame, phenotypes: pd.DataFrame, allele_activity: dict | None = None) -> Iterable[list[str]]:
    """PharmCAT calls-only rows (single-file mode, so a Sample ID column first) for one input.

    Ambiguous calls are joined with " OR " and leave haplotype and lookup columns blank, as PharmCAT does.
    Genes with no data at all (not assessed) are left out, as PharmCAT leaves out genes without data.
    """
    allele_activity = allele_activity or {}
    clean = _cleaner()
    phen = {(row["sample_id"], row["gene"], int(row["candidate"])): row for row in records(phenotypes)}
    rows_in_order = records(calls.sort_values(["sample_id", "gene", "candidate"], kind="stable"))
    # Plain records and itertools: a pandas groupby with a frame per group costs minutes at cohort scale.
    for (sample, gene), group in itertools.groupby(rows_in_order, key=lambda r: (r["sample_id"], r["gene"])):
        rows = list(group)
        top = rows[0]
        status = top["status"]
        if status == "not_assessed":
            continue
        outside = "yes" if status == "outside_call" else "no"
        missing = "yes" if _l(top["missing_positions"]) else "no"
        if status == "not_called" or _s(top["diplotype"]) is None:
            yield [clean(sample), gene, NO_CALL] + [""] * 8 + [outside, "", missing, "", "", ""]
            continue
        ph = [phen.get((sample, gene, int(r["candidate"])), {}) for r in rows]
        pheno = [_s(p.get("phenotype")) or _s(r["outside_phenotype"]) for p, r in zip(ph, rows)]
        score = [_s(p.get("activity_score")) or _s(r["outside_activity_score"]) for p, r in zip(ph, rows)]
        match = [str(_i(r["score"])) if _i(r["score"]) is not None else "" for r in rows]
        # DPYD/RYR1: the phenotype is looked up with the lowest-function pair (PharmCAT's recommendation diplotype),
        # one pair for every candidate arrangement.
        lowest = gene in VARIANT_LIST_GENES and outside == "no"
        lookup = (f"{_s(top['allele1'])}/{_s(top['allele2'])}" if lowest else clean(top["diplotype"]))
        if len(rows) > 1:
            yield [
                clean(sample), gene, " OR ".join(clean(r["diplotype"]) for r in rows),
                " / ".join(p or " " for p in pheno) if any(pheno) else "",
                " / ".join(s or " " for s in score) if any(score) else "",
                "", "", "", "", "", "", outside, " / ".join(match), missing,
                *((lookup, clean(pheno[0]), clean(score[0])) if lowest else ("", "", "")),
            ]
            continue
        r, p = rows[0], ph[0]
        a1, a2 = _s(r["allele1"]), _s(r["allele2"])
        yield [
            clean(sample), gene, clean(r["diplotype"]), clean(pheno[0]), clean(score[0]),
            clean(a1), clean(p.get("allele1_function")), clean(allele_activity.get((gene, a1))),
            clean(a2), clean(p.get("allele2_function")), clean(allele_activity.get((gene, a2))),
            outside, match[0], missing,
            lookup, clean(pheno[0]), clean(score[0]),
        ]


def _cleaner():
    """`_clean` remembering its answers: a panel's TSV cleans ~800,000 cells of a few thousand distinct values."""
    done: dict[tuple[type, Any], str] = {}

    def clean(text: Any) -> str:
        key = (type(text), text)  # the type too: 1, 1.0 and True are equal keys but clean to different text
        try:
            return done[key]
        except KeyError:
            done[key] = out = _clean(text)
            return out
        except TypeError:  # unhashable
            return _clean(text)
    return clean


def calls_only_lines(blocks: Iterable[Iterable[list[str]]], kb_version: str) -> Iterator[str]:
    """The whole cohort's calls-only TSV, line by line; the first line names the tool, as PharmCAT's does."""
    yield f"pgx-pipeline {__version__} (PharmCAT calls-only layout; knowledge base {kb_version})\n"
    yield "\t".join(CALLS_ONLY_COLUMNS) + "\n"
    for block in blocks:
        for row in block:
            yield "\t".join(row) + "\n"


def calls_only_tsv(blocks: Iterable[Iterable[list[str]]], kb_version: str) -> str:
    return "".join(calls_only_lines(blocks, kb_version))


def outside_call_tsv(ctx: dict[str, Any]) -> str:
    """PharmCAT outside-call file for one sample: GENE, diplotype, phenotype, activity score; `#` comments.

    Only definite results are written: an ambiguous or missing call must not reach another tool as a fact.
    """
    h = ctx["header"]
    lines = [
        f"# outside calls for sample {_clean(h['sample_id'])} from pgx-pipeline {h['pipeline_version']}",
        f"# knowledge base {_clean(h['kb_data_version'])}; genome build {h['genome_build']}; input {_clean(h['source_file'])}",
        "# only unambiguous calls are listed; ambiguous, not called and not assessed genes are left out",
    ]
    for g in ctx["genes"]:
        if g["status"] not in ("called", "outside_call") or not g["diplotype"]:
            continue
        lines.append("\t".join([g["gene"], _clean(g["diplotype"]), _clean(g["phenotype"]), _clean(g["activity_score"])]))
    return "\n".join(lines) + "\n"


def allele_activity_values(functions: pd.DataFrame | None) -> dict[tuple[str, str], str]:
    """(gene, allele) -> published activity value, for the calls-only haplotype columns."""
    if functions is None or functions.empty:
        return {}
    return {(g, a): v for g, a, v in zip(functions["gene"], functions["allele"], functions["activity_value"])
            if _s(v) and _s(v) != "n/a"}


__all__ = ["sample_json", "calls_only_rows", "calls_only_tsv", "outside_call_tsv", "allele_activity_values"]
