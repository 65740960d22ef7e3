"""The knowledge base shipped in the package: equal to a rebuild from the pinned data, and chosen only when no
mirror folder is there."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from pgx_pipeline import schema
from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.knowledge.build import TABLE_FILES, build_knowledge_base, read_provenance
from pgx_pipeline.knowledge.embedded import choose_knowledge, embedded_kb_dir, install_embedded
from tests.conftest import CHAIN_TO_37, FALLBACK, FDA_TABLE, PHARMCAT

# Stamped per build, not part of the data.
BUILD_ONLY_METADATA = {"pipeline_version"}


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    if not PHARMCAT.is_dir():
        pytest.skip(f"drift guard needs the pinned PharmCAT mirror at {PHARMCAT} (absent: nothing to compare with)")
    out = tmp_path_factory.mktemp("rebuilt_kb")
    if not CHAIN_TO_37.is_file():
        pytest.skip(f"drift guard needs the liftOver chain at {CHAIN_TO_37} (the embedded build map is made from it)")
    build_knowledge_base([PHARMCAT, FALLBACK], out, fda_associations=FDA_TABLE, grch37_chain=CHAIN_TO_37)
    return out


@pytest.mark.parametrize("name", sorted(TABLE_FILES))
def test_embedded_table_equals_a_rebuild_from_the_pinned_sources(rebuilt, name):
    embedded = embedded_kb_dir()
    schema.read_table(embedded / f"{name}.parquet", TABLE_FILES[name])  # the shipped file is the table it claims
    # Compared as Arrow tables (nested list/struct columns compare exactly; pandas would hold numpy arrays).
    new, shipped = (pq.read_table(d / f"{name}.parquet").replace_schema_metadata(None) for d in (rebuilt, embedded))
    assert new.schema == shipped.schema
    differ = [c for c in new.column_names if not new.column(c).equals(shipped.column(c))]
    assert not differ, f"{name}: columns {differ} differ (rerun scripts/refresh_embedded.py if the change is intended)"
    meta_new = schema.read_metadata(rebuilt / f"{name}.parquet")
    meta_shipped = schema.read_metadata(embedded / f"{name}.parquet")
    for key in BUILD_ONLY_METADATA:
        meta_new.pop(key), meta_shipped.pop(key)
    assert meta_new == meta_shipped


def test_embedded_provenance_equals_a_rebuild(rebuilt):
    new, shipped = read_provenance(rebuilt), read_provenance(embedded_kb_dir())
    new.pop("built_by"), shipped.pop("built_by")
    assert new == shipped


def test_embedded_provenance_pins_upstream_and_names_licences():
    prov = read_provenance(embedded_kb_dir())
    assert prov["upstream_commit"] == "5431bf1187e50383df7e7db18ef67b36fc8b562e"
    assert embedded_kb_dir().name == prov["data_version"] == "2025-11-05-00-25"
    assert {lic["licence"].split(" ")[0] for lic in prov["licences"]} >= {"MPL-2.0", "CC0-1.0"}
    assert any("ClinPGx" in lic["content"] and "DPWG" in lic["content"] for lic in prov["licences"])
    # every file read is pinned: a 40-hex git blob id, and for the current data the upstream path and commit
    assert all(len(f["git_blob"]) == 40 and len(f["sha256"]) == 64 for f in prov["files"])
    current = [f for f in prov["files"] if not f["stale"] and f["priority"] >= 0]
    assert len(current) == 42 and {f["upstream_commit"] for f in current} == {prov["upstream_commit"]}
    # The FDA table is configured on its own: pinned by the sha256 its PROVENANCE.md records.
    (fda,) = [f for f in prov["files"] if f["priority"] == -1 and f["file"].startswith("fda")]
    assert fda["file"] == "fda_pgx_associations.json"
    assert fda["sha256"] == "aeb2fe620b523fc54f095707bde9670f75e4562ed4b4f700389af267e3125484"
    assert any(lic["content"].startswith("FDA Table") for lic in prov["licences"])
    # no machine path anywhere: a mirror is named by its folder
    text = json.dumps(prov)
    assert "/work" not in text and "/tmp" not in text and "/home" not in text
    assert {f["source_root"] for f in prov["files"]} == {"pharmcat", "pharmcat-stale-fallback", "fda-pgx-associations",
                                                         "genome-builds", "pgx_pipeline.knowledge"}
    # The liftOver chain is pinned by the sha256 ../shared/genome-builds/PROVENANCE.md records, with its licence.
    (chain,) = [f for f in prov["files"] if f["file"].endswith(".chain.gz")]
    assert chain["file"] == "hg38ToHg19.over.chain.gz"
    assert chain["sha256"] == "3a055f690fbddadea2c4cc624f09dc3519f9001ebab2223a25bf377b1a4564b9"
    assert any(lic["content"].startswith("UCSC liftOver chain") for lic in prov["licences"])


def test_embedded_build_map_lifts_the_positions_provenance_checked():
    """Positions ../shared/genome-builds/PROVENANCE.md checked by hand, and the GRCh37 base of CYP3A5*3, which the
    reference genome changed (GRCh37 carries the *3 allele: a GRCh37 0/0 is *3/*3)."""
    bm = schema.read_table(embedded_kb_dir() / "build_map.parquet", schema.KB_BUILD_MAP)
    at = bm.drop_duplicates(["chromosome", "position"]).set_index(["chromosome", "position"])
    assert at.loc[("chr10", 94781859), "grch37_position"] == 96541616  # CYP2C19 rs4244285 (*2)
    assert at.loc[("chr19", 41009358), "grch37_position"] == 41515263  # CYP2B6 rs2279343
    cyp3a5 = at.loc[("chr7", 99672916)]
    assert (cyp3a5["ref"], cyp3a5["grch37_ref"], cyp3a5["status"]) == ("T", "C", "lifted, reference differs")
    assert set(bm["status"]) <= {"lifted", "lifted, reference differs", "not lifted"}
    assert bm.loc[bm["status"] == "not lifted", "reason"].notna().all()


def test_embedded_files_match_the_upstream_tree_blob_ids():
    """The current files read are exactly the blobs the pinned commit records (the list shipped for fetch)."""
    from pgx_pipeline.knowledge.upstream import pinned_tree

    tree = {e.path: e.blob for e in pinned_tree()}
    current = [f for f in read_provenance(embedded_kb_dir())["files"] if not f["stale"] and f["priority"] >= 0]
    assert current and all(tree[f["upstream_path"]] == f["git_blob"] for f in current)


def test_install_copies_tables_that_read_back(tmp_path):
    install_embedded(tmp_path / "kb")
    genes = schema.read_table(tmp_path / "kb" / "genes.parquet", schema.KB_GENES)
    assert {"CYP2C19", "CYP2D6", "RYR1", "G6PD"} <= set(genes["gene"])
    assert (tmp_path / "kb" / "provenance.json").is_file()


def test_choice_embedded_when_no_folder_is_configured_or_present(tmp_path):
    assert choose_knowledge([], tmp_path).embedded
    choice = choose_knowledge([{"path": "a"}, {"path": "b"}], tmp_path)
    assert choice.embedded and "none of the knowledge.sources folders exists (a, b)" in choice.note


def test_choice_builds_from_folders_when_all_exist(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    choice = choose_knowledge([{"path": "a"}, {"path": "b"}], tmp_path)
    assert not choice.embedded and choice.paths == ["a", "b"]


def test_choice_refuses_a_half_present_mirror_set(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(PgxInputError, match="b missing while a exist"):
        choose_knowledge([{"path": "a"}, {"path": "b"}], tmp_path)


def test_choice_installs_the_embedded_base_only_for_the_very_files_it_was_built_from(tmp_path):
    """The pinned mirrors, FDA table and chain: a build would only make the embedded base again, so it is installed.
    One changed byte, one extra file, another order or a missing FDA table: built as configured."""
    import shutil

    if not (PHARMCAT.is_dir() and FALLBACK.is_dir() and FDA_TABLE.is_file() and CHAIN_TO_37.is_file()):
        pytest.skip("needs the pinned mirrors, FDA table and chain of ../shared")
    fallback = tmp_path / FALLBACK.name  # a copy under the same folder name: where a mirror sits does not matter
    shutil.copytree(FALLBACK, fallback)

    def choice(*folders, fda=str(FDA_TABLE)):
        return choose_knowledge([{"path": str(f)} for f in folders], fda_associations=fda, grch37_chain=str(CHAIN_TO_37))

    same = choice(PHARMCAT, fallback)
    assert same.embedded and "byte for byte" in same.note and "2025-11-05-00-25" in same.note
    assert not choice(fallback, PHARMCAT).embedded
    assert not choice(PHARMCAT, fallback, fda="").embedded
    (fallback / "extra.json").write_text("{}")
    assert not choice(PHARMCAT, fallback).embedded
    (fallback / "extra.json").unlink()
    guideline = sorted(fallback.rglob("*.json"))[0]
    guideline.write_bytes(guideline.read_bytes().replace(b"{", b"{ ", 1))
    changed = choice(PHARMCAT, fallback)
    assert not changed.embedded and changed.paths == [str(PHARMCAT), str(fallback)]


def test_a_folder_the_config_declares_stale_is_built_as_stale(tmp_path):
    """config `stale: true` on a folder whose PROVENANCE.md does not say so (here the current PharmCAT mirror): every
    row read from it is flagged, and the run builds instead of installing the embedded base, which read it as current."""
    from click.testing import CliRunner

    from pgx_pipeline.cli import main

    if not (PHARMCAT.is_dir() and FALLBACK.is_dir()):
        pytest.skip("needs the pinned mirrors of ../shared")
    choice = choose_knowledge([{"path": str(PHARMCAT), "stale": True}, {"path": str(FALLBACK), "stale": True}],
                              fda_associations=str(FDA_TABLE), grch37_chain=str(CHAIN_TO_37))
    assert not choice.embedded and choice.stale == (str(PHARMCAT), str(FALLBACK))
    out = tmp_path / "kb"
    args = ["knowledge", "build", "--source", str(PHARMCAT), "--source", str(FALLBACK), "--out", str(out)]
    refused = CliRunner().invoke(main, [*args, "--stale-source", str(tmp_path)])
    assert refused.exit_code != 0 and "is not one of the --source folders" in refused.output
    built = CliRunner().invoke(main, [*args, "--stale-source", f"{PHARMCAT}/"])  # the same folder, spelt otherwise
    assert built.exit_code == 0, built.output
    read = schema.read_table(out / "sources.parquet", TABLE_FILES["sources"])
    assert read.loc[read["source_root"] == "pharmcat", "stale"].all() and len(read[read["source_root"] == "pharmcat"]) == 42
    assert read_provenance(out)["stale_files"] != read_provenance(embedded_kb_dir())["stale_files"]
