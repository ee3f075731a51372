"""Description -> built arrays: layout, NEF quantities, validation."""

import numpy as np
import pytest
import scipy.sparse

from neuroctl.network import NetworkDescription, build
from neuroctl.network.arrays import (
    PES_OUT_DECAY,
    PES_OUT_INCREMENT,
    PES_POST_COUNT,
    PES_POST_START,
    PES_PRE_COUNT,
    PES_PRE_START,
    PES_SIZE,
    SYN_DECAY,
    TRACE_DECAY,
    TRACE_INCREMENT,
)


def test_neuron_weights_are_merged_csr_by_presynaptic_neuron_scaled_to_unit_area():
    description = NetworkDescription()
    a = description.ensemble(4, 1, tau_syn_s=0.01)
    b = description.ensemble(3, 1, tau_syn_s=0.02)
    rng = np.random.default_rng(0)
    w_ab = rng.normal(size=(3, 4)) * (rng.random((3, 4)) < 0.5)
    w_ba = scipy.sparse.random_array((4, 3), density=0.5, rng=1)
    description.connect_neurons(a, b, w_ab)
    description.connect_neurons(b, a, w_ba)
    description.connect_neurons(b, a, w_ba)  # the same pairs again: weights add up
    dt = 0.001
    built = build(description, dt)
    full = np.zeros((7, 7))  # (post, pre)
    full[4:, :4] = w_ab
    full[:4, 4:] = 2.0 * w_ba.toarray()
    impulse = (1.0 - np.exp(-dt / np.array([0.01] * 4 + [0.02] * 3))) / dt
    np.testing.assert_allclose(built.synapse_matrix().toarray(), (full * impulse[:, None]).T, rtol=1e-6)
    assert built.syn_weights.dtype == np.float32 and built.syn_indices.dtype == np.uint16  # <= 65,536 neurons
    assert built.n_synapses == np.count_nonzero(full)


def test_filters_have_unit_area():
    """A spike's synaptic current and readout trace integrate to exactly 1 (x weight) in discrete time."""
    description = NetworkDescription()
    description.ensemble(2, 1, tau_syn_s=0.005, tau_readout_s=0.03)
    dt = 0.001
    params = build(description, dt).neuron_params
    impulse = -np.expm1(-dt / 0.005) / dt
    np.testing.assert_allclose(impulse * dt / (1.0 - params[SYN_DECAY]), 1.0)
    np.testing.assert_allclose(params[TRACE_INCREMENT] * dt / (1.0 - params[TRACE_DECAY]), 1.0)


def test_input_matrix_is_gain_times_encoders_over_radius_times_transform():
    description = NetworkDescription()
    description.ensemble(5, 1)  # receives no input
    ensemble = description.ensemble(10, 2, radius=(1.0, 4.0))
    transform = np.array([[1.0, 0.0, 2.0], [0.0, -1.0, 0.5]])
    description.input(ensemble, transform=transform)
    built = build(description, 0.001, seed=3)
    e = built.ensembles[1]
    expected = np.zeros((15, 3))
    expected[5:] = (e.gain[:, None] * e.encoders / e.radius) @ transform
    np.testing.assert_allclose(built.input_matrix().toarray(), expected)
    np.testing.assert_allclose(np.linalg.norm(e.encoders, axis=1), 1.0)


def test_decoders_reproduce_the_function_on_the_tuning_curves():
    description = NetworkDescription()
    ensemble = description.ensemble(200, 1)
    description.output(ensemble, function=lambda x: np.sin(np.pi * x))
    built = build(description, 0.001)
    points = np.linspace(-1.0, 1.0, 101)[:, None]
    estimate = built.ensembles[0].rates(points) @ built.decoder_matrix().toarray().T
    assert np.sqrt(np.mean((estimate[:, 0] - np.sin(np.pi * points[:, 0])) ** 2)) < 0.03


def test_seed_decides_and_ensembles_are_independent():
    def encoders(n_extra: int, seed: int) -> np.ndarray:
        description = NetworkDescription()
        description.ensemble(20, 3)
        for _ in range(n_extra):
            description.ensemble(5, 1)
        return build(description, 0.001, seed=seed).ensembles[0].encoders

    np.testing.assert_array_equal(encoders(0, 7), encoders(2, 7))
    assert not np.array_equal(encoders(0, 7), encoders(0, 8))


@pytest.mark.parametrize(
    "parameters",
    [{"n_neurons": 0}, {"radius": -1.0}, {"radius": (1.0, 2.0)}, {"intercepts": (-0.5, 1.0)},
     {"max_rates_hz": (100.0, 600.0)}, {"tau_rc_s": 0.0}, {"tau_syn_s": float("nan")}],
)
def test_bad_ensemble_parameters_are_rejected(parameters):
    arguments = {"n_neurons": 10, "dimensions": 1} | parameters
    with pytest.raises(ValueError):
        NetworkDescription().ensemble(**arguments)


def test_bad_shapes_and_foreign_ensembles_are_rejected():
    description = NetworkDescription()
    a = description.ensemble(10, 2)
    with pytest.raises(ValueError, match="transform"):
        description.input(a, transform=np.ones((3, 1)))
    with pytest.raises(ValueError, match="weights"):
        description.connect_neurons(a, a, np.ones((10, 9)))
    with pytest.raises(ValueError, match="transform"):
        description.connect(a, description.ensemble(5, 1))  # 2 values onto 1 without a transform
    with pytest.raises(ValueError, match="not part"):
        description.output(NetworkDescription().ensemble(3, 1))
    with pytest.raises(ValueError, match="dt_s"):
        build(description, 0.0)


def test_synapse_indices_widen_for_networks_beyond_65536_neurons():
    from neuroctl.network.arrays import synapse_index_dtype

    assert synapse_index_dtype(65_536) == np.uint16 and synapse_index_dtype(65_537) == np.int32


def test_factored_connection_is_the_full_weights_in_two_factors():
    """encoders @ decoders x post's synaptic impulse = the full weights; the value is the smaller of the
    transform's sizes (here the function's 1 value, sent to a 2-D post through a 2 x 1 transform)."""
    description = NetworkDescription()
    a = description.ensemble(30, 2, label="a")
    b = description.ensemble(20, 2, radius=(1.0, 3.0), tau_syn_s=0.01, label="b")
    transform = np.array([[1.0], [-2.0]])
    description.connect(a, b, function=lambda x: x[0] * x[1], transform=transform, factored=False)
    description.connect(a, b, function=lambda x: x[0] * x[1], transform=transform, factored=True)
    dt = 0.001
    built = build(description, dt, seed=1)
    [row] = built.fac_index
    assert (row[PES_PRE_START], row[PES_PRE_COUNT], row[PES_POST_START], row[PES_POST_COUNT], row[PES_SIZE]) == (
        0, 30, 30, 20, 1)
    decoders = built.fac_decoders.reshape(1, 30)
    encoders = built.fac_encoders.reshape(20, 1)
    impulse = (1.0 - np.exp(-dt / 0.01)) / dt
    np.testing.assert_allclose(built.fac_params[0, PES_OUT_DECAY], np.exp(-dt / 0.01))
    np.testing.assert_allclose(built.fac_params[0, PES_OUT_INCREMENT], impulse)
    full = built.synapse_matrix().toarray()[:30, 30:]  # (pre, post), float32 weights
    np.testing.assert_allclose(impulse * (encoders @ decoders).T, full, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("dt_s", "factored"), [(0.001, True), (0.00001, False)])
def test_the_builder_factors_when_cheaper(dt_s, factored):
    """100 -> 100 neurons, 1-D: at 1 ms about 10 spikes per substep (10 x 100 events full, 10 + 100
    factored); at 10 us about 0.1 (10 full, 100 factored)."""
    description = NetworkDescription()
    a, b = description.ensemble(100, 1), description.ensemble(100, 1)
    description.connect(a, b)
    built = build(description, dt_s, seed=0)
    assert built.fac_index.shape[0] == int(factored)
    assert (built.n_synapses == 0) == factored
