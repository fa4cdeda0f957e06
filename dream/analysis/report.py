"""The study report: normalised tables with CIs, geometric means, DREAM's reductions, figures, report.md."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dream.analysis import figures
from dream.analysis.load import DatasetError, Results, describe
from dream.analysis.stats import CELL, geomean, geomean_rows, normalise

# metric column -> (title, which way is better)
METRICS = {
    "uxcost": ("UXCost", "lower"),
    "energy_mj": ("Energy (mJ)", "lower"),
    "dvr": ("DVR", "lower"),
    "xrbench_score": ("XRBench score", "higher"),
    # mean relative accuracy of the variants that ran (1.0 = every frame on the full model):
    # DREAM trades it for UXCost, so it is shown next to UXCost
    "accuracy_mean": ("Mean relative accuracy", "higher"),
}
ACCURACY = "accuracy_mean"
LEVEL = 0.95
MAX_SETTING_FIGURES = 8   # bars and scatter per setting; a DSE sweep has dozens of settings
MAX_PANELS = 12           # heatmap facets per figure


@dataclass
class Report:
    """Everything report.md shows, as DataFrames (also written as CSV)."""

    results: Results
    baseline: str
    baseline_reason: str
    tables: dict[str, pd.DataFrame]       # metric -> stats.normalise rows
    geomeans: dict[str, pd.DataFrame]     # metric -> per (setting, label) and "all settings"
    reduction: pd.DataFrame | None        # DREAM vs each baseline, all settings
    reduction_by_setting: pd.DataFrame | None


def _cell_means(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean of a metric over seeds, cells as rows and labels as columns."""
    return rows.pivot_table(index=CELL, columns="label", values=metric, aggfunc="mean")


def choose_baseline(results: Results, requested: str | None = None) -> tuple[str, str]:
    """The normalisation baseline label and a sentence saying why.

    Requested: a label, or a scheduler name with a single label. Default: among the
    non-DREAM labels (all labels if there are none) the lowest geometric mean over
    (setting, workload) cells of mean UXCost, on the cells every candidate ran.
    """
    pairs = results.rows[["label", "scheduler"]].drop_duplicates()
    sched = pairs.set_index("label")["scheduler"]
    labels = results.labels
    if requested is not None:
        if requested in labels:
            return requested, f"`{requested}`, as requested (--baseline)."
        match = sorted(pairs.loc[pairs["scheduler"] == requested, "label"])
        if len(match) == 1:
            return match[0], f"`{match[0]}`, as requested (--baseline)."
        if len(match) > 1:
            raise DatasetError(f"baseline {requested!r} is ambiguous: it has {len(match)} "
                               f"configurations; pass one of {match}")
        raise DatasetError(f"unknown baseline {requested!r}; the dataset has {labels}")
    cands = [lab for lab in labels if sched[lab] != "dream"]
    pool = "non-DREAM schedulers"
    if not cands:
        cands, pool = labels, "configurations (no baseline scheduler in the data)"
    means = _cell_means(results.rows, "uxcost")[cands]
    common = means.dropna()
    use = common if len(common) else means
    scores = {lab: geomean(use[lab].dropna()) for lab in cands}
    best = min(cands, key=lambda lab: (np.nan_to_num(scores[lab], nan=np.inf), cands.index(lab)))
    return best, (f"`{best}`, the best of the {pool} by geometric-mean UXCost over the "
                  f"{len(use)} (setting, workload) cells they all ran (default; pick another "
                  f"with --baseline).")


def _geomeans(table: pd.DataFrame, several_settings: bool) -> pd.DataFrame:
    """Per-setting geometric means, plus an "all settings" row per label when there are several."""
    g = geomean_rows(table, ("setting",))
    if several_settings:
        every = geomean_rows(table.assign(setting="all settings"), ("setting",))
        g = pd.concat([g, every], ignore_index=True)
    return g


def _reductions(results: Results) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """DREAM's UXCost reduction vs each baseline label: 1 - geomean ratio, and the largest."""
    rows = results.rows
    labels = results.labels
    sched = rows.drop_duplicates("label").set_index("label")["scheduler"]
    dreams = [lab for lab in labels if sched[lab] == "dream"]
    bases = [lab for lab in labels if sched[lab] != "dream"]
    if not dreams or not bases:
        return None, None
    overall, per_setting = [], []
    for b in bases:
        t = normalise(rows[rows["label"].isin(dreams + [b])], "uxcost", b, LEVEL)
        for d in dreams:
            r = t[(t["label"] == d) & (t["kind"] == "ratio") & np.isfinite(t["norm_mean"])]
            if r.empty:
                continue
            top = r.loc[r["norm_mean"].idxmin()]  # the cell where DREAM gains most
            overall.append({"dream": d, "baseline": b, "geomean_reduction": 1 - geomean(r["norm_mean"]),
                            "max_reduction": 1 - top["norm_mean"],
                            "max_at": f"{top['workload']} / {top['setting']}", "cells": len(r)})
            for s, g in r.groupby("setting", sort=True):
                per_setting.append({"dream": d, "baseline": b, "setting": s,
                                    "geomean_reduction": 1 - geomean(g["norm_mean"]),
                                    "max_reduction": 1 - g["norm_mean"].min(), "cells": len(g)})
    if not overall:
        return None, None
    return pd.DataFrame(overall), pd.DataFrame(per_setting)


def build_report(results: Results, baseline: str | None = None) -> Report:
    """Compute every table of the report."""
    base, reason = choose_baseline(results, baseline)
    several = len(results.settings) > 1
    tables, gms = {}, {}
    for metric in METRICS:
        if metric not in results.rows.columns:
            continue
        tables[metric] = normalise(results.rows, metric, base, LEVEL)
        gms[metric] = _geomeans(tables[metric], several)
    red, red_set = _reductions(results)
    return Report(results, base, reason, tables, gms, red, red_set)


# ---------------------------------------------------------------- markdown

def _md(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _num(v: float, fmt: str) -> str:
    return "–" if v is None or not np.isfinite(v) else format(v, fmt)


def _cell_text(r: pd.Series | None, normalised: bool) -> str:
    """'0.812 ± 0.034' (ratio), 'Δ+0.020 ± 0.004' (difference), or the absolute mean ± CI."""
    if r is None:
        return "–"
    if not normalised:
        m, ci = r["mean"], r["ci"]
        return _num(m, ".4g") + ("" if not np.isfinite(ci) else f" ± {ci:.2g}")
    if r["kind"] == "none" or not np.isfinite(r["norm_mean"]):
        return "–"
    m, ci = r["norm_mean"], r["norm_ci"]
    head = f"Δ{m:+.3f}" if r["kind"] == "diff" else f"{m:.3f}"
    return head + ("" if not np.isfinite(ci) else f" ± {ci:.3f}")


def _with_accuracy(text: str, acc: pd.DataFrame | None, key: tuple) -> str:
    """A UXCost cell with the mean relative accuracy of the same simulations appended."""
    if acc is None or key not in acc.index or text == "–":
        return text
    m = acc.loc[key, "mean"]
    return text + (f" · acc {m:.3f}" if np.isfinite(m) else "")


def _matrix(rep: Report, metric: str, normalised: bool) -> str:
    """Rows: (setting,) workload; columns: labels; plus geometric-mean rows when normalised.

    UXCost cells carry the mean relative accuracy (`· acc 0.962`) when the data has it.
    """
    t = rep.tables[metric].set_index(["setting", "workload", "label"])
    acc = (rep.tables[ACCURACY].set_index(["setting", "workload", "label"])
           if metric == "uxcost" and ACCURACY in rep.tables else None)
    labels = rep.results.labels
    several = len(rep.results.settings) > 1
    header = (["setting"] if several else []) + ["workload"] + labels
    body = []
    gm = rep.geomeans[metric].set_index(["setting", "label"])
    for s in rep.results.settings:
        ws = sorted(t.loc[s].index.get_level_values("workload").unique())
        for w in ws:
            cells = [_with_accuracy(_cell_text(t.loc[(s, w, lab)] if (s, w, lab) in t.index else None,
                                               normalised), acc, (s, w, lab))
                     for lab in labels]
            body.append(([s] if several else []) + [w] + cells)
        if normalised and len(ws) > 1:
            body.append(([s] if several else []) + ["**geomean**"] + [_gm_text(gm, s, lab) for lab in labels])
    if normalised and several:
        body.append(["all settings", "**geomean**"] + [_gm_text(gm, "all settings", lab) for lab in labels])
    return _md(header, body)


def _gm_text(gm: pd.DataFrame, setting: str, label: str) -> str:
    if (setting, label) not in gm.index:
        return "–"
    r = gm.loc[(setting, label)]
    return _num(r["geomean"], ".3f") + (f" ({int(r['cells'])}/{int(r['cells'] + r['excluded'])})"
                                        if r["excluded"] else "")


def _pct(v: float) -> str:
    return _num(100 * v, ".1f") + "%" if np.isfinite(v) else "–"


def _reduction_md(rep: Report) -> str:
    red, per = rep.reduction, rep.reduction_by_setting
    lines = ["## DREAM's UXCost reduction vs each baseline", "",
             "Reduction = 1 - geometric mean over (setting, workload) cells of the per-cell "
             "ratio DREAM / baseline (each cell: mean over seeds of the per-seed ratio); "
             "max = 1 - the smallest cell ratio. Negative: DREAM's UXCost is higher.", ""]
    body = [[r["dream"], r["baseline"], _pct(r["geomean_reduction"]), _pct(r["max_reduction"]),
             r["max_at"], str(r["cells"])] for _, r in red.iterrows()]
    lines.append(_md(["DREAM", "baseline", "geomean reduction", "max reduction", "max at", "cells"], body))
    settings = sorted(per["setting"].unique())
    if len(settings) > 1:
        lines += ["", "Geometric-mean reduction per setting:", ""]
        p = per.set_index(["dream", "baseline", "setting"])
        body = []
        for (d, b), _ in red.groupby(["dream", "baseline"], sort=False):
            body.append([d, b] + [_pct(p.loc[(d, b, s), "geomean_reduction"]) if (d, b, s) in p.index
                                  else "–" for s in settings])
        lines.append(_md(["DREAM", "baseline"] + settings, body))
    return "\n".join(lines)


NORMALISATION = """\
How values are normalised. For each metric, each simulation is compared with the
baseline's simulation of the same setting, workload and seed (paired by seed): the
ratio value / baseline when the baseline's value is positive for every seed of that
(setting, workload) cell, otherwise (e.g. a baseline DVR of 0) the difference
value - baseline, shown as `Δ+x`. Each cell shows the mean of these per-seed comparisons
± the half-width of its 95% Student-t confidence interval (t(0.975, n-1) x s / sqrt(n),
s the sample standard deviation over n seeds; no interval when n = 1). The **geomean**
row is the geometric mean over workloads of the normalised means, over ratio cells only
(`(k/n)` when n - k cells were differences or missing; 0 when one mean is 0). Below 1 is
better for UXCost, energy and DVR; above 1 is better for the XRBench score and accuracy.
UXCost cells also show `acc`: the mean relative accuracy of the same simulations (the
accuracy of the supernet variants their frames ran, 1.0 = the full model), mean over seeds."""


def write_report(rep: Report, dataset: str | Path, out_dir: str | Path) -> list[Path]:
    """Write report.md, the CSV tables and the figures into out_dir; return the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res = rep.results
    written: list[Path] = []
    figs = _write_figures(rep, out)

    md = [f"# Study report: {Path(dataset).name}", "",
          f"- dataset: `{dataset}`",
          f"- simulations: {len(res.rows)} ok, {len(res.failed)} failed (failed ones are left out)",
          f"- workloads: {', '.join(res.workloads)}",
          f"- settings: {', '.join(res.settings)}",
          f"- schedulers: {', '.join(res.labels)}",
          f"- seeds per configuration: {_seed_range(res)}"]
    if res.params:
        md.append(f"- varied parameters: {', '.join(f'`{p}`' for p in res.params)}")
    if res.fixed:
        md.append(f"- fixed parameters: {', '.join(f'`{k}={v}`' for k, v in sorted(res.fixed.items()))}")
    md += [f"- baseline: {rep.baseline_reason}", ""]
    if len(res.failed):
        errs = res.failed.get("error", pd.Series(["?"] * len(res.failed))).fillna("?").astype(str)
        top = errs.str.split("\n").str[0].value_counts().head(5)
        md += ["Failed simulations (first line of the error, most frequent first):", ""]
        md += [f"- {n} x `{e}`" for e, n in top.items()] + [""]
    md += [NORMALISATION, ""]
    if rep.reduction is not None:
        md += [_reduction_md(rep), ""]
    for metric, (title, better) in METRICS.items():
        if metric not in rep.tables:
            continue
        md += [f"## {title} relative to `{rep.baseline}` ({better} is better)", "",
               _matrix(rep, metric, True), ""]
    md += ["## Absolute values (mean ± 95% CI over seeds)", ""]
    for metric, (title, _) in METRICS.items():
        if metric in rep.tables:
            md += [f"### {title}", "", _matrix(rep, metric, False), ""]
    if figs:
        md += ["## Figures", ""]
        md += [f"![{p.stem}]({p.name})" for p in figs]
        md.append("")
    skipped = len(res.settings) - MAX_SETTING_FIGURES
    if skipped > 0:
        md += [f"(Bars and scatter plots are drawn for the first {MAX_SETTING_FIGURES} settings; "
               f"{skipped} more are in the tables and heatmaps.)", ""]
    (out / "report.md").write_text("\n".join(md))
    written.append(out / "report.md")

    norm = pd.concat([t.assign(metric=m) for m, t in rep.tables.items()], ignore_index=True)
    norm.to_csv(out / "normalised.csv", index=False)
    pd.concat([g.assign(metric=m) for m, g in rep.geomeans.items()], ignore_index=True).to_csv(
        out / "geomean.csv", index=False)
    written += [out / "normalised.csv", out / "geomean.csv"]
    if rep.reduction is not None:
        rep.reduction.to_csv(out / "reduction.csv", index=False)
        written.append(out / "reduction.csv")
    return written + figs


def _seed_range(res: Results) -> str:
    n = res.rows.groupby(["setting", "workload", "label"]).size()
    return str(n.min()) if n.min() == n.max() else f"{n.min()}-{n.max()}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_")


def _write_figures(rep: Report, out: Path) -> list[Path]:
    res = rep.results
    labels = res.labels
    paths = []
    for s in res.settings[:MAX_SETTING_FIGURES]:
        if "uxcost" in rep.tables:
            t = rep.tables["uxcost"]
            g = rep.geomeans["uxcost"]
            fig = figures.normalised_bars(t[t["setting"] == s], g[g["setting"] == s], labels,
                                          rep.baseline, f"UXCost relative to {rep.baseline}\n{s}")
            paths.append(figures.save(fig, out / f"uxcost_normalised_{_slug(s)}.png"))
        if "energy_mj" in rep.tables and "dvr" in rep.tables:
            e, d = rep.tables["energy_mj"], rep.tables["dvr"]
            fig = figures.energy_dvr(e[e["setting"] == s], d[d["setting"] == s], labels, s)
            paths.append(figures.save(fig, out / f"energy_dvr_{_slug(s)}.png"))
    paths += _write_heatmaps(res, out)
    return paths


def _write_heatmaps(res: Results, out: Path) -> list[Path]:
    """For each pair of numeric swept parameters and each workload: mean UXCost heatmaps.

    Panels: one per combination of hardware, scheduler and the other varied parameters
    (the first MAX_PANELS of them).
    """
    paths = []
    rows = res.rows
    for x, y in itertools.combinations(res.numeric, 2):
        facet_keys = ["hardware", "scheduler"] + [p for p in res.params if p not in (x, y)]
        for w in res.workloads:
            sub = rows[(rows["workload"] == w) & rows[x].notna() & rows[y].notna()]
            if sub[x].nunique() < 2 or sub[y].nunique() < 2:
                continue
            panels = {}
            groups = sub.groupby(facet_keys, dropna=False, sort=True)
            for key, g in groups:
                key = key if isinstance(key, tuple) else (key,)
                name = describe(pd.Series(dict(zip(facet_keys, key))), facet_keys)
                panels[name] = g.pivot_table(index=y, columns=x, values="uxcost", aggfunc="mean")
                if len(panels) == MAX_PANELS:
                    break
            title = f"{w}: mean UXCost over seeds"
            if groups.ngroups > MAX_PANELS:
                title += f" (first {MAX_PANELS} of {groups.ngroups} panels)"
            fig = figures.heatmaps(panels, x, y, title)
            paths.append(figures.save(fig, out / f"heatmap_{_slug(x)}_{_slug(y)}_{_slug(w)}.png"))
    return paths
