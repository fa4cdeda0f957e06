"""`dream gather`: Hydra multirun directories (`dream run -m ...`) to rows of a sweep dataset.

Each job directory holds summary.json and config.yaml (dream.rundir.write_run) plus
Hydra's .hydra/ (overrides.yaml, hydra.yaml with the group choices). A row gets the same
run key a sweep would give the same resolved config, so gathered and swept results mix
in one dataset without duplicates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from dream.dataset import (DatasetError, DatasetLock, broken_parts, claim, remove_temp_files,
                           stored_status, unify, write_metadata)
from dream.errors import ConfigError
from dream.sweep.keys import run_key
from dream.sweep.provenance import stamp
from dream.sweep.resolve import IDENTITY_GROUPS, column_value, param_type
from dream.sweep.spec import Param


def find_runs(root: Path) -> list[Path]:
    """Job directories under a multirun directory (those with .hydra/ or summary.json)."""
    found = {p.parent.parent for p in root.rglob(".hydra/overrides.yaml")}
    found |= {p.parent for p in root.rglob("summary.json")}
    return sorted(found, key=lambda p: [int(s) if s.isdigit() else s for s in p.relative_to(root).parts])


def _parse(line: Any, where: Path | None = None) -> tuple[str, Any, bool]:
    """(key, typed value, is a sweep) of an override line; ConfigError naming `where` if it is not one."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        if not isinstance(line, str):
            raise ValueError(f"expected an override string, got {line!r}")
        ov = OverridesParser.create().parse_override(line)
    except (HydraException, ValueError) as exc:
        raise ConfigError(str(where or "overrides"), f"not a Hydra override: "
                          f"{' '.join(str(exc).split())[:200]}") from None
    key = ov.key_or_group + (f"@{ov.package}" if ov.package else "")
    return key, (None if ov.is_sweep_override() else ov.value()), ov.is_sweep_override()


def _yaml(path: Path) -> Any:
    """A YAML file's content (None if absent); ConfigError naming the file and line if broken."""
    if not path.is_file():
        return None
    try:
        return yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(str(path), f"{line}YAML syntax error: "
                          f"{getattr(exc, 'problem', None) or exc}") from None


def _config(run: Path) -> dict | None:
    """The job's resolved config: config.yaml (write_run), else Hydra's .hydra/config.yaml."""
    for f in (run / "config.yaml", run / ".hydra" / "config.yaml"):
        if f.is_file():
            raw = _yaml(f)
            if not isinstance(raw, dict):
                raise ConfigError(str(f), "must be a YAML mapping (the job's resolved config)")
            try:
                cfg = OmegaConf.create(raw)
            except Exception as exc:  # keys OmegaConf cannot hold
                raise ConfigError(str(f), f"not a config: {' '.join(str(exc).split())[:200]}") from None
            try:
                out = OmegaConf.to_container(cfg, resolve=True)
            except Exception:  # an interpolation only Hydra's job context could resolve
                out = OmegaConf.to_container(cfg, resolve=False)
            return out if isinstance(out, dict) else None
    return None


def swept_keys(root: Path, overrides: list[dict[str, Any]]) -> list[str]:
    """The keys swept: the sweeps of multirun.yaml's task overrides, else keys that vary."""
    multirun = _yaml(root / "multirun.yaml")
    task = (((multirun or {}).get("hydra") or {}).get("overrides") or {}).get("task")
    if task:
        if not isinstance(task, list):
            raise ConfigError(str(root / "multirun.yaml"), "hydra.overrides.task must be a list")
        return [k for k, _, sweep in (_parse(t, root / "multirun.yaml") for t in task) if sweep]
    keys = list(dict.fromkeys(k for o in overrides for k in o))
    return [k for k in keys if len({json.dumps(o.get(k), sort_keys=True, default=str)
                                    for o in overrides}) > 1]


def gather_rows(root: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One row per job directory, and the column kinds of the swept parameters."""
    runs = find_runs(root)
    overrides = []
    for run in runs:
        f = run / ".hydra" / "overrides.yaml"
        lines = _yaml(f) or []
        if not isinstance(lines, list):
            raise ConfigError(str(f), "must be a YAML list of overrides")
        overrides.append({k: v for k, v, _ in (_parse(line, f) for line in lines)})
    keys = swept_keys(root, overrides)
    kinds = {k: param_type(Param(k, k, False, tuple(o.get(k) for o in overrides))) for k in keys}
    rows = []
    for run, ov in zip(runs, overrides):
        config = _config(run)
        if config is None:
            continue  # not a job directory we can identify
        hydra_cfg = _yaml(run / ".hydra" / "hydra.yaml") or {}
        choices = ((hydra_cfg.get("hydra") or {}).get("runtime") or {}).get("choices") or {}
        sim = config.get("sim") if isinstance(config.get("sim"), dict) else {}
        row: dict[str, Any] = {"run_key": run_key(config), "status": "ok", "error": None}
        row.update({g: choices.get(g) for g in IDENTITY_GROUPS})
        row["seed"] = sim.get("seed")
        row.update({k: column_value(kinds[k], ov.get(k)) for k in keys})
        summary_file = run / "summary.json"
        if summary_file.is_file():
            try:
                summary = json.loads(summary_file.read_bytes().decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError(str(summary_file), f"not valid JSON ({exc})") from None
            if not isinstance(summary, dict):
                raise ConfigError(str(summary_file), "not a JSON object")
            row.update(summary)
            finished = summary_file.stat().st_mtime
        else:
            row["status"] = "failed"
            row["error"] = "NoSummary: the job left no summary.json (it failed or did not finish)"
            finished = run.stat().st_mtime
        row.update({"elapsed_s": None, "worker": None, "finished_at": finished})
        rows.append(row)
    return rows, kinds


def gather(root: str | Path, out: str | Path) -> tuple[int, int, int]:
    """Write the rows of a multirun directory into a dataset; (written, failed, already stored)."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise ConfigError("MULTIRUN_DIR", f"{str(root)!r} is not a directory")
    rows, kinds = gather_rows(root)
    if not rows:
        raise ConfigError("MULTIRUN_DIR", f"no Hydra job directories under {str(root)!r} "
                          "(expected <dir>/<n>/.hydra/ and summary.json from `dream run -m`)")
    claim(out, "gather")
    with DatasetLock(out):
        return _store(root, out, rows, kinds)


def _store(root: Path, out: Path, rows: list[dict[str, Any]], kinds: dict[str, str]) -> tuple[int, int, int]:
    from dream.config import compose
    from dream.sweep.resolve import column_value
    from dream.sweep.sink import DatasetSink, stable_kinds

    remove_temp_files(out)
    broken = broken_parts(out)
    if broken:
        raise DatasetError(broken[0][0], f"{broken[0][1]}; `dream sweep SPEC --out {out} --repair` "
                           "moves broken parts aside")
    stable = stable_kinds(kinds, OmegaConf.to_container(compose([]), resolve=True))
    for r in rows:  # the same column types a sweep of these keys would write
        for k in kinds:
            r[k] = column_value(stable[k], r[k])
    kinds = stable
    stored = stored_status(out)
    fresh = [r for r in rows if stored.get(r["run_key"]) != "ok"]
    info = stamp()
    meta = {"name": root.name, "source": str(root.resolve()), "kind": "gather",
            "swept": list(kinds), **{k: info[k] for k in ("version", "git_revision")},
            "updated_at": info["time"]}
    write_metadata(out, meta)
    sink = DatasetSink(out, kinds, meta, flush_rows=10**9)
    sink.add(fresh)
    sink.close()
    if any(r["run_key"] in stored for r in fresh):
        from dream.dataset import compact

        compact(out)
    unify(out)
    return len(fresh), sum(r["status"] != "ok" for r in fresh), len(rows) - len(fresh)


def main(args: list[str]) -> int:
    """`dream gather MULTIRUN_DIR [--out DIR]`."""
    p = argparse.ArgumentParser(prog="dream gather",
                                description="Turn Hydra multirun job directories into dataset rows.")
    p.add_argument("multirun_dir", help="a directory written by `dream run -m ...`")
    p.add_argument("--out", default=None, help="dataset directory (default: outputs/gather/<dir name>/)")
    ns = p.parse_args(args)
    root = Path(ns.multirun_dir)
    out = Path(ns.out) if ns.out else Path("outputs") / "gather" / root.resolve().name
    try:
        written, failed, skipped = gather(root, out)
    except ConfigError as exc:
        print(f"dream gather: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"dream gather: error: cannot write {exc.filename or out}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    print(f"gathered {written} run(s) ({failed} failed), {skipped} already stored -> {out}/")
    return 1 if failed else 0
