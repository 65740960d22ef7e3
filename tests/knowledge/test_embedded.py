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
from tests.conftest import FALLBACK, FDA_TABLE, PHARMCAT

# Stamped per build, not part of the data.
BUILD_ONLY_METADATA = {"pipeline_version"}


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    if not PHARMCAT.is_dir():
        pytest.skip(f"drift guard needs the pinned PharmCAT mirror at {PHARMCAT} (absent: nothing to compare with)")
    out = tmp_path_factory.mktemp("rebuilt_kb")
    build_knowledge_base([PHARMCAT, FALLBACK], out, fda_associations=FDA_TABLE)
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
    (fda,) = [f for f in prov["files"] if f["priority"] == -1]
    assert fda["file"] == "fda_pgx_associations.json"
    assert fda["sha256"] == "aeb2fe620b523fc54f095707bde9670f75e4562ed4b4f700389af267e3125484"
    assert any(lic["content"].startswith("FDA Table") for lic in prov["licences"])
    # no machine path anywhere: a mirror is named by its folder
    text = json.dumps(prov)
    assert "/work" not in text and "/tmp" not in text and "/home" not in text
    assert {f["source_root"] for f in prov["files"]} == {"pharmcat", "pharmcat-stale-fallback", "fda-pgx-associations"}


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
