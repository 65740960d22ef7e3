"""Prediction for pipeline samples (no guessing: missing or absurd covariates -> not_predicted) and cohort files."""

from __future__ import annotations

import pandas as pd
import pytest

from pgx_pipeline import schema
from pgx_pipeline.model.predict import predict_pipeline_files, predict_samples

SHEET_COLUMNS = ["sample_id", "sex", "age", "height_cm", "weight_kg", "race", "amiodarone", "enzyme_inducer"]


def _phenotype_rows(sample: str, cyp2c9="*1/*1", cyp_as="2.0", vkorc1="-1639 GG", cyp4f2=None) -> list[dict]:
    rows = []
    for gene, dip, act, key in (("CYP2C9", cyp2c9, cyp_as, cyp_as), ("VKORC1", "rs9923231 reference (C)/rs9923231 reference (C)", None, vkorc1),
                                ("CYP4F2", cyp4f2, None, None)):
        rows.append({"sample_id": sample, "input_id": None, "gene": gene, "diplotype": dip, "rank": 1, "candidate": 1,
                     "status": "called" if dip else "not_called", "allele1_function": None, "allele2_function": None,
                     "activity_score": act, "phenotype": None, "lookup_key": key, "candidates_agree": True,
                     "warnings": []})
    return rows


def _sheet(rows: list[list]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SHEET_COLUMNS, dtype=str).set_index("sample_id")


def test_missing_and_absurd_covariates_are_not_predicted(dose_model):
    phen = pd.DataFrame(
        _phenotype_rows("OK", "*1/*3", "1.0", "-1639 AG", "*1/*3")
        + _phenotype_rows("NOWEIGHT") + _phenotype_rows("ABSURD") + _phenotype_rows("NOSHEET")
        + _phenotype_rows("TEXT") + _phenotype_rows("NOCYP", cyp2c9=None, cyp_as=None)
    )
    sheet = _sheet([
        ["OK", "female", "63", "165", "72", "White", "0", "0"],
        ["NOWEIGHT", "male", "70", "180", "", "White", "0", "0"],
        ["ABSURD", "male", "300", "180", "0", "White", "0", "2"],
        ["TEXT", "male", "sixty", "180", "80", "", "0", "0"],
        ["NOCYP", "male", "60", "180", "80", "Asian", "0", "0"],
    ])
    out = predict_samples(dose_model, phen, sheet).set_index("sample_id")
    assert out.at["OK", "status"] == "predicted"
    assert out.at["OK", "predicted_class"] in ("low", "intermediate", "high")
    assert out.loc["OK", ["prob_low", "prob_intermediate", "prob_high"]].sum() == pytest.approx(1.0)
    assert out.at["OK", "dose_lower"] < out.at["OK", "predicted_dose"] < out.at["OK", "dose_upper"]
    assert any("CYP4F2" in r for r in out.at["OK", "reasons"])

    assert out.at["NOWEIGHT", "status"] == "not_predicted"
    assert list(out.at["NOWEIGHT", "reasons"]) == ["missing: weight_kg"]
    assert pd.isna(out.at["NOWEIGHT", "predicted_dose"]) and pd.isna(out.at["NOWEIGHT", "predicted_class"])

    absurd = " ".join(out.at["ABSURD", "reasons"])
    assert out.at["ABSURD", "status"] == "not_predicted"
    assert "implausible: age=300" in absurd and "implausible: weight_kg=0" in absurd
    assert "invalid: enzyme_inducer='2'" in absurd

    assert "missing: sample sheet row" in out.at["NOSHEET", "reasons"][0]
    text = " ".join(out.at["TEXT", "reasons"])
    assert "invalid: age='sixty'" in text and "missing: race" in text
    assert any(r.startswith("missing: CYP2C9 genotype") for r in out.at["NOCYP", "reasons"])


def test_out_of_distribution_is_flagged(dose_model):
    phen = pd.DataFrame(_phenotype_rows("TALL") + _phenotype_rows("RARE", "*1/*8", "1.5"))
    sheet = _sheet([["TALL", "male", "45", "215", "250", "Other", "0", "0"],
                    ["RARE", "female", "50", "160", "60", "White", "0", "0"]])
    out = predict_samples(dose_model, phen, sheet).set_index("sample_id")
    assert out.at["TALL", "status"] == "predicted" and out.at["TALL", "out_of_distribution"]
    reasons = " ".join(out.at["TALL", "reasons"])
    assert "out of training range: height_cm=215" in reasons and "out of training range: weight_kg=250" in reasons
    assert "treated as Unknown" in reasons
    assert out.at["RARE", "status"] == "predicted"
    assert any("only its activity score is used" in r for r in out.at["RARE", "reasons"])


def test_predictions_table_is_written_and_valid(dose_model, tmp_path):
    phen_path = tmp_path / "phen.parquet"
    schema.write_table(pd.DataFrame(_phenotype_rows("S1", vkorc1="-1639 AA")), phen_path, schema.PHENOTYPES)
    sheet_path = tmp_path / "sheet.tsv"
    sheet_path.write_text("\t".join(SHEET_COLUMNS) + "\nS1\tfemale\t70\t160\t60\tAsian\t1\t0\n")
    out = tmp_path / "pred.parquet"
    predict_pipeline_files([dose_model], phen_path, sheet_path, out)
    back = schema.read_table(out, schema.PREDICTIONS)
    assert back.loc[0, "status"] == "predicted" and back.loc[0, "drug"] == "warfarin"
    assert schema.read_metadata(out)["model_version"] == dose_model.version


def test_sheet_row_naming_another_vcf_does_not_lend_its_covariates(dose_model, tmp_path):
    """Two inputs whose sample is called SAMPLE: the sheet row naming lab1's file applies to lab1's SAMPLE only."""
    for lab in ("lab1", "lab2"):
        (tmp_path / lab).mkdir()
        (tmp_path / lab / "sample.vcf").write_text("##fileformat=VCFv4.2\n")
    phen_path = tmp_path / "phen.parquet"
    schema.write_table(pd.DataFrame(_phenotype_rows("SAMPLE")), phen_path, schema.PHENOTYPES)
    sheet_path = tmp_path / "sheet.tsv"
    sheet_path.write_text("\t".join(["vcf", *SHEET_COLUMNS]) + "\nlab1/sample.vcf\tSAMPLE\tfemale\t70\t160\t60\tAsian\t1\t0\n")
    mine = predict_pipeline_files([dose_model], phen_path, sheet_path, tmp_path / "a.parquet",
                                  [str(tmp_path / "lab1" / "sample.vcf")])
    other = predict_pipeline_files([dose_model], phen_path, sheet_path, tmp_path / "b.parquet",
                                   [str(tmp_path / "lab2" / "sample.vcf")])
    assert mine.loc[0, "status"] == "predicted"
    assert other.loc[0, "status"] == "not_predicted"
    assert any("sample sheet row" in r for r in other.loc[0, "reasons"])
    # An input whose files are not given (`model predict` without --vcf) is no file the row names: not lent either,
    # as the sample sheet's and outside-call tables' rule says (inputs.row_applies_to_input).
    unknown = predict_pipeline_files([dose_model], phen_path, sheet_path, tmp_path / "c.parquet")
    assert unknown.loc[0, "status"] == "not_predicted"
