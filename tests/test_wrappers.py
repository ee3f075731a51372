"""The gymnasium wrappers: spike-encoded observations, and controllers as policies (Pendulum-v1)."""

from pathlib import Path

import gymnasium
import numpy as np
import pytest

import neuroctl  # noqa: F401
from neuroctl.config import ConfigError
from neuroctl.wrappers import ControllerPolicy, SpikeEncodingObservation

ROOT = Path(__file__).resolve().parents[1]
CART_RANGE = dict(low=[-2.4, -0.6, -3.0, -5.0], high=[2.4, 0.6, 3.0, 5.0])


def cartpole():
    return gymnasium.make("neuroctl/CartPoleBalance-v0")


@pytest.mark.parametrize("encoder, parameters, dtype", [
    ("population", dict(neurons_per_dimension=20), np.int32),
    ("poisson", dict(max_rate_hz=500.0), np.int32),
    ("sigma_delta", dict(theta=0.001), np.float64),
])
def test_spike_encoding_observation(encoder, parameters, dtype):
    env = SpikeEncodingObservation(cartpole(), encoder, **CART_RANGE, **parameters)
    observation, _ = env.reset(seed=1)
    size = 80 if encoder == "population" else 4
    assert env.observation_space.shape == (size,) and env.observation_space.dtype == dtype
    assert observation.shape == (size,) and observation in env.observation_space
    total = np.zeros(size)
    for _ in range(30):
        observation, *_ = env.step(np.array([0.3], dtype=np.float32))
        assert observation in env.observation_space
        total += np.abs(observation)
    assert total.sum() > 0  # the cart moved: spikes or events were sent


def test_sigma_delta_observation_decodes_back_within_theta():
    env = SpikeEncodingObservation(cartpole(), "sigma_delta", **CART_RANGE, theta=0.002)
    raw = cartpole()
    events, _ = env.reset(seed=7)
    true, _ = raw.reset(seed=7)
    decoded = env.encoder.decode(events)
    for _ in range(40):
        events, *_ = env.step(np.array([0.2], dtype=np.float32))
        true, *_ = raw.step(np.array([0.2], dtype=np.float32))
        decoded = env.encoder.decode(events)
        assert np.all(np.abs(decoded - true) <= 0.002 + 1e-6)


def test_unbounded_observation_needs_a_range():
    unbounded = gymnasium.wrappers.TransformObservation(gymnasium.make("Pendulum-v1"), lambda o: o,
                                                        gymnasium.spaces.Box(-np.inf, np.inf, (3,)))
    with pytest.raises(ValueError, match="unbounded"):
        SpikeEncodingObservation(unbounded, "poisson", max_rate_hz=100.0)
    encoded = SpikeEncodingObservation(unbounded, "poisson", low=-8.0, high=8.0, max_rate_hz=100.0)
    assert encoded.observation_space.shape == (3,)


def pendulum_state(observation):
    return np.array([np.arctan2(observation[1], observation[0]), observation[2]])


def test_spiking_mpc_holds_pendulum_upright_for_10_seconds():
    env = gymnasium.make("Pendulum-v1")
    policy = ControllerPolicy(env, ROOT / "configs" / "controllers" / "pendulum_mpc.yaml", pendulum_state)
    for seed in range(10):
        observation, _ = env.reset(seed=seed, options={"x_init": 0.3, "y_init": 0.5})
        policy.reset(seed)
        angles, truncated, steps = [], False, 0
        while not truncated:
            action = policy(observation)
            assert action in env.action_space
            observation, _, terminated, truncated, _ = env.step(action)
            angles.append(pendulum_state(observation)[0])
            steps += 1
        assert steps == 200  # 10 s at dt = 0.05 s
        assert np.max(np.abs(angles)) < 0.5, f"seed {seed} fell"
        assert np.max(np.abs(angles[-100:])) < 0.01, f"seed {seed} not upright"


def test_policy_uses_the_environments_linear_model():
    env = cartpole()
    policy = ControllerPolicy(env, ROOT / "configs" / "controllers" / "cartpole_mpc.yaml")
    observation, _ = env.reset(seed=0)
    for _ in range(300):
        observation, _, terminated, _, _ = env.step(policy(observation))
        assert not terminated
    assert abs(observation[1]) < 0.02


def test_policy_without_a_model_is_a_config_error(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("kind: lqr\nq: [1, 1]\nr: [1]\n")
    with pytest.raises(ConfigError, match="model: the environment has no linear_model"):
        ControllerPolicy(gymnasium.make("Pendulum-v1"), config)
    config.write_text("kind: lqr\nmodel: {dt_s: 0.05, A: [[1, 0], [0]], B: [[0], [1]]}\n")
    with pytest.raises(ConfigError, match="model.A: expected a matrix"):
        ControllerPolicy(gymnasium.make("Pendulum-v1"), config)


@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")  # checking the wrapper is the point
@pytest.mark.parametrize("encoder, parameters", [("population", {}), ("poisson", {}), ("sigma_delta", {}),
                                                 ("sigma_delta", {"reconstruct": True})])
def test_the_wrapped_env_passes_the_checker_and_pickles(encoder, parameters):
    import pickle

    from gymnasium.utils.env_checker import check_env

    env = SpikeEncodingObservation(cartpole(), encoder, **CART_RANGE, **parameters)
    check_env(env, skip_render_check=True)
    assert env.spec.additional_wrappers[-1].kwargs["encoder"] == encoder  # the recorded arguments
    first, _ = env.reset(seed=4)
    twin = pickle.loads(pickle.dumps(env))
    again, _ = twin.reset(seed=4)
    np.testing.assert_array_equal(first, again)
    twin.close()
    env.close()


@pytest.mark.parametrize("encoder, parameters, expected", [
    ("sigma_delta", {"thetta": 0.1}, "thetta: not a parameter of the sigma_delta encoder; it takes theta"),
    ("poisson", {"theta": 0.1}, "theta: not a parameter of the poisson encoder; it takes max_rate_hz"),
    ("population", {"reconstruct": True}, "reconstruct: only the sigma_delta encoder"),
    ("popu", {}, "encoder: expected one of population, sigma_delta, poisson"),
])
def test_a_wrong_encoder_argument_is_a_value_error_naming_it(encoder, parameters, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(")):
        SpikeEncodingObservation(cartpole(), encoder, **CART_RANGE, **parameters)


def test_encoder_defaults_and_honest_bounds():
    env = SpikeEncodingObservation(cartpole(), "sigma_delta", **CART_RANGE)
    np.testing.assert_allclose(env.encoder.theta, [0.048, 0.012, 0.06, 0.1])  # 1 % of each range
    poisson = SpikeEncodingObservation(cartpole(), "poisson", **CART_RANGE)
    assert poisson.encoder.max_rate_hz == 1000.0  # 10 spikes expected at `high` in 10 ms
    assert poisson.observation_space.high.tolist() == [52] * 4  # ceil(10 + 10 sqrt(10) + 10)
    poisson.reset(seed=0)
    counts = [poisson.step(np.zeros(1, dtype=np.float32))[0] for _ in range(50)]
    assert all(poisson.observation_space.contains(c) for c in counts)


def test_sigma_delta_reconstruct_gives_the_value_within_theta():
    env = SpikeEncodingObservation(cartpole(), "sigma_delta", **CART_RANGE, theta=0.001, reconstruct=True)
    inner = env.unwrapped
    observation, _ = env.reset(seed=2)
    assert observation.shape == (8,)
    for _ in range(20):
        observation, *_ = env.step(np.array([0.3], dtype=np.float32))
        true = np.clip(inner.state, CART_RANGE["low"], CART_RANGE["high"])
        assert np.all(np.abs(observation[4:] - true) <= 0.001 + 1e-6)
        assert env.observation_space.contains(observation)


@pytest.mark.parametrize("given", ["path", "dict", "object"])
def test_controller_policy_takes_a_path_a_dict_or_a_config(given):
    from neuroctl.control.lqr import LQRConfig

    path = ROOT / "configs" / "controllers" / "cartpole_lqr.yaml"
    config = {"path": path, "dict": {"kind": "lqr", "q": [1.0, 10.0, 0.1, 0.1], "r": [1.0]},
              "object": LQRConfig(q=(1.0, 10.0, 0.1, 0.1), r=(1.0,))}[given]
    env = cartpole()
    policy = ControllerPolicy(env, config)
    observation, _ = env.reset(seed=0)
    for _ in range(300):
        observation, _, terminated, *_ = env.step(policy(observation))
        assert not terminated
    assert abs(observation[1]) < 0.05
    env.close()
