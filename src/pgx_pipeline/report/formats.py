"""Which per-patient files a report job writes (config `reports.formats`, `--formats`): the names, the file each
one is, and the check every entry point (config, `pgx-pipeline run`, `report patients`) shares."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import PgxInputError

# Each format's file beside the others, `<stem><suffix>`; the order is the one lists are written back in.
SUFFIXES = {"html": ".html", "json": ".json", "fhir": ".fhir.json", "outside_calls": ".outside_calls.tsv"}
FORMATS = tuple(SUFFIXES)
# What every run wrote before the choice existed; the config schema's default is the same list.
DEFAULT_FORMATS = FORMATS


def check_formats(formats: Iterable[str], *, key: str = "reports.formats") -> tuple[str, ...]:
    """The formats in the order of FORMATS, or an error naming `key` and the allowed values. `html` is required: the
    cohort summary links to each patient's HTML, and it is the clinician's report."""
    given = [str(f).strip() for f in formats]
    allowed = f"allowed: {', '.join(FORMATS)}; html is required"
    unknown = [f for f in given if f not in SUFFIXES]
    if unknown:
        raise PgxInputError(f"{key}: unknown format(s) {', '.join(map(repr, unknown))} ({allowed})")
    repeated = sorted({f for f in given if given.count(f) > 1})
    if repeated:
        raise PgxInputError(f"{key}: {', '.join(repeated)} listed more than once ({allowed})")
    if "html" not in given:
        raise PgxInputError(f"{key}: html is missing ({allowed})")
    return tuple(f for f in FORMATS if f in given)


def parse_formats(text: str, *, key: str = "--formats") -> tuple[str, ...]:
    """A comma-separated list as the command line takes it (`html,json`)."""
    return check_formats([f for f in text.split(",") if f.strip()], key=key)
