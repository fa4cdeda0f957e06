"""DREAM's sensitivity to beta on the case of issue 9 (docs/dream.md, "Beta").

The case: tuner off, alpha 1, drop_threshold 0.25, dual_4k_ws_os, the analytical cost
model pinned, social_interaction_a / ar_assistant / vr_gaming x seeds 0-2, 1 s each;
the figure is the geometric mean of UXCost over the nine runs. Before the tie rule
(equal MapScores to the higher Preference) beta = 0 gave 0.170 and beta = 0.001 0.735:
the beta = 0 figure came from sub-accelerator index ties. The whole case runs in a few
seconds, so it is checked as the issue states it.
"""

from __future__ import annotations

import math

import pytest

import dream

WORKLOADS = ("social_interaction_a", "ar_assistant", "vr_gaming")
SEEDS = (0, 1, 2)


def _runs(beta: float, reverse: bool = False,
          workloads: tuple[str, ...] = WORKLOADS) -> dict[tuple[str, int], dict]:
    """Summary of every (workload, seed) run of the case at one beta."""
    out = {}
    for w in workloads:
        for s in SEEDS:
            cfg = dream.compose([f"workload={w}", "hardware=dual_4k_ws_os", "cost=analytical",
                                 "scheduler=dream", "scheduler.tune=false", "scheduler.alpha=1.0",
                                 f"scheduler.beta={beta}", "scheduler.drop_threshold=0.25",
                                 "sim.duration_ms=1000", f"sim.seed={s}"])
            if reverse:  # the same system with its sub-accelerators listed OS first
                cfg.hardware.accelerators = list(reversed(list(cfg.hardware.accelerators)))
            out[(w, s)] = dream.simulate(cfg).summary
    return out


def _gmean(runs: dict) -> float:
    return math.exp(sum(math.log(r["uxcost"]) for r in runs.values()) / len(runs))


@pytest.fixture(scope="module")
def case() -> dict[float, dict]:
    return {beta: _runs(beta) for beta in (0.0, 0.001, 0.25)}


def test_beta_zero_is_the_limit_of_small_beta(case):
    # a tie-free score is continuous in beta: for beta small enough every comparison
    # U + alpha F + beta P keeps the order of U + alpha F, and equal U + alpha F are
    # ordered by P, which is the tie rule at beta = 0. On this case 0.001 is already small
    # enough: 0 and 0.001 schedule alike, run by run (before the rule: 0.170 vs 0.735).
    for key, r0 in case[0.0].items():
        r1 = case[0.001][key]
        assert ((r0["uxcost"], r0["dvr"], r0["energy_mj"])
                == (r1["uxcost"], r1["dvr"], r1["energy_mj"])), key


def test_beta_zero_does_not_depend_on_the_listing_order(case):
    # before the tie rule, listing OS first turned 0.170 into 1.129 at beta = 0 (these two
    # scenarios moved; vr_gaming is left out: a 0.3 us hand_graph_cnn layer exactly as fast
    # on both sub-accelerators is a full tie, still to the lower index at every beta, and
    # moves its UXCost by 1.3e-4 relative under reversal)
    rev = _runs(0.0, reverse=True, workloads=("social_interaction_a", "ar_assistant"))
    for key, r in rev.items():
        assert (r["uxcost"], r["dvr"]) == (case[0.0][key]["uxcost"], case[0.0][key]["dvr"]), key


def test_issue_figures_and_where_they_come_from(case):
    # engine figures after the fix (they were 0.170 / 0.735 / 0.195 before); rel 1e-6 only
    # absorbs summation order. A change here is a change of DREAM's behaviour on this case,
    # to be explained in docs/dream.md.
    assert _gmean(case[0.0]) == pytest.approx(0.7348657, rel=1e-6)
    assert _gmean(case[0.001]) == pytest.approx(0.7348657, rel=1e-6)
    assert _gmean(case[0.25]) == pytest.approx(0.1953666, rel=1e-6)
    # the jump between 0.001 and 0.25 is social_interaction_a alone: GE (a 0.6 ms model
    # cascaded from ES) misses every other frame at small beta (DVR 30 / 180 jobs) and
    # none at 0.25; UXCost's DVR floor 1 / (2n) turns that into a ~60x factor on one
    # scenario, ~4x on the geometric mean of three
    for s in SEEDS:
        assert case[0.001][("social_interaction_a", s)]["dvr"] == pytest.approx(30 / 180)
        assert case[0.001][("social_interaction_a", s)]["task.GE.dvr"] == pytest.approx(0.5)
        assert case[0.25][("social_interaction_a", s)]["dvr"] == 0.0
        for w in ("ar_assistant", "vr_gaming"):
            assert case[0.001][(w, s)]["dvr"] == case[0.25][(w, s)]["dvr"] == 0.0
