"""The Python API refuses bad arguments where they are passed, naming them (class 11 of issue 9).

A wrong-length range, a NaN window or an int32-overflowing Poisson rate used to surface as a numpy
broadcast error deep inside, a silent replacement, or wrapped counts; a position-only cart-pole was
accepted by ControllerPolicy and failed at the first call. (The cart-pole's own `step()` checks are in
tests/envs/test_cartpole.py.)
"""

import math

import gymnasium
import numpy as np
import pytest

from neuroctl.wrappers import MAX_POISSON_COUNT, ControllerPolicy, SpikeEncodingObservation

from .conftest import ENV_ID, LQR_CONFIG, ROOT, SPIKING_CONFIGS

RANGE = dict(low=[-2.4, -0.6, -3.0, -5.0], high=[2.4, 0.6, 3.0, 5.0])
MPC_CONFIG = SPIKING_CONFIGS["mpc_spiking"]


def cartpole(**kwargs) -> gymnasium.Env:
    return gymnasium.make(ENV_ID, **kwargs)


def raises_naming(error, name, call, *args, **kwargs) -> str:
    """`call(*args, **kwargs)` raises `error` whose message starts with `name: `; the message."""
    with pytest.raises(error) as raised:
        call(*args, **kwargs)
    message = str(raised.value)
    assert message.startswith(f"{name}: "), message
    return message


# ---- SpikeEncodingObservation: the range ----

@pytest.mark.parametrize("encoder, parameters", [("poisson", {"max_rate_hz": 100.0}),
                                                 ("sigma_delta", {"theta": 0.01}),
                                                 ("population", {"neurons_per_dimension": 4})])
@pytest.mark.parametrize("name", ["low", "high"])
@pytest.mark.parametrize("value, shape", [([0.0, 1.0], "(2,)"), ([0.0] * 5, "(5,)"), ([[0.0] * 4], "(1, 4)")])
def test_wrong_length_range_names_the_bound(encoder, parameters, name, value, shape):
    other = "high" if name == "low" else "low"
    arguments = {name: value, other: RANGE[other], **parameters}
    message = raises_naming(ValueError, name, SpikeEncodingObservation, cartpole(), encoder, **arguments)
    assert f"or 4 of them (one per observation dimension), got shape {shape}" in message


@pytest.mark.parametrize("low, high, name, detail", [
    ([-1.0, math.nan, -1.0, -1.0], 1.0, "low", "low[1] = nan"),
    (-1.0, [1.0, 1.0, 1.0, math.inf], "high", "high[3] = inf"),
    (-math.inf, 1.0, "low", "low[0] = -inf"),
    (-1.0, 10**400, "high", "within the float range"),
])
def test_nonfinite_range_names_the_bound_and_dimension(low, high, name, detail):
    message = raises_naming(ValueError, name, SpikeEncodingObservation, cartpole(), "poisson", low=low, high=high,
                            max_rate_hz=100.0)
    assert detail in message


@pytest.mark.parametrize("low, high, detail", [
    (1.0, 1.0, "low[0] = 1.0 >= high[0] = 1.0"),
    ([-1.0, 0.5, -1.0, -1.0], [1.0, 0.2, 1.0, 1.0], "low[1] = 0.5 >= high[1] = 0.2"),
    (0.0, [1.0, 1.0, 1.0, -3.0], "low[3] = 0.0 >= high[3] = -3.0"),
])
def test_empty_range_names_low_and_high(low, high, detail):
    message = raises_naming(ValueError, "low, high", SpikeEncodingObservation, cartpole(), "sigma_delta", low=low,
                            high=high, theta=0.01)
    assert detail in message


@pytest.mark.parametrize("value", ["-1", [True, False, True, False], [None] * 4, {"x": 1.0}])
def test_range_that_is_not_numbers_is_a_type_error(value):
    raises_naming(TypeError, "low", SpikeEncodingObservation, cartpole(), "poisson", low=value, high=5.0,
                  max_rate_hz=100.0)


def test_position_only_observation_takes_two_bounds():
    env = SpikeEncodingObservation(cartpole(position_only=True), "sigma_delta", low=[-2.4, -0.6],
                                   high=[2.4, 0.6], theta=[0.01, 0.002])
    np.testing.assert_array_equal(env.encoder.theta, [0.01, 0.002])
    raises_naming(ValueError, "low", SpikeEncodingObservation, cartpole(position_only=True), "sigma_delta",
                  low=RANGE["low"], high=[2.4, 0.6], theta=0.01)


# ---- SpikeEncodingObservation: theta, the window, the Poisson counts ----

@pytest.mark.parametrize("theta, error, detail", [
    ([0.1, 0.2], ValueError, "got shape (2,)"),
    ([0.1] * 5, ValueError, "got shape (5,)"),
    ([0.1, 0.1, 0.0, 0.1], ValueError, "theta[2] = 0.0"),
    ([0.1, math.nan, 0.1, 0.1], ValueError, "theta[1] = nan"),
    (-0.01, ValueError, "theta[0] = -0.01"),
    ("0.01", TypeError, "'0.01'"),
])
def test_bad_theta_names_theta(theta, error, detail):
    message = raises_naming(error, "theta", SpikeEncodingObservation, cartpole(), "sigma_delta", **RANGE,
                            theta=theta)
    assert detail in message


@pytest.mark.parametrize("encoder, parameters", [("poisson", {"max_rate_hz": 100.0}),
                                                 ("population", {"neurons_per_dimension": 4}),
                                                 ("sigma_delta", {"theta": 0.01})])
@pytest.mark.parametrize("window_s, error", [(math.nan, ValueError), (math.inf, ValueError), (0, ValueError),
                                             (0.0, ValueError), (-0.01, ValueError), (11.0, ValueError),
                                             (10**400, ValueError), ("0.01", TypeError), (True, TypeError)])
def test_bad_window_is_refused_not_replaced(encoder, parameters, window_s, error):
    message = raises_naming(error, "window_s", SpikeEncodingObservation, cartpole(), encoder, **RANGE,
                            window_s=window_s, **parameters)
    assert "must be a number in (0, 10] s" in message


def test_window_given_is_the_window_used():
    env = SpikeEncodingObservation(cartpole(), "poisson", **RANGE, window_s=0.05, max_rate_hz=200.0)
    assert env.encoder.window_s == 0.05 and env.encoder.max_count == pytest.approx(10.0)
    default = SpikeEncodingObservation(cartpole(control_period_s=0.002), "poisson", **RANGE, max_rate_hz=200.0)
    assert default.encoder.window_s == 0.002


@pytest.mark.parametrize("max_rate_hz, window_s", [(1e9, 10.0), (2e9, 1.0), (1e9, 1.001), (3e11, 0.01)])
def test_poisson_counts_that_would_wrap_int32_are_refused(max_rate_hz, window_s):
    message = raises_naming(ValueError, "max_rate_hz", SpikeEncodingObservation, cartpole(), "poisson", **RANGE,
                            window_s=window_s, max_rate_hz=max_rate_hz)
    assert "at most 1e+09 spikes" in message and "int32" in message


@pytest.mark.parametrize("max_rate_hz, error", [(math.nan, ValueError), (-5.0, ValueError), (0.0, ValueError),
                                                (1e308, ValueError), ("100", TypeError)])
def test_bad_poisson_rate_names_max_rate(max_rate_hz, error):
    raises_naming(error, "max_rate_hz", SpikeEncodingObservation, cartpole(), "poisson", **RANGE,
                  max_rate_hz=max_rate_hz)


def test_largest_poisson_count_stays_positive_and_decodes():
    """1e9 expected spikes per window (1e8 Hz x 10 s): counts within int32, never wrapped negative."""
    env = SpikeEncodingObservation(cartpole(), "poisson", **RANGE, window_s=10.0,
                                   max_rate_hz=MAX_POISSON_COUNT / 10)
    counts, _ = env.reset(seed=3)
    assert counts.dtype == np.int32 and np.all(counts >= 0) and counts in env.observation_space
    true = env.unwrapped.state
    np.testing.assert_allclose(env.encoder.decode(counts), true, atol=1e-3)


# ---- ControllerPolicy ----

@pytest.mark.parametrize("config", [LQR_CONFIG, MPC_CONFIG, SPIKING_CONFIGS["spiking_state_feedback"]])
def test_policy_on_a_position_only_env_fails_at_construction(config):
    message = raises_naming(ValueError, "env", ControllerPolicy, cartpole(position_only=True), config)
    assert "(2,)" in message and "4 states, from the environment's linear_model()" in message
    assert "state_of=" in message


def test_policy_with_a_model_section_of_another_size_fails_at_construction():
    """Pendulum-v1 observes [cos, sin, theta_dot]; the config's model has the state [theta, theta_dot]."""
    config = ROOT / "configs" / "controllers" / "pendulum_mpc.yaml"
    message = raises_naming(ValueError, "env", ControllerPolicy, gymnasium.make("Pendulum-v1"), config)
    assert f"(3,), float32) is not the state of the controller's model (2 states, from the model section of " \
           f"{config})" in message


def test_policy_with_state_of_checks_the_mapped_state_at_the_call():
    env = cartpole(position_only=True)
    policy = ControllerPolicy(env, LQR_CONFIG, state_of=lambda o: np.array([o[0], o[1], 0.0, 0.0]))
    observation, _ = env.reset(seed=0)
    assert policy(observation) in env.action_space
    short = ControllerPolicy(env, LQR_CONFIG, state_of=lambda o: o)
    message = raises_naming(ValueError, "state_of(observation)", short, observation)
    assert "(4,)" in message and "shape (2,)" in message
    raises_naming(TypeError, "state_of", ControllerPolicy, env, LQR_CONFIG, state_of="x")


@pytest.mark.parametrize("observation", [np.zeros(2), np.zeros(5), 0.0, np.zeros((1, 4))])
def test_policy_called_with_a_wrong_observation_names_it(observation):
    policy = ControllerPolicy(cartpole(), LQR_CONFIG)
    message = raises_naming(ValueError, "observation", policy, observation)
    assert f"got shape {np.shape(observation)}" in message


def test_policy_on_a_discrete_action_env_names_env():
    raises_naming(ValueError, "env", ControllerPolicy, gymnasium.make("CartPole-v1"),
                  ROOT / "configs" / "controllers" / "pendulum_mpc.yaml")
