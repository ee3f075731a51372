"""Activity counters of a kernel call: spikes, synaptic events, neuron updates, dense MACs."""

import numpy as np

from neuroctl.control.base import DENSE_MACS, NEURON_UPDATES, SPIKES, SYNAPTIC_EVENTS
from neuroctl.network import NetworkDescription, SpikingNetwork, build
from neuroctl.network.arrays import PES_POST_COUNT, PES_PRE_COUNT, PES_PRE_START, PES_SIZE


def test_counts_follow_the_spikes(make_mixed):
    """Synaptic events: each spike's synapses, plus per factored connection d per spike of its pre and
    n_post x d (its encoders) per substep."""
    built = build(make_mixed(), 0.001, seed=2)
    network = SpikingNetwork(built)
    fan_out = np.diff(built.syn_indptr)
    factored = np.zeros(built.n_neurons, dtype=np.int64)  # d added per spike
    encoder_macs = 0
    for row in built.fac_index:
        start, n_pre, size = row[PES_PRE_START], row[PES_PRE_COUNT], row[PES_SIZE]
        factored[start : start + n_pre] += size
        encoder_macs += row[PES_POST_COUNT] * size
    assert encoder_macs == 40 * 1 + 50 * 1  # a -> b and b -> c, 1-D values
    network.reset(seed=0)
    x = np.array([0.4, -0.8, 1.0, 0.0, -0.5])
    total_spikes = 0
    for n_substeps in (1, 5, 40, 1, 3):
        raster = network.new_raster(n_substeps)
        network.step(x, n_substeps, raster)
        spikes_per_neuron = raster.sum(axis=0, dtype=np.int64)
        assert network.activity[SPIKES] == spikes_per_neuron.sum()
        expected = spikes_per_neuron @ (fan_out + factored) + n_substeps * encoder_macs
        assert network.activity[SYNAPTIC_EVENTS] == expected
        assert network.activity[NEURON_UPDATES] == built.n_neurons * n_substeps
        total_spikes += network.activity[SPIKES]
    assert total_spikes > 100


def test_fan_out_is_the_number_of_synapses():
    description = NetworkDescription()
    a = description.ensemble(3, 1)
    b = description.ensemble(2, 1)
    description.connect_neurons(a, b, np.array([[1.0, 0.0, 2.0], [0.5, 0.0, 0.0]]))  # (post, pre)
    built = build(description, 0.001)
    assert np.diff(built.syn_indptr).tolist() == [2, 0, 1, 0, 0]


def test_dense_macs_count_full_blocks_per_substep_and_io_per_call():
    description = NetworkDescription()
    a = description.ensemble(50, 2)
    b = description.ensemble(30, 1)
    description.input(a)  # 50 x 2
    description.connect(a, b, function=lambda v: v[0] * v[1])  # 50 x 30 per substep
    description.connect_neurons(b, a, np.eye(50, 30) * 0.01)  # sparse, still 30 x 50 dense
    description.output(b, transform=[[1.0], [2.0], [3.0]])  # 30 x 3
    network = SpikingNetwork(build(description, 0.001))
    network.step(np.zeros(2), 7)
    assert network.activity[DENSE_MACS] == 7 * (50 * 30 + 30 * 50) + 50 * 2 + 30 * 3
    network.step(np.zeros(2), 1)  # counts are per call
    assert network.activity[DENSE_MACS] == (50 * 30 + 30 * 50) + 50 * 2 + 30 * 3
