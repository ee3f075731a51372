"""Statistics of samples: the one implementation behind metrics.json's latency figures and the bench
suites' rows."""

from __future__ import annotations

import numpy as np


def sample_statistics(samples: np.ndarray | list[float]) -> dict[str, float]:
    """p50, p99, max and mean of raw samples (in their own unit), and their count n; ValueError if
    there are none."""
    values = np.asarray(samples, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no samples")
    return {
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "n": int(values.size),
    }


def summarize_us(samples_s: np.ndarray) -> dict[str, float]:
    """p50, p99, max and mean of samples given in seconds, reported in microseconds (rounded to the ns);
    zeros when there are no samples."""
    samples = np.asarray(samples_s, dtype=np.float64) * 1e6
    if samples.size == 0:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    return {name: round(value, 3) for name, value in sample_statistics(samples).items() if name != "n"}
