"""DPWG rows are labelled by their own content and flags (DPWG states no strength: every row read "Consider").

Real knowledge base, hand-written calls; the rule is `pgx_pipeline.report.context.dpwg_directs_change`: a flagged
row (dose change or another drug) is Act when it directs a change without a condition first, Consider when it
only says to be alert or to change if something else happens, Standard when it says no action is needed.
"""

from __future__ import annotations

import pytest

from pgx_pipeline.report.context import dpwg_directs_change
from tests.phenotype.calls_frame import call
from tests.phenotype.test_incomplete_advice import stages  # noqa: F401  (fixture)


def dpwg(gd, sample, drug):
    rows = gd[(gd["sample_id"] == sample) & (gd["drug"] == drug) & (gd["source"] == "DPWG")
              & (gd["status"] == "matched")]
    assert len(rows), f"no matched DPWG {drug} row for {sample}"
    return rows


def test_dpwg_avoid_clopidogrel_for_a_cyp2c19_poor_metabolizer_is_act(stages):  # noqa: F811
    gd = stages([call("PM", "CYP2C19", "*2/*2")])
    rows = dpwg(gd, "PM", "clopidogrel")
    assert rows["recommendation"].str.contains("avoid clopidogrel").all()
    assert rows["label"].tolist() == ["act"]


def test_dpwg_avoid_tegafur_for_a_dpyd_star2a_carrier_is_act(stages):  # noqa: F811
    gd = stages([call("D1", "DPYD", "Reference/c.1905+1G>A (*2A)")])
    rows = dpwg(gd, "D1", "tegafur")
    assert rows["recommendation"].str.startswith("Avoid tegafur").all()
    assert rows["label"].tolist() == ["act"]


def test_dpwg_normal_metabolizer_rows_are_standard(stages):  # noqa: F811
    gd = stages([call("NM", "CYP2C19", "*1/*1")])
    rows = dpwg(gd, "NM", "clopidogrel")
    assert rows["recommendation"].str.contains("does not provide a recommendation").all()
    assert rows["label"].tolist() == ["standard"]


@pytest.mark.parametrize("text, directs", [
    ("PERCUTANEOUS CORONARY INTERVENTION, STROKE or TIA: avoid clopidogrel. Prasugrel ... are not metabolised", True),
    ("The loading dose does not need to be adjusted.\nFor the other doses, use 75% of the standard dose", True),
    ("Use 1.25 times the standard dose.", True),
    ("Start with 50% of the standard dose or avoid fluorouracil and capecitabine.", True),
    ("Do not exceed the following daily doses:\nAdults up to 65 years: 30mg", True),
    ("Indication OBSESSIVE COMPULSIVE DISORDER or ANXIETY DISORDERS: avoid clomipramine.", True),
    # conditional or monitoring-only advice
    ("For PAIN:\nIt is not possible to offer adequately substantiated advice for dose adjustment.\nBe alert to a "
     "reduced effectiveness.\nIn the case of inadequate effectiveness: try a dose increase.\nIf this does not help: "
     "choose an alternative.", False),
    ("Carefully weigh the risk of SJS/TEN against the benefits\nIf an alternative is an option, choose an "
     "alternative", False),
    ("Monitor the plasma concentration.", False),
])
def test_dpwg_directive_rule_on_published_wordings(text, directs):
    assert dpwg_directs_change(text) is directs
