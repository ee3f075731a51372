"""The random recurrent benchmark network."""

import numpy as np

from neuroctl.network import SpikingNetwork, build, random_recurrent_network
from neuroctl.control.base import SPIKES


def test_connectivity_and_activity():
    n = 1000
    built = build(random_recurrent_network(n, 0.1, seed=1), 0.001)
    expected = 0.1 * n * n
    assert abs(built.n_synapses - expected) < 4 * np.sqrt(expected * 0.9)  # binomial, 4 sigma
    network = SpikingNetwork(built)
    network.reset(seed=0)
    network.step(np.zeros(0), 200)  # settle
    network.step(np.zeros(0), 1000)
    assert 15.0 < network.activity[SPIKES] / n < 30.0  # mean rate over 1 s, Hz (about 20 by design)


def test_same_seed_same_weights():
    a = random_recurrent_network(50, 0.2, seed=4).neuron_connections[0].weights
    b = random_recurrent_network(50, 0.2, seed=4).neuron_connections[0].weights
    assert (a != b).nnz == 0
