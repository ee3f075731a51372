"""`build`: a `NetworkDescription` -> a `BuiltNetwork` (flat arrays), NEF style.

Each ensemble draws its encoders, max rates, intercepts and sample points from its own child of the
build seed, so adding an ensemble does not change the others. NEF connections become full weights
(post's gain * encoders / radius) @ transform @ decoders^T; all neuron-to-neuron weights are merged into
one CSR matrix by presynaptic neuron (weights between the same pair of neurons add up).
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
    PES_ERROR,
    PES_OUT_DECAY,
    PES_OUT_INCREMENT,
    PES_PRE_COUNT,
    PES_PRE_DECAY,
    PES_PRE_INCREMENT,
    PES_PRE_START,
    PES_ROW,
    PES_SIZE,
    RC_FACTOR,
    SYN_DECAY,
    TAU_RC,
    TAU_REF,
    TRACE_DECAY,
    TRACE_INCREMENT,
    SYN_WEIGHT_DTYPE,
    BuiltEnsemble,
    BuiltNetwork,
    csr_arrays,
    synapse_index_dtype,
)
from neuroctl.network.description import Ensemble, Function, NetworkDescription
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
    synapses = _synapse_matrix(description, ensembles, n) @ scipy.sparse.diags_array(syn_impulse)
    syn_indptr, syn_indices, syn_weights = csr_arrays(synapses, SYN_WEIGHT_DTYPE)
    pes_index, pes_params, pes_decoders = _learned_outputs(description, ensembles, dt_s)
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
        pes_labels=tuple(node.label for node in description.learned_outputs),
    )


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


def _synapse_matrix(description: NetworkDescription, ensembles: BuiltEnsembles, n: int) -> scipy.sparse.coo_array:
    """All neuron-to-neuron weights as one (pre, post) matrix, before the synaptic impulse scaling."""
    blocks = []
    for c in description.connections:
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


def _learned_outputs(
    description: NetworkDescription, ensembles: BuiltEnsembles, dt_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pes_index, pes_params, flat initial decoders) of the learned (PES) outputs; see `BuiltNetwork`."""
    learned = description.learned_outputs
    index = np.zeros((len(learned), N_PES_INDEX), dtype=np.int64)
    params = np.zeros((len(learned), N_PES_PARAMS))
    decoders, offsets = [], [0, 0, 0]  # decoder, activity, error offsets
    rows = {id(node): r for node, r in zip(description.outputs, np.cumsum([0] + [o.size for o in description.outputs]))}
    for l, node in enumerate(learned):
        source, rule = ensembles[node.ensemble], node.learning_rule
        n_pre = node.ensemble.n_neurons
        weights = matmul(node.transform, _decoders(source, node.function).T)  # (size, n_pre)
        decoders.append(np.ascontiguousarray(weights, dtype=np.float64).ravel())
        index[l, PES_PRE_START], index[l, PES_PRE_COUNT] = source.neurons.start, n_pre
        index[l, PES_ROW], index[l, PES_SIZE] = rows[id(node)], node.size
        index[l, PES_DECODERS], index[l, PES_ACTIVITY], index[l, PES_ERROR] = offsets
        offsets[0] += node.size * n_pre
        offsets[1] += n_pre
        offsets[2] += node.size
        params[l, PES_ALPHA] = -rule.learning_rate * dt_s / n_pre
        params[l, PES_PRE_DECAY] = np.exp(-dt_s / rule.pre_synapse_s)
        params[l, PES_PRE_INCREMENT] = _unit_area_impulse(dt_s, np.float64(rule.pre_synapse_s))
        params[l, PES_OUT_DECAY] = np.exp(-dt_s / node.ensemble.tau_readout_s)
        params[l, PES_OUT_INCREMENT] = _unit_area_impulse(dt_s, np.float64(node.ensemble.tau_readout_s))
    flat = np.concatenate(decoders) if decoders else np.zeros(0)
    return index, params, flat


def _dense_synapse_macs(description: NetworkDescription) -> int:
    """MACs per substep of a dense evaluation: every connection as a full pre x post block."""
    pairs = [(c.pre, c.post) for c in description.connections + description.neuron_connections]
    return sum(pre.n_neurons * post.n_neurons for pre, post in pairs)


def _dense_io_macs(description: NetworkDescription) -> int:
    """MACs per call of a dense evaluation of the input currents (x is held over the call) and the decoders."""
    inputs = sum(node.ensemble.n_neurons * node.size for node in description.inputs)
    outputs = sum(node.ensemble.n_neurons * node.size for node in description.outputs)
    return inputs + outputs
