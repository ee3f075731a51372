"""Exact MPC: the condensed QP (see `neuroctl.control.qp`) solved to convergence every tick.

It tracks the tick's reference x_ref (a state the model holds at u = u_op): the QP is solved at
x0 = x - x_ref (its linear term F (x - x_ref)), and the command is u_op + u_0.

The baseline for the spiking solver's cost, and the reference for its QP error.

`ConstrainedMPCController`: the same receding horizon with polyhedral rows beside the box (state bounds
over the horizon, `neuroctl.control.qp.state_bound_constraints`), each tick's `InequalityQP` solved by
any `neuroctl.control.qp_solvers` solver: OSQP or DAQP (exact), or the spiking PIPG network and its
dense twin (K iterations per tick, warm started).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroctl.config import range_field
from neuroctl.control.base import CPU_MACS, DENSE_MACS, Controller, LinearModel, ModelState
from neuroctl.control.lqr import check_observation_size, q_field, r_field, weight_matrices
from neuroctl.control.qp import (ConstrainedMPCQP, MPCProblem, build_mpc_problem, solve_box_qp,
                                 state_bound_constraints, step_and_momentum)
from neuroctl.control.qp_solvers import QPResult, QPSolver
from neuroctl.network.jit import cached_njit
from neuroctl.network.linalg import matvec_into


def horizon_field():
    """Config field `horizon`: number of predicted control periods N."""
    return range_field(20, min=1, max=1000, doc="prediction horizon N in control periods")


class ExactQPSolver:
    """Solves the MPC QP at any x0 to a fixed-point residual <= tolerance (action units), warm started."""

    def __init__(self, problem: MPCProblem, tolerance: float = 1e-9, max_iterations: int = 100_000) -> None:
        self.problem = problem
        self.tolerance = tolerance
        self.max_iterations = max_iterations
        self.step, _ = step_and_momentum(problem.H)
        self.iterations = 0
        self._q = np.zeros(problem.n_decisions)
        self._work = np.zeros((3, problem.n_decisions))

    def solve_into(self, x0: np.ndarray, solution: np.ndarray) -> np.ndarray:
        """Solve in place from the warm start held in `solution` (n,); sets `iterations`."""
        matvec_into(self.problem.F, x0, self._q)
        self.iterations = solve_box_qp(
            self.problem.H, self._q, self.problem.lower, self.problem.upper, self.step,
            self.tolerance, self.max_iterations, solution, self._work,
        )  # fmt: skip
        return solution

    def solve_sequence(self, x0s: np.ndarray, solutions: np.ndarray) -> np.ndarray:
        """Solve the QP at each row of `x0s` (k, n_x) into the same row of `solutions` (k, n), each
        warm started from the row before (the first from zeros): what k `solve_into` calls on one
        array give, bit for bit, in one compiled call; sets `iterations` (the last solve's)."""
        problem = self.problem
        self.iterations = _solve_sequence(problem.F, problem.H, x0s, problem.lower, problem.upper, self.step,
                                          self.tolerance, self.max_iterations, self._q, self._work, solutions)
        return solutions

    def solve(self, x0: np.ndarray, warm_start: np.ndarray | None = None) -> np.ndarray:
        """New array with the solution U* (n,) at x0, from `warm_start` (default zeros)."""
        solution = np.zeros(self.problem.n_decisions) if warm_start is None else np.array(warm_start, float)
        return self.solve_into(np.asarray(x0, float), solution)


@cached_njit
def _solve_sequence(F, H, x0s, lower, upper, step, tolerance, max_iterations, q, work, solutions):
    """`ExactQPSolver.solve_sequence`: row k of `solutions` <- the QP at q = F x0s[k], from row k - 1."""
    iterations = 0
    for k in range(x0s.shape[0]):
        if k == 0:
            solutions[0, :] = 0.0
        else:
            solutions[k, :] = solutions[k - 1]
        matvec_into(F, x0s[k], q)
        iterations = solve_box_qp(H, q, lower, upper, step, tolerance, max_iterations, solutions[k], work)
    return iterations


def qp_errors(problem: MPCProblem, solutions: np.ndarray, exacts: np.ndarray) -> np.ndarray:
    """Per row (one plan U and its exact U* per row, n values each): max_i |U_i - U*_i| / bound_i, with
    bound_i = max(|lower_i|, |upper_i|): the error relative to the limit."""
    n = problem.n_decisions
    bound = np.maximum(np.abs(problem.lower), np.abs(problem.upper))
    return np.max(np.abs(np.reshape(solutions, (-1, n)) - np.reshape(exacts, (-1, n))) / bound, axis=1)


def qp_error(problem: MPCProblem, solution: np.ndarray, exact: np.ndarray) -> float:
    """`qp_errors` of one plan."""
    return float(qp_errors(problem, solution, exact)[0])


def shift_warm_start(solution: np.ndarray, n_inputs: int) -> None:
    """Shift U by one step in place: u_k <- u_{k+1}, the last block repeated."""
    solution[:-n_inputs] = solution[n_inputs:].copy()


@dataclass(frozen=True)
class ExactMPCConfig:
    """Exact MPC: the QP solved by restarted FISTA to a fixed-point residual <= tolerance."""

    q: tuple[float, ...] = q_field()
    r: tuple[float, ...] = r_field()
    horizon: int = horizon_field()
    tolerance: float = range_field(
        1e-9, min=0.0, min_exclusive=True, doc="fixed-point residual to stop at, action units"
    )
    max_iterations: int = range_field(100_000, min=1, doc="gradient evaluations allowed per tick")


class _RecedingHorizonMPC(Controller):
    """What the MPC controllers share: the condensed QP of config q, r, horizon on `model`, the plan
    (`last_solution`, `predicted_commands`, `predicted_states`), the tick's x0 and the shifted warm start."""

    def __init__(self, config, model: LinearModel, observation_size: int) -> None:
        super().__init__()
        self.config = config
        self.model = model
        self._observation_size = check_observation_size(model, observation_size)
        self.qp_problem = build_mpc_problem(model, *weight_matrices(config.q, config.r, model), config.horizon)
        n, nx, nu = self.qp_problem.n_decisions, model.n_states, model.n_inputs
        self.last_solution = np.zeros(n)
        self.predicted_commands = self.last_solution.reshape(config.horizon, nu)
        self.predicted_states = np.zeros((config.horizon + 1, nx))
        self._action = np.zeros(nu)
        self._state = ModelState(model)
        self.shift_every = 1
        self._ticks = 0

    @property
    def observation_size(self) -> int:
        return self._observation_size

    @property
    def reference_size(self) -> int:
        return self.model.n_states

    def reset(self, seed: int) -> None:
        self.last_solution[:] = 0.0
        self.predicted_states[:] = 0.0
        self._state.reset()
        self._ticks = 0
        self.activity[:] = 0

    def qp_initial_state(self, observation: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        """x0 = x - x_ref of the QP this controller solves for `observation` (a reused array)."""
        return self._state.error_of(observation, reference)

    def _start_tick(self, observation: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        """The tick's x0, after shifting the warm start (every `shift_every` ticks)."""
        x = self._state.error_of(observation, reference)
        if self._ticks % self.shift_every == 0:
            shift_warm_start(self.last_solution, self.qp_problem.n_inputs)
        self._ticks += 1
        return x

    def _finish_tick(self, x: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        """The plan rolled out from x0 (plus the reference) and the first command plus u_op."""
        problem = self.qp_problem
        self.predicted_states[:] = problem.predict(x, self.last_solution)
        if reference is not None:
            self.predicted_states += reference
        np.add(self.last_solution[: problem.n_inputs], self.model.u_op, out=self._action)
        return self._action


class ExactMPCController(_RecedingHorizonMPC):
    """Receding-horizon MPC solved to convergence each tick, warm started from the shifted last plan.

    After `act`: `predicted_commands` (N, nu) and `predicted_states` (N+1, nx) hold the plan
    (commands as offsets u - u_op, states as x_ref + predicted error), `last_solution` (N*nu,) is U*,
    `qp_problem` the QP, `qp_initial_state(observation, reference)` the x0 it was solved at. DENSE_MACS
    counts the solver's products. `shift_every` (default 1): the warm start is shifted by one plan step
    every that many ticks (a plan step longer than the control period, see `neuroctl.control.computed_torque`).
    """

    solves_exactly = True

    def __init__(self, config: ExactMPCConfig, model: LinearModel, observation_size: int) -> None:
        super().__init__(config, model, observation_size)
        self.solver = ExactQPSolver(self.qp_problem, config.tolerance, config.max_iterations)

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Returns a reused array: copy it to keep it past the next tick. Non-finite values are held."""
        x = self._start_tick(observation, reference)
        self.solver.solve_into(x, self.last_solution)
        n = self.qp_problem.n_decisions
        self.activity[DENSE_MACS] = self.solver.iterations * n * n + self.qp_problem.n_states * n
        return self._finish_tick(x, reference)


class ConstrainedMPCController(_RecedingHorizonMPC):
    """Receding-horizon MPC with state bounds x_low <= x_k <= x_high (k = 1..N, model-state units, +-inf:
    none) as rows beside the actuator box, solved each tick by `solver` from the shifted last plan.

    Built as `ConstrainedMPCController(config, model, observation_size, x_low, x_high, solver,
    solves_exactly)`, config with q, r, horizon. Exposes what `ExactMPCController` does (the plan,
    `qp_problem`, `qp_initial_state`, `shift_every`), plus `constraints` (the rows), `qp` (the tick's
    InequalityQP) and `last_result` (the solver's QPResult). `activity`: the solver's counters (zeros
    for OSQP and DAQP, which are not instrumented), plus CPU_MACS for the tick's linear terms on the
    host, q = F x0 and h = h_c + E x0 + E_ref x_ref (n nx + 2 m nx). Nothing but the solver may spike.
    """

    def __init__(self, config, model: LinearModel, observation_size: int, x_low: np.ndarray, x_high: np.ndarray,
                 solver: QPSolver, solves_exactly: bool) -> None:
        super().__init__(config, model, observation_size)
        self.solver = solver
        self.solves_exactly = solves_exactly
        self.constraints = state_bound_constraints(self.qp_problem, x_low, x_high)
        self._qp = ConstrainedMPCQP(self.qp_problem, self.constraints)
        self.qp = self._qp.qp
        self.last_result: QPResult | None = None
        self._linear_term_macs = (self.qp_problem.n_decisions * model.n_states
                                  + 2 * self.constraints.n_rows * model.n_states)

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.solver.reset()

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Returns a reused array: copy it to keep it past the next tick."""
        x = self._start_tick(observation, reference)
        result = self.solver.solve(self._qp.update(x, reference), self.last_solution)
        self.last_result = result
        self.last_solution[:] = result.u
        self.activity[:] = result.activity
        self.activity[CPU_MACS] += self._linear_term_macs
        return self._finish_tick(x, reference)
