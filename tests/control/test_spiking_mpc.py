"""The gradient-neuron MPC network: convergence, thresholds, events, warm start, bounds, closed loop."""

import dataclasses

import numpy as np
import pytest

from neuroctl.activity import COUNTER_FIELDS
from neuroctl.config import ConfigError, parse
from neuroctl.control.base import DENSE_MACS, NEURON_UPDATES, SPIKES, SYNAPTIC_EVENTS
from neuroctl.control.linear import cartpole_approximation, random_model
from neuroctl.control.lqr import LQRConfig, LQRController
from neuroctl.control.mpc import ExactMPCConfig, ExactMPCController, ExactQPSolver, qp_error
from neuroctl.control.spiking_mpc import (
    DenseMPCConfig,
    DenseMPCController,
    SpikingMPCConfig,
    SpikingMPCController,
    gradient_mpc_tick,
)

CARTPOLE = cartpole_approximation()
CARTPOLE_Q, CARTPOLE_R = np.diag([1.0, 10.0, 0.1, 0.1]), 1.0  # the config defaults
RANDOM = random_model(3, 3, 2, spectral_radius=1.1)
RANDOM_CONFIG = dict(q=(1.0, 2.0, 0.5), r=(0.3, 1.0))
FORMULATIONS = pytest.mark.parametrize("formulation", ["dual", "primal"])


def _spiking(model, **overrides):
    config = SpikingMPCConfig(**({} if model is CARTPOLE else RANDOM_CONFIG), **overrides)
    controller = SpikingMPCController(config, model, model.n_states)
    controller.reset(0)
    return controller


@FORMULATIONS
@pytest.mark.parametrize(
    "model, x0, iterations",
    [
        (CARTPOLE, np.array([0.0, 0.15, 0.0, 0.0]), 400),
        (RANDOM, 10.0 * np.random.default_rng(4).standard_normal(3), 2500),
    ],
    ids=["cartpole", "random-2-input"],
)
def test_converges_to_the_exact_solution_without_thresholds(formulation, model, x0, iterations):
    controller = _spiking(
        model, formulation=formulation, theta_neuron=0.0, theta_sensor=0.0, iterations=iterations
    )
    controller.act(x0)
    exact = ExactQPSolver(controller.qp_problem, tolerance=1e-12).solve(x0)
    active = np.isclose(exact, controller.qp_problem.lower) | np.isclose(exact, controller.qp_problem.upper)
    assert 0 < active.sum() < active.size
    assert qp_error(controller.qp_problem, controller.last_solution, exact) < 1e-6


def _closed_loop(controller, x0, ticks, exact_solver=None):
    """Simulate x[k+1] = A x[k] + B u[k]; returns states, actions, summed activity and QP errors."""
    model = controller.qp_problem.model
    states, actions, errors = [x0], [], []
    activity = np.zeros(len(controller.activity), dtype=np.int64)
    for _ in range(ticks):
        actions.append(controller.act(states[-1]).copy())
        activity += controller.activity
        if exact_solver is not None:
            exact = exact_solver.solve(states[-1])
            errors.append(qp_error(controller.qp_problem, controller.last_solution, exact))
        states.append(model.A @ states[-1] + model.B @ actions[-1])
    return np.array(states), np.array(actions), activity, np.array(errors)


def _cost(states, actions):
    return float(
        np.einsum("ki,ij,kj->", states[:-1], CARTPOLE_Q, states[:-1]) + CARTPOLE_R * np.sum(actions**2)
    )


@FORMULATIONS
def test_dense_twin_equals_the_spiking_network_without_thresholds(formulation):
    spiking = _spiking(CARTPOLE, formulation=formulation, theta_neuron=0.0, theta_sensor=0.0)
    dense = DenseMPCController(DenseMPCConfig(formulation=formulation), CARTPOLE, 4)
    dense.reset(0)
    x0 = np.array([0.05, 0.2, 0.0, -0.1])
    states, actions, spiking_activity, _ = _closed_loop(spiking, x0, 150)
    _, dense_actions, dense_activity, _ = _closed_loop(dense, x0, 150)
    np.testing.assert_allclose(dense_actions, actions, atol=1e-10)
    np.testing.assert_allclose(dense.last_solution, spiking.last_solution, atol=1e-10)
    assert dense_activity[SPIKES] == dense_activity[SYNAPTIC_EVENTS] == dense_activity[NEURON_UPDATES] == 0
    assert dense_activity[DENSE_MACS] == spiking_activity[DENSE_MACS] > 0


@FORMULATIONS
def test_thresholds_keep_the_error_small_and_the_events_few(formulation):
    """Default thresholds (0.002 action units, 1e-4 state units), 3 s from theta0 = 0.2 rad.

    Measured: dual QP error mean 1.3e-4, p99 1.7e-3 of the bound, synaptic events 1.3 % of the
    dense MACs; primal 1.4e-3, 2.1e-3, 12 % (this start saturates the actuator for 0.1 s).
    """
    controller = _spiking(CARTPOLE, formulation=formulation)
    x0 = np.array([0.0, 0.2, 0.0, 0.0])
    states, actions, activity, errors = _closed_loop(
        controller, x0, 300, ExactQPSolver(controller.qp_problem)
    )
    exact = ExactQPSolver(controller.qp_problem)
    exact_states, exact_actions = [x0], []
    for _ in range(300):
        exact_actions.append(exact.solve(exact_states[-1])[:1])
        exact_states.append(CARTPOLE.A @ exact_states[-1] + CARTPOLE.B @ exact_actions[-1])
    limits = {"dual": (5e-4, 3e-3, 0.03), "primal": (2e-3, 7e-3, 0.15)}[formulation]
    assert np.mean(errors) < limits[0] and np.percentile(errors, 99) < limits[1]
    assert activity[SYNAPTIC_EVENTS] / activity[DENSE_MACS] < limits[2]
    assert activity[SYNAPTIC_EVENTS] == activity[SPIKES] * 20
    assert _cost(states, actions) / _cost(np.array(exact_states), np.array(exact_actions)) < 1.001


@FORMULATIONS
def test_warm_start_is_the_last_solution_shifted_by_one_step(formulation):
    controller = _spiking(RANDOM, formulation=formulation, theta_neuron=0.0, theta_sensor=0.0, iterations=50)
    x0 = 10.0 * np.random.default_rng(4).standard_normal(3)
    controller.act(x0)
    previous = controller.iterate.copy()
    controller.iterations = 0
    controller.act(x0)
    shifted = np.concatenate([previous[2:], previous[-2:]])
    np.testing.assert_array_equal(controller.iterate, shifted)
    problem = controller.qp_problem
    expected = shifted if formulation == "primal" else problem.C @ x0 - problem.M @ shifted
    np.testing.assert_allclose(
        controller.last_solution, np.clip(expected, problem.lower, problem.upper), atol=1e-12
    )


@FORMULATIONS
def test_commands_stay_within_asymmetric_bounds(formulation):
    controller = _spiking(RANDOM, formulation=formulation)
    rng = np.random.default_rng(11)
    lower, upper = controller.qp_problem.lower, controller.qp_problem.upper
    for _ in range(50):
        action = controller.act(30.0 * rng.standard_normal(3))
        assert np.all(controller.last_solution >= lower) and np.all(controller.last_solution <= upper)
        assert np.all(action >= RANDOM.u_low) and np.all(action <= RANDOM.u_high)
        if formulation == "primal":
            assert np.all(controller.iterate >= lower) and np.all(controller.iterate <= upper)


@pytest.mark.parametrize("dense", [False, True])
def test_event_counts_on_a_hand_case(dense):
    """n = 2 neurons, one sensor, K = 2, step 1/4, no momentum (values worked by hand in the comments)."""
    weights = np.array([[2.0, 1.0], [1.0, 3.0]])
    sensor_weights = np.array([[1.0, -1.0]])
    bounds = np.full(2, 10.0)
    state, x_hat = np.zeros((6, 2)), np.zeros(1)
    commands, states, activity = np.zeros(2), np.zeros((3, 1)), np.zeros(len(COUNTER_FIELDS), dtype=np.int64)
    raster = np.full((0 if dense else 2, 3), 7, dtype=np.uint8)  # stale values: the kernel zeroes it
    gradient_mpc_tick(
        np.array([1.0]), weights, sensor_weights, -bounds, bounds, np.array([0.3, 0.05]), np.array([0.5]),
        0.25, 0.0, 2, 1, False, dense, state, x_hat, np.eye(1), np.eye(1), commands, states, activity,
        raster,
    )  # fmt: skip
    # Sensor event d = 1 (> 0.5): b = [1, -1]. Iteration 1: no neuron event, g = b, z = [-0.25, 0.25].
    # Iteration 2: neuron 0's change 0.25 < 0.3 stays silent, neuron 1 sends 0.25: W w_hat = [0.25, 0.75],
    # g = [1.25, -0.25], z = [-0.5625, 0.3125]. The dense twin uses w = [-0.25, 0.25]: g = [0.75, -0.5].
    if dense:
        np.testing.assert_allclose(commands, [-0.4375, 0.375])
        np.testing.assert_array_equal(activity, [0, 0, 0, 2 * 4 + 1 * 2, 0, 0, 0])
    else:
        np.testing.assert_allclose(commands, [-0.5625, 0.3125])
        np.testing.assert_array_equal(activity, [2, 2 * 2, 2 * 2 + 1, 2 * 4 + 1 * 2, 0, 0, 2 * 2])
        np.testing.assert_allclose(state[2], [0.0, 0.25])  # the receivers' copy of the sent values
        # columns: neurons 0, 1, then the sensor; rows: iterations (the sensor's event in the first)
        np.testing.assert_array_equal(raster, [[0, 0, 1], [0, 1, 0]])
    np.testing.assert_allclose(states[:, 0], np.cumsum([0.0, *commands]) + 1.0)


@FORMULATIONS
def test_closed_loop_on_the_linear_cartpole_converges_within_bounds(formulation):
    controller = _spiking(CARTPOLE, formulation=formulation)
    states, actions, _, _ = _closed_loop(controller, np.array([0.0, 0.2, 0.0, 0.0]), 1000)
    assert np.all(np.abs(actions) <= 1.0) and np.any(np.abs(actions) == 1.0)
    assert np.max(np.abs(states[-100:])) < 2e-3
    predicted = controller.qp_problem.predict(states[-2], controller.last_solution)
    np.testing.assert_allclose(controller.predicted_states, predicted, atol=1e-3)


@pytest.mark.parametrize(
    "build",
    [
        lambda: _spiking(CARTPOLE),
        lambda: DenseMPCController(DenseMPCConfig(), CARTPOLE, 4),
        lambda: ExactMPCController(ExactMPCConfig(), CARTPOLE, 4),
        lambda: LQRController(LQRConfig(), CARTPOLE, 4),
    ],
    ids=["spiking", "dense", "exact", "lqr"],
)
def test_non_finite_observations_are_held_at_their_last_value(build):
    clean, faulty = build(), build()
    clean.reset(0)
    faulty.reset(0)
    x = np.array([0.0, 0.1, 0.0, 0.0])
    clean.act(x)
    faulty.act(x)
    assert np.all(np.isfinite(faulty.act(np.array([np.nan, 0.1, np.inf, 0.0]))))
    clean.act(x)
    np.testing.assert_allclose(faulty.act(x), clean.act(x))


def test_configs_are_checked_against_the_model():
    with pytest.raises(ValueError, match="momentum"):
        SpikingMPCController(SpikingMPCConfig(momentum="heavy-ball"), CARTPOLE, 4)
    with pytest.raises(ValueError, match="r: expected 2 weights"):
        SpikingMPCController(dataclasses.replace(SpikingMPCConfig(), q=(1.0, 1.0, 1.0)), RANDOM, 3)


def test_configs_read_from_yaml_mappings():
    data = {"q": [1, 10, 0.1, 0.1], "r": [1], "horizon": 40, "iterations": 10, "momentum": "none"}
    config = parse(SpikingMPCConfig, {**data, "theta_neuron": 0.001, "theta_sensor": 2e-4}, "mpc.yaml")
    assert config == SpikingMPCConfig(
        horizon=40, iterations=10, momentum="none", theta_neuron=0.001, theta_sensor=2e-4
    )
    assert parse(DenseMPCConfig, data, "dense.yaml").horizon == 40
    assert parse(ExactMPCConfig, {"tolerance": 1e-8, "max_iterations": 500}, "exact.yaml").tolerance == 1e-8
    with pytest.raises(ConfigError, match="theta_neuron"):
        parse(DenseMPCConfig, {"theta_neuron": 0.01}, "dense.yaml")  # the dense twin has no thresholds


def test_fixed_point_weights_cost_accuracy_in_proportion_to_their_bits():
    """16-bit weights plan as the float network does; 8-bit ones within a few percent of the limit; the
    closed loop on the linear cart-pole still converges with 8 bits."""
    x0 = np.array([0.0, 0.15, 0.0, 0.0])
    exact = ExactQPSolver(_spiking(CARTPOLE).qp_problem).solve(x0)
    errors = {}
    for bits in (None, 16, 8):
        controller = _spiking(CARTPOLE, iterations=400, weight_bits=bits)
        controller.act(x0)
        errors[bits] = qp_error(controller.qp_problem, controller.last_solution, exact)
    assert errors[16] < 2 * errors[None] + 1e-4
    assert errors[None] < errors[8] < 0.05
    states, _, _, _ = _closed_loop(_spiking(CARTPOLE, weight_bits=8), x0, 1000)
    assert np.max(np.abs(states[-100:])) < 5e-3
