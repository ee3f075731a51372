"""The interface every controller shares, spiking or not.

A controller maps an observation and the current reference (the model-state set point) to an action
once per control tick. It is built from its config and the environment's linear model (or, for a kind
that says so, the environment's rigid-body model), so that a benchmark is only a change of config.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numba import types
from numba.experimental import structref

from neuroctl.activity import (ACTIVITY_FIELDS, COUNTER_FIELDS, CPU_MACS, DENSE_MACS, NEURON_UPDATES, SPIKES,
                               SYNAPTIC_EVENTS)
from neuroctl.network.jit import cached_njit
from neuroctl.network.linalg import matvec_into

__all__ = ["ACTIVITY_FIELDS", "COUNTER_FIELDS", "CPU_MACS", "DENSE_MACS", "NEURON_UPDATES", "SPIKES",
           "SYNAPTIC_EVENTS", "CompiledArraysType", "Controller", "LinearModel", "ModelState", "NO_PLAN",
           "NO_PREDICTION", "NO_RASTER", "robot_observation_size"]


@dataclass(frozen=True)
class LinearModel:
    """Discrete linear model about an operating point (x_op, u_op), with an optional output map C:

        x[k+1] - x_op = A (x[k] - x_op) + B (u[k] - u_op),    observation = y_op + C (x - x_op)

    `u` is in the environment's action units; `u_low`/`u_high` are the actuator bounds in those units;
    `dt` is the control period in seconds. x_op and u_op default to zero; C None means the observation
    is the state (C = I, y_op = x_op); y_op defaults to zero when C is given.
    """

    A: np.ndarray
    B: np.ndarray
    dt: float
    u_low: np.ndarray
    u_high: np.ndarray
    x_op: np.ndarray | None = None
    u_op: np.ndarray | None = None
    C: np.ndarray | None = None
    y_op: np.ndarray | None = None

    def __post_init__(self) -> None:
        nx, nu = np.shape(self.B)
        for name, size in (("x_op", nx), ("u_op", nu)):
            value = getattr(self, name)
            value = np.zeros(size) if value is None else np.asarray(value, dtype=np.float64).reshape(-1)
            if value.shape != (size,):
                raise ValueError(f"model: {name} must have {size} values, got {value.size}")
            object.__setattr__(self, name, value)
        if self.C is not None:
            c = np.asarray(self.C, dtype=np.float64)
            if c.ndim != 2 or c.shape[1] != nx:
                raise ValueError(f"model: C must have {nx} columns (one per state), got shape {c.shape}")
            object.__setattr__(self, "C", c)
            y_op = np.zeros(c.shape[0]) if self.y_op is None else np.asarray(self.y_op, float).reshape(-1)
            if y_op.shape != (c.shape[0],):
                raise ValueError(f"model: y_op must have {c.shape[0]} values, got {y_op.size}")
            object.__setattr__(self, "y_op", y_op)
        elif self.y_op is not None:
            raise ValueError("model: y_op is only meaningful with an output map C")

    @property
    def n_states(self) -> int:
        return self.A.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.B.shape[1]

    @property
    def n_outputs(self) -> int:
        """Length of the observation: C's rows, else the state's."""
        return self.n_states if self.C is None else self.C.shape[0]


def robot_observation_size(robot, observation_size: int) -> int:
    """`observation_size`, checked against a controller's robot's observation space (ValueError)."""
    size = int(robot.observation_space.shape[0])
    if observation_size != size:
        raise ValueError(f"observation_size: the robot's observations have {size} values, got {observation_size}")
    return observation_size


@cached_njit
def state_error(observation, reference, hold, held, observer, y_op, x_op, deviation, error):
    """error = x - x_ref for one tick, no allocation. With `hold`, the finite readings are first copied
    into `held` and y = held (a non-finite reading keeps its last finite value), else y = observation.
    x = y when `observer` has no rows (the observation is the state), else x = x_op + observer @ (y -
    y_op), each row summed in ascending column order (`deviation` scratch)."""
    y = observation
    if hold:
        for i in range(observation.shape[0]):
            if math.isfinite(observation[i]):
                held[i] = observation[i]
        y = held
    if observer.shape[0] == 0:
        for i in range(error.shape[0]):
            error[i] = y[i] - reference[i]
        return
    for j in range(deviation.shape[0]):
        deviation[j] = y[j] - y_op[j]
    matvec_into(observer, deviation, error)
    for i in range(error.shape[0]):
        error[i] = error[i] + x_op[i] - reference[i]


class ModelState:
    """Observation + reference -> the model-state error x - x_ref, into a preallocated array.

    x = observation where the observation is the state; else x = x_op + C^+ (observation - y_op) (C^+ the
    pseudo-inverse: the least-squares state, exact when C has full column rank). Non-finite readings
    are held at their last finite value (`hold`), or passed on for the caller to hold. One compiled call
    (`state_error`).
    """

    def __init__(self, model: LinearModel, hold: bool = True) -> None:
        self.model = model
        self.hold = hold
        self.held = np.zeros(model.n_outputs)
        self.error = np.zeros(model.n_states)
        self.zero_reference = np.zeros(model.n_states)
        self._observer = np.zeros((0, model.n_outputs)) if model.C is None else np.linalg.pinv(model.C)
        self._y_op = np.zeros(model.n_outputs) if model.y_op is None else np.asarray(model.y_op, dtype=np.float64)
        self._x_op = np.asarray(model.x_op, dtype=np.float64)
        self._deviation = np.zeros(model.n_outputs)

    def reset(self) -> None:
        self.held[:] = 0.0
        self.error[:] = 0.0

    def kernel_arguments(self) -> tuple:
        """`state_error`'s arguments after (observation, reference): hold, held, observer, y_op, x_op,
        deviation, error (the arrays themselves, for a compiled tick)."""
        return self.hold, self.held, self._observer, self._y_op, self._x_op, self._deviation, self.error

    def rehearsal_arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays `error_of` writes (`Controller.rehearsal_arrays`)."""
        return self.held, self._deviation, self.error

    def error_of(self, observation: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        """x - x_ref (a reused array); reference None means x_ref = 0. (An observation or reference that
        is not float64 is converted first, which allocates; the loop hands float64 over.)"""
        observation = np.asarray(observation, dtype=np.float64)
        reference = self.zero_reference if reference is None else np.asarray(reference, dtype=np.float64)
        state_error(observation, reference, self.hold, self.held,
                    self._observer, self._y_op, self._x_op, self._deviation, self.error)
        return self.error


class CompiledArraysType(types.StructRef):
    """numba type of a controller's arrays for the compiled tick (`Controller.compiled_arrays`).

    A controller kind with a compiled path registers a subclass (`structref.register`) with a proxy
    (`structref.define_proxy`) whose fields include

    - `action` (nu,) float64: the proposed command, written by `step`;
    - `activity` (len(COUNTER_FIELDS),) int64: this tick's counts, written by `step`;
    - `predicted_states` (steps, nx) float64, `plan` (n,) float64, `raster` (rows, neurons) uint8: what
      it exposes for the recorder (NO_PREDICTION, NO_PLAN, NO_RASTER where it exposes nothing),

    and a jitted method `step(observation, reference)` (`numba.extending.overload_method`): the same
    kernels in the same order as its `act`, so that both paths give bit-identical results. The arrays
    are the controller object's own (shared, not copied): either path may run any tick. The cached
    `neuroctl.runtime.tick.control_tick` does not notice an edit of a `step`: touch that file after one.
    """

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(kind)) for name, kind in fields)


NO_PREDICTION = np.zeros((0, 0))
NO_PLAN = np.zeros(0)
NO_RASTER = np.zeros((0, 0), dtype=np.uint8)


class Controller(ABC):
    """(observation, reference) -> action, one call per control tick.

    The reference is the model-state set point x_ref of this tick (`reference_size` values; the loop
    fills it from a `TaskRobot`'s `reference(out)`, zeros for other environments); None means zeros.

    `activity` holds the counts of the last tick, indexed by SPIKES, SYNAPTIC_EVENTS, NEURON_UPDATES,
    DENSE_MACS (the multiply-accumulates a dense, non-spiking evaluation of the same computation needs)
    and CPU_MACS (non-spiking work the controller executes beside a network, e.g. rigid-body dynamics).
    Non-spiking controllers count their multiply-accumulates as DENSE_MACS and leave the rest at zero.
    """

    activity: np.ndarray
    compiled_act = None
    """The `act` that `compiled_arrays` mirrors (set by a kind with a compiled path)."""

    def __init__(self) -> None:
        self.activity = np.zeros(len(COUNTER_FIELDS), dtype=np.int64)
        self._compiled = None

    def compiled_arrays(self) -> structref.StructRefProxy | None:
        """The controller's arrays with a jitted `step` (`CompiledArraysType`) for the loop's compiled
        tick, or None: none declared, or `act` is no longer the one they mirror (a subclass or an
        instance replaced it), so the loop must call `act`."""
        compiled = getattr(self, "_compiled", None)  # a subclass may not call Controller.__init__
        if compiled is None or getattr(self.act, "__func__", None) is not type(self).compiled_act:
            return None
        return compiled

    @abstractmethod
    def reset(self, seed: int) -> None:
        """Forget all state; network noise and sampling draw from `seed`."""

    @abstractmethod
    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Return the action for this tick: finite, within the actuator bounds, in action units."""

    def rehearsal_arrays(self) -> tuple[np.ndarray, ...] | None:
        """Every array `act` writes that a later call reads or the controller exposes, or None (the
        default: not declared). Putting these back as they were undoes a call of `act`, which lets the
        loop rehearse a paced tick before its release (`neuroctl.runtime.loop.Rehearsal`)."""
        return None

    def warmup(self) -> None:
        """Compile and run the kernels once so that the first real tick pays no compile time."""
        self.reset(0)
        self.act(np.zeros(self.observation_size), np.zeros(self.reference_size))
        self.reset(0)

    @property
    @abstractmethod
    def observation_size(self) -> int:
        """Length of the observation vector `act` expects."""

    @property
    def reference_size(self) -> int:
        """Length of the reference `act` expects (the model's state); the observation's by default."""
        return self.observation_size
