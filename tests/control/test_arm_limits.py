"""The arm's joint limits as state bounds of its MPC (neuroctl/ArmReach-v0): the spiking PIPG planner and
the exact one (DAQP) reach the first two targets within 1 cm while the joint speeds stay within the bound
that the unconstrained planner exceeds."""

import numpy as np
import pytest

import neuroctl  # noqa: F401  (registers the environments)
from neuroctl.activity import CPU_MACS, DENSE_MACS, SPIKES, SYNAPTIC_EVENTS, WEIGHT_UPDATES
from neuroctl.control.computed_torque import JointLimitsSection, dynamics_macs, joint_state_bounds
from neuroctl.control.registry import load_controller_config

from test_computed_torque import CONFIGS, HOLD_S, build, env, run  # noqa: F401  (env: the arm tests' fixture)

SPEED_RAD_S = 1.5  # computed_torque.joint_speed_rad_s of the arm configs, the bound the limits configs use
SEED = 1  # not the seed the thresholds were chosen on (0)


def reach(env, controller):
    """(distances after each step, actions, activity, max |qd| observed) over the two target windows."""
    speeds = []
    ticks = 2 * int(round(HOLD_S / env.unwrapped.control_period_s))
    distances, actions, activity = run(env, controller, ticks, seed=SEED,
                                       each_tick=lambda observation, _: speeds.append(np.max(np.abs(observation[7:14]))))
    return distances, actions, activity, max(speeds)


def assert_reaches_both_targets(env, distances):
    ticks_per_target = int(round(HOLD_S / env.unwrapped.control_period_s))
    for window in range(2):
        assert distances[(window + 1) * ticks_per_target - 2] < 0.01


def test_the_unconstrained_planner_exceeds_the_speed_bound(env):
    *_, speed = reach(env, build(env, "arm_mpc"))
    assert speed > 1.1 * SPEED_RAD_S  # measured 1.68 rad/s on seed 1


@pytest.mark.parametrize("name", ["arm_mpc_limits", "arm_mpc_dense_limits", "arm_mpc_exact_limits"])
def test_limited_planners_reach_both_targets_within_the_speed_bound(env, name):
    controller = build(env, name)
    distances, actions, activity, speed = reach(env, controller)
    assert_reaches_both_targets(env, distances)
    assert np.all(np.abs(actions) <= 1.0)
    # exact: the plan holds the bound, the plant follows the model to ~1e-5; PIPG: within 0.2 % of it
    assert speed <= SPEED_RAD_S * (1.0001 if name == "arm_mpc_exact_limits" else 1.002)
    rows = controller.planner.constraints.n_rows
    assert rows == 20 * 4 * 7  # upper and lower bounds on 7 positions and 7 speeds, 20 plan steps
    linear_terms = 140 * 14 + 2 * rows * 14
    assert np.all(activity[1:, CPU_MACS] == dynamics_macs(7) + linear_terms)
    if name == "arm_mpc_limits":
        raster = controller.spike_raster
        assert raster.shape == (11, 140 + rows) and raster.sum() == activity[-1, SPIKES]  # the last tick's events
        synapses = np.count_nonzero(controller.planner.constraints.G)  # a joint's rows see its own inputs only
        assert synapses < rows * 140 / 7
        assert activity[0, WEIGHT_UPDATES] == 140 * 140 + 2 * synapses and not activity[1:, WEIGHT_UPDATES].any()
        assert activity[:, SYNAPTIC_EVENTS].sum() < 0.05 * activity[:, DENSE_MACS].sum()  # measured 0.027
    else:
        assert controller.solves_exactly == (name == "arm_mpc_exact_limits")
        assert not activity[:, SYNAPTIC_EVENTS].any() and not activity[:, WEIGHT_UPDATES].any()


def test_joint_bounds_are_the_urdf_limits_and_the_speed_bound(env):
    robot = env.unwrapped
    kind, config = load_controller_config(CONFIGS / "arm_mpc_limits.yaml")
    x_low, x_high = joint_state_bounds(robot, config.joint_limits, config.computed_torque)
    np.testing.assert_array_equal(x_low[:7], robot.joint_lower_rad)
    np.testing.assert_array_equal(x_high[:7], robot.joint_upper_rad)
    np.testing.assert_array_equal(x_high[7:], np.full(7, SPEED_RAD_S))
    np.testing.assert_array_equal(x_low[7:], -x_high[7:])
    limits = JointLimitsSection(enabled=True, position_margin_rad=0.1, speed_rad_s=0.5)
    x_low, x_high = joint_state_bounds(robot, limits, config.computed_torque)
    np.testing.assert_allclose(x_high - x_low, np.concatenate((robot.joint_upper_rad - robot.joint_lower_rad - 0.2,
                                                               np.full(7, 1.0))))


def test_joint_limits_need_a_solver_that_takes_rows(env):
    with pytest.raises(ValueError, match="qp_solver: fista solves the box only; expected daqp or osqp"):
        build(env, "arm_mpc_exact_limits", qp_solver="fista")
    with pytest.raises(ValueError, match="joint_limits: the PIPG planner takes the state directly"):
        build(env, "arm_mpc_limits", state_input="population")


def test_daqp_on_the_box_only_qp_plans_what_fista_plans(env):
    fista, daqp = build(env, "arm_mpc_exact"), build(env, "arm_mpc_exact", qp_solver="daqp")
    assert daqp.planner.constraints.n_rows == 0
    actions = [run(env, controller, 300, seed=SEED)[1] for controller in (fista, daqp)]
    np.testing.assert_allclose(actions[0], actions[1], atol=1e-7)  # measured 4e-9 (FISTA's tolerance 1e-9)
