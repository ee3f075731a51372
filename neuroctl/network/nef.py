"""Neural Engineering Framework (NEF) maths: encoders, sample points, tuning curves, decoders.

An ensemble represents a vector x (in the units of its radius) in its neurons' currents,
J = gain * (e . (x / radius)) + bias, with e a unit-length encoder per neuron. A linear decoder D
(neurons x outputs) reads f(x) back from the neurons' firing rates a(x): f(x) ~ a(x) @ D, solved by
regularised least squares over sample points (Nengo's LstsqL2).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from neuroctl.network.lif import lif_rate
from neuroctl.network.linalg import cholesky_solve, gram, matmul

DECODER_REGULARIZATION = 0.1
"""Noise level, as a fraction of the largest sampled rate, assumed when solving decoders (Nengo's default)."""


def unit_vectors(rng: np.random.Generator, count: int, dimensions: int) -> np.ndarray:
    """`count` random unit vectors, uniform on the sphere, shape (count, dimensions)."""
    vectors = rng.standard_normal((count, dimensions))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def unit_ball_points(rng: np.random.Generator, count: int, dimensions: int) -> np.ndarray:
    """`count` points uniform in the unit ball, shape (count, dimensions)."""
    radii = rng.random((count, 1)) ** (1.0 / dimensions)
    return unit_vectors(rng, count, dimensions) * radii


def sample_point_count(n_neurons: int, dimensions: int) -> int:
    """Number of sample points for solving decoders (Nengo's default rule)."""
    return max(int(np.clip(500 * dimensions, 750, 2500)), 2 * n_neurons)


def tuning_rates(
    points: np.ndarray,
    encoders: np.ndarray,
    radius: np.ndarray,
    gain: np.ndarray,
    bias: np.ndarray,
    tau_rc_s: float,
    tau_ref_s: float,
) -> np.ndarray:
    """Steady-state rates in Hz, shape (n_points, n_neurons), of neurons representing `points` (n_points, d)."""
    currents = gain * matmul(points / radius, encoders.T) + bias
    return lif_rate(currents, tau_rc_s, tau_ref_s)


def solve_decoders(
    rates: np.ndarray, targets: np.ndarray, regularization: float = DECODER_REGULARIZATION
) -> np.ndarray:
    """Decoders D (n_neurons, d_out) minimising |rates @ D - targets|^2 + n_points (reg * max rate)^2 |D|^2.

    Solved with `neuroctl.network.linalg` (Cholesky of the regularised Gram matrix): bit-identical for
    any BLAS thread count."""
    n_points, n_neurons = rates.shape
    sigma = regularization * rates.max()
    regularised = gram(rates) + n_points * sigma**2 * np.eye(n_neurons)
    return cholesky_solve(regularised, matmul(rates.T, targets))


def evaluate_function(function: Callable[[np.ndarray], object] | None, points: np.ndarray) -> np.ndarray:
    """f applied to each sample point, shape (n_points, d_out); the identity when `function` is None."""
    if function is None:
        return points
    values = [np.atleast_1d(np.asarray(function(point), dtype=np.float64)) for point in points]
    return np.stack(values)
