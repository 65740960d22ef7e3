"""Which inputs a run has: config `inputs`, a sample sheet, or VCF paths from the command line.

An input is one VCF, or several VCFs with the same samples split by chromosome; it gets a stable id
that names its folder under results/.  Grouping reads only VCF headers.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PgxInputError

SAMPLE_SHEET_COLUMNS = (
    "sample_id", "vcf", "absent_is_reference", "sex", "age", "height_cm", "weight_kg", "race",
    "amiodarone", "enzyme_inducer", "outside_calls",
)


@dataclass
class InputSpec:
    input_id: str
    vcfs: list[str]
    absent_is_reference: bool = False
    outside_calls: list[str] = field(default_factory=list)

    def as_config(self) -> dict:
        return {
            "id": self.input_id,
            "vcfs": self.vcfs,
            "absent_is_reference": self.absent_is_reference,
            "outside_calls": self.outside_calls,
        }


def safe_id(text: str) -> str:
    """A file-name-safe id: letters, digits, '.', '-', '_' only; never empty, never starting with '.'."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "input"
    return cleaned[:80]


def vcf_stem(path: str | Path) -> str:
    name = Path(path).name
    for suffix in (".vcf.gz", ".vcf.bgz", ".vcf", ".bcf", ".gz", ".bgz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def header_samples(path: str | Path) -> list[str] | None:
    """Sample ids from a VCF header, or None when the file cannot be read (ingestion reports why)."""
    try:
        from cyvcf2 import VCF

        vcf = VCF(str(path), lazy=True)
        samples = list(vcf.samples)
        vcf.close()
        return samples
    except Exception:  # an unreadable file becomes its own input; its ingestion names the problem
        return None


def group_vcfs(vcfs: list[str], *, absent_is_reference: bool = False) -> list[InputSpec]:
    """Group VCFs that hold the same samples (per-chromosome splits) into one input each."""
    groups: dict[tuple, list[str]] = {}
    for v in vcfs:
        samples = header_samples(v)
        key = tuple(samples) if samples else ("__unreadable__", v)
        groups.setdefault(key, []).append(v)
    specs = []
    used: set[str] = set()
    for files in groups.values():
        stems = [vcf_stem(f) for f in files]
        # Per-chromosome splits share a prefix ("cohort.chr1", "cohort.chr2"); per-gene files may share none,
        # and then the folder names the input better than the first file would.
        base = (_common_prefix(stems) or Path(files[0]).parent.name) if len(stems) > 1 else stems[0]
        input_id = _unique(safe_id(base), used)
        specs.append(InputSpec(input_id, [str(Path(f)) for f in files], absent_is_reference))
    return specs


def _common_prefix(names: list[str]) -> str:
    prefix = names[0]
    for n in names[1:]:
        while not n.startswith(prefix):
            prefix = prefix[:-1]
    return prefix.rstrip("._-")


def _unique(candidate: str, used: set[str]) -> str:
    out, n = candidate, 2
    while out in used:
        out, n = f"{candidate}_{n}", n + 1
    used.add(out)
    return out


def read_sample_sheet(path: str | Path) -> list[dict]:
    """Rows of a TSV sample sheet; paths are resolved relative to the sheet's folder."""
    path = Path(path)
    if not path.is_file():
        raise PgxInputError("sample sheet not found", path=path)
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    if not rows or "sample_id" not in (rows[0].keys()):
        raise PgxInputError("sample sheet needs a header line with at least a 'sample_id' column (tab-separated)", path=path)
    seen = set()
    for n, row in enumerate(rows, start=2):
        sid = (row.get("sample_id") or "").strip()
        if not sid:
            raise PgxInputError(f"line {n}: empty sample_id", path=path)
        if sid in seen:
            raise PgxInputError(f"line {n}: sample_id {sid!r} appears twice", path=path)
        seen.add(sid)
        for key in ("vcf", "outside_calls"):
            if row.get(key):
                resolved = (path.parent / row[key]).resolve() if not Path(row[key]).is_absolute() else Path(row[key])
                if not resolved.exists():
                    raise PgxInputError(f"line {n}: {key} file {row[key]!r} for sample {sid!r} does not exist", path=path)
                row[key] = str(resolved)
    return rows


def inputs_from_config(config: dict) -> list[InputSpec]:
    """Inputs named in the config, plus any VCFs the sample sheet names that are not already inputs."""
    specs = [
        InputSpec(
            safe_id(str(i.get("id") or vcf_stem(i["vcfs"][0]))),
            [str(v) for v in i["vcfs"]],
            bool(i.get("absent_is_reference", False)),
            [str(o) for o in i.get("outside_calls", [])],
        )
        for i in config.get("inputs") or []
    ]
    sheet = config.get("sample_sheet")
    if sheet:
        rows = read_sample_sheet(sheet)
        known = {v for s in specs for v in s.vcfs}
        extra = sorted({r["vcf"] for r in rows if r.get("vcf") and r["vcf"] not in known})
        flags = {r["vcf"]: str(r.get("absent_is_reference", "")).lower() in ("1", "true", "yes") for r in rows if r.get("vcf")}
        used = {s.input_id for s in specs}
        for group in group_vcfs(extra):
            group.input_id = _unique(group.input_id, used)
            group.absent_is_reference = any(flags.get(v, False) for v in group.vcfs)
            specs.append(group)
    ids = [s.input_id for s in specs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PgxInputError(f"input id(s) {dupes} used twice in the config; give each input its own id")
    return specs
