"""Metrics: DVR, energy, UXCost, XRBench score, latency percentiles, utilisation."""

from dream.metrics.summary import summarize, uxcost, xrbench_score

__all__ = ["summarize", "uxcost", "xrbench_score"]
