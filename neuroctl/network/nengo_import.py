"""`from_nengo`: a Nengo model -> a neuroctl network on the numba kernel, with Nengo's BUILT parameters.

    with nengo.Network(seed=0) as model:
        stimulus = nengo.Node(lambda t: np.sin(2 * np.pi * t))
        a, b = nengo.Ensemble(100, 1), nengo.Ensemble(100, 1)
        nengo.Connection(stimulus, a)
        nengo.Connection(a, b, function=np.square)
        probe = nengo.Probe(b, synapse=0.01)
    with nengo.Simulator(model, dt=0.001) as sim:
        imported = from_nengo(sim)           # sim's built encoders, gains, biases, decoders, initial voltages
        sim.run(2.0)
    y = imported.run(2000)[probe]            # like sim.data[probe]: (steps, dimensions)

What converts (anything else raises `ValueError` naming the object):

- `nengo.Ensemble` with `nengo.LIF` neurons (exactly LIF: amplitude 1, min_voltage 0): its built gains,
  biases, encoders (`sim.data[ens]`) and initial voltages and refractory times.
- `nengo.Connection` between ensembles / their `.neurons` (decoded, neuron-to-neuron, decoded-to-neurons,
  weight solvers), with its built weights (transform @ decoders, `sim.data[conn].weights`), Dense or no
  transform, pre/post slices, and a `nengo.Lowpass` synapse. A decoded ensemble -> ensemble connection
  runs factored where that is cheaper (`neuroctl.network.builder.factored_is_cheaper` at pre's mean rate
  over its eval points): its decoded value is filtered with its own synapse and drives post through
  post's scaled encoders, as Nengo computes it. The other connections (full weights) go through the
  synaptic current of each postsynaptic neuron (one exponential synapse per neuron), which equals Nengo's
  filtering of each connection's output only when every such connection (and filtered input) into an
  ensemble has the same tau: mixed taus among them are an error. Lowpass(0) is a one-step delay, as in Nengo.
- Input `nengo.Node`s (no incoming connections) whose output is a constant, a function of time `f(t)`, or
  values the caller passes to `run(inputs={node: ...})`; their connections into ensembles may be
  unfiltered (synapse=None: the kernel's direct input current) or Lowpass (added to the postsynaptic
  current after each step, exactly as Nengo's update-mode filter).
- Outputs: `nengo.Probe`s (synapse None or Lowpass) on an ensemble's decoded output (the probe's own built
  decoders), on `.neurons` (output/spikes), on a connection's output (from an ensemble), and on nodes: an
  input node (its values) or a passthrough output node (output=None, fed only by ensembles: the sum of its
  filtered inputs, read one step late as Nengo does, since the node reads its update-mode filters before
  they update).

- PES learning (`nengo.PES(learning_rate, pre_synapse=Lowpass or None)`, one rule per connection) on a
  decoded connection from an ensemble into an output (passthrough) node, read by probes on the node or
  the connection, or into an ensemble (factored: learned decoders, post's fixed encoders; probe post),
  from its built weights (any function / Dense transform); `learned_decoders(conn)` is
  a live view of its decoders. Its error comes from input nodes (`nengo.Connection(error_node,
  conn.learning_rule, synapse=None or Lowpass, transform=...)`): a function of time or values passed to
  `run(inputs=...)`, e.g. output - target computed by the caller from the previous step's output. The
  update and its timing are Nengo's SimPES: step k decodes its spikes with the decoders from before it,
  filters the presynaptic activities with them, then decoders += -learning_rate dt / n_pre outer(error_k,
  activities), error_k being the error filter read before its step-k update (as every Nengo filter).
  Nengo's `weights` signal applies that update at the start of step k+1: after n steps it equals
  `learned_decoders` after n-1 (ours are the decoders the next step uses). `activity` (len(COUNTER_FIELDS)
  entries) then counts WEIGHT_UPDATES (size_out x n_pre per step).

Not converted: other neuron types (AdaptiveLIF, LIFRate, RectifiedLinear, Direct...), synapses other than
Lowpass (Alpha, LinearFilter, Triangle), learning rules other than PES, PES from or into
.neurons, PES errors computed inside the model (from an ensemble or a node with inputs: the kernel takes
the error as an input), Sparse/Convolution transforms, passthrough nodes between ensembles, nodes with input
that compute a function (`f(t, x)`), Process outputs, node-to-node connections, probes of `input`,
`scaled_encoders` or with `sample_every`. Ensemble arrays and other networks convert if what they contain
does (`nengo.networks.EnsembleArray` uses passthrough nodes for its input and output: error).

Timing: one `run` step is one Nengo step of the same dt. Nengo step k (t = k dt) computes the neurons
from the currents filtered up to step k-1 and then updates the filters with step k's spikes and node
values; the kernel does the same: a spike in substep k reaches the postsynaptic current in substep k+1,
and a Lowpass input's value u(k dt) is added to the current after substep k. A probe's value at step k
is its filter after step k's spikes (no offset); a passthrough node's is one step older (as in Nengo).
So with the same built parameters both simulators integrate the same equations; they differ only by
rounding (the kernel's synaptic weights are float32) and by the kernel's exact spike-time threshold
crossing, which is Nengo's too (same formula), so spikes agree until a rounding difference flips one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import scipy.sparse

from neuroctl.activity import (
    COUNTER_FIELDS,
    DENSE_MACS,
    GRADED_SYNAPTIC_EVENTS,
    NEURON_UPDATES,
    SPIKES,
    SYNAPTIC_EVENTS,
    WEIGHT_UPDATES,
)
from neuroctl.network.arrays import (
    BIAS,
    N_PARAMS,
    N_PES_INDEX,
    N_PES_PARAMS,
    PES_ALPHA,
    PES_DECODERS,
    PES_ERROR,
    PES_OUT_DECAY,
    PES_OUT_INCREMENT,
    PES_PRE_COUNT,
    PES_PRE_DECAY,
    PES_PRE_INCREMENT,
    PES_SIZE,
    RC_FACTOR,
    REFRACTORY,
    SYN_CURRENT,
    SYN_DECAY,
    SYN_WEIGHT_DTYPE,
    TAU_RC,
    TAU_REF,
    TRACE_DECAY,
    TRACE_INCREMENT,
    VOLTAGE,
    BuiltEnsemble,
    BuiltNetwork,
    csr_arrays,
    new_state,
    synapse_index_dtype,
)
from neuroctl.network.builder import DecodedRow, decoded_table, factored_is_cheaper
from neuroctl.network.jit import cached_njit
from neuroctl.network.kernel import (
    SCRATCH_ROWS,
    _decode,
    _deliver,
    _encode,
    _finish,
    _flagged,
    _integrate,
    _learn,
    _rest_encoded,
    _static_current,
    flag_length,
    kernel_arguments,
)

InputValues = np.ndarray | Callable[[float], object] | float


def _nengo():
    try:
        import nengo
    except ImportError as exc:  # pragma: no cover - nengo is in the test extra
        raise ImportError(f"from_nengo needs nengo ({exc}); pip install nengo") from None
    return nengo


@dataclass(frozen=True)
class _Readout:
    """One output block: rows decoded from spikes (rows, n) (or from an input node), filtered."""

    rows: np.ndarray | None  # (size, n) current-free weights per spike (already / dt); None: an input node
    decay: float  # exp(-dt / tau) of its Lowpass (0 for synapse None)
    delayed: bool  # read before this step's filter update (passthrough nodes)
    input_columns: slice | None = None  # input node: its columns of the input table
    learned: tuple = ()  # ((learned connection index, (size, its size_out) map), ...): PES outputs read here


def _lowpass_tau(obj: Any, synapse: Any) -> float | None:
    """tau of a Lowpass synapse, None for no synapse; ValueError for any other synapse."""
    nengo = _nengo()
    if synapse is None:
        return None
    if type(synapse) is not nengo.Lowpass:
        raise ValueError(f"{obj}: synapse {type(synapse).__name__} is not supported; neuroctl runs Lowpass "
                         "(exponential) synapses or none")
    return float(synapse.tau)


def _decay(tau: float | None, dt: float) -> float:
    return 0.0 if not tau else float(np.exp(-dt / tau))


def _indices(size: int, sl: Any) -> np.ndarray:
    return np.atleast_1d(np.arange(size)[sl])


class NengoImport:
    """A Nengo model converted by `from_nengo`: its built network, inputs and outputs, and a runner.

    `run(n_steps, inputs)` steps the kernel `n_steps` times (one Nengo step each) in one compiled call and
    returns {probe: (n_steps, size) array}, like `sim.data[probe]` after `sim.run_steps(n_steps)`; the
    state carries over between calls (`reset()` goes back to the built initial state). `activity` holds the
    kernel's counters (SPIKES, SYNAPTIC_EVENTS...) of the last run.
    """

    def __init__(self, built: BuiltNetwork, initial_state: np.ndarray, injection: scipy.sparse.csr_array,
                 input_nodes: dict[Any, slice], readouts: dict[Any, _Readout],
                 learned: _Learned | None = None) -> None:
        self.built = built
        learned = learned if learned is not None else _Learned.empty(built.input_size)
        self._learned = learned
        self.learned_connections = learned.connections
        self.decoders = learned.initial_decoders.copy()
        self.pes_activity = np.zeros(learned.activity_size)
        self._error_state = np.zeros(learned.error_matrix.shape[0])
        self._error = np.zeros(learned.error_size)
        self._learned_values = np.zeros(learned.error_size)
        self.fac_values = np.zeros(built.fac_value_size)
        self.input_nodes = input_nodes
        self.probes = tuple(readouts)
        self._initial_state = initial_state
        self.state = initial_state.copy()
        self.activity = np.zeros(len(COUNTER_FIELDS), dtype=np.int64)
        self.time_s = 0.0
        self._steps_done = 0
        n, dt = built.n_neurons, built.dt_s
        self._injection = csr_arrays(scipy.sparse.csr_array(injection.T))  # by input column
        spike_rows = [r.rows if r.rows is not None else np.zeros((_size(r), n)) for r in readouts.values()]
        matrix = np.concatenate(spike_rows, axis=0) if spike_rows else np.zeros((0, n))
        self._readout_size = matrix.shape[0]
        self._readout_by_neuron = csr_arrays(scipy.sparse.csr_array(matrix.T))
        self._decay = np.concatenate([np.full(_size(r), r.decay) for r in readouts.values()] or [np.zeros(0)])
        self._delayed = np.concatenate([np.full(_size(r), r.delayed) for r in readouts.values()]
                                       or [np.zeros(0, bool)]).astype(np.uint8)
        self._readout_state = np.zeros(self._readout_size)
        self._slices: dict[Any, slice] = {}
        start = 0
        for probe, readout in readouts.items():
            self._slices[probe] = slice(start, start + _size(readout))
            start += _size(readout)
        self._node_columns = {p: r.input_columns for p, r in readouts.items() if r.input_columns is not None}
        self._learned_map = np.zeros((self._readout_size, learned.error_size))
        for probe, readout in readouts.items():
            for l, block in readout.learned:
                start, size = learned.index[l, PES_ERROR], learned.index[l, PES_SIZE]
                self._learned_map[self._slices[probe], start:start + size] += block / dt
        self._scratch = np.zeros((SCRATCH_ROWS, n))
        self._flags = np.zeros(flag_length(n), dtype=np.uint8)
        self._neurons = np.zeros(flag_length(n), dtype=np.int32)
        self._raster = np.zeros((1, n), dtype=np.uint8)
        self._no_output = np.zeros(0)
        self._raw = np.zeros(self._readout_size)
        self._dt = dt

    @property
    def input_size(self) -> int:
        return self.built.input_size

    def reset(self) -> None:
        """Back to the built initial state (Nengo's initial voltages), time 0, filters empty."""
        self.state[:] = self._initial_state
        self._readout_state[:] = 0.0
        self.fac_values[:] = 0.0
        self._learned_values[:] = 0.0
        self.decoders[:] = self._learned.initial_decoders
        self.pes_activity[:] = 0.0
        self._error_state[:] = 0.0
        self.activity[:] = 0
        self.time_s, self._steps_done = 0.0, 0

    def learned_decoders(self, conn: Any) -> np.ndarray:
        """A learned (PES) connection's decoders now, a live (size_out, n_pre) view (Nengo's
        `sim.signals[sim.model.sig[conn]["weights"]]`)."""
        if conn not in self.learned_connections:
            raise ValueError(f"{conn}: not a learned connection of this network")
        index = self._learned.index[self.learned_connections.index(conn)]
        start, size, n_pre = index[PES_DECODERS], index[PES_SIZE], index[PES_PRE_COUNT]
        return self.decoders[start:start + size * n_pre].reshape(size, n_pre)

    def input_table(self, n_steps: int, inputs: Mapping[Any, InputValues] | None = None) -> np.ndarray:
        """The input nodes' values at steps 1..n_steps after the current one, (n_steps, input_size):
        `inputs[node]` (an (n_steps, size) array, a constant, or f(t)) or else the node's own output."""
        inputs = dict(inputs or {})
        unknown = [node for node in inputs if node not in self.input_nodes]
        if unknown:
            raise ValueError(f"{unknown[0]}: not an input node of this network")
        table = np.zeros((n_steps, self.input_size))
        times = (self._steps_done + 1 + np.arange(n_steps)) * self._dt
        for node, columns in self.input_nodes.items():
            value = inputs.get(node, node.output)
            width = columns.stop - columns.start
            if callable(value):
                table[:, columns] = _tabulate(node, value, times, width)
            else:
                array = np.asarray(value, dtype=np.float64)
                if array.ndim == 2 and array.shape != (n_steps, width):
                    raise ValueError(f"{node}: values must have shape {(n_steps, width)}, got {array.shape}")
                table[:, columns] = np.broadcast_to(array.reshape(n_steps, width) if array.ndim == 2
                                                    else array.ravel(), (n_steps, width))
        if not np.all(np.isfinite(table)):
            raise ValueError("input values must be finite")
        return table

    def run(self, n_steps: int, inputs: Mapping[Any, InputValues] | None = None) -> dict[Any, np.ndarray]:
        """Step `n_steps` Nengo steps; {probe: (n_steps, size)} (see `input_table` for `inputs`)."""
        table = self.input_table(n_steps, inputs)
        out = self.new_output(n_steps)
        self.run_table(table, out)
        result = {probe: out[:, sl] for probe, sl in self._slices.items()}
        for probe, columns in self._node_columns.items():
            result[probe] = table[:, columns].copy()
        return result

    def new_output(self, n_steps: int) -> np.ndarray:
        """A zero output array for `run_table`: (n_steps, readout size), probes side by side."""
        return np.zeros((n_steps, self._readout_size))

    def run_table(self, table: np.ndarray, out: np.ndarray) -> None:
        """`run` on a ready input table (n_steps, input_size) into `out` (`new_output(n_steps)`): nothing
        is allocated (the benchmark's timed call)."""
        n_steps = table.shape[0]
        if table.dtype != np.float64 or table.shape != (n_steps, self.input_size) or not table.flags.c_contiguous:
            raise ValueError(f"table must be C-contiguous float64 with shape (steps, {self.input_size})")
        if out.dtype != np.float64 or out.shape != (n_steps, self._readout_size) or not out.flags.c_contiguous:
            raise ValueError(f"out must be C-contiguous float64 with shape {(n_steps, self._readout_size)}")
        self.activity[:] = 0
        _run_steps(table, self.state, *kernel_arguments(self.built), self.fac_values, self._scratch, self._flags,
                   self._neurons, self._no_output, self.activity, self._raster, *self._injection,
                   *self._readout_by_neuron, self._decay, self._delayed, self._readout_state, self._raw, out,
                   self._learned.index, self._learned.params, self._learned.encoders, self.decoders,
                   self.pes_activity, self._learned_map, self._learned.error_matrix, self._learned.error_target,
                   self._learned.error_decay, self._learned.error_delayed, self._error_state, self._error,
                   self._learned_values)
        self._steps_done += table.shape[0]
        self.time_s = self._steps_done * self._dt


def _tabulate(node: Any, function: Callable[[float], object], times: np.ndarray, width: int) -> np.ndarray:
    """function(t) at every time, (len(times), width)."""
    if width == 1:
        try:
            return np.fromiter(map(function, times.tolist()), dtype=np.float64, count=times.size)[:, None]
        except (TypeError, ValueError):
            pass  # returns arrays: the general path below
    values = np.empty((times.size, width))
    for k, t in enumerate(times.tolist()):
        value = np.asarray(function(t), dtype=np.float64).ravel()
        if value.size not in (1, width):
            raise ValueError(f"{node}: its function returned {value.size} values, expected {width}")
        values[k] = value
    return values


def _size(readout: _Readout) -> int:
    if readout.rows is not None:
        return readout.rows.shape[0]
    return readout.input_columns.stop - readout.input_columns.start


@cached_njit
def _run_steps(
    table: np.ndarray, state: np.ndarray, dt: float, params: np.ndarray,
    syn_indptr: np.ndarray, syn_indices: np.ndarray, syn_weights: np.ndarray,
    input_indptr: np.ndarray, input_indices: np.ndarray, input_weights: np.ndarray,
    decoder_indptr: np.ndarray, decoder_indices: np.ndarray, decoder_weights: np.ndarray,
    dense_macs_per_substep: int, dense_macs_per_call: int,
    fac_index: np.ndarray, fac_params: np.ndarray, fac_decoders: np.ndarray, fac_encoders: np.ndarray,
    fac_values: np.ndarray,
    scratch: np.ndarray, flags: np.ndarray, neurons: np.ndarray, y: np.ndarray, counters: np.ndarray,
    raster: np.ndarray,
    inj_indptr: np.ndarray, inj_indices: np.ndarray, inj_weights: np.ndarray,
    ro_indptr: np.ndarray, ro_indices: np.ndarray, ro_weights: np.ndarray,
    decay: np.ndarray, delayed: np.ndarray, readout: np.ndarray, raw: np.ndarray, out: np.ndarray,
    pes_index: np.ndarray, pes_params: np.ndarray, pes_encoders: np.ndarray, decoders: np.ndarray,
    pes_activity: np.ndarray, learned_map: np.ndarray, error_matrix: np.ndarray, error_target: np.ndarray,
    error_decay: np.ndarray, error_delayed: np.ndarray, error_state: np.ndarray, error: np.ndarray,
    learned_values: np.ndarray,
) -> None:
    """Nengo steps k = 0..len(table)-1, each one substep of the kernel (`neuroctl.network.kernel`'s
    `run_substeps` body: `_encode` of the factored connections, `_integrate`, `_flagged`, `_finish`,
    `_decode`, `_deliver`) with the unfiltered inputs table[k] as base current; then the Lowpass inputs'
    share (1 - decay) of table[k] is added to the synaptic currents and the readouts are updated: readout
    = decay * readout + (1 - decay) * (readout matrix @ spikes / dt), out[k] = readout (or its value
    before the update where delayed). One call of `run_substeps` per step would cost about 1.5 us more
    per step (its per-call setup).
    Learned (PES) connections, after the spikes: error = the error nodes' filtered values (error_matrix @
    table[k], each row Lowpass-filtered and read before its update where error_delayed, as Nengo's
    update-mode filters); learned_values take the spikes through the decoders (`_decode`: an output's is
    decoders[:, spiked].sum, unfiltered, and raw += learned_map @ it; a connection into an ensemble's is
    its synapse's filtered value, which drives post through its encoders from the next step on); the
    presynaptic activities a <- pre_decay a + pre_increment spiked; decoders += alpha outer(error, a)
    (Nengo's SimPES order: decode with the decoders from before the step, learn with the activities
    including its spikes). `decoder_*`, `y` and `raster` are unused (the readouts replace the kernel's
    decoders)."""
    direct = input_indptr[-1] > 0
    syn_current = state[SYN_CURRENT]
    spikes = 0
    events = 0
    graded = 0
    updates = 0
    for k in range(table.shape[0]):
        if direct or k == 0:
            _static_current(table[k], params, input_indptr, input_indices, input_weights, scratch)
        _rest_encoded(fac_index, scratch)
        _rest_encoded(pes_index, scratch)
        graded += _encode(fac_index, fac_encoders, fac_values, scratch)
        graded += _encode(pes_index, pes_encoders, learned_values, scratch)
        _integrate(dt, params, state, scratch, flags)
        n_spiked = _finish(_flagged(flags, neurons), neurons, params, state, scratch)
        events += _decode(n_spiked, neurons, fac_index, fac_params, fac_decoders, fac_values)
        events += _deliver(n_spiked, neurons, params, state, syn_indptr, syn_indices, syn_weights)
        spikes += n_spiked
        _scatter(inj_indptr, inj_indices, inj_weights, table[k], syn_current)
        raw[:] = 0.0
        for s in range(n_spiked):
            j = neurons[s]
            for q in range(ro_indptr[j], ro_indptr[j + 1]):
                raw[ro_indices[q]] += ro_weights[q]
        if pes_index.shape[0] > 0:
            _errors(table[k], error_matrix, error_target, error_decay, error_delayed, error_state, error)
            events += _decode(n_spiked, neurons, pes_index, pes_params, decoders, learned_values)
            updates += _learn(n_spiked, neurons, pes_index, pes_params, decoders, pes_activity, error)
            _matvec(learned_map, learned_values, raw)
        for r in range(readout.shape[0]):
            before = readout[r]
            readout[r] = decay[r] * before + (1.0 - decay[r]) * raw[r]
            out[k, r] = before if delayed[r] else readout[r]
    n_steps = table.shape[0]
    counters[SPIKES] += spikes
    counters[SYNAPTIC_EVENTS] += events + graded
    counters[GRADED_SYNAPTIC_EVENTS] += graded
    counters[NEURON_UPDATES] += state.shape[1] * n_steps
    counters[DENSE_MACS] += n_steps * (dense_macs_per_substep + dense_macs_per_call)
    if counters.shape[0] > WEIGHT_UPDATES:
        counters[WEIGHT_UPDATES] += updates


@cached_njit
def _scatter(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """out += matrix^T @ x for a CSR matrix (its rows are x's entries): only its nonzeros are visited."""
    for row in range(indptr.shape[0] - 1):
        value = x[row]
        for q in range(indptr[row], indptr[row + 1]):
            out[indices[q]] += weights[q] * value


@cached_njit
def _errors(
    values: np.ndarray, error_matrix: np.ndarray, error_target: np.ndarray, error_decay: np.ndarray,
    error_delayed: np.ndarray, error_state: np.ndarray, error: np.ndarray,
) -> None:
    """The learned connections' errors of one step (`_run_steps`): each error source row of error_matrix
    @ values, Lowpass-filtered (read before its update where delayed), summed into its error entry."""
    error[:] = 0.0
    for s in range(error_matrix.shape[0]):
        value = 0.0
        for c in range(values.shape[0]):
            value += error_matrix[s, c] * values[c]
        before = error_state[s]
        error_state[s] = error_decay[s] * before + (1.0 - error_decay[s]) * value
        error[error_target[s]] += before if error_delayed[s] else error_state[s]


@cached_njit
def _matvec(matrix: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """out += matrix @ x (a dense matrix, accumulated)."""
    for r in range(matrix.shape[0]):
        total = 0.0
        for c in range(matrix.shape[1]):
            total += matrix[r, c] * x[c]
        out[r] += total


@dataclass(frozen=True)
class _Learned:
    """The learned (PES) connections of an import and their error sources (input nodes' columns)."""

    connections: tuple
    index: np.ndarray  # int64 (L, N_PES_INDEX), `BuiltNetwork.pes_index`'s columns (PES_ROW unused)
    params: np.ndarray  # (L, N_PES_PARAMS), `BuiltNetwork.pes_params`' columns (PES_OUT_*: into a node decay 0
    #                     and increment 1, the raw decoded sum; into an ensemble its synapse's filter)
    initial_decoders: np.ndarray  # flat, each (size, n_pre) row-major: Nengo's built weights
    encoders: np.ndarray  # flat: the connections into ensembles' (n_post, size) encoders (`BuiltNetwork.pes_encoders`)
    error_matrix: np.ndarray  # (sources, input width): one row per error connection output dimension
    error_target: np.ndarray  # int64 (sources,): its entry of the error vector
    error_decay: np.ndarray  # (sources,) its Lowpass decay (0: none)
    error_delayed: np.ndarray  # uint8 (sources,): read before the filter's update (Lowpass)

    @property
    def error_size(self) -> int:
        return int(self.index[:, PES_SIZE].sum())

    @property
    def activity_size(self) -> int:
        return int(self.index[:, PES_PRE_COUNT].sum())

    @staticmethod
    def empty(width: int) -> "_Learned":
        return _Learned((), np.zeros((0, N_PES_INDEX), dtype=np.int64), np.zeros((0, N_PES_PARAMS)), np.zeros(0),
                        np.zeros(0), np.zeros((0, width)),
                        np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.uint8))


def _built_model(source: Any, dt_s: float | None):
    """(nengo.builder.Model, its network or None) from a Simulator, a built Model or a Network."""
    nengo = _nengo()
    if isinstance(source, nengo.Simulator):
        return source.model
    if isinstance(source, nengo.builder.Model):
        return source
    if isinstance(source, nengo.Network):
        model = nengo.builder.Model(dt=0.001 if dt_s is None else float(dt_s))
        model.build(source)
        return model
    raise ValueError(f"{source!r}: expected a nengo.Network, nengo.Simulator or built nengo.builder.Model")


def _network_of(model) -> Any:
    nengo = _nengo()
    networks = [obj for obj in model.params if isinstance(obj, nengo.Network)]
    top = [net for net in networks if not any(net is not other and net in other.all_networks for other in networks)]
    if len(top) != 1:
        raise ValueError("the nengo model must be built from exactly one top-level network")
    return top[0]


def from_nengo(source: Any, dt_s: float | None = None) -> NengoImport:
    """Convert a Nengo model to a neuroctl network on the numba kernel, with Nengo's built parameters.

    `source`: a `nengo.Simulator` (its built model: the same parameters as that simulator, the fair
    comparison), a built `nengo.builder.Model`, or a `nengo.Network` (built here with dt_s, default 1 ms;
    give the network a seed for reproducible parameters). See the module docstring for what converts;
    anything else is a `ValueError` naming the object.
    """
    nengo = _nengo()
    model = _built_model(source, dt_s)
    dt = float(model.dt)
    if dt_s is not None and not np.isclose(dt_s, dt):
        raise ValueError(f"dt_s={dt_s} differs from the built model's dt={dt}")
    network = _network_of(model)
    return _Converter(nengo, model, network, dt).convert()


class _Converter:
    def __init__(self, nengo, model, network, dt: float) -> None:
        self.nengo, self.model, self.network, self.dt = nengo, model, network, dt
        self._built: dict[Any, BuiltEnsemble] = {}

    def convert(self) -> NengoImport:
        nengo, model, net, dt = self.nengo, self.model, self.network, self.dt
        ensembles = list(net.all_ensembles)
        if not ensembles:
            raise ValueError(f"{net}: the network has no ensembles")
        self.start: dict[Any, int] = {}
        n = 0
        for ens in ensembles:
            self._check_ensemble(ens)
            self.start[ens] = n
            n += ens.n_neurons
        self.n = n
        connections = list(net.all_connections)
        error_connections = [c for c in connections if isinstance(c.post_obj, nengo.connection.LearningRule)]
        connections = [c for c in connections if c not in error_connections]
        learned = [c for c in connections if c.learning_rule_type is not None]
        for conn in learned:
            self._check_learned(conn)
        nodes = list(net.all_nodes)
        for conn in error_connections:
            self._check_error_connection(conn, connections)
        nodes = list(net.all_nodes)
        incoming = {node: [c for c in connections if c.post_obj is node] for node in nodes}
        outgoing = {node: [c for c in connections if c.pre_obj is node] for node in nodes}
        input_nodes, output_nodes = [], []
        for node in nodes:
            if incoming[node] and outgoing[node]:
                raise ValueError(f"{node}: nodes between ensembles (passthrough or function nodes with both "
                                 "inputs and outputs) are not supported")
            if incoming[node]:
                if node.output is not None:
                    raise ValueError(f"{node}: an output node must be a passthrough node (output=None); a node "
                                     "computing f(t, x) cannot run inside the kernel")
                output_nodes.append(node)
            else:
                if isinstance(node.output, nengo.Process):
                    raise ValueError(f"{node}: Process outputs ({type(node.output).__name__}) are not "
                                     "supported; pass the values with run(inputs={node: ...})")
                if node.output is None:
                    raise ValueError(f"{node}: passthrough nodes (output=None) are only supported as outputs "
                                     "fed by ensembles (an EnsembleArray's input and output are passthrough "
                                     "nodes: connect to its ensembles instead)")
                input_nodes.append(node)
        columns, width = {}, 0
        for node in input_nodes:
            columns[node] = slice(width, width + node.size_out)
            width += node.size_out
        self.columns = columns

        synapses: list[scipy.sparse.coo_array] = []  # (post, pre) current impulses areas
        direct = np.zeros((n, width))
        filtered = np.zeros((n, width))
        tau_into: dict[Any, tuple[float, Any]] = {}
        node_inputs: dict[Any, list[tuple[np.ndarray, float | None]]] = {node: [] for node in output_nodes}
        conn_readouts: dict[Any, tuple[np.ndarray, float | None]] = {}
        self.learned = learned
        factored, factored_dense = [], 0  # fixed factored connections' rows, their dense MACs per step
        for conn in connections:
            if isinstance(conn.pre_obj, nengo.Node) and isinstance(conn.post_obj, nengo.Node):
                raise ValueError(f"{conn}: node-to-node connections are not supported")
            tau = _lowpass_tau(conn, conn.synapse)
            matrix, weighted = self._connection_matrix(conn)  # (post rows, pre columns), (size_out, pre)
            post = conn.post_obj
            post_ens = post if isinstance(post, nengo.Ensemble) else getattr(post, "ensemble", None)
            if isinstance(conn.pre_obj, nengo.Node):
                cols = columns[conn.pre_obj]
                rows = slice(self.start[post_ens], self.start[post_ens] + post_ens.n_neurons)
                if tau is None:
                    direct[rows, cols] += matrix
                else:
                    self._check_tau(tau_into, post_ens, tau, conn)
                    filtered[rows, cols] += (1.0 - _decay(tau, dt)) * matrix
                continue
            pre_ens = conn.pre_obj if isinstance(conn.pre_obj, nengo.Ensemble) else conn.pre_obj.ensemble
            full = np.zeros((matrix.shape[0], n))
            full[:, self.start[pre_ens]:self.start[pre_ens] + pre_ens.n_neurons] = matrix
            own = np.zeros((weighted.shape[0], n))
            own[:, self.start[pre_ens]:self.start[pre_ens] + pre_ens.n_neurons] = weighted
            if conn in learned:  # its decoders change: the kernel decodes it (`_Learned`), not the static rows
                own, full = np.zeros_like(own), np.zeros_like(full)
            conn_readouts[conn] = (own, tau)
            if isinstance(post, nengo.Node):
                node_inputs[post].append((full, tau))
                continue
            if tau is None:
                raise ValueError(f"{conn}: synapse=None between ensembles is not supported (the kernel delivers "
                                 "a spike in the next step; use a Lowpass synapse)")
            if self._factored(conn):  # its own value filter: any tau
                factored += [] if conn in learned else [self._decoded_row(conn)]
                factored_dense += pre_ens.n_neurons * post_ens.n_neurons
                continue
            self._check_tau(tau_into, post_ens, tau, conn)
            block = np.zeros((n, n))
            block[self.start[post_ens]:self.start[post_ens] + post_ens.n_neurons] = full
            synapses.append(scipy.sparse.coo_array(block))

        pes = self._learned(learned, error_connections, columns, width)
        readouts = self._readouts(conn_readouts, node_inputs, learned)
        params = self._params(ensembles, tau_into)
        syn_decay = params[SYN_DECAY]
        impulse = (1.0 - syn_decay) / dt
        total = scipy.sparse.csr_array((n, n))
        for block in synapses:
            total = total + scipy.sparse.csr_array(block)
        pre_post = scipy.sparse.csr_array(total.T) @ scipy.sparse.diags_array(impulse)
        syn_indptr, syn_indices, syn_weights = csr_arrays(pre_post, SYN_WEIGHT_DTYPE)
        input_csr = csr_arrays(scipy.sparse.csr_array(direct))
        no_decoders = csr_arrays(scipy.sparse.csr_array((0, n)))
        built_ensembles = tuple(self._built_ensemble(ens) for ens in ensembles)
        dense_per_substep = factored_dense + int(sum(np.count_nonzero(np.asarray(b.sum(axis=1)).ravel())
                                                     * np.count_nonzero(np.asarray(b.sum(axis=0)).ravel())
                                                     for b in synapses))
        fac_index, fac_params, fac_decoders, fac_encoders = decoded_table(factored)
        built = BuiltNetwork(
            dt, params, syn_indptr, syn_indices.astype(synapse_index_dtype(n)), syn_weights,
            *input_csr, *no_decoders,
            dense_macs_per_substep=dense_per_substep,
            dense_macs_per_call=int(np.count_nonzero(direct.any(axis=0)) * n),
            ensembles=built_ensembles, input_size=width,
            fac_index=fac_index, fac_params=fac_params, fac_decoders=fac_decoders, fac_encoders=fac_encoders,
        )
        state = new_state(n)
        for ens in ensembles:
            sl = slice(self.start[ens], self.start[ens] + ens.n_neurons)
            signals = model.sig[ens.neurons]
            state[VOLTAGE, sl] = signals["voltage"].initial_value
            state[REFRACTORY, sl] = np.maximum(np.asarray(signals["refractory_time"].initial_value) - dt, 0.0)
        return NengoImport(built, state, scipy.sparse.csr_array(filtered), columns, readouts, pes)

    def _check_learned(self, conn) -> None:
        nengo = self.nengo
        rules = conn.learning_rule_type
        rules = list(rules.values()) if isinstance(rules, dict) else (list(rules) if isinstance(rules, (list, tuple))
                                                                      else [rules])
        names = ", ".join(type(rule).__name__ for rule in rules)
        if len(rules) != 1 or type(rules[0]) is not nengo.PES:
            raise ValueError(f"{conn}: learning rule {names} is not supported (neuroctl learns with one PES rule "
                             "per connection)")
        if not isinstance(conn.pre_obj, nengo.Ensemble) or conn.solver.weights:
            raise ValueError(f"{conn}: learning rule PES is supported on decoded connections from an ensemble "
                             "(not from .neurons, not with a weight solver)")
        if not isinstance(conn.post_obj, (nengo.Node, nengo.Ensemble)):
            raise ValueError(f"{conn}: learning rule PES is supported on decoded connections into an output "
                             "node (a passthrough node) or an ensemble (not into .neurons)")
        _lowpass_tau(conn, rules[0].pre_synapse)

    def _check_error_connection(self, conn, connections: list) -> None:
        nengo = self.nengo
        pre = conn.pre_obj
        if not isinstance(pre, nengo.Node) or any(c.post_obj is pre for c in connections) or pre.output is None:
            raise ValueError(f"{conn}: a PES error computed inside the model is not supported (the kernel takes "
                             "each learned connection's error as an input): give the error by an input node "
                             "(a function of time, or values passed with run(inputs=...))")
        if type(conn.post_obj.learning_rule_type) is not nengo.PES:
            raise ValueError(f"{conn}: only PES errors are supported")

    def _learned(self, learned: list, error_connections: list, columns: dict, width: int) -> _Learned:
        dt = self.dt
        if not learned:
            return _Learned.empty(width)
        rows, offsets, error = [], {}, 0
        for conn in learned:
            rule = conn.learning_rule_type
            decay = _decay(_lowpass_tau(conn, rule.pre_synapse), dt)
            row = self._decoded_row(conn)
            params = row[2]
            params[[PES_PRE_DECAY, PES_PRE_INCREMENT, PES_ALPHA]] = (decay, (1.0 - decay) / dt,
                                                                     -float(rule.learning_rate) * dt / conn.pre_obj.n_neurons)
            rows.append(row)
            offsets[conn] = error
            error += row[1].shape[0]
        index, params, decoders, encoders = decoded_table(rows)
        rows, targets, decays, delayed = [], [], [], []
        for conn in error_connections:
            learned_conn = conn.post_obj.connection
            tau = _lowpass_tau(conn, conn.synapse)
            matrix, _ = self._connection_matrix(conn)  # (error size, node size)
            cols = columns[conn.pre_obj]
            for o in range(matrix.shape[0]):
                row = np.zeros(width)
                row[cols] = matrix[o]
                rows.append(row)
                targets.append(offsets[learned_conn] + o)
                decays.append(_decay(tau, dt))
                delayed.append(tau is not None)
        return _Learned(tuple(learned), index, params, decoders, encoders, np.array(rows).reshape(len(rows), width), np.array(targets, dtype=np.int64),
                        np.array(decays), np.array(delayed, dtype=np.uint8))

    def _decoded_row(self, conn) -> DecodedRow:
        """A decoded connection from an ensemble as a `decoded_table` row: Nengo's built weights (size_out,
        n_pre) as decoders; into an ensemble, its synapse's filter and post's scaled encoders (post slice
        applied) as encoders; into a node, the raw decoded sum (decay 0, increment 1)."""
        pre, post = conn.pre_obj, conn.post_obj
        weights = np.atleast_2d(np.asarray(self.model.params[conn].weights, dtype=np.float64))
        params = np.zeros(N_PES_PARAMS)
        if isinstance(post, self.nengo.Ensemble):
            decay = _decay(_lowpass_tau(conn, conn.synapse), self.dt)
            params[PES_OUT_DECAY], params[PES_OUT_INCREMENT] = decay, (1.0 - decay) / self.dt
            encoders = self.model.params[post].scaled_encoders @ self._post_scatter(conn)
            return self._built_ensemble(pre), weights, params, self._built_ensemble(post), encoders, -1
        params[PES_OUT_INCREMENT] = 1.0
        return self._built_ensemble(pre), weights, params, None, None, -1

    def _factored(self, conn) -> bool:
        """Whether a decoded ensemble -> ensemble connection runs factored: learned, or cheaper at pre's mean
        rate over its eval points (`neuroctl.network.builder.factored_is_cheaper`)."""
        nengo = self.nengo
        if not (isinstance(conn.pre_obj, nengo.Ensemble) and isinstance(conn.post_obj, nengo.Ensemble)) \
                or conn.solver.weights:
            return False
        if conn in self.learned:
            return True
        spikes = self.dt * float(self._built_ensemble(conn.pre_obj).sample_rates.mean(axis=0).sum())
        return factored_is_cheaper(spikes, conn.post_obj.n_neurons, conn.size_out)

    def _check_ensemble(self, ens) -> None:
        nengo = self.nengo
        neuron = ens.neuron_type
        if type(neuron) is not nengo.LIF:
            raise ValueError(f"{ens}: neuron type {type(neuron).__name__} is not supported; neuroctl runs LIF")
        if neuron.amplitude != 1.0 or neuron.min_voltage != 0.0:
            raise ValueError(f"{ens}: LIF with amplitude {neuron.amplitude} and min_voltage {neuron.min_voltage} "
                             "is not supported; neuroctl runs amplitude 1, min_voltage 0")
        if self.dt > neuron.tau_ref:
            raise ValueError(f"{ens}: dt {self.dt} s exceeds tau_ref {neuron.tau_ref} s (the kernel fires at "
                             "most one spike per neuron per step)")

    def _check_tau(self, tau_into: dict, ens, tau: float, conn) -> None:
        if ens in tau_into and not np.isclose(tau_into[ens][0], tau, rtol=1e-12, atol=0.0):
            raise ValueError(f"{conn}: synapse tau {tau} s into {ens} differs from {tau_into[ens][0]} s of "
                             f"{tau_into[ens][1]}; neuroctl filters each neuron's input with one synapse")
        tau_into[ens] = (tau, conn)

    def _connection_matrix(self, conn) -> np.ndarray:
        """The connection as matrices from its pre's output (decoded: pre's neurons' spikes, area 1) to (its
        post: post neurons' current (ensembles and .neurons) or the node's input; its own output, Nengo's
        `weighted` signal, before the post slice)."""
        nengo, model = self.nengo, self.model
        transform = conn.transform
        if not isinstance(transform, (nengo.Dense, nengo.transforms.NoTransform)):
            raise ValueError(f"{conn}: transform {type(transform).__name__} is not supported (Dense or none)")
        weights = model.params[conn].weights
        pre, post = conn.pre_obj, conn.post_obj
        decoded = isinstance(pre, nengo.Ensemble)
        if decoded:
            in_size = pre.n_neurons
        else:
            in_size = pre.size_out
        pre_index = np.arange(in_size) if decoded else _indices(in_size, conn.pre_slice)
        mid = len(pre_index) if not decoded else None
        if weights is None:
            w = np.eye(mid)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.ndim < 2:
                size = mid if mid is not None else conn.size_out
                w = np.diag(np.broadcast_to(w, (size,)))
        matrix = np.zeros((w.shape[0], in_size))
        matrix[:, pre_index] += w
        weight_solver = decoded and isinstance(post, nengo.Ensemble) and conn.solver.weights
        if weight_solver:  # the built weights already include post's scaled encoders (post slice applied)
            return matrix, matrix
        post_size = post.size_in
        full = np.zeros((post_size, in_size))
        np.add.at(full, _indices(post_size, conn.post_slice), matrix)
        if isinstance(post, nengo.Ensemble):
            return model.params[post].scaled_encoders @ full, matrix
        if isinstance(post, nengo.ensemble.Neurons):
            return model.params[post.ensemble].gain[:, None] * full, matrix
        return full, matrix  # a node's input

    def _readouts(self, conn_readouts: dict, node_inputs: dict, learned: list = ()) -> dict[Any, _Readout]:
        nengo, model, dt = self.nengo, self.model, self.dt
        hidden = {c.post_obj: c for c in model.params if isinstance(c, nengo.Connection)
                  and isinstance(c.post_obj, nengo.Probe)}
        readouts: dict[Any, _Readout] = {}
        for probe in self.network.all_probes:
            if probe.sample_every is not None and not np.isclose(probe.sample_every, dt):
                raise ValueError(f"{probe}: sample_every is not supported (every step is recorded)")
            tau = _lowpass_tau(probe, probe.synapse)
            target = probe.obj
            if isinstance(target, nengo.Ensemble) and probe.attr == "decoded_output":
                conn = hidden[probe]
                full = self._connection_matrix_to_probe(conn)
                readouts[probe] = _Readout(full / dt, _decay(tau, dt), tau is not None)
            elif isinstance(target, nengo.ensemble.Neurons) and probe.attr in ("output", "spikes"):
                ens = target.ensemble
                rows = np.zeros((ens.n_neurons, self.n))
                rows[:, self.start[ens]:self.start[ens] + ens.n_neurons] = np.eye(ens.n_neurons)
                rows = rows[_indices(ens.n_neurons, probe.slice)] if probe.slice is not None else rows
                readouts[probe] = _Readout(rows / dt, _decay(tau, dt), tau is not None)
            elif isinstance(target, nengo.Connection) and probe.attr == "output" and target in conn_readouts:
                full, conn_tau = conn_readouts[target]
                if tau is not None:
                    raise ValueError(f"{probe}: a synapse on a connection probe is not supported (the "
                                     "connection's own synapse filters it)")
                if target in learned and isinstance(target.post_obj, nengo.Ensemble):
                    raise ValueError(f"{probe}: probing a learned connection into an ensemble is not supported "
                                     "(probe its post ensemble)")
                maps = ((learned.index(target), np.eye(full.shape[0])),) if target in learned else ()
                readouts[probe] = _Readout(full / dt, _decay(conn_tau, dt), False, learned=maps)
            elif isinstance(target, nengo.Node) and probe.attr == "output" and target in node_inputs:
                parts = node_inputs[target]
                if tau is not None:
                    raise ValueError(f"{probe}: a synapse on an output node's probe is not supported")
                taus = {conn_tau for _, conn_tau in parts}
                if len(taus) != 1:
                    raise ValueError(f"{probe}: the connections into {target} must share one synapse")
                [conn_tau] = taus
                maps = tuple((learned.index(c), self._post_scatter(c)) for c in learned if c.post_obj is target)
                readouts[probe] = _Readout(sum(full for full, _ in parts) / dt, _decay(conn_tau, dt),
                                           conn_tau is not None, learned=maps)
            elif isinstance(target, nengo.Node) and probe.attr == "output" and target in self.columns:
                if tau is not None:
                    raise ValueError(f"{probe}: a synapse on an input node's probe is not supported")
                readouts[probe] = _Readout(None, 0.0, False, self.columns[target])
            else:
                raise ValueError(f"{probe}: probing {probe.attr!r} of {target} is not supported")
            if probe.slice is not None and not isinstance(target, nengo.ensemble.Neurons):
                raise ValueError(f"{probe}: probe slices are not supported")
        return readouts

    def _post_scatter(self, conn) -> np.ndarray:
        """(post.size_in, conn.size_out): the connection's output into its post's input (post slice)."""
        scatter = np.zeros((conn.post_obj.size_in, conn.size_out))
        np.add.at(scatter, _indices(conn.post_obj.size_in, conn.post_slice), np.eye(conn.size_out))
        return scatter

    def _connection_matrix_to_probe(self, conn) -> np.ndarray:
        """A probe's hidden decoded connection: (d, n) decoders over all neurons (area-1 spikes)."""
        weights = np.atleast_2d(np.asarray(self.model.params[conn].weights, dtype=np.float64))
        ens = conn.pre_obj
        full = np.zeros((weights.shape[0], self.n))
        full[:, self.start[ens]:self.start[ens] + ens.n_neurons] = weights
        return full

    def _params(self, ensembles: list, tau_into: dict) -> np.ndarray:
        dt = self.dt
        params = np.empty((N_PARAMS, self.n))
        for ens in ensembles:
            sl = slice(self.start[ens], self.start[ens] + ens.n_neurons)
            built = self.model.params[ens]
            tau = tau_into.get(ens, (0.005, None))[0]
            params[BIAS, sl] = built.bias
            params[TAU_RC, sl] = ens.neuron_type.tau_rc
            params[TAU_REF, sl] = ens.neuron_type.tau_ref
            params[RC_FACTOR, sl] = -np.expm1(-dt / ens.neuron_type.tau_rc)
            params[SYN_DECAY, sl] = _decay(tau, dt)
            params[TRACE_DECAY, sl] = np.exp(-dt / 0.01)  # the kernel's readout traces are unused here
            params[TRACE_INCREMENT, sl] = -np.expm1(-dt / 0.01) / dt
        return params

    def _built_ensemble(self, ens) -> BuiltEnsemble:
        """`ens` as a `BuiltEnsemble` (Nengo's built gains, biases, encoders and eval points); one per ensemble."""
        if ens not in self._built:
            self._built[ens] = self._new_built_ensemble(ens)
        return self._built[ens]

    def _new_built_ensemble(self, ens) -> BuiltEnsemble:
        built = self.model.params[ens]
        sl = slice(self.start[ens], self.start[ens] + ens.n_neurons)
        radius = np.full(ens.dimensions, float(ens.radius))
        return BuiltEnsemble(sl, np.asarray(built.encoders), radius, np.asarray(built.gain), np.asarray(built.bias),
                             float(ens.neuron_type.tau_rc), float(ens.neuron_type.tau_ref),
                             np.asarray(built.eval_points))
