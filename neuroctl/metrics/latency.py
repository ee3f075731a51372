"""Latency statistics of per-tick samples."""

from __future__ import annotations

import numpy as np


def summarize_us(samples_s: np.ndarray) -> dict[str, float]:
    """p50, p99, max and mean of samples given in seconds, reported in microseconds."""
    samples = np.asarray(samples_s, dtype=np.float64) * 1e6
    if samples.size == 0:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    return {
        "p50": round(float(np.percentile(samples, 50)), 3),
        "p99": round(float(np.percentile(samples, 99)), 3),
        "max": round(float(samples.max()), 3),
        "mean": round(float(samples.mean()), 3),
    }
