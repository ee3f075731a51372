"""The command line, end to end: runs, results on disk, and one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuroctl.cli import main

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / "launch" / "cartpole_balance.yaml"
LQR = ROOT / "configs" / "controllers" / "cartpole_lqr.yaml"


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_launch_writes_metrics_and_trajectory(tmp_path, capsys):
    code, out, err = run_cli(capsys, "launch", LAUNCH, "--controller", LQR, "--duration", "2", "--seed", "4",
                             "--out", tmp_path)
    assert code == 0, err
    assert "succeeded after" in out and "task metrics        time_balanced_s 2, max_abs_theta_rad" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["schema"] == 1 and metrics["ticks"] == 200 and metrics["seed"] == 4
    assert metrics["task"]["success"] is True and metrics["task"]["terminated_at_tick"] is None
    assert set(metrics["latency_us"]["stages"]) == {"control", "actuate", "physics", "sense"}
    assert metrics["activity"]["dense_macs_per_tick"] == 4.0
    assert metrics["energy"]["charged_counts_per_tick"] == {"dense_macs": 4.0}
    assert metrics["energy"]["profiles"]["loihi"]["applicable"] is False
    assert metrics["energy"]["profiles"]["cpu"]["energy_j"] == pytest.approx(4 * 8.6e-9)
    trajectory = np.load(tmp_path / "trajectory.npz")
    assert trajectory["observation"].shape == (200, 4) and trajectory["action"].shape == (200, 1)
    assert not list(tmp_path.glob(".*.tmp"))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


LAUNCH_TEXT = f"""env:
  id: neuroctl/CartPoleBalance-v0
controller: {LQR}
run: {{duration_s: 0.5}}
"""


@pytest.mark.parametrize("launch_text, controller_text, expected", [
    (LAUNCH_TEXT.replace("duration_s: 0.5", "duration_s: -1"), None,
     "launch.yaml: run.duration_s: expected a value > 0.0 and <= 86400.0, got -1.0"),
    (LAUNCH_TEXT.replace("duration_s: 0.5", "duraton_s: 1"), None,
     "launch.yaml: run.duraton_s: unknown key; did you mean 'duration_s'?"),
    (LAUNCH_TEXT.replace("CartPoleBalance-v0", "CartPoleBalanse-v0"), None,
     "launch.yaml: env.id: unknown environment id 'neuroctl/CartPoleBalanse-v0'; "
     "did you mean 'neuroctl/CartPoleBalance-v0'?"),
    (LAUNCH_TEXT + "outputs: {plots: maybe}\n", None,
     "launch.yaml: outputs.plots: expected true or false, got string 'maybe'"),
    (LAUNCH_TEXT.replace("{duration_s: 0.5}", "{duration_s: 0.5, realtime: {rehearse: 2}}"), None,
     "launch.yaml: run.realtime.rehearse: expected true or false, got integer 2"),
    (LAUNCH_TEXT.replace(str(LQR), "missing.yaml"), None, "launch.yaml: controller: controller config"),
    ("env:\n  id: neuroctl/CartPoleBalance-v0\n  kwargs: {control_period_s: 0.5}\ncontroller: c.yaml\n",
     "kind: lqr\n", "launch.yaml: env.kwargs.control_period_s: must be a multiple of 0.001 s"),
    ("env: {id: neuroctl/CartPoleBalance-v0}\ncontroller: c.yaml\n", "kind: lqr\nq: [1, 2]\n",
     "c.yaml: q: expected 4 weights (one per state), got 2"),
    ("env: {id: neuroctl/CartPoleBalance-v0}\ncontroller: c.yaml\n", "kind: lqrr\n",
     "c.yaml: kind: unknown controller kind 'lqrr'"),
    ("env: {id: neuroctl/CartPoleBalance-v0}\ncontroller: c.yaml\n", "kind: lqr\nr: [.nan]\n",
     "c.yaml: r[0]: expected a finite number, got nan"),
    ("env: {id: neuroctl/CartPoleBalance-v0}\ncontroller: c.yaml\n", "kind: lqr\nq: !!python/object/apply:os.system [ls]\n",
     "c.yaml: line 2: invalid YAML"),
    ("env: [1, 2\n", None, "launch.yaml: line 2: invalid YAML"),
])
def test_bad_configs_give_one_line_and_exit_2(tmp_path, capsys, launch_text, controller_text, expected):
    launch = write(tmp_path, "launch.yaml", launch_text)
    if controller_text is not None:
        write(tmp_path, "c.yaml", controller_text)
    code, out, err = run_cli(capsys, "launch", launch, "--out", tmp_path / "out")
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, expected", [
    (["launch", LAUNCH, "--mode", "turbo"], "argument --mode: invalid choice: 'turbo'"),
    (["launch", LAUNCH, "--duration", "nan"], "argument --duration: expected a positive finite number"),
    (["launch", LAUNCH, "--seed", "-3"], "argument --seed: expected an integer in [0, 2**32)"),
    (["launch", "absent.yaml"], "absent.yaml: no such file"),
    (["launch", LAUNCH, "--controller", "absent.yaml"], "--controller: controller config"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["launch", "cartpole_mpk"], "cartpole_mpk: no such file, nor a packaged launch file of that name; "
                                 "did you mean 'cartpole_mpc'?"),
])
def test_bad_command_lines(capsys, args, expected):
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and expected in err, err


def test_check_validates_without_running(capsys):
    code, out, _ = run_cli(capsys, "check", LQR)
    assert code == 0 and "controller config (lqr)" in out
    code, out, _ = run_cli(capsys, "check", LAUNCH)
    assert code == 0 and "launch file (neuroctl/CartPoleBalance-v0" in out


def test_python_dash_m_and_no_traceback_in_a_fresh_process(tmp_path):
    bad = write(tmp_path, "bad.yaml", "kind: lqr\nbogus: 1\n")
    result = subprocess.run([sys.executable, "-m", "neuroctl", "check", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: bogus: unknown key; expected one of: q, r"
    assert "Traceback" not in result.stderr


def test_an_unwritable_output_directory_fails_before_the_run(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "launch", LAUNCH, "--duration", "0.1", "--out", blocker / "run")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: --out: cannot write results to") and "is not a directory" in err


@pytest.mark.parametrize("launch_text, expected", [
    ("env: {id: neuroctl/CartPoleBalance-v0, kwargs: {control_period_s: 0.0105}}\ncontroller: c.yaml\n",
     "launch.yaml: env.kwargs.control_period_s: must be a multiple of 0.001 s"),
    ("env: {id: neuroctl/CartPoleBalance-v0}\ncontroller: c.yaml\ntask: {cost_q: [1]}\n",
     "launch.yaml: task.cost_q: expected 4 weights, got 1"),
])
def test_check_validates_what_a_run_would(tmp_path, capsys, launch_text, expected):
    write(tmp_path, "c.yaml", "kind: lqr\n")
    code, _, err = run_cli(capsys, "check", write(tmp_path, "launch.yaml", launch_text))
    assert code == 2 and expected in err


def test_a_controller_model_section_must_fit_the_environment(tmp_path, capsys):
    write(tmp_path, "c.yaml", "kind: lqr\nmodel: {dt_s: 0.01, A: [[1.0]], B: [[1.0]]}\n")
    launch = write(tmp_path, "launch.yaml", "env: {id: neuroctl/CartPoleBalance-v0}\ncontroller: c.yaml\n")
    code, _, err = run_cli(capsys, "check", launch)
    assert code == 2 and "c.yaml: model.A: expected 4 x 4 (one state per observation component" in err


def test_version_and_bare_neuroctl(capsys):
    import neuroctl

    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out == f"neuroctl {neuroctl.__version__}\n"
    code, out, err = run_cli(capsys)  # no command: the help on stderr, a usage error
    assert code == 2 and out == "" and err.startswith("usage: neuroctl") and "launch" in err and "examples:" in err


@pytest.mark.parametrize("command", ["launch", "check", "eval", "bench", "info"])
def test_every_command_has_an_example_in_its_help(capsys, command):
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0 and "example" in out and f"neuroctl {command}" in out.partition("example")[2]


def test_a_packaged_launch_file_resolves_by_name(capsys):
    from neuroctl.launchfile import load_launch, packaged_launch_dir, resolve_launch_path

    path = resolve_launch_path("cartpole_mpc")
    assert path == packaged_launch_dir() / "cartpole_mpc.yaml" == resolve_launch_path("cartpole_mpc.yaml")
    launch = load_launch(path)  # its controller (../configs/controllers/...) resolves beside it
    assert launch.controller_kind == "mpc_spiking" and launch.controller_path.is_file()
    assert resolve_launch_path(LAUNCH) == LAUNCH  # an existing path is itself
    code, out, _ = run_cli(capsys, "check", "cartpole_balance")
    assert code == 0 and "launch file (neuroctl/CartPoleBalance-v0" in out


def test_the_wheel_ships_the_launch_files_beside_the_configs(tmp_path):
    """A wheel holds neuroctl/launch/*.yaml beside neuroctl/configs/, so that a launch file's
    `../configs/controllers/...` resolves in an installed package as in the repository."""
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("neuroctl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for launch in sorted((ROOT / "launch").glob("*.yaml")):
        assert f"neuroctl/launch/{launch.name}" in names
        import yaml

        controller = yaml.safe_load(launch.read_text())["controller"]
        resolved = Path("neuroctl/launch", controller).as_posix().replace("neuroctl/launch/../", "neuroctl/")
        assert resolved in names, (launch.name, controller)


def test_results_are_never_overwritten_silently(tmp_path, capsys):
    launch = write(tmp_path, "launch.yaml", LAUNCH_TEXT + "outputs: {plots: false}\n")  # plots: 4 s a run
    args = ["launch", launch, "--duration", "0.1", "--out", tmp_path / "out"]
    assert run_cli(capsys, *args)[0] == 0
    first = (tmp_path / "out" / "metrics.json").read_bytes()
    code, out, err = run_cli(capsys, *args, "--seed", "5")
    assert code == 0 and f"results             {tmp_path / 'out-2'}" in out
    assert "holds an earlier run's results: writing to" in err and "out-2" in err
    assert (tmp_path / "out" / "metrics.json").read_bytes() == first
    assert json.loads((tmp_path / "out-2" / "metrics.json").read_text())["seed"] == 5
    assert run_cli(capsys, *args, "--seed", "6")[0] == 0
    assert json.loads((tmp_path / "out-3" / "metrics.json").read_text())["seed"] == 6
    code, out, err = run_cli(capsys, *args, "--seed", "7", "--overwrite")
    assert code == 0 and "earlier run" not in err
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["seed"] == 7


def test_the_summary_names_the_controller_and_prices_the_dense_twin(tmp_path, capsys):
    code, out, err = run_cli(capsys, "launch", "cartpole_mpc", "--duration", "0.2", "--out", tmp_path)
    assert code == 0, err
    rows = {line[:20].strip(): line[20:] for line in out.splitlines()}
    assert rows["controller"].startswith("mpc_spiking from ") and "cartpole_mpc.yaml: horizon 20, iterations 20" in \
        rows["controller"] and "theta_neuron 0.002" in rows["controller"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    dense_macs = metrics["activity"]["dense_macs_per_tick"]
    assert f"dense twin, {dense_macs:.0f} MACs" in rows["energy per tick"]
    # loihi: the spiking network's modelled delay and EDP; the dense twin cannot run there
    assert "modelled" in rows["loihi"] and rows["loihi"].endswith("n/a (loihi has no cost for dense_macs)")
    # cpu: the dense twin is the same MACs at 8.6 nJ each
    assert rows["cpu"].split("|")[1].strip() == f"{dense_macs * 8.6e-9 * 1e6:.3g} uJ"
    assert "measured" in rows["cpu"].split("|")[0]


def test_launch_in_a_fresh_process_prints_no_pybullet_banner(tmp_path):
    result = subprocess.run([sys.executable, "-m", "neuroctl", "launch", str(LAUNCH), "--controller", str(LQR),
                             "--duration", "0.1", "--out", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("run ") and result.stderr == ""
    assert "pybullet" not in (result.stdout + result.stderr).lower().replace("neuroctl/", "")
