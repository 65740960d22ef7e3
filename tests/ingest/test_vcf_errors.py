"""Bad input gets one clear error naming the file and the problem, and leaves no half-written table."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys

import pytest

from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.ingest.vcf import ingest_vcf
from tests.conftest import PANEL38, needs
from tests.vcf_text import write_vcf

CYP2C19_STAR2 = "chr10 94781859 G A"


def _ingest(path, defs_dir, out):
    return ingest_vcf(path, defs_dir, out, input_id="t")


def test_not_a_vcf(tmp_path, defs_dir):
    bad = tmp_path / "notes.vcf"
    bad.write_text("patient notes, not a VCF\n")
    with pytest.raises(PgxInputError, match=r"notes\.vcf: not a readable VCF"):
        _ingest(bad, defs_dir, tmp_path / "out")
    assert not (tmp_path / "out" / "genotypes.parquet").exists()


def test_empty_file(tmp_path, defs_dir):
    empty = tmp_path / "empty.vcf.gz"
    empty.write_bytes(b"")
    with pytest.raises(PgxInputError, match=r"empty\.vcf\.gz: file is empty"):
        _ingest(empty, defs_dir, tmp_path / "out")


@needs(PANEL38 / "CYP2C19.vcf.gz")
def test_truncated_bgzf(tmp_path, defs_dir):
    src = PANEL38 / "CYP2C19.vcf.gz"
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(PgxInputError, match=r"cut\.vcf\.gz: BGZF end-of-file marker missing"):
        _ingest(cut, defs_dir, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_truncated_plain_gzip(tmp_path, defs_dir):
    text = write_vcf(tmp_path / "a.vcf", ["S1"], [f"{CYP2C19_STAR2} 0/1"] * 1).read_bytes() * 50
    gz = tmp_path / "plain.vcf.gz"
    gz.write_bytes(gzip.compress(text)[:-20])
    with pytest.raises(PgxInputError, match=r"plain\.vcf\.gz: gzip stream is truncated"):
        _ingest(gz, defs_dir, tmp_path / "out")


def test_no_gt_field(tmp_path, defs_dir):
    vcf = write_vcf(tmp_path / "nogt.vcf", ["S1"], ["chr10 94781859 . G A . PASS . DP 12"])
    text = vcf.read_text().replace('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n', "")
    vcf.write_text(text)
    with pytest.raises(PgxInputError, match=r"nogt\.vcf: the header declares no FORMAT/GT"):
        _ingest(vcf, defs_dir, tmp_path / "out")


def test_duplicate_sample_ids(tmp_path, defs_dir):
    vcf = write_vcf(tmp_path / "dup.vcf", ["S1", "S1"], [f"{CYP2C19_STAR2} 0/1 0/0"])
    with pytest.raises(PgxInputError, match=r"dup\.vcf: duplicate sample id\(s\) \['S1'\]"):
        _ingest(vcf, defs_dir, tmp_path / "out")


def test_sites_only(tmp_path, defs_dir):
    vcf = write_vcf(tmp_path / "sites.vcf", [], ["chr10 94781859 . G A . PASS ."])
    text = vcf.read_text().replace("\tFORMAT\n", "\n")
    vcf.write_text(text)
    with pytest.raises(PgxInputError, match=r"sites\.vcf: the header names no samples"):
        _ingest(vcf, defs_dir, tmp_path / "out")


def test_contig_length_of_neither_build(tmp_path, defs_dir):
    """GRCh37 lengths are read as GRCh37 (tests/ingest/test_grch37.py); a length of neither build is an error."""
    vcf = write_vcf(tmp_path / "odd.vcf", ["S1"], ["chr10 94781859 G A 0/1"], contigs={"chr10": 135000000})
    with pytest.raises(PgxInputError, match=r"odd\.vcf: contig chr10 is 135,000,000 bp long in the header, GRCh38"):
        _ingest(vcf, defs_dir, tmp_path / "out")


def test_grch37_coordinates_detected_by_ref_mismatch(tmp_path, defs_dir):
    """No contig lines: REF at GRCh38 defining positions disagrees with the definitions in most places."""
    from pgx_pipeline import schema

    positions = schema.read_table(defs_dir / "positions.parquet", schema.KB_POSITIONS)
    snvs = positions[(positions.gene == "CYP2C9") & (positions.ref.str.len() == 1)].head(8)
    wrong = {"A": "C", "C": "G", "G": "T", "T": "A"}
    records = [f"chr10 {p} {wrong[r]} {r} 0/1" for p, r in zip(snvs.position, snvs.ref)]
    vcf = write_vcf(tmp_path / "shifted.vcf", ["S1"], records, contigs={})
    with pytest.raises(PgxInputError, match=r"shifted\.vcf: REF disagrees with GRCh38 at 8 of 8"):
        _ingest(vcf, defs_dir, tmp_path / "out")


def test_cli_prints_one_line_not_a_traceback(tmp_path, defs_dir):
    bad = tmp_path / "x.vcf"
    bad.write_text("garbage\n")
    exe = shutil.which("pgx-pipeline") or str(__import__("pathlib").Path(sys.executable).parent / "pgx-pipeline")
    proc = subprocess.run(
        [exe, "ingest", "--input-id", "x", "--vcf", str(bad), "--kb", str(defs_dir), "--out-dir", str(tmp_path / "o"), "--strict"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}: not a readable VCF" in proc.stderr


def test_cli_records_failure_and_continues(tmp_path, defs_dir):
    """Without --strict (how the workflow runs), a bad input is recorded as failed so the cohort completes."""
    from pgx_pipeline import schema

    bad = tmp_path / "x.vcf"
    bad.write_text("garbage\n")
    exe = str(__import__("pathlib").Path(sys.executable).parent / "pgx-pipeline")
    proc = subprocess.run(
        [exe, "ingest", "--input-id", "x", "--vcf", str(bad), "--kb", str(defs_dir), "--out-dir", str(tmp_path / "o")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    samples = schema.read_table(tmp_path / "o" / "samples.parquet", schema.SAMPLES)
    assert samples["status"].tolist() == ["failed"]
    assert "not a readable VCF" in samples["error"].iloc[0]
    assert len(schema.read_table(tmp_path / "o" / "genotypes.parquet", schema.GENOTYPES)) == 0
