"""The gradient-neuron network: the kernel step for step against its numpy reference, and its events."""

import numpy as np
import pytest

from neuroctl.activity import COUNTER_FIELDS
from neuroctl.network.gradient import (ITERATE, RECEIVED, SENT, gradient_network_solve,
                                       gradient_network_solve_reference)


def _problem(n: int, nx: int, seed: int):
    """A random strongly convex QP in the network's terms: W symmetric positive definite, E, a box."""
    rng = np.random.default_rng(seed)
    root = rng.standard_normal((n, n))
    weights = root @ root.T / n + 0.5 * np.eye(n)
    weights = 0.5 * (weights + weights.T)
    sensor_weights = rng.standard_normal((nx, n))
    lower, upper = -rng.uniform(0.2, 1.0, n), rng.uniform(0.2, 1.0, n)
    eigenvalues = np.linalg.eigvalsh(weights)
    step = 1.0 / eigenvalues[-1]
    kappa = eigenvalues[-1] / eigenvalues[0]
    beta = (np.sqrt(kappa) - 1.0) / (np.sqrt(kappa) + 1.0)
    return weights, sensor_weights, lower, upper, step, beta


@pytest.mark.parametrize("dual", [False, True], ids=["primal", "dual"])
@pytest.mark.parametrize("dense", [False, True], ids=["spiking", "dense"])
def test_kernel_equals_the_numpy_reference_call_after_call(dual, dense):
    n, nx, iterations = 16, 5, 12
    weights, sensor_weights, lower, upper, step, beta = _problem(n, nx, seed=1)
    thresholds, sensor_thresholds = np.full(n, 0.01 * (step if dual else 1.0)), np.full(nx, 0.02)
    rng = np.random.default_rng(2)
    state, x_hat = np.zeros((6, n)), np.zeros(nx)
    reference_state, reference_x_hat = state.copy(), x_hat.copy()
    out = np.zeros(n)
    raster = np.zeros((0 if dense else iterations + int(dual), n + nx), dtype=np.uint8)
    x = np.zeros(nx)
    for call in range(30):
        x = x + 0.3 * rng.standard_normal(nx)
        if call == 7:
            x[2] = np.nan  # ignored by both: x_hat keeps its value
        activity = np.zeros(len(COUNTER_FIELDS), dtype=np.int64)
        gradient_network_solve(x, weights, sensor_weights, lower, upper, thresholds, sensor_thresholds, step,
                               beta, iterations, dual, dense, state, x_hat, out, activity, raster)
        expected, reference_state, reference_x_hat, counters, expected_raster = gradient_network_solve_reference(
            x, weights, sensor_weights, lower, upper, thresholds, sensor_thresholds, step, beta, iterations, dual, dense,
            reference_state, reference_x_hat)
        if call == 7:
            x[2] = x_hat[2]
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10)
        np.testing.assert_allclose(state[[ITERATE, SENT, RECEIVED]], reference_state[[ITERATE, SENT, RECEIVED]],
                                   rtol=0, atol=1e-10)
        np.testing.assert_array_equal(x_hat, reference_x_hat)
        np.testing.assert_array_equal(activity, counters)
        if not dense:
            np.testing.assert_array_equal(raster, expected_raster)
            assert raster.sum() == activity[0]
        assert np.all(out >= lower) and np.all(out <= upper)


def test_with_zero_thresholds_the_spiking_network_computes_the_dense_twins_solution():
    n, nx, iterations = 10, 4, 40
    weights, sensor_weights, lower, upper, step, beta = _problem(n, nx, seed=3)
    x = np.array([0.4, -0.2, 0.1, 0.3])
    solutions = []
    for dense in (False, True):
        state, x_hat, out = np.zeros((6, n)), np.zeros(nx), np.zeros(n)
        raster = np.zeros((0, n + nx), dtype=np.uint8)
        gradient_network_solve(x, weights, sensor_weights, lower, upper, np.zeros(n), np.zeros(nx), step, beta,
                               iterations, False, dense, state, x_hat, out, np.zeros(len(COUNTER_FIELDS), dtype=np.int64), raster)
        solutions.append(out.copy())
    np.testing.assert_allclose(solutions[0], solutions[1], rtol=0, atol=1e-12)


def test_a_still_input_silences_the_sensor_neurons_and_quiets_the_gradient_neurons():
    """After the first call the sensors send nothing; the gradient neurons keep a small residue of events
    (the quantisation of w_hat keeps them cycling within about theta of the solution: 40-62 events per
    call here, against 113 on the first), and every neuron is still updated every iteration."""
    n, nx, iterations = 8, 3, 30
    weights, sensor_weights, lower, upper, step, beta = _problem(n, nx, seed=4)
    state, x_hat, out = np.zeros((6, n)), np.zeros(nx), np.zeros(n)
    raster = np.zeros((iterations, n + nx), dtype=np.uint8)
    x = np.array([0.2, 0.1, -0.3])
    counts = []
    for call in range(20):
        activity = np.zeros(len(COUNTER_FIELDS), dtype=np.int64)
        gradient_network_solve(x, weights, sensor_weights, lower, upper, np.full(n, 1e-3), np.full(nx, 1e-3), step,
                               beta, iterations, False, False, state, x_hat, out, activity, raster)
        counts.append(activity[0])
        assert raster[:, n:].sum() == (nx if call == 0 else 0)
        assert activity[2] == iterations * n + nx
    assert counts[0] > n
    assert max(counts[1:]) < 0.6 * counts[0] and max(counts[1:]) < 0.3 * iterations * n
