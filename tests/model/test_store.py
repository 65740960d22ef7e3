"""The skops loader: refuses anything outside the trusted list, and carries library versions."""

from __future__ import annotations

import os

import pytest
import skops.io as sio

from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.model.store import FORMAT, load_model


def test_refuses_untrusted_type(tmp_path):
    # A file that would call os.system if constructed: must be refused before anything is built.
    path = tmp_path / "evil.skops"
    sio.dump({"format": FORMAT, "payload": os.system}, path)
    with pytest.raises(PgxInputError, match="outside the trusted list") as err:
        load_model(path)
    assert "system" in str(err.value)


def test_refuses_types_our_list_does_not_name(trained_dir):
    # Our own estimator classes are code the loader must name explicitly, like any other non-default type.
    with pytest.raises(PgxInputError, match="PublishedBlendRegressor"):
        load_model(trained_dir / "model.skops", trusted=())


def test_not_a_model_file(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"not a zip")
    with pytest.raises(PgxInputError, match="not a skops model file"):
        load_model(path)
    with pytest.raises(PgxInputError, match="not found"):
        load_model(tmp_path / "absent.skops")


def test_round_trip_carries_versions(dose_model):
    versions = dose_model.info["library_versions"]
    assert set(versions) >= {"scikit-learn", "numpy", "pgx-pipeline", "skops"}
    assert dose_model.drug == "warfarin" and dose_model.version.startswith("warfarin-")
