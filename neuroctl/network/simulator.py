"""`SpikingNetwork`: a built network, its state, and one kernel call per `step`.

A network with learned (PES) outputs or connections is stepped by `run_substeps_pes`; the caller sets
each one's error before a step. An adaptive population (1000 LIF neurons, 14 joint states in, 7 learned
torques out, one kernel call of K substeps per control tick)::

    from neuroctl.network import PES, NetworkDescription, SpikingNetwork, build

    description = NetworkDescription()
    population = description.ensemble(1000, 14, radius=1.0, label="state")   # scale inputs to the radius
    description.input(population)                                            # x: 14 joint states
    torques = description.output(population, transform=np.zeros((7, 14)),  # decoders start at zero
                                 learning_rule=PES(learning_rate=1e-4, pre_synapse_s=0.005), label="torques")
    network = SpikingNetwork(build(description, dt_s=0.001 / K, seed=0))
    network.reset(seed=0)
    for tick in ...:
        network.set_error("torques", error)          # (7,): decoded - target (Nengo's sign convention)
        u = network.step(joint_states / scale, K)    # (7,): the learned output, filtered
        network.activity[WEIGHT_UPDATES]             # 7 x 1000 x K

`learned_decoders("torques")` is a live (7, 1000) view of the decoders (read or write them).
"""

from __future__ import annotations

import numpy as np

from neuroctl.activity import COUNTER_FIELDS
from neuroctl.network.arrays import (
    PES_DECODERS,
    PES_ERROR,
    PES_PRE_COUNT,
    PES_SIZE,
    VOLTAGE,
    BuiltNetwork,
    new_state,
)
from neuroctl.network.description import Connection, Output
from neuroctl.network.kernel import (
    N_PES_COUNTS,
    PES_HELD_ERRORS,
    SCRATCH_ROWS,
    flag_length,
    kernel_arguments,
    pes_arguments,
    run_substeps,
    run_substeps_pes,
)


class SpikingNetwork:
    """Simulates a `BuiltNetwork`: `step(x, n_substeps)` runs the kernel once and returns the decoded y.

    `state` (N_STATE, n) holds the neurons' state (rows VOLTAGE, REFRACTORY, SYN_CURRENT, TRACE of
    `neuroctl.network.arrays`); `activity` (int64, indexed by `neuroctl.activity` SPIKES...) holds the
    counts of the last `step`, len(COUNTER_FIELDS) of them (WEIGHT_UPDATES counted for a network with
    learned outputs; CPU_MACS stays 0). Nothing is allocated per step.

    `fac_values` (fac_value_size,) holds the factored connections' filtered decoded values (state).

    Learned (PES) outputs and connections (`NetworkDescription.learned`'s order): `error` (error_size,)
    is the error input, their errors concatenated in that order (`set_error` writes one's part, checked;
    writing `error` directly is allowed too); `decoders` (flat) their decoders, learned in place
    (`learned_decoders` gives one's as a (d, n_pre) view); `pes_activity` the filtered presynaptic
    activities; `pes_signals` (2, error_size) the filtered decoded values and the error in use (a
    non-finite error value is replaced by that entry's last finite one, zero at first, and counted in
    `held_errors`).
    """

    def __init__(self, built: BuiltNetwork) -> None:
        self.built = built
        n = built.n_neurons
        self.state = new_state(n)
        self._learning = built.n_learned > 0
        self.activity = np.zeros(len(COUNTER_FIELDS), dtype=np.int64)
        self._output = np.zeros(built.output_size)
        self._scratch = np.zeros((SCRATCH_ROWS, n))
        self.fac_values = np.zeros(built.fac_value_size)
        self._flags = np.zeros(flag_length(n), dtype=np.uint8)
        self._neurons = np.zeros(flag_length(n), dtype=np.int32)
        self._no_raster = np.zeros((0, n), dtype=np.uint8)
        self._x_shape = (built.input_size,)
        self.decoders = built.pes_decoders.copy()
        self.pes_activity = np.zeros(built.pes_activity_size)
        self.pes_signals = np.zeros((2, built.error_size))
        self.error = np.zeros(built.error_size)
        self.pes_counts = np.zeros(N_PES_COUNTS, dtype=np.int64)
        # run_substeps's (or run_substeps_pes's) arguments between (x, n_substeps) and raster
        pes = (*pes_arguments(built), self.decoders, self.pes_activity, self.pes_signals, self.error,
               self.pes_counts) if self._learning else ()
        self._arguments = (
            self.state, *kernel_arguments(built), self.fac_values, *pes,
            self._scratch, self._flags, self._neurons, self._output, self.activity,
        )

    @property
    def neuron_count(self) -> int:
        return self.built.n_neurons

    @property
    def input_size(self) -> int:
        return self.built.input_size

    @property
    def output_size(self) -> int:
        return self.built.output_size

    @property
    def error_size(self) -> int:
        return self.built.error_size

    @property
    def held_errors(self) -> int:
        """Error values found non-finite (and held) since the last `reset`."""
        return int(self.pes_counts[PES_HELD_ERRORS])

    def new_raster(self, n_substeps: int) -> np.ndarray:
        """A zero spike raster for `n_substeps` substeps, uint8 (n_substeps, n), for `step(..., raster=)`."""
        return np.zeros((n_substeps, self.neuron_count), dtype=np.uint8)

    def reset(self, seed: int | None = None) -> None:
        """Back to rest: zero currents and traces, no refractory neuron; voltages 0, or uniform in [0, 1)
        drawn from `seed` (desynchronises the neurons' phases). Learned decoders go back to the built
        ones (as Nengo's `Simulator.reset`), errors and filtered activities to zero."""
        self.state[:] = 0.0
        if seed is not None:
            self.state[VOLTAGE] = np.random.default_rng(seed).random(self.neuron_count)
        self.activity[:] = 0
        self._output[:] = 0.0
        self.fac_values[:] = 0.0
        self.decoders[:] = self.built.pes_decoders
        self.pes_activity[:] = 0.0
        self.pes_signals[:] = 0.0
        self.error[:] = 0.0
        self.pes_counts[:] = 0

    def rehearsal_arrays(self) -> tuple[np.ndarray, ...]:
        """Every array `step` writes (the state, the learned decoders, the counts, the output and the
        kernel's scratch): putting them back undoes a step (`neuroctl.control.base.Controller.rehearsal_arrays`)."""
        return (self.state, self.activity, self._output, self._scratch, self.fac_values, self._flags, self._neurons,
                self.decoders, self.pes_activity, self.pes_signals, self.error, self.pes_counts)

    def _learned(self, output: Output | Connection | str | int) -> int:
        """The index of a learned output or connection, by label, `Output` or `Connection` (matched by
        label) or index."""
        labels = self.built.pes_labels
        key = output.label if isinstance(output, (Output, Connection)) else output
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key < len(labels):
            return int(key)
        if isinstance(key, str) and key and labels.count(key) == 1:
            return labels.index(key)
        name = f"labelled {key!r}" if isinstance(key, str) else repr(key)
        raise ValueError(f"no learned output {name} (learned outputs and connections, by label or index: "
                         f"{list(labels)}; unlabelled or duplicate labels are reached by index)")

    def set_error(self, output: Output | Connection | str | int, values: np.ndarray) -> None:
        """Set the error of a learned output or connection (decoded - target, Nengo's convention; its size
        values; a connection's: of post's value),
        used by the next steps until set again. Non-finite values are held by the kernel (the entry's last
        finite value) and counted in `held_errors`."""
        l = self._learned(output)
        start, size = self.built.pes_index[l, PES_ERROR], self.built.pes_index[l, PES_SIZE]
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (size,) and not (size == 1 and values.shape == ()):
            raise ValueError(f"error of learned output {self.built.pes_labels[l]!r} must have shape ({size},), "
                             f"got {values.shape}")
        self.error[start : start + size] = values

    def learned_decoders(self, output: Output | Connection | str | int) -> np.ndarray:
        """A learned output's (or connection's) decoders, a live (size, n_pre) view: value ~ decoders @ rates."""
        l = self._learned(output)
        index = self.built.pes_index[l]
        start, size, n_pre = index[PES_DECODERS], index[PES_SIZE], index[PES_PRE_COUNT]
        return self.decoders[start : start + size * n_pre].reshape(size, n_pre)

    def step(self, x: np.ndarray, n_substeps: int = 1, raster: np.ndarray | None = None) -> np.ndarray:
        """Run `n_substeps` substeps of `built.dt_s` with input `x` (input_size,) held; return y (output_size,).

        The returned array is reused: the next step overwrites it. When `raster` (uint8, at least
        (n_substeps, n), C-contiguous) is given, its first n_substeps rows receive the spikes, 1 where
        a neuron spiked in that substep.
        """
        if x.shape != self._x_shape:
            raise ValueError(f"x must have shape {self._x_shape}, got {x.shape}")
        if raster is None:
            raster = self._no_raster
        elif raster.dtype != np.uint8 or raster.ndim != 2 or raster.shape[0] < n_substeps \
                or raster.shape[1] != self.neuron_count:
            raise ValueError(f"raster must be uint8 with shape (>= {n_substeps}, {self.neuron_count})")
        self.activity.fill(0)
        self._run(x, n_substeps, raster)
        return self._output

    def _run(self, x: np.ndarray, n_substeps: int, raster: np.ndarray) -> None:
        if self._learning:
            run_substeps_pes(x, n_substeps, *self._arguments, raster)
        else:
            run_substeps(x, n_substeps, *self._arguments, raster)
