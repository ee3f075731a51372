"""Interleaved sampling and sample statistics.

Things compared in one table are sampled in turn, A B C A B C ..., so that a slow drift of the
machine (other processes, clock changes) lands on all of them alike; a ratio is taken round by round
(A's i-th sample over B's i-th) and summarised by its median, which cancels that drift.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from neuroctl.metrics.latency import sample_statistics


def stats(samples: np.ndarray | list[float]) -> dict[str, float]:
    """p50, p99, max and mean of raw samples (in their own unit), and their count n
    (`neuroctl.metrics.latency.sample_statistics`)."""
    return sample_statistics(samples)


def interleave(samplers: Mapping[str, Callable[[], float]], rounds: int,
               on_round: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Call every sampler once per round, in order, for `rounds` rounds; return each one's samples."""
    samples = {name: np.empty(rounds) for name in samplers}
    for r in range(rounds):
        if on_round is not None:
            on_round(r)
        for name, sample in samplers.items():
            samples[name][r] = sample()
    return samples


def paired_ratio(numerator: np.ndarray, denominator: np.ndarray) -> dict[str, float]:
    """numerator[i] / denominator[i] round by round: median, min and max over the rounds, and their count."""
    ratios = np.asarray(numerator, dtype=np.float64) / np.asarray(denominator, dtype=np.float64)
    return {"p50": float(np.median(ratios)), "min": float(ratios.min()), "max": float(ratios.max()),
            "rounds": int(ratios.size)}
