"""CI-sized run of scripts/exhaustive_calls.py: every gene, all pairs for small genes, a fixed sample for big ones.

Asserts that no result is left unexplained (see the script's docstring for the classification).
The committed full-size summary is tests/calling/exhaustive_summary.tsv.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from pgx_pipeline.calling.call import load_gene_models
from pgx_pipeline.testing import KnowledgeTables

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "exhaustive_calls.py"
CI_MAX_HET = 120


def _load_script():
    spec = importlib.util.spec_from_file_location("exhaustive_calls", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def ex():
    return _load_script()


@pytest.fixture(scope="module")
def setup(defs_dir):
    return KnowledgeTables.from_dir(defs_dir), load_gene_models(defs_dir)


GENES = ["ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP2D6", "CYP3A4", "CYP3A5", "CYP4F2", "DPYD",
         "G6PD", "IFNL3", "NAT2", "NUDT15", "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1"]


@pytest.mark.parametrize("gene", GENES)
def test_every_pair_is_called_or_explained(ex, setup, defs_dir, tmp_path, gene):
    kb, models = setup
    assert gene in set(kb.genes["gene"])
    rows, _ = ex.run_gene(kb, defs_dir, models, gene, CI_MAX_HET, tmp_path)
    unexplained = [(r["mode"], r["allele1"], r["allele2"], r["called"]) for r in rows if r["verdict"] == "unexplained"]
    assert not unexplained, unexplained[:10]
    # the phased, complete genotypes of distinct alleles are the easy case: most must pass outright
    phased = [r for r in rows if r["mode"] == "phased"]
    assert sum(r["verdict"] == "PASS" for r in phased) >= 0.5 * len(phased)


def test_all_kb_genes_are_covered(setup):
    assert set(GENES) == set(setup[0].genes["gene"])


def test_oracle_scores_by_hand(ex, setup):
    """The oracle's PharmCAT scores for CYP2C9 *2 and *3: one defined cell each; *1 scores every position."""
    kb, _ = setup
    o = ex.GeneOracle.build(kb, "CYP2C9")
    import numpy as np

    s = o.scores(np.ones(len(o.positions), dtype=bool))
    assert s[o.names.index("*2")] == 1 and s[o.names.index("*3")] == 1
    assert s[o.ref] == len(o.positions)
