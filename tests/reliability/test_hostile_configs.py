"""Hostile configs through the command line: exit code 2 and one line `error: <where>: <what>`, nothing run,
no traceback. Completes the cases of tests/test_cli.py (bad keys, values, ids, paths) and
tests/test_config.py (the loader alone)."""

import pytest

from neuroctl.cli import main

from .conftest import LQR_CONFIG, SPIKING_CONFIG, launch_text, neuroctl_subprocess

LAUNCH = launch_text(LQR_CONFIG)
ON_C_YAML = launch_text("c.yaml")


def with_run(run: str) -> str:
    return launch_text(LQR_CONFIG, run=run)


def with_kwargs(kwargs: str) -> str:
    return launch_text(LQR_CONFIG, kwargs=kwargs)


# (launch file, controller config c.yaml or None, expected message after "error: <dir>/")
CASES = {
    "empty file": ("", None, "launch.yaml: empty file; expected a mapping of keys to values"),
    "comments only": ("# nothing\n", None, "launch.yaml: empty file"),
    "a list": ("- env\n- controller\n", None, "launch.yaml: expected a mapping of keys to values, got a list"),
    "a string": ("just text\n", None, "launch.yaml: expected a mapping of keys to values, got a string"),
    "binary": (b"\x7fELF\x02\x01\x01\x00\x00", None, "launch.yaml: binary file; expected YAML text"),
    "not utf-8": (b"env: \xff\xfe\n", None, "launch.yaml: not UTF-8 text; expected YAML"),
    "tab indentation": ("env:\n\tid: x\n", None, "launch.yaml: line 2: invalid YAML"),
    "python object": ("!!python/object:neuroctl.launchfile.LaunchConfig {controller: c}\n", None,
                      "launch.yaml: line 1: invalid YAML: could not determine a constructor"),
    "python name": (LAUNCH.replace("controller:", "x: !!python/name:os.system\ncontroller:"), None,
                    "launch.yaml: line 4: invalid YAML"),
    "python apply in kwargs": (with_kwargs("{max_force_n: !!python/object/apply:os.getpid []}"), None,
                               "launch.yaml: line 3: invalid YAML"),
    "deep nesting": ("env: " + "[" * 1000 + "]" * 1000 + "\n", None, "launch.yaml: invalid YAML: nested too deeply"),
    "huge integer": (with_run("{seed: " + "9" * 5000 + "}"), None, "launch.yaml: invalid YAML: Exceeds the limit"),
    "unknown top-level key": (LAUNCH + "zzz: 1\n", None, "launch.yaml: zzz: unknown key; expected one of: "
                              "controller, env, outputs, run, sensors, task"),
    "unknown nested key": (LAUNCH.replace("{plots: false}", "{plots: false, format: svg}"), None,
                           "launch.yaml: outputs.format: unknown key; expected one of: dir, plots, video"),
    "wrong type": (with_run("{seed: zero}"), None, "launch.yaml: run.seed: expected an integer, got string 'zero'"),
    "float seed": (with_run("{seed: 1.5}"), None, "launch.yaml: run.seed: expected an integer, got number 1.5"),
    "env not a mapping": (LAUNCH.replace("kwargs: {}", "kwargs: [1, 2]"), None,
                          "launch.yaml: env.kwargs: expected a mapping, got list"),
    "nan duration": (with_run("{duration_s: .nan}"), None, "launch.yaml: run.duration_s: expected a finite number"),
    "infinite duration": (with_run("{duration_s: .inf}"), None, "launch.yaml: run.duration_s: expected a finite"),
    "nan control period": (with_kwargs("{control_period_s: .nan}"), None,
                           "launch.yaml: env.kwargs.control_period_s: must be a multiple of 0.001 s"),
    "negative control period": (with_kwargs("{control_period_s: -0.01}"), None,
                                "launch.yaml: env.kwargs.control_period_s: must be a multiple of 0.001 s"),
    "negative spin": (with_run("{spin_s: -0.001}"), None, "launch.yaml: run.spin_s: expected a value >= 0.0"),
    "records too large": (with_run("{duration_s: 86400}") .replace("kwargs: {}", "kwargs: {control_period_s: 0.001}"),
                          None, "launch.yaml: run.duration_s: recording 86400000 ticks"),
    "bad fault": (with_kwargs("{faults: [{kind: nan, sensor: tilt, start_s: 0, duration_s: 1}]}"), None,
                  "launch.yaml: env.kwargs.faults[0].sensor: must be a sensor name"),
    "render mode": (with_kwargs("{render_mode: human}"), None, "launch.yaml: env.kwargs.render_mode: not allowed"),
    "unknown sensor": (LAUNCH + "sensors: {angle: {high: 1}}\n", None, "launch.yaml: sensors.angle: unknown sensor"),
    "unrelated env id": (LAUNCH.replace("neuroctl/CartPoleBalance-v0", "Quadcopter-v7"), None,
                         "the neuroctl ids are: neuroctl/CartPoleBalance-v0"),
    "env a launch cannot drive": (LAUNCH.replace("neuroctl/CartPoleBalance-v0", "CartPole-v1"), None,
                                  "launch.yaml: env.id: 'CartPole-v1' cannot be launched: it lacks 1-D Box"),
    "launch file is a directory": (None, None, "launch.yaml: not a regular file"),
    "controller is a directory": (launch_text("."), None, "launch.yaml: controller: controller config"),
    "controller config empty": (ON_C_YAML, "", "c.yaml: empty file"),
    "controller binary": (ON_C_YAML, b"\x00\x01", "c.yaml: binary file"),
    "controller not a mapping": (ON_C_YAML, "[lqr]\n", "c.yaml: expected a mapping of keys to values, got a list"),
    "controller kind missing": (ON_C_YAML, "q: [1, 1, 1, 1]\n", "c.yaml: kind: missing; expected one of"),
    "a billion neurons": (ON_C_YAML,
                          "kind: spiking_state_feedback\npopulation: {neurons_per_dimension: 1000000000}\n",
                          "c.yaml: population.neurons_per_dimension: expected a value <= "),
    "horizon of a billion": (ON_C_YAML, "kind: mpc_spiking\nhorizon: 1000000000\n",
                             "c.yaml: horizon: expected a value <= 1000, got 1000000000"),
    "exact mpc horizon": (ON_C_YAML, "kind: mpc_exact\nhorizon: 1000000000\n", "c.yaml: horizon: expected a value"),
    "iterations of a billion": (ON_C_YAML, "kind: mpc_dense\niterations: 1000000000\n",
                                "c.yaml: iterations: expected a value <= 10000"),
    "nan substep": (ON_C_YAML, "kind: spiking_state_feedback\npopulation: {substep_s: .nan}\n",
                    "c.yaml: population.substep_s: expected a finite number, got nan"),
    "negative synapse": (ON_C_YAML, "kind: spiking_state_feedback\ntau_syn_s: -0.005\n",
                         "c.yaml: tau_syn_s: expected a value > 0.0"),
    "python tag in controller": (ON_C_YAML, "kind: !!python/object/new:os.system [ls]\n", "c.yaml: line 1: invalid"),
}


def write(path, content):
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_config_ends_with_one_line_and_exit_2(tmp_path, capsys, name):
    launch_content, controller_content, expected = CASES[name]
    launch = tmp_path / "launch.yaml"
    if launch_content is None:
        launch.mkdir()
    else:
        write(launch, launch_content)
    if controller_content is not None:
        write(tmp_path / "c.yaml", controller_content)
    code = main(["launch", str(launch), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"error: {tmp_path}/"), err
    assert expected in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command, content, expected", [
    ("launch", "!!python/object/apply:os.system ['echo pwned']\n", "launch.yaml: line 1: invalid YAML"),
    ("check", "kind: spiking_state_feedback\npopulation: {neurons_per_dimension: 1000000000}\n",
     "launch.yaml: population.neurons_per_dimension: expected a value <= "),
])
def test_no_traceback_in_a_fresh_process(tmp_path, command, content, expected):
    launch = tmp_path / "launch.yaml"
    launch.write_text(content)
    result = neuroctl_subprocess(command, launch, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "pwned" not in result.stdout
    assert result.stderr.startswith(f"error: {launch}: ") and expected in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr


def test_spiking_config_limits_are_checked_before_building(tmp_path, capsys):
    """The largest neurons_per_dimension the config allows is refused by the loader, not by the allocator."""
    config = tmp_path / "c.yaml"
    config.write_text(SPIKING_CONFIG.read_text().replace("neurons_per_dimension: 100",
                                                          "neurons_per_dimension: 10001"))
    assert main(["check", str(config)]) == 2
    assert "neurons_per_dimension: expected a value <= " in capsys.readouterr().err


def test_controller_kind_that_is_not_a_string(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("kind: [lqr]\n")
    assert main(["check", str(config)]) == 2
    assert "c.yaml: kind: " in capsys.readouterr().err
