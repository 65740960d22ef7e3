"""A job's report folder appears whole or not at all (report/files.ReportFolder), as the rules and the CLI use it."""

from __future__ import annotations

import os
import stat

import pytest

from pgx_pipeline.report.context import load_input_tables
from pgx_pipeline.report.files import ReportFolder
from pgx_pipeline.report.html import _write_reports
from tests.report.conftest import INPUT, write_results


def test_a_failed_job_leaves_no_folder_and_no_hidden_leftovers(tmp_path, monkeypatch):
    """The second patient's page fails to render: no report folder, and nothing hidden beside where it would be."""
    from pgx_pipeline.report import html

    tables = load_input_tables(write_results(tmp_path / "results", {"A": "pgx01", "B": "normal"}), INPUT)
    pages = iter([html.render_patient_html, lambda ctx: 1 / 0])
    real = html.render_patient_html
    monkeypatch.setattr(html, "render_patient_html", lambda ctx: next(pages, real)(ctx))
    out = tmp_path / "reports" / INPUT
    with pytest.raises(ZeroDivisionError):
        _write_reports(tables, out, "2026-01-01", html._writers(["html"]))
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_a_new_folder_gets_every_file_at_once_readable_by_owner_and_group(tmp_path):
    out = tmp_path / "reports" / "part-000"
    old = os.umask(0o027)
    try:
        with ReportFolder(out) as folder:
            folder.write("A.html", "<p>ä</p>")
            assert not out.exists()  # nothing visible before the end
    finally:
        os.umask(old)
    assert [p.name for p in out.parent.iterdir()] == ["part-000"]
    assert (out / "A.html").read_text(encoding="utf-8") == "<p>ä</p>"
    assert stat.S_IMODE((out / "A.html").stat().st_mode) == 0o640
    assert stat.S_IMODE(out.stat().st_mode) == 0o750


def test_an_empty_folder_is_replaced_and_a_folder_with_files_is_written_in_place(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with ReportFolder(empty) as folder:
        folder.write("A.json", "{}")
    assert [p.name for p in empty.iterdir()] == ["A.json"]

    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    (used / "A.json").write_text("old")
    with ReportFolder(used) as folder:
        folder.write("A.json", "new")
    assert sorted(p.name for p in used.iterdir()) == ["A.json", "notes.txt"]
    assert (used / "A.json").read_text() == "new" and (used / "notes.txt").read_text() == "mine"


def test_what_a_killed_job_left_is_removed_by_the_next_one(tmp_path):
    out = tmp_path / "reports" / "part-000"
    out.parent.mkdir(parents=True)
    killed = out.parent / ".part-000.0123456789ab.tmp"
    killed.mkdir()
    (killed / "A.html").write_text("half")
    other = out.parent / ".part-0001.0123456789ab.tmp"  # another folder's: kept
    other.mkdir()
    with ReportFolder(out) as folder:
        folder.write("B.html", "whole")
    assert sorted(p.name for p in out.parent.iterdir()) == [".part-0001.0123456789ab.tmp", "part-000"]
    assert [p.name for p in out.iterdir()] == ["B.html"]
