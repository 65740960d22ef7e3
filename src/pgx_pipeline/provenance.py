"""What a stage's output depends on besides its inputs: the code that wrote it.

Workflow rules call the `pgx-pipeline` command, so Snakemake cannot see a change in our code the way it sees one in
a rule's own script.  Each rule carries `code_fingerprint(stage)` as a parameter instead: a digest of the stage's
modules and everything in the package they import.  Upgrading pgx-pipeline over an existing results folder reruns
the stages whose code changed (a report fix re-renders the reports; it does not re-ingest a cohort), and a run with
unchanged code has nothing to do.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# The modules (or packages) that write each stage's output; their imports inside the package are followed.
STAGE_ENTRIES: dict[str, tuple[str, ...]] = {
    "knowledge": ("knowledge",),
    "ingest": ("ingest",),
    "call": ("calling",),
    "phenotype": ("phenotype",),
    "guidance": ("guidance",),
    "model": ("model",),
    "report": ("report",),
}
TEMPLATE_SUFFIXES = (".html", ".css", ".js")


def _module_files(name: str) -> list[Path]:
    """'report' -> every .py (and template) under report/; 'phenotype' -> phenotype.py."""
    path = PACKAGE.joinpath(*name.split("."))
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix == ".py" or p.suffix in TEMPLATE_SUFFIXES)
    file = path.with_suffix(".py")
    return [file] if file.is_file() else []


@lru_cache(maxsize=None)  # stages share modules (the report imports the model package): parse each file once
def _imports(path: Path) -> frozenset[str]:
    """Package modules a file imports, as dotted names relative to the package."""
    if path.suffix != ".py":
        return frozenset()
    package = path.relative_to(PACKAGE).parts[:-1]  # what `from . import` means in this file
    out: set[str] = set()
    for node in _import_nodes(path.read_text(encoding="utf-8")):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                parts = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.startswith("pgx_pipeline"):
                parts = node.module.split(".")[1:]
            else:
                continue
            out.add(".".join(parts))
            out.update(".".join([*parts, alias.name]) for alias in node.names)  # `from . import schema`
        elif isinstance(node, ast.Import):
            out.update(".".join(a.name.split(".")[1:]) for a in node.names if a.name.startswith("pgx_pipeline."))
    return frozenset(m for m in out if m and _module_files(m))


# An import statement at any indentation, a parenthesised name list included. Only these are parsed: parsing whole
# modules was ~0.4 s of every Snakemake start.
_IMPORT_STATEMENT = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*\([^)]*\)|(?:from[ \t]+[\w.]+[ \t]+)?import[ \t][^\n]*)",
                               re.M)


def _import_nodes(source: str) -> list[ast.stmt]:
    nodes = []
    for match in _IMPORT_STATEMENT.finditer(source):
        try:
            nodes.extend(ast.parse(match.group(0).strip()).body)
        except SyntaxError:  # text in a docstring that starts like an import
            continue
    return nodes


@lru_cache(maxsize=None)
def stage_files(stage: str) -> tuple[Path, ...]:
    """The files whose content a stage's output depends on: its entries and their package imports, transitively."""
    seen: set[Path] = set()
    todo = [f for entry in STAGE_ENTRIES[stage] for f in _module_files(entry)]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(f for module in _imports(path) for f in _module_files(module))
    return tuple(sorted(seen))


@lru_cache(maxsize=None)
def code_fingerprint(stage: str) -> str:
    """Short digest of the stage's files (package-relative paths and bytes), stable across runs and machines."""
    digest = hashlib.sha256()
    for path in stage_files(stage):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (training workbooks and knowledge mirrors are tens of MB)."""
    with Path(path).open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
