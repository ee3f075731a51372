"""`SpikingNetwork`: a built network, its state, and one kernel call per `step`."""

from __future__ import annotations

import numpy as np

from neuroctl.activity import ACTIVITY_FIELDS
from neuroctl.network.arrays import VOLTAGE, BuiltNetwork, new_state
from neuroctl.network.kernel import flag_length, kernel_arguments, run_substeps


class SpikingNetwork:
    """Simulates a `BuiltNetwork`: `step(x, n_substeps)` runs the kernel once and returns the decoded y.

    `state` (N_STATE, n) holds the neurons' state (rows VOLTAGE, REFRACTORY, SYN_CURRENT, TRACE of
    `neuroctl.network.arrays`); `activity` (int64, indexed by `neuroctl.control.base` SPIKES...) holds the
    counts of the last `step`. Nothing is allocated per step.
    """

    def __init__(self, built: BuiltNetwork) -> None:
        self.built = built
        n = built.n_neurons
        self.state = new_state(n)
        self.activity = np.zeros(len(ACTIVITY_FIELDS), dtype=np.int64)
        self._output = np.zeros(built.output_size)
        self._scratch = np.zeros((2, n))
        self._flags = np.zeros(flag_length(n), dtype=np.uint8)
        self._neurons = np.zeros(flag_length(n), dtype=np.int32)
        self._no_raster = np.zeros((0, n), dtype=np.uint8)
        self._x_shape = (built.input_size,)
        # run_substeps's arguments between (x, n_substeps) and raster
        self._arguments = (
            self.state, *kernel_arguments(built),
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

    def new_raster(self, n_substeps: int) -> np.ndarray:
        """A zero spike raster for `n_substeps` substeps, uint8 (n_substeps, n), for `step(..., raster=)`."""
        return np.zeros((n_substeps, self.neuron_count), dtype=np.uint8)

    def reset(self, seed: int | None = None) -> None:
        """Back to rest: zero currents and traces, no refractory neuron; voltages 0, or uniform in [0, 1)
        drawn from `seed` (desynchronises the neurons' phases)."""
        self.state[:] = 0.0
        if seed is not None:
            self.state[VOLTAGE] = np.random.default_rng(seed).random(self.neuron_count)
        self.activity[:] = 0
        self._output[:] = 0.0

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
        run_substeps(x, n_substeps, *self._arguments, raster)
