"""Dense connections (every presynaptic neuron reaches every postsynaptic one, stored as a full matrix)
and compressed sparse ones.

Two ways to run one, for the two kinds of network that use them:

- event-driven (`deliver_dense`): a presynaptic event carrying d (a spike, d = 1, or a sigma-delta
  event, d = the change) adds d x its row of fan-out weights to the receivers' accumulators,
  `accumulators += d * weights_by_pre[pre]`: n_post synaptic events per event;
- dense (`dense_product`), the non-spiking twin: `out += weights_by_post @ values`, every
  product every step: n_post x n_pre multiply-accumulates.

An accumulator that receives every event of a pre neuron equals the dense product with the pre neuron's
`sent` value (`neuroctl.network.sigma_delta`), up to rounding. The layouts: `weights_by_pre` (n_pre,
n_post), row j the fan-out of neuron j, read contiguously per event; `weights_by_post` (n_post, n_pre),
row i the fan-in of neuron i, read contiguously per output. A symmetric matrix is both.

Counters (`neuroctl.activity`): SYNAPTIC_EVENTS += n_post per event delivered; DENSE_MACS += n_post x
n_pre per dense product.

A sparse fan-out (`deliver_sparse`) beside them: compressed rows `synapses = (pointers, indices,
weights)`, row j's synapses at pointers[j]..pointers[j + 1] in postsynaptic order (`compress`), only the
nonzero weights: an event of neuron j is as many synaptic events as row j has synapses. Delivering it
adds the same nonzero products to the same accumulators in the same order as the dense row does (what
the dense row adds besides, d x 0, changes no value for a finite d), so the two give equal results.
"""

from __future__ import annotations

import numpy as np

from neuroctl.network.jit import cached_njit
from neuroctl.network.sigma_delta import sigma_delta_fires


@cached_njit
def deliver_dense(weights_by_pre: np.ndarray, pre: int, change: float, accumulators: np.ndarray) -> None:
    """accumulators += change * weights_by_pre[pre] (one event of neuron `pre`)."""
    for i in range(accumulators.shape[0]):
        accumulators[i] += weights_by_pre[pre, i] * change


@cached_njit(inline=True)
def deliver_sparse(synapses, pre: int, change: float, accumulators: np.ndarray) -> int:
    """accumulators[i] += change * w for each synapse (i, w) of row `pre` of the compressed rows
    `synapses` (one event of neuron `pre`); returns the synapses delivered."""
    pointers, indices, weights = synapses
    for k in range(pointers[pre], pointers[pre + 1]):
        accumulators[indices[k]] += weights[k] * change
    return pointers[pre + 1] - pointers[pre]


@cached_njit(inline=True)  # called every iteration of the gradient and PIPG networks: inlined, no call cost
def send_events(values, sent, thresholds, fanout, accumulators, synapses, synapse_accumulators, raster, row,
                column):  # fmt: skip
    """A layer of sigma-delta neurons sending: each neuron j whose value moved by more than thresholds[j]
    sends one event carrying d = values[j] - sent[j] (sent[j] <- values[j]), delivered through the dense
    fanout[j] into `accumulators` when those are not empty, and through row j of the compressed rows
    `synapses` into `synapse_accumulators` when those are not empty; marked in raster[row, column + j]
    (a raster of 0 rows records nothing). Returns (events sent, synaptic events delivered)."""
    record = raster.shape[0] > 0
    first = accumulators.shape[0] > 0
    second = synapse_accumulators.shape[0] > 0
    events = delivered = 0
    for j in range(values.shape[0]):
        if sigma_delta_fires(values[j], sent[j], thresholds[j]):
            change = values[j] - sent[j]
            sent[j] = values[j]
            events += 1
            if record:
                raster[row, column + j] = 1
            if first:
                deliver_dense(fanout, j, change, accumulators)
                delivered += accumulators.shape[0]
            if second:
                delivered += deliver_sparse(synapses, j, change, synapse_accumulators)
    return events, delivered


NO_SYNAPSES = (np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0))
"""Compressed rows of no synapses, for `send_events` without a sparse fan-out."""


def synapse_arrays(rows: int, capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compressed rows for `rows` rows and up to `capacity` synapses, empty: (pointers (rows + 1,)
    int64, indices (capacity,) int32, weights (capacity,) float64)."""
    return np.zeros(rows + 1, np.int64), np.zeros(capacity, np.int32), np.zeros(capacity)


@cached_njit
def compress(matrix: np.ndarray, by_column: bool, synapses) -> None:
    """The nonzero entries of `matrix` into the compressed rows `synapses` (`synapse_arrays` with room
    for them): row j of `matrix`, or with `by_column` column j (the rows of its transpose), in index
    order."""
    pointers, indices, weights = synapses
    outer, inner = (matrix.shape[1], matrix.shape[0]) if by_column else matrix.shape
    if pointers.shape[0] != outer + 1 or weights.shape[0] != indices.shape[0]:
        raise ValueError("compress: expected pointers of one more than the rows and as many weights as indices")
    count = 0
    for j in range(outer):
        pointers[j] = count
        for i in range(inner):
            value = matrix[i, j] if by_column else matrix[j, i]
            if value != 0.0:
                if count == indices.shape[0]:
                    raise ValueError("compress: the synapse arrays have no room for every nonzero entry")
                indices[count] = i
                weights[count] = value
                count += 1
    pointers[outer] = count


def compressed(matrix: np.ndarray, by_column: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`compress` of `matrix` into new arrays."""
    outer = matrix.shape[1] if by_column else matrix.shape[0]
    synapses = synapse_arrays(outer, int(np.count_nonzero(matrix)))
    compress(np.ascontiguousarray(matrix, dtype=np.float64), by_column, synapses)
    return synapses


@cached_njit
def dense_product(weights_by_post: np.ndarray, values: np.ndarray, out: np.ndarray) -> None:
    """out[i] += sum_j weights_by_post[i, j] values[j], added to out[i] in j order."""
    for i in range(out.shape[0]):
        total = out[i]
        for j in range(values.shape[0]):
            total += weights_by_post[i, j] * values[j]
        out[i] = total


def fixed_point(weights: np.ndarray, bits: int) -> np.ndarray:
    """`weights` as signed `bits`-bit integers times one scale for the whole matrix (max |w| / (2^(bits-1)
    - 1)), returned as float64: what a fixed-point synapse memory holds (Loihi stores low-precision
    integer weights with a shared scale exponent; Davies et al., IEEE Micro 2018)."""
    if not 2 <= bits <= 32:
        raise ValueError(f"bits: expected 2..32, got {bits!r}")
    largest = float(np.max(np.abs(weights))) if weights.size else 0.0
    if largest == 0.0:
        return np.array(weights, dtype=np.float64)
    scale = largest / (2 ** (bits - 1) - 1)
    return np.round(weights / scale) * scale


def deliver_dense_reference(
    weights_by_pre: np.ndarray, events: np.ndarray, accumulators: np.ndarray
) -> np.ndarray:
    """numpy reference of delivering a layer's events (one per pre neuron, 0.0 = none): the new accumulators."""
    return accumulators + events @ weights_by_pre
