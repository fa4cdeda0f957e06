"""dream: simulate and sweep real-time multi-model ML scheduling on multi-accelerator systems."""

from __future__ import annotations

__version__ = "0.1.0"


def compose(overrides: list[str] | None = None):
    """Compose the config from conf/ with Hydra overrides; see dream.config.compose."""
    from dream.config import compose as _compose

    return _compose(overrides)


def simulate(config=None):
    """Simulate a composed config; returns a SimResult with .summary and .jobs."""
    from dream.api import simulate as _simulate

    return _simulate(config)


__all__ = ["__version__", "compose", "simulate"]
