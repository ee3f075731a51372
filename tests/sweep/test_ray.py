"""neuroctl sweep on Ray (a local Ray of 2 CPUs): the same trials.jsonl as the local executor, and a
trial whose worker dies retried by Ray."""

import json
from pathlib import Path

import pytest
import ray  # in the test extra

from neuroctl.sweep import run_sweep
from test_sweep import crashing_sweep, lines, write_sweep


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray, started once for this module, whose workers also import from the directory it
    yields (where a test writes a launch file's environment module)."""
    modules = tmp_path_factory.mktemp("ray_modules")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(modules)}})
    yield modules
    ray.shutdown()


def test_ray_gives_the_same_trials_as_local_workers(tmp_path, local_ray):
    sweep = write_sweep(tmp_path, "  env.kwargs.max_force_n: [4.0, 6.0]\n  controller.iterations: [10, 20]\n"
                                  "  run.duration_s: [1.5]\n")
    on_ray = run_sweep(sweep, tmp_path / "ray", executor="ray")
    local = run_sweep(sweep, tmp_path / "local", workers=2)
    assert on_ray["finished"] == local["finished"] == 18
    assert lines(tmp_path / "ray" / "trials.jsonl") == lines(tmp_path / "local" / "trials.jsonl")
    def without_latency(report):
        return [{k: v for k, v in c.items() if k != "latency_us"} for c in report["configurations"]]

    assert without_latency(on_ray) == without_latency(local)


def test_ray_retries_a_trial_whose_worker_died(tmp_path, local_ray, monkeypatch):
    sweep = crashing_sweep(local_ray, "ray_crash_once")
    monkeypatch.chdir(local_ray)
    report = run_sweep(sweep, tmp_path / "out", executor="ray")
    rows = [json.loads(raw) for raw in (tmp_path / "out" / "trials.jsonl").read_text().splitlines()]
    assert (local_ray / "crashed-once").exists()  # a worker did die
    assert sorted(row["seed"] for row in rows) == [0, 1, 2] and all(row["status"] == "ok" for row in rows)
    assert report["configurations"][0]["failed"] == 0


def test_eval_on_ray_gives_the_same_report_as_in_this_process(tmp_path, local_ray):
    """neuroctl eval --executor ray: each episode a Ray task carrying its launch file and controller
    config as text; the report equals the serial one, episode for episode."""
    from neuroctl.evaluate import evaluate

    root = Path(__file__).resolve().parents[2]
    launch = tmp_path / "hard.yaml"
    launch.write_text((root / "launch" / "cartpole_mpc_hard.yaml").read_text()
                      .replace("../configs/", f"{root}/configs/").replace("duration_s: 10.0", "duration_s: 1.5"))
    controllers = [root / "configs" / "controllers" / name
                   for name in ("cartpole_mpc_hard_exact.yaml", "cartpole_mpc_hard.yaml")]
    serial = evaluate(launch, [7, 8, 9], controllers)
    on_ray = evaluate(launch, [7, 8, 9], controllers, workers=2, executor="ray")
    assert json.dumps(on_ray, sort_keys=True) == json.dumps(serial, sort_keys=True)
    assert [e["seed"] for e in on_ray["controllers"][1]["episodes"]] == [7, 8, 9]
