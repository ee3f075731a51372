"""Every fault kind in the closed loop with both spiking controllers: the run completes, the faults are
counted, the controller only ever sees plausible finite readings, and nothing non-finite reaches PyBullet."""

import json

import numpy as np
import pytest

from neuroctl.cli import main
from neuroctl.envs.faults import FAULT_KINDS
from neuroctl.runtime.loop import LoopSettings, make_recorder, run_episode

from .conftest import SPIKING_CONFIG, launch_text, make_cartpole

N_TICKS = 150  # 1.5 s; the faults start at 0.5 s
PUSH = {"start_s": 0.2, "duration_s": 0.05, "force_n": 1.0}  # so that applyExternalForce is exercised too
# kind -> (fault, readings it corrupts, the monitor check that must catch it)
FAULTS = {
    "nan": ({"kind": "nan", "sensor": "theta", "start_s": 0.5, "duration_s": 0.05}, 5, "nonfinite"),
    "inf": ({"kind": "inf", "sensor": "theta_dot", "start_s": 0.5, "duration_s": 0.05}, 5, "nonfinite"),
    "stuck": ({"kind": "stuck", "sensor": "x", "start_s": 0.5, "duration_s": 0.3, "magnitude": 0.5}, 30, "stale"),
    "dropout": ({"kind": "dropout", "sensor": "theta", "start_s": 0.5, "duration_s": 0.3}, 30, "stale"),
    "noise": ({"kind": "noise", "sensor": "x_dot", "start_s": 0.5, "duration_s": 0.2, "magnitude": 20.0}, 20,
              "out_of_range"),
    "spike": ({"kind": "spike", "sensor": "theta", "start_s": 0.5, "magnitude": 1e3}, 1, "out_of_range"),
    "bias": ({"kind": "bias", "sensor": "theta", "start_s": 0.5, "duration_s": 0.2, "magnitude": 0.3}, 20, "rate"),
}
PLAUSIBLE = np.array([3.0, 1.0, 10.0, 20.0])  # the cart-pole's default sensor ranges


def run_with_inputs_seen(controller, env, n_ticks, seed, monkeypatch):
    """Run an episode; also return every observation the controller was handed."""
    seen = []
    act = controller.act

    def watched(observation, reference=None):
        seen.append(np.array(observation))
        return act(observation, reference)

    monkeypatch.setattr(controller, "act", watched)
    recorder = make_recorder(env, controller, n_ticks)
    outcome = run_episode(env, controller, LoopSettings(n_ticks=n_ticks, control_period_s=0.01, seed=seed), recorder)
    return outcome, recorder, np.array(seen)


def test_fault_kinds_cover_every_kind():
    assert sorted(FAULTS) == sorted(FAULT_KINDS)


@pytest.mark.parametrize("controller_kind", ["spiking_state_feedback", "mpc_spiking"])
@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_is_contained_counted_and_survived(spiking_controllers, pybullet_spy, monkeypatch, kind,
                                                 controller_kind):
    fault, corrupted, check = FAULTS[kind]
    env = make_cartpole(faults=[fault], pushes=[PUSH])
    outcome, recorder, seen = run_with_inputs_seen(spiking_controllers[controller_kind], env, N_TICKS, 0,
                                                   monkeypatch)
    assert outcome.ticks == N_TICKS and outcome.terminated_at_tick is None  # completed, pole up
    assert outcome.injected_fault_ticks == {**dict.fromkeys(FAULT_KINDS, 0), kind: corrupted}
    assert 1 <= outcome.monitor[check] <= corrupted
    assert outcome.watchdog_replacements == 0
    assert np.all(np.isfinite(seen)) and np.all(np.abs(seen) <= PLAUSIBLE)
    data = recorder.arrays()
    np.testing.assert_array_equal(data["controller_observation"], seen[1:])  # seen[0]: the warm-up's
    assert np.all(np.isfinite(data["action"])) and np.all(np.abs(data["action"]) <= 1.0)
    assert pybullet_spy.numbers["applyExternalForce"] and pybullet_spy.all_finite()
    env.close()


@pytest.mark.parametrize("controller_kind", ["spiking_state_feedback", "mpc_spiking"])
def test_pole_stays_up_through_a_50_ms_nan_burst_on_the_pole_angle(spiking_controllers, monkeypatch,
                                                                   controller_kind):
    burst = {"kind": "nan", "sensor": "theta", "start_s": 1.0, "duration_s": 0.05}
    for seed in range(3):
        env = make_cartpole(faults=[burst])
        outcome, recorder, _ = run_with_inputs_seen(spiking_controllers[controller_kind], env, 300, seed,
                                                    monkeypatch)
        theta = recorder.arrays()["observation"][:, 1]
        assert np.count_nonzero(np.isnan(theta)) == 5 and outcome.monitor["nonfinite"] == 5
        assert outcome.terminated_at_tick is None and outcome.ticks == 300, f"seed {seed} fell"
        assert np.nanmax(np.abs(theta[100:])) < 0.15, f"seed {seed}"
        env.close()


def test_fault_heavy_launch_reports_faults_in_metrics(tmp_path, capsys, pybullet_spy):
    """Every kind at once through `neuroctl launch`, with a sensors section: metrics.json counts them."""
    faults = [fault for fault, _, _ in FAULTS.values()]
    launch = tmp_path / "launch.yaml"
    launch.write_text(launch_text(SPIKING_CONFIG, run="{duration_s: 1.5, seed: 2}",
                                  kwargs=json.dumps({"faults": faults, "pushes": [PUSH]}),
                                  extra="sensors: {x: {stale_after_s: 0.05}}\n"))
    assert main(["launch", str(launch), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "injected ticks: nan 5, inf 5, stuck 30, dropout 30, noise 20, spike 1, bias 20" in out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    faults = metrics["faults"]
    assert faults["injected_ticks"] == {kind: corrupted for kind, (_, corrupted, _) in FAULTS.items()}
    assert faults["watchdog_replacements"] == 0
    trajectory = np.load(tmp_path / "out" / "trajectory.npz")
    # the faults overlap (theta's dropout hides its NaN): the monitor counts what the trajectory shows
    nonfinite = np.count_nonzero(~np.isfinite(trajectory["observation"]))
    assert faults["monitor"]["nonfinite"] == nonfinite > 0
    assert faults["monitor"]["by_sensor"]["x"]["stale"] >= 20
    assert np.all(np.isfinite(trajectory["controller_observation"]))
    assert metrics["task"]["success"] and np.isfinite(metrics["task"]["cost"])
    assert pybullet_spy.all_finite()
