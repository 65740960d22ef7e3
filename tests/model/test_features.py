"""Genotype and covariate -> feature mapping, and the IWPC Appendix S4 VKORC1 imputation (cases from the paper)."""

from __future__ import annotations

import math

import pytest

from pgx_pipeline.model.features import (
    age_decade_from_bin,
    age_decade_from_years,
    cyp2c9_features,
    cyp4f2_star3_count,
    impute_vkorc1_iwpc,
    normalise_race,
    vkorc1_a_count,
    vkorc1_from_pipeline,
)


@pytest.mark.parametrize(
    "diplotype, star2, star3, activity",
    [
        ("*1/*1", 0, 0, 2.0),
        ("*1/*2", 1, 0, 1.5),
        ("*1/*3", 0, 1, 1.0),
        ("*2/*2", 2, 0, 1.0),
        ("*2/*3", 1, 1, 0.5),
        ("*3/*3", 0, 2, 0.0),
    ],
)
def test_cyp2c9_common_diplotypes(diplotype, star2, star3, activity):
    f = cyp2c9_features(diplotype)
    assert (f["cyp2c9_star2"], f["cyp2c9_star3"], f["cyp2c9_activity"]) == (star2, star3, activity)


@pytest.mark.parametrize("diplotype, activity", [("*1/*11", 1.5), ("*1/*5", 1.5), ("*1/*6", 1.0), ("*1/*13", 1.0)])
def test_cyp2c9_rare_alleles_map_through_activity_only(diplotype, activity):
    # CPIC activity values: *5, *11 = 0.5; *6, *13 = 0 (PharmCAT phenotype/CYP2C9.json).
    f = cyp2c9_features(diplotype)
    assert math.isnan(f["cyp2c9_star2"]) and math.isnan(f["cyp2c9_star3"])
    assert f["cyp2c9_activity"] == activity


@pytest.mark.parametrize("diplotype", [None, "", "*1/*999", "Indeterminate", "*1"])
def test_cyp2c9_unknown_is_missing_not_normal(diplotype):
    f = cyp2c9_features(diplotype)
    assert all(math.isnan(v) for v in f.values())


def test_cyp2c9_given_activity_score_wins():
    # An outside call may carry only an activity score.
    assert cyp2c9_features(None, "1.0")["cyp2c9_activity"] == 1.0
    assert cyp2c9_features("*1/*3", "1.0")["cyp2c9_star3"] == 1


@pytest.mark.parametrize("text, count", [("G/G", 0), ("A/G", 1), ("G/A", 1), ("A/A", 2), ("-1639 AG", 1),
                                         ("-1639 GG", 0), ("-1639 AA", 2)])
def test_vkorc1_a_allele_count(text, count):
    assert vkorc1_a_count(text) == count


@pytest.mark.parametrize("text", [None, "", "C/T", "unknown"])
def test_vkorc1_unknown(text):
    assert math.isnan(vkorc1_a_count(text))


def test_vkorc1_from_pipeline_diplotype_text():
    # dbSNP strand: reference C = coding G, variant T = coding A.
    assert vkorc1_from_pipeline(None, "rs9923231 reference (C)/rs9923231 variant (T)") == 1
    assert vkorc1_from_pipeline(None, "rs9923231 variant (T)/rs9923231 variant (T)") == 2
    assert vkorc1_from_pipeline(None, "rs9923231 reference (C)/rs9923231 reference (C)") == 0
    assert vkorc1_from_pipeline("-1639 AG", "rs9923231 reference (C)/rs9923231 reference (C)") == 1


# Appendix S4 of the IWPC NEJM 2009 supplement, written out by hand:
#   race not Black and not missing/mixed, rs2359612 C/C -> G/G, C/T -> A/G, T/T -> A/A;
#   any race, rs9934438 C/C -> G/G, C/T -> A/G, T/T -> A/A;
#   race not Black and not missing/mixed, rs8050894 G/G -> G/G, C/G -> A/G, C/C -> A/A.
S4_CASES = [
    # (-1639, race, 2255, 1173, 1542) -> imputed -1639
    ((None, "White", "C/C", None, None), "G/G"),
    ((None, "White", "C/T", None, None), "A/G"),
    ((None, "Asian", "T/T", None, None), "A/A"),
    ((None, "Black or African American", "C/C", None, None), None),
    ((None, "Unknown", "T/T", None, None), None),
    ((None, "Black or African American", None, "C/C", None), "G/G"),
    ((None, "Black or African American", None, "C/T", None), "A/G"),
    ((None, "Unknown", None, "T/T", None), "A/A"),
    ((None, "White", None, None, "G/G"), "G/G"),
    ((None, "White", None, None, "C/G"), "A/G"),
    ((None, "Asian", None, None, "C/C"), "A/A"),
    ((None, "Black or African American", None, None, "C/C"), None),
    ((None, "Unknown", None, None, "G/G"), None),
    # 2255 is tried before 1173, 1173 before 1542.
    ((None, "White", "C/C", "T/T", "C/C"), "G/G"),
    ((None, "Black or African American", "C/C", "T/T", None), "A/A"),
    ((None, "White", None, "C/T", "C/C"), "A/G"),
    # A measured -1639 is never replaced.
    (("A/A", "White", "C/C", "C/C", "G/G"), "A/A"),
    ((None, "White", None, None, None), None),
]


@pytest.mark.parametrize("args, expected", S4_CASES)
def test_vkorc1_appendix_s4_imputation(args, expected):
    assert impute_vkorc1_iwpc(*args) == expected


@pytest.mark.parametrize("text, decade", [("10 - 19", 1), ("60 - 69", 6), ("90+", 9), (None, None)])
def test_age_bins(text, decade):
    got = age_decade_from_bin(text)
    assert (math.isnan(got) if decade is None else got == decade)


@pytest.mark.parametrize("years, decade", [(63, 6), (60, 6), (59.9, 5), (95, 9), (104, 9)])
def test_age_years_to_iwpc_decade(years, decade):
    assert age_decade_from_years(years) == decade


def test_cyp4f2_and_race():
    assert cyp4f2_star3_count("*1/*3") == 1 and cyp4f2_star3_count("*3/*3") == 2
    assert math.isnan(cyp4f2_star3_count(None))
    assert normalise_race("white") == ("White", None)
    race, note = normalise_race("Native Hawaiian or Other Pacific Islander")
    assert race == "Unknown" and "not an IWPC training category" in note
