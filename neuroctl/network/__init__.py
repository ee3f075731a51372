"""Spiking networks: LIF neurons, NEF description and builder, the numba kernel and its numpy reference.

    description = NetworkDescription()
    a = description.ensemble(100, 1)
    description.input(a)
    description.output(a, function=lambda x: x**2)
    network = SpikingNetwork(build(description, dt_s=0.001, seed=0))
    y = network.step(np.array([0.5]), n_substeps=10)

A learned output (PES, Nengo's rule): `description.output(a, transform=np.zeros((1, 1)),
learning_rule=PES(1e-4), label="u")`, then each call `network.set_error("u", decoded - target)` before
`network.step`; see `neuroctl.network.simulator` for an adaptive arm population.
"""

from neuroctl.network.arrays import BuiltEnsemble, BuiltNetwork
from neuroctl.network.builder import build
from neuroctl.network.description import (
    Connection,
    Ensemble,
    Input,
    NetworkDescription,
    NeuronConnection,
    Output,
    PES,
)
from neuroctl.network.lif import gain_bias, lif_rate
from neuroctl.network.nengo_import import NengoImport, from_nengo
from neuroctl.network.recurrent import random_recurrent_network
from neuroctl.network.simulator import SpikingNetwork

__all__ = [
    "BuiltEnsemble",
    "BuiltNetwork",
    "Connection",
    "NengoImport",
    "Ensemble",
    "Input",
    "NetworkDescription",
    "NeuronConnection",
    "Output",
    "PES",
    "SpikingNetwork",
    "build",
    "from_nengo",
    "gain_bias",
    "lif_rate",
    "random_recurrent_network",
]
