"""Which inputs a run has: config `inputs`, a sample sheet, or VCF paths from the command line.

A patient is (input, sample). An input is ONE VCF/BCF file, unless the user declares that several files hold the
same samples split by chromosome or region: a config entry's `vcfs` list, a sample-sheet `vcf` cell naming several
files, or `pgx-pipeline run --split-group a.chr1.vcf.gz,a.chr2.vcf.gz`. Files are never grouped because their
headers name the same samples: two lab exports whose only sample is called `SAMPLE` are two patients.

Every input gets an id derived from its file name (unique within the run) that names its folder under results/.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PgxInputError

SAMPLE_SHEET_COLUMNS = (
    "sample_id", "vcf", "absent_is_reference", "sex", "age", "height_cm", "weight_kg", "race",
    "amiodarone", "enzyme_inducer", "outside_calls",
)
# Index files a `*.vcf*` glob picks up next to the VCFs; they are not inputs.
INDEX_SUFFIXES = (".tbi", ".csi", ".gzi")
# Separators between the files of one declared split group (sample-sheet `vcf` cell, `--split-group`).
GROUP_SEPARATORS = re.compile(r"[;,]")


@dataclass
class InputSpec:
    input_id: str
    vcfs: list[str]
    absent_is_reference: bool = False
    outside_calls: list[str] = field(default_factory=list)
    build: str = "auto"  # GRCh38 | GRCh37 | auto (pgx_pipeline.ingest.builds)

    def as_config(self) -> dict:
        return {
            "id": self.input_id,
            "vcfs": self.vcfs,
            "absent_is_reference": self.absent_is_reference,
            "outside_calls": self.outside_calls,
            "build": self.build,
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


def is_index_file(path: str | Path) -> bool:
    return str(path).lower().endswith(INDEX_SUFFIXES)


def drop_index_files(paths: list[str]) -> tuple[list[str], list[str]]:
    """(VCFs, index files): `.tbi`/`.csi`/`.gzi` files are recognised by name and left out of the inputs."""
    keep = [p for p in paths if not is_index_file(p)]
    return keep, [p for p in paths if is_index_file(p)]


def split_group_paths(text: str, *, base: Path | None = None) -> list[str]:
    """The files of one declared split group: paths separated by ';' or ','. A cell that is itself an existing
    file is one path (a file name may hold a comma)."""
    text = text.strip()
    whole = Path(text) if base is None or Path(text).is_absolute() else base / text
    parts = [text] if whole.exists() else [t.strip() for t in GROUP_SEPARATORS.split(text) if t.strip()]
    return [str((base / t).resolve()) if base is not None and not Path(t).is_absolute() else str(Path(t)) for t in parts]


def header_samples(path: str | Path) -> list[str] | None:
    """Sample ids from a VCF header, or None when the file cannot be read (ingestion reports why)."""
    try:
        from cyvcf2 import VCF

        vcf = VCF(str(path), lazy=True)
        samples = list(vcf.samples)
        vcf.close()
        return samples
    except Exception:  # an unreadable file is still its own input; its ingestion names the problem
        return None


def inputs_from_paths(
    vcfs: list[str], *, split_groups: list[list[str]] | None = None, absent_is_reference: bool = False,
    used: set[str] | None = None,
) -> list[InputSpec]:
    """One input per file, except the declared split groups (one input each, files in the order given).

    A file named both on its own and in a group belongs to the group; a file in two groups, or named twice, is
    an error rather than a patient counted twice. Ids come from file names and are unique within `used`.
    """
    groups = [[str(Path(f)) for f in g] for g in (split_groups or []) if g]
    in_group: dict[str, int] = {}
    for k, g in enumerate(groups):
        for f in g:
            key = str(Path(f).resolve())
            if key in in_group:
                raise PgxInputError(f"{f} is named twice in the declared split groups; each file belongs to one input")
            in_group[key] = k
    units: list[list[str]] = []
    seen_single: set[str] = set()
    for f in vcfs:
        key = str(Path(f).resolve())
        if key in in_group:
            continue
        if key in seen_single:
            raise PgxInputError(f"{f} is given twice; each file is one input (its samples would be reported twice)")
        seen_single.add(key)
        units.append([str(Path(f))])
    units.extend(groups)
    used = set() if used is None else used
    stems = [vcf_stem(u[0]) for u in units if len(u) == 1]
    specs = []
    for files in units:
        input_id = _unique(safe_id(_input_name(files, stems)), used)
        specs.append(InputSpec(input_id, files, absent_is_reference))
    return specs


def _input_name(files: list[str], single_stems: list[str]) -> str:
    if len(files) > 1:
        # Per-chromosome splits share a prefix ("cohort.chr1", "cohort.chr2"); per-gene files may share none,
        # and then the folder names the input better than the first file would.
        return _common_prefix([vcf_stem(f) for f in files]) or Path(files[0]).parent.name or vcf_stem(files[0])
    stem = vcf_stem(files[0])
    if single_stems.count(stem) > 1 and Path(files[0]).parent.name:
        # Same file name in several folders (lab exports all called sample.vcf.gz): the folder tells them apart.
        return f"{Path(files[0]).parent.name}_{stem}"
    return stem


def _common_prefix(names: list[str]) -> str:
    prefix = names[0]
    for n in names[1:]:
        while not n.startswith(prefix):
            prefix = prefix[:-1]
    # Only whole name parts: "cohort.chr10" and "cohort.chr16" share "cohort", not "cohort.chr1".
    if any(len(n) > len(prefix) and n[len(prefix)] not in "._-" for n in names):
        cut = max(prefix.rfind(c) for c in "._-")
        prefix = prefix[:cut] if cut > 0 else ""
    return prefix.rstrip("._-")


def _unique(candidate: str, used: set[str]) -> str:
    out, n = candidate, 2
    while out in used:
        out, n = f"{candidate}_{n}", n + 1
    used.add(out)
    return out


def repeated_sheet_row(sample_ids: list[str], vcf_cells: list[str]) -> str | None:
    """Why a sheet describes one patient twice, or None. A patient is (input, sample): the same sample_id may stand on
    several rows when each names its own file(s) in `vcf` (two lab files whose sample column both read SAMPLE), but
    not when a row names no file (it would apply to every input) or two rows name the same file."""
    seen: dict[str, list[tuple[int, str]]] = {}
    for n, (sid, cell) in enumerate(zip(sample_ids, vcf_cells), start=2):
        sid, cell = sid.strip(), ";".join(sorted(split_group_paths(cell))) if cell.strip() else ""
        for first, other in seen.get(sid, []):
            if not cell or not other or cell == other:
                return (f"line {n}: sample_id {sid!r} appears twice (first on line {first}); repeat a sample_id only "
                        "on rows that each name their own file in the vcf column")
        seen.setdefault(sid, []).append((n, cell))
    return None


def read_sample_sheet(path: str | Path) -> list[dict]:
    """Rows of a TSV sample sheet; paths are resolved relative to the sheet's folder.

    A `vcf` cell may name several files separated by ';' or ',' (one sample's VCFs split by chromosome): they are
    read as one input. Each row gets `vcfs`, the list of resolved paths (empty when the row names none).
    """
    path = Path(path)
    if not path.is_file():
        raise PgxInputError("sample sheet not found", path=path)
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    if not rows or "sample_id" not in (rows[0].keys()):
        raise PgxInputError("sample sheet needs a header line with at least a 'sample_id' column (tab-separated)", path=path)
    repeated = repeated_sheet_row([r.get("sample_id") or "" for r in rows], [r.get("vcf") or "" for r in rows])
    if repeated:
        raise PgxInputError(repeated, path=path)
    for n, row in enumerate(rows, start=2):
        sid = (row.get("sample_id") or "").strip()
        if not sid:
            raise PgxInputError(f"line {n}: empty sample_id", path=path)
        row["vcfs"] = []
        if row.get("vcf"):
            row["vcfs"] = split_group_paths(row["vcf"], base=path.parent)
            as_written = split_group_paths(row["vcf"]) if len(row["vcfs"]) > 1 else [row["vcf"].strip()]
            for f, written in zip(row["vcfs"], as_written):
                if not Path(f).exists():
                    raise PgxInputError(f"line {n}: vcf file {written!r} for sample {sid!r} does not exist", path=path)
            row["vcf"] = ";".join(row["vcfs"])
        if row.get("outside_calls"):
            key = "outside_calls"
            resolved = (path.parent / row[key]).resolve() if not Path(row[key]).is_absolute() else Path(row[key])
            if not resolved.exists():
                raise PgxInputError(f"line {n}: {key} file {row[key]!r} for sample {sid!r} does not exist", path=path)
            row[key] = str(resolved)
    return rows


def row_applies_to_input(row_vcfs: list[str] | tuple[str, ...], input_vcfs: list[str]) -> bool:
    """Whether a row of a sample sheet or an outside-call table describes its sample id in the input made of
    `input_vcfs`: a row naming no VCF applies to that sample id in every input; a row naming VCFs only to the input
    made of them (an input whose files are not known gets none of them)."""
    return not row_vcfs or {_resolved(v) for v in row_vcfs} <= {_resolved(v) for v in input_vcfs}


def _resolved(path: str | Path) -> str:
    # A relative path depends on the working folder, so only absolute ones are remembered.
    text = str(path)
    return _resolved_absolute(text) if os.path.isabs(text) else str(Path(text).resolve())


@functools.lru_cache(maxsize=65536)
def _resolved_absolute(path: str) -> str:
    # A batch's call job matches every sheet row against each of its inputs: 2,504 rows naming files x 50 inputs took
    # 2.8 s resolving each row's paths once per input, 0.17 s resolving each path once (benchmarks/README.md).
    return str(Path(path).resolve())


def sheet_rows_for_input(rows: list[dict], input_vcfs: list[str]) -> dict[str, dict]:
    """sample_id -> sheet row, for the rows that apply to this input (`row_applies_to_input`)."""
    return {r["sample_id"]: r for r in rows if row_applies_to_input(r.get("vcfs") or [], input_vcfs)}


def check_sheet_rows_owned(rows: list[dict], input_samples: dict[str, list[str]], sheet: str | Path) -> None:
    """A sheet row naming no VCF applies to its sample id in every input; when two inputs hold that sample id, the
    row (sex, which decides G6PD on chrX; warfarin covariates; outside calls) cannot say which patient it describes,
    so stop rather than give it to both."""
    for n, row in enumerate(rows, start=2):
        if row.get("vcfs"):
            continue
        holders = sorted(i for i, samples in input_samples.items() if row["sample_id"] in samples)
        if len(holders) > 1:
            raise PgxInputError(
                f"line {n}: sample_id {row['sample_id']} is a sample of {len(holders)} inputs ({', '.join(holders)}) and "
                "the row names no vcf, so it cannot say which patient it describes; add the patient's file in the "
                "row's vcf column", path=sheet)


def inputs_from_config(config: dict) -> list[InputSpec]:
    """Inputs named in the config, plus the VCFs (or declared split groups) the sample sheet names that are not
    already inputs. Nothing is grouped by sample name."""
    specs = [
        InputSpec(
            safe_id(str(i.get("id") or vcf_stem(i["vcfs"][0]))),
            [str(v) for v in i["vcfs"]],
            bool(i.get("absent_is_reference", False)),
            [str(o) for o in i.get("outside_calls", [])],
            # An input's own build wins over the global one, unless it leaves it to auto-detection.
            str(i.get("build") or "auto") if str(i.get("build") or "auto") != "auto" else str(config.get("build") or "auto"),
        )
        for i in config.get("inputs") or []
    ]
    owner: dict[str, str] = {}  # resolved file -> input id
    for s in specs:
        for v in s.vcfs:
            key = str(Path(v).resolve())
            if key in owner and owner[key] != s.input_id:
                raise PgxInputError(f"{v} is in inputs {owner[key]!r} and {s.input_id!r}; a file belongs to one input "
                                    "(its samples would be reported twice)")
            owner[key] = s.input_id
    sheet = config.get("sample_sheet")
    if sheet:
        rows = read_sample_sheet(sheet)
        used = {s.input_id for s in specs}
        groups: dict[tuple[str, ...], bool] = {}  # distinct file sets named by rows -> absent_is_reference
        for r in rows:
            files = tuple(str(Path(v).resolve()) for v in r["vcfs"])
            if not files:
                continue
            owners = {owner.get(f) for f in files}
            if len(owners) == 1 and None not in owners:
                continue  # already (part of) a config input
            if owners - {None}:
                raise PgxInputError(f"sample sheet row {r['sample_id']!r} names {', '.join(files)}, which are split "
                                    "over several inputs; a row's VCFs must form one input", path=sheet)
            flag = str(r.get("absent_is_reference", "")).lower() in ("1", "true", "yes")
            groups[files] = groups.get(files, False) or flag
        # Two rows naming overlapping but different file sets cannot both be one input.
        sets = list(groups)
        for i, a in enumerate(sets):
            for b in sets[i + 1:]:
                if set(a) & set(b):
                    raise PgxInputError(f"sample sheet rows name overlapping VCF sets ({'; '.join(a)}) and "
                                        f"({'; '.join(b)}); a file belongs to one input", path=sheet)
        singles = sorted(f[0] for f in groups if len(f) == 1)
        split = [list(f) for f in groups if len(f) > 1]
        for spec in inputs_from_paths(singles, split_groups=split, used=used):
            key = tuple(str(Path(v).resolve()) for v in spec.vcfs)
            spec.absent_is_reference = groups.get(key, False)
            spec.build = str(config.get("build") or "auto")
            specs.append(spec)
    ids = [s.input_id for s in specs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PgxInputError(f"input id(s) {dupes} used twice in the config; give each input its own id")
    return specs


# Folders under results/ that hold one subfolder per work unit (an input, or a batch of small inputs: sharding's
# layout), and the one that holds a folder per input.
UNIT_FOLDERS = ("ingest", "calls", "phenotypes", "guidance", "predictions")
INPUT_FOLDERS = (*UNIT_FOLDERS, "reports")


def stale_input_folders(results: str | Path, input_ids: list[str], unit_ids: list[str] | None = None) -> list[Path]:
    """Per-input (reports/) and per-unit (stage) folders of results/ that are not this run's: left by an earlier run
    whose inputs were other (e.g. files an older release merged by sample name into one input), or whose inputs were
    grouped into other work units (a release that ran each small file alone, or batched them differently). Their
    reports would sit beside the new ones, so a run refuses to start until they are removed (`stale_folders_error`).
    Without `unit_ids` every input is its own unit."""
    root = Path(results)
    units = set(input_ids if unit_ids is None else unit_ids)
    keep = {folder: (set(input_ids) if folder == "reports" else units) for folder in INPUT_FOLDERS}
    return sorted(d for folder in INPUT_FOLDERS if (root / folder).is_dir()
                  for d in (root / folder).iterdir() if d.is_dir() and d.name not in keep[folder])


def stale_folders_error(results: str | Path, stale: list[Path]) -> PgxInputError:
    shown = ", ".join(str(p.relative_to(results)) for p in stale[:6]) + (f" and {len(stale) - 6} more" if len(stale) > 6 else "")
    ids = sorted({p.name for p in stale})
    return PgxInputError(
        f"this results folder holds outputs of input(s) or work unit(s) {', '.join(ids[:6])} that are not inputs of "
        f"this run or its work units ({shown}); they may come from an earlier run or release (which grouped files differently, or ran small "
        "files one job each instead of in batches) and would be mixed with "
        f"this run's: remove them (or use a new results folder) and run again. Inputs of this run: see "
        f"{Path(results) / MANIFEST}", path=results)


MANIFEST = "inputs_manifest.tsv"


def write_manifest(results: str | Path, specs: list[InputSpec], units: list | None = None) -> Path:
    """results/inputs_manifest.tsv: which file(s) each input id of the last run read (input folders are named by id),
    and the work unit whose stage folders hold its rows (sharding.WorkUnit)."""
    path = Path(results) / MANIFEST
    unit_of = {i: u.name for u in (units or []) for i in u.inputs}
    lines = ["input_id\tunit\tabsent_is_reference\tvcfs"] + [
        f"{s.input_id}\t{unit_of.get(s.input_id, s.input_id)}\t{str(s.absent_is_reference).lower()}\t"
        f"{';'.join(str(Path(v).resolve()) for v in s.vcfs)}"
        for s in specs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
