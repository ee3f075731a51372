"""Plots for any robot: labels, units and limits from the environment's description, many joints
grouped by unit, commands against each actuator's own limit, the task's tracking error."""

import gymnasium
import numpy as np
import pytest

import neuroctl  # noqa: F401  (registers the ids)
from neuroctl.viz.info import RunInfo, run_info
from neuroctl.viz.plots import sensor_groups, state_figure


pytestmark = pytest.mark.filterwarnings("error::UserWarning")  # e.g. a collapsed layout

ARM_TORQUES_NM = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
METRICS = {"task": {"success": True}, "duration_s": 0.5, "interrupted": False, "aborted": False}


@pytest.fixture(scope="module")
def arm_run():
    """50 ticks of 10 ms of the arm under computed-torque PD towards its first target: (info, trajectory)."""
    env = gymnasium.make("neuroctl/ArmReach-v0", control_period_s=0.01, n_targets=1, target_hold_s=1.0)
    arm = env.unwrapped
    observation, _ = env.reset(seed=1)
    reference, q, qd, h, mass = np.zeros(14), np.zeros(7), np.zeros(7), np.zeros(7), np.zeros((7, 7))
    observations, actions = [], []
    for _ in range(50):
        arm.reference(reference)
        arm.joint_state(observation, q, qd)
        arm.bias_torques(q, qd, h)
        arm.mass_matrix(q, mass)
        action = np.clip((mass @ (25.0 * (reference[:7] - q) - 10.0 * qd) + h) / arm.joint_torque_limits_nm, -1, 1)
        observations.append(observation)
        actions.append(action)
        observation, *_ = env.step(action.astype(np.float32))
    info = run_info("neuroctl/ArmReach-v0", "pd", 1, env, None)
    trajectory = {"time_s": np.arange(50) * 0.01, "observation": np.array(observations),
                  "action": np.array(actions)}
    yield info, trajectory
    env.close()


def test_arm_info_comes_from_its_description(arm_run):
    info, _ = arm_run
    assert info.state_labels[0] == "joint 1 position (rad)" and info.state_labels[7] == "joint 1 velocity (rad/s)"
    assert info.state_labels[14] == "end effector x (m)" and info.names[17] == "target x"
    assert info.command_labels[4] == "joint 5 torque (N m)"
    assert info.command_limits == ARM_TORQUES_NM and info.command_scales == ARM_TORQUES_NM
    assert info.error_names == ("ee_x_error", "ee_y_error", "ee_z_error")


def test_arm_sensors_are_grouped_by_unit(arm_run):
    info, _ = arm_run
    assert sensor_groups(info) == [("angles (rad)", list(range(7))),
                                   ("angular velocities (rad/s)", list(range(7, 14))),
                                   ("positions (m)", list(range(14, 20)))]


def test_arm_figure_has_grouped_panels_commands_in_percent_and_the_tracking_error(arm_run):
    info, trajectory = arm_run
    figure = state_figure(trajectory, METRICS, info)
    angles, speeds, positions, commands, error = figure.axes
    assert len(angles.get_lines()) == 7 and len(speeds.get_lines()) == 7 and len(positions.get_lines()) == 6
    np.testing.assert_allclose(angles.get_lines()[3].get_ydata(), trajectory["observation"][:, 3])
    assert [t.get_text() for t in commands.get_legend().get_texts()][4] == "joint 5 torque (±12 N m)"
    percent = np.array([line.get_ydata() for line in commands.get_lines()[:7]]).T
    np.testing.assert_allclose(percent, 100.0 * trajectory["action"])  # action = torque / its own limit
    assert sorted(line.get_ydata()[0] for line in commands.get_lines()[7:]) == [-100.0, 100.0]
    ee_error = trajectory["observation"][:, 14:17] - trajectory["observation"][:, 17:20]
    np.testing.assert_allclose(np.array([line.get_ydata() for line in error.get_lines()[:3]]).T, ee_error,
                               rtol=1e-6)
    norm = error.get_lines()[3].get_ydata()
    assert norm[0] > 0.1 and norm[-1] < 0.5 * norm[0]  # the PD closes in on the target
    assert commands.get_ylabel() == "commands\n(% of each limit)" and angles.get_ylabel() == "angles (rad)"


def test_cartpole_keeps_a_panel_per_component_and_the_command_in_newtons(mpc_push_run):
    _, result, _ = mpc_push_run
    info, trajectory = result.info, result.trajectory()
    assert sensor_groups(info) == [(label, [i]) for i, label in enumerate(info.state_labels)]
    figure = state_figure(trajectory, result.metrics, info)
    assert len(figure.axes) == 6  # x, theta, x_dot, theta_dot, command, prediction error
    command = figure.axes[4]
    np.testing.assert_allclose(command.get_lines()[0].get_ydata(), trajectory["action"][:, 0] * 6.0)
    assert sorted(line.get_ydata()[0] for line in command.get_lines()[1:]) == [-6.0, 6.0]


def test_an_env_without_declarations_plots_its_action_as_the_command():
    """InvertedPendulum-v5 declares nothing: obs[i], act[0] in [-3, 3], the command is the action."""
    pytest.importorskip("mujoco")
    with gymnasium.make("InvertedPendulum-v5") as env:
        info = run_info("InvertedPendulum-v5", "lqr", 0, env, None)
    assert info.state_labels == ("obs[0]", "obs[1]", "obs[2]", "obs[3]")
    assert info.actuators == (("act[0]", 3.0, 1.0),) and info.tracking_error is None
    action = np.linspace(-2.0, 2.0, 20)[:, None]
    trajectory = {"time_s": np.arange(20) * 0.04, "observation": np.zeros((20, 4)), "action": action}
    command = state_figure(trajectory, METRICS, info).axes[4]
    np.testing.assert_allclose(command.get_lines()[0].get_ydata(), action[:, 0])
    assert sorted(line.get_ydata()[0] for line in command.get_lines()[1:]) == [-3.0, 3.0]


def test_many_unitless_sensors_are_split_into_panels_of_eight():
    info = RunInfo(title="t", control_period_s=0.01, state_labels=tuple(f"obs[{i}]" for i in range(20)),
                   command_label="act[0]", command_scale=1.0)
    groups = sensor_groups(info)
    assert [indices for _, indices in groups] == [list(range(0, 8)), list(range(8, 16)), list(range(16, 20))]
    assert [title for title, _ in groups] == [f"readings (no unit), {k} of 3" for k in (1, 2, 3)]
