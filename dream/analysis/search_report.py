"""The report of a `dream search` dataset: Pareto front, convergence, parameter importance.

Reads the study from the dataset's journal (`_search.journal`) and the spec from
`_sweep.json`, and writes `search.md` with figures beside the usual report:

- the Pareto front (two objectives: one scatter; three: the three pairs), every
  completed trial drawn, the non-dominated ones marked and numbered;
- convergence: the best value so far (one objective) or the front's hypervolume so far
  (several) against the distinct simulations the study has spent, cheap rungs included;
- parameter importance per objective: Optuna's fANOVA (with scikit-learn installed)
  or its PED-ANOVA;
- per best / Pareto trial: its overrides (a YAML file under trials/) and the commands
  that rerun one of its points with a block trace and draw its timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from dream.analysis.figures import new_figure, save
from dream.search.pareto import hypervolume, non_dominated

JOURNAL = "_search.journal"


def is_search_dataset(path: str | Path) -> bool:
    """Whether a dataset directory holds a search's journal."""
    return (Path(path) / JOURNAL).is_file()


@dataclass
class SearchResults:
    """A search's trials as a table, with what is needed to rerun them."""

    spec: Any                    # dream.search.spec.SearchSpec
    study: Any                   # optuna.Study
    trials: pd.DataFrame         # one row per trial, in trial order
    objectives: list[str]        # labels as in the spec (-metric is maximised)


def load_search(dataset: str | Path) -> SearchResults:
    """The study of a search dataset and one row per trial (values, parameters, cost)."""
    from dream.dataset import read_metadata
    from dream.search.spec import parse_search_spec
    from dream.search.study import ATTR_ROWS, ATTR_RUNG, open_study

    root = Path(dataset)
    meta = read_metadata(root)
    raw = yaml.safe_load(meta["search"]["spec_yaml"])  # key order kept (the grid's order)
    spec = parse_search_spec(raw, meta.get("spec_path"), default_name=meta.get("name"))
    study = open_study(spec, root, create=False)
    seen: set[str] = set()
    sims = 0
    sim_s = 0.0
    recs = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        new = [(k, s) for k, s in t.user_attrs.get(ATTR_ROWS, []) if k not in seen]
        seen.update(k for k, _ in new)
        sims += len(new)
        sim_s += sum(s for _, s in new)
        rec: dict[str, Any] = {"trial": t.number, "state": t.state.name.lower(),
                               "rung": t.user_attrs.get(ATTR_RUNG), "new_sims": len(new),
                               "sims_spent": sims, "sim_s_spent": sim_s}
        for o, v in zip(spec.objectives, t.values or [None] * len(spec.objectives)):
            rec[o.label] = v
        rec.update(t.params)
        recs.append(rec)
    return SearchResults(spec, study, pd.DataFrame(recs), [o.label for o in spec.objectives])


def _minimised(res: SearchResults, df: pd.DataFrame) -> np.ndarray:
    """The objectives as a matrix to minimise (maximised ones negated)."""
    cols = [(-1.0 if o.maximize else 1.0) * df[o.label].astype(float).to_numpy()
            for o in res.spec.objectives]
    return np.column_stack(cols) if cols else np.empty((len(df), 0))


def convergence(res: SearchResults) -> pd.DataFrame:
    """Per trial in order: simulations spent so far and the best so far (or hypervolume so far)."""
    df = res.trials.copy()
    done = df["state"] == "complete"
    vals = _minimised(res, df)
    if len(res.objectives) == 1:
        v = np.where(done, vals[:, 0], np.inf)
        best = np.minimum.accumulate(v) if len(v) else v
        sign = -1.0 if res.spec.objectives[0].maximize else 1.0
        df["best_so_far"] = np.where(np.isfinite(best), sign * best, np.nan)
    else:
        ok = vals[done.to_numpy()]
        ref = reference_point(ok) if len(ok) else None
        hv = []
        for i in range(len(df)):
            sub = vals[: i + 1][done.to_numpy()[: i + 1]]
            hv.append(hypervolume(sub, ref) if ref is not None and len(sub) else np.nan)
        df["hypervolume_so_far"] = hv
    return df


def reference_point(values: np.ndarray) -> np.ndarray:
    """A reference point for hypervolume: 10% beyond the worst of each objective."""
    worst = np.nanmax(values, axis=0)
    best = np.nanmin(values, axis=0)
    return worst + 0.1 * np.maximum(worst - best, np.abs(worst) * 1e-9 + 1e-12)


def importance(res: SearchResults) -> pd.DataFrame:
    """fANOVA importance of each parameter per objective (empty when there is too little data)."""
    import optuna

    evaluator, name = _evaluator()
    rows = []
    complete = res.trials[res.trials["state"] == "complete"]
    if len(complete) < 3:
        return pd.DataFrame(columns=["objective", "param", "importance", "method"])
    import warnings

    for i, label in enumerate(res.objectives):
        sign = -1.0 if res.spec.objectives[i].maximize else 1.0  # lower is better for both evaluators
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PED-ANOVA's reminder that low targets are good
                imp = optuna.importance.get_param_importances(
                    res.study, evaluator=evaluator,
                    target=lambda t, i=i, sign=sign: sign * t.values[i], normalize=True)
        except (RuntimeError, ValueError):  # e.g. a parameter that never varied
            continue
        rows += [{"objective": label, "param": k, "importance": float(v), "method": name}
                 for k, v in imp.items()]
    return pd.DataFrame(rows, columns=["objective", "param", "importance", "method"])


def _evaluator() -> tuple[Any, str]:
    """Optuna's fANOVA when scikit-learn (its forest) is installed, else its PED-ANOVA."""
    from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator

    try:
        import sklearn  # noqa: F401
    except ImportError:
        # PED-ANOVA: how much each parameter's distribution among the top trials differs
        # from its distribution among all trials; needs no extra dependency
        return PedAnovaImportanceEvaluator(), "PED-ANOVA"
    return FanovaImportanceEvaluator(seed=0), "fANOVA"


def best_table(res: SearchResults) -> pd.DataFrame:
    """The best trial (one objective) or the non-dominated trials (several)."""
    df = res.trials[res.trials["state"] == "complete"]
    if df.empty:
        return df
    vals = _minimised(res, df)
    if len(res.objectives) == 1:
        return df.iloc[[int(np.argmin(vals[:, 0]))]]
    return df[non_dominated(vals)].sort_values(res.objectives[0])


# -- figures ---------------------------------------------------------------------------

def plot_pareto(res: SearchResults, path: Path) -> Path | None:
    """Scatter of completed trials per pair of objectives, the non-dominated set marked."""
    if len(res.objectives) < 2:
        return None
    df = res.trials[res.trials["state"] == "complete"]
    if df.empty:
        return None
    vals = _minimised(res, df)
    front = non_dominated(vals)
    pairs = [(i, j) for i in range(len(res.objectives)) for j in range(i + 1, len(res.objectives))]
    fig = new_figure(figsize=(4.6 * len(pairs), 4.2))
    for n, (i, j) in enumerate(pairs):
        ax = fig.add_subplot(1, len(pairs), n + 1)
        x, y = df[res.objectives[i]].to_numpy(float), df[res.objectives[j]].to_numpy(float)
        ax.scatter(x[~front], y[~front], s=14, color="0.6", label="dominated")
        ax.scatter(x[front], y[front], s=30, color="tab:red", label="non-dominated", zorder=3)
        if len(res.objectives) == 2:
            order = np.argsort(x[front])
            ax.step(x[front][order], y[front][order], where="post", color="tab:red", lw=1)
        for xi, yi, t in zip(x[front], y[front], df["trial"].to_numpy()[front]):
            ax.annotate(str(t), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(res.objectives[i])
        ax.set_ylabel(res.objectives[j])
        ax.grid(alpha=0.3)
        if n == 0:
            ax.legend(fontsize=8)
    fig.suptitle(f"{res.spec.name}: Pareto front over {len(df)} completed trials"
                 + (" (points non-dominated in all three objectives)" if len(pairs) > 1 else ""))
    fig.tight_layout()
    return save(fig, path)


def plot_convergence(conv: pd.DataFrame, res: SearchResults, path: Path) -> Path:
    """Best so far (or hypervolume so far) against the distinct simulations spent."""
    fig = new_figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    col = "best_so_far" if "best_so_far" in conv else "hypervolume_so_far"
    ax.step(conv["sims_spent"], conv[col], where="post", color="tab:blue")
    if col == "best_so_far":
        done = conv[conv["state"] == "complete"]
        ax.scatter(done["sims_spent"], done[res.objectives[0]], s=10, color="0.6", label="trial")
        ax.legend(fontsize=8)
    ax.set_xlabel("simulations spent (distinct rows, every rung)")
    ax.set_ylabel(f"best {res.objectives[0]} so far" if col == "best_so_far"
                  else "hypervolume so far (reference: 10% beyond the worst)")
    ax.grid(alpha=0.3)
    ax.set_title(f"{res.spec.name}: convergence")
    fig.tight_layout()
    return save(fig, path)


def plot_importance(imp: pd.DataFrame, path: Path) -> Path | None:
    """Horizontal bars of fANOVA importance, one panel per objective."""
    if imp.empty:
        return None
    objs = list(dict.fromkeys(imp["objective"]))
    fig = new_figure(figsize=(4.6 * len(objs), 0.5 + 0.45 * imp["param"].nunique()))
    for n, o in enumerate(objs):
        ax = fig.add_subplot(1, len(objs), n + 1)
        sub = imp[imp["objective"] == o].sort_values("importance")
        ax.barh(sub["param"], sub["importance"], color="tab:green")
        ax.set_xlabel(f"importance ({imp['method'].iloc[0]}, normalised)")
        ax.set_title(o)
        ax.set_xlim(0, 1)
    fig.tight_layout()
    return save(fig, path)


# -- markdown --------------------------------------------------------------------------

def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.5g}"
    return str(v)


def write_search_report(dataset: str | Path, out: str | Path) -> list[Path]:
    """Write search.md, its figures, tables and one YAML per best trial into `out`."""
    from dream.search.study import first_point, grid_text, run_overrides

    res = load_search(dataset)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    conv = convergence(res)
    conv.to_csv(out / "search_trials.csv", index=False)
    files.append(out / "search_trials.csv")
    imp = importance(res)
    if not imp.empty:
        imp.to_csv(out / "search_importance.csv", index=False)
        files.append(out / "search_importance.csv")
    figs = {"pareto": plot_pareto(res, out / "search_pareto.png"),
            "convergence": plot_convergence(conv, res, out / "search_convergence.png")
            if len(conv) else None,
            "importance": plot_importance(imp, out / "search_importance.png")}
    files += [f for f in figs.values() if f is not None]

    spec = res.spec
    states = conv["state"].value_counts().to_dict() if len(conv) else {}
    lines = [f"# Search {spec.name}", "",
             f"{len(conv)} trials ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}), "
             f"sampler {spec.sampler}, objectives {', '.join(res.objectives)} ({spec.aggregate} over "
             f"the {len(spec.sweep)} grid points {grid_text(spec)}), "
             f"{int(conv['sims_spent'].iloc[-1]) if len(conv) else 0} simulations "
             f"({conv['sim_s_spent'].iloc[-1] if len(conv) else 0:.1f} simulated s).", ""]
    best = best_table(res)
    trial_dir = out / "trials"
    if not best.empty:
        title = "Best trial" if len(res.objectives) == 1 else "Pareto front (non-dominated trials)"
        lines += [f"## {title}", "",
                  "| trial | " + " | ".join(res.objectives) + " | parameters | config |",
                  "|---" * (len(res.objectives) + 3) + "|"]
        cmds = []
        for _, r in best.iterrows():
            n = int(r["trial"])
            values = {p.key: r[p.key] for p in spec.params}
            values = {k: (v.item() if hasattr(v, "item") else v) for k, v in values.items()}
            overrides = run_overrides(spec, values)
            cfg = trial_dir / f"trial-{n}.yaml"
            cfg.parent.mkdir(parents=True, exist_ok=True)
            cfg.write_text(yaml.safe_dump({
                "trial": n, "values": {o: float(r[o]) for o in res.objectives},
                "overrides": overrides.split(), "grid": {p.key: list(p.values) for p in spec.sweep.params},
            }, sort_keys=False))
            files.append(cfg)
            params = " ".join(f"{k}={_fmt(v)}" for k, v in values.items())
            lines.append(f"| {n} | " + " | ".join(_fmt(r[o]) for o in res.objectives)
                         + f" | {params} | [trial-{n}.yaml](trials/trial-{n}.yaml) |")
            run_dir = f"outputs/{spec.name}-trial-{n}"
            cmds += [f"dream run {overrides} {first_point(spec)} sim.trace=true output={run_dir}",
                     f"dream timeline {run_dir}"]
        lines += ["", "Rerun one grid point of a trial with its block trace, and draw its timeline:",
                  "", "```", *cmds[:12], "```", ""]
    if figs["pareto"] is not None:
        lines += ["## Pareto front", "", "![pareto](search_pareto.png)", ""]
    if figs["convergence"] is not None:
        lines += ["## Convergence", "",
                  "Best so far against the distinct simulations the study spent (a repeated "
                  "parameter set costs nothing; cheap rungs count what they cost).", "",
                  "![convergence](search_convergence.png)", ""]
    if figs["importance"] is not None:
        lines += [f"## Parameter importance ({imp['method'].iloc[0]})", "", "![importance](search_importance.png)", "",
                  imp.to_markdown(index=False) if _has_tabulate() else imp.to_string(index=False), ""]
    (out / "search.md").write_text("\n".join(lines))
    files.insert(0, out / "search.md")
    return files


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
