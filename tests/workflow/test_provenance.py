"""Rules carry a fingerprint of the code each stage runs: it follows imports and changes with any file it covers."""

from __future__ import annotations

import shutil

from pgx_pipeline import provenance


def _names(stage: str) -> set[str]:
    return {p.relative_to(provenance.PACKAGE).as_posix() for p in provenance.stage_files(stage)}


def test_stage_files_follow_imports_across_the_package():
    guidance = _names("guidance")
    # guidance.py imports phenotype.py, which imports calling/matcher.py: a matcher change reruns guidance
    assert {"guidance.py", "phenotype.py", "calling/matcher.py", "schema.py"} <= guidance
    assert not any(n.startswith("report/") for n in guidance)
    report = _names("report")
    # templates are code too, and the report imports the model registry (model sections)
    assert {"report/templates/patient.html", "report/templates/report.css", "model/registry.py"} <= report
    assert "ingest/vcf.py" not in report  # a report fix does not re-ingest a cohort


def test_every_stage_covers_the_table_schemas():
    # A release that changes a table's columns (as this one added guidance.same_as_reference) changes every
    # stage's fingerprint, so stages rerun instead of the next one failing on an old file.
    for stage in provenance.STAGE_ENTRIES:
        assert "schema.py" in _names(stage), stage


def test_fingerprint_changes_with_any_covered_file_and_only_those(tmp_path, monkeypatch):
    copy = tmp_path / "pgx_pipeline"
    shutil.copytree(provenance.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE", copy)
    for cached in (provenance.stage_files, provenance.code_fingerprint, provenance._imports):
        cached.cache_clear()
    before = {s: provenance.code_fingerprint(s) for s in provenance.STAGE_ENTRIES}
    template = copy / "report" / "templates" / "patient.html"
    template.write_text(template.read_text() + "\n<!-- changed -->\n")
    for cached in (provenance.stage_files, provenance.code_fingerprint, provenance._imports):
        cached.cache_clear()
    after = {s: provenance.code_fingerprint(s) for s in provenance.STAGE_ENTRIES}
    assert after["report"] != before["report"]
    assert {s for s in before if before[s] != after[s]} == {"report"}
    monkeypatch.undo()
    for cached in (provenance.stage_files, provenance.code_fingerprint, provenance._imports):
        cached.cache_clear()


def test_import_scan_finds_what_a_full_parse_finds_in_every_package_module():
    """The start-up shortcut (parse only import statements) sees every import a parse of the whole module sees:
    top-level, inside functions, parenthesised over several lines."""
    import ast

    for path in sorted(provenance.PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        full = [ast.dump(n) for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert sorted(ast.dump(n) for n in provenance._import_nodes(source)) == sorted(full), path
