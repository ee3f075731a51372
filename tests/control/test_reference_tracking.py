"""References and operating points: LQR and MPC (exact, spiking, dense) track a non-zero x_ref on a
small linear model, offsets x_op/u_op and an output map C are honoured."""

import numpy as np
import pytest

from neuroctl.config import ConfigError
from neuroctl.control.base import LinearModel
from neuroctl.control.linear import model_from_continuous
from neuroctl.control.lqr import LQRConfig, LQRController
from neuroctl.control.mpc import ExactMPCConfig, ExactMPCController, ExactQPSolver, qp_error
from neuroctl.control.registry import build_controller, load_controller_config
from neuroctl.control.spiking_mpc import DenseMPCConfig, DenseMPCController, SpikingMPCConfig, SpikingMPCController

Q, R = (10.0, 1.0), (1.0,)
REFERENCE = np.array([0.8, 0.0])  # a set point of the double integrator (an equilibrium at u = 0)


def double_integrator(dt=0.02, **offsets) -> LinearModel:
    model = model_from_continuous(np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[0.0], [1.0]]), dt,
                                  np.array([-2.0]), np.array([2.0]))
    return LinearModel(model.A, model.B, model.dt, model.u_low, model.u_high, **offsets)


def closed_loop(controller, model, x0, reference, ticks=400):
    """x[k+1] = x_op + A (x - x_op) + B (u - u_op); returns the states and actions."""
    x = np.array(x0, float)
    states, actions = [x], []
    for _ in range(ticks):
        u = controller.act(x, reference).copy()
        assert model.u_low[0] - 1e-12 <= u[0] <= model.u_high[0] + 1e-12
        x = model.x_op + model.A @ (x - model.x_op) + model.B @ (u - model.u_op)
        states.append(x)
        actions.append(u)
    return np.array(states), np.array(actions)


def controllers(model):
    return {
        "lqr": LQRController(LQRConfig(q=Q, r=R), model, 2),
        "exact": ExactMPCController(ExactMPCConfig(q=Q, r=R, horizon=20), model, 2),
        "spiking": SpikingMPCController(SpikingMPCConfig(q=Q, r=R, horizon=20, theta_sensor=1e-5), model, 2),
        "dense": DenseMPCController(DenseMPCConfig(q=Q, r=R, horizon=20), model, 2),
    }


@pytest.mark.parametrize("name", ["lqr", "exact", "spiking", "dense"])
def test_converges_to_a_nonzero_reference(name):
    model = double_integrator()
    controller = controllers(model)[name]
    controller.reset(0)
    states, actions = closed_loop(controller, model, [0.0, 0.0], REFERENCE)
    np.testing.assert_allclose(states[-1], REFERENCE, atol=2e-3)
    assert np.abs(actions).max() == pytest.approx(2.0)  # a 0.8 step saturates the actuator at first


def test_spiking_plan_is_close_to_the_exact_qp_solution_with_a_reference():
    model = double_integrator()
    spiking = controllers(model)["spiking"]
    spiking.reset(0)
    solver = ExactQPSolver(spiking.qp_problem, tolerance=1e-10)
    exact = np.zeros(spiking.qp_problem.n_decisions)
    x, errors = np.zeros(2), []
    for _ in range(200):
        u = spiking.act(x, REFERENCE).copy()
        errors.append(qp_error(spiking.qp_problem, spiking.last_solution,
                               solver.solve_into(spiking.qp_initial_state(x, REFERENCE), exact)))
        x = model.A @ x + model.B @ u
    assert np.mean(errors) < 5e-3 and np.max(errors) < 5e-2


def test_exact_mpc_tracks_as_it_regulates_the_shifted_state():
    """With a reference that is an equilibrium, MPC at x is the regulator at x - x_ref, shifted back."""
    model = double_integrator()
    tracking, regulating = (ExactMPCController(ExactMPCConfig(q=Q, r=R), model, 2) for _ in range(2))
    x = np.array([0.3, -0.2])
    u_tracking = tracking.act(x, REFERENCE).copy()
    np.testing.assert_allclose(u_tracking, regulating.act(x - REFERENCE), atol=1e-12)
    np.testing.assert_allclose(tracking.predicted_states, regulating.predicted_states + REFERENCE, atol=1e-12)


@pytest.mark.parametrize("name", ["lqr", "exact", "spiking", "dense"])
def test_operating_point_offsets(name):
    """About (x_op, u_op): at x = x_ref = x_op the command is u_op, and the loop settles there."""
    x_op, u_op = np.array([0.5, 0.0]), np.array([0.7])
    model = double_integrator(x_op=x_op, u_op=u_op)
    controller = controllers(model)[name]
    controller.reset(0)
    np.testing.assert_allclose(controller.act(x_op, x_op), u_op, atol=1e-9)
    controller.reset(0)
    target = x_op + np.array([0.2, 0.0])
    states, actions = closed_loop(controller, model, x_op, target)
    np.testing.assert_allclose(states[-1], target, atol=2e-3)
    np.testing.assert_allclose(actions[-1], u_op, atol=2e-2)


def test_reference_none_is_zero_and_the_default_model_has_zero_offsets():
    model = double_integrator()
    assert np.all(model.x_op == 0.0) and np.all(model.u_op == 0.0) and model.C is None
    lqr = LQRController(LQRConfig(q=Q, r=R), model, 2)
    x = np.array([0.1, 0.2])
    np.testing.assert_array_equal(lqr.act(x).copy(), lqr.act(x, np.zeros(2)))


def test_output_map_observation_gives_the_state_controller_action():
    """observation = y_op + C (x - x_op): the controller reads x back (C has full column rank)."""
    c = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y_op = np.array([1.0, -1.0, 0.5])
    x_op = np.array([0.1, 0.0])
    mapped = double_integrator(x_op=x_op, C=c, y_op=y_op)
    plain = double_integrator(x_op=x_op)
    x = np.array([0.3, -0.1])
    observation = y_op + c @ (x - x_op)
    for config, cls in ((LQRConfig(q=Q, r=R), LQRController), (ExactMPCConfig(q=Q, r=R), ExactMPCController),
                        (DenseMPCConfig(q=Q, r=R), DenseMPCController)):
        with_c, without = cls(config, mapped, 3), cls(config, plain, 2)
        np.testing.assert_allclose(with_c.act(observation, REFERENCE), without.act(x, REFERENCE), atol=1e-9)
    with pytest.raises(ValueError, match="observation_size"):
        LQRController(LQRConfig(q=Q, r=R), mapped, 2)


def test_computed_torque_kind_needs_a_rigid_body_robot(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kind: computed_torque_pd\n")
    kind, config = load_controller_config(path)
    with pytest.raises(ConfigError, match="kind: 'computed_torque_pd' needs a robot with a rigid-body model"):
        build_controller(kind, config, double_integrator(), 2, path, robot=object())
