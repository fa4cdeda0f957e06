"""Reading a results dataset: unified schemas, partition keys, a column order independent of file order."""

import pandas as pd

from dream.dataset import read_dataset


def _write(d, name, frame):
    d.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(d / name, index=False)


def test_column_order_does_not_depend_on_which_file_came_first(tmp_path):
    a = pd.DataFrame({"run_key": ["k1"], "status": ["ok"], "error": [None], "workload": ["w1"],
                      "uxcost": [1.0], "task.ES.dvr": [0.0], "sim.seed": [0]})
    b = pd.DataFrame({"run_key": ["k2"], "status": ["ok"], "error": [None], "workload": ["w2"],
                      "uxcost": [2.0], "task.HT.dvr": [0.5], "sim.seed": [1], "wall_s": [0.1]})
    _write(tmp_path / "one", "part-1.parquet", a)
    _write(tmp_path / "one", "part-2.parquet", b)
    _write(tmp_path / "two", "part-1.parquet", b)
    _write(tmp_path / "two", "part-2.parquet", a)
    one, two = read_dataset(tmp_path / "one"), read_dataset(tmp_path / "two")
    assert list(one.columns) == list(two.columns) == [
        "run_key", "status", "error", "workload", "sim.seed", "uxcost", "task.ES.dvr", "task.HT.dvr", "wall_s"]
    pd.testing.assert_frame_equal(one.sort_values("run_key").reset_index(drop=True),
                                  two.sort_values("run_key").reset_index(drop=True))
    assert one.set_index("run_key").loc["k1", "task.HT.dvr"] != one.set_index("run_key").loc["k1", "task.HT.dvr"]


def test_hive_partition_keys_become_columns(tmp_path):
    _write(tmp_path / "scheduler=fcfs", "p.parquet", pd.DataFrame({"run_key": ["a"], "uxcost": [1.0]}))
    df = read_dataset(tmp_path)
    assert df.loc[0, "scheduler"] == "fcfs" and df.loc[0, "uxcost"] == 1.0
