"""`dream report`: normalised values, CIs and geometric means against hand-computed numbers."""

from __future__ import annotations

import math

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from dream.cli import main

# t(0.975, 2) in closed form: for 2 degrees of freedom t_p = (2p - 1) sqrt(2 / (4 p (1 - p)))
T2 = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025))
SEEDS = (0, 1, 2)

# (scheduler, workload) -> per-seed values
UXCOST = {
    ("fcfs", "w1"): [2.0, 4.0, 3.0], ("fcfs", "w2"): [10.0, 8.0, 12.0],
    ("edf", "w1"): [3.0, 5.0, 4.0], ("edf", "w2"): [11.0, 9.0, 14.0],
    ("dream", "w1"): [1.0, 3.0, 1.5], ("dream", "w2"): [5.0, 2.0, 6.0],
}
DVR = {
    ("fcfs", "w1"): [0.0, 0.0, 0.0], ("fcfs", "w2"): [0.1, 0.2, 0.1],
    ("edf", "w1"): [0.1, 0.0, 0.2], ("edf", "w2"): [0.2, 0.2, 0.3],
    ("dream", "w1"): [0.05, 0.0, 0.1], ("dream", "w2"): [0.05, 0.1, 0.0],
}
ENERGY = {
    ("fcfs", "w1"): [100.0, 110.0, 90.0], ("fcfs", "w2"): [200.0, 220.0, 180.0],
    ("edf", "w1"): [100.0, 110.0, 90.0], ("edf", "w2"): [210.0, 230.0, 190.0],
    ("dream", "w1"): [80.0, 88.0, 81.0], ("dream", "w2"): [100.0, 110.0, 90.0],
}
SCORE = {k: [90.0, 80.0, 85.0] for k in UXCOST}


def _rows() -> pd.DataFrame:
    rows = []
    for (sched, work), ux in UXCOST.items():
        for i, seed in enumerate(SEEDS):
            rows.append({"run_key": f"{sched}-{work}-{seed}", "status": "ok", "error": None,
                         "workload": work, "hardware": "hw", "scheduler": sched, "seed": seed,
                         "sim.seed": seed, "sim.duration_ms": 1000.0, "jobs": 100,
                         "uxcost": ux[i], "dvr": DVR[sched, work][i],
                         "energy_mj": ENERGY[sched, work][i], "xrbench_score": SCORE[sched, work][i],
                         "wall_s": 0.1 * i})
    # a failed simulation: warned about and left out
    rows.append({"run_key": "bad", "status": "failed", "error": "ValueError: boom\ntrace",
                 "workload": "w1", "hardware": "hw", "scheduler": "dream", "seed": 7})
    return pd.DataFrame(rows)


def _mean_ci(x: list[float]) -> tuple[float, float]:
    x = np.asarray(x, float)
    return x.mean(), T2 * x.std(ddof=1) / math.sqrt(len(x))


def _ratios(a: list[float], b: list[float]) -> list[float]:
    return [u / v for u, v in zip(a, b)]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    ds = tmp_path_factory.mktemp("ds")
    df = _rows()
    # two files with different columns, as a sweep writes them
    df.iloc[:9].to_parquet(ds / "part-0.parquet", index=False)
    df.iloc[9:].drop(columns=["wall_s"]).to_parquet(ds / "part-1.parquet", index=False)
    main_exit(["report", str(ds)])
    out = ds.parent / f"{ds.name}-report"  # beside the dataset, not inside it
    norm = pd.read_csv(out / "normalised.csv").set_index(["metric", "workload", "label"])
    gm = pd.read_csv(out / "geomean.csv").set_index(["metric", "label"])
    red = pd.read_csv(out / "reduction.csv").set_index("baseline")
    return ds, out, norm, gm, red


def main_exit(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_baseline_is_best_non_dream_by_geomean_uxcost(report):
    _, out, norm, _, _ = report
    # geomean of cell means: fcfs sqrt(3 x 10), edf sqrt(4 x 11.33): fcfs wins
    assert norm.loc[("uxcost", "w1", "fcfs"), "norm_mean"] == pytest.approx(1.0)
    assert "baseline: `fcfs`, the best of the non-DREAM schedulers" in (out / "report.md").read_text()


def test_normalised_uxcost_is_mean_and_t_ci_of_per_seed_ratios(report):
    _, _, norm, _, _ = report
    for work in ("w1", "w2"):
        for sched in ("dream", "edf"):
            m, ci = _mean_ci(_ratios(UXCOST[sched, work], UXCOST["fcfs", work]))
            r = norm.loc[("uxcost", work, sched)]
            assert r["kind"] == "ratio" and r["norm_n"] == 3
            assert r["norm_mean"] == pytest.approx(m, rel=1e-12)
            assert r["norm_ci"] == pytest.approx(ci, rel=1e-9)
            am, aci = _mean_ci(UXCOST[sched, work])
            assert (r["mean"], r["ci"]) == (pytest.approx(am), pytest.approx(aci, rel=1e-9))
    # dream w1: ratios 0.5, 0.75, 0.5 -> 0.5833 +- 4.3027 x 0.1443 / sqrt(3)
    assert norm.loc[("uxcost", "w1", "dream"), "norm_ci"] == pytest.approx(0.358554, rel=1e-5)


def test_zero_baseline_dvr_reports_the_difference(report):
    _, out, norm, gm, _ = report
    r = norm.loc[("dvr", "w1", "dream")]  # fcfs has DVR 0 on every w1 seed
    assert r["kind"] == "diff"
    m, ci = _mean_ci([0.05, 0.0, 0.1])
    assert (r["norm_mean"], r["norm_ci"]) == (pytest.approx(m), pytest.approx(ci, rel=1e-9))
    r2 = norm.loc[("dvr", "w2", "dream")]
    assert r2["kind"] == "ratio" and r2["norm_mean"] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    # the geometric mean uses ratio cells only: w2 alone
    g = gm.loc[("dvr", "dream")]
    assert g["geomean"] == pytest.approx(1 / 3) and (g["cells"], g["excluded"]) == (1, 1)
    assert "Δ+0.050 ± " in (out / "report.md").read_text()


def test_geometric_mean_rows(report):
    _, _, _, gm, _ = report
    for metric, data in (("uxcost", UXCOST), ("energy_mj", ENERGY), ("xrbench_score", SCORE)):
        for sched in ("dream", "edf", "fcfs"):
            w1 = np.mean(_ratios(data[sched, "w1"], data["fcfs", "w1"]))
            w2 = np.mean(_ratios(data[sched, "w2"], data["fcfs", "w2"]))
            assert gm.loc[(metric, sched), "geomean"] == pytest.approx(math.sqrt(w1 * w2), rel=1e-12)


def test_dream_reduction_vs_each_baseline(report):
    _, out, _, _, red = report
    for base in ("fcfs", "edf"):
        w1 = np.mean(_ratios(UXCOST["dream", "w1"], UXCOST[base, "w1"]))
        w2 = np.mean(_ratios(UXCOST["dream", "w2"], UXCOST[base, "w2"]))
        assert red.loc[base, "geomean_reduction"] == pytest.approx(1 - math.sqrt(w1 * w2))
        assert red.loc[base, "max_reduction"] == pytest.approx(1 - min(w1, w2))
    # vs fcfs: w1 0.5833, w2 0.4167 -> 1 - sqrt(0.2431) = 50.7%, up to 58.3% on w2
    assert red.loc["fcfs", "max_at"].startswith("w2")
    text = (out / "report.md").read_text()
    assert "| dream | fcfs | 50.7% | 58.3% | w2 / hw | 2 |" in text


def test_failed_rows_are_left_out_and_listed(report):
    _, out, norm, _, _ = report
    assert norm.loc[("uxcost", "w1", "dream"), "n"] == 3
    text = (out / "report.md").read_text()
    assert "18 ok, 1 failed" in text and "1 x `ValueError: boom`" in text


def _nonblank(path) -> None:
    img = mpimg.imread(path)[..., :3]
    background = (img > 0.99).all(axis=-1)
    assert img.std() > 0.05 and (~background).mean() > 0.03, path


def test_figures_written_and_not_blank(report):
    _, out, _, _, _ = report
    figs = sorted(p.name for p in out.glob("*.png"))
    assert figs == ["energy_dvr_hw.png", "uxcost_normalised_hw.png"]
    for f in figs:
        _nonblank(out / f)
    text = (out / "report.md").read_text()
    assert "![uxcost_normalised_hw](uxcost_normalised_hw.png)" in text


def test_report_is_deterministic(report, tmp_path):
    ds, out, _, _, _ = report
    again = tmp_path / "again"
    assert main_exit(["report", str(ds), "--out", str(again)]) == 0
    for f in sorted(out.iterdir()):
        assert (again / f.name).read_bytes() == f.read_bytes(), f.name


def test_baseline_option_and_heatmaps_over_two_numeric_axes(tmp_path):
    # a tuning sweep: dream only, alpha x beta, two seeds; uxcost = 1 + alpha + 10 beta + seed
    rows = []
    for alpha in (0.0, 0.5, 1.0):
        for beta in (0.0, 1.0):
            for seed in (0, 1):
                rows.append({"run_key": f"{alpha}-{beta}-{seed}", "status": "ok", "error": None,
                             "workload": "w1", "hardware": "hw", "scheduler": "dream", "seed": seed,
                             "scheduler.alpha": alpha, "scheduler.beta": beta, "scheduler.tune": False,
                             "uxcost": 1 + alpha + 10 * beta + seed, "dvr": 0.1, "energy_mj": 5.0,
                             "xrbench_score": 50.0})
    pd.DataFrame(rows).to_parquet(tmp_path / "part-0.parquet", index=False)
    out = tmp_path / "r"
    assert main_exit(["report", str(tmp_path), "--out", str(out), "--baseline", "dream alpha=1 beta=0"]) == 0
    norm = pd.read_csv(out / "normalised.csv").set_index(["metric", "label"])
    # mean over seeds of (1 + 0 + 10 + s) / (1 + 1 + 0 + s): (11/2 + 12/3) / 2
    assert norm.loc[("uxcost", "dream alpha=0 beta=1"), "norm_mean"] == pytest.approx((11 / 2 + 12 / 3) / 2)
    heat = out / "heatmap_scheduler.alpha_scheduler.beta_w1.png"
    assert heat.exists()
    _nonblank(heat)
    assert "`scheduler.tune=False`" in (out / "report.md").read_text()


def test_cli_errors_exit_2_with_one_message(report, tmp_path, capsys):
    ds = report[0]
    assert main_exit(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "dream report: error: no dataset at" in err and "Traceback" not in err
    assert main_exit(["report", str(ds), "--baseline", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown baseline 'nope'" in err and "fcfs" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    assert main_exit(["report", str(tmp_path / "empty")]) == 2
    assert "no Parquet files" in capsys.readouterr().err


# -- a swept null is a setting; --out must be a directory; accuracy; bars never below 0 ----

def _share_rows() -> pd.DataFrame:
    # the example: hardware.first_share swept over null,0.25; 2 schedulers x 2 seeds
    rows = []
    for share in (None, 0.25):
        for sched in ("fcfs", "dream"):
            for seed in (0, 1):
                ux = (2.0 if share is None else 3.0) * (0.5 if sched == "dream" else 1.0) + seed
                rows.append({"run_key": f"{share}-{sched}-{seed}", "status": "ok", "error": None,
                             "workload": "w1", "hardware": "pe_budget", "scheduler": sched,
                             "seed": seed, "sim.seed": seed, "hardware.first_share": share,
                             "uxcost": ux, "dvr": 0.0, "energy_mj": 10.0, "xrbench_score": 50.0,
                             "accuracy_mean": 0.95 if sched == "dream" else 1.0})
    return pd.DataFrame(rows)


def test_swept_null_is_its_own_setting(tmp_path):
    _share_rows().to_parquet(tmp_path / "part-0.parquet", index=False)
    out = tmp_path / "r"
    assert main_exit(["report", str(tmp_path), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "8 ok, 0 failed" in text
    assert "first_share=null" in text and "first_share=0.25" in text
    assert "varied parameters: `hardware.first_share`" in text and "fixed parameters" not in text
    norm = pd.read_csv(out / "normalised.csv")
    ux = norm[norm["metric"] == "uxcost"].set_index(["setting", "label"])
    assert ux.loc[("pe_budget first_share=null", "dream"), "mean"] == pytest.approx(1.5)
    assert ux.loc[("pe_budget first_share=0.25", "dream"), "mean"] == pytest.approx(2.0)
    assert (ux["n"] == 2).all() and len(ux) == 4


def test_report_shows_mean_relative_accuracy_next_to_uxcost(tmp_path):
    _share_rows().to_parquet(tmp_path / "part-0.parquet", index=False)
    out = tmp_path / "r"
    assert main_exit(["report", str(tmp_path), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    section = text.split("## UXCost relative to")[1].split("## ")[0]
    # per (setting, workload, scheduler): dream ran 0.95-accuracy variants, fcfs the full models
    assert section.count("· acc 0.950") == 2 and section.count("· acc 1.000") == 2
    norm = pd.read_csv(out / "normalised.csv")
    acc = norm[norm["metric"] == "accuracy_mean"].set_index(["setting", "label"])
    assert acc.loc[("pe_budget first_share=null", "dream"), "mean"] == pytest.approx(0.95)


def test_report_out_that_is_a_file_exits_2(report, tmp_path, capsys):
    ds = report[0]
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    assert main_exit(["report", str(ds), "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "is a file" in err and "Traceback" not in err
    assert main_exit(["report", str(ds), "--out", str(f / "sub")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert f.read_text() == "mine"


def test_report_out_file_exits_2_end_to_end(report, tmp_path):
    import subprocess
    import sys

    f = tmp_path / "report.md"
    f.write_text("mine")
    p = subprocess.run([sys.executable, "-m", "dream.cli", "report", str(report[0]), "--out", str(f)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.strip().count("\n") == 0
    assert f.read_text() == "mine"


def _whiskers(ax) -> np.ndarray:
    """Every end point of the error bars drawn on an axes, as (x, y) rows."""
    from matplotlib.collections import LineCollection

    segs = [s for c in ax.collections if isinstance(c, LineCollection) for s in c.get_segments()]
    return np.concatenate(segs) if segs else np.empty((0, 2))


def test_energy_dvr_confidence_bars_do_not_cross_below_zero():
    from dream.analysis.figures import energy_dvr, normalised_bars

    # DVR 0.01 +- 0.05 and energy 1 +- 3: symmetric bars would reach -0.04 and -2
    dvr = pd.DataFrame({"workload": ["w1", "w1"], "label": ["a", "b"], "mean": [0.01, 0.2],
                        "ci": [0.05, 0.01]})
    energy = pd.DataFrame({"workload": ["w1", "w1"], "label": ["a", "b"], "mean": [1.0, 8.0],
                           "ci": [3.0, 0.5]})
    fig = energy_dvr(energy, dvr, ["a", "b"], "hw")
    pts = _whiskers(fig.axes[0])
    assert len(pts) and pts.min() == 0.0  # clipped exactly at 0, not below
    assert pts[:, 0].max() == pytest.approx(0.21) and pts[:, 1].max() == pytest.approx(8.5)
    # upper bars keep the full half-width
    assert pytest.approx(0.06) in list(pts[:, 0]) and pytest.approx(4.0) in list(pts[:, 1])
    table = pd.DataFrame({"workload": ["w1"], "label": ["a"], "kind": ["ratio"], "norm_mean": [0.2],
                          "norm_ci": [0.9]})
    fig = normalised_bars(table, pd.DataFrame({"label": ["a"], "geomean": [0.2]}), ["a"], "b", "t")
    assert _whiskers(fig.axes[0])[:, 1].min() >= 0.0


def test_swept_null_end_to_end(tmp_path):
    # the example as a user meets it: sweep first_share over null,0.25, then report
    import subprocess
    import sys

    spec = tmp_path / "nulls.yaml"
    spec.write_text("name: nulls\noverrides: [hardware=pe_budget, sim.duration_ms=30]\ngrid:\n"
                    "  hardware.first_share: null,0.25\n  scheduler: fcfs,dream\n  sim.seed: 0,1\n")

    def dream(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True,
                              text=True, timeout=300, cwd=tmp_path)

    p = dream("sweep", str(spec), "--executor", "serial", "--no-progress", "--out", "ds")
    assert p.returncode == 0, p.stderr
    p = dream("report", "ds", "--out", "rep")
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "simulations: 8 ok, 0 failed" in text
    assert "settings: pe_budget first_share=null, pe_budget first_share=0.25" in text
