"""GRCh37 inputs are called through the build map: detection, stated-build conflicts, reference differences
between builds, strand flips, and real 1000 Genomes slices checked against the same people's GRCh38 calls."""

from __future__ import annotations

import pandas as pd
import pytest

from pgx_pipeline import schema
from pgx_pipeline.calling.call import call_input
from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.ingest import builds
from pgx_pipeline.ingest.vcf import ingest_vcf
from tests.conftest import PANEL37, PANEL38, needs
from tests.vcf_text import write_vcf

# Published GRCh37 coordinates (dbSNP / PharmVar, GRCh37.p13), not read from the build map under test.
CYP2C19_STAR2_37 = ("10", 96541616, "G", "A")  # rs4244285, GRCh38 chr10:94781859
CYP2C19_STAR17_37 = ("10", 96521657, "C", "T")  # rs12248560, GRCh38 chr10:94761900
CYP2C19_STAR3_37 = ("10", 96540410, "G", "A")  # rs4986893, GRCh38 chr10:94780653
# CYP3A5 rs776746 (*3): GRCh37 7:99270539 carries C (*3) as its reference base, GRCh38 7:99672916 carries T (*1).
CYP3A5_STAR3_37 = ("7", 99270539, "C", "T")


def _rec(site, gt):
    chrom, pos, ref, alt = site
    return f"{chrom} {pos} {ref} {alt} {gt}"


def _ingest_call(vcf, kb_dir, out, **kw):
    ingest_vcf(vcf, kb_dir, out, input_id="in", **kw)
    samples = schema.read_table(out / "samples.parquet", schema.SAMPLES)
    calls = call_input(out / "genotypes.parquet", out / "samples.parquet", kb_dir, out / "calls.parquet")
    return samples, calls[calls["candidate"] == 1].set_index(["sample_id", "gene"])["diplotype"]


def _no_contigs(path):
    return write_vcf(path, ["P1"], [], contigs={})


def test_grch37_single_sample_without_contig_lines_is_called_unindexed_and_indexed(tmp_path, defs_dir):
    records = [_rec(CYP2C19_STAR17_37, "0/1"), _rec(CYP2C19_STAR3_37, "0/0"), _rec(CYP2C19_STAR2_37, "0/0")]
    for indexed in (False, True):
        name = "p1.vcf.gz" if indexed else "p1.vcf"
        vcf = write_vcf(tmp_path / name, ["P1"], records, contigs={}, bgzip=indexed)
        assert (tmp_path / f"{name}.tbi").exists() == indexed
        samples, calls = _ingest_call(vcf, defs_dir, tmp_path / f"out{indexed}", absent_is_reference=True)
        assert samples["input_build"].iloc[0] == "GRCh37"
        assert samples["build_evidence"].iloc[0].startswith("records: REF matches GRCh37")
        assert list(samples["unlifted_positions"].iloc[0]) == []
        # *17 heterozygous in a variant-only file: *1/*17. rs3758581, absent, is GRCh37's G (the *1 background);
        # read as GRCh38's A (*38 background) nothing would fit, as the same genotypes written on GRCh38 show.
        assert calls[("P1", "CYP2C19")] == "*1/*17"
        geno = schema.read_table(tmp_path / f"out{indexed}" / "genotypes.parquet", schema.GENOTYPES)
        star17 = geno[(geno.gene == "CYP2C19") & (geno.position == 94761900)]  # reported at GRCh38 coordinates
        assert star17[["state", "allele1", "allele2"]].values.tolist() == [["called", "C", "T"]]
    same38 = write_vcf(tmp_path / "p38.vcf", ["P1"], ["chr10 94761900 C T 0/1"])
    _, calls38 = _ingest_call(same38, defs_dir, tmp_path / "out38", absent_is_reference=True)
    assert pd.isna(calls38[("P1", "CYP2C19")])
    with_g = write_vcf(tmp_path / "p38g.vcf", ["P1"], ["chr10 94761900 C T 0/1", "chr10 94842866 A G 1/1"])
    _, calls38 = _ingest_call(with_g, defs_dir, tmp_path / "out38g", absent_is_reference=True)
    assert calls38[("P1", "CYP2C19")] == "*1/*17"


def test_grch37_zero_zero_where_the_reference_changed_is_the_grch37_base(tmp_path, defs_dir):
    """CYP3A5 rs776746: a GRCh37 0/0 is C/C, the *3 allele (GRCh38's ALT): *3/*3, not *1/*1. And an absent position
    in a variant-only GRCh37 file is GRCh37's base there too."""
    vcf = write_vcf(tmp_path / "c.vcf", ["HOMREF37", "HET", "HOMALT37"],
                    [f"7 {CYP3A5_STAR3_37[1]} C T 0/0 0/1 1/1"], contigs={"7": 159138663})
    samples, calls = _ingest_call(vcf, defs_dir, tmp_path / "out", build="GRCh37")
    assert samples["build_evidence"].iloc[0] == "stated (GRCh37)"
    assert calls[("HOMREF37", "CYP3A5")] == "*3/*3"
    assert calls[("HET", "CYP3A5")] == "*1/*3"
    assert calls[("HOMALT37", "CYP3A5")] == "*1/*1"
    geno = schema.read_table(tmp_path / "out" / "genotypes.parquet", schema.GENOTYPES)
    site = geno[(geno.gene == "CYP3A5") & (geno.position == 99672916)].set_index("sample_id")
    assert site.loc["HOMREF37", ["allele1", "allele2"]].tolist() == ["C", "C"]
    # variant-only file, rs776746 not written (nobody varies from GRCh37 there): absent = GRCh37's C = *3
    # a record inside the gene region at no definition position: the region was read, rs776746 is absent
    other = write_vcf(tmp_path / "v.vcf", ["V1"], ["7 99265000 A G 0/1"], contigs={"7": 159138663})
    _, calls = _ingest_call(other, defs_dir, tmp_path / "out2", build="GRCh37", absent_is_reference=True)
    assert calls[("V1", "CYP3A5")] == "*3/*3"


def test_header_says_grch38_records_are_grch37_is_an_error_naming_both(tmp_path, defs_dir):
    vcf = write_vcf(tmp_path / "lie.vcf", ["P1"],
                    [_rec(CYP2C19_STAR17_37, "0/1"), _rec(CYP2C19_STAR3_37, "0/0"), _rec(CYP2C19_STAR2_37, "0/1")],
                    contigs={}, extra_header=["##reference=GRCh38_full_analysis_set.fa"])
    with pytest.raises(PgxInputError, match=r"lie\.vcf: genome build: header: ##reference=GRCh38.* says GRCh38, but "
                                            r"records: REF matches GRCh37 at 3 .* says GRCh37"):
        ingest_vcf(vcf, defs_dir, tmp_path / "out", input_id="in")


def test_stated_build_the_file_contradicts_is_an_error_naming_both(tmp_path, defs_dir):
    vcf = write_vcf(tmp_path / "b37.vcf", ["P1"], [_rec(CYP2C19_STAR2_37, "0/1")], contigs={"chr10": 135534747})
    with pytest.raises(PgxInputError, match=r"stated GRCh38 says GRCh38, but header: contig chr10 length 135,534,747 "
                                            r"says GRCh37"):
        ingest_vcf(vcf, defs_dir, tmp_path / "out", input_id="in", build="GRCh38")
    grch38 = write_vcf(tmp_path / "b38.vcf", ["P1"], ["chr10 94781859 G A 0/1"])
    with pytest.raises(PgxInputError, match=r"stated GRCh37 says GRCh37, but header: contig chr10 length 133,797,422"):
        ingest_vcf(grch38, defs_dir, tmp_path / "out", input_id="in", build="GRCh37")


def test_minus_strand_and_reference_change_are_translated_base_by_base():
    """The chain maps no definition position to GRCh37's minus strand today; the rule is pinned on one made-up row:
    alleles are reverse-complemented and, where GRCh37's base is GRCh38's ALT, genotype indexes are remapped."""
    import numpy as np

    bm = pd.DataFrame([{"gene": "G", "position_index": 0, "chromosome": "chr1", "position": 1000, "ref": "A",
                        "grch37_chromosome": "chr1", "grch37_position": 5000, "grch37_strand": "-",
                        "grch37_ref": "G", "status": "lifted, reference differs", "reason": "test"}])

    class Rec:
        CHROM, POS, REF, ALT, end = "1", 5000, "C", ["T"], 5000  # minus strand: C/T are G/A on GRCh38's strand

        class genotype:
            @staticmethod
            def array():
                return np.array([[0, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=np.int16)

    (lifted,) = builds.LiftedReader(bm).wrap([Rec()], lambda c: "chr" + c)
    assert (lifted.POS, lifted.REF, lifted.ALT) == (1000, "A", ["G"])
    # GRCh37 0/0 = C on GRCh37 = G on GRCh38's strand = ALT 1 on GRCh38; GRCh37 ALT T = A = GRCh38 REF 0
    assert lifted.genotype.array()[:, :2].tolist() == [[1, 1], [1, 0], [0, 0]]


def test_unlifted_positions_are_missing_with_their_reason_never_reference(tmp_path, defs_dir):
    """A position the chain does not map stays missing even under absent-is-reference, and the samples table says
    why; the build map is edited here because every real definition position lifts."""
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(defs_dir, kb)
    bm = schema.read_table(kb / "build_map.parquet", schema.KB_BUILD_MAP)
    star2 = (bm.chromosome == "chr10") & (bm.position == 94781859)
    bm.loc[star2, ["grch37_chromosome", "grch37_position", "grch37_strand", "grch37_ref"]] = None
    bm.loc[star2, ["status", "reason"]] = ["not lifted", "in no GRCh38->GRCh37 chain block"]
    schema.write_table(bm, kb / "build_map.parquet", schema.KB_BUILD_MAP)
    vcf = write_vcf(tmp_path / "p.vcf", ["P1"], [_rec(CYP2C19_STAR17_37, "0/1"), _rec(CYP2C19_STAR2_37, "0/1")],
                    contigs={})
    samples, _ = _ingest_call(vcf, kb, tmp_path / "out", build="GRCh37", absent_is_reference=True)
    (entry,) = [u for u in samples["unlifted_positions"].iloc[0] if "94781859" in u]
    assert entry == "CYP2C19 rs4244285 (chr10:94781859 GRCh38): in no GRCh38->GRCh37 chain block"
    geno = schema.read_table(tmp_path / "out" / "genotypes.parquet", schema.GENOTYPES)
    assert geno[(geno.gene == "CYP2C19") & (geno.position == 94781859)]["state"].tolist() == ["no_call"]


def _slice(src, samples, out):
    import pysam

    with pysam.VariantFile(str(src)) as vin:
        vin.subset_samples(samples)
        with pysam.VariantFile(str(out), "wz", header=vin.header) as vout:
            for rec in vin:
                vout.write(rec)
    pysam.tabix_index(str(out), preset="vcf", force=True)
    return out


@needs(PANEL37 / "CYP2C19.vcf.gz")
@needs(PANEL38 / "CYP2C19.vcf.gz")
@pytest.mark.parametrize("gene", ["CYP2C19", "CYP3A5", "CYP2C9", "VKORC1"])
def test_real_grch37_slice_calls_equal_the_same_peoples_grch38_calls(tmp_path, defs_dir, gene):
    """Ten 1000 Genomes people: GRCh37 panel (no contig lines, indexed) vs the GRCh38 panel, both read as
    variant-only files. The GRCh38 calls are the expectation (an independent file and coordinate system)."""
    people = ["HG00096", "HG00097", "NA12878", "NA18507", "NA18526", "NA19239", "HG01183", "NA18565", "HG00629",
              "NA19143"]
    s37 = _slice(PANEL37 / f"{gene}.vcf.gz", people, tmp_path / "g37.vcf.gz")
    s38 = _slice(PANEL38 / f"{gene}.vcf.gz", people, tmp_path / "g38.vcf.gz")
    samples, c37 = _ingest_call(s37, defs_dir, tmp_path / "o37", absent_is_reference=True)
    _, c38 = _ingest_call(s38, defs_dir, tmp_path / "o38", absent_is_reference=True)
    assert samples["input_build"].iloc[0] == "GRCh37"
    assert [c37[(p, gene)] for p in people] == [c38[(p, gene)] for p in people]


def test_build_is_stated_per_input_or_globally_and_validated_by_the_config_schema(tmp_path):
    from pathlib import Path

    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from pgx_pipeline.inputs import inputs_from_config

    config = {"build": "GRCh37", "inputs": [{"id": "a", "vcfs": ["a.vcf"]}, {"id": "b", "vcfs": ["b.vcf"], "build": "GRCh38"},
                                            {"id": "c", "vcfs": ["c.vcf"], "build": "auto"}]}
    assert {s.input_id: s.build for s in inputs_from_config(config)} == {"a": "GRCh37", "b": "GRCh38", "c": "GRCh37"}
    assert {s.build for s in inputs_from_config({"inputs": config["inputs"][:1]})} == {"auto"}
    schema_path = Path(__file__).resolve().parents[2] / "config" / "schemas" / "config.schema.yaml"
    validate(dict(config), str(schema_path))
    with pytest.raises(WorkflowError):
        validate({"build": "hg19", "inputs": []}, str(schema_path))
    assert yaml.safe_load(schema_path.read_text())["properties"]["knowledge"]["properties"]["grch37_chain"]["default"] == ""


def test_grch37_gvcf_reference_block_over_a_changed_base_is_grch37s_base(tmp_path, defs_dir):
    """A GRCh37 0/0 block covering rs776746 asserts GRCh37's C there: CYP3A5 *3/*3 (reading it as the GRCh38 REF T
    would report *1/*1, a normal metabolizer)."""
    records = ["7 99270000 . A <NON_REF> . PASS END=99271000 GT 0/0"]
    vcf = write_vcf(tmp_path / "b.g.vcf", ["G1"], records, contigs={"7": 159138663},
                    extra_header=['##INFO=<ID=END,Number=1,Type=Integer,Description="End">',
                                  '##ALT=<ID=NON_REF,Description="any other allele">'])
    _, calls = _ingest_call(vcf, defs_dir, tmp_path / "out", build="GRCh37")
    geno = schema.read_table(tmp_path / "out" / "genotypes.parquet", schema.GENOTYPES)
    site = geno[(geno.gene == "CYP3A5") & (geno.position == 99672916)]
    assert site[["state", "allele1", "allele2"]].values.tolist() == [["called", "C", "C"]]
    assert calls[("G1", "CYP3A5")] == "*3/*3"
