"""The numba kernel against the plain numpy reference: identical spikes, states within 1e-12."""

import numpy as np
import pytest

from neuroctl.network import SpikingNetwork, build
from neuroctl.network.arrays import REFRACTORY
from neuroctl.network.kernel import _flagged, flag_length
from neuroctl.network.reference import ReferenceNetwork


def run_both(built, inputs: np.ndarray, n_substeps: int, seed: int | None):
    """Step kernel and reference side by side and assert they agree after every call; return how many
    times a neuron was seen between calls with a refractory period that ends within the next substep."""
    kernel, reference = SpikingNetwork(built), ReferenceNetwork(built)
    kernel.reset(seed)
    reference.reset(seed)
    partial_ends = 0
    for x in inputs:
        kernel_raster, reference_raster = kernel.new_raster(n_substeps), reference.new_raster(n_substeps)
        y_kernel = kernel.step(x, n_substeps, kernel_raster)
        y_reference = reference.step(x, n_substeps, reference_raster)
        np.testing.assert_array_equal(kernel_raster, reference_raster)
        np.testing.assert_allclose(kernel.state, reference.state, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(y_kernel, y_reference, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(kernel.activity, reference.activity)
        refractory = reference.state[REFRACTORY]
        partial_ends += np.count_nonzero((refractory > 0.0) & (refractory < built.dt_s))
    return partial_ends


@pytest.mark.parametrize("factored", [False, True])
@pytest.mark.parametrize(
    ("dt_s", "tau_ref_s", "n_substeps", "reset_seed"),
    [(0.001, 0.002, 1, None), (0.001, 0.0025, 10, 1), (0.0001, 0.002, 7, 2), (0.002, 0.002, 3, 3)],
)
def test_mixed_network_kernel_matches_reference(make_mixed, dt_s, tau_ref_s, n_substeps, reset_seed, factored):
    """0.3 s of a random walk input, from rest (reset_seed None) or random voltages; NEF connections as
    full weights or factored."""
    built = build(make_mixed(tau_ref_s=tau_ref_s, factored=factored), dt_s, seed=5)
    assert built.fac_index.shape[0] == (2 if factored else 0)
    n_calls = round(0.3 / dt_s) // n_substeps
    steps = np.random.default_rng(17).normal(0.0, 0.2, (n_calls, built.input_size)) * np.sqrt(dt_s * n_substeps / 0.01)
    partial_ends = run_both(built, np.cumsum(steps, axis=0), n_substeps, reset_seed)
    if n_substeps == 1:  # the state between calls is visible every substep
        assert partial_ends > 0, "no refractory period ended within a substep"


def test_recurrent_network_kernel_matches_reference(recurrent):
    built = build(recurrent, 0.001, seed=0)
    run_both(built, np.zeros((40, 0)), 10, seed=4)


def test_spikes_are_not_all_or_nothing(make_mixed):
    """The comparisons above mean something only if the networks spike, but not every neuron every substep."""
    built = build(make_mixed(), 0.001, seed=5)
    network = SpikingNetwork(built)
    raster = network.new_raster(300)
    network.step(np.array([0.5, -1.0, 0.3, 0.2, 0.1]), 300, raster)
    fraction = raster.mean()
    assert 0.005 < fraction < 0.2


@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 1.0])
def test_flag_scan_lists_the_flagged_neurons_in_order(density):
    """`_flagged` at densities from none to every neuron (words with three or more flags take its loop)."""
    n = 1003
    flags = np.zeros(flag_length(n), dtype=np.uint8)
    flags[:n] = np.random.default_rng(7).random(n) < density
    out = np.full(flag_length(n), -1, dtype=np.int32)
    count = _flagged(flags, out)
    assert count == np.count_nonzero(flags)
    np.testing.assert_array_equal(out[:count], np.flatnonzero(flags))
