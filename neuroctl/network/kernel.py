"""The network kernel: K substeps of a built network in one compiled call.

One substep:

    J_i = bias_i + (input matrix @ x)_i + I_syn_i          (the input part is computed once per call)
    LIF substep of every neuron with J_i                    (`neuroctl.network.lif`)
    I_syn_i *= exp(-dt / tau_syn_i);  trace_i *= exp(-dt / tau_readout_i)
    for every neuron j that spiked (event-driven: cost ~ spikes x fan-out):
        trace_j += (1 - exp(-dt / tau_readout_j)) / dt;  I_syn_post += syn_weight for each synapse (j, post)

so a spike reaches its targets' currents in the next substep. After the K substeps y = decoders @ trace.

The pass over all neurons (`_integrate`) has no branch and no call: it runs the common case and
flags, in a byte per neuron, the few neurons that spiked or ended their refractory period. `_flagged`
finds them eight flags at a time, `_finish` completes their substep, `_deliver` sends their spikes.

`run_substeps` is itself a compiled function: a controller's own jitted tick can call it (no unboxing
of its arguments then; from Python each array argument costs about 0.1 us).
"""

from __future__ import annotations

import numpy as np

from neuroctl.activity import DENSE_MACS, NEURON_UPDATES, SPIKES, SYNAPTIC_EVENTS
from neuroctl.network.arrays import (
    BIAS,
    RC_FACTOR,
    REFRACTORY,
    SYN_CURRENT,
    SYN_DECAY,
    TAU_RC,
    TAU_REF,
    TRACE,
    TRACE_DECAY,
    TRACE_INCREMENT,
    VOLTAGE,
    BuiltNetwork,
)
from neuroctl.network.jit import cached_njit, prefetch
from neuroctl.network.lif import lif_finish, lif_integrate

STATIC_CURRENT, DRIVE = 0, 1
"""Rows of the kernel's float scratch (2, n): bias + input current, and this substep's total current J."""


PREFETCH_LINES = 16
"""Cache lines of the next spiking neuron's synapses (indices and weights each) prefetched before its turn:
the hardware prefetcher follows a row once it has started, but each row starts at a random place in a
large network's synapse arrays (about 20% off the 10k-neuron, 10% benchmark)."""


def flag_length(n_neurons: int) -> int:
    """Length of the kernel's flag and neuron-list scratch: n rounded up to a multiple of 8 (the flags are
    read as uint64 words)."""
    return -(-n_neurons // 8) * 8


@cached_njit
def csr_matvec(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """out[r] += sum over row r of weights * x[indices] (a CSR matrix times a vector, accumulated)."""
    for row in range(indptr.shape[0] - 1):
        columns, values = indices[indptr[row] : indptr[row + 1]], weights[indptr[row] : indptr[row + 1]]
        total = 0.0
        for q in range(columns.shape[0]):
            total += values[q] * x[columns[q]]
        out[row] += total


@cached_njit
def _integrate(dt: float, params: np.ndarray, state: np.ndarray, scratch: np.ndarray, flags: np.ndarray) -> None:
    """The branch-free part of a substep for every neuron; flags[i] = 1 where `lif_finish` is needed."""
    static, drive = scratch[STATIC_CURRENT], scratch[DRIVE]
    rc_factor, syn_decay, trace_decay = params[RC_FACTOR], params[SYN_DECAY], params[TRACE_DECAY]
    voltage, refractory, syn_current, trace = state[VOLTAGE], state[REFRACTORY], state[SYN_CURRENT], state[TRACE]
    for i in range(state.shape[1]):
        current = static[i] + syn_current[i]
        drive[i] = current
        voltage[i], refractory[i], flags[i] = lif_integrate(voltage[i], refractory[i], current, dt, rc_factor[i])
        syn_current[i] *= syn_decay[i]
        trace[i] *= trace_decay[i]


@cached_njit
def _flagged(flags: np.ndarray, out: np.ndarray) -> int:
    """Write the indices of the flags set (0/1 bytes), ascending, into `out`; return how many."""
    count = 0
    words = flags.view(np.uint64)
    for w in range(words.shape[0]):
        if words[w] != 0:
            for i in range(8 * w, 8 * w + 8):  # branch-free: an unset flag's index is overwritten
                out[count] = i
                count += flags[i]
    return count


@cached_njit
def _finish(n_flagged: int, neurons: np.ndarray, params: np.ndarray, state: np.ndarray, scratch: np.ndarray) -> int:
    """`lif_finish` the first n_flagged `neurons`; keep those that spiked at the front of `neurons`; return how many."""
    drive, tau_rc, tau_ref = scratch[DRIVE], params[TAU_RC], params[TAU_REF]
    voltage, refractory = state[VOLTAGE], state[REFRACTORY]
    n_spiked = 0
    for s in range(n_flagged):
        i = neurons[s]
        voltage[i], refractory[i], spiked = lif_finish(voltage[i], refractory[i], drive[i], tau_rc[i], tau_ref[i])
        neurons[n_spiked] = i
        n_spiked += spiked
    return n_spiked


@cached_njit
def _prefetch_row(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, row: int) -> None:
    """Prefetch the first PREFETCH_LINES cache lines of a CSR row's indices and weights."""
    start, stop = indptr[row], indptr[row + 1]
    stop = min(stop, start + PREFETCH_LINES * 16)  # 16 int32 or float32 values per 64-byte line
    for p in range(start, stop, 16):
        prefetch(indices, p)
        prefetch(weights, p)


@cached_njit
def _deliver(
    n_spiked: int, neurons: np.ndarray, params: np.ndarray, state: np.ndarray,
    syn_indptr: np.ndarray, syn_indices: np.ndarray, syn_weights: np.ndarray,
) -> int:
    """Send the spikes of the first n_spiked `neurons` to their synapses and readout traces; return the
    synaptic events (sum of their fan-outs)."""
    trace_increment, syn_current, trace = params[TRACE_INCREMENT], state[SYN_CURRENT], state[TRACE]
    events = 0
    for s in range(n_spiked):
        if s + 1 < n_spiked:
            _prefetch_row(syn_indptr, syn_indices, syn_weights, neurons[s + 1])
        j = neurons[s]
        trace[j] += trace_increment[j]
        # Views indexed from 0 and unsigned targets spare numba's negative-index checks (~20% here).
        targets = syn_indices[syn_indptr[j] : syn_indptr[j + 1]]
        weights = syn_weights[syn_indptr[j] : syn_indptr[j + 1]]
        for q in range(targets.shape[0]):
            syn_current[np.uint32(targets[q])] += weights[q]
        events += targets.shape[0]
    return events


@cached_njit
def run_substeps(
    x: np.ndarray,
    n_substeps: int,
    state: np.ndarray,
    dt: float,
    params: np.ndarray,
    syn_indptr: np.ndarray,
    syn_indices: np.ndarray,
    syn_weights: np.ndarray,
    input_indptr: np.ndarray,
    input_indices: np.ndarray,
    input_weights: np.ndarray,
    decoder_indptr: np.ndarray,
    decoder_indices: np.ndarray,
    decoder_weights: np.ndarray,
    dense_macs_per_substep: int,
    dense_macs_per_call: int,
    scratch: np.ndarray,
    flags: np.ndarray,
    neurons: np.ndarray,
    y: np.ndarray,
    counters: np.ndarray,
    raster: np.ndarray,
) -> None:
    """Run `n_substeps` substeps of `dt` seconds with the input `x` held; write the decoded outputs into `y`.

    `state` (N_STATE, n) is updated in place; `dt` to `dense_macs_per_call` are `BuiltNetwork`'s
    (`kernel_arguments`). Scratch, contents free: `scratch` float64 (2, n), `neurons` int32
    (flag_length(n),); `flags` uint8 (flag_length(n),) must be zero beyond n. `raster` uint8 (>= n_substeps, n) receives
    1 where a neuron spiked (its first n_substeps rows are rewritten); pass a (0, n) array to record nothing.

    `counters` (int64, indexed by `neuroctl.control.base` SPIKES...) is ADDED to:
    - SPIKES: spikes emitted;
    - SYNAPTIC_EVENTS: synaptic deliveries, the sum over spikes of the spiking neuron's fan-out;
    - NEURON_UPDATES: n x n_substeps;
    - DENSE_MACS: the multiply-accumulates a dense, non-spiking evaluation of the same network needs:
      n_substeps x dense_macs_per_substep (every connection as a full n_pre x n_post block, whatever
      its sparsity) + dense_macs_per_call (input currents, n_post x input size per input, once per call
      since x is held; decoders, n_ensemble x output size per output, once at the end).
    """
    record = raster.shape[0] > 0
    if record:
        raster[:n_substeps] = 0
    static = scratch[STATIC_CURRENT]
    static[:] = params[BIAS]
    csr_matvec(input_indptr, input_indices, input_weights, x, static)

    spikes = 0
    events = 0
    for k in range(n_substeps):
        _integrate(dt, params, state, scratch, flags)
        n_spiked = _finish(_flagged(flags, neurons), neurons, params, state, scratch)
        events += _deliver(n_spiked, neurons, params, state, syn_indptr, syn_indices, syn_weights)
        spikes += n_spiked
        if record:
            for s in range(n_spiked):
                raster[k, neurons[s]] = 1

    y[:] = 0.0
    csr_matvec(decoder_indptr, decoder_indices, decoder_weights, state[TRACE], y)
    counters[SPIKES] += spikes
    counters[SYNAPTIC_EVENTS] += events
    counters[NEURON_UPDATES] += state.shape[1] * n_substeps
    counters[DENSE_MACS] += n_substeps * dense_macs_per_substep + dense_macs_per_call


def kernel_arguments(built: BuiltNetwork) -> tuple:
    """`run_substeps`'s arguments from `dt` to `dense_macs_per_call` (the built network's part), for `built`."""
    return (
        built.dt_s,
        built.neuron_params,
        built.syn_indptr,
        built.syn_indices,
        built.syn_weights,
        built.input_indptr,
        built.input_indices,
        built.input_weights,
        built.decoder_indptr,
        built.decoder_indices,
        built.decoder_weights,
        built.dense_macs_per_substep,
        built.dense_macs_per_call,
    )
