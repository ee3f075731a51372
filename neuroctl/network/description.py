"""What a spiking network is, before any array is built (Nengo's model, without the maths).

A `NetworkDescription` holds:

- `Ensemble`: a population of LIF neurons representing a vector in NEF style.
- `Input`: a slice of the network's input vector x, fed into an ensemble as current,
  J = gain * (e . (transform @ x_slice / radius)) + bias.
- `Connection`: an NEF connection: post represents transform @ f(pre's value); built as full weights
  (post's encoders @ decoders, n_post x n_pre) or factored (a d-vector decoded from pre's spikes, sent
  through post's encoders: cheaper when spikes x n_post > spikes x d + n_post x d per substep), as
  `factored` says or, by default, whichever the builder estimates cheaper. With `learning_rule=PES(...)`
  its decoders learn from an error the caller sets (`SpikingNetwork.set_error`), as a learned output's.
- `NeuronConnection`: explicit neuron-to-neuron weights, dense or scipy.sparse, shape (post, pre).
- `Output`: a slice of the network's output vector y, decoded from an ensemble's readout traces:
  y_slice = transform @ f(ensemble's value). With `learning_rule=PES(...)` its decoders (initially the
  NEF-solved transform @ decoders^T, shape (size, n_neurons)) learn online from an error the caller sets
  each call (`SpikingNetwork.set_error`); see `PES` and `neuroctl.network.kernel.run_substeps_pes`.

The input vector concatenates the inputs and the output vector the outputs, in the order they were added.
All times are in seconds, rates in Hz. Objects compare by identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse

from neuroctl.network.lif import rate_curve_problem

Function = Callable[[np.ndarray], object]


def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    if not (np.isfinite(value) and (value >= 0.0 if allow_zero else value > 0.0)):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} and finite, got {value!r}")


def _range(name: str, bounds: tuple[float, float], low: float, high: float) -> tuple[float, float]:
    lo, hi = (float(b) for b in bounds)
    if not (low <= lo <= hi <= high):
        raise ValueError(f"{name} must be a range (lo, hi) with {low} <= lo <= hi <= {high}, got {bounds!r}")
    return lo, hi


@dataclass(frozen=True, eq=False)
class Ensemble:
    """A population of LIF neurons representing a `dimensions`-vector within `radius` (scalar or per dimension).

    Encoders are random unit vectors; max rates (Hz) and intercepts (of e . x / radius) are drawn uniformly
    from their ranges at build time. Each neuron filters its synaptic input with an exponential synapse of
    time constant `tau_syn_s`, and its own spike train with a readout filter of time constant
    `tau_readout_s` that outputs decode from.
    """

    n_neurons: int
    dimensions: int
    radius: float | tuple[float, ...] = 1.0
    max_rates_hz: tuple[float, float] = (200.0, 400.0)
    intercepts: tuple[float, float] = (-1.0, 0.9)
    tau_rc_s: float = 0.02
    tau_ref_s: float = 0.002
    tau_syn_s: float = 0.005
    tau_readout_s: float = 0.01
    label: str = ""

    def __post_init__(self) -> None:
        if self.n_neurons < 1 or self.dimensions < 1:
            raise ValueError(f"ensemble {self.label!r}: n_neurons and dimensions must be >= 1")
        radius = np.broadcast_to(np.asarray(self.radius, dtype=np.float64), (self.dimensions,))
        if not np.all(np.isfinite(radius) & (radius > 0.0)):
            raise ValueError(f"ensemble {self.label!r}: radius must be > 0 and finite, got {self.radius!r}")
        object.__setattr__(self, "max_rates_hz", _range("max_rates_hz", self.max_rates_hz, 1e-9, np.inf))
        object.__setattr__(self, "intercepts", _range("intercepts", self.intercepts, -1.0, 1.0 - 1e-9))
        for name in ("tau_rc_s", "tau_syn_s", "tau_readout_s"):
            _positive(name, getattr(self, name))
        _positive("tau_ref_s", self.tau_ref_s, allow_zero=True)
        problem = rate_curve_problem(self.max_rates_hz, self.tau_rc_s, self.tau_ref_s)
        if problem:
            raise ValueError(f"ensemble {self.label!r}: {problem[0]}: {problem[1]}")

    @property
    def radius_vector(self) -> np.ndarray:
        """The radius per dimension, shape (dimensions,)."""
        return np.broadcast_to(np.asarray(self.radius, dtype=np.float64), (self.dimensions,)).copy()


def _transform(transform: np.ndarray | None, rows: int, columns: int, what: str) -> np.ndarray:
    """The transform as a (rows, columns) float array; identity when None (then rows must equal columns)."""
    if transform is None:
        if rows != columns:
            raise ValueError(f"{what}: a transform is needed to map {columns} values onto {rows}")
        return np.eye(rows)
    matrix = np.atleast_2d(np.asarray(transform, dtype=np.float64))
    if matrix.shape != (rows, columns) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"{what}: transform must be finite with shape {(rows, columns)}, got {matrix.shape}")
    return matrix


@dataclass(frozen=True, eq=False)
class Input:
    """`size` values of the input vector, fed into `ensemble` through `transform` (ensemble.dimensions x size)."""

    ensemble: Ensemble
    size: int
    transform: np.ndarray


@dataclass(frozen=True, eq=False)
class Connection:
    """NEF connection: post represents transform @ function(pre's value); transform is (post.dimensions x size_out).

    `factored`: True for a factored connection, False for full weights, None for the cheaper (`build`).
    A learned connection (`learning_rule`) is factored; its decoders, initially the NEF-solved
    transform @ decoders^T, (post.dimensions, n_pre), learn with `PES` from the error of post's value
    (decoded - target), and `label` names it for `SpikingNetwork.set_error`."""

    pre: Ensemble
    post: Ensemble
    function: Function | None
    transform: np.ndarray
    factored: bool | None = None
    learning_rule: PES | None = None
    label: str = ""

    @property
    def size(self) -> int:
        """Values its learned decoders decode (post.dimensions)."""
        return self.transform.shape[0]


@dataclass(frozen=True, eq=False)
class NeuronConnection:
    """Explicit synaptic weights from the neurons of `pre` to the neurons of `post`, shape (post, pre).

    A presynaptic spike adds a current impulse of area `weight` to the postsynaptic neuron: a neuron
    firing at r Hz adds a mean current of weight * r. The weights add to the current as they are (Nengo,
    for a connection to `ensemble.neurons`, multiplies them by the post neurons' gains first).
    """

    pre: Ensemble
    post: Ensemble
    weights: scipy.sparse.csr_array


@dataclass(frozen=True)
class PES:
    """Prescribed error sensitivity (MacNeil & Eliasmith 2011), Nengo's `nengo.PES`, on a decoded output.

    Every substep of dt, with e the output's error (set by the caller, held over a call) and a the
    presynaptic spike trains (amplitude 1/dt) filtered by a lowpass of `pre_synapse_s` (Nengo's default
    5 ms; zero-order hold, a <- exp(-dt/tau) a + (1 - exp(-dt/tau)) spikes/dt):

        decoders += -learning_rate * dt / n_neurons * outer(e, a)        (shape (size, n_neurons))

    exactly Nengo's `SimPES` (including its timing: the spikes of a substep are decoded with the decoders
    from before that substep's update, and that update uses the activities including that substep's spikes).
    """

    learning_rate: float = 1e-4
    pre_synapse_s: float = 0.005

    def __post_init__(self) -> None:
        rate = self.learning_rate
        if not (isinstance(rate, (int, float, np.floating, np.integer)) and np.isfinite(rate) and rate >= 0.0):
            raise ValueError(f"PES learning_rate must be >= 0 and finite, got {rate!r}")
        tau = self.pre_synapse_s
        if not (isinstance(tau, (int, float, np.floating, np.integer)) and np.isfinite(tau) and tau > 0.0):
            raise ValueError(f"PES pre_synapse_s must be > 0 and finite (seconds), got {tau!r}")


@dataclass(frozen=True, eq=False)
class Output:
    """`transform @ function(ensemble's value)` decoded from the readout traces; `size` values of y.

    With a `learning_rule` the decoders learn (`PES`); `label` names the output for
    `SpikingNetwork.set_error` and `SpikingNetwork.learned_decoders`."""

    ensemble: Ensemble
    function: Function | None
    transform: np.ndarray
    learning_rule: PES | None = None
    label: str = ""

    @property
    def size(self) -> int:
        return self.transform.shape[0]


def _function_size(ensemble: Ensemble, function: Function | None) -> int:
    """Length of function's output, found by evaluating it at the origin."""
    if function is None:
        return ensemble.dimensions
    return np.atleast_1d(np.asarray(function(np.zeros(ensemble.dimensions)), dtype=np.float64)).size


@dataclass
class NetworkDescription:
    """Ensembles and what connects them; `neuroctl.network.build` turns it into arrays."""

    ensembles: list[Ensemble] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    neuron_connections: list[NeuronConnection] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)

    def ensemble(self, n_neurons: int, dimensions: int, **parameters: object) -> Ensemble:
        """Add an ensemble; `parameters` are `Ensemble`'s fields."""
        ensemble = Ensemble(n_neurons, dimensions, **parameters)
        self.ensembles.append(ensemble)
        return ensemble

    def input(self, ensemble: Ensemble, size: int | None = None, transform: np.ndarray | None = None) -> Input:
        """Feed `size` more input values into `ensemble` (size defaults to the transform's columns or the
        ensemble's dimensions)."""
        self._check_member(ensemble)
        if size is None:
            size = ensemble.dimensions if transform is None else np.atleast_2d(transform).shape[1]
        node = Input(ensemble, size, _transform(transform, ensemble.dimensions, size, "input"))
        self.inputs.append(node)
        return node

    def connect(
        self, pre: Ensemble, post: Ensemble, function: Function | None = None, transform: np.ndarray | None = None,
        factored: bool | None = None, learning_rule: PES | None = None, label: str = "",
    ) -> Connection:
        """Make post represent transform @ function(pre's value), with weights from NEF decoders: full,
        factored, or (factored None) the cheaper; `learning_rule=PES(...)` makes it learn (then factored)."""
        self._check_member(pre, post)
        if factored not in (None, True, False):
            raise ValueError(f"connection {label!r}: factored must be True, False or None, got {factored!r}")
        self._check_learning_rule("connection", learning_rule, label)
        if learning_rule is not None and factored is False:
            raise ValueError(f"connection {label!r}: a learned connection is factored (factored=False given)")
        matrix = _transform(transform, post.dimensions, _function_size(pre, function), "connection")
        connection = Connection(pre, post, function, matrix, factored, learning_rule, label)
        self.connections.append(connection)
        return connection

    def connect_neurons(
        self, pre: Ensemble, post: Ensemble, weights: np.ndarray | scipy.sparse.sparray
    ) -> NeuronConnection:
        """Connect neurons with explicit weights, shape (post.n_neurons, pre.n_neurons); zeros are no synapse."""
        self._check_member(pre, post)
        matrix = scipy.sparse.csr_array(weights, dtype=np.float64)
        if matrix.shape != (post.n_neurons, pre.n_neurons) or not np.all(np.isfinite(matrix.data)):
            expected = (post.n_neurons, pre.n_neurons)
            raise ValueError(f"neuron connection: weights must be finite with shape {expected}, got {matrix.shape}")
        connection = NeuronConnection(pre, post, matrix)
        self.neuron_connections.append(connection)
        return connection

    def output(
        self, ensemble: Ensemble, function: Function | None = None, transform: np.ndarray | None = None,
        learning_rule: PES | None = None, label: str = "",
    ) -> Output:
        """Decode transform @ function(ensemble's value) into the next values of y (transform: size x size_f).

        `learning_rule=PES(...)` makes its decoders learn from an error the caller sets each call
        (`SpikingNetwork.set_error(label or the Output, error)`); a zero transform (or a function returning
        zeros) starts them at zero. Labels of learned outputs must be unique."""
        self._check_member(ensemble)
        self._check_learning_rule("output", learning_rule, label)
        size_f = _function_size(ensemble, function)
        rows = size_f if transform is None else np.atleast_2d(transform).shape[0]
        node = Output(ensemble, function, _transform(transform, rows, size_f, "output"), learning_rule, label)
        self.outputs.append(node)
        return node

    @property
    def learned_outputs(self) -> list[Output]:
        """The outputs with a learning rule, in the order they were added."""
        return [node for node in self.outputs if node.learning_rule is not None]

    @property
    def learned(self) -> list[Output | Connection]:
        """What learns: the learned outputs, then the learned connections, each in the order added (the
        order of `BuiltNetwork.pes_index` and of the error vector)."""
        connections = [c for c in self.connections if c.learning_rule is not None]
        return [*self.learned_outputs, *connections]

    def _check_learning_rule(self, what: str, learning_rule: PES | None, label: str) -> None:
        if learning_rule is None:
            return
        if not isinstance(learning_rule, PES):
            raise ValueError(f"{what} {label!r}: learning_rule must be a neuroctl.network.PES, got {learning_rule!r}")
        if label and any(node.label == label for node in self.learned):
            raise ValueError(f"learned {what} label {label!r} is already used")

    @property
    def n_neurons(self) -> int:
        return sum(ensemble.n_neurons for ensemble in self.ensembles)

    @property
    def input_size(self) -> int:
        return sum(node.size for node in self.inputs)

    @property
    def output_size(self) -> int:
        return sum(node.size for node in self.outputs)

    def _check_member(self, *ensembles: Ensemble) -> None:
        for ensemble in ensembles:
            if not any(ensemble is member for member in self.ensembles):
                raise ValueError(f"ensemble {ensemble.label!r} is not part of this network")
