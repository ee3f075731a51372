"""Fast mode is deterministic across processes: same launch file and seed, bit-identical trajectories."""

import json
import subprocess
import sys

import numpy as np

from .conftest import SPIKING_CONFIG, launch_text

TIMING = {"stage_s", "tick_s", "lateness_s"}  # wall-clock measurements: the only arrays allowed to differ
# noise from the env's RNG (observation noise and a noise fault), a NaN burst, a push
KWARGS = json.dumps({"observation_noise_std": 0.001,
                     "pushes": [{"start_s": 0.3, "duration_s": 0.05, "force_n": 1.0}],
                     "faults": [{"kind": "noise", "sensor": "x_dot", "start_s": 0.2, "duration_s": 0.2,
                                 "magnitude": 0.5},
                                {"kind": "nan", "sensor": "theta", "start_s": 0.5, "duration_s": 0.05}]})


def test_two_processes_give_bit_identical_trajectories(tmp_path):
    launch = tmp_path / "launch.yaml"
    launch.write_text(launch_text(SPIKING_CONFIG, run="{duration_s: 1.0, seed: 7}", kwargs=KWARGS))
    outs = [tmp_path / "a", tmp_path / "b"]
    processes = [subprocess.Popen([sys.executable, "-m", "neuroctl", "launch", str(launch), "--out", str(out)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for out in outs]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    first, second = (np.load(out / "trajectory.npz") for out in outs)
    assert set(first.files) == set(second.files)
    for name in set(first.files) - TIMING:
        assert np.array_equal(first[name], second[name], equal_nan=first[name].dtype.kind == "f"), name
    assert first["observation"].shape == (100, 4) and np.isnan(first["observation"]).any()
    assert first["raster"].any()  # the spikes themselves are reproduced
    metrics = [json.loads((out / "metrics.json").read_text()) for out in outs]
    for section in ("task", "activity", "faults"):
        assert metrics[0][section] == metrics[1][section], section
