"""The PIPG network: the kernel call after call against its numpy reference, its steps and its events."""

import numpy as np
import pytest

from neuroctl.activity import COUNTER_FIELDS, DENSE_MACS, NEURON_UPDATES, SPIKES, SYNAPTIC_EVENTS
from neuroctl.network.dense import compress, compressed, synapse_arrays
from neuroctl.network.linalg import gram_norm_bound
from neuroctl.network.pipg import (INTEGRAL, PRIMAL_ITERATE, SpectrumTracker, forget_sent, pipg_solve,
                                   pipg_solve_reference, pipg_steps)


def random_problem(seed: int, n: int = 10, m: int = 6):
    """H = A'A/n + 0.1 I, box [-1, 1], m sparse rows (about 40% nonzero, at least one each) feasible with
    slack at a point inside the box."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    hessian = a.T @ a / n + 0.1 * np.eye(n)
    nonzero = rng.uniform(size=(m, n)) < 0.4
    nonzero[np.arange(m), np.arange(m) % n] = True
    rows = np.where(nonzero, rng.standard_normal((m, n)), 0.0)
    h = rows @ rng.uniform(-0.5, 0.5, n) + rng.uniform(0.05, 0.5, m)
    return hessian, 3.0 * rng.standard_normal(n), -np.ones(n), np.ones(n), rows, h


def synapses_of(rows: np.ndarray) -> tuple:
    """`pipg_solve`'s compressed rows and columns of G."""
    return compressed(rows), compressed(rows, by_column=True)


@pytest.mark.parametrize("dense", [False, True], ids=["spiking", "dense"])
@pytest.mark.parametrize("accelerated", [True, False], ids=["momentum", "plain"])
def test_kernel_equals_the_numpy_reference_call_after_call(dense, accelerated):
    hessian, q, lower, upper, rows, h = random_problem(0)
    n, m = q.size, h.size
    alpha, beta, momentum = pipg_steps(hessian, rows)
    momentum = momentum if accelerated else 0.0
    assert 0.3 < pipg_steps(hessian, rows)[2] < 1.0
    primal_thresholds, dual_thresholds = np.full(n, 0.0 if dense else 2e-3), np.full(m, 0.0 if dense else 5e-3)
    primal, dual = np.zeros((5, n)), np.zeros((4, m))
    expected_primal, expected_dual = primal.copy(), dual.copy()
    rng = np.random.default_rng(1)
    total_events = 0
    for call in range(6):
        if call == 3:  # new weights: both forget what they sent
            rows = rows + 0.05 * rng.standard_normal(rows.shape) * (rows != 0.0)  # the same synapses
            forget_sent(primal, dual)
            forget_sent(expected_primal, expected_dual)
        last = call == 5  # a small change, with an early stop
        q = q + (0.01 if last else 0.1) * rng.standard_normal(n)
        activity = np.zeros(len(COUNTER_FIELDS), np.int64)
        tolerance = 1e-3 if last else 0.0  # the last call may stop early
        raster = np.zeros((41, n + m), np.uint8)
        run = pipg_solve(hessian, q, lower, upper, rows, *synapses_of(rows), h, alpha, beta, momentum, 40,
                         tolerance, primal_thresholds, dual_thresholds, dense, primal, dual, activity, raster)
        expected_run, expected_primal, expected_dual, counters, expected_raster = pipg_solve_reference(
            hessian, q, lower, upper, rows, h, alpha, beta, momentum, 40, tolerance, primal_thresholds, dual_thresholds,
            dense, expected_primal, expected_dual)
        assert run == expected_run
        # rounding order only (BLAS's sums against the events'), which the iterations amplify call by call
        # (up to 7.6e-9 by the sixth call on this problem; the rasters are equal)
        np.testing.assert_allclose(primal, expected_primal, rtol=0, atol=2e-8)
        np.testing.assert_allclose(dual, expected_dual, rtol=0, atol=2e-8)
        np.testing.assert_array_equal(activity, counters)
        np.testing.assert_array_equal(raster, expected_raster)
        assert raster.sum() == activity[SPIKES]
        total_events += activity[SPIKES]
        assert activity[DENSE_MACS] == (run + 1) * (n * n + 2 * m * n)
    if dense:
        assert total_events == 0
    else:
        assert 0 < total_events < 6 * 41 * (n + m)  # events are sparse, some neurons stay silent


def every_entry(matrix: np.ndarray) -> tuple:
    """Compressed rows holding every entry of `matrix`, its zeros too: what a dense fan-out delivers."""
    outer, inner = matrix.shape
    return (np.arange(outer + 1, dtype=np.int64) * inner, np.tile(np.arange(inner, dtype=np.int32), outer),
            np.ascontiguousarray(matrix).ravel().copy())


def test_synapses_of_weight_zero_change_nothing_but_the_count():
    """G's nonzero entries only (the network's synapses) against every entry (a dense fan-out): the same
    state bit for bit over three warm-started calls; the events reach fewer synapses, by G's zeros."""
    hessian, q, lower, upper, rows, h = random_problem(0)
    n, m = q.size, h.size
    alpha, beta, momentum = pipg_steps(hessian, rows)
    results = []
    for synapses in (synapses_of(rows), (every_entry(rows), every_entry(rows.T))):
        primal, dual = np.zeros((5, n)), np.zeros((4, m))
        activity = np.zeros(len(COUNTER_FIELDS), np.int64)
        rasters = []
        for call in range(3):
            raster = np.zeros((41, n + m), np.uint8)
            pipg_solve(hessian, q + 0.1 * call, lower, upper, rows, *synapses, h, alpha, beta, momentum, 40, 0.0,
                       np.full(n, 2e-3), np.full(m, 5e-3), False, primal, dual, activity, raster)
            rasters.append(raster)
        results.append((primal, dual, activity, np.array(rasters)))
    (primal, dual, sparse, raster), (primal_all, dual_all, every, raster_all) = results
    np.testing.assert_array_equal(primal, primal_all)
    np.testing.assert_array_equal(dual, dual_all)
    np.testing.assert_array_equal(raster, raster_all)
    primal_events, dual_events = raster[:, :, :n].sum(), raster[:, :, n:].sum()
    zeros_by_column, zeros_by_row = (rows == 0).sum(axis=0), (rows == 0).sum(axis=1)
    missing = (raster[:, :, :n] * zeros_by_column).sum() + (raster[:, :, n:] * zeros_by_row).sum()
    assert every[SYNAPTIC_EVENTS] == primal_events * (n + m) + dual_events * n
    assert sparse[SYNAPTIC_EVENTS] == every[SYNAPTIC_EVENTS] - missing and missing > 0.3 * every[SYNAPTIC_EVENTS] / 2


@pytest.mark.parametrize("momentum", [True, False], ids=["momentum", "plain"])
def test_the_tolerance_stops_a_converged_network_early(momentum):
    hessian, q, lower, upper, rows, h = random_problem(4)
    n, m = q.size, h.size
    alpha, beta, mu = pipg_steps(hessian, rows)
    answers = []
    for tolerance in (1e-9, 0.0):
        primal, dual = np.zeros((5, n)), np.zeros((4, m))
        run = pipg_solve(hessian, q, lower, upper, rows, *synapses_of(rows), h, alpha, beta,
                         mu if momentum else 0.0, 20_000, tolerance, np.zeros(n), np.zeros(m), True, primal, dual,
                         np.zeros(len(COUNTER_FIELDS), np.int64), np.zeros((0, n + m), np.uint8))
        answers.append((run, primal[PRIMAL_ITERATE].copy()))
    (stopped, early), (full, converged) = answers
    assert 10 < stopped < full == 20_000
    np.testing.assert_allclose(early, converged, atol=1e-6)


def test_zero_thresholds_compute_the_dense_twin():
    hessian, q, lower, upper, rows, h = random_problem(2)
    n, m = q.size, h.size
    alpha, beta, momentum = pipg_steps(hessian, rows)
    states = []
    for dense in (False, True):
        primal, dual = np.zeros((5, n)), np.zeros((4, m))
        activity = np.zeros(len(COUNTER_FIELDS), np.int64)
        pipg_solve(hessian, q, lower, upper, rows, *synapses_of(rows), h, alpha, beta, momentum, 300, 0.0,
                   np.zeros(n), np.zeros(m), dense, primal, dual, activity, np.zeros((0, n + m), np.uint8))
        states.append((primal[PRIMAL_ITERATE].copy(), dual[INTEGRAL].copy(), activity))
    np.testing.assert_allclose(states[0][0], states[1][0], atol=1e-12)
    np.testing.assert_allclose(states[0][1], states[1][1], atol=1e-10)
    spiking, dense = states[0][2], states[1][2]
    assert spiking[NEURON_UPDATES] == 301 * (n + m) and dense[NEURON_UPDATES] == 0
    assert spiking[SYNAPTIC_EVENTS] > 0 and dense[SYNAPTIC_EVENTS] == 0
    assert spiking[DENSE_MACS] == dense[DENSE_MACS]


def test_steps_meet_the_step_condition_with_equality():
    hessian, _, _, _, rows, _ = random_problem(3, n=8, m=12)  # m > n: the Gram matrix of the columns
    largest = np.linalg.eigvalsh(hessian)[-1]
    sigma = np.linalg.norm(rows, 2) ** 2
    for ratio in (0.1, 1.0, 10.0):
        alpha, beta, _ = pipg_steps(hessian, rows, ratio)
        assert beta == pytest.approx(ratio * alpha)
        assert alpha * (largest + beta * sigma) == pytest.approx(1.0, rel=1e-10)
    alpha, beta, momentum = pipg_steps(hessian, rows)  # balanced: the primal and dual terms equal
    kappa = largest / np.linalg.eigvalsh(hessian)[0]
    assert momentum == pytest.approx((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1), rel=1e-8)
    assert alpha * largest == pytest.approx(0.5, rel=1e-10) and alpha * beta * sigma == pytest.approx(0.5, rel=1e-10)
    scaled_alpha, scaled_beta, _ = pipg_steps(hessian, 10.0 * rows)  # G in other units: beta in the dual's
    assert scaled_alpha == alpha and scaled_beta == pytest.approx(beta / 100.0, rel=1e-10)
    alpha, beta, _ = pipg_steps(hessian, np.zeros((0, 8)))
    assert alpha == pytest.approx(1.0 / largest, rel=1e-12) and beta == 0.0


@pytest.mark.parametrize("dense", [False, True], ids=["spiking", "dense"])
def test_resumed_calls_compute_what_one_call_does(dense):
    """15 + 25 iterations (the second call resuming) against one call of 40: the same state bit for bit
    and the same counters (the resumed call has no first round); the reference resumes the same way."""
    hessian, q, lower, upper, rows, h = random_problem(5)
    n, m = q.size, h.size
    alpha, beta, momentum = pipg_steps(hessian, rows)
    thresholds = (np.full(n, 0.0 if dense else 2e-3), np.full(m, 0.0 if dense else 5e-3))
    synapses = synapses_of(rows)

    def run(splits, resume_from_reference=False):
        primal, dual = np.zeros((5, n)), np.zeros((4, m))
        activity = np.zeros(len(COUNTER_FIELDS), np.int64)
        for k, iterations in enumerate(splits):
            pipg_solve(hessian, q, lower, upper, rows, *synapses, h, alpha, beta, momentum, iterations, 0.0,
                       *thresholds, dense, primal, dual, activity, np.zeros((41, n + m), np.uint8), k > 0)
        return primal, dual, activity

    whole, split = run([40]), run([15, 25])
    np.testing.assert_array_equal(whole[0], split[0])
    np.testing.assert_array_equal(whole[1], split[1])
    np.testing.assert_array_equal(whole[2], split[2])
    round_macs = n * n + 2 * m * n
    primal, dual = np.zeros((5, n)), np.zeros((4, m))
    _, primal, dual, _, _ = pipg_solve_reference(hessian, q, lower, upper, rows, h, alpha, beta, momentum, 15, 0.0,
                                                 *thresholds, dense, primal, dual)
    _, primal, dual, counters, _ = pipg_solve_reference(hessian, q, lower, upper, rows, h, alpha, beta, momentum,
                                                        25, 0.0, *thresholds, dense, primal, dual, True)
    np.testing.assert_allclose(primal, split[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(dual, split[1], rtol=0, atol=1e-9)
    assert counters[DENSE_MACS] == 25 * round_macs


def test_gram_bound_is_at_least_the_norm_and_exact_for_disjoint_rows():
    rng = np.random.default_rng(7)
    dense_rows = rng.standard_normal((9, 6))
    bound, macs = gram_norm_bound(dense_rows, np.zeros((6, 6)), np.zeros(6, np.int64))
    assert bound >= np.linalg.norm(dense_rows, 2) ** 2 and macs == 9 * 36
    pyramid = np.zeros((8, 6))  # two feet's pyramids: rows +-fx - mu fz, +-fy - mu fz on disjoint columns
    for foot in range(2):
        for row, (axis, sign) in enumerate(((0, 1), (0, -1), (1, 1), (1, -1))):
            pyramid[4 * foot + row, 3 * foot + axis] = sign
            pyramid[4 * foot + row, 3 * foot + 2] = -0.6
    bound, macs = gram_norm_bound(pyramid, np.zeros((6, 6)), np.zeros(6, np.int64))
    assert bound == pytest.approx(np.linalg.norm(pyramid, 2) ** 2, rel=1e-12) and macs == 8 * 4


def test_spectrum_tracker_follows_a_drifting_hessian_from_above():
    """H drifts by up to 1% a call (a PSD change): after the exact first call, 3 power steps a call keep lambda_max within
    1% above the exact one (never below: the steps err short), lambda_min at or above its exact value,
    sigma the Gram bound; a jump of 50% re-runs the exact computation."""
    rng = np.random.default_rng(8)
    hessian, _, _, _, rows, _ = random_problem(9, n=12, m=7)
    drift = rng.standard_normal(hessian.shape)
    drift = 0.01 * drift @ drift.T / np.linalg.norm(drift, 2) ** 2 * np.linalg.eigvalsh(hessian)[-1]  # PSD
    tracker = SpectrumTracker(iterations=3)
    for call in range(30):
        current = hessian + call * drift
        exact = np.linalg.eigvalsh(current)
        smallest, largest, sigma = tracker.estimate(current, rows)
        assert exact[-1] * (1 - 1e-12) <= largest <= 1.01 * exact[-1]  # measured up to 0.51% above
        assert smallest >= exact[0] * (1 - 1e-12)
        assert sigma >= np.linalg.norm(rows, 2) ** 2 * (1 - 1e-12)
    assert tracker.cold_starts == 1
    warm_macs = tracker.macs
    tracker.estimate(1.5 * current, rows)
    assert tracker.cold_starts == 2 and tracker.macs > warm_macs  # n^3 work against n^2


def test_compressed_rows_round_trip_and_refuse_arrays_without_room():
    matrix = np.array([[0.0, 1.5, 0.0], [-2.0, 0.0, 3.0]])
    for by_column in (False, True):
        pointers, indices, weights = compressed(matrix, by_column)
        outer = matrix.T if by_column else matrix
        rebuilt = np.zeros_like(outer)
        for j in range(outer.shape[0]):
            rebuilt[j, indices[pointers[j]:pointers[j + 1]]] = weights[pointers[j]:pointers[j + 1]]
        np.testing.assert_array_equal(rebuilt, outer)
    with pytest.raises(ValueError, match="no room"):
        compress(matrix, False, synapse_arrays(2, 2))
    with pytest.raises(ValueError, match="pointers"):
        compress(matrix, True, synapse_arrays(2, 6))
