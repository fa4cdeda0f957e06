"""Cost tables keyed by sub-accelerator type (dataflow, num_pes, noc_bw), and the bundled MAESTRO table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dream.config import build_spec, compose
from dream.cost import TableCostModel, cost_table
from dream.errors import ConfigError
from dream.hardware import Accelerator
from dream.workload.layers import make_layer_table
from dream.workload.xrbench import DATA_DIR, xrbench_models

BUNDLED = DATA_DIR / "xrbench_maestro_costs.csv"
LAYERS = make_layer_table([("a", "conv", 8, 8, 4, 4, 3, 3, 1), ("b", "conv", 8, 8, 4, 4, 1, 1, 1)])


def write(tmp_path: Path, text: str, name: str = "costs.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


SIG = """model,layer,dataflow,num_pes,noc_bw,latency_cycles,energy_nj
m,0,WS,1024,128,100,1.5
m,1,WS,1024,128,50,0.5
m,0,OS,1024,128,300,2.5
m,1,OS,1024,128,70,0.25
"""


def test_rows_match_every_sub_accelerator_of_that_type_whatever_its_name(tmp_path):
    cm = TableCostModel(write(tmp_path, SIG))
    assert cm.by_signature
    for name in ("ws0", "big", "acc3"):
        lat, en = cm.costs(LAYERS, Accelerator(name, "WS", 1024, noc_bw=128), "m")
        assert lat.tolist() == [100, 50] and en.tolist() == [1.5, 0.5]
    lat, _ = cm.costs(LAYERS, Accelerator("ws0", "OS", 1024, noc_bw=128), "m")
    assert lat.tolist() == [300, 70]
    # two same-type sub-accelerators under different names share one cached table
    t1 = cost_table(cm, "m", None, LAYERS, Accelerator("x", "WS", 1024, noc_bw=128))
    assert cost_table(cm, "m", None, LAYERS, Accelerator("y", "WS", 1024, noc_bw=128)) is t1
    # ... but a different clock turns the same cycles into other milliseconds
    t2 = cost_table(cm, "m", None, LAYERS, Accelerator("y", "WS", 1024, noc_bw=128, clock_ghz=0.5))
    assert t2.latency_ms.tolist() == [2 * v for v in t1.latency_ms.tolist()]


def test_another_pe_count_or_noc_bandwidth_is_another_type(tmp_path):
    cm = TableCostModel(write(tmp_path, SIG))
    for acc in (Accelerator("ws0", "WS", 2048, noc_bw=128), Accelerator("ws0", "WS", 1024, noc_bw=256)):
        with pytest.raises(ConfigError) as exc:
            cm.costs(LAYERS, acc, "m")
        msg = str(exc.value)
        assert "costs.csv" in msg and f"WS/{acc.num_pes}/{acc.noc_bw:g}" in msg and "layer 0" in msg


@pytest.mark.parametrize("text, needle", [
    (SIG.replace("m,0,OS", "m,0,XS"), "row 3: dataflow = 'XS'; allowed: ['WS', 'OS', 'RS']"),
    (SIG.replace("m,1,WS,1024", "m,1,WS,10.5"), "row 2: num_pes = 10.5 must be a positive integer"),
    (SIG.replace("m,1,WS,1024,128", "m,1,WS,1024,0"), "row 2: noc_bw = 0 must be a number > 0"),
    (SIG.replace("m,1,OS,1024,128", "m,0,OS,1024,128"), "duplicate entry for model 'm' layer 0 on "
                                                         "sub-accelerator type 'OS/1024/128'"),
    (SIG.replace(",noc_bw", "").replace(",128,", ","), "lacks column(s) ['noc_bw']"),
    (SIG.replace("noc_bw,", "noc_bw,accelerator,").replace(",128,", ",128,ws0,"), "both an accelerator column"),
])
def test_bad_signature_tables_name_the_file_row_and_column(tmp_path, text, needle):
    with pytest.raises(ConfigError) as exc:
        TableCostModel(write(tmp_path, text))
    msg = str(exc.value)
    assert needle in msg and "costs.csv" in msg and "\n" not in msg


def test_name_keyed_tables_still_match_by_name(tmp_path):
    cm = TableCostModel(write(tmp_path, "model,layer,accelerator,latency_cycles,energy_nj\nm,0,ws0,5,1\nm,1,ws0,6,2\n"))
    assert not cm.by_signature
    assert cm.costs(LAYERS, Accelerator("ws0", "OS", 64), "m")[0].tolist() == [5, 6]
    with pytest.raises(ConfigError, match="accelerator 'ws1'"):
        cm.costs(LAYERS, Accelerator("ws1", "WS", 64), "m")


def test_bundled_maestro_table_gives_xrbenchs_model_totals():
    """Whole-model sums of the bundled table are MAESTRO's totals (XRBench's figures, 1 GHz)."""
    cm = TableCostModel(BUNDLED)
    models = xrbench_models()
    acc = Accelerator("ws0", "WS", 4096, noc_bw=256)
    expect = {"ES_RITNet": (1503136, 35329700.0), "GE_FBNet_C": (4222037, 34922200.0),
              "HT_hand_graph_cnn_half": (8561680, 207433000.0), "AS_ED_TCN": (1384624, 13165600.0)}
    for name, (cycles, nj) in expect.items():
        lat, en = cm.costs(models[name].layers(), acc, name)
        assert lat.sum() == cycles and en.sum() == pytest.approx(nj, rel=1e-5)
    lat, _ = cm.costs(models["ES_RITNet"].layers(), Accelerator("o", "OS", 1024, noc_bw=128), "ES_RITNet")
    assert lat.sum() == 5265920
    # 4 models x 21 types, every layer
    df = pd.read_csv(BUNDLED)
    assert len(df) == 21 * sum(len(models[m].layers()) for m in expect)


def test_one_signature_table_serves_every_hardware_setting():
    spec = build_spec(compose(["workload=xrbench_vr_gaming", "hardware=quad_4k_ws_os", "cost=table",
                               f"cost.params.path={BUNDLED}"]))
    for acc in spec.system.accelerators:
        for t in spec.scenario.tasks:
            model = spec.catalog[t.model]
            assert len(cost_table(spec.cost_model, model.name, None, model.layers(), acc)) == len(model.layers())
