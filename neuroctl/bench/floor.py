"""The floor of an event-driven recurrent step on this machine, for the kernel suite.

Per step an event-driven kernel must at least read the synapse rows of the neurons that spiked and
update every neuron, so

    floor per step = spikes per step x mean fan-out x bytes per synapse / read bandwidth
                     + neurons x time of one neuron update

with the read bandwidth measured here by streaming an array as large as the network's synapse arrays
(so that it comes from the same level of the memory hierarchy as the rows do: a 1,000-neuron network's
fits in cache, a 100,000-neuron one's does not), and the neuron update timed as the kernel's own
branch-free pass over every neuron (`neuroctl.network.kernel._integrate`) with no neuron spiking. The
writes the spikes cause (each synapse adds to a postsynaptic current: a read-modify-write of a cache
line anywhere in the current array) are not in the floor: it is a lower bound, and the ratio of the
kernel's time to it says how much is left on the table.
"""

from __future__ import annotations

import time

import numpy as np

from neuroctl.network.arrays import BuiltNetwork, N_STATE
from neuroctl.network.jit import cached_njit
from neuroctl.network.kernel import SCRATCH_ROWS, _integrate, flag_length

MIN_STREAM_BYTES = 1 << 16


@cached_njit
def _stream(words: np.ndarray) -> np.uint64:
    """XOR of every word: one pass reading the array (integer, so that it vectorises)."""
    total = np.uint64(0)
    for i in range(words.shape[0]):
        total ^= words[i]
    return total


def read_bandwidth_bytes_per_s(n_bytes: int, repeats: int = 20) -> float:
    """Best-of-`repeats` streaming read bandwidth for an array of `n_bytes` (at least 64 KiB), B/s."""
    words = np.ones(max(n_bytes, MIN_STREAM_BYTES) // 8, dtype=np.uint64)
    _stream(words)
    passes = max(1, (1 << 26) // words.nbytes)  # each timed sample reads at least 64 MiB
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(passes):
            _stream(words)
        best = min(best, (time.perf_counter() - start) / passes)
    return words.nbytes / best


@cached_njit
def _integrate_passes(passes, dt, params, state, scratch, flags):
    for _ in range(passes):
        _integrate(dt, params, state, scratch, flags)


def neuron_update_s(built: BuiltNetwork, repeats: int = 20) -> float:
    """Best time of one neuron's update in the kernel's pass over all neurons, no neuron spiking (passes
    timed inside one compiled loop, so that no call overhead counts), s."""
    n = built.n_neurons
    state = np.zeros((N_STATE, n))
    scratch = np.zeros((SCRATCH_ROWS, n))  # zero current: nobody spikes
    flags = np.zeros(flag_length(n), dtype=np.uint8)
    passes = max(1, 10_000_000 // n)
    _integrate_passes(1, built.dt_s, built.neuron_params, state, scratch, flags)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _integrate_passes(passes, built.dt_s, built.neuron_params, state, scratch, flags)
        best = min(best, (time.perf_counter() - start) / passes)
    return best / n


def step_floor(built: BuiltNetwork, spikes_per_step: float) -> dict[str, float]:
    """The floor per step (module docstring) of `built` at `spikes_per_step`, with its two parts, in us,
    and the machine figures it rests on."""
    synapses = built.syn_indices.shape[0]
    bytes_per_synapse = built.syn_indices.itemsize + built.syn_weights.itemsize
    bandwidth = read_bandwidth_bytes_per_s(synapses * bytes_per_synapse)
    per_neuron_s = neuron_update_s(built)
    fan_out = synapses / built.n_neurons
    rows_s = spikes_per_step * fan_out * bytes_per_synapse / bandwidth
    neurons_s = built.n_neurons * per_neuron_s
    return {"floor_us": 1e6 * (rows_s + neurons_s), "synapse_rows_us": 1e6 * rows_s,
            "neuron_updates_us": 1e6 * neurons_s, "read_bandwidth_gb_s": bandwidth / 1e9,
            "neuron_update_ns": 1e9 * per_neuron_s, "bytes_per_synapse": bytes_per_synapse}
