"""Spiking state feedback keeps the real PyBullet cart-pole upright."""

import gymnasium
import numpy as np
import pytest

import neuroctl  # noqa: F401
from neuroctl.config import load_yaml, parse
from neuroctl.control.population import PopulationCodingConfig
from neuroctl.control.state_feedback import SpikingStateFeedbackConfig, SpikingStateFeedbackController
from neuroctl.launchfile import linear_model_of
from neuroctl.runtime.loop import LoopSettings, make_recorder, run_episode

CONFIG_FILE = "configs/controllers/cartpole_balance.yaml"


@pytest.fixture(scope="module")
def setup(request):
    root = request.config.rootpath
    data = load_yaml(root / CONFIG_FILE)
    data.pop("kind")
    config = parse(SpikingStateFeedbackConfig, data, CONFIG_FILE)
    env = gymnasium.make("neuroctl/CartPoleBalance-v0", initial_theta_rad=(0.0, 0.1), max_force_n=10.0,
                         disable_env_checker=True, max_episode_steps=10**9)
    controller = SpikingStateFeedbackController(config, linear_model_of(env), 4)
    yield env, controller
    env.close()


def test_balances_20_seeds_for_10_seconds(setup):
    env, controller = setup
    settings = LoopSettings(n_ticks=1000, control_period_s=0.01)
    for seed in range(20):
        recorder = make_recorder(env, controller, settings.n_ticks)
        outcome = run_episode(env, controller, LoopSettings(**{**settings.__dict__, "seed": seed}), recorder)
        data = recorder.arrays()
        assert outcome.terminated_at_tick is None and outcome.ticks == 1000, f"seed {seed} fell"
        assert abs(data["observation"][0, 1]) <= 0.1 + 0.05
        assert np.max(np.abs(data["observation"][-200:, 1])) < 0.05, f"seed {seed} not settled"
        assert np.max(np.abs(data["observation"][:, 0])) < 1.0
        spikes = data["activity"][:, 0]
        assert 100 < spikes.mean() < 1000  # 800 LIF neurons at tens of Hz over 10 ms


def test_nonfinite_sensor_reading_is_held_and_counted(setup):
    env, controller = setup
    controller.reset(0)
    good = np.array([0.1, 0.02, 0.0, 0.0])
    first = controller.act(good).copy()
    action = controller.act(np.array([np.nan, 0.02, np.inf, 0.0]))
    assert np.all(np.isfinite(action)) and controller.flagged_readings == 2
    np.testing.assert_array_equal(controller.sensor, good)
    assert np.all(np.abs(first) <= 1.0)


def test_radii_must_match_the_state(setup):
    env, _ = setup
    with pytest.raises(ValueError, match="population.radii: expected 4 radii"):
        config = SpikingStateFeedbackConfig(population=PopulationCodingConfig(radii=(1.0, 1.0)))
        SpikingStateFeedbackController(config, linear_model_of(env), 4)
