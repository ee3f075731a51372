"""Spiking networks: LIF neurons, NEF description and builder, the numba kernel and its numpy reference.

The parts, each with its step function, its numpy reference and its counters (`neuroctl.activity`):

- neurons: LIF (`lif`, run by `kernel`), sigma-delta (`sigma_delta`: graded events carrying a change),
  gradient neurons (`gradient`: sigma-delta neurons running proximal gradient on a QP, the spiking MPC's);
- connections: sparse (CSR by presynaptic neuron, event-driven, `kernel`), dense (`dense`), decoded
  (NEF decoders, `builder`);
- every network records spikes as one uint8 raster convention: a row per substep (or round of
  events), a column per neuron, 1 where it sent an event.

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
