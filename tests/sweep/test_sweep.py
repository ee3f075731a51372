"""neuroctl sweep on local workers: the same trials.jsonl whatever the workers, nothing lost on Ctrl-C,
--resume without duplicates, a killed worker's trial retried, every setting validated first."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neuroctl.config import ConfigError
from neuroctl.sweep import run_sweep
from neuroctl.sweep.spec import expand
from neuroctl.viz.sweep_plots import pareto_front

ROOT = Path(__file__).resolve().parents[2]
TIMING = ("latency_us", "pid", "host", "attempts", "wall_s")  # what may differ between executions of one trial


def write_sweep(tmp_path: Path, parameters: str, seeds: int = 3, launch: str = "cartpole_mpc_hard.yaml",
                controllers: str | None = None) -> Path:
    controllers = controllers or (f"[{ROOT}/configs/controllers/cartpole_mpc_hard_exact.yaml, "
                                  f"{ROOT}/configs/controllers/cartpole_mpc_hard.yaml]")
    path = tmp_path / "sweep.yaml"
    path.write_text(f"launch: {launch if launch.startswith('/') else ROOT / 'launch' / launch}\n"
                    f"controllers: {controllers}\nseeds: {{first: 0, count: {seeds}}}\n"
                    f"parameters:\n{parameters}")
    return path


def lines(path: Path, drop=TIMING) -> list[str]:
    rows = []
    for raw in path.read_text().splitlines():
        row = json.loads(raw)
        for key in drop:
            row.pop(key, None)
        rows.append(json.dumps(row, sort_keys=True))
    return sorted(rows)


def test_one_and_two_workers_give_the_same_trials(tmp_path):
    sweep = write_sweep(tmp_path, "  env.kwargs.max_force_n: [4.0, 6.0]\n  controller.iterations: [10, 20]\n"
                                  "  run.duration_s: [1.5]\n")
    one = run_sweep(sweep, tmp_path / "one", workers=1)
    two = run_sweep(sweep, tmp_path / "two", workers=2)
    # exact MPC has no `iterations`: it runs once per force limit, not twice
    assert one["trials"] == two["trials"] == 3 * (2 + 4) and one["finished"] == 18
    assert lines(tmp_path / "one" / "trials.jsonl") == lines(tmp_path / "two" / "trials.jsonl")
    by_config = {(c["controller"].rsplit("/", 1)[-1], json.dumps(c["setting"], sort_keys=True)): c
                 for c in two["configurations"]}
    spiking = by_config[("cartpole_mpc_hard.yaml", json.dumps(
        {"controller.iterations": 20, "env.kwargs.max_force_n": 6.0, "run.duration_s": 1.5}, sort_keys=True))]
    assert spiking["successes"] == 3 and spiking["success_ci95"][0] > 0.4 and spiking["mean_cost"] > 0
    assert "| cartpole_mpc_hard.yaml | 20 | 6 | 1.5 | 3/3" in (tmp_path / "two" / "summary.md").read_text()
    assert two["plots"] == ["sweep_controller_iterations.png", "sweep_env_kwargs_max_force_n.png",
                            "sweep_run_duration_s.png", "sweep_pareto.png"]
    assert all((tmp_path / "two" / name).stat().st_size > 10_000 for name in two["plots"])


def test_the_pareto_front_keeps_the_points_nothing_beats():
    points = [(1.0, 5.0), (2.0, 3.0), (3.0, 3.0), (4.0, 1.0), (2.5, 4.0), (1.0, 6.0)]
    assert pareto_front(points) == [0, 1, 3]


def test_sigint_keeps_the_finished_trials_and_resume_runs_the_rest(tmp_path):
    sweep = write_sweep(tmp_path, "  env.kwargs.max_force_n: [5.0, 6.0, 7.0]\n  run.duration_s: [1.0]\n", seeds=3)
    trials = 3 * 2 * 3  # force limits x controllers x seeds
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "neuroctl", "sweep", str(sweep), "--out", str(out),
                                "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = out / "trials.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (results.exists() and len(results.read_text().splitlines()) >= 3):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    kept = lines(results)
    assert 3 <= len(kept) < trials
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] and summary["finished"] == len(kept)
    resumed = subprocess.run([sys.executable, "-m", "neuroctl", "sweep", str(sweep), "--out", str(out), "--resume"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    final = lines(results)
    assert len(final) == len(set(final)) == trials  # every trial once
    assert set(kept) <= set(final)
    fresh = tmp_path / "fresh"
    run_sweep(sweep, fresh, workers=2)
    assert final == lines(fresh / "trials.jsonl")


CRASHING_ENV = '''
import os
from pathlib import Path

import gymnasium

from neuroctl.envs.cartpole import CartPoleBalanceEnv

MARKER = Path(__file__).with_name("crashed-once")


class CrashOnce(CartPoleBalanceEnv):
    """The cart-pole, whose process dies at its first reset with seed 1 (once per test)."""

    def reset(self, *, seed=None, options=None):
        if seed == 1 and not MARKER.exists():
            MARKER.write_text("")
            os._exit(3)
        return super().reset(seed=seed, options=options)


gymnasium.register("CrashOnce-v0", entry_point=CrashOnce)
'''


def crashing_sweep(tmp_path: Path, module: str, always: bool = False) -> Path:
    """A sweep of 3 LQR seeds on the cart-pole of `module` (written into tmp_path, a name of its own per
    test: earlier tests' directories stay on sys.path), whose process dies at the reset of seed 1: once,
    or every time (`always`)."""
    code = CRASHING_ENV.replace("CrashOnce-v0", f"{module}-v0")
    if always:
        code = code.replace("if seed == 1 and not MARKER.exists():", "if seed == 1:")
    (tmp_path / f"{module}.py").write_text(code)
    launch = tmp_path / "launch.yaml"
    launch.write_text(f"env: {{id: '{module}:{module}-v0', kwargs: {{control_period_s: 0.01}}}}\n"
                      f"controller: {ROOT}/configs/controllers/cartpole_lqr.yaml\nrun: {{duration_s: 1.0}}\n")
    return write_sweep(tmp_path, "  run.duration_s: [1.0]\n", seeds=3, launch=str(launch),
                       controllers=f"[{ROOT}/configs/controllers/cartpole_lqr.yaml]")


def test_a_worker_that_dies_mid_trial_is_replaced_and_the_trial_retried(tmp_path, monkeypatch):
    sweep = crashing_sweep(tmp_path, "crash_once")
    monkeypatch.chdir(tmp_path)  # the launch's module is found beside it, in the current directory
    report = run_sweep(sweep, tmp_path / "out", workers=2)
    rows = [json.loads(raw) for raw in (tmp_path / "out" / "trials.jsonl").read_text().splitlines()]
    assert (tmp_path / "crashed-once").exists()  # the worker did die
    assert sorted(row["seed"] for row in rows) == [0, 1, 2] and all(row["status"] == "ok" for row in rows)
    assert {row["seed"]: row["attempts"] for row in rows}[1] == 2
    assert report["finished"] == 3 and report["configurations"][0]["failed"] == 0


def test_a_trial_that_fails_twice_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    sweep = crashing_sweep(tmp_path, "crash_always", always=True)
    monkeypatch.chdir(tmp_path)
    report = run_sweep(sweep, tmp_path / "out", workers=2)
    rows = {row["seed"]: row for row in map(json.loads, (tmp_path / "out" / "trials.jsonl").read_text().splitlines())}
    assert rows[1]["status"] == "failed" and rows[1]["attempts"] == 2 and "exit code 3" in rows[1]["error"]
    assert rows[0]["status"] == rows[2]["status"] == "ok"
    assert report["configurations"][0]["failed"] == 1 and report["configurations"][0]["trials"] == 3


@pytest.mark.parametrize("parameters, message", [
    ("  controller.horizon: [20, 0]\n", "trial cartpole_mpc_hard_exact.yaml with controller.horizon = 0: horizon: expected"),
    ("  env.kwargs.max_force_n: [-1.0]\n", "env.kwargs.max_force_n = -1.0"),
    ("  physics.gravity: [9.8]\n", "parameters.physics.gravity: expected a path into the launch file"),
    ("  run.duration_s: {low: 2.0, high: 1.0, count: 3}\n", "parameters.run.duration_s: expected low < high"),
])
def test_every_setting_is_validated_before_anything_runs(tmp_path, parameters, message):
    sweep = write_sweep(tmp_path, parameters)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        expand(sweep, tmp_path / "configs")
    assert str(sweep) in str(info.value)


def test_ranges_are_drawn_from_the_sample_seed(tmp_path):
    sweep = write_sweep(tmp_path, "  env.kwargs.max_force_n: {low: 5.0, high: 9.0, count: 3}\n", seeds=1)
    _, first = expand(sweep, tmp_path / "a")
    _, second = expand(sweep, tmp_path / "b")
    forces = sorted({trial.setting["env.kwargs.max_force_n"] for trial in first})
    assert len(forces) == 3 and all(5.0 <= f <= 9.0 for f in forces)
    assert [t.setting for t in first] == [t.setting for t in second]


@pytest.mark.parametrize("text, extra, message", [
    ("launch: /nonexistent/launch.yaml\n", [], "sweep.yaml: launch: '/nonexistent/launch.yaml': no such file"),
    (f"launch: {ROOT}/launch/cartpole_mpc_hard.yaml\ncontrollers: [/nonexistent/c.yaml]\n", [],
     "sweep.yaml: controllers[0]: '/nonexistent/c.yaml': no such file"),
    (f"launch: {ROOT}/launch/cartpole_mpc_hard.yaml\n", ["--address", "ray://head:10001"],
     "--address: only with --executor ray"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, text, extra, message):
    from neuroctl.cli import main

    (tmp_path / "sweep.yaml").write_text(text)
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(tmp_path / "out"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "trials.jsonl").exists()


def test_eval_refuses_an_address_without_ray(tmp_path, capsys):
    from neuroctl.cli import main

    assert main(["eval", str(ROOT / "launch" / "cartpole_mpc_hard.yaml"), "--seeds", "2", "--address",
                 "ray://head:10001", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--address: only with --executor ray" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
