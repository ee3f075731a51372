"""The kernel benchmark's workload: one random recurrent LIF network that every simulator runs.

The weights, biases and initial voltages are drawn once (`neuroctl.network.random_recurrent_network`,
built by `neuroctl.network.build`) and handed to every simulator, so all of them integrate the same
network from the same state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse

from neuroctl.network import BuiltNetwork, build, random_recurrent_network
from neuroctl.network.arrays import BIAS


@dataclass(frozen=True)
class NeuronModel:
    """LIF and synapse constants (s) and the simulation step shared by every simulator."""

    dt_s: float
    tau_rc_s: float
    tau_ref_s: float
    tau_syn_s: float


@dataclass(frozen=True)
class StepCounts:
    """Steps per timed sample, untimed warm-up steps, and steps over which the firing rate is counted."""

    steps: int
    warmup_steps: int
    rate_steps: int


@dataclass
class KernelWorkload:
    """A random recurrent network: `weights` (post, pre) as described, `built` as neuroctl built it
    (`build_s` seconds), `v0` the initial voltages (uniform in [0, 1) from the seed)."""

    neurons: int
    connectivity: float
    model: NeuronModel
    counts: StepCounts
    weights: scipy.sparse.csr_array
    built: BuiltNetwork
    build_s: float
    v0: np.ndarray

    @property
    def label(self) -> str:
        return f"{self.neurons:,} neurons, {100 * self.connectivity:g}%"

    @property
    def synapses(self) -> int:
        return int(self.weights.nnz)

    @property
    def bias(self) -> np.ndarray:
        return self.built.neuron_params[BIAS]

    def synaptic_events_per_step(self, rate_hz: float) -> float:
        """Spikes per step at `rate_hz` times the mean fan-out."""
        return rate_hz * self.neurons * self.model.dt_s * self.synapses / self.neurons

    def save_npz(self, path: Path) -> None:
        """The network for a simulator in another process: synapses as (pre, post, impulse) where impulse
        is what a spike adds to the postsynaptic current (neuroctl's syn_weights), plus bias, v0, constants."""
        synapses = self.built.synapse_matrix().tocoo()
        np.savez(path, pre=synapses.row.astype(np.int32), post=synapses.col.astype(np.int32),
                 impulse=synapses.data, bias=self.bias, v0=self.v0, dt_s=self.model.dt_s,
                 tau_rc_s=self.model.tau_rc_s, tau_ref_s=self.model.tau_ref_s, tau_syn_s=self.model.tau_syn_s)


def make_workload(neurons: int, connectivity: float, model: NeuronModel, counts: StepCounts,
                  seed: int) -> KernelWorkload:
    """Draw the network (weights scaled by `random_recurrent_network` for rates of about 20 Hz) and build it."""
    description = random_recurrent_network(neurons, connectivity, seed=seed, tau_rc_s=model.tau_rc_s,
                                            tau_ref_s=model.tau_ref_s, tau_syn_s=model.tau_syn_s)
    started = time.perf_counter()
    built = build(description, model.dt_s, seed=seed)
    build_s = time.perf_counter() - started
    weights = description.neuron_connections[0].weights
    v0 = np.random.default_rng(seed).random(neurons)
    return KernelWorkload(neurons, connectivity, model, counts, weights, built, build_s, v0)
