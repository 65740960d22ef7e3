"""Batches of small inputs: planned within the part size, read by one job, every file still its own input.

The batch reading tests use real 1000 Genomes panel people cut into single-sample files with pysam; the expected
genotypes are read from the panel file with pysam, the expected CYP2C19 calls are the ones issue 16 measured with
bcftools (HG00096 *1/*2, HG00103 *17/*38).
"""

from __future__ import annotations

from pathlib import Path

import pysam

from pgx_pipeline import schema, sharding
from pgx_pipeline.calling.call import call_input
from pgx_pipeline.ingest.vcf import ingest_batch
from tests.conftest import PANEL38, needs
from tests.vcf_text import write_vcf

CYP2C19 = PANEL38 / "CYP2C19.vcf.gz"
RS4244285 = 94781859  # CYP2C19*2 (GRCh38)


def _vcf(path: Path, samples: list[str]) -> str:
    return str(write_vcf(path, samples, [f"chr10 {RS4244285} G A {' '.join('0/1' for _ in samples)}"]))


def _units(tmp_path, sizes: dict[str, int], **kw) -> list[sharding.WorkUnit]:
    inputs = {i: [_vcf(tmp_path / f"{i}.vcf", [f"S{k}" for k in range(n)])] for i, n in sizes.items()}
    return sharding.plan_units(inputs, gene_groups=4, **kw)


def test_batches_respect_samples_per_part_and_files_per_batch(tmp_path):
    sizes = {f"lab{k:02d}": 1 for k in range(9)} | {"pair1": 2, "pair2": 2, "trio": 3, "big": 5}
    units = _units(tmp_path, sizes, samples_per_part=4, files_per_batch=3)
    assert sorted(i for u in units for i in u.inputs) == sorted(sizes)  # every input in exactly one unit
    batches = [u for u in units if u.batched]
    assert batches and all(len(u.inputs) <= 3 and sum(sizes[i] for i in u.inputs) <= 4 for u in batches)
    assert all(u.parts == ("part-000",) and u.groups == ("genes-0",) for u in batches)
    # More than half a part is not small: its own unit (cut into parts like any cohort); so is a lone leftover.
    alone = {u.name: u for u in units if not u.batched}
    assert {"trio", "big"} <= set(alone) and alone["big"].parts == ("part-000", "part-001")
    assert all(u.inputs == (u.name,) for u in alone.values())


def test_batches_keep_settings_apart_and_never_take_an_input_name(tmp_path):
    sizes = {"batch-000": 1, "a": 1, "b": 1, "c": 1, "d": 1}
    flag = {"batch-000": False, "a": False, "b": True, "c": False, "d": True}
    units = _units(tmp_path, sizes, samples_per_part=100, batch_keys=flag)
    batched = {u.name: u.inputs for u in units if u.batched}
    assert sorted(batched.values()) == [("a", "batch-000", "c"), ("b", "d")]
    assert "batch-000" not in batched and sorted(u.name for u in units) == ["batch-000b", "batch-001"]
    # Declared split groups are inputs of several files: never batched.
    split = {"grp": [_vcf(tmp_path / "g1.vcf", ["S"]), _vcf(tmp_path / "g2.vcf", ["S"])], "x": [_vcf(tmp_path / "x.vcf", ["S"])]}
    assert [u.inputs for u in sharding.plan_units(split, samples_per_part=100, gene_groups=1)] == [("grp",), ("x",)]
    # files_per_batch 1 turns batching off.
    assert not any(u.batched for u in _units(tmp_path, sizes, samples_per_part=100, files_per_batch=1))


def _single(person: str, out: Path, name: str = "SAMPLE", gene_file: Path = CYP2C19) -> Path:
    """The panel's records of one gene file for one person, the sample column renamed (as lab exports name it)."""
    plain = out.with_suffix("")
    with pysam.VariantFile(str(gene_file)) as vcf, plain.open("w") as fh:
        vcf.subset_samples([person])
        header = str(vcf.header).rstrip("\n").split("\n")
        header[-1] = header[-1].rsplit("\t", 1)[0] + f"\t{name}"
        fh.write("\n".join(header) + "\n")
        for rec in vcf:
            fh.write(str(rec))
    pysam.tabix_compress(str(plain), str(out), force=True)
    pysam.tabix_index(str(out), preset="vcf", force=True)
    return out


def _panel_gt(person: str, pos: int) -> tuple[str, str]:
    with pysam.VariantFile(str(CYP2C19)) as vcf:
        rec = next(r for r in vcf.fetch("chr10", pos - 1, pos) if r.pos == pos)
        return tuple(rec.alleles[i] for i in rec.samples[person]["GT"])


@needs(CYP2C19)
def test_a_batch_reads_each_file_as_its_own_input(tmp_path, defs_dir):
    a = _single("HG00096", tmp_path / "a.vcf.gz")
    b = _single("HG00103", tmp_path / "b.vcf.gz")
    data = a.read_bytes()
    bad = tmp_path / "bad.vcf.gz"
    bad.write_bytes(data[: len(data) // 2])
    out = tmp_path / "batch"
    log = ingest_batch([("lab_a", a), ("lab_bad", bad), ("lab_b", b)], defs_dir, out, absent_is_reference=True)
    samples = schema.read_table(out / "part-000.samples.parquet", schema.SAMPLES)
    assert samples[["input_id", "sample_id", "status"]].values.tolist() == [
        ["lab_a", "SAMPLE", "ok"], ["lab_bad", "lab_bad", "failed"], ["lab_b", "SAMPLE", "ok"]]
    error = samples.loc[samples["input_id"] == "lab_bad", "error"].iloc[0]
    assert "bad.vcf.gz" in error and "truncated" in error
    assert any(line.startswith("lab_bad: error: ") and "bad.vcf.gz" in line for line in log)
    # Two files whose sample is called SAMPLE: two patients, each with the panel's own genotype.
    geno = schema.read_table(out / "part-000.genotypes.parquet", schema.GENOTYPES)
    at = geno[geno["position"] == RS4244285].set_index("input_id")
    for input_id, person in (("lab_a", "HG00096"), ("lab_b", "HG00103")):
        assert sorted(at.loc[input_id, ["allele1", "allele2"]]) == sorted(_panel_gt(person, RS4244285))
    calls = call_input([out / "part-000.genotypes.parquet"], [out / "part-000.samples.parquet"], defs_dir,
                       tmp_path / "calls.parquet")
    top = calls[(calls["gene"] == "CYP2C19") & (calls["candidate"] == 1)]
    assert dict(zip(top["input_id"], top["diplotype"])) == {"lab_a": "*1/*2", "lab_b": "*17/*38"}
    assert set(top["sample_id"]) == {"SAMPLE"}
    assert schema.read_table(tmp_path / "calls.parquet", schema.CALLS)["input_id"].notna().all()


@needs(CYP2C19)
def test_one_files_records_never_vouch_for_another_files_gene(tmp_path, defs_dir):
    """Absent positions are reference only where the patient's own file has records in the gene: in a batch, another
    input's CYP2C9 records must not turn a CYP2C19-only file's CYP2C9 into a reference call."""
    only_2c19 = _single("HG00096", tmp_path / "a.vcf.gz")
    only_2c9 = _single("HG00103", tmp_path / "c.vcf.gz", gene_file=PANEL38 / "CYP2C9.vcf.gz")
    out = tmp_path / "batch"
    ingest_batch([("lab_a", only_2c19), ("lab_c", only_2c9)], defs_dir, out, absent_is_reference=True)
    calls = call_input([out / "part-000.genotypes.parquet"], [out / "part-000.samples.parquet"], defs_dir,
                       tmp_path / "calls.parquet")
    top = calls[calls["candidate"] == 1].set_index(["input_id", "gene"])
    assert top.at[("lab_a", "CYP2C19"), "status"] == "called" and top.at[("lab_c", "CYP2C9"), "status"] == "called"
    assert top.at[("lab_a", "CYP2C9"), "status"] == "not_called"
    assert any("NOT read as reference" in w for w in top.at[("lab_a", "CYP2C9"), "warnings"])
    assert top.at[("lab_c", "CYP2C19"), "status"] == "not_called"


def test_an_indexed_file_with_records_only_between_defining_positions_still_reads_the_region(tmp_path, defs_dir):
    """Ingestion reads the records near defining positions only; a gene whose window holds records elsewhere only is
    still a region that was read (absent positions may then be reference), as when the whole window was read."""
    pos = schema.read_table(defs_dir / "positions.parquet", schema.KB_POSITIONS)
    sites = sorted(pos[(pos["gene"] == "CYP2C19") & (pos["position_index"] >= 0)]["position"].astype(int))
    gap, left = max((b - a, a) for a, b in zip(sites, sites[1:]))
    assert gap > 4000
    middle = left + gap // 2  # farther than the cluster gap from every defining position
    vcf = write_vcf(tmp_path / "between.vcf.gz", ["P1"], [f"chr10 {middle} A G 0/1"], bgzip=True)
    out = tmp_path / "out"
    ingest_batch([("between", vcf)], defs_dir, out, absent_is_reference=True)
    geno = schema.read_table(out / "part-000.genotypes.parquet", schema.GENOTYPES)
    read = geno.groupby("gene")["gene_region_read"].any()
    assert read["CYP2C19"] and not read["CYP2C9"]
    assert (geno.loc[geno["gene"] == "CYP2C19", "state"] == "absent").all()
