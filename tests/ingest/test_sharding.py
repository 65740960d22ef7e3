"""Work units: ingestion by gene group and sample part gives exactly the rows of one whole ingestion."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from pgx_pipeline import schema, sharding
from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.ingest.vcf import ingest_vcf, record_failed_input
from tests.conftest import REPO

BUNDLED = REPO / "data" / "sample_vcfs" / "bundled_samples.vcf.gz"


def test_plan_counts_parts_from_the_header_and_groups_only_indexed_files(tmp_path):
    plan = sharding.plan_input([str(BUNDLED)], samples_per_part=5, gene_groups=3)
    assert plan.n_samples == 12
    assert plan.parts == ("part-000", "part-001", "part-002")
    assert plan.groups == ("genes-0", "genes-1", "genes-2")
    assert sharding.plan_input([str(BUNDLED)], samples_per_part=0, gene_groups=1).parts == ("part-000",)
    unindexed = tmp_path / "copy.vcf.gz"
    shutil.copy(BUNDLED, unindexed)
    assert sharding.plan_input([str(unindexed)], samples_per_part=5, gene_groups=3).groups == ("genes-0",)
    unreadable = tmp_path / "x.vcf"
    unreadable.write_text("not a vcf\n")
    assert sharding.plan_input([str(unreadable)], samples_per_part=5, gene_groups=3).parts == ("part-000",)


def test_part_slices_cover_every_sample_once():
    for n, k in [(12, 3), (3202, 2), (7, 7), (5, 1), (2, 4)]:
        slices = sharding.part_slices(n, k)
        covered = [i for s in slices for i in range(n)[s]]
        assert covered == list(range(n)) and len(slices) == k
        assert max(len(range(n)[s]) for s in slices) - min(len(range(n)[s]) for s in slices) <= 1


def test_gene_groups_partition_the_genes_and_balance_positions(kb_dir):
    positions = schema.read_table(kb_dir / "positions.parquet", schema.KB_POSITIONS)
    groups = sharding.assign_gene_groups(positions, 4)
    defining = positions[positions["position_index"] >= 0]
    assert set(groups) == set(defining["gene"]) and set(groups.values()) == {0, 1, 2, 3}
    loads = defining.groupby(defining["gene"].map(groups)).size()
    biggest_gene = defining.groupby("gene").size().max()
    assert loads.max() - loads.min() <= biggest_gene


def test_group_and_part_ingestion_equals_one_whole_ingestion(kb_dir, tmp_path):
    ingest_vcf([BUNDLED], kb_dir, tmp_path / "whole", input_id="b")
    whole = schema.read_table(tmp_path / "whole" / "genotypes.parquet", schema.GENOTYPES)
    pieces = []
    for k in range(3):
        ingest_vcf([BUNDLED], kb_dir, tmp_path / f"g{k}", input_id="b", gene_group=(k, 3), n_parts=2)
        for part in ("part-000", "part-001"):
            pieces.append(schema.read_table(tmp_path / f"g{k}" / f"{part}.genotypes.parquet", schema.GENOTYPES))
            samples = schema.read_table(tmp_path / f"g{k}" / f"{part}.samples.parquet", schema.SAMPLES)
            assert len(samples) == 6
    got = pd.concat(pieces, ignore_index=True)
    key = ["sample_id", "gene", "position_index"]
    got = got.sort_values(key).reset_index(drop=True)
    want = whole.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    genes_per_group = [set(schema.read_table(tmp_path / f"g{k}" / "part-000.genotypes.parquet",
                                             schema.GENOTYPES)["gene"]) for k in range(3)]
    assert not (genes_per_group[0] & genes_per_group[1]) and not (genes_per_group[1] & genes_per_group[2])


def test_a_failure_in_one_gene_group_fails_the_part(kb_dir, tmp_path):
    ingest_vcf([BUNDLED], kb_dir, tmp_path / "g0", input_id="b", gene_group=(0, 2), n_parts=1)
    record_failed_input([str(BUNDLED)], tmp_path / "g1", input_id="b", error="BGZF block truncated", n_parts=1)
    ok = schema.read_table(tmp_path / "g0" / "part-000.samples.parquet", schema.SAMPLES)
    merged = sharding.read_samples([tmp_path / "g0" / "part-000.samples.parquet",
                                    tmp_path / "g1" / "part-000.samples.parquet"])
    # A file that breaks in one gene region is not trusted in the others: every sample of the part fails.
    assert list(merged["sample_id"]) == list(ok["sample_id"])
    assert set(merged["status"]) == {"failed"}
    assert set(merged["error"]) == {"BGZF block truncated"}
    alone = sharding.read_samples([tmp_path / "g1" / "part-000.samples.parquet"])
    assert list(alone["sample_id"]) == ["b"] and list(alone["status"]) == ["failed"]


def test_gene_group_argument_is_checked():
    assert sharding.parse_group("2/4") == (2, 4)
    for bad in ("4/4", "x", "1-2"):
        with pytest.raises(PgxInputError, match="gene-group"):
            sharding.parse_group(bad)
