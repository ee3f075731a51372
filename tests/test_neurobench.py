"""metrics.json `neurobench`: the activity under NeuroBench's names, from the counters of real runs."""

from pathlib import Path

import pytest

from neuroctl.launchfile import load_launch
from neuroctl.metrics.report import neurobench_section
from neuroctl.run import run_launch

ROOT = Path(__file__).resolve().parents[1]


def test_the_definitions_on_hand_counts():
    spiking = neurobench_section({"spikes": 10.0, "synaptic_events": 500.0, "graded_synaptic_events": 200.0,
                                  "neuron_updates": 400.0, "dense_macs": 9000.0})
    assert spiking["SynapticOperations"] == {"Effective_MACs": 200.0, "Effective_ACs": 300.0, "Dense": 9000.0}
    assert spiking["ActivationSparsity"] == 0.975 and spiking["MembraneUpdates"] == 400.0
    dense = neurobench_section({"spikes": 0.0, "synaptic_events": 0.0, "graded_synaptic_events": 0.0,
                                "neuron_updates": 0.0, "dense_macs": 4.0})
    assert dense["SynapticOperations"] == {"Effective_MACs": 4.0, "Effective_ACs": 0.0, "Dense": 4.0}
    assert dense["ActivationSparsity"] is None and dense["MembraneUpdates"] == 0.0


@pytest.mark.parametrize("controller, graded_only", [("cartpole_mpc.yaml", True), ("cartpole_balance.yaml", False)])
def test_a_run_reports_its_events_as_macs_and_acs(controller, graded_only):
    """The spiking MPC's sigma-delta events all carry a value (MACs, no ACs); the LIF state feedback's
    spikes are ACs, its factored connection's encoder products MACs."""
    launch = load_launch(ROOT / "launch" / "cartpole_mpc.yaml", ROOT / "configs" / "controllers" / controller,
                         duration_s=1.0)
    metrics = run_launch(launch).metrics
    activity, operations = metrics["activity"], metrics["neurobench"]["SynapticOperations"]
    assert operations["Effective_MACs"] + operations["Effective_ACs"] == pytest.approx(
        activity["synaptic_events_per_tick"], abs=1e-3)
    assert operations["Effective_MACs"] == activity["graded_synaptic_events_per_tick"] > 0
    assert (operations["Effective_ACs"] == 0) == graded_only
    assert operations["Dense"] == activity["dense_macs_per_tick"] > operations["Effective_MACs"]
    sparsity = metrics["neurobench"]["ActivationSparsity"]
    assert sparsity == pytest.approx(1 - activity["spikes_per_tick"] / activity["neuron_updates_per_tick"], abs=1e-5)
    assert 0.9 < sparsity < 1.0
