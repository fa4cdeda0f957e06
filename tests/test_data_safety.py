"""Data safety: dream writes only where it may, one writer per dataset, broken files named.

Every test runs the real `dream` command in a subprocess, inside a temporary working
directory, and checks that files dream did not write are left exactly as they were.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dream.dataset import TIMING_COLUMNS, read_dataset

PY = sys.executable

SMALL = """name: small
overrides: [sim.duration_ms=50]
grid:
  scheduler: fcfs,latency_greedy
  sim.seed: range(0,4)
"""


def dream(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`dream ...` in a subprocess (sweeps serial unless told otherwise)."""
    argv = [PY, "-m", "dream.cli", *args]
    if args[0] == "sweep" and "--executor" not in args:
        argv += ["--executor", "serial", "--no-progress"]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=timeout)


def tree(root: Path, skip: Path | None = None) -> dict[str, str]:
    """Every file and directory under root with a digest of its content (skip: one subtree)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        out[str(p.relative_to(root))] = ("dir" if p.is_dir() and not p.is_symlink()
                                         else hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def one_line_error(res: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    """Exit status `code`, one line on stderr holding each needle, no traceback."""
    assert res.returncode == code, res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def metrics(out: Path) -> pd.DataFrame:
    df = read_dataset(out, dedupe=False)
    return df[[c for c in df.columns if c not in TIMING_COLUMNS]].sort_values("run_key").reset_index(drop=True)


@pytest.fixture()
def work(tmp_path) -> Path:
    """A working directory holding a spec and some files of the user's."""
    (tmp_path / "small.yaml").write_text(SMALL)
    (tmp_path / "notes.txt").write_text("the user's notes\n")
    return tmp_path


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A dataset of 8 points in several part files (one per point), written once."""
    tmp = tmp_path_factory.mktemp("pristine")
    (tmp / "small.yaml").write_text(SMALL)
    res = dream("sweep", "small.yaml", "--out", "data", "--chunk-size", "1", "--flush-s", "0", cwd=tmp)
    assert res.returncode == 0, res.stderr
    assert len(list((tmp / "data").glob("part-*.parquet"))) >= 4
    return tmp / "data"


# -- 1. never touch what is not ours -------------------------------------------------------

@pytest.mark.parametrize("name", [".", ".."])
def test_spec_name_dot_or_dotdot_is_refused(work, name):
    (work / "outputs" / "old").mkdir(parents=True)
    (work / "outputs" / "old" / "keep.txt").write_text("x")
    (work / "dots.yaml").write_text(SMALL.replace("name: small", f"name: '{name}'"))
    before = tree(work)
    res = dream("sweep", "dots.yaml", cwd=work)
    one_line_error(res, 2, "name", "plain name")
    assert tree(work) == before


@pytest.mark.parametrize("case", ["outputs", "dot", "draft", "file", "rundir"])
def test_out_refuses_a_directory_that_is_not_a_dataset(work, case):
    if case == "outputs":  # a folder of datasets is not a dataset
        assert dream("sweep", "small.yaml", "--out", "outputs/small", cwd=work).returncode == 0
        out = "outputs"
    elif case == "dot":
        out = "."
    elif case == "draft":
        (work / "mydir").mkdir()
        (work / "mydir" / ".tmp-draft.txt").write_text("half-written thoughts")
        out = "mydir"
    elif case == "file":
        out = "notes.txt"
    else:
        assert dream("run", "sim.duration_ms=20", "output=r", cwd=work).returncode == 0
        out = "r"
    before = tree(work)
    res = dream("sweep", "small.yaml", "--out", out, cwd=work)
    one_line_error(res, 2, str((work / out).absolute()) if out != "." else str(work))
    assert tree(work) == before
    res = dream("gather", str(work), "--out", out, cwd=work)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert tree(work) == before


def test_out_may_point_anywhere_new_or_empty(work, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "a" / "b"
    (work / "empty").mkdir()
    for out in (str(elsewhere), "empty"):
        res = dream("sweep", "small.yaml", "--out", out, cwd=work)
        assert res.returncode == 0, res.stderr
        assert len(read_dataset(work / out)) == 8
    # and again into the same datasets: they are datasets now
    assert dream("sweep", "small.yaml", "--out", "empty", cwd=work).returncode == 0


def test_clean_up_and_compaction_touch_only_the_datasets_own_files(work, pristine):
    data = work / "data"
    shutil.copytree(pristine, data)
    # the user's files inside the dataset, and a subfolder that looks like dream's own
    (data / "notes.txt").write_text("mine")
    (data / ".tmp-draft.txt").write_text("mine too")
    sub = data / "sub"
    sub.mkdir()
    shutil.copy(next(pristine.glob("part-*.parquet")), sub / "part-x.parquet")
    (sub / ".tmp-part-y.parquet.123").write_text("not dream's to delete")
    # a temporary file a killed writer of this dataset left: dream's own, removed
    (data / ".tmp-part-z.parquet.99").write_bytes(b"half a file")
    before = tree(work, skip=None)
    res = dream("sweep", "small.yaml", "--out", "data", "--no-resume", cwd=work)
    assert res.returncode == 0, res.stderr
    after = tree(work)
    gone = set(before) - set(after)
    assert gone <= {f"data/{p.name}" for p in pristine.iterdir()} | {"data/.tmp-part-z.parquet.99"}
    assert "data/.tmp-part-z.parquet.99" in gone
    for keep in ("notes.txt", "data/notes.txt", "data/.tmp-draft.txt", "data/sub",
                 "data/sub/part-x.parquet", "data/sub/.tmp-part-y.parquet.123", "small.yaml"):
        assert after[keep] == before[keep], keep


def test_dream_run_output_refuses_foreign_files_and_datasets(work, pristine):
    (work / "mydir").mkdir()
    (work / "mydir" / "config.yaml").write_text("the user's config\n")
    shutil.copytree(pristine, work / "data")
    before = tree(work)
    for out in ("mydir", "data"):
        res = dream("run", "sim.duration_ms=20", f"output={out}", cwd=work)
        one_line_error(res, 2, out)
        # the Hydra app path (a hydra.* setting) refuses the same way
        res = dream("run", "sim.duration_ms=20", f"output={out}", "hydra.job.name=x", cwd=work)
        one_line_error(res, 2, out)
    assert tree(work) == before
    assert len(read_dataset(work / "data")) == 8


@pytest.mark.parametrize("hydra_app", [False, True])
def test_dream_run_output_makes_no_hydra_run_directory(work, hydra_app):
    extra = ["hydra.job.name=x"] if hydra_app else []
    res = dream("run", "sim.duration_ms=20", "output=res/one", *extra, cwd=work)
    assert res.returncode == 0, res.stderr
    assert not (work / "outputs").exists()
    assert sorted(p.name for p in (work / "res" / "one").iterdir()) == [
        "_dream_run.json", "config.yaml", "jobs.parquet", "summary.json"]
    # the same directory again: dream wrote it, so it may write it again
    assert dream("run", "sim.duration_ms=20", "output=res/one", *extra, cwd=work).returncode == 0


# -- 2. concurrent writers ------------------------------------------------------------------

def test_two_runs_started_together_get_two_run_directories(work):
    procs = [subprocess.Popen([PY, "-m", "dream.cli", "run", "sim.duration_ms=20", f"sim.seed={i}"],
                              cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    runs = sorted((work / "outputs" / "runs").iterdir())
    assert len(runs) == 3
    from omegaconf import OmegaConf

    assert all((r / "summary.json").is_file() for r in runs)
    assert sorted(OmegaConf.load(r / "config.yaml").sim.seed for r in runs) == [0, 1, 2]


def test_a_second_sweep_on_the_same_dataset_is_refused(work):
    (work / "long.yaml").write_text("""name: long
overrides: [sim.duration_ms=100]
grid:
  scheduler: fcfs,latency_greedy
  sim.seed: range(0,150)
""")
    first = subprocess.Popen([PY, "-m", "dream.cli", "sweep", "long.yaml", "--out", "data",
                              "--executor", "serial", "--no-progress"], cwd=work,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the first has the lock once it prints its plan
        assert first.stdout.readline().startswith("sweep long: 300 points")
        second = dream("sweep", "long.yaml", "--out", "data", cwd=work)
        assert first.poll() is None, "the first sweep ended before the second started"
        one_line_error(second, 2, str(work / "data"), f"pid {first.pid}", "another dream process")
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    raw = read_dataset(work / "data", dedupe=False)
    assert len(raw) == 300 and raw["run_key"].is_unique


def test_two_sweeps_started_together_store_every_point_once(work):
    procs = [subprocess.Popen([PY, "-m", "dream.cli", "sweep", "small.yaml", "--out", "data",
                               "--executor", "serial", "--no-progress"], cwd=work,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    # one ran; the other was refused (or, started after the first had finished, found all stored)
    assert codes in ([0, 2], [0, 0]), results
    for code, err in results:
        assert "Traceback" not in err, err
        if code == 2:
            assert "another dream process" in err, err
    raw = read_dataset(work / "data", dedupe=False)
    assert len(raw) == 8 and raw["run_key"].is_unique


# -- 4. every file we read can be broken ------------------------------------------------------

def _break(f: Path, how: str) -> None:
    data = f.read_bytes()
    if how == "truncated":
        f.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        f.write_bytes(b"")
    elif how == "not_parquet":
        f.write_text("run_key,status\nabc,ok\n")
    else:  # 64 bytes overwritten in the middle of the pages: the footer still parses
        footer = int.from_bytes(data[-8:-4], "little")
        mid = (len(data) - 8 - footer) // 2
        f.write_bytes(data[:mid] + bytes(64) + data[mid + 64:])


@pytest.mark.parametrize("how", ["truncated", "empty", "not_parquet", "overwritten"])
def test_a_broken_part_is_named_and_repair_moves_it_aside(work, pristine, how):
    data = work / "data"
    shutil.copytree(pristine, data)
    part = sorted(data.glob("part-*.parquet"))[1]
    _break(part, how)
    broken = part.read_bytes()
    res = dream("sweep", "small.yaml", "--out", "data", cwd=work)
    one_line_error(res, 2, str(part), "--repair")
    assert part.read_bytes() == broken
    res = dream("report", "data", cwd=work)
    one_line_error(res, 2, part.name)
    res = dream("sweep", "small.yaml", "--out", "data", "--repair", cwd=work)
    assert res.returncode == 0, res.stderr
    assert not part.exists()
    aside = data / f"_broken.{part.name}.bad"
    assert aside.read_bytes() == broken
    pd.testing.assert_frame_equal(metrics(data), metrics(pristine))


@pytest.mark.parametrize("target,how", [("jobs.parquet", "not_parquet"), ("trace.parquet", "truncated"),
                                        ("jobs.parquet", "overwritten"), ("summary.json", "garbage")])
def test_a_broken_run_directory_file_is_named(work, target, how):
    res = dream("run", "sim.duration_ms=100", "sim.trace=true", "output=r", cwd=work)
    assert res.returncode == 0, res.stderr
    f = work / "r" / target
    if how == "garbage":
        f.write_bytes(b"{\"jobs\": 3,\xff")
    else:
        _break(f, how)
    res = dream("timeline", "r", cwd=work)
    one_line_error(res, 2, target)


@pytest.fixture(scope="module")
def multirun(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("mr")
    res = dream("run", "-m", "sim.seed=0,1", "sim.duration_ms=20", f"hydra.sweep.dir={tmp / 'm'}", cwd=tmp)
    assert res.returncode == 0, res.stderr
    return tmp / "m"


@pytest.mark.parametrize("garbage", [b"- [unclosed\n", b"- sim.seed=(\n", b"- sim.seed=\xff\n",
                                     b"just a string\n"])
def test_garbage_overrides_yaml_under_gather_is_named(work, multirun, garbage):
    mr = work / "mr"
    shutil.copytree(multirun, mr)
    f = mr / "1" / ".hydra" / "overrides.yaml"
    f.write_bytes(garbage)
    res = dream("gather", "mr", "--out", "g", cwd=work)
    one_line_error(res, 2, "mr/1/.hydra/overrides.yaml")
    assert not (work / "g").exists()


@pytest.mark.parametrize("text,needle", [(b"name: x\ngrid: [\n", "line 3"),
                                         (b"name: x\ngrid:\n  sim.seed: 0,1\n  bad: \xff\n", "UTF-8")])
def test_a_broken_spec_file_is_named(work, text, needle):
    (work / "bad.yaml").write_bytes(text)
    res = dream("sweep", "bad.yaml", cwd=work)
    one_line_error(res, 2, "bad.yaml", needle)
    assert not (work / "outputs").exists()


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 96 KiB tmpfs (root only): a disk that fills up during a sweep."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_ends_with_one_line_and_the_rerun_continues(work, tiny_disk):
    (work / "big.yaml").write_text("""name: big
overrides: [sim.duration_ms=50]
grid:
  scheduler: fcfs,latency_greedy
  sim.seed: range(0,200)
""")
    out = tiny_disk / "data"
    res = dream("sweep", "big.yaml", "--out", str(out), "--flush-s", "0.1", cwd=work)
    one_line_error(res, 1, str(out), "No space left on device")
    stored = read_dataset(out)
    assert 0 < len(stored) < 400 and stored["run_key"].is_unique
    # again on the full disk: the same one line, what was stored is intact
    res = dream("sweep", "big.yaml", "--out", str(out), cwd=work)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert len(read_dataset(out)) >= len(stored)
    # with room again, the same command finishes the study: every point once
    moved = work / "data"
    shutil.copytree(out, moved)
    res = dream("sweep", "big.yaml", "--out", str(moved), cwd=work)
    assert res.returncode == 0, res.stderr
    raw = read_dataset(moved, dedupe=False)
    assert len(raw) == 400 and raw["run_key"].is_unique


@pytest.mark.parametrize("text,needle", [(b"tasks: [\n", "line 2"), (b"tasks: \xff\n", "UTF-8")])
def test_a_broken_config_file_is_named(work, text, needle):
    (work / "conf" / "workload").mkdir(parents=True)
    (work / "conf" / "workload" / "mine.yaml").write_bytes(text)
    for args in (["run", "workload=mine", "sim.duration_ms=20"],
                 ["run", "workload=mine", "sim.duration_ms=20", "hydra.job.name=x"]):
        res = dream(*args, cwd=work)
        one_line_error(res, 2, "mine.yaml", needle)
    (work / "mine.yaml").write_text("name: mine\ngrid:\n  workload: mine\n")
    res = dream("sweep", "mine.yaml", cwd=work)
    one_line_error(res, 2, "mine.yaml", needle)
