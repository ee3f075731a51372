"""`BulletRobotEnv.step` (gymnasium's: fresh observation and info) and `step_into` (the loop's: into the
caller's buffer, no info) are one step: the same observations, rewards and flags, bit for bit."""

import functools

import numpy as np
import pytest

from neuroctl.envs.arm import ArmReachEnv
from neuroctl.envs.cartpole import CartPoleBalanceEnv

CARTPOLE = dict(control_period_s=0.001, max_force_n=6.0, observation_noise_std=0.01, reward="task_cost",
                episode_s=0.3, pushes=[{"start_s": 0.05, "duration_s": 0.02, "force_n": 3.0}],
                faults=[{"kind": "noise", "sensor": "theta", "start_s": 0.1, "duration_s": 0.05, "magnitude": 0.1},
                        {"kind": "stuck", "sensor": "x", "start_s": 0.12, "duration_s": 0.03, "magnitude": 0.1},
                        {"kind": "dropout", "sensor": "x_dot", "start_s": 0.2, "duration_s": 0.02}])
ARM = dict(control_period_s=0.001, n_targets=2, target_hold_s=0.05, observation_noise_std=0.001)


@pytest.fixture
def make_env(build_closed):
    return build_closed


def actions(n_steps, size, seed):
    """Normalised actions, some beyond [-1, 1] (clipped) and one NaN (no command)."""
    values = np.random.default_rng(seed).uniform(-1.5, 1.5, size=(n_steps, size))
    values[n_steps // 2] = np.nan
    return values


@pytest.mark.parametrize("env_class, kwargs, n_steps, n_ended, faulty", [
    (CartPoleBalanceEnv, CARTPOLE, 320, 20, True),  # ended by episode_s at step 300 (or earlier, fallen)
    (ArmReachEnv, ARM, 120, 0, False),
], ids=["cartpole", "arm"])
@pytest.mark.parametrize("buffer_dtype", [np.float64, np.float32])
def test_step_into_is_step_without_the_allocations(make_env, env_class, kwargs, n_steps, n_ended, faulty,
                                                   buffer_dtype):
    stepped, into = make_env(env_class, **kwargs), make_env(env_class, **kwargs)
    first, _ = stepped.reset(seed=4)
    buffer = np.empty(first.shape, dtype=buffer_dtype)
    buffer[:] = into.reset(seed=4)[0]
    kept = []
    ends = 0
    for action in actions(n_steps, stepped.action_space.shape[0], 5):
        observation, reward, terminated, truncated, info = stepped.step(action)
        flags = into.step_into(action, buffer)
        assert flags == (reward, terminated, truncated)
        assert observation.dtype == np.float32
        np.testing.assert_array_equal(buffer.astype(np.float32), observation)
        np.testing.assert_array_equal(buffer, observation.astype(buffer_dtype))  # float32 values, exactly
        np.testing.assert_array_equal(into.state, info["state"])
        assert into.last_task_cost == info["task_cost"] and into.end_reason == info.get("end_reason")
        ends += terminated or truncated
        kept.append((observation, observation.copy(), info["state"], info["state"].copy(),
                     info["command"], info["command"].copy()))
    assert ends >= n_ended and (ends > 0) == (n_ended > 0)
    assert stepped.nonfinite_actions == into.nonfinite_actions == 1
    assert stepped.fault_ticks == into.fault_ticks and (sum(into.fault_ticks.values()) > 0) == faulty
    for observation, original, state, state_then, command, command_then in kept:  # later steps left them alone
        np.testing.assert_array_equal(observation, original)
        np.testing.assert_array_equal(state, state_then)
        np.testing.assert_array_equal(command, command_then)
    distinct = functools.reduce(lambda seen, arrays: seen | {id(a) for a in arrays[::2]}, kept, set())
    assert len(distinct) == 3 * len(kept)  # every step's observation, state and command are new arrays


def test_step_into_times_its_stages_and_writes_only_its_buffer(make_env):
    env = make_env(CartPoleBalanceEnv, control_period_s=0.001)
    env.reset(seed=0)
    times = env.stage_times_s
    buffer = np.full(4, np.nan)
    action = np.array([0.5])
    assert env.step_into(action, buffer) == (1.0, False, False)
    assert env.stage_times_s is times and np.all(times > 0.0)
    np.testing.assert_array_equal(buffer, env.state.astype(np.float32).astype(np.float64))
    assert action.tolist() == [0.5]
