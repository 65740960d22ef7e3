"""Rows of a DataFrame as plain dicts, the values `DataFrame.to_dict("records")` gives, built column by column.

`to_dict("records")` boxes every cell through the Arrow-backed string arrays the tables are read with; converting
each column once is 3-4x faster (0.6 -> 0.15 s for a 1,601-sample phenotypes part).  Missing strings stay NaN and
numbers become Python scalars, as `to_dict` gives them, so code written against `to_dict` reads the same values
(tests/test_records.py checks this on the stage tables).
"""

from __future__ import annotations

import pandas as pd


def records(df: pd.DataFrame) -> list[dict]:
    names = list(df.columns)
    arrays = [df[c].to_numpy(dtype=object) for c in names]
    return [dict(zip(names, values)) for values in zip(*arrays)]
