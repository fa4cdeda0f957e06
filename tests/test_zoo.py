"""What every model of the zoo must satisfy: valid tables, width variants, dynamic blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dream.workload.layers import layer_macs, validate_layer_table
from dream.workload.zoo import registry

NAMES = sorted(registry())


def _gmac(df: pd.DataFrame) -> float:
    return float(layer_macs(df).sum()) / 1e9


def test_the_eleven_models_are_registered():
    assert len(NAMES) == 11
    assert sorted(m.task for m in registry().values()) == sorted(
        ["ES", "GE", "HT", "DR", "AS", "KD", "SR", "SS", "OD", "DE", "PD"])


@pytest.mark.parametrize("name", NAMES)
def test_tables_validate(name: str) -> None:
    model = registry()[name]
    assert model.source
    for v in model.variants:
        df = model.layers(v.name)
        assert validate_layer_table(df, name).equals(df)
        df = df.to_pandas()
        assert df["name"].is_unique
        fc = df[df["op"] == "fc"]
        assert (fc["R"] == 1).all() and (fc["S"] == 1).all()
        dw = df[df["op"] == "dwconv"]
        assert (dw["C"] == dw["K"]).all()


@pytest.mark.parametrize("name", NAMES)
def test_narrower_widths_cost_less(name: str) -> None:
    model = registry()[name]
    full = model.layers()
    macs = {1.0: _gmac(full)}
    for w in (0.75, 0.5):
        df = model.build(w)
        assert len(df) == len(full) and list(df["name"]) == list(full["name"])
        macs[w] = _gmac(df)
    assert macs[0.5] < macs[0.75] < macs[1.0]


@pytest.mark.parametrize("name", NAMES)
def test_variants(name: str) -> None:
    model = registry()[name]
    by_width = {v.width: v.accuracy for v in model.variants}
    assert {0.5, 0.75, 1.0} <= set(by_width)
    assert by_width[1.0] == 1.0
    assert 0 < by_width[0.5] < by_width[0.75] < by_width[1.0]
    assert model.full.width == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_dynamic_blocks_valid(name: str) -> None:
    model = registry()[name]
    for v in model.variants:
        n = len(model.layers(v.name))
        for b in model.dynamic:
            assert 0 <= b.start < b.stop <= n
            assert b.kind in ("probability", "repeat")
            if b.kind == "probability":
                assert 0.0 <= b.p <= 1.0
        m = model.expected_multiplicity(n)
        assert m.shape == (n,) and np.all(m >= 0)
