"""neuroctl/ArmReach-v0: gymnasium conformance, targets and IK, the rigid-body model against the simulator,
a joint-space PD reaching every target, task metrics, frames, the linear model, pushes, bad kwargs."""

import functools
import os
import re
import warnings
from xml.etree import ElementTree

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import neuroctl  # noqa: F401  (registers the ids)
from neuroctl.envs.arm import READY_POSE_RAD, ArmReachEnv
from neuroctl.envs.bullet import pybullet, pybullet_data  # pybullet's banner silenced
from neuroctl.envs.robot import (DeclaredRobot, LinearisableRobot, PushedRobot, RenderableRobot, RigidBodyRobot,
                                 TaskRobot, TimedRobot)
from neuroctl.runtime.robots import describe

ENV_ID = "neuroctl/ArmReach-v0"
EE_LINK = 11  # panda_grasptarget
ALLOWED_WARNINGS: list[tuple[str, str]] = []  # (substring, reason) of checker warnings we accept: none


@pytest.fixture
def make_env(build_closed):
    """Build ArmReachEnv instances, closed after the test."""
    return functools.partial(build_closed, ArmReachEnv)


@pytest.fixture(scope="module")
def shared_env():
    """One default env for tests that only read or reset it."""
    env = ArmReachEnv(render_mode="rgb_array")
    yield env
    env.close()


def urdf_limits():
    root = ElementTree.parse(os.path.join(pybullet_data.getDataPath(), "franka_panda/panda.urdf")).getroot()
    limits = {j.get("name"): j.find("limit") for j in root.iter("joint")}
    return {key: np.array([float(limits[f"panda_joint{i}"].get(key)) for i in range(1, 8)])
            for key in ("effort", "lower", "upper", "velocity")}


def forward_kinematics(env, q):
    """The end effector's position at joint positions q (the simulation's own link state)."""
    env.set_state(np.concatenate([q, np.zeros(7)]))
    return np.array(pybullet.getLinkState(env._body, EE_LINK, computeForwardKinematics=1,
                                          physicsClientId=env.scene.client_id)[4])


def pd_episode(env, seed):
    """Joint-space PD on the reference, through the mass matrix, plus the bias torques:
    tau = M(q) (kp (q* - q) - kd qd) + h(q, qd), for the episode's natural length; returns the logged
    arrays as the runtime's Recorder names them.

    Why not a diagonal PD (tau = Kp e - Kd qd + g(q)): with kd = 40 N m s/rad on joints 1-4 it chatters
    at 1 ms (period-2 oscillation of joints 1 and 3 at +-2.3 rad/s) where q2 is near 0 and the axes of
    joints 1 and 3 line up: that mode's inertia (~0.01 kg m^2) makes kd dt / inertia > 2. Damping low
    enough for it leaves the heavy modes underdamped (targets missed after 1.2 s). Scaled by M(q) the
    PD is stable for kd dt < 2 on every mode."""
    kp, kd = 100.0, 20.0  # 10 rad/s, critically damped
    reference, q, qd = np.zeros(14), np.zeros(7), np.zeros(7)
    matrix, bias = np.zeros((7, 7)), np.zeros(7)
    obs, _ = env.reset(seed=seed)
    n = round(env.n_targets * env.target_hold_s / env.control_period_s)
    log = {"time_s": np.zeros(n), "observation": np.zeros((n, 20), np.float32),
           "controller_observation": np.zeros((n, 20), np.float32), "action": np.zeros((n, 7), np.float32)}
    for k in range(n):
        env.reference(reference)
        env.joint_state(obs, q, qd)
        env.mass_matrix(q, matrix)
        env.bias_torques(q, qd, bias)
        torque = matrix @ (kp * (reference[:7] - q) - kd * qd) + bias
        action = (torque / env.joint_torque_limits_nm).astype(np.float32)
        log["time_s"][k] = k * env.control_period_s
        log["observation"][k] = log["controller_observation"][k] = obs
        log["action"][k] = action
        obs, _, terminated, _, _ = env.step(action)
        assert not terminated
    return log


# ---- gymnasium and the contract ----


@pytest.mark.parametrize("kwargs", [
    {},
    {"render_mode": "rgb_array", "observation_noise_std": 0.001, "control_period_s": 0.002, "n_targets": 5,
     "target_hold_s": 0.5, "pushes": [{"start_s": 0.0, "duration_s": 0.05, "force_n": 5.0}]},
    {"targets": [[0.5, 0.0, 0.4], [0.4, 0.3, 0.2]], "control_period_s": 0.01},
    {"payload_kg": 2.0, "payload_offset_m": [0.0, 0.02, 0.05], "joint_friction_nm": 0.5,
     "joint_viscous_nms": [0.1] * 7, "laps": 3, "n_targets": 2, "target_hold_s": 0.5},
])
def test_check_env_passes_without_warnings(kwargs):
    env = gymnasium.make(ENV_ID, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    env.close()
    messages = [str(w.message) for w in caught]
    assert [m for m in messages if not any(a in m for a, _ in ALLOWED_WARNINGS)] == []


def test_registration_covers_the_natural_episode():
    env = gymnasium.make(ENV_ID)
    unwrapped = env.unwrapped
    natural_steps = round(unwrapped.n_targets * unwrapped.target_hold_s / unwrapped.control_period_s)
    assert (unwrapped.n_targets, unwrapped.target_hold_s, unwrapped.control_period_s) == (6, 2.0, 0.001)
    assert env.spec.max_episode_steps is None  # the env truncates itself
    assert env.unwrapped.episode_steps == natural_steps == 12000
    env.close()


def test_spaces_and_declarations(shared_env):
    env = shared_env
    limits = urdf_limits()
    assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, (7,), np.float32)
    assert env.observation_space.shape == (20,) and env.observation_space.dtype == np.float32
    np.testing.assert_array_equal([a.limit for a in env.actuators], limits["effort"])
    np.testing.assert_array_equal(env.joint_torque_limits_nm, [87, 87, 87, 87, 12, 12, 12])
    assert all(a.unit == "N m" and a.description for a in env.actuators)
    assert len({a.name for a in env.actuators}) == 7
    assert [s.unit for s in env.sensors] == ["rad"] * 7 + ["rad/s"] * 7 + ["m"] * 6
    for i in range(7):  # plausible joint positions: the URDF's limits with a small tolerance
        assert env.sensors[i].low == pytest.approx(limits["lower"][i] - 0.05)
        assert env.sensors[i].high == pytest.approx(limits["upper"][i] + 0.05)
        assert env.sensors[7 + i].high >= limits["velocity"][i]
    for protocol in (DeclaredRobot, LinearisableRobot, TaskRobot, RenderableRobot, RigidBodyRobot, TimedRobot,
                     PushedRobot):
        assert isinstance(env, protocol), protocol.__name__
    assert env.state_names == tuple(f"q{i}" for i in range(1, 8)) + tuple(f"qd{i}" for i in range(1, 8))
    description = describe(env)
    assert description.task.error_names == ("ee_x_error", "ee_y_error", "ee_z_error")
    assert len(description.task.cost_q) == 3 and len(description.task.cost_r) == 7
    assert description.push_description == "push on the end effector (+y)"


def test_reset_is_deterministic_per_seed(make_env):
    env, other = make_env(), make_env()
    first, _ = env.reset(seed=3)
    targets = env.targets
    env.step(env.action_space.sample())
    again, _ = other.reset(seed=3)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(targets, other.targets)
    different, _ = other.reset(seed=4)
    assert not np.array_equal(first, different)
    assert np.min(np.linalg.norm(targets - other.targets, axis=1)) > 0.0
    # the initial state: a perturbation of at most 0.1 rad of the ready pose, at rest; the first target
    assert np.max(np.abs(first[:7] - READY_POSE_RAD)) <= 0.1 + 1e-6
    assert not first[7:14].any()
    np.testing.assert_allclose(first[17:20], targets[0], atol=1e-6)


# ---- targets ----


@pytest.mark.parametrize("n_targets", [6, 9])
def test_drawn_targets_are_spread_and_reachable(make_env, n_targets):
    env = make_env(n_targets=n_targets)
    limits = urdf_limits()
    for seed in (0, 1):
        env.reset(seed=seed)
        targets, solutions = env.targets, env.target_joint_positions
        assert targets.shape == (n_targets, 3) and solutions.shape == (n_targets, 7)
        distances = np.linalg.norm(targets[:, None] - targets[None], axis=2)[np.triu_indices(n_targets, 1)]
        assert distances.min() >= 0.15
        radius = np.hypot(targets[:, 0], targets[:, 1])
        assert np.all((radius >= 0.3) & (radius <= 0.7) & (targets[:, 0] > 0.0))
        assert np.all((targets[:, 2] >= 0.1) & (targets[:, 2] <= 0.7))
        assert np.all(solutions >= limits["lower"] + 0.05 - 1e-12)
        assert np.all(solutions <= limits["upper"] - 0.05 + 1e-12)
        for target, q in zip(targets, solutions):
            assert np.linalg.norm(forward_kinematics(env, q) - target) < 1e-3
        assert env.target_redraws >= 0 and env.spacing_redraws >= 0


def test_explicit_targets(make_env):
    targets = [[0.5, 0.0, 0.4], [0.3, -0.4, 0.2], [0.0, 0.5, 0.8]]
    env = make_env(targets=targets)
    assert env.n_targets == 3
    env.reset(seed=0)
    np.testing.assert_array_equal(env.targets, targets)
    for target, q in zip(targets, env.target_joint_positions):
        assert np.linalg.norm(forward_kinematics(env, q) - target) < 1e-3
    solutions = env.target_joint_positions
    env.reset(seed=1)
    np.testing.assert_array_equal(env.target_joint_positions, solutions)  # fixed targets, cached IK


@pytest.mark.parametrize("targets, name", [
    ([[0.5, 0.0, 0.4], [0.5, 0.0, 1.5]], "targets[1]"),  # outside the target box
    ([[0.5, 0.0, 0.4], [0.5, 0.0, 0.4], [0.8, 0.8, 0.05]], "targets[2]"),  # in the box, out of reach
    ([[0.5, 0.0, float("nan")]], "targets[0]"),
    ([[0.5, 0.0]], "targets[0]"),
    ([], "targets"),
    ("far away", "targets"),
])
def test_bad_targets_name_the_target(targets, name):
    with pytest.raises(ValueError, match=rf"^{re.escape(name)}: "):
        ArmReachEnv(targets=targets)


# ---- the rigid-body model against the simulator ----


def test_gravity_compensation_holds_the_arm_still(make_env):
    env = make_env()
    obs, _ = env.reset(seed=2)
    start = obs[:7].copy()
    q, qd, gravity = np.zeros(7), np.zeros(7), np.zeros(7)
    for _ in range(500):  # 0.5 s
        env.joint_state(obs, q, qd)
        env.bias_torques(q, np.zeros(7), gravity)
        obs, *_ = env.step(gravity / env.joint_torque_limits_nm)
    assert np.max(np.abs(obs[:7] - start)) < 1e-3
    # without it the arm falls
    env.reset(seed=2)
    for _ in range(100):
        obs, *_ = env.step(np.zeros(7))
    assert np.max(np.abs(obs[:7] - start)) > 1e-2


def test_mass_matrix_matches_the_simulator(make_env):
    """tau = M(q) qdd + h(q, 0) from rest for one 1 ms physics step gives qdd (measured to 6e-4 rad/s^2
    for |qdd| <= 2 rad/s^2 over these seeds; PyBullet's integrator and the finger locks)."""
    env = make_env()
    rng = np.random.default_rng(0)
    matrix, bias = np.empty((7, 7)), np.empty(7)
    for seed in range(5):
        env.reset(seed=seed)
        q = env.state[:7].copy()
        env.mass_matrix(q, matrix)
        np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)
        assert np.linalg.eigvalsh(matrix).min() > 1e-3
        env.bias_torques(q, np.zeros(7), bias)
        qdd_desired = rng.uniform(-2.0, 2.0, 7)
        env.step((matrix @ qdd_desired + bias) / env.joint_torque_limits_nm)
        qdd_measured = env.state[7:] / env.physics_period_s
        np.testing.assert_allclose(qdd_measured, qdd_desired, atol=5e-3)
    # the Coriolis part: h(q, qd) differs from h(q, 0) and is what the simulator needs to hold qdd = 0
    env.reset(seed=0)
    qd = np.full(7, 0.5)
    env.set_state(np.concatenate([env.state[:7], qd]))
    env.bias_torques(env.state[:7], qd, bias)
    gravity = np.empty(7)
    env.bias_torques(env.state[:7], np.zeros(7), gravity)
    assert np.max(np.abs(bias - gravity)) > 0.05
    env.step(bias / env.joint_torque_limits_nm)
    np.testing.assert_allclose(env.state[7:], qd, atol=5e-3 * env.physics_period_s * 10)


def test_pd_on_the_reference_reaches_every_target_and_metrics(make_env):
    env = make_env(target_hold_s=1.5)
    log = pd_episode(env, seed=0)
    metrics = env.task_metrics(log)
    assert set(env.task.metric_names) <= set(metrics)
    assert metrics["targets_reached"] == 6
    assert len(metrics["final_distance_per_target_m"]) == 6
    assert max(metrics["final_distance_per_target_m"]) < 0.01
    assert metrics["final_distance_m"] < 0.01
    assert all(t is not None and 0.0 < t < 1.5 for t in metrics["time_to_reach_per_target_s"])
    assert metrics["time_to_reach_s"] == pytest.approx(np.median(metrics["time_to_reach_per_target_s"]))
    assert 0.0 < metrics["max_torque_fraction"] <= 1.0
    # the reward and the tracking error agree with the observation
    error = np.zeros(3)
    env.tracking_error(log["controller_observation"][-1], error)
    assert np.linalg.norm(error) == pytest.approx(metrics["final_distance_per_target_m"][-1], rel=1e-6)


def test_task_metrics_of_a_run_that_misses():
    """Synthetic arrays: window 0 reached at 0.5 s, window 1 never (None, counted as infinitely slow)."""
    env = ArmReachEnv(n_targets=2, target_hold_s=1.0, control_period_s=0.01)
    try:
        time_s = np.arange(200) * 0.01
        observation = np.zeros((200, 20), np.float32)
        observation[:, 17:20] = [0.5, 0.0, 0.4]
        observation[:, 14:17] = [0.5, 0.0, 0.4]
        observation[:50, 14] = 0.6  # 10 cm off until 0.5 s
        observation[100:, 14] = 0.55  # 5 cm off all through window 1
        action = np.zeros((200, 7), np.float32)
        action[3, 2] = -2.5  # clipped by the env: a fraction of 1
        action[4, 0] = np.nan  # applies nothing
        metrics = env.task_metrics({"time_s": time_s, "controller_observation": observation, "action": action})
    finally:
        env.close()
    assert metrics["time_to_reach_per_target_s"] == [0.5, None]
    assert metrics["time_to_reach_s"] is None  # median of (0.5, inf)
    assert metrics["final_distance_per_target_m"] == pytest.approx([0.0, 0.05], abs=1e-6)
    assert metrics["targets_reached"] == 1
    assert metrics["max_torque_fraction"] == 1.0
    assert ArmReachEnv.task_metrics(env, {"time_s": np.zeros(0), "controller_observation": np.zeros((0, 20)),
                                          "action": np.zeros((0, 7))})["final_distance_m"] is None


# ---- frames ----


def test_frames_show_the_arm_and_the_observed_target(shared_env):
    env = shared_env
    obs, _ = env.reset(seed=0)
    state = env.get_state()
    frame = env.render()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert frame.std() > 10.0
    other_pose = obs.copy()
    other_pose[:7] = env.target_joint_positions[1]
    moved = env.render_observation(other_pose)
    assert np.mean(np.any(moved != frame, axis=2)) > 0.01
    other_target = obs.copy()
    other_target[17:20] = [0.3, -0.5, 0.2]
    retargeted = env.render_observation(other_target)
    changed = np.any(retargeted != frame, axis=2)
    assert 0 < changed.sum() < 0.05 * changed.size  # only the sphere moved
    np.testing.assert_array_equal(env.render(), frame)  # the scene is left as it was
    np.testing.assert_array_equal(env.get_state(), state)


# ---- the linear model ----


def test_linear_model_predicts_one_control_period(make_env):
    env = make_env(control_period_s=0.005)
    model = env.linear_model()
    np.testing.assert_array_equal(model.x_op[:7], READY_POSE_RAD)
    assert not model.x_op[7:].any()
    gravity = np.empty(7)
    env.bias_torques(READY_POSE_RAD, np.zeros(7), gravity)
    np.testing.assert_allclose(model.a_op, gravity / env.joint_torque_limits_nm)
    assert model.A.shape == (14, 14) and model.B.shape == (14, 7) and model.dt_s == 0.005
    env.reset(seed=0)
    env.set_state(model.x_op)  # an equilibrium
    env.step(model.a_op)
    np.testing.assert_allclose(env.state, model.x_op, atol=1e-9)
    rng = np.random.default_rng(1)
    dx = np.concatenate([rng.uniform(-1e-3, 1e-3, 7), rng.uniform(-1e-2, 1e-2, 7)])
    da = rng.uniform(-1e-2, 1e-2, 7)
    env.set_state(model.x_op + dx)
    env.step(model.a_op + da)
    predicted = model.A @ dx + model.B @ da
    actual = env.state - model.x_op
    assert np.max(np.abs(actual - predicted)) < 1e-3 * np.max(np.abs(actual))


# ---- pushes ----


def test_a_push_moves_the_end_effector_along_plus_y(make_env):
    def ee_y_after(force_n):
        env = make_env(pushes=[{"start_s": 0.0, "duration_s": 0.05, "force_n": force_n}])
        obs, _ = env.reset(seed=0)
        q, qd, gravity = np.zeros(7), np.zeros(7), np.zeros(7)
        for _ in range(100):
            env.joint_state(obs, q, qd)
            env.bias_torques(q, np.zeros(7), gravity)
            obs, *_ = env.step(gravity / env.joint_torque_limits_nm)
        return obs[15]

    still = ee_y_after(0.0)
    assert ee_y_after(20.0) - still > 0.005
    assert ee_y_after(-20.0) - still < -0.005


# ---- keyword arguments ----


@pytest.mark.parametrize("kwargs, name", [
    ({"control_period_s": 0.011}, "control_period_s"),
    ({"control_period_s": 0.0015}, "control_period_s"),
    ({"n_targets": 0}, "n_targets"),
    ({"n_targets": 2.0}, "n_targets"),
    ({"n_targets": True}, "n_targets"),
    ({"n_targets": 3, "targets": [[0.5, 0.0, 0.4]]}, "n_targets"),
    ({"target_hold_s": 0.0}, "target_hold_s"),
    ({"target_hold_s": 0.0005}, "target_hold_s"),
    ({"target_hold_s": 1.0005}, "target_hold_s"),
    ({"target_hold_s": "2"}, "target_hold_s"),
    ({"initial_spread_rad": 0.6}, "initial_spread_rad"),
    ({"initial_spread_rad": -0.1}, "initial_spread_rad"),
    ({"observation_noise_std": -1.0}, "observation_noise_std"),
    ({"render_mode": "human"}, "render_mode"),
    ({"laps": 0}, "laps"),
    ({"laps": 1.0}, "laps"),
    ({"payload_kg": -0.1}, "payload_kg"),
    ({"payload_kg": 5.5}, "payload_kg"),
    ({"payload_kg": "2"}, "payload_kg"),
    ({"payload_offset_m": [0.0, 0.0]}, "payload_offset_m"),
    ({"payload_offset_m": [0.0, 0.0, 0.3]}, "payload_offset_m"),
    ({"payload_offset_m": 0.1}, "payload_offset_m"),
    ({"joint_friction_nm": -1.0}, "joint_friction_nm"),
    ({"joint_friction_nm": [1.0] * 6}, "joint_friction_nm"),
    ({"joint_viscous_nms": 11.0}, "joint_viscous_nms"),
    ({"joint_viscous_nms": float("nan")}, "joint_viscous_nms"),
])
def test_bad_kwargs_name_the_kwarg(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}: "):
        ArmReachEnv(**kwargs)


def hold_with_nominal_gravity(env, seed, ticks=500):
    """Hold the reset pose with the nominal model's gravity torques h(q, 0) for `ticks` ms; returns the
    largest joint drift (rad) and the end effector's drop (m, positive downwards)."""
    obs, _ = env.reset(seed=seed)
    start, ee_start = obs[:7].copy(), obs[14:17].copy()
    q, qd, gravity = np.zeros(7), np.zeros(7), np.zeros(7)
    for _ in range(ticks):
        env.joint_state(obs, q, qd)
        env.bias_torques(q, np.zeros(7), gravity)
        obs, *_ = env.step(gravity / env.joint_torque_limits_nm)
    return float(np.max(np.abs(obs[:7] - start))), float(ee_start[2] - obs[16])


def test_a_payload_makes_nominal_gravity_compensation_sag_and_the_model_stays_nominal(make_env):
    """The nominal model holds the unloaded arm to < 1 mrad over 0.5 s; with 2 kg at the end effector
    the same compensation lets it sag (measured: 0.79 rad of joint drift, the end effector 0.38 m
    lower), because M(q) and h(q, qd) are the nominal arm's (a second, unstepped PyBullet server)."""
    nominal, loaded = make_env(), make_env(payload_kg=2.0, payload_offset_m=[0.0, 0.0, 0.05])
    assert hold_with_nominal_gravity(nominal, 2)[0] < 1e-3
    drift, drop = hold_with_nominal_gravity(loaded, 2)
    assert drift > 0.1 and drop > 0.05
    rng = np.random.default_rng(0)
    m0, m1, h0, h1 = np.zeros((7, 7)), np.zeros((7, 7)), np.zeros(7), np.zeros(7)
    for _ in range(5):
        q, qd = READY_POSE_RAD + rng.uniform(-0.5, 0.5, 7), rng.uniform(-1.0, 1.0, 7)
        nominal.mass_matrix(q, m0), loaded.mass_matrix(q, m1)
        nominal.bias_torques(q, qd, h0), loaded.bias_torques(q, qd, h1)
        np.testing.assert_array_equal(m0, m1)
        np.testing.assert_array_equal(h0, h1)


def test_the_plant_carries_the_payload_and_its_gravity_torque_is_jtmg(make_env):
    """The loaded plant's own inverse dynamics exceed the nominal model's by J^T m g at the payload's
    centre of mass (payload_gravity_torques), and those torques added hold the loaded arm still."""
    env = make_env(payload_kg=3.0, payload_offset_m=[0.01, -0.02, 0.05])
    q = READY_POSE_RAD + 0.2
    q9, zeros = list(q) + [0.04, 0.04], [0.0] * 9
    plant = np.array(pybullet.calculateInverseDynamics(env._body, q9, zeros, zeros,
                                                       physicsClientId=env.scene.client_id))[:7]
    nominal, payload = np.zeros(7), np.zeros(7)
    env.bias_torques(q, np.zeros(7), nominal)
    env.payload_gravity_torques(q, 3.0, [0.01, -0.02, 0.05], payload)
    np.testing.assert_allclose(plant - nominal, payload, atol=1e-9)
    assert abs(payload[1]) > 5.0  # the shoulder carries it
    obs, _ = env.reset(seed=2)
    start = obs[:7].copy()
    qq, qd = np.zeros(7), np.zeros(7)
    for _ in range(500):
        env.joint_state(obs, qq, qd)
        env.bias_torques(qq, np.zeros(7), nominal)
        env.payload_gravity_torques(qq, 3.0, [0.01, -0.02, 0.05], payload)
        obs, *_ = env.step((nominal + payload) / env.joint_torque_limits_nm)
    assert np.max(np.abs(obs[:7] - start)) < 1e-3


def test_joint_friction_slows_a_falling_arm(make_env):
    """Viscous and Coulomb friction are the plant's: the same free fall moves the joints less."""
    drifts = []
    for kwargs in ({}, {"joint_viscous_nms": 5.0}, {"joint_friction_nm": [5.0] * 4 + [1.0] * 3}):
        env = make_env(**kwargs)
        obs, _ = env.reset(seed=2)
        start = obs[:7].copy()
        for _ in range(200):
            obs, *_ = env.step(np.zeros(7))
        drifts.append(np.max(np.abs(obs[:7] - start)))
    assert drifts[1] < 0.8 * drifts[0] and drifts[2] < 0.8 * drifts[0]


def test_laps_repeat_the_target_sequence(make_env):
    env = make_env(n_targets=2, target_hold_s=0.01, laps=3)
    assert env.episode_steps == 60
    env.reset(seed=4)
    seen, laps = [], []
    truncated = False
    while not truncated:
        _, _, _, truncated, info = env.step(np.zeros(7))
        seen.append(info["target_index"]), laps.append(info["lap_index"])
    windows = [seen[k] for k in range(8, 60, 10)]  # info: the target after the step
    assert windows == [0, 1, 0, 1, 0, 1] and laps[-1] == 2 and laps[0] == 0
    assert make_env(n_targets=2, target_hold_s=0.01).episode_steps == 12000  # laps=1: unchanged


def test_a_loaded_env_pickles_into_an_independent_copy(make_env):
    import pickle

    env = make_env(payload_kg=2.0, joint_viscous_nms=0.5, laps=2, n_targets=2)
    env.reset(seed=3)
    for _ in range(5):
        env.step(np.zeros(7))
    copy = pickle.loads(pickle.dumps(env))
    try:
        assert copy._model_scene.client_id not in (env._model_scene.client_id, env.scene.client_id)
        np.testing.assert_array_equal(copy.state, env.state)
        a, b = env.step(np.zeros(7))[0], copy.step(np.zeros(7))[0]
        np.testing.assert_allclose(a, b, atol=1e-6)  # as test_pickling: the solver's warm start is not state
    finally:
        copy.close()
