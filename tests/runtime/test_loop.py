"""The control loop: pacing, overrun policies, watchdog, recording, with the real cart-pole."""

import json
import os
import signal
import time

import gymnasium
import numpy as np
import pytest

import neuroctl  # noqa: F401  (registers the environments)
from neuroctl.control.base import Controller
from neuroctl.control.lqr import LQRConfig, LQRController
from neuroctl.launchfile import linear_model_of
from neuroctl.metrics.report import build_metrics
from neuroctl.runtime.loop import LoopSettings, StopRequest, make_recorder, run_episode
from neuroctl.envs.robot import Sensor
from neuroctl.runtime.recorder import COMMAND_HELD, COMMAND_REPLACED, COMMAND_SKIPPED, Recorder
from neuroctl.runtime.watchdog import CommandWatchdog


def make_env(**kwargs):
    return gymnasium.make("neuroctl/CartPoleBalance-v0", disable_env_checker=True,
                          max_episode_steps=10**9, **kwargs)


class SlowEveryNth(Controller):
    """LQR that sleeps `delay_s` on every `every`-th call (counted in `slow_calls`): an artificial overrun."""

    def __init__(self, inner: Controller, every: int, delay_s: float):
        super().__init__()
        self.inner, self.every, self.delay_s, self.calls, self.slow_calls = inner, every, delay_s, 0, 0

    @property
    def observation_size(self):
        return self.inner.observation_size

    def reset(self, seed):
        self.calls = self.slow_calls = 0

    def act(self, observation, reference=None):
        self.calls += 1
        if self.calls % self.every == 0:
            self.slow_calls += 1
            time.sleep(self.delay_s)
        return self.inner.act(observation, reference)


class Broken(LQRController):
    """Returns NaN on every third call and an out-of-range command on every fifth."""

    calls = 0

    def act(self, observation, reference=None):
        self.calls += 1
        action = super().act(observation, reference).copy()
        if self.calls % 3 == 0:
            action[:] = np.nan
        elif self.calls % 5 == 0:
            action[:] = 7.0
        return action


def lqr_for(env):
    return LQRController(LQRConfig(q=(1.0, 10.0, 0.1, 0.1), r=(1.0,)), linear_model_of(env), 4)


def run(env, controller, stop=None, on_tick=None, **settings):
    settings = LoopSettings(**{"n_ticks": 100, "control_period_s": env.unwrapped.control_period_s, **settings})
    recorder = make_recorder(env, controller, settings.n_ticks)
    outcome = run_episode(env, controller, settings, recorder, stop, on_tick)
    return outcome, recorder


def test_fast_mode_balances_and_records_every_tick():
    env = make_env()
    outcome, recorder = run(env, lqr_for(env), n_ticks=500, seed=3)
    assert outcome.ticks == 500 and outcome.terminated_at_tick is None
    data = recorder.arrays()
    assert np.all(np.abs(data["observation"][-50:, 1]) < 0.01)
    np.testing.assert_allclose(data["time_s"], np.arange(500) * 0.01)
    assert recorder.stage_names == ("control", "actuate", "physics", "sense")
    assert np.all(data["stage_s"][:, 2] > 0) and np.all(data["tick_s"] >= data["stage_s"].sum(axis=1) * 0.99)
    assert np.all(data["activity"][:, 3] == 4)


def test_fast_mode_is_deterministic():
    env = make_env()
    first = run(env, lqr_for(env), seed=11)[1].arrays()
    second = run(env, lqr_for(env), seed=11)[1].arrays()
    other = run(env, lqr_for(env), seed=12)[1].arrays()
    assert np.array_equal(first["observation"], second["observation"])
    assert np.array_equal(first["action"], second["action"])
    assert not np.array_equal(first["observation"], other["observation"])


def test_realtime_pacing_keeps_the_period():
    env = make_env(control_period_s=0.002)
    start = time.perf_counter()
    outcome, recorder = run(env, lqr_for(env), n_ticks=250, mode="realtime")
    elapsed = time.perf_counter() - start
    assert outcome.ticks == 250
    assert elapsed >= 249 * 0.002
    assert np.median(recorder.arrays()["lateness_s"]) < 0.0005


@pytest.mark.parametrize("policy", ["hold", "skip", "abort"])
def test_overrun_policies(policy):
    env = make_env(control_period_s=0.005)
    slow = SlowEveryNth(lqr_for(env), every=20, delay_s=0.012)
    outcome, recorder = run(env, slow, n_ticks=100, mode="realtime", overrun_policy=policy)
    source = recorder.arrays()["command_source"]
    if policy == "abort":
        # stops at the first miss: the slow 20th call, or an earlier one on a loaded machine
        assert outcome.aborted and outcome.ticks <= 20 and outcome.deadline_misses == 1
        assert recorder.count == outcome.ticks
        return
    assert outcome.ticks == 100 and not outcome.aborted
    # every slow call misses (a loaded machine may add misses of its own)
    assert outcome.deadline_misses >= slow.slow_calls >= 4
    if policy == "hold":
        assert np.count_nonzero(source == COMMAND_HELD) == outcome.deadline_misses
    else:  # a slow call (12 ms) spans at least two 5 ms release times, which are skipped
        assert np.count_nonzero(source == COMMAND_SKIPPED) >= 2 * slow.slow_calls
    # the loop kept its schedule: 100 periods of 5 ms, plus at most the last slow call and some slack
    assert 100 * 0.005 - 0.006 < outcome.wall_time_s < 100 * 0.005 + 0.1


def test_watchdog_replaces_bad_commands_before_the_actuator():
    env = make_env()
    controller = Broken(LQRConfig(q=(1.0, 10.0, 0.1, 0.1), r=(1.0,)), linear_model_of(env), 4)
    outcome, recorder = run(env, controller, n_ticks=60, watchdog="hold")
    data = recorder.arrays()
    # warm-up makes call 1; ticks make calls 2..61: 20 multiples of 3 (NaN) and 8 of 5 but not 3 (7.0)
    assert outcome.watchdog_replacements == 28
    assert np.count_nonzero(data["command_source"] == COMMAND_REPLACED) == outcome.watchdog_replacements
    assert np.all(np.isfinite(data["action"])) and np.all(np.abs(data["action"]) <= 1.0)
    assert env.unwrapped.nonfinite_actions == 0


def test_watchdog_safe_commands():
    dog = CommandWatchdog(np.array([-1.0]), np.array([1.0]), safe="hold")
    assert dog.check(np.array([0.4]))[1] is False
    command, replaced = dog.check(np.array([np.inf]))
    assert replaced and command[0] == 0.4
    zero = CommandWatchdog(np.array([-1.0]), np.array([1.0]), safe="zero")
    zero.check(np.array([0.4]))
    assert zero.check(np.array([1.5]))[0][0] == 0.0 and zero.replaced == 1


def test_stop_requested_during_the_warm_up_ends_before_the_first_tick():
    env = make_env()
    stop = StopRequest()
    stop.signal_number = signal.SIGTERM
    outcome, recorder = run(env, lqr_for(env), stop=stop)
    assert outcome.ticks == recorder.count == 0 and outcome.interrupted and outcome.terminated_at_tick is None
    metrics = build_metrics(env_id="e", controller="lqr", settings=LoopSettings(100, 0.01), outcome=outcome,
                            recorder=recorder, tracking_error=np.zeros((0, 4)), cost_q=np.ones(4),
                            cost_r=np.ones(1))
    assert metrics["ticks"] == 0 and metrics["interrupted"] and json.dumps(metrics, allow_nan=False)


def test_sigint_in_the_loop_stops_it_before_the_next_tick():
    env = make_env()
    with StopRequest() as stop:
        handler = signal.getsignal(signal.SIGINT)
        outcome, recorder = run(env, lqr_for(env), stop=stop,
                                on_tick=lambda k: os.kill(os.getpid(), signal.SIGINT) if k == 30 else None)
    assert signal.getsignal(signal.SIGINT) is not handler  # the previous handler is back
    assert outcome.ticks == 30 and outcome.interrupted and stop.signal_number == signal.SIGINT


def test_the_controller_sees_only_what_the_monitor_hands_on():
    env = make_env(faults=[{"kind": "nan", "sensor": "theta", "start_s": 0.2, "duration_s": 0.05},
                           {"kind": "spike", "sensor": "x", "start_s": 0.4, "magnitude": 100.0}])
    limits = tuple(Sensor(str(i), "", low=-2.0, high=2.0) for i in range(4))
    outcome, recorder = run(env, lqr_for(env), sensors=limits)
    data = recorder.arrays()
    bad = ~np.isfinite(data["observation"]) | (np.abs(data["observation"]) > 2.0)
    assert np.count_nonzero(bad) == 6 and outcome.monitor["nonfinite"] == 5 and outcome.monitor["out_of_range"] == 1
    assert np.all(np.isfinite(data["controller_observation"]))
    held = np.nonzero(bad)  # each bad reading is replaced by the sensor's reading of the tick before
    np.testing.assert_array_equal(data["controller_observation"][held], data["controller_observation"][held[0] - 1,
                                                                                                      held[1]])
    assert outcome.injected_fault_ticks["nan"] == 5 and outcome.injected_fault_ticks["spike"] == 1


def test_recorder_refuses_absurd_sizes_before_allocating():
    with pytest.raises(ValueError, match=r"^recording 1000000000 ticks \(\d+ bytes each\) needs [\d.]+ GB; at most"):
        Recorder(10**9, 4, 1, ("control",), prediction_shape=(21, 4), plan_size=20, raster_shape=(10, 800))


def test_the_loop_steps_past_bookkeeping_wrappers_but_keeps_the_others():
    """OrderEnforcing, PassiveEnvChecker and a TimeLimit the episode cannot reach are skipped (a Python
    call each per tick); a limit within the episode, or a wrapper that changes the environment, stays."""
    from neuroctl.runtime.loop import without_bookkeeping

    env = gymnasium.make("neuroctl/CartPoleBalance-v0", max_episode_steps=10**9)  # with the env checker too
    assert without_bookkeeping(env, 1000) is env.unwrapped
    limited = gymnasium.make("neuroctl/CartPoleBalance-v0", max_episode_steps=500, disable_env_checker=True)
    assert without_bookkeeping(limited, 1000) is limited
    assert without_bookkeeping(limited, 500) is limited.unwrapped
    rescaled = gymnasium.wrappers.RescaleAction(make_env(), -0.5, 0.5)
    assert without_bookkeeping(rescaled, 1000) is rescaled
    for e in (env, limited, rescaled):
        e.close()
