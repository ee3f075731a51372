"""`build`: a `NetworkDescription` -> a `BuiltNetwork` (flat arrays), NEF style.

Each ensemble draws its encoders, max rates, intercepts and sample points from its own child of the
build seed, so adding an ensemble does not change the others. NEF connections become full weights
(post's gain * encoders / radius) @ transform @ decoders^T, or factored ones (those two factors apart, the
decoded value in between of the smaller of transform's two sizes: see `factored_is_cheaper`); learned
connections are factored. All neuron-to-neuron weights are merged into one CSR matrix by presynaptic
neuron (weights between the same pair of neurons add up).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from neuroctl.network.arrays import (
    BIAS,
    N_PARAMS,
    N_PES_INDEX,
    N_PES_PARAMS,
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
    SYN_DECAY,
    SYN_WEIGHT_DTYPE,
    TAU_RC,
    TAU_REF,
    TRACE_DECAY,
    TRACE_INCREMENT,
    BuiltEnsemble,
    BuiltNetwork,
    csr_arrays,
    synapse_index_dtype,
)
from neuroctl.network.description import Connection, Ensemble, Function, NetworkDescription, Output
from neuroctl.network.lif import gain_bias
from neuroctl.network.linalg import matmul
from neuroctl.network.nef import (
    evaluate_function,
    sample_point_count,
    solve_decoders,
    unit_ball_points,
    unit_vectors,
)

BuiltEnsembles = dict[Ensemble, BuiltEnsemble]
Block = tuple[int, int, np.ndarray | scipy.sparse.sparray]  # (row offset, column offset, matrix)


def build(description: NetworkDescription, dt_s: float, seed: int = 0) -> BuiltNetwork:
    """Build `description` for a substep of `dt_s` seconds; all random draws come from `seed`."""
    if not (np.isfinite(dt_s) and dt_s > 0.0):
        raise ValueError(f"dt_s must be > 0 and finite, got {dt_s!r}")
    if not description.ensembles:
        raise ValueError("the network has no ensembles")
    ensembles = _build_ensembles(description, seed)
    params = _neuron_params(description, ensembles, dt_s)
    syn_impulse = _unit_area_impulse(dt_s, _per_neuron(description, "tau_syn_s"))
    n = params.shape[1]
    factored = [c for c in description.connections if _factored(c, ensembles, dt_s)]
    full = [c for c in description.connections if not any(c is f for f in factored)]
    synapses = _synapse_matrix(description, full, ensembles, n) @ scipy.sparse.diags_array(syn_impulse)
    syn_indptr, syn_indices, syn_weights = csr_arrays(synapses, SYN_WEIGHT_DTYPE)
    fixed = [_factored_row(c, ensembles, dt_s) for c in factored if c.learning_rule is None]
    fac_index, fac_params, fac_decoders, fac_encoders = decoded_table(fixed)
    pes_index, pes_params, pes_decoders, pes_encoders = decoded_table(
        _learned_rows(description, ensembles, dt_s))
    return BuiltNetwork(
        dt_s,
        params,
        syn_indptr, syn_indices.astype(synapse_index_dtype(n)), syn_weights,
        *csr_arrays(_input_matrix(description, ensembles, n)),
        *csr_arrays(_decoder_matrix(description, ensembles, n)),
        dense_macs_per_substep=_dense_synapse_macs(description),
        dense_macs_per_call=_dense_io_macs(description),
        ensembles=tuple(ensembles[e] for e in description.ensembles),
        input_size=description.input_size,
        pes_index=pes_index,
        pes_params=pes_params,
        pes_decoders=pes_decoders,
        pes_labels=tuple(node.label for node in description.learned),
        pes_encoders=pes_encoders,
        fac_index=fac_index,
        fac_params=fac_params,
        fac_decoders=fac_decoders,
        fac_encoders=fac_encoders,
    )


def factored_is_cheaper(spikes_per_substep: float, n_post: int, size: int) -> bool:
    """Whether a decoded connection costs less factored (spikes x size decoder additions and n_post x size
    encoder multiply-accumulates per substep) than as full weights (spikes x n_post synaptic events)."""
    return spikes_per_substep * size + n_post * size < spikes_per_substep * n_post


def _factored(c: Connection, ensembles: BuiltEnsembles, dt_s: float) -> bool:
    """Whether `c` is built factored: learned, or as `c.factored` says, or (None) when cheaper at pre's mean
    rate over its sample points."""
    if c.learning_rule is not None:
        return True
    if c.factored is not None:
        return c.factored
    spikes = dt_s * float(ensembles[c.pre].sample_rates.mean(axis=0).sum())
    return factored_is_cheaper(spikes, c.post.n_neurons, min(c.transform.shape))


def _build_ensembles(description: NetworkDescription, seed: int) -> BuiltEnsembles:
    children = np.random.SeedSequence(seed).spawn(len(description.ensembles))
    built, start = {}, 0
    for ensemble, child in zip(description.ensembles, children):
        neurons = slice(start, start + ensemble.n_neurons)
        built[ensemble] = _build_ensemble(ensemble, neurons, np.random.default_rng(child))
        start += ensemble.n_neurons
    return built


def _build_ensemble(ensemble: Ensemble, neurons: slice, rng: np.random.Generator) -> BuiltEnsemble:
    n, d = ensemble.n_neurons, ensemble.dimensions
    encoders = unit_vectors(rng, n, d)
    max_rates_hz = rng.uniform(*ensemble.max_rates_hz, size=n)
    intercepts = rng.uniform(*ensemble.intercepts, size=n)
    gain, bias = gain_bias(max_rates_hz, intercepts, ensemble.tau_rc_s, ensemble.tau_ref_s)
    radius = ensemble.radius_vector
    points = unit_ball_points(rng, sample_point_count(n, d), d) * radius
    return BuiltEnsemble(neurons, encoders, radius, gain, bias, ensemble.tau_rc_s, ensemble.tau_ref_s, points)


def _per_neuron(description: NetworkDescription, name: str) -> np.ndarray:
    """An ensemble parameter repeated for each of its neurons, shape (n,)."""
    return np.concatenate([np.full(e.n_neurons, float(getattr(e, name))) for e in description.ensembles])


def _neuron_params(description: NetworkDescription, ensembles: BuiltEnsembles, dt_s: float) -> np.ndarray:
    params = np.empty((N_PARAMS, description.n_neurons))
    params[BIAS] = np.concatenate([ensembles[e].bias for e in description.ensembles])
    params[TAU_RC] = _per_neuron(description, "tau_rc_s")
    params[TAU_REF] = _per_neuron(description, "tau_ref_s")
    params[RC_FACTOR] = -np.expm1(-dt_s / params[TAU_RC])
    params[SYN_DECAY] = np.exp(-dt_s / _per_neuron(description, "tau_syn_s"))
    tau_readout_s = _per_neuron(description, "tau_readout_s")
    params[TRACE_DECAY] = np.exp(-dt_s / tau_readout_s)
    params[TRACE_INCREMENT] = _unit_area_impulse(dt_s, tau_readout_s)
    return params


def _unit_area_impulse(dt_s: float, tau_s: np.ndarray) -> np.ndarray:
    """Jump of a filter decaying by exp(-dt/tau) per substep whose response sums to 1 over time:
    (1 - exp(-dt/tau)) / dt, about 1/tau."""
    return -np.expm1(-dt_s / tau_s) / dt_s


def _decoders(built: BuiltEnsemble, function: Function | None) -> np.ndarray:
    """Decoders (n, d_f) of function(value) from the ensemble's rates."""
    return solve_decoders(built.sample_rates, evaluate_function(function, built.sample_points))


def _block_matrix(blocks: list[Block], shape: tuple[int, int]) -> scipy.sparse.coo_array:
    """Sum of blocks placed at (row, column) offsets, as one sparse matrix of `shape`."""
    rows, columns, values = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for row, column, block in blocks:
        coo = scipy.sparse.coo_array(block)
        rows.append(coo.coords[0].astype(np.int64) + row)
        columns.append(coo.coords[1].astype(np.int64) + column)
        values.append(coo.data.astype(np.float64))
    coordinates = (np.concatenate(rows), np.concatenate(columns))
    return scipy.sparse.coo_array((np.concatenate(values), coordinates), shape=shape)


def _synapse_matrix(
    description: NetworkDescription, full: list[Connection], ensembles: BuiltEnsembles, n: int
) -> scipy.sparse.coo_array:
    """The neuron-to-neuron weights (of the `full` connections and the neuron connections) as one
    (pre, post) matrix, before the synaptic impulse scaling."""
    blocks = []
    for c in full:
        pre, post = ensembles[c.pre], ensembles[c.post]
        weights = matmul(matmul(post.encoding_matrix, c.transform), _decoders(pre, c.function).T)  # (post, pre)
        blocks.append((pre.neurons.start, post.neurons.start, weights.T))
    for c in description.neuron_connections:
        blocks.append((ensembles[c.pre].neurons.start, ensembles[c.post].neurons.start, c.weights.T))
    return _block_matrix(blocks, (n, n))


def _input_matrix(description: NetworkDescription, ensembles: BuiltEnsembles, n: int) -> scipy.sparse.coo_array:
    """(neuron, input value) matrix of input currents per unit input."""
    blocks, column = [], 0
    for node in description.inputs:
        target = ensembles[node.ensemble]
        blocks.append((target.neurons.start, column, matmul(target.encoding_matrix, node.transform)))
        column += node.size
    return _block_matrix(blocks, (n, description.input_size))


def _decoder_matrix(description: NetworkDescription, ensembles: BuiltEnsembles, n: int) -> scipy.sparse.coo_array:
    """(output value, neuron) matrix decoding the outputs from rates (readout traces)."""
    blocks, row = [], 0
    for node in description.outputs:
        if node.learning_rule is None:  # learned outputs are decoded apart (`_learned_outputs`)
            source = ensembles[node.ensemble]
            blocks.append((row, source.neurons.start, matmul(node.transform, _decoders(source, node.function).T)))
        row += node.size
    return _block_matrix(blocks, (description.output_size, n))


DecodedRow = tuple[BuiltEnsemble, np.ndarray, np.ndarray, BuiltEnsemble | None, np.ndarray | None, int]
"""One decoded connection: (pre, decoders (d, n_pre), parameters (N_PES_PARAMS,), post or None, encoders
(n_post, d) or None, first row of y or -1)."""


def decoded_table(rows: list[DecodedRow]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(index (len(rows), N_PES_INDEX), params, flat decoders, flat encoders) of decoded connections; see
    `BuiltNetwork` (values and activities are laid out one connection after the other)."""
    index = np.zeros((len(rows), N_PES_INDEX), dtype=np.int64)
    params = np.zeros((len(rows), N_PES_PARAMS))
    decoders, encoders, offsets = [np.zeros(0)], [np.zeros(0)], [0, 0, 0, 0]  # decoders, activity, value, encoders
    for l, (pre, weights, row_params, post, post_encoders, row) in enumerate(rows):
        size, n_pre = weights.shape
        index[l, PES_PRE_START], index[l, PES_PRE_COUNT] = pre.neurons.start, n_pre
        index[l, PES_ROW], index[l, PES_SIZE] = row, size
        index[l, PES_DECODERS], index[l, PES_ACTIVITY], index[l, PES_ERROR], index[l, PES_ENCODERS] = offsets
        decoders.append(np.ascontiguousarray(weights, dtype=np.float64).ravel())
        offsets[0] += size * n_pre
        offsets[1] += n_pre
        offsets[2] += size
        if post is not None:
            index[l, PES_POST_START], index[l, PES_POST_COUNT] = post.neurons.start, post_encoders.shape[0]
            encoders.append(np.ascontiguousarray(post_encoders, dtype=np.float64).ravel())
            offsets[3] += post_encoders.size
        params[l] = row_params
    return index, params, np.concatenate(decoders), np.concatenate(encoders)


def _filter_params(dt_s: float, tau_s: float, rule=None) -> np.ndarray:
    """A decoded connection's parameter row: its value filter of tau_s and, with a PES rule, its learning."""
    row = np.zeros(N_PES_PARAMS)
    row[PES_OUT_DECAY] = np.exp(-dt_s / tau_s)
    row[PES_OUT_INCREMENT] = _unit_area_impulse(dt_s, np.float64(tau_s))
    if rule is not None:
        row[PES_PRE_DECAY] = np.exp(-dt_s / rule.pre_synapse_s)
        row[PES_PRE_INCREMENT] = _unit_area_impulse(dt_s, np.float64(rule.pre_synapse_s))
    return row


def _factored_row(c: Connection, ensembles: BuiltEnsembles, dt_s: float) -> DecodedRow:
    """A fixed factored connection: value of the smaller of transform's sizes, filtered by post's synapse."""
    pre, post = ensembles[c.pre], ensembles[c.post]
    decoders, encoders = _decoders(pre, c.function).T, post.encoding_matrix  # (d_f, n_pre), (n_post, d_post)
    if c.transform.shape[1] <= c.transform.shape[0]:
        encoders = matmul(encoders, c.transform)
    else:
        decoders = matmul(c.transform, decoders)
    return pre, decoders, _filter_params(dt_s, c.post.tau_syn_s), post, encoders, -1


def _learned_rows(description: NetworkDescription, ensembles: BuiltEnsembles, dt_s: float) -> list[DecodedRow]:
    """The learned (PES) outputs and connections, in `description.learned`'s order."""
    rows = {id(node): r for node, r in zip(description.outputs, np.cumsum([0] + [o.size for o in description.outputs]))}
    table = []
    for node in description.learned:
        source = node.ensemble if isinstance(node, Output) else node.pre
        pre, rule = ensembles[source], node.learning_rule
        weights = matmul(node.transform, _decoders(pre, node.function).T)  # (size, n_pre)
        if isinstance(node, Output):
            params = _filter_params(dt_s, node.ensemble.tau_readout_s, rule)
            post, encoders, row = None, None, int(rows[id(node)])
        else:
            params = _filter_params(dt_s, node.post.tau_syn_s, rule)
            post, row = ensembles[node.post], -1
            encoders = post.encoding_matrix
        params[PES_ALPHA] = -rule.learning_rate * dt_s / source.n_neurons
        table.append((pre, weights, params, post, encoders, row))
    return table


def _dense_synapse_macs(description: NetworkDescription) -> int:
    """MACs per substep of a dense evaluation: every connection as a full pre x post block."""
    pairs = [(c.pre, c.post) for c in description.connections + description.neuron_connections]
    return sum(pre.n_neurons * post.n_neurons for pre, post in pairs)


def _dense_io_macs(description: NetworkDescription) -> int:
    """MACs per call of a dense evaluation of the input currents (x is held over the call) and the decoders."""
    inputs = sum(node.ensemble.n_neurons * node.size for node in description.inputs)
    outputs = sum(node.ensemble.n_neurons * node.size for node in description.outputs)
    return inputs + outputs
