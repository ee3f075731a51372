"""Episodes that reuse the environment and the built controller (reset, not rebuild) are bit-identical
to episodes built afresh for each seed: eval and bench rely on it."""

from pathlib import Path

import numpy as np
import pytest

from neuroctl.launchfile import load_launch
from neuroctl.run import LaunchRunner, run_launch, with_seed

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"stage_s", "tick_s", "lateness_s"}  # wall-clock measurements: the only records allowed to differ
CASES = [
    ("cartpole_mpc_push.yaml", None, 3.0),
    ("cartpole_mpc.yaml", "cartpole_mpc_population.yaml", 1.0),
    ("cartpole_mpc.yaml", "cartpole_balance.yaml", 1.0),
    ("arm_reach.yaml", None, 0.6),
    ("arm_payload.yaml", "arm_pd_adaptive.yaml", 0.6),
    ("quadruped_trot.yaml", "quadruped_mpc_osqp.yaml", 0.4),  # contacts: PyBullet's pair order sorted
]


def _records(result) -> dict[str, np.ndarray]:
    return {name: values for name, values in result.recorder.arrays().items() if name not in TIMING}


@pytest.mark.parametrize("launch_name, controller, duration_s", CASES,
                         ids=[f"{l.removesuffix('.yaml')}-{(c or 'own').removesuffix('.yaml')}" for l, c, _ in CASES])
def test_a_reused_runner_reproduces_fresh_builds_seed_for_seed(launch_name, controller, duration_s):
    controller_path = None if controller is None else ROOT / "configs" / "controllers" / controller
    launch = load_launch(ROOT / "launch" / launch_name, controller_path, mode="fast", duration_s=duration_s)
    seeds = [3, 4, 3]  # back to an earlier seed: nothing of seed 4's episode may linger
    with LaunchRunner(launch) as runner:
        reused = [runner.run(seed) for seed in seeds]
    fresh_runs = {seed: run_launch(with_seed(launch, seed)) for seed in set(seeds)}  # a fresh run per seed
    for seed, result in zip(seeds, reused):
        fresh = fresh_runs[seed]
        expected, got = _records(fresh), _records(result)
        assert expected.keys() == got.keys()
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{name}, seed {seed}")
        assert result.metrics["task"] == fresh.metrics["task"]
        assert result.metrics["activity"] == fresh.metrics["activity"]
    first, second = _records(reused[0]), _records(reused[1])
    assert not np.array_equal(first["observation"], second["observation"])  # the seeds do differ
