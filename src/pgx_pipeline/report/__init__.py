"""Clinician reports: per-patient HTML and JSON, outside-call TSV, cohort summary and PharmCAT calls-only TSV.

`context` decides what a report says (one plain dict per sample), `html`/`exports` only format it, so the HTML and
the JSON cannot disagree.
"""

from .files import safe_filename, safe_filenames
from .html import render_reports, write_cohort_outputs

__all__ = ["render_reports", "write_cohort_outputs", "safe_filename", "safe_filenames"]
