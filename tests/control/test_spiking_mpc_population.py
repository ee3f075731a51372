"""Spiking MPC with the state entering through LIF populations instead of straight to sensor neurons."""

from pathlib import Path

import numpy as np
import pytest

from neuroctl.control.population import PopulationCodingConfig, StatePopulations
from neuroctl.launchfile import load_launch
from neuroctl.run import run_launch

ROOT = Path(__file__).resolve().parents[2]


def test_populations_decode_the_state_within_a_few_percent_of_the_radius():
    populations = StatePopulations(PopulationCodingConfig(neurons_per_dimension=400), 4, 0.01)
    populations.reset(0)
    state = np.array([0.5, -0.1, 0.8, 1.2])
    for _ in range(30):  # 0.3 s: the readout filter (10 ms) has settled
        x_hat = populations.encode(state)
    error = np.abs(x_hat - state) / np.array([1.2, 0.3, 1.5, 2.5])
    assert np.all(error < 0.03), error
    spikes, synaptic_events, neuron_updates = populations.activity[:3]
    assert spikes > 0 and synaptic_events == spikes and neuron_updates == 1600 * 10
    x_hat = populations.encode(np.array([np.nan, -0.1, np.inf, 1.2]))
    assert populations.flagged_readings == 2 and np.all(np.isfinite(x_hat))


def test_population_state_input_balances_and_counts_the_population_spikes():
    controllers = ROOT / "configs" / "controllers"
    for seed in (0, 1):
        population = run_launch(load_launch(ROOT / "launch" / "cartpole_mpc.yaml",
                                             controllers / "cartpole_mpc_population.yaml", seed=seed, duration_s=3.0))
        direct = run_launch(load_launch(ROOT / "launch" / "cartpole_mpc.yaml", seed=seed, duration_s=3.0))
        assert population.metrics["task"]["success"] and direct.metrics["task"]["success"]
        # 1,600 LIF neurons firing add spikes, updates and dense MACs the direct sensor input does not spend
        assert population.metrics["activity"]["spikes_per_tick"] > 10 * direct.metrics["activity"]["spikes_per_tick"]
        assert population.metrics["activity"]["neuron_updates_per_tick"] == pytest.approx(
            direct.metrics["activity"]["neuron_updates_per_tick"] + 16_000)


def test_radii_must_match_the_state():
    with pytest.raises(ValueError, match="population.radii: expected 4 radii"):
        StatePopulations(PopulationCodingConfig(radii=(1.0,)), 4, 0.01)
