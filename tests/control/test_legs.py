"""The trot controller's compiled per-foot loops against the same maths written with numpy."""

import numpy as np

from neuroctl.control.gait import raibert_foothold, swing_trajectory
from neuroctl.control.legs import leg_torques, lever_arms


def test_leg_torques_are_stance_forces_through_the_jacobians_and_the_swing_pd_elsewhere():
    rng = np.random.default_rng(7)
    rotation = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    jacobians, feet, qd = rng.standard_normal((4, 3, 3)), rng.standard_normal((4, 3)), rng.standard_normal(12)
    forces = rng.uniform(-20.0, 20.0, (4, 3))
    forces[:, 2] = (60.0, 0.0, 45.0, 30.0)  # foot 1 stands without a planned force: it is held by the PD
    stance, previous = np.array((1.0, 1.0, 0.0, 1.0)), np.array((1.0, 1.0, 0.0, 0.0))
    liftoff, progress = rng.standard_normal((4, 3)), np.array((0.0, 0.0, 0.4, 0.0))
    hips, velocity, command = rng.standard_normal((4, 3)), np.array((0.4, -0.1)), np.array((0.5, 0.1, 0.3))
    kp, kd, limits = np.array((700.0, 600.0, 500.0)), np.array((20.0, 15.0, 10.0)), np.full(12, 33.5)
    torque, action = np.zeros(12), np.zeros(12)
    expected_liftoff = liftoff.copy()
    expected_liftoff[1] = feet[1]  # leaves stance on this tick
    leg_torques(stance, forces, rotation, jacobians, qd, feet, previous, liftoff, progress, hips, velocity, 0.2,
                command, 0.216, 0.144, 0.03, -0.28, 0.08, kp, kd, limits, np.zeros((4, 3)), torque, action)
    expected = np.zeros(12)
    for foot in (0, 3):
        expected[3 * foot:3 * foot + 3] = -(jacobians[foot].T @ (rotation.T @ forces[foot]))
    for foot in (1, 2):
        foothold, target, target_velocity = np.zeros(3), np.zeros(3), np.zeros(3)
        raibert_foothold(hips[foot], velocity, 0.2, command[:2], command[2], 0.216, 0.03, -0.28, foothold)
        swing_trajectory(1.0 if foot == 1 else 0.4, expected_liftoff[foot], foothold, 0.08, 0.144, target,
                         target_velocity)
        pd = kp * (target - feet[foot]) + kd * (target_velocity - jacobians[foot] @ qd[3 * foot:3 * foot + 3])
        expected[3 * foot:3 * foot + 3] = jacobians[foot].T @ pd
    expected = np.clip(expected, -limits, limits)
    assert np.any(np.abs(expected) == limits) and np.any(np.abs(expected) < limits)  # both cases occur
    np.testing.assert_allclose(torque, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(action, expected / limits, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(stance, (1.0, 0.0, 0.0, 1.0))
    np.testing.assert_array_equal(previous, stance)
    np.testing.assert_array_equal(liftoff, expected_liftoff)


def test_lever_arms_keep_standing_feet_until_their_first_swing_step_then_use_the_landing_foothold():
    horizon, step_s = 10, 0.025
    contacts = np.ones((horizon, 4))
    contacts[4:8, 0] = 0.0  # foot 0 stands for 4 steps, then swings
    contacts[:3, 1] = 0.0  # foot 1 swings now and lands in step 3
    stance = np.array((1.0, 0.0, 1.0, 1.0))
    touchdown = np.array((0.3, 0.07, 0.2, 0.2))
    x_ref = np.zeros((horizon, 13))
    x_ref[:, 2] = np.linspace(0.0, 0.3, horizon)  # yaw
    x_ref[:, 3], x_ref[:, 5] = np.linspace(0.01, 0.1, horizon), 0.3
    centres = np.vstack(([0.0, 0.0, 0.29], x_ref[:-1, 3:6]))
    feet_world = np.array(((0.2, -0.13, 0.0), (0.2, 0.13, 0.0), (-0.2, -0.13, 0.0), (-0.2, 0.13, 0.0)))
    hips, velocity, command = feet_world.copy(), np.array((0.3, 0.0)), np.array((0.5, 0.0, 0.2))
    offsets = np.full((horizon, 4, 3), np.nan)
    lever_arms(stance, contacts, touchdown, step_s, x_ref, centres, feet_world, 0.01, hips, velocity, 0.1, command,
               0.216, 0.03, -0.28, np.zeros((3, 3)), offsets)
    np.testing.assert_array_equal(offsets[:4, 0], feet_world[0] - centres[:4])
    np.testing.assert_array_equal(offsets[:, 2], feet_world[2] - centres)  # stands throughout

    def landing(foot, at):
        foothold = np.zeros(3)
        raibert_foothold(hips[foot], velocity, 0.1, command[:2], command[2], 0.216, 0.03, -0.28, foothold)
        c, s = np.cos(at[2]), np.sin(at[2])
        return np.array((at[3] + c * foothold[0] - s * foothold[1], at[4] + s * foothold[0] + c * foothold[1],
                         at[5] - 0.01 + foothold[2]))

    # foot 1 lands from the reference pose of the step before its touchdown (0.07 s: step 2, pose x_ref[1]);
    # foot 0, standing now, from the horizon's last pose once it leaves the ground
    np.testing.assert_allclose(offsets[:, 1], landing(1, x_ref[1]) - centres, rtol=0, atol=1e-15)
    np.testing.assert_allclose(offsets[4:, 0], landing(0, x_ref[-1]) - centres[4:], rtol=0, atol=1e-15)
