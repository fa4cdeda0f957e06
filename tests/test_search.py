"""`dream search`: spec validation, ask-and-tell over the sweep machinery, resume, reuse, fidelity, reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from proctools import stop_group
import yaml
from omegaconf import OmegaConf

from dream.dataset import TIMING_COLUMNS, parquet_files, read_dataset
from dream.search.pareto import hypervolume, non_dominated
from dream.search.spec import load_search_spec, parse_search_spec
from dream.search.study import ATTR_ROWS, open_study, validate

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

BASE = {
    "name": "srch",
    "overrides": ["scheduler=dream", "scheduler.tune=false", "hardware=dual_4k_ws_os",
                  "sim.duration_ms=100"],
    "grid": {"workload": "vr_gaming", "sim.seed": "range(0,2)"},
    "search": {
        "params": {"scheduler.alpha": "tag(log, interval(0.001, 10))",
                   "scheduler.beta": "interval(0, 2)"},
        "objectives": ["uxcost"],
        "trials": 6,
        "batch": 2,
    },
}


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{VENV_BIN}{os.pathsep}{e.get('PATH', '')}"
    e["RAY_USAGE_STATS_ENABLED"] = "0"
    return e


def dream(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, env=env())


def write(tmp: Path, name: str, **search) -> Path:
    raw = json.loads(json.dumps(BASE))
    raw["name"] = name
    raw["search"].update(search)
    f = tmp / f"{name}.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    return f


def trials(out: Path, spec: Path) -> list[tuple]:
    """(number, state, params, values) of every trial in the stored study."""
    study = open_study(load_search_spec(spec), out, create=False)
    return [(t.number, t.state.name, dict(t.params), t.values) for t in study.trials]


def metrics(out: Path):
    df = read_dataset(out)
    return df[[c for c in df.columns if c not in TIMING_COLUMNS]].sort_values("run_key").reset_index(drop=True)


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serial")
    spec = write(tmp, "srch")
    out = tmp / "out"
    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 0, res.stderr
    return spec, out, res


# -- validation -------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"params": {"scheduler.alpha": "tag(log, interval(0, 1))"}}, "search.params.scheduler.alpha: a log interval needs start > 0"),
    ({"params": {"scheduler.alpha": "0.5"}}, "search.params.scheduler.alpha: '0.5' is one value, not a space"),
    ({"params": {"hardware": "choice(dual_4k_ws_os, nope)"}}, "search.params.hardware: unknown option 'nope'"),
    ({"objectives": ["uxcst"]}, "search.objectives: unknown metric 'uxcst'"),
    ({"objectives": ["uxcost", "energy_mj"], "fidelity": {"sim.seed": [1, 2]}}, "search.fidelity: Optuna's pruners are single-objective"),
    ({"fidelity": {"sim.seed": [1, 3]}}, "search.fidelity.sim.seed: rungs count the first values of grid.sim.seed"),
    ({"sampler": "annealing"}, "search.sampler: unknown sampler 'annealing'"),
    ({"sampler": "grid"}, "search.sampler: grid needs every parameter as choice(...)"),
    ({"colour": "red"}, "search: unknown field(s) ['colour']"),
    ({"params": {"sim.seed": "choice(1,2)"}}, "search.params.sim.seed: is also set under grid"),
])
def test_bad_search_blocks_are_named(tmp_path, change, message):
    raw = json.loads(json.dumps(BASE))
    raw["search"].update(change)
    from dream.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_search_spec(raw)
    assert message in str(err.value)


def test_bad_spec_exits_2_with_one_line_and_writes_nothing(tmp_path):
    spec = write(tmp_path, "bad", params={"scheduler.alpha": "interval(2, 1)"})
    out = tmp_path / "out"
    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 2
    assert res.stderr.strip() == ("dream search: error: search.params.scheduler.alpha: "
                                  "interval needs start < end, got (2, 1)")
    assert not out.exists()
    # a value the simulator rejects is caught at the end of a range, before anything runs
    spec = write(tmp_path, "bad2", params={"sim.warmup_ms": "interval(0, 500)"})
    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("dream search: error: sim") and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_shipped_search_specs_validate():
    for name in ("search_tune_dream", "search_dse"):
        spec = load_search_spec(name)
        validate(spec)
        assert len(spec.sweep) == 9
    assert [o.label for o in load_search_spec("search_dse").objectives] == ["uxcost", "energy_mj", "hardware.total_pes"]


# -- running -----------------------------------------------------------------------------

def test_every_simulation_is_a_row_with_its_trial_and_params(serial_run):
    spec, out, res = serial_run
    df = read_dataset(out)
    ts = trials(out, spec)
    assert len(ts) == 6 and all(state == "COMPLETE" for _, state, _, _ in ts)
    assert df["run_key"].is_unique and (df["status"] == "ok").all()
    keys = set()
    study = open_study(load_search_spec(spec), out, create=False)
    for t in study.trials:
        keys.update(k for k, _ in t.user_attrs[ATTR_ROWS])
        mine = df[df["trial"] == t.number]
        assert len(mine) == 2 and np.allclose(mine["scheduler.alpha"], t.params["scheduler.alpha"])
        # the trial's value is the geometric mean of its rows
        assert t.values[0] == pytest.approx(float(np.exp(np.log(mine["uxcost"]).mean())), rel=1e-12)
    assert keys == set(df["run_key"])
    assert "12 simulated, 0 reused" in res.stdout


def test_rerun_simulates_nothing_and_more_trials_continue(serial_run, tmp_path):
    spec, out, _ = serial_run
    before = metrics(out)
    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "this run: 0 simulated" in res.stdout
    assert metrics(out).equals(before)


def test_best_prints_pasteable_overrides_with_the_trials_run_key(serial_run):
    from dream.config import compose
    from dream.sweep.keys import run_key

    spec, out, _ = serial_run
    res = dream("search", str(spec), "--best", "--out", str(out))
    assert res.returncode == 0, res.stderr
    line = next(l for l in res.stdout.splitlines() if l.strip().startswith("dream run "))
    overrides = line.split()[2:] + ["workload=vr_gaming", "sim.seed=1"]
    key = run_key(OmegaConf.to_container(compose(overrides), resolve=True))
    df = read_dataset(out)
    best = min(t[3][0] for t in trials(out, spec))
    row = df[df["run_key"] == key]
    assert len(row) == 1, "the pasted overrides must give the trial's own config"
    trial_rows = df[df["trial"] == int(row["trial"].iloc[0])]
    assert float(np.exp(np.log(trial_rows["uxcost"]).mean())) == pytest.approx(best, rel=1e-12)


def test_repeated_parameter_sets_reuse_their_rows(tmp_path):
    spec = write(tmp_path, "rep", params={"scheduler.alpha": "choice(0.01, 1.0)",
                                          "scheduler.drop_threshold": "choice(0.0, 0.5)"},
                 sampler="random", trials=10, batch=2)
    out = tmp_path / "out"
    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 0, res.stderr
    ts = trials(out, spec)
    distinct = {tuple(sorted(p.items())) for _, _, p, _ in ts}
    assert len(ts) == 10 and len(distinct) < 10
    assert f"{2 * len(distinct)} simulated, {2 * (10 - len(distinct))} reused" in res.stdout
    assert len(read_dataset(out, dedupe=False)) == 2 * len(distinct)
    # the same parameter set gets the same value (common random numbers)
    by_set: dict = {}
    for _, _, p, v in ts:
        by_set.setdefault(tuple(sorted(p.items())), set()).add(v[0])
    assert all(len(v) == 1 for v in by_set.values())


def test_fidelity_rungs_prune_and_reuse_the_cheap_rows(tmp_path):
    raw = json.loads(json.dumps(BASE))
    raw["grid"] = {"workload": "ar_assistant", "sim.seed": "range(0,3)"}  # values differ by params
    raw["overrides"][-1] = "sim.duration_ms=200"
    raw["search"].update({"trials": 8, "batch": 4, "fidelity": {"sim.seed": [1, 3]}})
    spec = tmp_path / "fid.yaml"
    spec.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp_path / "out"
    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 0, res.stderr
    study = open_study(load_search_spec(spec), out, create=False)
    states = [t.state.name for t in study.trials]
    assert "PRUNED" in states and "COMPLETE" in states
    for t in study.trials:
        n = len(t.user_attrs[ATTR_ROWS])
        if t.state.name == "PRUNED":
            assert n == 1 and list(t.intermediate_values) == [1]   # one seed, reported at step 1
        else:
            assert n == 3
    df = read_dataset(out)
    assert len(df) == sum(len(t.user_attrs[ATTR_ROWS]) for t in study.trials)  # seed 0 reused
    assert len(dream("report", str(out)).stdout) > 0 and (out.parent / f"{out.name}-report" / "search.md").is_file()


def test_sigkill_and_rerun_repeats_no_simulation(tmp_path):
    spec = write(tmp_path, "kill", trials=12, batch=2)
    ref = tmp_path / "ref"
    assert dream("search", str(spec), "--executor", "serial", "--out", str(ref)).returncode == 0
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "dream.cli", "search", str(spec), "--executor",
                             "serial", "--out", str(out)], cwd=ROOT, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(parquet_files(out) if out.exists() else []) < 7:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = read_dataset(out, dedupe=False)
    assert 7 <= len(stored) < 24, "killed mid-search"
    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 0, res.stderr
    final = read_dataset(out, dedupe=False)
    # nothing stored was simulated again, nothing was lost: each run key once
    assert final["run_key"].is_unique
    assert f"{len(final) - len(stored)} simulated" in res.stdout
    # and the study is the one an uninterrupted run gives
    assert trials(out, spec) == trials(ref, spec)
    assert metrics(out).drop(columns="trial").equals(metrics(ref).drop(columns="trial"))


KILLED_MID_ASK = """
import os, sys
from pathlib import Path
from dream.search.spec import load_search_spec
from dream.search.study import JOURNAL, make_sampler, open_study
from dream.search.journal import AtomicJournal
from optuna.storages.journal import JournalFileBackend

from dream.dataset import claim

spec, out = load_search_spec(sys.argv[1]), Path(sys.argv[2])
claim(out, "search")  # as `dream search` does before it opens the journal
journal = AtomicJournal(JournalFileBackend(str(out / JOURNAL)))
study = open_study(spec, out, journal=journal)
dists = {p.key: p.distribution() for p in spec.params}
with journal.atomic():
    done = [study.ask(dists) for _ in range(2)]
with journal.atomic():
    study.ask(dists)
    assert len(study.trials) == 3  # the held trial is visible to this process
    os._exit(9)  # killed before the block ends
"""


def test_a_batch_of_asks_is_written_whole_or_not_at_all(tmp_path):
    spec = write(tmp_path, "ask")
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-c", KILLED_MID_ASK, str(spec), str(out)],
                         capture_output=True, text=True, cwd=ROOT, env=env(), timeout=120)
    assert res.returncode == 9, res.stderr
    stored = open_study(load_search_spec(spec), out, create=False).trials
    assert [t.state.name for t in stored] == ["RUNNING", "RUNNING"]
    assert all(set(t.params) == {"scheduler.alpha", "scheduler.beta"} for t in stored)
    # and the search continues from there: the two asked trials first, then new ones
    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "continuing 2 unfinished trial(s)" in res.stdout
    study = open_study(load_search_spec(spec), out, create=False)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
    assert [t.params for t in study.trials[:2]] == [t.params for t in stored]


def test_a_trial_with_half_its_parameters_is_failed_not_crashed_on(tmp_path):
    """Journals from before atomic asks can hold one; the search goes on past it."""
    from optuna.distributions import FloatDistribution
    from optuna.storages.journal import JournalFileBackend

    from dream.search.journal import AtomicJournal
    from dream.search.study import JOURNAL

    from dream.dataset import claim

    spec = write(tmp_path, "half")
    out = tmp_path / "out"
    claim(out, "search")
    journal = AtomicJournal(JournalFileBackend(str(out / JOURNAL)))
    study = open_study(load_search_spec(spec), out, journal=journal)
    study.ask({"scheduler.beta": FloatDistribution(0, 2)})
    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "trial 0: failed (its parameters were never all drawn" in res.stdout
    states = [t.state.name for t in open_study(load_search_spec(spec), out, create=False).trials]
    assert states[0] == "FAIL" and states.count("COMPLETE") == 5


def test_a_journal_cut_inside_a_batch_is_repaired_and_its_half_trial_failed(tmp_path):
    """A write of several pages can stop short under SIGKILL: whole lines, then a cut one."""
    import shutil

    from optuna.storages.journal import JournalFileBackend

    from dream.dataset import claim
    from dream.search.journal import AtomicJournal
    from dream.search.study import JOURNAL

    spec = write(tmp_path, "cut")
    loaded = load_search_spec(spec)
    dists = {p.key: p.distribution() for p in loaded.params}
    out = tmp_path / "out"
    claim(out, "search")
    journal = AtomicJournal(JournalFileBackend(str(out / JOURNAL)))
    study = open_study(loaded, out, journal=journal)
    with journal.atomic():
        [study.ask(dists) for _ in range(2)]
    # the next batch as it would be written, on a copy; then only part of it on the real one
    scratch = tmp_path / "scratch"
    shutil.copytree(out, scratch)
    j2 = AtomicJournal(JournalFileBackend(str(scratch / JOURNAL)))
    s2 = open_study(loaded, scratch, journal=j2)
    mid = (scratch / JOURNAL).stat().st_size  # opening a study appends a line of its own
    with j2.atomic():
        [s2.ask(dists) for _ in range(2)]
    before = (out / JOURNAL).read_bytes()
    batch = (scratch / JOURNAL).read_bytes()[mid:]
    first, second = batch.split(b"\n")[:2]
    cut = batch[:len(first) + 1 + len(second) // 2]  # the new trial whole, its next line cut
    (out / JOURNAL).write_bytes(before + cut)
    # reading the study (--best, reports) writes nothing into the journal, so the cut line
    # stays the last one and the next search can drop it
    dream("search", str(spec), "--best", "--out", str(out))
    assert (out / JOURNAL).read_bytes() == before + cut

    res = dream("search", str(spec), "--executor", "serial", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "the journal ended in a cut line" in res.stdout
    assert "trial 2: failed (its parameters were never all drawn" in res.stdout
    states = [t.state.name for t in open_study(loaded, out, create=False).trials]
    assert states[:3] == ["COMPLETE", "COMPLETE", "FAIL"] and states.count("COMPLETE") == 5
    assert (out / JOURNAL).read_bytes().endswith(b"\n")
    # continuing loads the study: no second create-study line per rerun
    assert (out / JOURNAL).read_text().count('"op_code":0,') == 1


def test_local_ray_asks_the_same_trials_as_serial(serial_run, tmp_path):
    spec, serial_out, _ = serial_run
    out = tmp_path / "ray"
    res = dream("search", str(spec), "--executor", "ray", "--workers", "2", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert trials(out, spec) == trials(serial_out, spec)
    assert metrics(out).equals(metrics(serial_out))


def test_report_of_a_two_objective_search(tmp_path):
    spec = write(tmp_path, "mo", params={"hardware.first_share": "interval(0.25, 0.75)",
                                         "hardware.mix": "choice(ws_os, os_rs)"},
                 objectives=["uxcost", "energy_mj"], trials=8, batch=4)
    raw = yaml.safe_load(spec.read_text())
    raw["overrides"] = ["hardware=pe_budget", "scheduler=fcfs", "sim.duration_ms=100"]
    spec.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp_path / "out"
    assert dream("search", str(spec), "--executor", "serial", "--out", str(out)).returncode == 0
    res = dream("report", str(out))
    assert res.returncode == 0, res.stderr
    rep = out.parent / f"{out.name}-report"  # reports go beside the dataset
    text = (rep / "search.md").read_text()
    assert "## Pareto front (non-dominated trials)" in text and "dream timeline" in text
    for f in ("search_pareto.png", "search_convergence.png", "search_trials.csv"):
        assert (rep / f).is_file()
    front = [f for f in (rep / "trials").glob("trial-*.yaml")]
    assert front and all("overrides" in yaml.safe_load(f.read_text()) for f in front)


# -- Pareto helpers ------------------------------------------------------------------------

def test_hypervolume_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(3)
    for d in (2, 3):
        pts = rng.random((12, d))
        ref = np.ones(d) * 1.1
        samples = rng.random((200_000, d)) * 1.1
        dominated = (samples[:, None, :] >= pts[None, :, :]).all(axis=2).any(axis=1)
        assert hypervolume(pts, ref) == pytest.approx(dominated.mean() * 1.1 ** d, rel=0.02)
        front = non_dominated(pts)
        for i in range(len(pts)):
            dom = ((pts <= pts[i]).all(axis=1) & (pts < pts[i]).any(axis=1)).any()
            assert front[i] == (not dom)


# -- a Ray cluster by address --------------------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _start_head(e: dict, log_path: Path) -> tuple[subprocess.Popen, int]:
    """A head node of our own on free ports (--block), up and answering `ray status`.

    A port found free can be taken by one of Ray's own processes before the one meant
    for it binds it; then the head exits, and it is started again on other ports.
    """
    for attempt in range(3):
        gcs = _free_port()
        log = open(log_path, "w")
        head = subprocess.Popen([str(VENV_BIN / "ray"), "start", "--head", "--port", str(gcs),
                                 "--num-cpus", "2", "--include-dashboard", "false",
                                 "--ray-client-server-port", str(_free_port()),
                                 "--dashboard-agent-listen-port", str(_free_port()),
                                 "--disable-usage-stats", "--block"],
                                env=e, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 180
        while head.poll() is None and time.time() < deadline:
            st = subprocess.run([str(VENV_BIN / "ray"), "status", "--address", f"127.0.0.1:{gcs}"],
                                capture_output=True, text=True, env=e, timeout=120)
            if st.returncode == 0:
                time.sleep(3)  # the client server binds its port after the head answers
                if head.poll() is None:
                    return head, gcs
                break
            time.sleep(2)
        stop_group(head)
    raise AssertionError("no Ray head started in 3 attempts: " + log_path.read_text()[-2000:])


@pytest.mark.cluster
@pytest.mark.timeout(900)
def test_search_on_a_cluster_by_address_asks_the_serial_trials(serial_run, tmp_path):
    spec, serial_out, _ = serial_run
    e = {k: v for k, v in env().items() if not k.startswith(("RAY_", "DREAM_"))}
    e.update({"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"})
    head, gcs = _start_head(e, tmp_path / "head.log")
    try:
        out = tmp_path / "cluster"
        for attempt in range(2):
            res = subprocess.run([sys.executable, "-m", "dream.cli", "search", str(spec), "--address",
                                  f"127.0.0.1:{gcs}", "--out", str(out)], capture_output=True,
                                 text=True, cwd=ROOT, env=e, timeout=300)
            # a loaded machine can make Ray's own worker registration time out: once more
            if res.returncode == 0 or "Failed to register worker" not in res.stderr:
                break
        assert res.returncode == 0, res.stderr + (tmp_path / "head.log").read_text()[-2000:]
        assert trials(out, spec) == trials(serial_out, spec)
        assert metrics(out).equals(metrics(serial_out))
    finally:
        stop_group(head)


def test_auto_executor_uses_ray_only_when_it_can_pay_off(tmp_path):
    from dream.search.study import SearchOptions, resolve_executor

    small = load_search_spec(write(tmp_path, "small"))                       # 6 trials x 2 points
    big = load_search_spec(write(tmp_path, "big", trials=40))                # 40 x 2 points
    assert resolve_executor(SearchOptions(spec="x", workers=2), small) == "serial"
    assert resolve_executor(SearchOptions(spec="x", workers=2), big) == "ray"
    assert resolve_executor(SearchOptions(spec="x", workers=1), big) == "serial"
    assert resolve_executor(SearchOptions(spec="x", address="auto"), small) == "ray"
    assert resolve_executor(SearchOptions(spec="x", executor="serial", workers=2), big) == "serial"
