"""Where results came from: package version, git revision, time, for dataset metadata."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import dream
from dream.config import CONF_DIR

# `dream submit` ships the code without .git; it passes the revision in this variable
REVISION_ENV = "DREAM_GIT_REVISION"


def git_revision(root: Path = CONF_DIR.parent.parent) -> str:
    """The project's git commit (with -dirty when files differ), or 'unknown'."""
    if os.environ.get(REVISION_ENV):
        return os.environ[REVISION_ENV]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}-dirty" if dirty else rev


def stamp() -> dict[str, str]:
    """Version, git revision and the current UTC time."""
    return {"version": dream.__version__, "git_revision": git_revision(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
