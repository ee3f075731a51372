"""The network kernel: K substeps of a built network in one compiled call.

One substep:

    J_i = base_i + I_syn_i + (encoders @ value)_i           (base = bias + input matrix @ x, once per call)
    LIF substep of every neuron with J_i                    (`neuroctl.network.lif`)
    I_syn_i *= exp(-dt / tau_syn_i);  trace_i *= exp(-dt / tau_readout_i)
    for every neuron j that spiked (event-driven: cost ~ spikes x fan-out):
        trace_j += (1 - exp(-dt / tau_readout_j)) / dt;  I_syn_post += syn_weight for each synapse (j, post)

so a spike reaches its targets' currents in the next substep. After the K substeps y = decoders @ trace.

A factored decoded connection (pre -> post, d values; `BuiltNetwork.fac_index`) replaces its n_post x n_pre
weights encoders @ decoders by its d-vector decoded value, filtered with post's synapse:

    value <- exp(-dt/tau_syn) value + (1 - exp(-dt/tau_syn))/dt * decoders[:, spiked].sum(axis=1)

(spikes x d additions) and the encoder term above (n_post x d multiply-accumulates per substep): the
synaptic filter is linear, so I_syn + encoders @ value is the current the full weights would give.

The pass over all neurons (`_integrate`) has no branch and no call: it runs the common case and
flags, in a byte per neuron, the few neurons that spiked or ended their refractory period. `_flagged`
finds them eight flags at a time, `_finish` completes their substep, `_deliver` sends their spikes.

`run_substeps` is itself a compiled function: a controller's own jitted tick can call it (no unboxing
of its arguments then; from Python each array argument costs about 0.1 us).

`run_substeps_pes` is the same step for networks with learned (PES) outputs or connections: in each
substep, after the spikes, each learned output's (or connection's) filtered decoded value takes the
spikes through its current decoders, its presynaptic activities are filtered, and its decoders learn
(Nengo's PES, `neuroctl.network.PES`):

    out   <- exp(-dt/tau) out + (1 - exp(-dt/tau))/dt * decoders[:, spiked].sum(axis=1)
    a     <- exp(-dt/tau_pre) a + (1 - exp(-dt/tau_pre))/dt * spiked
    decoders += (-learning_rate * dt / n_pre) * outer(error, a)

(tau: the output's readout filter, or the post ensemble's synapse for a connection, whose value then
drives post through its encoders as a factored connection's does).
The error (one vector per call, held over its substeps) is an input: non-finite entries are replaced by
the entry's last finite value (zero at first) and counted, so no NaN reaches the decoders.
"""

from __future__ import annotations

import math

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from neuroctl.activity import (DENSE_MACS, GRADED_SYNAPTIC_EVENTS, NEURON_UPDATES, SPIKES, SYNAPTIC_EVENTS,
                               WEIGHT_UPDATES)
from neuroctl.network.arrays import (
    BIAS,
    PES_ACTIVITY,
    PES_ALPHA,
    PES_DECODERS,
    PES_ENCODERS,
    PES_ERROR,
    PES_OUT_DECAY,
    PES_OUT_INCREMENT,
    PES_POST_COUNT,
    PES_POST_START,
    PES_PRE_COUNT,
    PES_PRE_DECAY,
    PES_PRE_INCREMENT,
    PES_PRE_START,
    PES_ROW,
    PES_SIZE,
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

STATIC_CURRENT, DRIVE, BASE_CURRENT = 0, 1, 2
"""Rows of the kernel's float scratch (SCRATCH_ROWS, n): this substep's current besides the synaptic one
(base + factored connections'), this substep's total current J, and bias + input current."""
SCRATCH_ROWS = 3


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


@cached_njit(inline=True)
def _lowest_flag(word: np.uint64) -> int:
    """Byte offset of the lowest set flag in a word of eight 0/1 flag bytes (8 when none is set)."""
    return np.int64(trailing_zeros(word)) >> 3


@cached_njit
def _flagged(flags: np.ndarray, out: np.ndarray) -> int:
    """Write the indices of the flags set (0/1 bytes), ascending, into `out`; return how many.

    The flags are read eight at a time as uint64 words; the first two set in a word are written without
    a branch (an index written for a flag that is not set is overwritten by the next one), the rare
    further ones in a loop."""
    count = 0
    words = flags.view(np.uint64)
    one = np.uint64(1)
    for w in range(words.shape[0]):
        first = words[w]
        second = first & (first - one)  # the lowest set bit cleared
        out[count] = 8 * w + _lowest_flag(first)
        count += first != 0
        out[count] = 8 * w + _lowest_flag(second)
        count += second != 0
        rest = second & (second - one)
        while rest != 0:
            out[count] = 8 * w + _lowest_flag(rest)
            count += 1
            rest &= rest - one
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
def _static_current(
    x: np.ndarray, params: np.ndarray, input_indptr: np.ndarray, input_indices: np.ndarray,
    input_weights: np.ndarray, scratch: np.ndarray,
) -> None:
    """Base current <- bias + input matrix @ x, and the static current <- base (`_encode` adds to it)."""
    base = scratch[BASE_CURRENT]
    base[:] = params[BIAS]
    csr_matvec(input_indptr, input_indices, input_weights, x, base)
    scratch[STATIC_CURRENT, :] = base


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
    fac_index: np.ndarray,
    fac_params: np.ndarray,
    fac_decoders: np.ndarray,
    fac_encoders: np.ndarray,
    fac_values: np.ndarray,
    scratch: np.ndarray,
    flags: np.ndarray,
    neurons: np.ndarray,
    y: np.ndarray,
    counters: np.ndarray,
    raster: np.ndarray,
) -> None:
    """Run `n_substeps` substeps of `dt` seconds with the input `x` held; write the decoded outputs into `y`.

    `state` (N_STATE, n) is updated in place; `dt` to `fac_encoders` are `BuiltNetwork`'s
    (`kernel_arguments`); `fac_values` float64 (fac_value_size,) the factored connections' filtered
    decoded values (state). Scratch, contents free: `scratch` float64 (SCRATCH_ROWS, n), `neurons` int32
    (flag_length(n),); `flags` uint8 (flag_length(n),) must be zero beyond n. `raster` uint8 (>= n_substeps, n) receives
    1 where a neuron spiked (its first n_substeps rows are rewritten); pass a (0, n) array to record nothing.

    `counters` (int64, indexed by `neuroctl.control.base` SPIKES...) is ADDED to:
    - SPIKES: spikes emitted;
    - SYNAPTIC_EVENTS: synaptic deliveries, the sum over spikes of the spiking neuron's fan-out (its
      synapses), plus for each factored connection d per spike of a pre neuron (adding its decoders to
      the decoded value) and n_post x d per substep (the encoder multiply-accumulates: the value sent
      to every post neuron as a graded event, as the d values of a factored connection would travel on
      neuromorphic hardware);
    - GRADED_SYNAPTIC_EVENTS: those encoder multiply-accumulates alone (events that carry a value);
    - NEURON_UPDATES: n x n_substeps;
    - DENSE_MACS: the multiply-accumulates a dense, non-spiking evaluation of the same network needs:
      n_substeps x dense_macs_per_substep (every connection as a full n_pre x n_post block, whatever
      its sparsity) + dense_macs_per_call (input currents, n_post x input size per input, once per call
      since x is held; decoders, n_ensemble x output size per output, once at the end).
    """
    record = raster.shape[0] > 0
    if record:
        raster[:n_substeps] = 0
    _static_current(x, params, input_indptr, input_indices, input_weights, scratch)

    spikes = 0
    events = 0
    graded = 0
    for k in range(n_substeps):
        _rest_encoded(fac_index, scratch)
        graded += _encode(fac_index, fac_encoders, fac_values, scratch)
        _integrate(dt, params, state, scratch, flags)
        n_spiked = _finish(_flagged(flags, neurons), neurons, params, state, scratch)
        events += _decode(n_spiked, neurons, fac_index, fac_params, fac_decoders, fac_values)
        events += _deliver(n_spiked, neurons, params, state, syn_indptr, syn_indices, syn_weights)
        spikes += n_spiked
        if record:
            for s in range(n_spiked):
                raster[k, neurons[s]] = 1

    y[:] = 0.0
    csr_matvec(decoder_indptr, decoder_indices, decoder_weights, state[TRACE], y)
    counters[SPIKES] += spikes
    counters[SYNAPTIC_EVENTS] += events + graded
    counters[GRADED_SYNAPTIC_EVENTS] += graded
    counters[NEURON_UPDATES] += state.shape[1] * n_substeps
    counters[DENSE_MACS] += n_substeps * dense_macs_per_substep + dense_macs_per_call


PES_HELD_ERRORS = 0
"""Index in `run_substeps_pes`'s `pes_counts`: error values found non-finite and held."""
N_PES_COUNTS = 1
PES_OUTPUT, PES_HELD = 0, 1
"""Rows of `run_substeps_pes`'s `pes_signals` (2, error size): filtered decoded outputs, held error."""


@cached_njit
def _hold_errors(error: np.ndarray, held: np.ndarray, pes_counts: np.ndarray) -> None:
    """held <- error where it is finite (else held keeps its last finite value); count the others."""
    for e in range(error.shape[0]):
        value = error[e]
        if math.isfinite(value):
            held[e] = value
        else:
            pes_counts[PES_HELD_ERRORS] += 1


@cached_njit
def _decode(
    n_spiked: int, neurons: np.ndarray, index: np.ndarray, params: np.ndarray, decoders: np.ndarray,
    values: np.ndarray,
) -> int:
    """Filter each decoded connection's value (columns PES_*): decay, then add the decoders (current ones)
    of the neurons that spiked; return the additions into values that drive ensembles (d per spike of a
    connection with postsynaptic neurons; an output's are not synaptic events)."""
    events = 0
    for l in range(index.shape[0]):
        start, n_pre, size = index[l, PES_PRE_START], index[l, PES_PRE_COUNT], index[l, PES_SIZE]
        offset, out = index[l, PES_DECODERS], index[l, PES_ERROR]
        decay, increment = params[l, PES_OUT_DECAY], params[l, PES_OUT_INCREMENT]
        counted = size if index[l, PES_POST_COUNT] > 0 else 0
        for o in range(size):
            values[out + o] *= decay
        for s in range(n_spiked):
            j = neurons[s] - start
            if 0 <= j < n_pre:
                events += counted
                for o in range(size):
                    values[out + o] += increment * decoders[offset + o * n_pre + j]
    return events


@cached_njit
def _rest_encoded(index: np.ndarray, scratch: np.ndarray) -> None:
    """Static current <- base current over each decoded connection's postsynaptic neurons (`_encode` adds
    to it: run this for every connection first)."""
    static, base = scratch[STATIC_CURRENT], scratch[BASE_CURRENT]
    for l in range(index.shape[0]):
        start, count = index[l, PES_POST_START], index[l, PES_POST_COUNT]
        post, rest = static[start : start + count], base[start : start + count]
        for i in range(count):  # a loop: a slice copy between rows of one array checks them for overlap
            post[i] = rest[i]


@cached_njit
def _encode(index: np.ndarray, encoders: np.ndarray, values: np.ndarray, scratch: np.ndarray) -> int:
    """Static current of each decoded connection's postsynaptic neurons += encoders @ its value (one
    column at a time); return the multiply-accumulates (n_post x d per connection)."""
    static = scratch[STATIC_CURRENT]
    macs = 0
    for l in range(index.shape[0]):
        start, count, size = index[l, PES_POST_START], index[l, PES_POST_COUNT], index[l, PES_SIZE]
        offset, value = index[l, PES_ENCODERS], index[l, PES_ERROR]
        # views indexed from 0 by loop counters: no negative-index checks (5x faster at d = 1)
        post, rows, x = static[start : start + count], encoders[offset : offset + count * size], values[value : value + size]
        for o in range(size):
            v = x[o]
            for i in range(count):
                post[i] += rows[i * size + o] * v
        macs += count * size
    return macs


@cached_njit
def _learn(
    n_spiked: int, neurons: np.ndarray, pes_index: np.ndarray, pes_params: np.ndarray,
    decoders: np.ndarray, activity: np.ndarray, held: np.ndarray,
) -> int:
    """Filter the presynaptic activities and apply one PES update to each learned output; return the
    weight updates made (d x n_pre per output with a learning rate > 0)."""
    updates = 0
    for l in range(pes_index.shape[0]):
        start, n_pre, size = pes_index[l, PES_PRE_START], pes_index[l, PES_PRE_COUNT], pes_index[l, PES_SIZE]
        offset, act, err = pes_index[l, PES_DECODERS], pes_index[l, PES_ACTIVITY], pes_index[l, PES_ERROR]
        decay, increment, alpha = pes_params[l, PES_PRE_DECAY], pes_params[l, PES_PRE_INCREMENT], pes_params[l, PES_ALPHA]
        a = activity[act : act + n_pre]
        for i in range(n_pre):
            a[i] *= decay
        for s in range(n_spiked):
            j = neurons[s] - start
            if 0 <= j < n_pre:
                a[j] += increment
        if alpha == 0.0:
            continue
        updates += size * n_pre
        for o in range(size):
            scale = alpha * held[err + o]
            if scale != 0.0:  # adding 0 * a changes nothing: a zero error costs no pass
                row = decoders[offset + o * n_pre : offset + (o + 1) * n_pre]
                for i in range(n_pre):
                    row[i] += scale * a[i]
    return updates


@cached_njit
def run_substeps_pes(
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
    fac_index: np.ndarray,
    fac_params: np.ndarray,
    fac_decoders: np.ndarray,
    fac_encoders: np.ndarray,
    fac_values: np.ndarray,
    pes_index: np.ndarray,
    pes_params: np.ndarray,
    pes_encoders: np.ndarray,
    decoders: np.ndarray,
    activity: np.ndarray,
    pes_signals: np.ndarray,
    error: np.ndarray,
    pes_counts: np.ndarray,
    scratch: np.ndarray,
    flags: np.ndarray,
    neurons: np.ndarray,
    y: np.ndarray,
    counters: np.ndarray,
    raster: np.ndarray,
) -> None:
    """`run_substeps` for a network with learned (PES) outputs or connections (module docstring); the same
    arguments, and between `fac_values` and `scratch`:

    - `pes_index`, `pes_params`, `pes_encoders`: `BuiltNetwork`'s (`pes_arguments`);
    - `decoders` float64 (flat, `BuiltNetwork.pes_decoders`' layout), learned in place;
    - `activity` float64 (pes_activity_size,): the filtered presynaptic activities, Hz (state);
    - `pes_signals` float64 (2, error_size): row PES_OUTPUT the filtered decoded outputs, row PES_HELD
      the error in use (state);
    - `error` float64 (error_size,): the error input, read once per call (non-finite entries held);
    - `pes_counts` int64 (N_PES_COUNTS,): PES_HELD_ERRORS is added to.

    y's learned rows receive the filtered decoded outputs; `counters` must have len(COUNTER_FIELDS):
    counters[WEIGHT_UPDATES] is added to as well. A learned connection's synaptic events are counted as a
    factored connection's.
    """
    record = raster.shape[0] > 0
    if record:
        raster[:n_substeps] = 0
    _static_current(x, params, input_indptr, input_indices, input_weights, scratch)
    outputs, held = pes_signals[PES_OUTPUT], pes_signals[PES_HELD]
    _hold_errors(error, held, pes_counts)

    spikes = 0
    events = 0
    graded = 0
    updates = 0
    for k in range(n_substeps):
        _rest_encoded(fac_index, scratch)
        _rest_encoded(pes_index, scratch)
        graded += _encode(fac_index, fac_encoders, fac_values, scratch)
        graded += _encode(pes_index, pes_encoders, outputs, scratch)
        _integrate(dt, params, state, scratch, flags)
        n_spiked = _finish(_flagged(flags, neurons), neurons, params, state, scratch)
        events += _decode(n_spiked, neurons, fac_index, fac_params, fac_decoders, fac_values)
        events += _decode(n_spiked, neurons, pes_index, pes_params, decoders, outputs)
        updates += _learn(n_spiked, neurons, pes_index, pes_params, decoders, activity, held)
        events += _deliver(n_spiked, neurons, params, state, syn_indptr, syn_indices, syn_weights)
        spikes += n_spiked
        if record:
            for s in range(n_spiked):
                raster[k, neurons[s]] = 1

    y[:] = 0.0
    csr_matvec(decoder_indptr, decoder_indices, decoder_weights, state[TRACE], y)
    for l in range(pes_index.shape[0]):
        row, size, out = pes_index[l, PES_ROW], pes_index[l, PES_SIZE], pes_index[l, PES_ERROR]
        if row >= 0:
            for o in range(size):
                y[row + o] = outputs[out + o]
    counters[SPIKES] += spikes
    counters[SYNAPTIC_EVENTS] += events + graded
    counters[GRADED_SYNAPTIC_EVENTS] += graded
    counters[NEURON_UPDATES] += state.shape[1] * n_substeps
    counters[DENSE_MACS] += n_substeps * dense_macs_per_substep + dense_macs_per_call
    counters[WEIGHT_UPDATES] += updates


def pes_arguments(built: BuiltNetwork) -> tuple:
    """`run_substeps_pes`'s `pes_index`, `pes_params`, `pes_encoders` for `built`."""
    return (built.pes_index, built.pes_params, built.pes_encoders)


def kernel_arguments(built: BuiltNetwork) -> tuple:
    """`run_substeps`'s arguments from `dt` to `fac_encoders` (the built network's part), for `built`."""
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
        built.fac_index,
        built.fac_params,
        built.fac_decoders,
        built.fac_encoders,
    )
