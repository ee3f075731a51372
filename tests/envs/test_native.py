"""The native step (PyBullet's C API from one compiled call) against PyBullet's Python path, bit for bit."""

import copy
import pickle
import time

import numpy as np
import pytest

from neuroctl.envs.bullet_native import (JointRobotArrays, NativeJoints, elf_symbols, monotonic_s,
                                         native_api, native_client)
from neuroctl.envs.bullet import pybullet
from neuroctl.envs.cartpole import CartPoleBalanceEnv

PUSH = {"start_s": 0.05, "duration_s": 0.0305, "force_n": 4.0}  # ends inside a 10 ms period
PUSH_INSIDE = {"start_s": 0.055, "duration_s": 0.02, "force_n": -3.0}  # starts inside one


def episode(native, seed=3, ticks=300, given=lambda a: a, **kwargs):
    """Every record of `ticks` steps_into under seeded random actions (NaN and inf among them), each
    passed as `given` makes it of a float64 array."""
    env = CartPoleBalanceEnv(**kwargs)
    if not native:
        env._native = False
    try:
        env.reset(seed=seed)
        out = np.zeros(env.observation_space.shape[0])
        rng = np.random.default_rng(seed)
        rows = []
        for k in range(ticks):
            action = rng.uniform(-1.5, 1.5, 1)
            if k in (20, 21):
                action[0] = (np.nan, -np.inf)[k - 20]
            reward, terminated, truncated = env.step_into(given(action), out)
            rows.append(np.concatenate([out, env.state, env._command,
                                        [reward, terminated, truncated, env.last_task_cost]]))
        assert isinstance(env._native, JointRobotArrays) == native
        return np.array(rows), env.nonfinite_actions, env.end_reason
    finally:
        env.close()


def test_the_c_api_is_reached_here():
    api = native_api()
    assert api is not None and api.addresses.shape == (11,) and np.all(api.addresses != 0)
    env = CartPoleBalanceEnv()
    try:
        client = native_client(api, env.scene.client_id, env.native_joints.body)
        assert client is not None and client.handle != 0
        assert native_client(api, env.scene.client_id + 1, env.native_joints.body) is None  # no such client
    finally:
        env.close()


@pytest.mark.parametrize("kwargs", [
    {"control_period_s": 0.001},
    {"control_period_s": 0.01},                                           # 10 substeps in one call
    {"control_period_s": 0.001, "pushes": [PUSH]},                        # Python path while a push acts
    {"control_period_s": 0.01, "pushes": [PUSH, PUSH_INSIDE]},            # pushes ending and starting inside periods
    {"control_period_s": 0.002, "observation_noise_std": 0.02},           # the observation in Python
    {"control_period_s": 0.001, "position_only": True, "reward": "task_cost"},
    {"control_period_s": 0.001,
     "faults": [{"kind": "stuck", "sensor": "theta", "start_s": 0.1, "duration_s": 0.05, "magnitude": 0.2}]},
])
def test_native_steps_are_the_python_steps_bit_for_bit(kwargs):
    native, python = episode(True, **kwargs), episode(False, **kwargs)
    np.testing.assert_array_equal(native[0], python[0])
    assert native[1:] == python[1:] and native[1] == 2  # the NaN and the inf: no command
    command = native[0][:, (2 if kwargs.get("position_only") else 4) + 4]
    assert np.isfinite(command).all() and command[20] == command[21] == 0.0


@pytest.mark.parametrize("given", [lambda a: a.astype(np.float32), lambda a: a.tolist(), lambda a: float(a[0]),
                                   lambda a: np.repeat(a, 2)[::2]], ids=["float32", "list", "scalar", "strided"])
def test_every_form_of_action_steps_alike(given):
    native, python = episode(True, given=given, ticks=100), episode(False, given=given, ticks=100)
    np.testing.assert_array_equal(native[0], python[0])


def test_a_fall_ends_the_episode_alike():
    native, python = (episode(flag, seed=5, ticks=2000, control_period_s=0.01) for flag in (True, False))
    np.testing.assert_array_equal(native[0], python[0])
    assert native[2] == python[2] in ("theta_limit", "x_limit")


def test_a_copy_steps_natively_on_its_own_server():
    env = CartPoleBalanceEnv(control_period_s=0.001)
    try:
        env.reset(seed=1)
        out = np.zeros(4)
        for _ in range(50):
            env.step_into(np.array([0.4]), out)
        twins = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env)]
        runs = []
        for e in [env, *twins]:
            states = []
            for _ in range(50):
                e.step_into(np.array([-0.3]), out)
                states.append(e.state.copy())
            assert isinstance(e._native, JointRobotArrays)
            runs.append(np.array(states))
        for run in runs[1:]:
            np.testing.assert_array_equal(run, runs[0])
    finally:
        for e in [env, *twins]:
            e.close()


def test_stage_times_are_on_the_perf_counter_clock():
    api = native_api()
    before = time.perf_counter()
    now = monotonic_s(api.addresses, np.zeros(2, dtype=np.int64))
    assert before <= now <= time.perf_counter()
    env = CartPoleBalanceEnv(control_period_s=0.001)
    try:
        env.reset(seed=0)
        env.step_into(np.zeros(1), np.zeros(4))
        assert np.all(env.stage_times_s > 0.0) and env.stage_times_s.sum() < 0.1
    finally:
        env.close()


def test_symbols_of_a_file_that_is_not_elf_are_none(tmp_path):
    path = tmp_path / "not_elf.so"
    path.write_bytes(b"MZ" + bytes(100))
    assert elf_symbols(str(path), ("sPhysicsClients1",)) == {}


def test_the_python_path_when_the_user_turns_native_off(monkeypatch):
    monkeypatch.setenv("NEUROCTL_PYBULLET_NATIVE", "0")
    native_api.cache_clear()
    try:
        assert native_api() is None
        env = CartPoleBalanceEnv()
        try:
            env.reset(seed=0)
            env.step_into(np.zeros(1), np.zeros(4))
            assert env._native is False
        finally:
            env.close()
    finally:
        native_api.cache_clear()


def test_the_handle_check_reads_every_joint_of_another_robot():
    """The check compares every joint's state read through the C API with getJointStates: the arm has
    fixed joints (a position index of -1) besides its seven revolute ones."""
    from neuroctl.envs.arm import ArmReachEnv

    env = ArmReachEnv()
    try:
        env.reset(seed=0)
        n_joints = pybullet.getNumJoints(env._body, physicsClientId=env.scene.client_id)
        fixed = [j for j in range(n_joints)
                 if pybullet.getJointInfo(env._body, j, physicsClientId=env.scene.client_id)[3] < 0]
        assert fixed and native_client(native_api(), env.scene.client_id, env._body) is not None
    finally:
        env.close()


def loop_like(native, ticks=200, **kwargs):
    """The loop's way: one action buffer and one observation buffer, written in place (NaN at tick 30),
    two episodes after each other on one env, then a few gymnasium steps between step_into calls."""
    env = CartPoleBalanceEnv(**kwargs)
    if not native:
        env._native = False
    action, out, rows = np.zeros(1), np.zeros(4), []
    try:
        for seed in (1, 2):
            env.reset(seed=seed)
            for k in range(ticks):
                action[0] = np.nan if k == 30 else 0.8 * np.sin(0.05 * k)
                reward, terminated, truncated = env.step_into(action, out)
                rows.append(np.concatenate([out, env.state, [reward, terminated, truncated]]))
                if k % 50 == 49:
                    observation, reward, *_ = env.step(np.float32(-0.2))
                    rows.append(np.concatenate([observation, env.state, [reward, 0, 0]]))
        return np.array(rows), env.nonfinite_actions
    finally:
        env.close()


def test_the_loops_buffers_two_episodes_and_gymnasium_steps_between():
    native, python = loop_like(True, control_period_s=0.001), loop_like(False, control_period_s=0.001)
    np.testing.assert_array_equal(native[0], python[0])
    assert native[1] == python[1] == 2


def test_a_step_after_close_is_pybullets_error_not_a_crash():
    env = CartPoleBalanceEnv()
    env.reset(seed=0)
    env.step_into(np.zeros(1), np.zeros(4))
    assert isinstance(env._native, JointRobotArrays)
    env.close()
    with pytest.raises(pybullet.error):
        env.step_into(np.zeros(1), np.zeros(4))


def test_an_observation_buffer_of_another_size_is_refused():
    env = CartPoleBalanceEnv(position_only=True)
    try:
        env.reset(seed=0)
        with pytest.raises(ValueError, match=r"observation_out: expected shape \(2,\), got \(4,\)"):
            env.step_into(np.zeros(1), np.zeros(4))
    finally:
        env.close()


def test_a_declaration_that_does_not_fit_the_state_is_refused():
    env = CartPoleBalanceEnv()
    try:
        env.reset(seed=0)
        joints = env.native_joints
        env.native_joints = NativeJoints(joints.body, joints.torque_joints, joints.state_joints, joints.wrapped,
                                         termination_limits=(2.4, 0.6))
        with pytest.raises(ValueError, match="2 termination limits for a state of 4"):
            env.step_into(np.zeros(1), np.zeros(4))
    finally:
        env.close()
