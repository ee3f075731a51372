"""The struct of arrays a built network is: what `build` makes and the kernels take.

Neurons are numbered 0..n-1, ensemble after ensemble in the description's order. Per-neuron parameters
are the rows of one (N_PARAMS, n) float64 array and the state the rows of one (N_STATE, n) float64 array
(few arguments: each array argument of a numba call costs about 0.1 us to unbox). The three matrices
(synapses, input, decoders) are CSR: for row r, columns indices[indptr[r]:indptr[r+1]] with values
weights[indptr[r]:indptr[r+1]]; indptr is int64, indices int32, values float64 except the synapses':
they are the bulk of a large network's memory and the event loop streams them, so their weights are
float32 (added to float64 currents; about 10% of the time of a 10k-neuron network) and their indices
uint16 when the network has at most 65,536 neurons (SYN_INDEX_DTYPE; 17-18% at 10k neurons, 3-7% at 1k,
measured interleaved in one process), int32 beyond.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse

from neuroctl.network.nef import tuning_rates

# Rows of BuiltNetwork.neuron_params.
BIAS = 0  # constant input current (dimensionless, threshold 1)
RC_FACTOR = 1  # 1 - exp(-dt / tau_rc): the voltage's step response over a whole substep
TAU_RC = 2  # membrane time constant, s
TAU_REF = 3  # refractory period, s
SYN_DECAY = 4  # exp(-dt / tau_syn): synaptic current decay per substep
TRACE_DECAY = 5  # exp(-dt / tau_readout): readout trace decay per substep
TRACE_INCREMENT = 6  # (1 - TRACE_DECAY) / dt: trace increment per own spike, 1/s
N_PARAMS = 7

# Rows of a network state (see `new_state`).
VOLTAGE = 0  # membrane voltage, dimensionless, in [0, 1]
REFRACTORY = 1  # refractory time left, s
SYN_CURRENT = 2  # filtered synaptic current (dimensionless, like the voltage)
TRACE = 3  # readout trace: the neuron's spike train filtered to a rate, Hz
N_STATE = 4


# Columns of a decoded-connection index (int64, one row per connection): BuiltNetwork.pes_index (learned
# outputs and connections; see `neuroctl.network.kernel.run_substeps_pes`) and BuiltNetwork.fac_index
# (fixed factored connections: PES_ROW and PES_ACTIVITY unused).
PES_PRE_START = 0  # first presynaptic neuron (the output's ensemble)
PES_PRE_COUNT = 1  # number of presynaptic neurons, n_pre
PES_ROW = 2  # first row of y the output writes (-1: a connection into an ensemble, no output)
PES_SIZE = 3  # decoded values, d
PES_DECODERS = 4  # offset of its (d, n_pre) row-major decoders in the flat decoder array
PES_ACTIVITY = 5  # offset of its n_pre filtered activities in the flat activity array
PES_ERROR = 6  # offset of its d values in the error and filtered value arrays
PES_POST_START = 7  # first postsynaptic neuron (0 for an output)
PES_POST_COUNT = 8  # number of postsynaptic neurons, n_post (0 for an output)
PES_ENCODERS = 9  # offset of its (n_post, d) row-major encoders in the flat encoder array
N_PES_INDEX = 10

# Columns of a decoded-connection parameter array (float64, one row per connection): BuiltNetwork.pes_params,
# BuiltNetwork.fac_params (PES_OUT_* only).
PES_ALPHA = 0  # -learning_rate * dt / n_pre (Nengo's SimPES alpha)
PES_PRE_DECAY = 1  # exp(-dt / pre_synapse): activity filter decay per substep
PES_PRE_INCREMENT = 2  # (1 - PES_PRE_DECAY) / dt: activity increment per presynaptic spike, 1/s
PES_OUT_DECAY = 3  # decoded value filter decay per substep: exp(-dt / tau_readout) (output), exp(-dt / tau_syn) (connection)
PES_OUT_INCREMENT = 4  # (1 - PES_OUT_DECAY) / dt
N_PES_PARAMS = 5


SYN_WEIGHT_DTYPE = np.float32
"""dtype of BuiltNetwork.syn_weights."""
SYN_INDEX_DTYPE = np.uint16
"""dtype of BuiltNetwork.syn_indices for networks of at most 65,536 neurons (int32 for larger ones)."""


def synapse_index_dtype(n_neurons: int) -> type:
    """The narrowest index dtype that numbers `n_neurons` postsynaptic neurons."""
    return SYN_INDEX_DTYPE if n_neurons <= np.iinfo(SYN_INDEX_DTYPE).max + 1 else np.int32


def new_state(n_neurons: int) -> np.ndarray:
    """A zero network state (all neurons at rest, nothing in flight), shape (N_STATE, n_neurons)."""
    return np.zeros((N_STATE, n_neurons), dtype=np.float64)


@dataclass(frozen=True)
class BuiltEnsemble:
    """An ensemble's NEF quantities after building; `neurons` is its slice of the network's neurons."""

    neurons: slice
    encoders: np.ndarray  # (n, d) unit vectors
    radius: np.ndarray  # (d,)
    gain: np.ndarray  # (n,)
    bias: np.ndarray  # (n,)
    tau_rc_s: float
    tau_ref_s: float
    sample_points: np.ndarray  # (n_points, d) in the ensemble's units, for solving decoders

    @cached_property
    def sample_rates(self) -> np.ndarray:
        """(n_points, n) steady-state rates at the sample points, Hz (computed on first use)."""
        return self.rates(self.sample_points)

    def rates(self, points: np.ndarray) -> np.ndarray:
        """Steady-state rates in Hz, shape (n_points, n), of the neurons representing `points` (n_points, d)."""
        return tuning_rates(points, self.encoders, self.radius, self.gain, self.bias, self.tau_rc_s, self.tau_ref_s)

    @property
    def encoding_matrix(self) -> np.ndarray:
        """(n, d) matrix mapping a represented value to input currents: gain * encoders / radius."""
        return self.gain[:, None] * self.encoders / self.radius


@dataclass(frozen=True)
class BuiltNetwork:
    """Flat arrays for the kernels; see the module docstring for the CSR layout.

    - synapses, CSR by presynaptic neuron (n rows, columns = postsynaptic neurons): `syn_weights` is the
      impulse a spike adds to the postsynaptic current, weight * (1 - exp(-dt / tau_syn_post)) / dt, so
      that a spike's current has area `weight` (exactly, in discrete time) whatever dt and tau_syn;
      float32 (SYN_WEIGHT_DTYPE).
    - input, CSR by neuron (n rows, columns = input values): J_input = input matrix @ x.
    - decoders, CSR by output value (d_out rows, columns = neurons): y = decoders @ trace.
    - `dense_macs_per_substep`, `dense_macs_per_call`: see `neuroctl.network.kernel.run_substeps`.
    - factored connections (`neuroctl.network.kernel`'s module docstring): `fac_index` (int64,
      (F, N_PES_INDEX)) and `fac_params` (float64, (F, N_PES_PARAMS)) describe each (columns PES_*),
      `fac_decoders` (flat) holds their decoders, each (d, n_pre) row-major, and `fac_encoders` (flat)
      their encoders, each (n_post, d) row-major: post's gain * encoders / radius (@ transform).
    - learned outputs and connections (PES): a learned output's rows of the decoder CSR matrix are
      empty; `pes_index` (int64, (L, N_PES_INDEX)) and `pes_params` (float64, (L, N_PES_PARAMS))
      describe each (columns PES_*; outputs first, then connections), `pes_decoders` (float64, flat)
      holds their initial decoders, each (d, n_pre) row-major, `pes_encoders` (flat) the learned
      connections' encoders (as `fac_encoders`) and `pes_labels` their labels. `run_substeps_pes` runs
      networks that have any.
    """

    dt_s: float
    neuron_params: np.ndarray
    syn_indptr: np.ndarray
    syn_indices: np.ndarray
    syn_weights: np.ndarray
    input_indptr: np.ndarray
    input_indices: np.ndarray
    input_weights: np.ndarray
    decoder_indptr: np.ndarray
    decoder_indices: np.ndarray
    decoder_weights: np.ndarray
    dense_macs_per_substep: int
    dense_macs_per_call: int
    ensembles: tuple[BuiltEnsemble, ...]
    input_size: int
    pes_index: np.ndarray = field(default_factory=lambda: np.zeros((0, N_PES_INDEX), dtype=np.int64))
    pes_params: np.ndarray = field(default_factory=lambda: np.zeros((0, N_PES_PARAMS)))
    pes_decoders: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pes_labels: tuple[str, ...] = ()
    pes_encoders: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fac_index: np.ndarray = field(default_factory=lambda: np.zeros((0, N_PES_INDEX), dtype=np.int64))
    fac_params: np.ndarray = field(default_factory=lambda: np.zeros((0, N_PES_PARAMS)))
    fac_decoders: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fac_encoders: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_neurons(self) -> int:
        return self.neuron_params.shape[1]

    @property
    def n_learned(self) -> int:
        """Number of learned (PES) outputs."""
        return self.pes_index.shape[0]

    @property
    def error_size(self) -> int:
        """Length of the error vector: the sizes of the learned outputs, concatenated in their order."""
        return int(self.pes_index[:, PES_SIZE].sum())

    @property
    def pes_activity_size(self) -> int:
        """Length of the flat filtered-activity array: n_pre summed over the learned outputs."""
        return int(self.pes_index[:, PES_PRE_COUNT].sum())

    @property
    def weight_updates_per_substep(self) -> int:
        """Synaptic weight updates of one substep: d x n_pre over the learned outputs with a rate > 0."""
        learning = self.pes_params[:, PES_ALPHA] != 0.0
        return int((self.pes_index[learning, PES_SIZE] * self.pes_index[learning, PES_PRE_COUNT]).sum())

    @property
    def fac_value_size(self) -> int:
        """Length of the factored connections' filtered decoded values: d summed over them."""
        return int(self.fac_index[:, PES_SIZE].sum())

    @property
    def output_size(self) -> int:
        return self.decoder_indptr.shape[0] - 1

    @property
    def n_synapses(self) -> int:
        return self.syn_indices.shape[0]

    def synapse_matrix(self) -> scipy.sparse.csr_array:
        """Synaptic impulses as a sparse (pre, post) float64 matrix."""
        n = self.n_neurons
        return _csr(self.syn_weights.astype(np.float64), self.syn_indices, self.syn_indptr, (n, n))

    def input_matrix(self) -> scipy.sparse.csr_array:
        """Input currents per input value as a sparse (neuron, input) matrix."""
        return _csr(self.input_weights, self.input_indices, self.input_indptr, (self.n_neurons, self.input_size))

    def decoder_matrix(self) -> scipy.sparse.csr_array:
        """Decoders as a sparse (output, neuron) matrix: y = decoders @ rates."""
        return _csr(self.decoder_weights, self.decoder_indices, self.decoder_indptr, (self.output_size, self.n_neurons))


def _csr(values: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> scipy.sparse.csr_array:
    return scipy.sparse.csr_array((values, indices, indptr), shape=shape)


def csr_arrays(matrix: scipy.sparse.sparray, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr int64, indices int32, values `dtype`) of a matrix, rows sorted, duplicates summed, zeros dropped."""
    csr = scipy.sparse.csr_array(matrix, dtype=np.float64)
    csr.sum_duplicates()
    csr = csr.astype(dtype)
    csr.eliminate_zeros()
    csr.sort_indices()
    return (
        np.ascontiguousarray(csr.indptr, dtype=np.int64),
        np.ascontiguousarray(csr.indices, dtype=np.int32),
        np.ascontiguousarray(csr.data, dtype=dtype),
    )
