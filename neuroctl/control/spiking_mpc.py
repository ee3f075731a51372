"""MPC solved online by recurrent gradient neurons talking with sigma-delta events, and its dense twin.

The network is `neuroctl.network.gradient` (gradient neurons, sigma-delta sensor neurons, dense
connections; its docstring states the dynamics, counters and raster): it runs K iterations of proximal
gradient with momentum on a QP `min 1/2 z'Wz + b'z + h(z)` per control tick, step s = 1/L (L the
largest eigenvalue of W), beta = (sqrt(kappa) - 1)/(sqrt(kappa) + 1) for Nesterov momentum or 0 for
plain proximal gradient. The per-neuron gradient restart removes the overshoot of large beta on a cold
start (at N = 80 the dual's closed-loop cost excess over exact MPC fell from 0.5 % (worst seed 2.6 %)
to 0.03 %). Two formulations of the MPC QP (see `neuroctl.control.qp`):

- "primal": z = U (action units), W = H, b = F x0, h = the actuator box (saturation); the commands are z.
- "dual" (default): z = y, the multipliers of the box constraints of the prestabilised QP, W = H^-1,
  b = -C x0, h = the box's dual (a dead zone); the commands are U = clip(-(W y_hat + b)), read from
  the neurons' own input accumulators.

The sensor neurons' input is the state; theta_neuron is in action units: directly for the primal,
times s for the dual (a change d of y moves U by at most d / s). Warm start: z shifted by one step
(u_k <- u_{k+1}, last block repeated) every `shift_every` ticks (1 unless the plan step is longer than
the control period); momentum restarts each tick. After the network, the tick rolls the plan out
through the model (the predicted states), in the same compiled call.

Reference and operating point: the sensor neurons encode the tracking error x - x_ref (the QP's
linear term is then F (x - x_ref), see `neuroctl.control.qp`), the plan U holds offsets from u_op, and
the command is u_op + u_0. With x_ref = 0 and u_op = 0 (the cart-pole) this is the regulator.

Counters per tick are the network's (the dense twin counts only its dense MACs); the raster is the
network's, `spike_raster`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numba.experimental import structref
from numba.extending import overload_method

from neuroctl.activity import ACTIVITY_FIELDS, GRADED_SYNAPTIC_EVENTS
from neuroctl.config import range_field
from neuroctl.control.base import CompiledArraysType, Controller, LinearModel, ModelState, state_error
from neuroctl.control.lqr import check_observation_size, q_field, r_field, weight_matrices
from neuroctl.control.mpc import horizon_field
from neuroctl.control.population import PopulationCodingConfig, StatePopulations
from neuroctl.control.qp import MPCProblem, build_mpc_problem, step_and_momentum
from neuroctl.network.dense import fixed_point
from neuroctl.network.gradient import ITERATE, gradient_network_solve
from neuroctl.network.jit import cached_njit

N_ACTIVITY = len(ACTIVITY_FIELDS)
SHIFT_EVERY, TICKS = range(2)  # entries of the schedule array


@cached_njit
def gradient_mpc_tick(
    x, weights, sensor_weights, lower, upper, thresholds, sensor_thresholds,
    step, beta, iterations, n_inputs, dual, dense,
    state, x_hat, a, b, commands, states, activity, raster, shift=True,
):  # fmt: skip
    """One control tick: shift the warm start by one plan step (if `shift`), run the gradient network
    (`gradient_network_solve`, same arguments) into `commands` (n,) and roll the plan out into `states`
    (N+1, nx) through the model a, b. `activity`'s ACTIVITY_FIELDS are this tick's counts."""
    z = state[ITERATE]
    n = z.shape[0]
    if shift:
        for i in range(n - n_inputs):
            z[i] = z[i + n_inputs]
    activity[:N_ACTIVITY] = 0
    activity[GRADED_SYNAPTIC_EVENTS] = 0
    gradient_network_solve(
        x, weights, sensor_weights, lower, upper, thresholds, sensor_thresholds,
        step, beta, iterations, dual, dense, state, x_hat, commands, activity, raster,
    )  # fmt: skip
    _rollout(x_hat, a, b, commands, states)


@cached_njit
def _rollout(x0, a, b, commands, states):
    """states[k+1] = A states[k] + B u_k from states[0] = x0, u_k = commands[k*nu:(k+1)*nu]."""
    nx, nu = b.shape
    states[0, :] = x0
    for k in range(states.shape[0] - 1):
        for r in range(nx):
            total = 0.0
            for c in range(nx):
                total += a[r, c] * states[k, c]
            for c in range(nu):
                total += b[r, c] * commands[k * nu + c]
            states[k + 1, r] = total


@dataclass(frozen=True)
class DenseMPCConfig:
    """K iterations of (accelerated) proximal gradient on the MPC QP per tick, every product done."""

    q: tuple[float, ...] = q_field()
    r: tuple[float, ...] = r_field()
    horizon: int = horizon_field()
    iterations: int = range_field(20, min=1, max=10_000, doc="iterations K per tick")
    momentum: Literal["nesterov", "none"] = range_field(
        "nesterov", doc="nesterov: constant beta from the condition number; none: plain proximal gradient"
    )
    formulation: Literal["dual", "primal"] = range_field(
        "dual", doc="dual: multipliers of the prestabilised QP (accurate for long horizons); primal: U"
    )


@dataclass(frozen=True)
class SpikingMPCConfig(DenseMPCConfig):
    """The dense twin's iterations with sigma-delta events between neurons and from the sensors.

    `state_input`: `sigma_delta`, the readings go straight to the sensor neurons; `population`, they are
    first represented by LIF populations (`population`) and the sensor neurons send the decoded state.
    """

    theta_neuron: float = range_field(0.002, min=0.0, doc="gradient neuron event threshold, action units")
    theta_sensor: float = range_field(
        1e-4, min=0.0, doc="sensor neuron event threshold, state units (keep <= 2e-4)"
    )
    state_input: Literal["sigma_delta", "population"] = "sigma_delta"
    population: PopulationCodingConfig = field(default_factory=PopulationCodingConfig)
    weight_bits: int | None = range_field(
        None, min=2, max=32, doc="fixed-point weights: W and the sensor weights as signed integers of this many "
                                 "bits, one scale per matrix (as on Loihi); null: float64")


class GradientMPCController(Controller):
    """MPC by `gradient_mpc_tick`: one numba call per tick, all state in preallocated arrays.

    After `act`: `predicted_commands` (N, nu) and `predicted_states` (N+1, nx) hold the plan (from the
    state the network knows; commands as offsets u - u_op, states as x_ref + predicted error),
    `last_solution` (N*nu,) is U, `iterate` the neurons' values (U for the primal, the multipliers y
    for the dual), `qp_problem` the QP (for the exact solution at the same observation:
    `ExactQPSolver(qp_problem).solve(controller.qp_initial_state(observation, reference))`).
    `iterations` is K, the iterations per tick (from the config). `shift_every`: see the module docstring.
    """

    dense: bool
    solves_exactly = False

    def __init__(self, config: DenseMPCConfig, model: LinearModel, observation_size: int) -> None:
        super().__init__()
        if config.momentum not in ("nesterov", "none"):
            raise ValueError(f"momentum: expected 'nesterov' or 'none', got {config.momentum!r}")
        if config.formulation not in ("dual", "primal"):
            raise ValueError(f"formulation: expected 'dual' or 'primal', got {config.formulation!r}")
        self.config = config
        self.model = model
        self.iterations = config.iterations
        self._observation_size = check_observation_size(model, observation_size)
        # the kernel ignores non-finite readings itself; through an output map C they are held first
        self._error = ModelState(model, hold=model.C is not None)
        self._schedule = np.array([1, 0], dtype=np.int64)  # SHIFT_EVERY, TICKS (shared with the compiled tick)
        self.qp_problem = build_mpc_problem(
            model, *weight_matrices(config.q, config.r, model), config.horizon
        )
        self._build_network(self.qp_problem, config)
        n, nx, nu = self.qp_problem.n_decisions, model.n_states, model.n_inputs
        self._state = np.zeros((6, n))
        self._x_hat = np.zeros(nx)
        self.last_solution = np.zeros(n)
        self.predicted_commands = self.last_solution.reshape(config.horizon, nu)
        self.predicted_states = np.zeros((config.horizon + 1, nx))
        self._action = np.zeros(nu)
        event_rounds = 0 if self.dense else self.iterations + int(self.dual)
        self._raster = np.zeros((event_rounds, n + nx), dtype=np.uint8)
        self._compiled = new_gradient_mpc_arrays(
            *self._error.kernel_arguments(), self.weights, self.sensor_weights,
            self.qp_problem.lower, self.qp_problem.upper, self.thresholds, self.sensor_thresholds,
            float(self.step), float(self.beta), int(self.iterations), int(nu), bool(self.dual), bool(self.dense),
            self._state, self._x_hat, self.qp_problem.model.A, self.qp_problem.model.B, self._schedule,
            model.u_op, self._action, self.activity, self.predicted_states, self.last_solution,
            self._raster,
        )  # fmt: skip

    def _build_network(self, problem: MPCProblem, config: DenseMPCConfig) -> None:
        """Weights, input map, prox bounds, step and momentum of the chosen formulation."""
        self.dual = config.formulation == "dual"
        self.weights = np.ascontiguousarray(problem.M if self.dual else problem.H)
        self.sensor_weights = np.ascontiguousarray((-problem.C if self.dual else problem.F).T)
        self.step, beta = step_and_momentum(self.weights)
        self.beta = beta if config.momentum == "nesterov" else 0.0
        theta_neuron, theta_sensor = self._thresholds(config)
        n, nx = problem.n_decisions, problem.n_states
        self.thresholds = np.full(n, theta_neuron * (self.step if self.dual else 1.0))
        self.sensor_thresholds = np.full(nx, theta_sensor)

    def _thresholds(self, config: DenseMPCConfig) -> tuple[float, float]:
        """(theta_neuron in action units, theta_sensor in state units)."""
        return 0.0, 0.0

    @property
    def observation_size(self) -> int:
        return self._observation_size

    @property
    def reference_size(self) -> int:
        return self.model.n_states

    @property
    def shift_every(self) -> int:
        """The warm start shifts by one plan step every this many ticks (module docstring)."""
        return int(self._schedule[SHIFT_EVERY])

    @shift_every.setter
    def shift_every(self, ticks: int) -> None:
        self._schedule[SHIFT_EVERY] = ticks

    @property
    def iterate(self) -> np.ndarray:
        """The gradient neurons' values z (n,), a view: U (primal) or the multipliers y (dual)."""
        return self._state[ITERATE]

    def reset(self, seed: int) -> None:
        """Zero the network: no plan, x_hat = 0 and so b = 0 and accumulators = 0 (consistent)."""
        self._state[:] = 0.0
        self._x_hat[:] = 0.0
        self.last_solution[:] = 0.0
        self.predicted_states[:] = 0.0
        self.activity[:] = 0
        self._raster[:] = 0
        self._error.reset()
        self._schedule[TICKS] = 0

    def qp_initial_state(self, observation: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        """x0 = x - x_ref of the QP this controller solves for `observation` (a reused array)."""
        return self._error.error_of(np.asarray(observation, dtype=np.float64), reference)

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Returns a reused array (u_op + the plan's first command): copy it to keep it past the next tick."""
        problem = self.qp_problem
        shift = self._schedule[TICKS] % self._schedule[SHIFT_EVERY] == 0
        self._schedule[TICKS] += 1
        gradient_mpc_tick(
            self.qp_initial_state(observation, reference), self.weights, self.sensor_weights,
            problem.lower, problem.upper, self.thresholds, self.sensor_thresholds,
            self.step, self.beta, self.iterations, problem.n_inputs, self.dual, self.dense,
            self._state, self._x_hat, problem.model.A, problem.model.B,
            self.last_solution, self.predicted_states, self.activity, self._raster, shift,
        )  # fmt: skip
        if reference is not None:
            self.predicted_states += reference
        np.add(self.predicted_commands[0], self.model.u_op, out=self._action)
        return self._action

    compiled_act = act

    def rehearsal_arrays(self) -> tuple[np.ndarray, ...] | None:
        return (*self._error.rehearsal_arrays(), self._state, self._x_hat, self._schedule, self._action,
                self.activity, self.predicted_states, self.last_solution, self._raster)


class DenseMPCController(GradientMPCController):
    """The dense, non-spiking twin: same iterations, every multiply done every iteration."""

    dense = True


class SpikingMPCController(GradientMPCController):
    """The spiking MPC: gradient and sensor neurons talk with sigma-delta events; with
    `state_input: population` the state reaches the sensor neurons through LIF populations."""

    dense = False

    def __init__(self, config: SpikingMPCConfig, model: LinearModel, observation_size: int) -> None:
        super().__init__(config, model, observation_size)
        self.state_populations = None
        if config.state_input == "population":  # the populations' encoder runs in Python: `act` only
            self.state_populations = StatePopulations(config.population, model.n_states, model.dt)
            self._compiled = None

    def reset(self, seed: int) -> None:
        super().reset(seed)
        if self.state_populations is not None:
            self.state_populations.reset(seed)

    def _build_network(self, problem: MPCProblem, config: SpikingMPCConfig) -> None:
        """The float network, then (with `weight_bits`) its weights in fixed point (`dense.fixed_point`);
        the step and momentum stay those of the exact weights, as parameters of the chip would."""
        super()._build_network(problem, config)
        if config.weight_bits is not None:
            self.weights = fixed_point(self.weights, config.weight_bits)
            self.sensor_weights = fixed_point(self.sensor_weights, config.weight_bits)

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        if self.state_populations is None:
            return super().act(observation, reference)
        action = super().act(self.state_populations.encode(observation), reference)
        self.activity += self.state_populations.activity
        return action

    compiled_act = act

    def rehearsal_arrays(self) -> tuple[np.ndarray, ...] | None:
        """None with `state_input: population` (the populations' state is not declared)."""
        return super().rehearsal_arrays() if self.state_populations is None else None

    def _thresholds(self, config: SpikingMPCConfig) -> tuple[float, float]:
        return config.theta_neuron, config.theta_sensor

    @property
    def spike_raster(self) -> np.ndarray:
        """The last tick's events, uint8 (K, +1 for the dual's read-out; n + nx): see the module docstring."""
        return self._raster

    @property
    def spike_raster_groups(self) -> tuple[tuple[str, int, int], ...]:
        """(label, first column, end column) of the raster's neuron groups."""
        n, nx = self.qp_problem.n_decisions, self.qp_problem.n_states
        return ("gradient neurons (one per plan value)", 0, n), ("sensor neurons (one per state)", n, n + nx)


@structref.register
class GradientMPCArraysType(CompiledArraysType):
    """A `GradientMPCController`'s arrays for the compiled tick (`CompiledArraysType`)."""


class GradientMPCArrays(structref.StructRefProxy):
    pass


_GRADIENT_MPC_FIELDS = [
    "hold", "held", "observer", "y_op", "x_op", "deviation", "error", "weights", "sensor_weights", "lower",
    "upper", "thresholds", "sensor_thresholds", "step_size", "beta", "iterations", "n_inputs", "dual", "dense",
    "state", "x_hat", "a", "b", "schedule", "u_op", "action", "activity", "predicted_states", "plan", "raster",
]  # fmt: skip
structref.define_proxy(GradientMPCArrays, GradientMPCArraysType, _GRADIENT_MPC_FIELDS)


@cached_njit
def new_gradient_mpc_arrays(*fields):
    """The `GradientMPCArrays` of these fields (a compiled constructor: numba's proxy compiles on every run)."""
    return GradientMPCArrays(*fields)


@overload_method(GradientMPCArraysType, "step")
def _gradient_mpc_step(arrays, observation, reference):
    def step(arrays, observation, reference):
        """`GradientMPCController.act` for a float64 observation and reference."""
        state_error(observation, reference, arrays.hold, arrays.held, arrays.observer, arrays.y_op, arrays.x_op,
                    arrays.deviation, arrays.error)
        schedule = arrays.schedule
        shift = schedule[TICKS] % schedule[SHIFT_EVERY] == 0
        schedule[TICKS] += 1
        gradient_mpc_tick(
            arrays.error, arrays.weights, arrays.sensor_weights, arrays.lower, arrays.upper, arrays.thresholds,
            arrays.sensor_thresholds, arrays.step_size, arrays.beta, arrays.iterations, arrays.n_inputs,
            arrays.dual, arrays.dense, arrays.state, arrays.x_hat, arrays.a, arrays.b, arrays.plan,
            arrays.predicted_states, arrays.activity, arrays.raster,
            shift,
        )  # fmt: skip
        states = arrays.predicted_states
        for row in range(states.shape[0]):
            for column in range(states.shape[1]):
                states[row, column] += reference[column]
        for i in range(arrays.action.shape[0]):
            arrays.action[i] = arrays.plan[i] + arrays.u_op[i]
    return step
