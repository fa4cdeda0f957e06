"""Run every benchmark in this folder, one after another (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    """Run benchmarks/bench_*.py in name order; return the worst exit status."""
    worst = 0
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"\n===== {script.name} =====", flush=True)
        worst = max(worst, subprocess.call([sys.executable, str(script)]))
    return worst


if __name__ == "__main__":
    sys.exit(main())
