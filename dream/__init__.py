"""dream: simulate and sweep real-time multi-model ML scheduling on multi-accelerator systems."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

__version__ = "0.1.0"


def compose(overrides: list[str] | None = None, config_dirs: Sequence[str | Path] | None = None) -> Any:
    """Compose a config with Hydra overrides; `config_dirs` are searched before ./conf and
    the built-ins (see dream.config.compose)."""
    from dream.config import compose as _compose

    return _compose(overrides, config_dirs)


def simulate(config: Any = None, config_dirs: Sequence[str | Path] | None = None) -> Any:
    """Simulate a composed config or a list of overrides; returns a SimResult (.summary, .jobs)."""
    from dream.api import simulate as _simulate

    return _simulate(config, config_dirs)


def config_dirs() -> Any:
    """The active config search path (dream.config.SearchPath: .dirs, .options(group))."""
    from dream.config import config_dirs as _config_dirs

    return _config_dirs()


__all__ = ["__version__", "compose", "simulate", "config_dirs"]
