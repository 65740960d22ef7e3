"""What CI checks besides behaviour: the workflow lints and is formatted, and the schema doc is current."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from pgx_pipeline import schema
from tests.conftest import REPO

BIN = Path(sys.executable).parent


def test_snakemake_lint_is_clean():
    proc = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, capture_output=True, text=True)
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_snakefmt_check_passes():
    exe = str(BIN / "snakefmt") if (BIN / "snakefmt").exists() else shutil.which("snakefmt")
    proc = subprocess.run([exe, "--check", "Snakefile", "rules/"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_schema_doc_is_current():
    assert (REPO / "docs" / "SCHEMAS.md").read_text() == schema.markdown() + "\n"


def test_every_rule_has_a_log():
    for path in (REPO / "rules").glob("*.smk"):
        lines = path.read_text().splitlines()
        rules = sum(ln.startswith(("rule ", "use rule ")) for ln in lines)
        assert rules == sum(ln == "    log:" for ln in lines), path.name
