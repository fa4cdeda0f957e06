"""`dream list`: the options of each config group and the sweep specs, with where each comes from."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dream.config import CONF_DIR, GROUPS, SWEEPS_DIR, SearchPath, config_dirs

KINDS = GROUPS + ("spec",)


def describe(path: Path) -> str:
    """A YAML file's one-line description: its `description:` field, else its first comment line."""
    text = path.read_text(errors="replace")
    for line in text.splitlines():
        if line.startswith("description:"):
            value = line.split(":", 1)[1].strip().strip("'\"")
            if value:
                return value
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and not stripped.startswith("# @package"):
            return stripped.lstrip("#").strip()
        if stripped and not stripped.startswith("#"):
            break  # only the comment block at the top describes the file
    return ""


def source(path: Path) -> str:
    """Where a file comes from: `built-in`, or its directory (relative to here when inside it)."""
    p = path.resolve()
    if p.is_relative_to(CONF_DIR) or p.is_relative_to(SWEEPS_DIR):
        return "built-in"
    # a config option lives in <dir>/<group>/name.yaml: name its config directory; a spec
    # lives in <dir>/sweeps/name.yaml: name that folder
    folder = p.parent if p.parent.name == "sweeps" else p.parent.parent
    try:
        return os.path.relpath(folder, Path.cwd()) if folder.is_relative_to(Path.cwd()) else str(folder)
    except ValueError:
        return str(folder)


def spec_files(sweeps_dirs: list[Path] | None = None) -> dict[str, tuple[Path, list[Path]]]:
    """Sweep spec names -> (winning file, shadowed files): ./sweeps first, then the built-ins."""
    dirs = sweeps_dirs or [Path.cwd() / "sweeps", SWEEPS_DIR]
    found: dict[str, tuple[Path, list[Path]]] = {}
    for d in dict.fromkeys(p.resolve() for p in dirs):
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")):
            if f.stem in found:
                found[f.stem][1].append(f)
            else:
                found[f.stem] = (f, [])
    return dict(sorted(found.items()))


def group_files(sp: SearchPath, group: str) -> dict[str, tuple[Path, list[Path]]]:
    """Option names of a group -> (winning file, files it shadows), over the search path."""
    found: dict[str, tuple[Path, list[Path]]] = {}
    for d in sp.dirs:
        folder = d / group
        if folder.is_dir():
            for f in sorted(folder.glob("*.yaml")):
                if f.stem in found:
                    found[f.stem][1].append(f)
                else:
                    found[f.stem] = (f, [])
    return dict(sorted(found.items()))


def render(kind: str, entries: dict[str, tuple[Path, list[Path]]]) -> list[str]:
    """The lines of one group's (or the specs') listing."""
    lines = [f"{kind} ({len(entries)} option{'s' if len(entries) != 1 else ''})"]
    if not entries:
        return lines
    w = max(len(n) for n in entries)
    for name, (f, hidden) in entries.items():
        where = source(f)
        if hidden:
            where += f", shadows {', '.join(source(h) for h in hidden)}"
        desc = describe(f)
        if len(desc) > 72:
            desc = desc[:71] + "…"
        lines.append(f"  {name:<{w}}  {desc}  [{where}]")
    return lines


def main(args: list[str]) -> int:
    """Print the listing; 0, or 2 on a bad argument."""
    p = argparse.ArgumentParser(
        prog="dream list", description="List config options (per group) and sweep specs with their "
        "one-line descriptions and where each comes from (--config-dir dirs, ./conf, ./sweeps, built-in).")
    p.add_argument("kind", nargs="?", choices=KINDS, metavar="{" + ",".join(KINDS) + "}",
                   help="one group, or spec; default: everything")
    ns = p.parse_args(args)
    sp = config_dirs()
    kinds = [ns.kind] if ns.kind else list(KINDS)
    out: list[str] = []
    if not ns.kind:
        out.append("config directories (first wins): " + ", ".join(
            "built-in" if d == CONF_DIR else str(d) for d in sp.dirs))
    for kind in kinds:
        entries = spec_files() if kind == "spec" else group_files(sp, kind)
        out.extend(render(kind, entries))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
