"""Render the patient and cohort HTML with Jinja2 (autoescaping on) and write every report output.

Entry points: `render_reports` (one input -> per sample the HTML and the other files of `reports.formats`) and
`write_cohort_outputs` (cohort summary HTML + calls-only TSV). Pages are self-contained: CSS, SVG and the little
script they use are inline, and the only links out are plain guideline anchors, so a report opens offline and
makes no network request.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from .. import __version__, schema, sharding
from ..errors import PgxInputError
from . import exports
from .cohort import build_cohort_context
from .context import InputTables, drug_key, kb_info, load_input_tables, load_unit_tables, sample_contexts
from .files import ReportFolder, safe_filenames, write_text_atomic
from .formats import DEFAULT_FORMATS, SUFFIXES, check_formats
from .memo import IdentityMemo, KeyedMemo, SharedForm

_ENV: Environment | None = None


class _ReportEnvironment(Environment):
    """`x.name` on a report context's dicts reads the key first. Jinja's default tries the Python attribute first,
    and its AttributeError cost a third of rendering a busy patient's ~270 guideline rows; a dict method of that
    name (`.items`, `.get`) is still found when no key has the name."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict or type(obj) is SharedForm:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def environment() -> Environment:
    """The one Jinja environment: autoescape for every template, undefined variables are errors."""
    global _ENV
    if _ENV is None:
        _ENV = _ReportEnvironment(
            loader=PackageLoader("pgx_pipeline.report", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # Templates ship inside the package and never change while a job runs; the default re-check cost a
            # stat() per guideline fragment (~550 per patient).
            auto_reload=False,
        )
        _ENV.filters["pct"] = lambda p: f"{100.0 * p:.0f}%" if p is not None else "—"
        _ENV.filters["mg"] = lambda x: f"{x:.1f}" if x is not None else "—"
        _ENV.filters["position_rows"] = position_rows
        _ENV.filters["guideline_block"] = lambda g: _guideline_fragment("guideline_block", g)
        _ENV.filters["no_advice_cells"] = lambda g: _guideline_fragment("no_advice_cells", g)
        _ENV.filters["drug_article"] = lambda d: _drug_fragment("drug_article", d)
        _ENV.filters["no_advice_rows"] = lambda d: _drug_fragment("no_advice_rows", d)
        _ENV.filters["evidence_block"] = _evidence_block
    return _ENV


# A guideline row's HTML, made once per distinct row (memo.py): a busy panel patient has ~270 rows.
_FRAGMENTS = {macro: IdentityMemo() for macro in ("guideline_block", "no_advice_cells")}


def _guideline_fragment(macro: str, g: dict[str, Any]) -> Markup:
    module = environment().get_template("_guideline.html").module
    if type(g) is not SharedForm:  # a context built by hand: nothing to reuse
        return getattr(module, macro)(g)
    return _FRAGMENTS[macro].get(g, getattr(module, macro))


# A drug's section, made once per distinct drug entry (context.drug_key): ~100 drugs per patient, and across a
# cohort most patients' entries for a drug are alike.
_DRUG_FRAGMENTS = {macro: KeyedMemo() for macro in ("drug_article", "no_advice_rows")}


def _drug_fragment(macro: str, d: dict[str, Any]) -> Markup:
    render = getattr(environment().get_template("_drug.html").module, macro)
    key = drug_key(d)
    if key is None:
        return render(d)
    return _DRUG_FRAGMENTS[macro].get(key, d["guidelines"], lambda: render(d))


_EVIDENCE_BLOCKS = IdentityMemo()


def _evidence_block(m: dict[str, Any]) -> Markup:
    """A gene's block of the allele-matching table (~70 rows), made once per shared block (context._matching)."""
    render = environment().get_template("_evidence.html").module.evidence_block
    return _EVIDENCE_BLOCKS.get(m, render) if type(m) is SharedForm else render(m)


_ROW_HTML: dict[tuple, str] = {}


def position_rows(positions: list[dict[str, Any]]) -> Markup:
    """The allele-matching table's rows (~1,400 per patient), every value escaped.

    Written here rather than as a template loop: the rows repeat across a cohort, so each distinct row is
    formatted once per process, and a template loop over them cost more than the rest of the page."""
    out = []
    for p in positions:
        key = (p["chromosome"], p["position"], p["rsid"], p["observed"], p["state"], p["depth"], p["filter"],
               p["missing"])
        row = _ROW_HTML.get(key)
        if row is None:
            if len(_ROW_HTML) >= 200_000:
                _ROW_HTML.clear()
            row = _ROW_HTML[key] = _position_row_html(p)
        out.append(row)
    return Markup("".join(out))


def _position_row_html(p: dict[str, Any]) -> str:
    cells = [
        f'<th scope="row" class="mono">{escape(p["chromosome"])}:{escape(p["position"])}</th>',
        f'<td class="mono">{escape(p["rsid"] or "—")}</td>',
        f'<td class="mono">{escape(p["observed"])}</td>',
        f'<td>{escape(p["state"])}</td>',
        f'<td>{escape(p["depth"] if p["depth"] is not None else "—")}</td>',
        f'<td>{escape(p["filter"] or "—")}</td>',
        f'<td>{"missing" if p["missing"] else "no"}</td>',
    ]
    opening = '<tr class="missing">' if p["missing"] else "<tr>"
    return f"        {opening}{''.join(cells)}</tr>\n"


def _script(name: str) -> tuple[str, str]:
    """Our own inline script (never data) and the Content-Security-Policy that allows only it.

    The policy forbids every network fetch (`default-src 'none'`), so even a missed escape could neither load
    nor send anything, and only the script whose hash it names may run.
    """
    env = environment()
    text = env.loader.get_source(env, name)[0].strip()  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
    csp = (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    return text, csp


def render_patient_html(ctx: dict[str, Any]) -> str:
    script, csp = _script("_print_script.html")
    return environment().get_template("patient.html").render(r=ctx, script=script, csp=csp)


def render_cohort_html(ctx: dict[str, Any]) -> str:
    script, csp = _script("_cohort_script.html")
    return environment().get_template("cohort.html").render(c=ctx, script=script, csp=csp)


def _check_date(report_date: str) -> str:
    import datetime as dt

    try:
        dt.date.fromisoformat(report_date)
    except (TypeError, ValueError) as exc:
        raise PgxInputError(f"report date {report_date!r} is not a date like 2025-01-31") from exc
    return report_date


def _model_card_hrefs(tables: InputTables, out_dir: Path) -> dict[str, str]:
    return {drug: Path(os.path.relpath(card, out_dir.resolve())).as_posix() for drug, card in tables.model_cards.items()}


def render_reports(
    results_dir: str | os.PathLike, input_id: str, out_dir: str | os.PathLike, *, report_date: str,
    part: str = "part-000", formats: Iterable[str] = DEFAULT_FORMATS, unit: str | None = None,
) -> dict[str, str]:
    """Write the files of `formats` (report/formats.py) per sample of one part of an input: `<safe>.html`,
    `<safe>.json`, `<safe>.outside_calls.tsv` and the FHIR Genomics Reporting bundle `<safe>.fhir.json`
    (report/fhir.py), all from the same context. `unit` names the batch holding the input when it is not its own
    work unit (sharding).

    Returns {sample_id: file stem}. Failed samples still get a report that says why they failed.
    """
    _check_date(report_date)
    return _write_reports(load_input_tables(results_dir, input_id, part, unit), Path(out_dir), report_date,
                          _writers(formats))


def render_unit_reports(
    results_dir: str | os.PathLike, unit: str, out_root: str | os.PathLike, *, report_date: str,
    part: str = "part-000", formats: Iterable[str] = DEFAULT_FORMATS,
) -> dict[str, dict[str, str]]:
    """`render_reports` for every input of a work unit, read once: each input's reports in `out_root/<input>/`
    (`sharding.report_subdir` of a one-part unit), as when the input was its own unit. Returns {input: names}."""
    _check_date(report_date)
    writers = _writers(formats)
    return {input_id: _write_reports(tables, Path(out_root) / sharding.report_subdir(input_id, part, 1), report_date,
                                     writers)
            for input_id, tables in load_unit_tables(results_dir, unit, part).items()}


# A file of each patient: its suffix, and the text it holds made from the patient's report context.
Writer = tuple[str, Callable[[dict[str, Any]], str]]


def _writers(formats: Iterable[str]) -> list[Writer]:
    """A writer per format written: the one place that decides which files a job writes. The FHIR validator (the
    R4B models) is only built when bundles are written."""
    render = {"html": render_patient_html, "json": exports.sample_json, "outside_calls": exports.outside_call_tsv}
    chosen = check_formats(formats)
    if "fhir" in chosen:
        from .fhir import Validator, bundle_json

        validator = Validator()
        render["fhir"] = lambda ctx: bundle_json(ctx, validator)
    return [(SUFFIXES[f], render[f]) for f in chosen]


def _write_reports(tables: InputTables, out: Path, report_date: str, writers: list[Writer]) -> dict[str, str]:
    names = safe_filenames([str(s) for s in tables.samples["sample_id"]])
    cards = _model_card_hrefs(tables, out)
    with _tables_left_out_of_gc(), ReportFolder(out) as folder:
        for ctx in sample_contexts(tables, report_date=report_date, model_card_hrefs=cards):
            stem = names[ctx["header"]["sample_id"]]
            for suffix, render in writers:
                folder.write(f"{stem}{suffix}", render(ctx))
    return names


@contextlib.contextmanager
def _tables_left_out_of_gc():
    """The loaded tables (millions of shared records) live as long as the loop: the cyclic collector's full sweeps
    need not walk them again and again (gc.freeze). ~12% of a 1,601-patient part's time."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def write_cohort_outputs(
    results_dir: str | os.PathLike, input_ids: list[str], out_dir: str | os.PathLike, *, report_date: str,
    units: list[str] | None = None,
) -> tuple[Path, Path]:
    """Write `cohort_summary.html` and `calls_only.tsv` into `out_dir`.

    `units` are the work units whose tables hold the inputs (sharding; by default each input is its own unit).
    Patient reports are expected in `out_dir/<input_id>/` (`out_dir/<input_id>/<part>/` for an input cut into
    several parts: `sharding.report_subdir`, the layout the workflow gives `render_reports`), so the summary links to
    them by relative path and the folder can be moved as a whole.
    """
    _check_date(report_date)
    root, out = Path(results_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kb = kb_info(root)
    hrefs: dict[tuple[str, str], str] = {}
    functions_path = root / "knowledge" / "allele_functions.parquet"
    functions = (schema.read_table(functions_path, schema.KB_ALLELE_FUNCTIONS)
                 if functions_path.is_file() else None)
    activity = exports.allele_activity_values(functions)
    units = units or input_ids
    parts = sharding.unit_parts(root, units)
    keep = set(input_ids)
    for unit, part, n_parts in parts:
        samples = sharding.read_part_samples(root, unit, part)
        for input_id, sub in samples.groupby("input_id", sort=False):
            folder = sharding.report_subdir(str(input_id), part, n_parts)
            for sid, stem in safe_filenames([str(s) for s in sub["sample_id"]]).items():
                hrefs[(str(input_id), sid)] = f"{folder}/{stem}.html"

    def blocks():
        # One part's tables in memory at a time; the TSV is streamed to disk, one input's rows after the other.
        for unit, part, _ in parts:
            calls = schema.read_table(sharding.stage_file(root, "calls", unit, part), schema.CALLS)
            phen = schema.read_table(sharding.stage_file(root, "phenotypes", unit, part), schema.PHENOTYPES)
            phen_of = sharding.rows_by_input(phen, unit)
            for input_id, sub in sharding.rows_by_input(calls, unit).items():
                if input_id in keep:
                    yield exports.calls_only_rows(sub, phen_of.get(input_id, phen.iloc[0:0]), activity, input_id)

    ctx = build_cohort_context(root, input_ids, report_date=report_date, hrefs=hrefs, kb=kb,
                               pipeline_version=__version__, units=units)
    html_path = write_text_atomic(out / "cohort_summary.html", render_cohort_html(ctx))
    tsv_path = write_text_atomic(out / "calls_only.tsv", exports.calls_only_lines(blocks(), kb.get("data_version", "unknown")))
    return html_path, tsv_path
