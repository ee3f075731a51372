"""The examples under examples/ run end to end through `neuroctl launch`."""

import json
from pathlib import Path

import numpy as np
import pytest

from neuroctl.cli import main

pytest.importorskip("mujoco")
pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
POLE_LIMIT_RAD = 0.2
"""InvertedPendulum-v5 ends the episode when the pole leaves |angle| <= 0.2 rad."""


@pytest.mark.parametrize("controller", [None, "inverted_pendulum_model.yaml"], ids=["linearised", "model_section"])
@pytest.mark.parametrize("seed", [0, 5])
def test_inverted_pendulum_is_balanced_by_the_spiking_mpc(tmp_path, capsys, controller, seed):
    args = ["--controller", str(EXAMPLES / controller)] if controller else []
    out = tmp_path / "run"
    code = main(["launch", str(EXAMPLES / "inverted_pendulum.yaml"), "--seed", str(seed), "--out", str(out), *args])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    angle = np.load(out / "trajectory.npz")["observation"][:, 1]
    assert metrics["task"]["success"] and metrics["ticks"] == 100  # 4 s of 40 ms ticks
    assert abs(angle[0]) > 0.01 and np.abs(angle).max() < POLE_LIMIT_RAD  # a real start, and stays up
    assert np.abs(angle[-25:]).max() < 0.01  # upright over the last second
    spikes = metrics["activity"]["spikes_per_tick"]
    assert 1.0 < spikes < 10.0, spikes  # a few sigma-delta events a tick
    assert metrics["activity"]["synaptic_events_per_tick"] > spikes
    loihi = metrics["energy"]["profiles"]["loihi"]
    assert loihi["applicable"] and 0 < loihi["energy_j"] < 1e-6
    assert (out / "state_command.png").stat().st_size > 20_000


def test_inverted_double_pendulum_is_balanced_through_an_output_map(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["launch", str(EXAMPLES / "inverted_double_pendulum.yaml"), "--out", str(out)]) == 0, \
        capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    hinges = np.load(out / "trajectory.npz")["observation"][:, 1:3]  # sin of the two hinge angles
    assert metrics["task"]["success"] and metrics["ticks"] == 80  # 4 s of 50 ms ticks
    assert np.abs(hinges[-20:]).max() < 0.02  # both links upright over the last second
    assert 1.0 < metrics["activity"]["spikes_per_tick"] < 15.0
