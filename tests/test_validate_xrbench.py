"""XRBench's model encodings, the hardware generated from XRBench's definitions, and `dream validate xrbench`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from dream.config import CONF_DIR, build_spec, compose
from dream.cost import AnalyticalCostModel
from dream.errors import ConfigError
from dream.hardware import Accelerator
from dream.hardware.config import system_from_config
from dream.validate import (
    SCENARIOS,
    TOL_MODEL,
    TOL_OVERALL,
    cmd_validate,
    load_reference,
    xrbench_system,
    xrbench_task_scores,
)
from dream.workload.layers import layer_macs
from dream.workload.xrbench import read_xrbench_shapes, to_layer_table, xrbench_models

XRBENCH_WORKLOADS = sorted(p.stem for p in (CONF_DIR / "workload").glob("xrbench_*.yaml"))


def test_seven_xrbench_scenarios_name_xrbench_networks_at_xrbench_rates():
    assert len(XRBENCH_WORKLOADS) == 7
    models = xrbench_models()
    for w in XRBENCH_WORKLOADS:
        spec = build_spec(compose([f"workload={w}"]))
        for t in spec.scenario.tasks:
            assert t.name == t.model and t.model in models and float(t.fps).is_integer()
    spec = build_spec(compose(["workload=xrbench_vr_gaming"]))
    assert {t.name: (t.fps, t.upstream, t.trigger_prob) for t in spec.scenario.tasks} == {
        "ES_RITNet": (60, None, 1.0), "GE_FBNet_C": (60, "ES_RITNet", 1.0), "HT_hand_graph_cnn_half": (45, None, 1.0)}
    kd_sr = {w: build_spec(compose([f"workload={w}"])).scenario.tasks[1].trigger_prob
             for w in ("xrbench_ar_assistant", "xrbench_outdoor_activity_a", "xrbench_outdoor_activity_b")}
    assert kd_sr == {"xrbench_ar_assistant": 0.5, "xrbench_outdoor_activity_a": 0.2, "xrbench_outdoor_activity_b": 0.2}


def test_encodings_keep_xrbenchs_layers_and_macs():
    shapes = read_xrbench_shapes()
    models = xrbench_models()
    counts = {"ES_RITNet": 42, "GE_FBNet_C": 63, "HT_hand_graph_cnn_half": 224, "DR_RGBd_200": 34,
              "AS_ED_TCN": 4, "KD_res8_narrow": 8, "ASR_EM_24L": 120, "SS_HRViT_b1": 423,
              "OD_D2go_FasterRCNN": 138, "DE_midas_v21_small": 92, "PD_Plane_RCNN_Quarter": 153}
    for name, n in counts.items():
        assert len(models[name].layers()) == n and [v.name for v in models[name].variants] == ["w1.0"]
    # valid convolutions: output (Y-R+1) x (X-S+1); MACs as XRBench counts them (ES, AS: no odd layers)
    assert layer_macs(models["ES_RITNet"].layers()).sum() == 1040138240
    assert layer_macs(models["AS_ED_TCN"].layers()).sum() == 354457600
    odd = (shapes["Y"] < shapes["R"]) | (shapes["X"] < shapes["S"])
    assert int(odd.sum()) == 18
    # the analytical model costs the 18 small layers like any other: positive and finite
    for name in shapes.loc[odd, "model"].unique():
        lat, en = AnalyticalCostModel().costs(models[name].layers(), Accelerator("a", "OS", 1024, noc_bw=128))
        assert np.isfinite(lat).all() and (lat > 0).all() and (en > 0).all()


def test_layers_smaller_than_their_kernel_get_a_one_by_one_output():
    shapes = pd.DataFrame({"model": "m", "layer": [0, 1, 2], "name": ["a", "b", "c"], "K": 4, "C": 2,
                           "Y": [2, 5, 10], "X": [2, 4, 8], "R": [3, 5, 3], "S": [3, 5, 1]})
    t = to_layer_table(shapes)
    assert t["Y"].tolist() == [1, 1, 8] and t["X"].tolist() == [1, 1, 8]
    assert t["R"].tolist() == [3, 5, 3] and (t["op"] == "conv").all() and (t["stride"] == 1).all()


def test_bad_shape_files_are_one_line_errors(tmp_path):
    p = tmp_path / "shapes.csv"
    p.write_text("model,layer,name,K,C,Y,X,R\nm,0,a,1,1,1,1,1\n")
    with pytest.raises(ConfigError, match=r"shapes.csv.*lacks column\(s\) \['S'\]"):
        read_xrbench_shapes(p)
    p.write_text("model,layer,name,K,C,Y,X,R,S\nm,0,a,1,0,1,1,1,1\n")
    with pytest.raises(ConfigError, match=r"row 1: column C = 0 must be a positive integer"):
        read_xrbench_shapes(p)


def test_hardware_follows_xrbenchs_definitions():
    s = xrbench_system("Dual_4K_BigLittle", "WS_OS")
    assert [(a.dataflow, a.num_pes, a.noc_bw) for a in s.accelerators] == [("WS", 3072, 128), ("OS", 1024, 128)]
    s = xrbench_system("Dual_8K_LittleBig", "RS_RS")
    assert [(a.num_pes, a.noc_bw) for a in s.accelerators] == [(2048, 256), (6144, 256)]
    s = xrbench_system("Quad_4K", "WS_OS_WS_OS")
    assert [a.dataflow for a in s.accelerators] == ["WS", "OS", "WS", "OS"] and s.num_pes == 4096
    assert xrbench_system("Single_4K", "WS").accelerators[0].noc_bw == 256
    with pytest.raises(ConfigError, match="unknown XRBench hardware 'Triple_4K'"):
        xrbench_system("Triple_4K", "WS_WS_WS")
    with pytest.raises(ConfigError, match="Quad_8K has 4 sub-accelerators"):
        xrbench_system("Quad_8K", "WS_OS")
    # the reference covers 2 scenarios x 38 combinations, all generated here
    ref = load_reference()
    combos = ref[["scenario", "hw_config", "dataflows"]].drop_duplicates()
    assert len(combos) == 76 and set(combos["scenario"]) == set(SCENARIOS)
    for hw, flows in combos[["hw_config", "dataflows"]].drop_duplicates().itertuples(index=False):
        xrbench_system(hw, flows)


def test_task_scores_follow_xrbenchs_scoring_module():
    """Hand-computed: A has two completed frames (one 0.1 ms late) and one drop; B one frame on time."""
    jobs = pd.DataFrame({
        "task": ["A", "A", "A", "B", "B"],
        "status": ["on_time", "late", "dropped", "on_time", "unfinished"],
        "release_ms": [0.0, 16.0, 32.0, 0.0, 33.0],
        "deadline_ms": [16.0, 32.0, 48.0, 33.0, 66.0],
        "finish_ms": [10.0, 32.1, np.nan, 20.0, np.nan],
        "energy_nj": [150e6, 300e6, 0.0, 0.0, 0.0],
    })
    s = xrbench_task_scores(jobs, 0.0, 700.0)
    rt = np.array([1 / (1 + np.exp(15 * -6.0)), 1 / (1 + np.exp(15 * 0.1))])
    en = np.array([0.9, 0.8])
    assert s.loc["A", "rt"] == pytest.approx(rt.mean()) and s.loc["A", "en"] == pytest.approx(0.85)
    assert s.loc["A", "ux"] == pytest.approx(2 / 3)
    assert s.loc["A", "score"] == pytest.approx((rt * en).sum() / 3 * (2 / 3))
    # the unfinished B job is not logged: one frame, no drop
    assert s.loc["B", "ux"] == 1.0 and s.loc["B", "en"] == 1.0


def test_unknown_target_or_scenario_exits_2(capsys):
    for args in (["maestro"], ["xrbench", "--scenario", "AR_gaming"]):
        with pytest.raises(SystemExit) as exc:
            cmd_validate(args)
        assert exc.value.code == 2


def _has_overlay() -> bool:
    return (CONF_DIR / "experiment" / "xrbench.yaml").is_file()


@pytest.mark.skipif(not _has_overlay(), reason="the +experiment=xrbench overlay (XRBench's runtime "
                    "semantics) is not in dream/conf/experiment/ yet")
def test_dream_validate_xrbench_reproduces_all_76_configurations(capsys):
    """What docs/validation.md promises, run as CI runs it: every configuration within tolerance."""
    with pytest.raises(SystemExit) as exc:
        cmd_validate(["xrbench"])
    out = capsys.readouterr().out
    assert f"overall score within {TOL_OVERALL} points: 76/76" in out, out[-3000:]
    assert "configurations within both tolerances: 76/76" in out, out[-3000:]
    assert out.rstrip().endswith("PASS") and exc.value.code == 0
    assert TOL_MODEL == 0.001


@pytest.mark.skipif(not _has_overlay(), reason="the +experiment=xrbench overlay is not in dream/conf/experiment/ yet")
def test_validate_exits_1_when_agreement_falls_below_the_promise(capsys):
    """With dream's event clock instead of XRBench's ticks, VR Gaming no longer agrees everywhere."""
    with pytest.raises(SystemExit) as exc:
        cmd_validate(["xrbench", "--scenario", "VR_gaming", "--only-failures", "sim.clock=event"])
    out = capsys.readouterr().out
    assert exc.value.code == 1 and "MISMATCH" in out and "configurations: 38 (VR_gaming" in out
    assert out.rstrip().endswith("FAIL: agreement below what docs/validation.md promises")


def test_built_in_settings_are_the_generated_xrbench_combinations_they_correspond_to():
    """26 shipped settings are XRBench combinations: same dataflow, PEs and NoC per sub-accelerator."""
    def sig(system):
        return tuple((a.dataflow, a.num_pes, a.noc_bw) for a in system.accelerators)

    ref = load_reference()
    generated = {sig(xrbench_system(h, f)): (h, f)
                 for h, f in ref[["hw_config", "dataflows"]].drop_duplicates().itertuples(index=False)}
    matched = {}
    for p in sorted((CONF_DIR / "hardware").glob("*.yaml")):
        if p.stem != "pe_budget":
            raw = OmegaConf.to_container(OmegaConf.load(p), resolve=True)
            matched[p.stem] = generated.get(sig(system_from_config(raw, "hardware")))
    assert matched["dual_4k_ws3_os1"] == ("Dual_4K_BigLittle", "WS_OS")
    assert matched["dual_8k_ws1_os3"] == ("Dual_8K_LittleBig", "WS_OS")
    assert sum(v is not None for v in matched.values()) == 26
