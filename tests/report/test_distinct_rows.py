"""The report reads guidance and genotype rows once per distinct row (`DistinctRows`): two rows may share a record
only when every column but the sample's is equal, lists compared by value."""

import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pgx_pipeline.report.context import DistinctRows


def _coded(rows: DistinctRows, sample: str) -> list[tuple[int, dict]]:
    return [(c, rows.record(c)) for c in rows.sample_codes(sample).tolist()]


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "sample_id": ["A", "A", "B", "B", "C", "C", "D"],
        "drug": ["codeine"] * 7,
        "genes": [["CYP2D6"], ["CYP2D6", "UGT1A1"], ["CYP2D6"], [], None, ["CYP2D6\x1fUGT1A1"],
                  np.array(["CYP2D6", "UGT1A1"], dtype=object)],
        "score": [1.0, np.nan, 1.0, np.nan, np.nan, 2.0, np.nan],
        "text": ["a", "a", "a", "a", "a", "a", None],
    })


def test_rows_equal_in_every_column_but_the_sample_share_one_record():
    rows = DistinctRows(_frame())
    a, b = _coded(rows, "A"), _coded(rows, "B")
    assert a[0][0] == b[0][0] and a[0][1] is b[0][1]          # ["CYP2D6"], 1.0, "a" in both
    assert a[0][1] == {"drug": "codeine", "genes": a[0][1]["genes"], "score": 1.0, "text": "a"}
    assert list(a[0][1]["genes"]) == ["CYP2D6"]


def test_lists_differing_in_length_nullness_or_a_separator_are_different_rows():
    rows = DistinctRows(_frame())
    codes = {s: [c for c, _ in _coded(rows, s)] for s in "ABCD"}
    two_genes, empty, null, joined_text = codes["A"][1], codes["B"][1], codes["C"][0], codes["C"][1]
    assert len({codes["A"][0], two_genes, empty, null, joined_text}) == 5
    # D: the same two genes as A's second row but another text (null): a different row
    assert codes["D"][0] != two_genes


def test_a_list_held_as_an_array_equals_the_same_list():
    df = _frame()
    df.loc[6, "text"] = "a"
    rows = DistinctRows(df)
    assert _coded(rows, "D")[0][0] == _coded(rows, "A")[1][0]


def test_derived_forms_follow_table_order_and_are_made_once_per_distinct_row():
    made = []
    rows = DistinctRows(_frame(), derive=lambda r: made.append(r) or len(made))
    assert rows.derived("A") == [1, 2] and rows.derived("B") == [1, 3]
    assert len(made) == 3 and rows.derived("missing") == []


def test_sample_json_is_json_dumps_of_the_context_byte_for_byte(tmp_path):
    """sample_json reuses each shared form's text (memo.py): it must equal json.dumps of the whole context, for
    patients sharing forms, on the first and the second time."""
    import json

    from pgx_pipeline.report import exports
    from pgx_pipeline.report.context import load_input_tables, sample_contexts
    from pgx_pipeline.report.memo import SharedForm
    from tests.report.conftest import INPUT, write_results

    root = write_results(tmp_path / "results", {"A": "pgx01", "B": "pgx01", "C": "outside"})
    contexts = list(sample_contexts(load_input_tables(root, INPUT), report_date="2026-01-01"))
    assert any(type(g) is SharedForm for c in contexts for d in c["drugs"] for g in d["guidelines"])
    for _ in range(2):
        for ctx in contexts:
            expected = json.dumps(ctx, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
            assert exports.sample_json(ctx) == expected


def test_integer_lists_are_compared_by_value():
    """CALLS' missing_positions is a list of integers: [1, 2] and [12] must not become one row."""
    df = pd.DataFrame({"sample_id": ["A", "B", "C", "D"],
                       "missing_positions": [[1, 2], [12], np.array([1, 2]), []]})
    rows = DistinctRows(df)
    a, b, c, d = (_coded(rows, s)[0][0] for s in "ABCD")
    assert a == c and len({a, b, d}) == 3


def test_pages_from_shared_forms_equal_pages_from_plain_copies(tmp_path):
    """The page reuses what it wrote for a shared guideline row, drug entry or evidence block (memo.py); written
    from a plain copy of the same context (nothing shared, nothing reused) it must be the same page, for patients
    with the same and with other genotypes, in both orders."""
    import json

    from pgx_pipeline.report.context import load_input_tables, sample_contexts
    from pgx_pipeline.report.html import render_patient_html
    from tests.report.conftest import INPUT, write_results

    root = write_results(tmp_path / "results", {"A": "pgx01", "B": "pgx01", "C": "outside", "D": "normal"})
    contexts = list(sample_contexts(load_input_tables(root, INPUT), report_date="2026-01-01"))
    for order in (contexts, contexts[::-1]):
        for ctx in order:
            plain = json.loads(json.dumps(ctx))
            assert render_patient_html(ctx) == render_patient_html(plain)


def test_a_drug_entry_is_reused_only_for_the_same_rows_fields_and_message_numbering():
    from pgx_pipeline.report.context import drug_key
    from pgx_pipeline.report.memo import SharedForm

    row = SharedForm(source="CPIC", messages=["note"])
    entry = {"drug": "codeine", "anchor": "drug-codeine", "genes": ["CYP2D6"], "priority": "act",
             "priority_label": "Act", "has_guidance": True, "guidelines": [row],
             "message_notes": [[{"id": 1, "text": "note", "first": True, "first_drug": "codeine"}]]}
    renumbered = {**entry, "message_notes": [[{"id": 2, "text": "note", "first": False, "first_drug": "tramadol"}]]}
    same_text_other_row = {**entry, "guidelines": [SharedForm(row)]}
    assert drug_key(entry) == drug_key({**entry})
    assert len({drug_key(entry), drug_key(renumbered), drug_key(same_text_other_row),
                drug_key({**entry, "priority": "consider"})}) == 4
    assert drug_key({**entry, "new_field": 1}) is None                  # a field the key does not name
    assert drug_key({**entry, "guidelines": [dict(row)]}) is None        # a row that is not a shared form


def test_an_empty_list_and_a_list_of_one_empty_text_are_different_rows():
    """Lists are coded item by item: [] and [""] (one joined text, "", for both) stay apart."""
    df = pd.DataFrame({"sample_id": ["A", "B", "C", "D"], "messages": [[], [""], None, [""]]})
    rows = DistinctRows(df)
    a, b, c, d = (_coded(rows, s)[0][0] for s in "ABCD")
    assert len({a, b, c}) == 3 and b == d
    assert [list(rows.record(x)["messages"]) for x in (a, b)] == [[], [""]]
    assert rows.record(c)["messages"] is None


def test_a_null_item_is_an_item():
    df = pd.DataFrame({"sample_id": ["A", "B", "C", "D"], "messages": [[None], [], None, ["x", None]]})
    rows = DistinctRows(df)
    codes = [_coded(rows, s)[0][0] for s in "ABCD"]
    assert len(set(codes)) == 4
    assert list(rows.record(codes[3])["messages"]) == ["x", None]


def _parquet_rows(tmp_path, table: pa.Table, dictionary: list[str]) -> pa.Table:
    """`table` written with a row group every 2 rows and read back as the report reads it: each row group's
    strings come with the row group's own dictionary."""
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=2)
    read = pq.ParquetFile(path, read_dictionary=dictionary).read()
    assert read.column(dictionary[0]).num_chunks > 1
    return read


def test_rows_read_in_row_groups_with_their_own_dictionaries_are_coded_alike(tmp_path):
    table = pa.table({"sample_id": ["A", "A", "B", "B", "C", "C"],
                      "drug": ["x", "y", "y", "z", "x", None],
                      "genes": [["G1"], ["G2"], ["G2"], [], ["G1"], None]})
    rows = DistinctRows(_parquet_rows(tmp_path, table, ["sample_id", "drug"]))
    a, b, c = (_coded(rows, s) for s in "ABC")
    assert a[0][0] == c[0][0] and a[1][0] == b[0][0]
    assert len({a[0][0], a[1][0], b[1][0], c[1][0]}) == 4
    assert c[1][1] == {"drug": None, "genes": None}
    assert [r["drug"] for _, r in a + b] == ["x", "y", "y", "z"]


def test_records_keep_the_types_pandas_gives_the_whole_table(tmp_path):
    """An integer column with a null anywhere (guidance's fda_section) reads as floats in every row, as
    `to_pandas` of the whole table has it; so does an integer list column with a null item."""
    table = pa.table({"sample_id": ["A", "B", "C"],
                      "section": pa.array([1, 1, None], pa.int32()),
                      "rank": pa.array([1, 2, 2], pa.int32()),
                      "positions": pa.array([[5], [5, None], [5]], pa.list_(pa.int64())),
                      "flag": pa.array([True, None, True])})
    rows = DistinctRows(_parquet_rows(tmp_path, table, ["sample_id"]))
    whole = table.to_pandas()
    for i, sample in enumerate("ABC"):
        ((_, record),) = _coded(rows, sample)
        expected = whole.iloc[i]
        assert type(record["section"]) is (float if i < 2 else type(None))
        assert type(record["rank"]) is int and record["rank"] == expected["rank"]
        assert record["positions"].dtype == expected["positions"].dtype == np.float64
        assert record["flag"] == expected["flag"]


def test_a_unit_of_two_inputs_gives_each_input_its_own_rows(tmp_path):
    """A batch's stage tables hold several inputs; they are split by input_id, never by sample id: a sample name in
    both inputs keeps each input's own rows, exactly as when each input is read from its own results folder."""
    import json

    from pgx_pipeline import schema
    from pgx_pipeline.report.context import load_input_tables, load_unit_tables, sample_contexts
    from tests.report.conftest import write_results

    pictures = {"in-a": {"S1": "pgx01", "S2": "normal"}, "in-b": {"S1": "outside"}}
    alone = {i: write_results(tmp_path / i, samples, input_id=i) for i, samples in pictures.items()}
    unit, batch = tmp_path / "batch", "batch-000"
    tables = {"samples": ("ingest/{}/genes-0/part-000.samples.parquet", schema.SAMPLES),
              "genotypes": ("ingest/{}/genes-0/part-000.genotypes.parquet", schema.GENOTYPES),
              "calls": ("calls/{}/part-000.parquet", schema.CALLS),
              "phenotypes": ("phenotypes/{}/part-000.parquet", schema.PHENOTYPES),
              "guidance": ("guidance/{}/part-000.parquet", schema.GUIDANCE)}
    def of_input(i: str, pattern: str, table) -> pa.Table:  # a one-input unit may leave input_id null
        t = schema.read_arrow(alone[i] / pattern.format(i), table)
        return t.set_column(t.schema.get_field_index("input_id"), "input_id", pa.array([i] * len(t), pa.string()))

    for pattern, table in tables.values():
        both = pa.concat_tables([of_input(i, pattern, table) for i in pictures])
        schema.write_table(both, unit / pattern.format(batch), table, {"input_id": batch})
    shutil.copytree(alone["in-a"] / "knowledge", unit / "knowledge")

    def texts(tables_of_input) -> dict[str, str]:
        return {c["header"]["sample_id"]: json.dumps(c, sort_keys=True, default=str)
                for c in sample_contexts(tables_of_input, report_date="2026-01-01")}

    by_input = load_unit_tables(unit, batch)
    assert set(by_input) == set(pictures)
    for i in pictures:
        assert texts(by_input[i]) == texts(load_input_tables(alone[i], i))
    assert texts(by_input["in-a"])["S1"] != texts(by_input["in-b"])["S1"]
