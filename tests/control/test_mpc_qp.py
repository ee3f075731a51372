"""The condensed MPC QP against brute-force rollouts, its dual data, and the exact solver (KKT)."""

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

from neuroctl.control.base import DENSE_MACS
from neuroctl.control.linear import cartpole_approximation, dlqr, random_model
from neuroctl.control.mpc import ExactMPCConfig, ExactMPCController, ExactQPSolver, qp_error, shift_warm_start
from neuroctl.control.qp import build_mpc_problem, fixed_point_residual, step_and_momentum

CARTPOLE = (cartpole_approximation(), np.diag([1.0, 10.0, 0.1, 0.1]), np.array([[1.0]]))  # config defaults
RANDOM = (random_model(3, 3, 2, spectral_radius=1.1), np.diag([1.0, 2.0, 0.5]), np.diag([0.3, 1.0]))
ACTIVE_START = {1: np.array([0.0, 0.15, 0.0, 0.0]), 2: 10.0 * np.random.default_rng(4).standard_normal(3)}
SYSTEMS = pytest.mark.parametrize("system", [CARTPOLE, RANDOM], ids=["cartpole", "random-2-input"])


def _rollout_cost(model, q, r, p, x0, commands, reference):
    """sum_{k<N} (x_k - r_k)'Q(x_k - r_k) + u_k'R u_k + (x_N - r_N)'P(x_N - r_N), simulating forward."""
    x, cost = x0.copy(), 0.0
    for k, u in enumerate(commands):
        error = x - reference[k]
        cost += error @ q @ error + u @ r @ u
        x = model.A @ x + model.B @ u
    error = x - reference[len(commands)]
    return cost + error @ p @ error


@SYSTEMS
def test_qp_objective_equals_the_rollout_cost_up_to_a_constant(system):
    model, q, r = system
    horizon = 12
    problem = build_mpc_problem(model, q, r, horizon)
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal(model.n_states)
    reference = np.vstack([np.zeros(model.n_states), rng.standard_normal((horizon, model.n_states))])
    gaps = []
    for _ in range(5):
        commands = rng.uniform(-1, 1, (horizon, model.n_inputs))
        rollout = _rollout_cost(model, q, r, problem.P, x0, commands, reference)
        gaps.append(rollout - problem.objective(x0, commands, reference[1:]))
    np.testing.assert_allclose(gaps, gaps[0], rtol=1e-10, atol=1e-9)


@SYSTEMS
def test_predicted_states_follow_the_model(system):
    model, q, r = system
    problem = build_mpc_problem(model, q, r, 9)
    rng = np.random.default_rng(8)
    x0, commands = rng.standard_normal(model.n_states), rng.standard_normal((9, model.n_inputs))
    states = problem.predict(x0, commands)
    np.testing.assert_allclose(states[0], x0)
    for k in range(9):
        np.testing.assert_allclose(states[k + 1], model.A @ states[k] + model.B @ commands[k], atol=1e-12)


@SYSTEMS
def test_unconstrained_first_move_is_lqr_and_dual_data_invert_the_hessian(system):
    model, q, r = system
    problem = build_mpc_problem(model, q, r, 30)
    k, _ = dlqr(model, q, r)
    x0 = np.random.default_rng(9).standard_normal(model.n_states)
    unconstrained = -np.linalg.solve(problem.H, problem.F @ x0)
    np.testing.assert_allclose(unconstrained[: model.n_inputs], -k @ x0, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(problem.M @ problem.H, np.eye(problem.n_decisions), atol=1e-8)
    np.testing.assert_allclose(problem.C @ x0, unconstrained, rtol=1e-7, atol=1e-9)


def test_hessian_conditioning_grows_with_the_horizon_on_the_unstable_plant():
    model, q, r = CARTPOLE
    kappa = [np.linalg.cond(build_mpc_problem(model, q, r, n).H) for n in (20, 40, 60, 80)]
    np.testing.assert_allclose(kappa, [11.6, 94.2, 603, 3390], rtol=0.01)
    leading = [np.linalg.cond(build_mpc_problem(model, q, r, n).M[:20, :20]) for n in (20, 80)]
    assert leading[1] == pytest.approx(leading[0], rel=1e-6)  # the dual's blocks do not depend on N


def _reference_solution(problem, x0):
    """Independent solve: min ||L'U + L^-1 q||^2 over the box, H = LL' (bounded least squares)."""
    chol = np.linalg.cholesky(problem.H)
    target = -scipy.linalg.solve_triangular(chol, problem.linear_term(x0), lower=True)
    bounds = (problem.lower, problem.upper)
    return scipy.optimize.lsq_linear(chol.T, target, bounds=bounds, method="bvls", tol=1e-14).x


@SYSTEMS
def test_exact_solver_meets_kkt_with_active_bounds(system):
    model, q, r = system
    problem = build_mpc_problem(model, q, r, 20)
    x0 = ACTIVE_START[model.n_inputs]
    solution = ExactQPSolver(problem, tolerance=1e-9).solve(x0)
    gradient = problem.H @ solution + problem.linear_term(x0)
    at_lower = np.isclose(solution, problem.lower, atol=1e-12)
    at_upper = np.isclose(solution, problem.upper, atol=1e-12)
    free = ~(at_lower | at_upper)
    assert at_lower.sum() + at_upper.sum() >= 3 and free.sum() >= 3
    assert np.all(gradient[at_lower] >= -1e-7) and np.all(gradient[at_upper] <= 1e-7)
    step, _ = step_and_momentum(problem.H)  # the residual is in action units: gradient times 1/L
    assert np.max(np.abs(gradient[free])) * step <= 1e-9
    assert fixed_point_residual(problem, x0, solution) <= 1e-9
    # A residual of 1e-9 bounds the error by about kappa(H) * 1e-9 (kappa = 12 and 615 here).
    assert qp_error(problem, solution, _reference_solution(problem, x0)) < 1e-6


def test_shift_warm_start_repeats_the_last_block():
    plan = np.arange(6.0)
    shift_warm_start(plan, n_inputs=2)
    np.testing.assert_array_equal(plan, [2, 3, 4, 5, 4, 5])


def test_exact_mpc_controller_plans_within_bounds_and_counts_its_macs():
    model, q, r = CARTPOLE
    controller = ExactMPCController(ExactMPCConfig(horizon=20), model, observation_size=4)
    controller.reset(0)
    x0 = np.array([0.0, 0.3, 0.0, 0.0])
    action = controller.act(x0)
    problem = controller.qp_problem
    np.testing.assert_allclose(
        controller.predicted_commands.ravel(), _reference_solution(problem, x0), atol=1e-7
    )
    np.testing.assert_array_equal(action, controller.predicted_commands[0])
    np.testing.assert_allclose(controller.predicted_states, problem.predict(x0, controller.last_solution))
    assert np.all(np.abs(controller.last_solution) <= 1.0)
    assert controller.activity[DENSE_MACS] == controller.solver.iterations * 400 + 4 * 20


@SYSTEMS
def test_a_sequence_of_solves_is_the_solves_one_by_one(system):
    model, q, r = system
    problem = build_mpc_problem(model, q, r, 15)
    x0s = 0.3 * np.random.default_rng(9).standard_normal((25, model.n_states))
    x0s[3] = ACTIVE_START[model.n_inputs]  # a start with the bounds active
    one_by_one, solution = ExactQPSolver(problem), np.zeros(problem.n_decisions)
    expected = np.array([one_by_one.solve_into(x0, solution).copy() for x0 in x0s])
    together = ExactQPSolver(problem)
    solutions = together.solve_sequence(x0s, np.full_like(expected, np.nan))
    np.testing.assert_array_equal(solutions, expected)
    assert together.iterations == one_by_one.iterations > 0
    assert np.any(np.isin(solutions[3], (problem.lower, problem.upper)))
