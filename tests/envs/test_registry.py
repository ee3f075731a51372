"""Every registered neuroctl environment: the checker, seeding, and vectorised copies."""

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import neuroctl  # noqa: F401
from neuroctl.envs.registration import ENV_IDS

NEUROCTL_IDS = sorted(k for k in gymnasium.registry if k.startswith("neuroctl/"))

# Warnings we accept from the checker, each with its reason (as gymnasium's own test suite does).
ALLOWED_WARNINGS: tuple[str, ...] = ()


def test_every_id_is_registered():
    assert NEUROCTL_IDS == sorted(ENV_IDS)


@pytest.mark.parametrize("env_id", NEUROCTL_IDS)
def test_checker_passes_without_warnings(env_id):
    env = gymnasium.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    env.close()
    unexpected = [str(w.message) for w in caught if not any(a in str(w.message) for a in ALLOWED_WARNINGS)]
    assert not unexpected


@pytest.mark.parametrize("env_id", NEUROCTL_IDS)
def test_seeding_gives_identical_rollouts(env_id):
    def rollout(seed):
        env = gymnasium.make(env_id)
        actions = np.random.default_rng(0).uniform(-0.3, 0.3, size=(50,) + env.action_space.shape)
        observations = [env.reset(seed=seed)[0]]
        observations += [env.step(a.astype(np.float32))[0] for a in actions]
        env.close()
        return np.array(observations)

    first, again, other = rollout(5), rollout(5), rollout(6)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("vector_class", [gymnasium.vector.SyncVectorEnv, gymnasium.vector.AsyncVectorEnv])
def test_vector_env_of_four_copies(vector_class):
    envs = vector_class([lambda: gymnasium.make("neuroctl/CartPoleBalance-v0")] * 4)
    observations, _ = envs.reset(seed=[1, 2, 3, 4])
    assert observations.shape == (4, 4)
    assert len({tuple(o) for o in observations}) == 4  # each copy its own state and client
    single = gymnasium.make("neuroctl/CartPoleBalance-v0")
    expected, _ = single.reset(seed=3)
    np.testing.assert_array_equal(observations[2], expected)
    actions = np.tile(np.array([[0.5]], dtype=np.float32), (4, 1))
    for _ in range(20):
        observations, rewards, terminated, truncated, _ = envs.step(actions)
        expected = single.step(actions[2])[0]
    np.testing.assert_array_equal(observations[2], expected)
    assert np.all(rewards == 1.0) and not terminated.any()
    envs.close()
    single.close()
