"""Clipped discrete LQR, the classical baseline: u = clip(u_op - K (x - x_ref), u_low, u_high)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba.experimental import structref
from numba.extending import overload_method

from neuroctl.config import range_field
from neuroctl.control.base import (DENSE_MACS, NO_PLAN, NO_PREDICTION, NO_RASTER, CompiledArraysType, Controller,
                                   LinearModel, ModelState, state_error)
from neuroctl.control.linear import diagonal_weights, dlqr
from neuroctl.network.jit import cached_njit
from neuroctl.network.linalg import matvec_into


def q_field():
    """Config field `q`: diagonal of the state weight Q (one per state; the cart-pole default)."""
    return range_field((1.0, 10.0, 0.1, 0.1), min=0.0, doc="diagonal of Q, one entry >= 0 per state")


def r_field():
    """Config field `r`: diagonal of the input weight R (one per input, action units)."""
    return range_field((1.0,), min=0.0, min_exclusive=True, doc="diagonal of R, one entry > 0 per action")


def weight_matrices(
    q: tuple[float, ...], r: tuple[float, ...], model: LinearModel
) -> tuple[np.ndarray, np.ndarray]:
    """Q (nx, nx) and R (nu, nu) from config diagonals, checked against the model's sizes."""
    return (
        diagonal_weights(q, model.n_states, "q", positive=False),
        diagonal_weights(r, model.n_inputs, "r", positive=True),
    )


def check_observation_size(model: LinearModel, observation_size: int) -> int:
    """The model-based controllers observe the model's state, or its outputs C x where the model has an
    output map: observation_size must be nx (or C's rows)."""
    if observation_size != model.n_outputs:
        what = "model state" if model.C is None else "model's outputs (rows of C)"
        raise ValueError(
            f"observation_size: the controller observes the {what} ({model.n_outputs} values),"
            f" got {observation_size}"
        )
    return observation_size


@dataclass(frozen=True)
class LQRConfig:
    """Clipped LQR: K from the DARE with Q = diag(q), R = diag(r) in action units."""

    q: tuple[float, ...] = q_field()
    r: tuple[float, ...] = r_field()


class LQRController(Controller):
    """u = clip(u_op - K (x - x_ref)): one (nu x nx) product per tick, counted as DENSE_MACS.

    x_ref is the tick's reference (zero when None): a state the model can hold with u = u_op (the
    operating point, or any equilibrium of the same input, such as a set point of a double integrator).
    """

    def __init__(self, config: LQRConfig, model: LinearModel, observation_size: int) -> None:
        super().__init__()
        self.config = config
        self.model = model
        self._observation_size = check_observation_size(model, observation_size)
        self.K, self.P = dlqr(model, *weight_matrices(config.q, config.r, model))
        self._action = np.zeros(model.n_inputs)
        self._state = ModelState(model)
        self._compiled = new_lqr_arrays(self.K, *self._state.kernel_arguments(), model.u_op, model.u_low,
                                        model.u_high, self._action, self.activity, NO_PREDICTION, NO_PLAN,
                                        NO_RASTER)

    @property
    def observation_size(self) -> int:
        return self._observation_size

    @property
    def reference_size(self) -> int:
        return self.model.n_states

    def reset(self, seed: int) -> None:
        self._state.reset()
        self.activity[:] = 0

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Returns a reused array: copy it to keep it past the next tick. Non-finite values are held."""
        model = self.model
        clipped_feedback(self.K, self._state.error_of(observation, reference), model.u_op, model.u_low,
                         model.u_high, self._action)
        self.activity[DENSE_MACS] = self.K.size
        return self._action

    compiled_act = act


@cached_njit
def clipped_feedback(gain, error, u_op, u_low, u_high, action):
    """action = clip(u_op - gain @ error, u_low, u_high), each row summed in ascending column order."""
    matvec_into(gain, error, action)
    for i in range(action.shape[0]):
        action[i] = min(max(-action[i] + u_op[i], u_low[i]), u_high[i])


@structref.register
class LQRArraysType(CompiledArraysType):
    """An `LQRController`'s arrays for the compiled tick (`CompiledArraysType`)."""


class LQRArrays(structref.StructRefProxy):
    pass


structref.define_proxy(LQRArrays, LQRArraysType, [
    "gain", "hold", "held", "observer", "y_op", "x_op", "deviation", "error", "u_op", "u_low", "u_high",
    "action", "activity", "predicted_states", "plan", "raster"])


@cached_njit
def new_lqr_arrays(gain, hold, held, observer, y_op, x_op, deviation, error, u_op, u_low, u_high, action,
                   activity, predicted_states, plan, raster):
    """The `LQRArrays` of these arrays (a compiled constructor: numba's proxy compiles on every run)."""
    return LQRArrays(gain, hold, held, observer, y_op, x_op, deviation, error, u_op, u_low, u_high, action,
                     activity, predicted_states, plan, raster)


@overload_method(LQRArraysType, "step")
def _lqr_step(arrays, observation, reference):
    def step(arrays, observation, reference):
        """`LQRController.act` for a float64 observation and reference."""
        state_error(observation, reference, arrays.hold, arrays.held, arrays.observer, arrays.y_op, arrays.x_op,
                    arrays.deviation, arrays.error)
        clipped_feedback(arrays.gain, arrays.error, arrays.u_op, arrays.u_low, arrays.u_high, arrays.action)
        arrays.activity[DENSE_MACS] = arrays.gain.size
    return step
