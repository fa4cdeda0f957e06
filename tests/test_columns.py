"""Column tables (dream.columns): read-only, and the same table through pandas and Arrow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dream.columns import Columns
from dream.errors import ConfigError
from dream.workload.layers import LayerTable, make_layer_table, validate_layer_table

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
texts = st.text(max_size=6)  # unicode, empty strings included


@st.composite
def tables(draw):
    n = draw(st.integers(0, 12))
    cats = draw(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=4, unique=True))
    data = {
        "i": np.array(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n)), np.int64),
        "f": np.array(draw(st.lists(floats, min_size=n, max_size=n)), np.float64),
        "s": np.array(draw(st.lists(texts, min_size=n, max_size=n)), dtype=object),
        "b": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool),
        "c": np.array(draw(st.lists(st.integers(0, len(cats) - 1), min_size=n, max_size=n)), np.int64),
    }
    return Columns(data, {"c": cats}), data, cats


@settings(max_examples=150, deadline=None)
@given(tables())
def test_arrow_and_pandas_give_the_same_table(drawn):
    table, data, cats = drawn
    arrow = table.to_arrow()
    frame = table.to_pandas()
    assert arrow.column_names == frame.columns.tolist() == ["i", "f", "s", "b", "c"]
    assert arrow["i"].to_pylist() == data["i"].tolist() == frame["i"].tolist()
    # NaN is a null in Arrow (as pandas' own writer stores it), every other float exact
    f = arrow["f"].to_pylist()
    assert [v is None for v in f] == np.isnan(data["f"]).tolist()
    assert [v for v in f if v is not None] == data["f"][~np.isnan(data["f"])].tolist()
    assert arrow["s"].to_pylist() == data["s"].tolist() == frame["s"].tolist()
    assert arrow["b"].to_pylist() == data["b"].tolist()
    names = [cats[k] for k in data["c"]]
    assert arrow["c"].to_pylist() == names == frame["c"].tolist()
    assert arrow.schema.field("c").type.value_type == pa.string()
    assert arrow["c"].combine_chunks().dictionary.to_pylist() == cats  # category order kept
    assert list(frame["c"].cat.categories) == cats
    assert table["c"].tolist() == names


def test_columns_are_read_only_and_private():
    k = np.array([1, 2, 3])
    t = Columns({"k": k, "x": [0.5, 1.5, 2.5]})
    k[0] = 99  # the caller's array: the table holds its own copy
    assert t["k"].tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        t["k"][0] = 5
    assert t.shape == (3, 2) and t.columns == ["k", "x"] and "x" in t and "y" not in t
    assert t.replace(k=[4, 5, 6])["k"].tolist() == [4, 5, 6] and t["k"].tolist() == [1, 2, 3]
    assert t.take(np.array([2, 0]))["x"].tolist() == [2.5, 0.5]
    with pytest.raises(ValueError, match="different lengths"):
        Columns({"a": [1, 2], "b": [1]})
    with pytest.raises(ValueError, match="codes outside"):
        Columns({"c": [0, 2]}, {"c": ["a", "b"]})


def test_equals_compares_values_nan_and_order():
    a = Columns({"x": [1.0, np.nan], "s": ["a", "b"]})
    assert a.equals(Columns({"x": [1.0, np.nan], "s": ["a", "b"]}))
    assert not a.equals(Columns({"s": ["a", "b"], "x": [1.0, np.nan]}))
    assert not a.equals(Columns({"x": [1.0, 2.0], "s": ["a", "b"]}))
    assert not a.equals(a.to_pandas())


ROWS = [("a", "conv", 8, 4, 6, 6, 3, 3, 1), ("b", "dwconv", 8, 8, 3, 3, 3, 3, 2),
        ("c", "fc", 10, 8, 1, 1, 1, 1, 1)]


def test_a_dataframe_and_a_layer_table_validate_to_the_same_table():
    table = make_layer_table(ROWS)
    assert isinstance(table, LayerTable) and table["K"].dtype == np.int64
    frame = table.to_pandas()
    assert validate_layer_table(frame, "t").equals(table)
    assert validate_layer_table(table, "t").equals(table)
    # numbers written as text or floats (a CSV read by pandas) are the same layers
    as_text = frame.astype({"K": str, "C": float})
    assert validate_layer_table(as_text, "t").equals(table)
    # name and stride are optional
    bare = validate_layer_table(frame.drop(columns=["name", "stride"]), "t")
    assert bare["name"].tolist() == ["layer0", "layer1", "layer2"] and bare["stride"].tolist() == [1, 1, 1]


@pytest.mark.parametrize("column, value, message", [
    ("K", "x", "row 2 (layer 1): column K must be a positive integer"),
    ("K", 1.5, "row 2 (layer 1): column K must be a positive integer"),
    ("K", 0, "row 2 (layer 1): column K = 0 must be a positive integer"),
    ("R", np.nan, "row 2 (layer 1): column R must be a positive integer"),
    ("C", 7, "row 2 (layer 1): a dwconv layer needs C == K"),
    ("op", "pool", "unknown op(s) ['pool']"),
])
def test_bad_cells_name_row_and_column(column, value, message):
    frame = make_layer_table(ROWS).to_pandas().astype({column: object})
    frame.loc[1, column] = value
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        validate_layer_table(frame, "t")
