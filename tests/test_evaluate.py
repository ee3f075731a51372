"""`neuroctl eval` end to end, and the spiking MPC closed loop on the real cart-pole."""

import json
from pathlib import Path

import numpy as np

from neuroctl.cli import main
from neuroctl.launchfile import load_launch
from neuroctl.run import run_launch

ROOT = Path(__file__).resolve().parents[1]
CONTROLLERS = ROOT / "configs" / "controllers"


def test_eval_spiking_mpc_against_exact_mpc(tmp_path, capsys):
    code = main(["eval", str(ROOT / "launch" / "cartpole_mpc.yaml"), "--seeds", "4", "--first-seed", "10",
                 "--controller", str(CONTROLLERS / "cartpole_mpc_exact.yaml"),
                 "--controller", str(CONTROLLERS / "cartpole_mpc.yaml"),
                 "--controller", str(CONTROLLERS / "cartpole_mpc_dense.yaml"), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "cartpole_mpc_exact.yaml" in out
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["seeds"] == [10, 11, 12, 13]
    exact, spiking, dense = report["controllers"]
    assert exact["success_rate"] == spiking["success_rate"] == dense["success_rate"] == 1.0
    assert exact["qp_error"] is None and exact["cost_ratio"] is None
    assert 0.99 < spiking["cost_ratio"] <= 1.01
    assert spiking["qp_error"]["mean"] <= 1e-2 and spiking["qp_error"]["p99"] <= 5e-2
    assert dense["qp_error"]["p99"] < 1e-6  # the dense twin with K = 20 is all but exact
    assert spiking["synaptic_events_per_tick"] / spiking["dense_macs_per_tick"] <= 0.1
    assert dense["synaptic_events_per_tick"] == 0 and dense["dense_macs_per_tick"] > 1000


def test_spiking_mpc_trajectory_stores_predictions(tmp_path):
    launch = load_launch(ROOT / "launch" / "cartpole_mpc.yaml", seed=2, duration_s=2.0)
    result = run_launch(launch, tmp_path)
    assert result.metrics["task"]["success"]
    trajectory = np.load(tmp_path / "trajectory.npz")
    predicted = trajectory["predicted_states"]
    observed = trajectory["observation"]
    assert predicted.shape == (200, 11, 4) and trajectory["planned_commands"].shape == (200, 20)
    # one-step-ahead prediction (from the network's view of the state) against what happened
    error = np.abs(predicted[:-1, 1, 1] - observed[1:, 1])
    assert np.max(error) < 2e-3
