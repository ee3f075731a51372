"""MPC solved online by recurrent gradient neurons talking with sigma-delta events, and its dense twin.

The network (one jitted call per control tick)
----------------------------------------------
It runs K iterations of proximal gradient with momentum on a QP `min 1/2 z'Wz + b'z + h(z)` with an
elementwise h, one "gradient neuron" per decision value z_i (n = N*nu of them):

    g = W w_hat + b,   z_i <- prox_h(w_i - s g_i),   w_i <- z_i + beta (z_i - z_i^previous)

with step s = 1/L (L the largest eigenvalue of W), beta = (sqrt(kappa) - 1)/(sqrt(kappa) + 1) for
Nesterov momentum or 0 for plain proximal gradient. A neuron drops its momentum for one iteration when
it points uphill, (w_i - z_i)(z_i - z_i^previous) > 0 (the gradient restart of O'Donoghue & Candes,
per neuron so that it stays local; it removes the overshoot of large beta on a cold start: at N = 80
the dual's closed-loop cost excess over exact MPC fell from 0.5 % (worst seed 2.6 %) to 0.03 %).
The last iteration of a tick uses beta = 0, so a tick ends on a proximal point. Two formulations of
the MPC QP (see `neuroctl.control.qp`):

- "primal": z = U (action units), W = H, b = F x0, prox = clip to the actuator box (saturation);
  the commands are z.
- "dual" (default): z = y, the multipliers of the box constraints of the prestabilised QP, W = H^-1,
  b = -C x0, prox(v) = v - s clip(v / s, lo, hi) (a dead zone); the commands are
  U = clip(-(W y_hat + b)), read from the neurons' own input accumulators.

Sigma-delta events: neuron j sends an event carrying d = w_j - w_hat_j when |d| > theta_j, and every
receiver i adds W_ij d to its accumulator (fan-out n, so the cost is events x n synaptic events); the
receivers' copy w_hat_j then equals w_j. Sensor neuron m (one per state component) sends
d = x_m - x_hat_m when |d| > theta_sensor, and b += E_m d (fan-out n). theta_j is theta_neuron in
action units: directly for the primal, times s for the dual (a change d of y moves U by at most d / s).
Warm start: z shifted by one step (u_k <- u_{k+1}, last block repeated) every `shift_every` ticks (1
unless the plan step is longer than the control period); momentum restarts each tick.

Reference and operating point: the sensor neurons encode the tracking error x - x_ref (the QP's
linear term is then F (x - x_ref), see `neuroctl.control.qp`), the plan U holds offsets from u_op, and
the command is u_op + u_0. With x_ref = 0 and u_op = 0 (the cart-pole) this is the regulator.

The dense twin runs the same iterations with b = E x and g = W w + b fully multiplied every iteration
(no events, exact values): with all thresholds at 0 the two compute the same plan.

Counters per tick: spikes = sensor + neuron events; synaptic events = spikes x n; neuron updates =
K n + nx; dense MACs = K n^2 + nx n (+ n^2 for the dual read-out), what the dense twin does. The dense
twin counts only its dense MACs.

Spike raster: the spiking controller's `spike_raster` (uint8, one row per round of events, n + nx
columns: gradient neurons, then sensor neurons) holds 1 where a neuron sent an event in the tick. Row k
holds iteration k's neuron events; the sensor events, sent once at the start of a tick, are in row 0;
the dual's read-out is one more round of events, in an extra last row (K + 1 rows), so that the
raster's sum is always the tick's spike count. The dense twin sends no events and has no raster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from neuroctl.config import range_field
from neuroctl.control.base import (ACTIVITY_FIELDS, DENSE_MACS, NEURON_UPDATES, SPIKES, SYNAPTIC_EVENTS, Controller, LinearModel,
                                   ModelState)
from neuroctl.control.lqr import check_observation_size, q_field, r_field, weight_matrices
from neuroctl.control.mpc import horizon_field
from neuroctl.control.population import PopulationCodingConfig, StatePopulations
from neuroctl.control.qp import MPCProblem, build_mpc_problem, step_and_momentum
from neuroctl.network.jit import cached_njit

# Rows of the network's (6, n) state array.
ITERATE, SENT, RECEIVED, ACCUMULATED, INPUT, GRADIENT = range(6)

SENSOR_LIMIT = 1e9
"""Largest reading magnitude (state units) a sensor neuron accepts; beyond it the reading is held."""


@cached_njit
def gradient_network_tick(
    x, weights, sensor_weights, lower, upper, thresholds, sensor_thresholds,
    step, beta, iterations, n_inputs, dual, dense,
    state, x_hat, a, b, commands, states, activity, raster, shift=True,
):  # fmt: skip
    """One control tick: encode x, K iterations, decode U into `commands` (n,) and roll out `states`.

    `shift`: shift the warm start by one plan step first (else start from the last plan as it is).

    weights W (n, n) symmetric; sensor_weights E' (nx, n) (row m: fan-out of sensor m); lower/upper:
    prox bounds (n,); thresholds (n,), sensor_thresholds (nx,); state (6, n) rows ITERATE z, SENT w,
    RECEIVED w_hat, ACCUMULATED W w_hat, INPUT b = E x_hat, GRADIENT scratch; x_hat (nx,) the state the
    network knows; a, b the model (for the predicted states (N+1, nx)); activity (4,) int64 counters;
    raster uint8 (K + dual, n + nx) is zeroed, then gets 1 per event (see the module docstring), or
    (0, n + nx) to record nothing. Non-finite sensor values are ignored (x_hat keeps its last value).
    """
    n = weights.shape[0]
    nx = x.shape[0]
    z, w = state[ITERATE], state[SENT]
    raster.fill(0)
    spikes = _encode(x, sensor_weights, sensor_thresholds, dense, state, x_hat, raster)
    if shift:
        for i in range(n - n_inputs):
            z[i] = z[i + n_inputs]
    for i in range(n):
        w[i] = z[i]
    for k in range(iterations):
        spikes += _gradient(weights, thresholds, dense, state, raster, k)
        momentum = beta if k < iterations - 1 else 0.0
        _prox_step(step, momentum, lower, upper, dual, state)
    if dual:
        spikes += _gradient(weights, thresholds, dense, state, raster, iterations)
        for i in range(n):
            commands[i] = min(max(-state[GRADIENT, i], lower[i]), upper[i])
    else:
        for i in range(n):
            commands[i] = z[i]
    _rollout(x_hat, a, b, commands, states)
    macs = iterations * n * n + nx * n + (n * n if dual else 0)
    activity[DENSE_MACS] = macs
    activity[SPIKES] = 0 if dense else spikes
    activity[SYNAPTIC_EVENTS] = 0 if dense else spikes * n
    activity[NEURON_UPDATES] = 0 if dense else iterations * n + nx


@cached_njit
def _encode(x, sensor_weights, sensor_thresholds, dense, state, x_hat, raster):
    """Sensor neurons: update x_hat and b = E x_hat (dense: every product); returns events sent.

    A reading that is non-finite or beyond +-SENSOR_LIMIT is ignored (x_hat holds its last value), so no
    reading can overflow the network's accumulators.

    Sensor m's event is marked in raster[0, n + m] (if the raster has rows).
    """
    n = state.shape[1]
    b = state[INPUT]
    record = raster.shape[0] > 0
    events = 0
    for m in range(x.shape[0]):
        change = x[m] - x_hat[m]
        if abs(x[m]) <= SENSOR_LIMIT and (dense or abs(change) > sensor_thresholds[m]):
            x_hat[m] = x[m]
            if not dense:
                events += 1
                if record:
                    raster[0, n + m] = 1
                for i in range(n):
                    b[i] += sensor_weights[m, i] * change
    if dense:
        for i in range(n):
            total = 0.0
            for m in range(x.shape[0]):
                total += sensor_weights[m, i] * x_hat[m]
            b[i] = total
    return events


@cached_njit
def _gradient(weights, thresholds, dense, state, raster, row):
    """GRADIENT = W w_hat + b: events from every neuron whose value moved (dense: full product).

    Neuron j's event is marked in raster[row, j] (if the raster has rows).
    """
    n = weights.shape[0]
    w, w_hat, accumulated = state[SENT], state[RECEIVED], state[ACCUMULATED]
    b, gradient = state[INPUT], state[GRADIENT]
    events = 0
    if dense:
        for i in range(n):
            total = b[i]
            for j in range(n):
                total += weights[i, j] * w[j]
            gradient[i] = total
        return events
    record = raster.shape[0] > 0
    for j in range(n):
        change = w[j] - w_hat[j]
        if abs(change) > thresholds[j]:
            w_hat[j] = w[j]
            events += 1
            if record:
                raster[row, j] = 1
            for i in range(n):  # W is symmetric: row j is the fan-out of neuron j
                accumulated[i] += weights[j, i] * change
    for i in range(n):
        gradient[i] = accumulated[i] + b[i]
    return events


@cached_njit
def _prox_step(step, momentum, lower, upper, dual, state):
    """z <- prox(w - s g) (clip to [lower, upper], or its dual dead zone); w <- z + momentum (z - z_old),

    without the momentum term for a neuron whose step went uphill.
    """
    z, w, gradient = state[ITERATE], state[SENT], state[GRADIENT]
    for i in range(z.shape[0]):
        v = w[i] - step * gradient[i]
        if dual:
            updated = v - step * min(max(v / step, lower[i]), upper[i])
        else:
            updated = min(max(v, lower[i]), upper[i])
        uphill = (w[i] - updated) * (updated - z[i]) > 0.0
        w[i] = updated if uphill else updated + momentum * (updated - z[i])
        z[i] = updated


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


class GradientMPCController(Controller):
    """MPC by `gradient_network_tick`: one numba call per tick, all state in preallocated arrays.

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
        self.shift_every = 1
        self._ticks = 0
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
        self._ticks = 0

    def qp_initial_state(self, observation: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        """x0 = x - x_ref of the QP this controller solves for `observation` (a reused array)."""
        return self._error.error_of(np.asarray(observation, dtype=np.float64), reference)

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Returns a reused array (u_op + the plan's first command): copy it to keep it past the next tick."""
        problem = self.qp_problem
        shift = self._ticks % self.shift_every == 0
        self._ticks += 1
        gradient_network_tick(
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
        if config.state_input == "population":
            self.state_populations = StatePopulations(config.population, model.n_states, model.dt)

    def reset(self, seed: int) -> None:
        super().reset(seed)
        if self.state_populations is not None:
            self.state_populations.reset(seed)

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        if self.state_populations is None:
            return super().act(observation, reference)
        action = super().act(self.state_populations.encode(observation), reference)
        self.activity[: len(ACTIVITY_FIELDS)] += self.state_populations.activity
        return action

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
