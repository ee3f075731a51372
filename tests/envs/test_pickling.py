"""Pickling and copying an environment gives an independent working copy with its own PyBullet server;
an environment collected without close() disconnects its server."""

import copy
import gc
import pickle

import gymnasium
import numpy as np
import pytest

import neuroctl  # noqa: F401
from neuroctl.envs.bullet import BulletScene, pybullet

IDS = ["neuroctl/CartPoleBalance-v0", "neuroctl/ArmReach-v0"]


def connected_clients():
    return sum(pybullet.isConnected(physicsClientId=i) for i in range(1000))


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("duplicate", [lambda e: pickle.loads(pickle.dumps(e)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_a_copy_is_independent_and_continues_the_episode(env_id, duplicate):
    env = gymnasium.make(env_id, observation_noise_std=0.01)  # noise: the RNG must be restored too
    env.reset(seed=3)
    action = np.full(env.action_space.shape, 0.2, dtype=np.float32)
    for _ in range(5):
        env.step(action)
    twin = duplicate(env)
    assert twin.unwrapped.scene.client_id != env.unwrapped.scene.client_id
    assert twin.unwrapped.steps == 5
    original = [env.step(action)[0] for _ in range(10)]
    copied = [twin.step(action)[0] for _ in range(10)]
    if env_id.startswith("neuroctl/CartPole"):
        np.testing.assert_array_equal(original, copied)
    else:  # PyBullet's solver warm start is not part of the restored state: float32 rounding apart
        np.testing.assert_allclose(original, copied, atol=1e-6)
    twin.close()  # closing the copy leaves the original running
    assert pybullet.isConnected(physicsClientId=env.unwrapped.scene.client_id)
    env.step(action)
    env.close()


def test_a_scene_alone_refuses_pickling():
    scene = BulletScene(0.001)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(scene)
    scene.close()


def test_an_env_built_in_the_parent_runs_in_spawned_workers():
    """Each worker unpickles its own copy with its own server (gymnasium closes the parent's object,
    its "dummy" env, after reading the spaces)."""
    built = gymnasium.make("neuroctl/CartPoleBalance-v0")
    built.reset(seed=1)
    envs = gymnasium.vector.AsyncVectorEnv([lambda: built, lambda: built], context="spawn")
    observations, _ = envs.reset(seed=[1, 2])
    reference = gymnasium.make("neuroctl/CartPoleBalance-v0")
    np.testing.assert_array_equal(observations[0], reference.reset(seed=1)[0])
    np.testing.assert_array_equal(observations[1], reference.reset(seed=2)[0])
    observations, rewards, *_ = envs.step(np.zeros((2, 1), dtype=np.float32))
    np.testing.assert_array_equal(observations[1], reference.step(np.zeros(1, dtype=np.float32))[0])
    envs.close()
    reference.close()


@pytest.mark.parametrize("env_id", IDS)
def test_an_env_collected_without_close_disconnects_its_server(env_id):
    gc.collect()
    before = connected_clients()
    for seed in range(10):
        env = gymnasium.make(env_id)
        env.reset(seed=seed)
        del env
        gc.collect()
    assert connected_clients() == before
