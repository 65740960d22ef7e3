"""A patient is (input file, sample), as a user runs `pgx-pipeline run` on real 1000 Genomes panel data.

One run (module fixture) holds every case at once, as a lab's folder would:

- HG00096 and HG00103 cut from the panel's CYP2C19 file into their own single-sample VCFs whose sample column reads
  `SAMPLE`, in folders people/HG00096/ and people/HG00103/ (both files named sample.vcf.gz), with their .tbi
  indexes passed as inputs too (what `people/*/*.vcf*` expands to). Read with bcftools, the panel has HG00096
  heterozygous for rs4244285 (CYP2C19*2) and HG00103 heterozygous for rs12248560 (*17): *1/*2 and *17/*38. An
  older release merged the two files into one patient called *2/*17.
- a truncated copy of HG00096's file, given as its own input;
- ten panel samples x four genes as one file (cohort.vcf.gz) and the same records split by chromosome, declared
  with --split-group (cohort_by_chrom.chr6/10/16);
- a declared split group whose chr16 file is truncated (mixed.chr10 good, mixed.chr16 bad);
- HG00097's CYP2C19 records from the GRCh37 panel (no contig lines; build detected from its records), a small input
  in the same batch as the GRCh38 files: read through the build map, it must get the call HG00097 gets in the
  GRCh38 cohort file.

The two SAMPLE files, the truncated copy and the ten-sample cohort are small inputs: one batch reads them
(sharding.plan_units), one job per stage, and its tables tell the inputs apart by their input_id column.

Each of the two SAMPLE files is also run alone (up to calling) to compare the calls.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from pgx_pipeline import sharding
from tests.conftest import FALLBACK, PANEL37, PANEL38, PHARMCAT, seed_from

EXE = str(Path(sys.executable).parent / "pgx-pipeline")
COHORT = ["HG00096", "HG00097", "HG00099", "HG00100", "HG00101", "HG00102", "HG00103", "HG00105", "HG00106", "HG00107"]
GENES = {"chr6": ["TPMT"], "chr10": ["CYP2C19", "CYP2C9"], "chr16": ["VKORC1"]}
KNOWLEDGE = ["--knowledge", str(PHARMCAT), "--knowledge", str(FALLBACK)]
TRUNCATED = "BGZF end-of-file marker missing"
SCRATCH: Path | None = None

pytestmark = pytest.mark.skipif(not PANEL38.is_dir(), reason=f"1000 Genomes panel not found at {PANEL38}")


def _sh(*cmd):
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True)


def _extract(samples: list[str], genes: list[str], out: Path, rename: str | None = None) -> Path:
    """Records of `genes` for `samples` from the panel, sorted and de-duplicated, bgzipped and indexed."""
    scratch = Path(tempfile.mkdtemp(prefix="extract-", dir=SCRATCH))
    parts = []
    for g in genes:
        part = scratch / f"{g}.vcf.gz"
        _sh("bcftools", "view", "-s", ",".join(samples), "-Oz", "-o", part, PANEL38 / f"{g}.vcf.gz")
        parts.append(part)
    merged = scratch / "merged.vcf.gz"
    subprocess.run(f"bcftools concat {' '.join(map(str, parts))} | bcftools sort -Ou | bcftools norm -d exact -Oz "
                   f"-o {merged}", shell=True, check=True, capture_output=True)
    if rename:
        names = scratch / "names"
        names.write_text(rename + "\n")
        _sh("bcftools", "reheader", "-s", names, "-o", out, merged)
    else:
        merged.rename(out)
    _sh("bcftools", "index", "-t", out)
    return out


def _grch37_person(sample: str, gene: str, out: Path) -> Path:
    """One person's records of one GRCh37 panel gene file (pysam: the file has no contig lines), indexed."""
    import pysam

    with pysam.VariantFile(str(PANEL37 / f"{gene}.vcf.gz")) as vin:
        vin.subset_samples([sample])
        with pysam.VariantFile(str(out), "wz", header=vin.header) as vout:
            for rec in vin:
                vout.write(rec)
    pysam.tabix_index(str(out), preset="vcf", force=True)
    return out


def _truncate(src: Path, dest: Path) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: len(data) // 2])
    return dest


def _run(args: list, out: Path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, "run", *map(str, args), "--out", str(out), *KNOWLEDGE, "--absent-is-reference",
                           "--cores", "2", "--gene-groups", "2", "--report-date", "2026-01-01", *extra],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    global SCRATCH
    d = tmp_path_factory.mktemp("lab")
    SCRATCH = tmp_path_factory.mktemp("scratch")  # bcftools intermediates, away from the input folders
    people = {}
    for s in ("HG00096", "HG00103"):
        (d / "people" / s).mkdir(parents=True)
        people[s] = _extract([s], ["CYP2C19"], d / "people" / s / "sample.vcf.gz", rename="SAMPLE")
    (d / "broken").mkdir()
    truncated = _truncate(people["HG00096"], d / "broken" / "copy_truncated.vcf.gz")
    cohort = _extract(COHORT, [g for gs in GENES.values() for g in gs], d / "cohort.vcf.gz")
    by_chrom = [_extract(COHORT, gs, d / f"cohort_by_chrom.{c}.vcf.gz") for c, gs in GENES.items()]
    mixed_good = _extract(COHORT, GENES["chr10"], d / "mixed.chr10.vcf.gz")
    mixed_bad = _truncate(_extract(COHORT, GENES["chr16"], SCRATCH / "mixed16.vcf.gz"), d / "mixed.chr16.vcf.gz")
    (d / "grch37").mkdir()
    grch37 = _grch37_person("HG00097", "CYP2C19", d / "grch37" / "HG00097_b37.vcf.gz")
    return {"dir": d, "people": people, "truncated": truncated, "cohort": cohort, "by_chrom": by_chrom,
            "mixed": [mixed_good, mixed_bad], "grch37": grch37}


@pytest.fixture(scope="module")
def run(lab, run_dir, tmp_path_factory):
    # The knowledge base and warfarin model of the session's bundled run (same --knowledge, same model config):
    # only the per-input stages run here.
    out = seed_from(run_dir, tmp_path_factory.mktemp("run") / "results")
    globbed = sorted((lab["dir"] / "people").glob("*/*.vcf*"))  # the VCFs and their .tbi indexes
    assert len(globbed) == 4
    proc = _run([*globbed, lab["truncated"], lab["cohort"], lab["grch37"]], out,
                "--split-group", ",".join(map(str, lab["by_chrom"])),
                "--split-group", ";".join(map(str, lab["mixed"])))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stderr


def _calls(root: Path, input_id: str) -> pd.DataFrame:
    return sharding.read_input_stage(root, "calls", input_id)


def _top(calls: pd.DataFrame) -> dict[tuple[str, str], tuple]:
    top = calls[calls["rank"] == 1]
    return {(s, g): (d, st) for s, g, d, st in zip(top["sample_id"], top["gene"], top["diplotype"], top["status"])}


def test_inputs_are_files_never_merged_by_sample_name(run):
    out, _ = run
    # The four small inputs share one batch (one job per stage); each declared split group is its own unit.
    assert sorted(p.name for p in (out / "ingest").iterdir()) == ["batch-000", "cohort_by_chrom", "mixed"]
    manifest = (out / "inputs_manifest.tsv").read_text()
    for input_id in ("HG00096_sample", "HG00103_sample", "cohort", "copy_truncated"):
        assert f"{input_id}\tbatch-000\ttrue\t" in manifest
    assert "people/HG00096/sample.vcf.gz" in manifest
    # Every stage's table says which input each row holds: two SAMPLEs of the batch stay two patients.
    for stage in ("calls", "phenotypes", "guidance", "predictions"):
        table = pd.read_parquet(sharding.stage_file(out, stage, "batch-000", "part-000"))
        patients = table[table["sample_id"] == "SAMPLE"][["input_id", "sample_id"]].drop_duplicates()
        assert sorted(patients["input_id"]) == ["HG00096_sample", "HG00103_sample"], stage
        assert table["input_id"].notna().all(), stage
    samples = sharding.read_input_samples(out, "HG00103_sample")
    assert samples[["sample_id", "input_id", "source_file"]].values.tolist() == [["SAMPLE", "HG00103_sample", "sample.vcf.gz"]]


def test_two_people_named_SAMPLE_get_their_own_calls_and_reports(run, lab, tmp_path):
    out, _ = run
    want = {"HG00096_sample": "*1/*2", "HG00103_sample": "*17/*38"}
    for input_id, diplotype in want.items():
        calls = _calls(out, input_id)
        assert _top(calls)[("SAMPLE", "CYP2C19")] == (diplotype, "called")
        alone = seed_from(out, tmp_path / input_id, ["knowledge"])
        person = input_id.split("_")[0]
        proc = _run([lab["people"][person]], alone, "--snakemake-args", "--until call_star_alleles")
        assert proc.returncode == 0, proc.stderr[-3000:]
        # Run alone, the file gets the same call for every gene.
        assert _top(_calls(alone, "sample")) == _top(calls)
        html = (out / "reports" / input_id / "SAMPLE.html").read_text()
        other = want[next(i for i in want if i != input_id)]
        assert diplotype in html and other not in html
        assert f"<title>Pharmacogenomic report: SAMPLE, input {input_id} (sample.vcf.gz)</title>" in html
    tsv = pd.read_csv(out / "reports" / "calls_only.tsv", sep="\t", skiprows=1, dtype=str)
    rows = tsv[(tsv["Sample ID"] == "SAMPLE") & (tsv["Gene"] == "CYP2C19")]
    assert dict(zip(rows["Input"], rows["Source Diplotype"])) == want
    summary = (out / "reports" / "cohort_summary.html").read_text()
    for i in want:  # one row per (input, sample), linking to that input's report; the inputs table names the file
        assert f'["SAMPLE", "{i}", "{i}/SAMPLE.html", "ok"' in summary
        assert f'<tr><th scope="row">{i}</th><td class="mono">sample.vcf.gz</td><td>1</td>' in summary
    rows = json.loads(summary.split('<script type="application/json" id="sample-data">')[1].split("</script>")[0])
    # Each row names the file it came from (last column), beside the input.
    assert sorted((r[1], r[-1]) for r in rows if r[0] == "SAMPLE") == [
        ("HG00096_sample", "sample.vcf.gz"), ("HG00103_sample", "sample.vcf.gz")]


def test_a_good_file_with_its_truncated_copy(run):
    out, stderr = run
    assert _top(_calls(out, "HG00096_sample"))[("SAMPLE", "CYP2C19")] == ("*1/*2", "called")
    failed = sharding.read_input_samples(out, "copy_truncated")
    assert failed["status"].tolist() == ["failed"] and TRUNCATED in failed["error"].iloc[0]
    assert "copy_truncated.vcf.gz" in failed["error"].iloc[0]
    assert "input copy_truncated failed: " in stderr and "copy_truncated.vcf.gz" in stderr
    # The batch job read the other files: the truncated copy failed only its own input.
    logs = " ".join(p.read_text() for p in (out / "logs" / "ingest" / "batch-000").glob("*.log"))
    assert "copy_truncated: error: " in logs and "copy_truncated.vcf.gz" in logs and TRUNCATED in logs
    batch = sharding.read_samples([out / "ingest" / "batch-000" / "genes-0" / "part-000.samples.parquet"])
    assert dict(zip(batch["input_id"], batch["status"])) == {
        "HG00096_sample": "ok", "HG00103_sample": "ok", "cohort": "ok", "copy_truncated": "failed",
        "HG00097_b37": "ok"}
    assert (batch["input_id"] == "cohort").sum() == len(COHORT)
    report = (out / "reports" / "copy_truncated" / "copy_truncated.html").read_text()
    assert "copy_truncated.vcf.gz" in report and TRUNCATED in report


def test_index_files_in_the_input_list_are_skipped_with_one_note(run):
    out, stderr = run
    notes = [ln for ln in stderr.splitlines() if "index file" in ln]
    assert notes == ["pgx-pipeline: note: skipped 2 index file(s) given as inputs (sample.vcf.gz.tbi, "
                     "sample.vcf.gz.tbi); an index is used automatically when it sits next to its VCF"]
    assert not any("tbi" in p.name for p in (out / "ingest").iterdir())


def test_declared_per_chromosome_split_gives_the_same_calls_as_the_unsplit_file(run):
    out, _ = run
    whole, split = _calls(out, "cohort"), _calls(out, "cohort_by_chrom")
    cols = ["sample_id", "gene", "rank", "diplotype", "status", "score", "n_candidates", "phased"]
    key = ["sample_id", "gene", "rank"]
    assert len(whole) > 0
    pd.testing.assert_frame_equal(whole[cols].sort_values(key).reset_index(drop=True),
                                  split[cols].sort_values(key).reset_index(drop=True))
    called = whole[(whole["rank"] == 1) & (whole["status"] == "called")]
    assert {"CYP2C19", "CYP2C9", "VKORC1", "TPMT"} <= set(called["gene"])
    assert set(called["sample_id"]) == set(COHORT)


def test_split_group_with_a_bad_file_reports_its_genes_not_assessed(run):
    out, stderr = run
    calls, whole = _top(_calls(out, "mixed")), _top(_calls(out, "cohort"))
    for s in COHORT:
        assert calls[(s, "CYP2C19")] == whole[(s, "CYP2C19")] and calls[(s, "CYP2C9")] == whole[(s, "CYP2C9")]
        assert pd.isna(calls[(s, "VKORC1")][0]) and calls[(s, "VKORC1")][1] == "not_assessed"
    assert "input mixed: file mixed.chr16.vcf.gz: " + TRUNCATED in stderr
    html = (out / "reports" / "mixed" / "HG00096.html").read_text()
    assert f"VKORC1</strong>: VKORC1 was NOT assessed: mixed.chr16.vcf.gz failed: {TRUNCATED}" in html
    logs = " ".join(p.read_text() for p in (out / "logs" / "ingest" / "mixed").glob("*.log"))
    assert f"mixed.chr16.vcf.gz failed: {TRUNCATED}" in logs


def test_stale_inputs_of_an_earlier_run_are_refused(run, lab):
    out, _ = run
    # Same results folder, other inputs: the old input folders would sit beside the new reports.
    proc = _run([lab["people"]["HG00096"]], out)
    assert proc.returncode == 2
    assert "not inputs of this run" in proc.stderr and "HG00096_sample" in proc.stderr and "batch-000" in proc.stderr and "Traceback" not in proc.stderr
    assert not (out / "ingest" / "sample").exists()


@pytest.mark.skipif(not (PANEL37 / "CYP2C19.vcf.gz").exists(), reason=f"GRCh37 panel not found at {PANEL37}")
def test_a_grch37_file_in_a_batch_of_grch38_files_is_lifted_and_called_as_the_grch38_file(run):
    out, _ = run
    samples = sharding.read_input_samples(out, "HG00097_b37")
    assert samples[["sample_id", "status", "input_build"]].values.tolist() == [["HG00097", "ok", "GRCh37"]]
    assert sharding.read_input_samples(out, "cohort")["input_build"].unique().tolist() == ["GRCh38"]
    lifted = _top(_calls(out, "HG00097_b37"))[("HG00097", "CYP2C19")]
    assert lifted == _top(_calls(out, "cohort"))[("HG00097", "CYP2C19")]
    assert lifted[1] == "called"
    html = (out / "reports" / "HG00097_b37" / "HG00097.html").read_text()
    assert "GRCh37 input, lifted to GRCh38" in html
    summary = (out / "reports" / "cohort_summary.html").read_text()
    assert "inputs read as GRCh37 and lifted to GRCh38: HG00097_b37" in summary
