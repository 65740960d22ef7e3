"""What a busy real patient's report says, read as a prescriber reads it (issue 19, points 6 and 9).

Three 1000 Genomes GRCh38 panel patients (HG01183, NA18533, HG00232; read with absent = reference, as the panel
files are variant-only) go through ingestion, calling, phenotype and guidance in process against the real knowledge
base. Expected counts come from the VCFs read independently with pysam and from the knowledge base's positions
table, never from the report code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pysam
import pytest
from markupsafe import escape

from pgx_pipeline.report.context import POPULATION_WORDS, load_input_tables, sample_contexts
from pgx_pipeline.report.html import render_patient_html
from tests.conftest import PANEL38, needs, panel_slice
from tests.report.test_fhir import DATE, PANEL_GENES, _stage

PATIENTS = ["HG00232", "HG01183", "NA18533"]
pytestmark = needs(PANEL38)


@pytest.fixture(scope="module")
def vcfs(tmp_path_factory) -> list[Path]:
    return panel_slice(PATIENTS, PANEL_GENES, tmp_path_factory.mktemp("panel-text-vcfs"))


@pytest.fixture(scope="module")
def reports(kb_dir, vcfs, tmp_path_factory) -> dict[str, tuple[dict, str]]:
    root = _stage(tmp_path_factory.mktemp("panel-text") / "results", kb_dir, "panel", vcfs, absent_is_reference=True)
    return {c["header"]["sample_id"]: (c, render_patient_html(c))
            for c in sample_contexts(load_input_tables(root, "panel"), report_date=DATE)}


def _vcf_records(path: Path) -> dict[int, list[str]]:
    """REF alleles of the file's records by POS."""
    out: dict[int, list[str]] = {}
    with pysam.VariantFile(str(path)) as vf:
        for rec in vf:
            out.setdefault(rec.pos, []).append(rec.ref)
    return out


def _in_file(pos: int, kb_ref: str, records: dict[int, list[str]]) -> bool:
    """A record at the position, or a deletion of exactly the knowledge base's REF anchored on the base before
    (VCF's convention); a position only spanned by another variant's deletion has no record of its own."""
    return pos in records or any(ref[1:] == kb_ref for ref in records.get(pos - 1, []))


def test_positions_absent_and_read_as_reference_are_counted_beside_missing(reports, kb_dir, vcfs):
    """'0 missing' never stands alone beside positions absent from the file and read as reference."""
    kb = pd.read_parquet(kb_dir / "positions.parquet", columns=["gene", "position", "ref", "is_extra"])
    kb = kb[~kb["is_extra"].astype(bool)]  # PharmCAT's extra positions define no allele
    in_file = {p.name.split(".")[0]: _vcf_records(p) for p in vcfs}
    checked = 0
    for sid, (ctx, html) in reports.items():
        for m in ctx["matching"]:
            gene = m["gene"]
            defined = kb.loc[kb["gene"] == gene, ["position", "ref"]]
            if m["n_missing"] or gene not in in_file:
                continue
            # Independent read: allele-defining positions no VCF record covers.
            absent = sum(not _in_file(int(p), r, in_file[gene]) for p, r in zip(defined["position"], defined["ref"]))
            assert m["n_absent_reference"] == absent, (sid, gene)
            summary = f"<summary>{gene}: {len(m['positions'])} positions"
            assert summary in html
            if absent:
                assert f"{summary}, {absent} of them absent from the file and read as reference, 0 missing" in html
                checked += 1
    assert checked >= 10  # CFTR, CYP2B6, CYP2C19... in each of the three patients


def test_a_gene_not_called_is_the_reason_given_not_a_missing_lookup(reports):
    """IFNL3 is not called from the panel's IFNL3 file: peginterferon's rows say so first, not 'no lookup'."""
    for sid, (ctx, _) in reports.items():
        ifnl3 = next(g for g in ctx["genes"] if g["gene"] == "IFNL3")
        rows = [g for d in ctx["drugs"] if d["drug"].startswith("peginterferon") for g in d["guidelines"]]
        assert rows, sid
        for g in rows:
            if ifnl3["status"] == "not_called":
                assert g["reason"].startswith("IFNL3 could not be called"), (sid, g["reason"])
                assert g["priority"] == "incomplete"
            assert not g["reason"].startswith("CPIC gives no genotype lookup") or ifnl3["status"] == "called"


def test_no_gene_note_assumes_a_call_that_was_not_made(reports):
    for sid, (ctx, _) in reports.items():
        for g in ctx["genes"]:
            text = " ".join(g["notes"])
            if "No diplotype could be called" in text:
                assert "the call assumes" not in text, (sid, g["gene"])


def test_a_message_several_drugs_carry_is_printed_once(reports):
    """PharmCAT's gene notes (SLCO1B1, G6PD, RYR1, HLA-B*15:02) repeat for each drug of their guideline: the page
    quotes each once and links to it from the other drugs."""
    for sid, (ctx, html) in reports.items():
        carried: dict[str, int] = {}
        for d in ctx["drugs"]:
            for g in d["guidelines"]:
                for m in g["messages"]:
                    carried[m] = carried.get(m, 0) + 1
        repeated = [m for m, n in carried.items() if n > 1 and len(m) > 120]
        assert repeated, sid  # the busy panel reports do repeat notes
        for m in repeated:
            assert html.count(str(escape(m))) == 1, (sid, m[:60])


def test_populations_are_in_plain_words(reports):
    codes = re.compile(r"\b(CVI|ACS|PCI|NVI|PHT|CBZ|OXC)\b|mos\b|_adult\b")
    for sid, (ctx, html) in reports.items():
        for d in ctx["drugs"]:
            for g in d["guidelines"]:
                if g["population_text"]:
                    assert not codes.search(g["population_text"]), (sid, g["population"])
        for code in POPULATION_WORDS:
            assert f"Population:</strong> {code}" not in html
