"""neuroctl/QuadrupedTrot-v0: gymnasium conformance, the A1's description against PyBullet (torque limits,
leg kinematics and Jacobians, mass and inertia, base state), falling and standing, the command sequence,
pushes, task metrics, frames, bad kwargs."""

import functools
import os
import pickle
import re
import warnings
from xml.etree import ElementTree

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import neuroctl  # noqa: F401  (registers the ids)
from neuroctl.envs.bullet import pybullet, pybullet_data  # pybullet's banner silenced
from neuroctl.envs.quadruped import NOMINAL_JOINT_POSITIONS, QuadrupedTrotEnv
from neuroctl.envs.robot import (DeclaredRobot, LeggedRobot, PushedRobot, RenderableRobot, TaskRobot,
                                 TimedRobot)
from neuroctl.runtime.robots import describe

ENV_ID = "neuroctl/QuadrupedTrot-v0"
ALLOWED_WARNINGS: list[tuple[str, str]] = []  # (substring, reason) of checker warnings we accept: none
LEGS = ("FR", "FL", "RR", "RL")


@pytest.fixture
def make_env(build_closed):
    """Build QuadrupedTrotEnv instances, closed after the test."""
    return functools.partial(build_closed, QuadrupedTrotEnv)


@pytest.fixture(scope="module")
def shared_env():
    """One default env for tests that only read, set or reset it."""
    env = QuadrupedTrotEnv(render_mode="rgb_array")
    yield env
    env.close()


def pd_stand(env, seed, seconds, kp=60.0, kd=2.0):
    """A joint-space PD to the standing pose from the observation, tau = kp (q* - q) - kd qd (N m/rad,
    N m s/rad); returns the logged arrays (as the runtime's Recorder names them) and the last step."""
    obs, _ = env.reset(seed=seed)
    n = round(seconds / env.control_period_s)
    log = {"time_s": np.zeros(n), "controller_observation": np.zeros((n, 39)), "action": np.zeros((n, 12))}
    q, qd = np.zeros(12), np.zeros(12)
    last = None
    for k in range(n):
        env.joint_state(obs, q, qd)
        action = ((kp * (NOMINAL_JOINT_POSITIONS - q) - kd * qd) / env.joint_torque_limits_nm).astype(np.float32)
        log["time_s"][k], log["controller_observation"][k], log["action"][k] = k * env.control_period_s, obs, action
        last = env.step(action)
        obs = last[0]
        if last[2]:
            return {key: value[: k + 1] for key, value in log.items()}, last
    return log, last


def base_frame(env):
    """The trunk frame's origin (world, m) and orientation (3x3) from PyBullet alone: its base (the trunk's
    centre of mass and principal axes) moved by the inverse of the base's local inertial frame."""
    client = env.scene.client_id
    info = pybullet.getDynamicsInfo(env._body, -1, physicsClientId=client)
    com, orientation = pybullet.getBasePositionAndOrientation(env._body, physicsClientId=client)
    origin, trunk = pybullet.multiplyTransforms(com, orientation, *pybullet.invertTransform(info[3], info[4]))
    return np.array(origin), np.array(pybullet.getMatrixFromQuaternion(trunk)).reshape(3, 3)


# ---- gymnasium and the contract ----


@pytest.mark.parametrize("kwargs", [
    {},
    {"render_mode": "rgb_array", "observation_noise_std": 0.001, "control_period_s": 0.002,
     "pushes": [{"start_s": 0.0, "duration_s": 0.05, "force_n": 20.0}], "command": [0.5, 0.0, 0.0]},
])
def test_check_env_passes_without_warnings(kwargs):
    env = gymnasium.make(ENV_ID, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    env.close()
    messages = [str(w.message) for w in caught]
    assert [m for m in messages if not any(a in m for a, _ in ALLOWED_WARNINGS)] == []


def test_registration_and_declarations(shared_env):
    env = gymnasium.make(ENV_ID)
    assert env.spec.max_episode_steps is None and env.unwrapped.episode_steps == 10000
    env.close()
    env = shared_env
    assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, (12,), np.float32)
    assert env.observation_space.shape == (39,) and env.observation_space.dtype == np.float32
    for protocol in (DeclaredRobot, TaskRobot, LeggedRobot, PushedRobot, RenderableRobot, TimedRobot):
        assert isinstance(env, protocol), protocol.__name__
    assert env.joint_names == tuple(f"{leg}_{kind}_joint" for leg in LEGS for kind in ("hip", "upper", "lower"))
    assert env.foot_names == LEGS
    assert [a.limit for a in env.actuators] == list(env.joint_torque_limits_nm)
    assert [s.unit for s in env.sensors] == (["rad"] * 3 + ["m"] * 3 + ["rad/s"] * 3 + ["m/s"] * 3 + ["rad"] * 12
                                            + ["rad/s"] * 12 + ["m/s", "m/s", "rad/s"])
    description = describe(env)
    assert description.task.error_names == ("vx_error", "vy_error", "yaw_rate_error")
    assert len(description.task.cost_r) == 12
    assert description.push_description == "push on the trunk (horizontal, to its left)"


def test_torque_limits_joint_order_and_toes_are_the_urdfs(shared_env):
    env = shared_env
    root = ElementTree.parse(os.path.join(pybullet_data.getDataPath(), "a1/a1.urdf")).getroot()
    limits = {j.get("name"): j.find("limit") for j in root.iter("joint") if j.get("type") == "revolute"}
    assert list(limits) == list(env.joint_names)  # the URDF's own order
    np.testing.assert_array_equal(env.joint_torque_limits_nm, [float(limits[n].get("effort")) for n in env.joint_names])
    np.testing.assert_array_equal(env.joint_torque_limits_nm, [20.0, 55.0, 55.0] * 4)
    client = env.scene.client_id
    toes = [pybullet.getJointInfo(env._body, toe, physicsClientId=client)[12].decode() for toe in env._toes]
    assert toes == [f"{leg}_toe" for leg in LEGS]


def test_reset_is_deterministic_and_starts_standing(make_env):
    env, other = make_env(), make_env()
    first, _ = env.reset(seed=3)
    env.step(env.action_space.sample())
    again, _ = other.reset(seed=3)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other.reset(seed=4)[0])
    assert np.max(np.abs(first[12:24] - NOMINAL_JOINT_POSITIONS)) <= 0.03 + 1e-6
    assert np.max(np.abs(first[:3])) <= 0.03 + 1e-6 and not first[6:12].any() and not first[24:36].any()
    client = other.scene.client_id
    toe_heights = [pybullet.getLinkState(other._body, toe, computeForwardKinematics=1, physicsClientId=client)[4][2]
                   for toe in other._toes]
    assert min(toe_heights) == pytest.approx(0.02 + 0.001, abs=1e-7)  # toe radius + clearance
    assert other.standing_height_m == pytest.approx(0.2 * 2 * np.cos(0.9) + 0.02, abs=1e-9)


def test_set_state_round_trips_and_pickles(make_env):
    env = make_env()
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    state = env.get_state()
    state[:12] = [0.2, -0.3, 2.0, 1.0, -2.0, 0.4, 0.5, -1.0, 2.0, 0.3, -0.7, 0.1]
    state[24:36] = rng.uniform(-2.0, 2.0, 12)
    env.set_state(state)
    np.testing.assert_allclose(env.get_state(), state, atol=1e-7)
    copy = pickle.loads(pickle.dumps(env))
    try:
        np.testing.assert_allclose(copy.get_state(), state, atol=1e-7)
    finally:
        copy.close()


# ---- the legged robot against PyBullet ----


def test_leg_kinematics_and_jacobians_match_pybullet(make_env):
    """At random joint angles and base poses: the toes' link frames from PyBullet's forward kinematics
    (to 1e-7 m: measured 1.4e-8, float32 rounding in PyBullet's frames), and PyBullet's calculateJacobian, which for a floating base is in the base's principal
    axes (the trunk frame rotated by the base's inertial orientation), and central finite differences."""
    env = make_env()
    env.reset(seed=0)
    client = env.scene.client_id
    rng = np.random.default_rng(0)
    principal = np.array(pybullet.getMatrixFromQuaternion(pybullet.getDynamicsInfo(
        env._body, -1, physicsClientId=client)[4])).reshape(3, 3)
    feet, jacobians, shifted, unused = np.zeros((4, 3)), np.zeros((4, 3, 3)), np.zeros((4, 3)), np.zeros((4, 3, 3))
    for _ in range(5):
        state = np.zeros(36)
        state[:6] = rng.uniform(-0.5, 0.5, 6)
        q = env.joint_lower_rad + rng.uniform(0.05, 0.95, 12) * (env.joint_upper_rad - env.joint_lower_rad)
        state[12:24] = q
        env.set_state(state)
        env.leg_kinematics(q, feet, jacobians)
        origin, rotation = base_frame(env)
        for leg, toe in enumerate(env._toes):
            world = np.array(pybullet.getLinkState(env._body, toe, computeForwardKinematics=1,
                                                   physicsClientId=client)[4])
            np.testing.assert_allclose(rotation.T @ (world - origin), feet[leg], atol=1e-7)  # float32 in PyBullet
            linear = np.array(pybullet.calculateJacobian(env._body, toe, [0.0, 0.0, 0.0], q.tolist(), [0.0] * 12,
                                                         [0.0] * 12, physicsClientId=client)[0])
            np.testing.assert_allclose(principal.T @ jacobians[leg], linear[:, 6 + 3 * leg: 9 + 3 * leg], atol=1e-12)
        for j in range(12):
            step = np.zeros(12)
            step[j] = 1e-6
            env.leg_kinematics(q + step, shifted, unused)
            difference = shifted.copy()
            env.leg_kinematics(q - step, shifted, unused)
            difference = (difference - shifted) / 2e-6
            leg = j // 3
            np.testing.assert_allclose(difference[leg], jacobians[leg][:, j % 3], atol=1e-8)
            assert not np.delete(difference, leg, axis=0).any()  # a joint moves its own foot only
    assert np.allclose(env.hip_offsets_m, [[0.183, -0.047, 0], [0.183, 0.047, 0], [-0.183, -0.047, 0],
                                           [-0.183, 0.047, 0]])


def test_mass_and_inertia_match_pybullets_mass_matrix(shared_env):
    """PyBullet's floating-base mass matrix (principal axes of the base, about the base's centre of
    mass) holds the whole robot's mass m, its centre of mass d (from the coupling block m [d]x) and its
    rotational inertia I + m (|d|^2 E - d d'): the env's figures rotated into those axes."""
    env = shared_env
    client = env.scene.client_id
    root = ElementTree.parse(os.path.join(pybullet_data.getDataPath(), "a1/a1.urdf")).getroot()
    assert env.body_mass_kg == pytest.approx(sum(float(m.get("value")) for m in root.iter("mass")), abs=1e-12)
    assert env.body_mass_kg == pytest.approx(12.458)
    matrix = np.array(pybullet.calculateMassMatrix(env._body, NOMINAL_JOINT_POSITIONS.tolist(),
                                                   physicsClientId=client))
    mass = matrix[3, 3]
    assert mass == pytest.approx(env.body_mass_kg, abs=1e-9)
    coupling = matrix[:3, 3:6] / mass
    d = np.array([coupling[2, 1], coupling[0, 2], coupling[1, 0]])
    info = pybullet.getDynamicsInfo(env._body, -1, physicsClientId=client)
    principal = np.array(pybullet.getMatrixFromQuaternion(info[4])).reshape(3, 3)
    np.testing.assert_allclose(principal @ d + np.array(info[3]), env.com_offset_m, atol=1e-9)
    inertia = principal @ (matrix[:3, :3] - mass * (d @ d * np.eye(3) - np.outer(d, d))) @ principal.T
    np.testing.assert_allclose(inertia, env.body_inertia_kgm2, atol=1e-9)
    np.testing.assert_allclose(env.body_inertia_kgm2, env.body_inertia_kgm2.T)
    assert 0.1 < env.body_inertia_kgm2[0, 0] < env.body_inertia_kgm2[1, 1] < env.body_inertia_kgm2[2, 2] < 0.5


def test_base_state_is_the_trunk_frames_and_velocities_are_its_derivatives(make_env):
    """Pushed while standing: the observed base velocity is the derivative of the observed position, the
    angular velocity that of the orientation (differences over 1 ms), and the pose is PyBullet's trunk
    frame."""
    env = make_env(pushes=[{"start_s": 0.0, "duration_s": 0.3, "force_n": 80.0}])
    log, (last, *_) = pd_stand(env, seed=2, seconds=0.3)
    obs = log["controller_observation"]
    dt = env.control_period_s
    velocity = (obs[1:, 3:6] - obs[:-1, 3:6]) / dt  # PyBullet's semi-implicit Euler: p' = p + dt v'
    np.testing.assert_allclose(velocity, obs[1:, 9:12], atol=1e-3)
    assert np.max(np.abs(obs[-1, 10])) > 0.05  # it moved
    rotations = [np.array(pybullet.getMatrixFromQuaternion(pybullet.getQuaternionFromEuler(o[:3].tolist())))
                 .reshape(3, 3) for o in obs]
    for k in range(1, len(obs), 25):  # R' = exp([w'] dt) R
        skew = (rotations[k] - rotations[k - 1]) / dt @ rotations[k - 1].T
        np.testing.assert_allclose([skew[2, 1], skew[0, 2], skew[1, 0]], obs[k, 6:9], atol=2e-3)
    origin, rotation = base_frame(env)  # the last observation's pose is PyBullet's trunk frame
    np.testing.assert_allclose(last[3:6], origin, atol=1e-6)
    last_rotation = pybullet.getMatrixFromQuaternion(pybullet.getQuaternionFromEuler(last[:3].tolist()))
    np.testing.assert_allclose(np.reshape(last_rotation, (3, 3)), rotation, atol=1e-6)


# ---- falling and standing ----


def test_zero_torque_falls_and_ends_the_episode(make_env):
    env = make_env()
    env.reset(seed=0)
    for k in range(2000):
        obs, reward, terminated, truncated, info = env.step(np.zeros(12, np.float32))
        if terminated:
            break
    assert terminated and not truncated and k < 1000
    assert info["end_reason"] == "fell" and info["is_success"] is False and reward == 0.0
    assert obs[5] < 0.15
    assert env.step(np.zeros(12, np.float32))[2]  # stepping on keeps the flag
    log = {"time_s": np.arange(k + 1) * 1e-3, "controller_observation": np.tile(obs, (k + 1, 1)),
           "action": np.zeros((k + 1, 12))}
    assert env.task_metrics(log)["fell"] is True


def test_a_joint_pd_stands_for_two_seconds(make_env):
    env = make_env(command=[0.0, 0.0, 0.0])
    log, (obs, reward, terminated, truncated, info) = pd_stand(env, seed=1, seconds=2.0)
    assert len(log["time_s"]) == 2000 and not terminated
    assert 0.22 < obs[5] < env.standing_height_m and np.max(np.abs(obs[:2])) < 0.1
    contacts = np.zeros(4)
    env.foot_contacts(contacts)
    np.testing.assert_array_equal(contacts, 1.0)
    assert reward > 0.99  # standing still at a zero command
    metrics = env.task_metrics(log)
    assert metrics["fell"] is False and metrics["velocity_error_mps"] < 0.05


# ---- the task ----


def test_the_command_sequence_is_seeded_segmented_and_ramped(make_env):
    env = make_env(command_segment_s=0.01, command_ramp_s=0.005, control_period_s=0.001)
    commands, reference = [], np.zeros(3)
    env.reset(seed=5)
    for _ in range(40):
        obs, *_ = env.step(np.zeros(12, np.float32))
        env.reference(reference)
        np.testing.assert_allclose(obs[36:39], reference, atol=1e-6)
        commands.append(reference.copy())
    drawn = env.commands
    assert drawn.shape == (5, 3)  # the last observation is at 40 ms, in the fifth segment
    assert np.all((drawn >= [0.0, -0.2, -0.5]) & (drawn <= [0.6, 0.2, 0.5]))
    np.testing.assert_allclose(commands[2], drawn[0] * 3 / 5)  # after 3 ms of the 5 ms ramp
    np.testing.assert_allclose(commands[5:9], [drawn[0]] * 4)
    np.testing.assert_allclose(commands[9:19], [drawn[1]] * 10)  # the segment starting at 10 ms
    other = make_env(command_segment_s=0.01, command_ramp_s=0.005, observation_noise_std=0.01)
    other.reset(seed=5)
    for _ in range(40):
        other.step(np.zeros(12, np.float32))
    np.testing.assert_array_equal(other.commands, drawn)  # noise draws do not change the sequence
    other.reset(seed=6)
    other.step(np.zeros(12, np.float32))
    assert not np.array_equal(other.commands[0], drawn[0])
    fixed = make_env(command=[0.5, 0.0, 0.1], command_ramp_s=0.0)
    fixed.reset(seed=0)
    fixed.command(reference)
    np.testing.assert_array_equal(reference, [0.5, 0.0, 0.1])


def test_tracking_error_is_in_the_heading_frame(shared_env):
    observation = np.zeros(39)
    observation[2] = np.pi / 2  # facing +y
    observation[9:12] = [0.0, 0.4, 0.0]  # moving along +y: forward at 0.4 m/s
    observation[8] = 0.3
    observation[36:39] = [0.5, 0.1, 0.2]
    error = np.zeros(3)
    shared_env.tracking_error(observation, error)
    np.testing.assert_allclose(error, [-0.1, -0.1, 0.1], atol=1e-12)


def test_task_cost_and_reward_agree_with_the_tracking_error(make_env):
    """info["task_cost"] is e'Qe + a'Ra of the state before the step (the true state's error, computed
    apart from the observation's `tracking_error`), the reward 1 minus the planar error after it."""
    env = make_env(command=[0.4, -0.1, 0.3], command_ramp_s=0.0,
                   pushes=[{"start_s": 0.0, "duration_s": 0.05, "force_n": 60.0}])
    obs, _ = env.reset(seed=0)
    q, r = np.array(env.task.cost_q), np.array(env.task.cost_r)
    error = np.zeros(3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        action = rng.uniform(-0.2, 0.2, 12).astype(np.float32)
        env.tracking_error(obs.astype(np.float64), error)
        expected = error @ (q * error) + action.astype(np.float64) @ (r * action)
        obs, reward, *_, info = env.step(action)
        assert info["task_cost"] == pytest.approx(expected, rel=1e-5)
        env.tracking_error(obs.astype(np.float64), error)
        assert reward == pytest.approx(1.0 - np.hypot(error[0], error[1]), abs=1e-5)


def test_a_push_acts_at_the_stated_times(make_env):
    """80 N to the left for 0.1 s from 0.2 s: the same run as without it until 0.2 s, then the trunk
    gains lateral velocity (world +y: the robot faces about +x) and moves left."""
    push = [{"start_s": 0.2, "duration_s": 0.1, "force_n": 80.0}]
    still, _ = pd_stand(make_env(), seed=0, seconds=0.4)
    pushed_env = make_env(pushes=push)
    pushed, _ = pd_stand(pushed_env, seed=0, seconds=0.4)
    (start_s, end_s, force_n), = pushed_env.push_intervals_s
    assert (start_s, end_s, force_n) == (pytest.approx(0.2), pytest.approx(0.3), 80.0)
    a, b = still["controller_observation"], pushed["controller_observation"]
    np.testing.assert_array_equal(a[:201], b[:201])  # the observation at 0.2 s precedes the push
    assert not np.array_equal(a[202], b[202])
    gained = b[300, 10] - a[300, 10]
    assert gained > 0.1 and b[-1, 4] - a[-1, 4] > 0.01


def test_task_metrics_of_a_short_run(make_env):
    env = make_env(command=[0.3, 0.0, 0.0], command_ramp_s=0.0,
                   pushes=[{"start_s": 0.1, "duration_s": 0.2, "force_n": 80.0}])
    log, _ = pd_stand(env, seed=0, seconds=0.5)
    metrics = env.task_metrics(log)
    assert set(metrics) == set(env.task.metric_names)
    assert metrics["fell"] is False
    for name in ("velocity_error_mps", "yaw_rate_error_radps", "distance_m", "cost_of_transport",
                 "mean_forward_speed_mps"):
        assert np.isfinite(metrics[name]), name
    assert 0.25 < metrics["velocity_error_mps"] < 1.0  # standing against a 0.3 m/s command, pushed sideways
    assert metrics["distance_m"] > 0.01 and metrics["cost_of_transport"] > 0.0
    # the definition: sum |tau qd| dt / (m g distance)
    torque = np.clip(log["action"], -1, 1) * env.joint_torque_limits_nm
    work = np.sum(np.abs(torque * log["controller_observation"][:, 24:36])) * env.control_period_s
    assert metrics["cost_of_transport"] == pytest.approx(work / (env.body_mass_kg * 9.81 * metrics["distance_m"]))


# ---- frames ----


def test_frames_follow_the_robot(shared_env):
    """A frame of the robot 3 m away shows the robot where the frame at the origin does (the camera
    follows the base): the trunk's dark pixels in the same place, while the floor moved under it."""
    env = shared_env
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8 and frame.std() > 10.0
    state = env.get_state()
    state[3:5] += [3.0, -2.0]
    moved = env.render_observation(np.concatenate([state, np.zeros(3)]))
    dark, moved_dark = frame.sum(axis=2) < 200, moved.sum(axis=2) < 200
    assert dark.sum() > 500  # the trunk is visible
    assert np.mean(dark == moved_dark) > 0.99
    assert np.mean(np.any(frame != moved, axis=2)) > 0.05  # the floor's checkers moved
    np.testing.assert_array_equal(env.render(), frame)  # the scene is left as it was


# ---- keyword arguments ----


@pytest.mark.parametrize("kwargs, name", [
    ({"control_period_s": 0.011}, "control_period_s"),
    ({"control_period_s": 0.0015}, "control_period_s"),
    ({"command": [0.5, 0.0]}, "command"),
    ({"command": [2.5, 0.0, 0.0]}, "command"),
    ({"command": "fast"}, "command"),
    ({"command": [0.5, float("nan"), 0.0]}, "command"),
    ({"command_low": [0.0, 0.0, 3.0]}, "command_low"),
    ({"command_high": [0.5, 0.2, 0.5], "command_low": [0.6, 0.0, 0.0]}, "command_high"),
    ({"command_segment_s": 0.0}, "command_segment_s"),
    ({"command_segment_s": "2"}, "command_segment_s"),
    ({"command_ramp_s": -1.0}, "command_ramp_s"),
    ({"friction": 0.0}, "friction"),
    ({"friction": 3.0}, "friction"),
    ({"initial_spread_rad": 0.3}, "initial_spread_rad"),
    ({"observation_noise_std": -1.0}, "observation_noise_std"),
    ({"render_mode": "human"}, "render_mode"),
    ({"pushes": [{"start_s": 0.0, "force_n": 1.0}]}, "pushes[0]"),
    ({"episode_s": 0.0}, "episode_s"),
])
def test_bad_kwargs_name_the_kwarg(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{re.escape(name)}: [^\n]*$"):
        QuadrupedTrotEnv(**kwargs)
