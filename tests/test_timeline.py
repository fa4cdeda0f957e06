"""`dream timeline`: the Gantt chart puts each block where the engine ran it."""

from __future__ import annotations

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from dream.analysis.timeline import BAR_HEIGHT, load_timeline, plot_timeline
from dream.cli import main
from dream.rundir import write_run
from dream.workload.scenario import TaskSpec
from simkit import make_spec, model_from_ms, simulate_spec


def _run(tmp_path, tasks, models, **sim):
    r = simulate_spec(make_spec(tasks, models, **sim))
    return write_run(r, tmp_path / "run")


def _bars(ax) -> list[tuple[float, float, float, tuple]]:
    """(x, width, y, facecolor) of the plotted rectangles, by start time."""
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    return sorted((round(p.get_x(), 9), round(p.get_width(), 9), round(p.get_y(), 9), p.get_facecolor())
                  for p in rects)


@pytest.fixture
def fcfs_run(tmp_path):
    # as in test_engine: A = 2 layers of 2 ms every 10 ms, B = 1 layer of 7 ms every 20 ms,
    # one sub-accelerator, FCFS: A0 [0,4] B0 [4,11] A1 [11,15] A2 [20,24] B1 [24,31] A3 [31,35]
    models = {"ma": model_from_ms("ma", [2.0, 2.0]), "mb": model_from_ms("mb", [7.0])}
    tasks = [TaskSpec("A", "ma", 100.0), TaskSpec("B", "mb", 50.0)]
    return _run(tmp_path, tasks, models, duration_ms=40.0, trace=True)


def test_gantt_bars_are_where_the_jobs_ran(fcfs_run):
    jobs, trace = load_timeline(fcfs_run)
    fig, ax = plot_timeline(jobs, trace)
    a, b = to_rgba(plt.get_cmap("tab10")(0)), to_rgba(plt.get_cmap("tab10")(1))
    y = -BAR_HEIGHT / 2  # the only sub-accelerator is row 0
    # back-to-back blocks of one job merge into one bar
    assert _bars(ax) == [(0.0, 4.0, y, a), (4.0, 7.0, y, b), (11.0, 4.0, y, a), (20.0, 4.0, y, a),
                         (24.0, 7.0, y, b), (31.0, 4.0, y, a)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a0"]
    plt.close(fig)
    # unmerged: every block of the trace, A's two 2 ms layers separately
    fig, ax = plot_timeline(jobs, trace, merge=False)
    starts = [(x, w) for x, w, _, _ in _bars(ax)]
    assert starts == [(0.0, 2.0), (2.0, 2.0), (4.0, 7.0), (11.0, 2.0), (13.0, 2.0), (20.0, 2.0),
                      (22.0, 2.0), (24.0, 7.0), (31.0, 2.0), (33.0, 2.0)]
    plt.close(fig)
    # a window keeps the bars that overlap it (B0 [4,11] reaches into [10,22])
    fig, ax = plot_timeline(jobs, trace, start_ms=10.0, end_ms=22.0)
    assert [x for x, *_ in _bars(ax)] == [4.0, 11.0, 20.0] and ax.get_xlim() == (10.0, 22.0)
    plt.close(fig)


def test_late_and_dropped_jobs_are_marked(tmp_path):
    # one 6 ms job every 2.5 ms, expired waiting jobs dropped, horizon 14 ms:
    # T0 [0,6] late (deadline 2.5); T1 dropped at 5; T2 [6,12] late (7.5); T3 dropped at 10;
    # T4 starts at 12 and is cut by the horizon (the trace holds completed blocks only)
    models = {"m": model_from_ms("m", [6.0])}
    run = _run(tmp_path, [TaskSpec("T", "m", 400.0)], models, duration_ms=14.0, drop_expired=True,
               trace=True)
    jobs, trace = load_timeline(run)
    fig, ax = plot_timeline(jobs, trace)
    marks = {}
    for coll in ax.collections:
        marks.setdefault(len(marks), sorted(map(tuple, coll.get_offsets().tolist())))
    assert sorted(marks.values()) == [[(5.0, 1.0), (10.0, 1.0)], [(6.0, 0.0), (12.0, 0.0)]]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a0", "dropped"]
    # late jobs' bars carry a red edge
    edges = {round(p.get_x(), 9): p.get_edgecolor() for p in ax.patches if isinstance(p, Rectangle)}
    assert edges == {0.0: to_rgba("red"), 6.0: to_rgba("red")}
    plt.close(fig)


def test_cli_writes_a_nonblank_png(fcfs_run, tmp_path):
    out = tmp_path / "t.png"
    main_exit(["timeline", str(fcfs_run), "--out", str(out)])
    img = mpimg.imread(out)[..., :3]
    assert img.std() > 0.05 and (~(img > 0.99).all(axis=-1)).mean() > 0.03


def main_exit(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_without_trace_exits_2(tmp_path, capsys):
    models = {"m": model_from_ms("m", [1.0])}
    run = _run(tmp_path, [TaskSpec("T", "m", 100.0)], models, duration_ms=20.0)  # trace off
    assert main_exit(["timeline", str(run)]) == 2
    err = capsys.readouterr().err
    assert "no trace.parquet" in err and "sim.trace=true" in err and "Traceback" not in err
    assert main_exit(["timeline", str(tmp_path / "nowhere")]) == 2
    assert "is not a run directory" in capsys.readouterr().err


def _cli(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_unsupported_out_format_exits_2(fcfs_run, tmp_path):
    p = _cli("timeline", str(fcfs_run), "--out", str(tmp_path / "x.xyz"))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0
    assert "x.xyz" in p.stderr and ".png" in p.stderr and ".svg" in p.stderr
    assert not (tmp_path / "x.xyz").exists()


def test_cli_out_that_cannot_be_written_exits_2(fcfs_run, tmp_path, capsys):
    (tmp_path / "adir.png").mkdir()
    assert main_exit(["timeline", str(fcfs_run), "--out", str(tmp_path / "adir.png")]) == 2
    assert "is a directory" in capsys.readouterr().err
    (tmp_path / "afile").write_text("mine")
    assert main_exit(["timeline", str(fcfs_run), "--out", str(tmp_path / "afile" / "t.png")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Traceback" not in err
    assert (tmp_path / "afile").read_text() == "mine"
    assert main_exit(["timeline", str(fcfs_run), "--start", "20", "--end", "10"]) == 2
    assert "--start" in capsys.readouterr().err


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_cli_writes_svg_and_pdf_deterministically(fcfs_run, tmp_path, suffix, magic):
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    assert main_exit(["timeline", str(fcfs_run), "--out", str(a)]) == 0
    assert main_exit(["timeline", str(fcfs_run), "--out", str(b)]) == 0
    assert a.read_bytes().startswith(magic) and a.read_bytes() == b.read_bytes()
