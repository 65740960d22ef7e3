"""Clinician reports: per-patient HTML and JSON, outside-call TSV, cohort summary and PharmCAT calls-only TSV.

`context` decides what a report says (one plain dict per sample), `html`/`exports` only format it, so the HTML and
the JSON cannot disagree.

The names below are imported on first use: every stage command imports `report.cli` to mount it, and loading Jinja
and the report modules there cost each job ~0.15 s of start-up.
"""

import importlib

_EXPORTS = {"render_reports": "html", "write_cohort_outputs": "html", "safe_filename": "files",
            "safe_filenames": "files"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
