"""The compiled control tick (monitor, controller step, records, watchdog in one numba call) against the
Python path (`act` and the same checks as separate calls): same controller, same episode, same records."""

import dataclasses
from pathlib import Path

import gymnasium
import numpy as np
import pytest

import neuroctl  # noqa: F401  (registers the environments)
from neuroctl.control.registry import build_controller, load_controller_config
from neuroctl.launchfile import linear_model_of
from neuroctl.runtime.loop import LoopSettings, make_recorder, run_episode
from neuroctl.runtime.recorder import COMMAND_HELD

ROOT = Path(__file__).resolve().parents[2]
TIMING = {"stage_s", "tick_s", "lateness_s", "tick_cpu_s"}  # wall-clock measurements may differ
COMPILED = ["cartpole_lqr", "cartpole_mpc", "cartpole_mpc_dense", "cartpole_balance"]
FAULTS = [  # one of each check the monitor makes, during the episode (10 ms ticks)
    {"kind": "nan", "sensor": "theta", "start_s": 0.3, "duration_s": 0.05},
    {"kind": "stuck", "sensor": "x", "start_s": 0.5, "duration_s": 0.3, "magnitude": 0.5},
    {"kind": "noise", "sensor": "x_dot", "start_s": 0.9, "duration_s": 0.1, "magnitude": 20.0},
    {"kind": "bias", "sensor": "theta", "start_s": 1.1, "duration_s": 0.1, "magnitude": 0.3},
]
PUSHES = [{"start_s": 0.2, "duration_s": 0.05, "force_n": 2.0}]


def make_cartpole(**kwargs):
    return gymnasium.make("neuroctl/CartPoleBalance-v0", disable_env_checker=True, max_episode_steps=10**9,
                          faults=FAULTS, pushes=PUSHES, max_force_n=6.0, **kwargs)


def controller_of(name, env):
    path = ROOT / "configs" / "controllers" / f"{name}.yaml"
    kind, config = load_controller_config(path)
    return build_controller(kind, config, linear_model_of(env), 4, path)


def episode(env, controller, compiled, seed, **settings):
    settings = LoopSettings(n_ticks=150, control_period_s=0.01, seed=seed, compiled_tick=compiled, **settings)
    recorder = make_recorder(env, controller, settings.n_ticks)
    outcome = run_episode(env, controller, settings, recorder)
    return outcome, {name: values for name, values in recorder.arrays().items() if name not in TIMING}


@pytest.mark.parametrize("name", COMPILED)
def test_the_compiled_tick_reproduces_the_python_path_with_faults_and_pushes(name):
    env = make_cartpole()
    controller = controller_of(name, env)
    assert controller.compiled_arrays() is not None
    for seed in (1, 2):
        python_outcome, python = episode(env, controller, False, seed)
        compiled_outcome, compiled = episode(env, controller, True, seed)
        assert python.keys() == compiled.keys()
        for record in python:
            np.testing.assert_array_equal(compiled[record], python[record], err_msg=f"{name} {record} seed {seed}")
        assert compiled_outcome.monitor == python_outcome.monitor
        assert compiled_outcome.injected_fault_ticks == python_outcome.injected_fault_ticks
        assert compiled_outcome.ticks == python_outcome.ticks == 150
        assert compiled_outcome.monitor["nonfinite"] == 5 and compiled_outcome.monitor["stale"] > 0
        assert compiled_outcome.monitor["out_of_range"] > 0 and compiled_outcome.monitor["rate"] > 0
    env.close()


def test_a_replaced_act_takes_the_python_path(monkeypatch):
    env = make_cartpole()
    controller = controller_of("cartpole_lqr", env)
    calls = []
    act = controller.act

    def counted(observation, reference=None):
        calls.append(1)
        return act(observation, reference)

    monkeypatch.setattr(controller, "act", counted)
    assert controller.compiled_arrays() is None
    outcome, _ = episode(env, controller, True, 0)
    assert len(calls) == outcome.ticks + 1  # the warm-up's call and one per tick
    env.close()


def test_the_population_input_keeps_the_python_path():
    env = make_cartpole()
    assert controller_of("cartpole_mpc_population", env).compiled_arrays() is None
    env.close()


def test_held_ticks_between_compiled_ticks_record_the_last_command():
    """Realtime with a period too short for a tick: `hold` applies the last command on the next tick."""
    env = make_cartpole(control_period_s=0.001)
    controller = controller_of("cartpole_mpc", env)
    settings = LoopSettings(n_ticks=200, control_period_s=1e-5, mode="realtime", overrun_policy="hold")
    recorder = make_recorder(env, controller, settings.n_ticks)
    outcome = run_episode(env, controller, dataclasses.replace(settings, compiled_tick=True), recorder)
    data = recorder.arrays()
    held = np.flatnonzero(data["command_source"] == COMMAND_HELD)
    assert held.size > 50 and outcome.deadline_misses > 50
    np.testing.assert_array_equal(data["action"][held], data["action"][held - 1])
    assert np.all(data["activity"][held] == 0) and np.all(np.isnan(data["reference"][held]))
    env.close()
