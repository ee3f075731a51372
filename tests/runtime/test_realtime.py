"""Realtime settings (applied or reported, and undone) and the cause of every deadline miss."""

import os
import time
from pathlib import Path

import gymnasium
import numpy as np
import pytest

import neuroctl  # noqa: F401  (registers the environments)
from neuroctl.control.base import Controller
from neuroctl.control.lqr import LQRConfig, LQRController
from neuroctl.control.registry import build_controller, load_controller_config
from neuroctl.launchfile import linear_model_of, load_launch, loop_settings, make_env
from neuroctl.runtime.loop import LoopSettings, Rehearsal, make_recorder, miss_cause, run_episode
from neuroctl.runtime.realtime import RealtimeSettings, realtime_applied, realtime_summary
from neuroctl.runtime.recorder import COMMAND_HELD

ROOT = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux scheduling calls")


@linux_only
def test_affinity_is_applied_for_the_run_and_restored():
    before = os.sched_getaffinity(0)
    cpu = min(before)
    with realtime_applied(RealtimeSettings(cpus=(cpu,))) as applied:
        assert os.sched_getaffinity(0) == {cpu}
        report = applied.report()
    assert report["cpu_affinity"] == {"requested": [cpu], "applied": True, "detail": f"was {sorted(before)}"}
    assert os.sched_getaffinity(0) == before


@linux_only
def test_an_unavailable_cpu_is_reported_not_raised():
    before = os.sched_getaffinity(0)
    with realtime_applied(RealtimeSettings(cpus=(4095,))) as applied:
        entry = applied.report()["cpu_affinity"]
        assert os.sched_getaffinity(0) == before
    assert not entry["applied"] and "[4095] are not available" in entry["detail"]
    assert "cpu_affinity [4095]: NOT applied" in realtime_summary(applied.report())


@linux_only
def test_fifo_priority_is_applied_and_undone_or_says_why_not():
    policy = os.sched_getscheduler(0)
    with realtime_applied(RealtimeSettings(fifo_priority=10)) as applied:
        entry = applied.report()["fifo_priority"]
        inside = os.sched_getscheduler(0)
    if entry["applied"]:
        assert inside == os.SCHED_FIFO
    else:
        assert inside == policy and "needs root, CAP_SYS_NICE or an rtprio limit" in entry["detail"]
    assert os.sched_getscheduler(0) == policy


def test_memory_lock_is_applied_or_says_why_not():
    with realtime_applied(RealtimeSettings(lock_memory=True)) as applied:
        entry = applied.report()["lock_memory"]
        locked_kib = _locked_kib()
    if entry["applied"]:
        assert locked_kib is None or locked_kib > 1000  # the interpreter's pages at least
    else:
        assert "needs root, CAP_IPC_LOCK or a memlock limit" in entry["detail"]
    assert _locked_kib() in (None, 0)


def _locked_kib() -> int | None:
    """VmLck of this process (kiB), None where /proc does not say."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmLck:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@pytest.mark.parametrize(
    "times, cause",
    [
        # (release, previous end, start, end, thread CPU of the tick), period 1 ms
        ((0.0, -0.0005, 0.0, 0.0015, 0.0015), "compute"),  # ran 1.5 ms on the CPU
        ((0.0, -0.0005, 0.0, 0.0015, 0.0002), "stalled"),  # 1.3 ms of the tick not running
        ((0.0, -0.0005, 0.0006, 0.0012, 0.0006), "stalled"),  # woke 0.6 ms late from its wait
        ((0.0, 0.0008, 0.0008, 0.0012, 0.0004), "carried"),  # started late: the previous tick overran
    ],
)
def test_miss_cause(times, cause):
    assert miss_cause(*times, period=0.001) == cause


class SlowOnce(Controller):
    """LQR that, on call `at`, spends `delay_s` either busy on the CPU (`busy`) or asleep (not running)."""

    def __init__(self, inner: Controller, at: int, delay_s: float, busy: bool):
        super().__init__()
        self.inner, self.at, self.delay_s, self.busy, self.calls = inner, at, delay_s, busy, 0

    @property
    def observation_size(self):
        return self.inner.observation_size

    def reset(self, seed):
        self.calls = 0

    def act(self, observation, reference=None):
        self.calls += 1
        if self.calls == self.at:
            if self.busy:  # delay_s of this thread's CPU time, however loaded the machine is
                end = time.thread_time() + self.delay_s
                while time.thread_time() < end:
                    pass
            else:
                time.sleep(self.delay_s)
        return self.inner.act(observation, reference)


@pytest.mark.parametrize("busy, cause", [(True, "compute"), (False, "stalled")])
def test_a_slow_tick_is_attributed_to_its_cause(busy, cause):
    env = gymnasium.make("neuroctl/CartPoleBalance-v0", disable_env_checker=True, max_episode_steps=10**9,
                         control_period_s=0.005)
    lqr = LQRController(LQRConfig(q=(1.0, 10.0, 0.1, 0.1), r=(1.0,)), linear_model_of(env), 4)
    settings = LoopSettings(n_ticks=60, control_period_s=0.005, mode="realtime", overrun_policy="skip")
    recorder = make_recorder(env, SlowOnce(lqr, 30, 0.012, busy), settings.n_ticks)
    outcome = run_episode(env, SlowOnce(lqr, 30, 0.012, busy), settings, recorder)
    env.close()
    assert outcome.misses_by_cause[cause] >= 1  # the slow tick (a loaded machine may add misses of its own)
    assert sum(outcome.misses_by_cause.values()) == outcome.deadline_misses
    assert outcome.realtime["wait"] == {"requested": "sleep", "applied": True}
    data = recorder.arrays()
    slow = data["tick_s"].argmax()
    assert data["tick_s"][slow] > 0.012
    assert (data["tick_cpu_s"][slow] > 0.010) if busy else (data["tick_cpu_s"][slow] < 0.005)


REHEARSAL_FAULTS = [{"kind": "stuck", "sensor": "x", "start_s": 0.3, "duration_s": 0.2, "magnitude": 0.05},
                    {"kind": "nan", "sensor": "theta", "start_s": 0.6, "duration_s": 0.1}]


ARM_FAULTS = [{"kind": "stuck", "sensor": "q2", "start_s": 0.1, "duration_s": 0.2, "magnitude": 0.05},
              {"kind": "nan", "sensor": "qd4", "start_s": 0.3, "duration_s": 0.1}]


def _cartpole():
    return gymnasium.make("neuroctl/CartPoleBalance-v0", disable_env_checker=True, max_episode_steps=10**9,
                          control_period_s=0.02, max_force_n=6.0, faults=REHEARSAL_FAULTS)


def _arm():
    return gymnasium.make("neuroctl/ArmReach-v0", disable_env_checker=True, max_episode_steps=10**9,
                          control_period_s=0.01, target_hold_s=0.25, faults=ARM_FAULTS)


@pytest.mark.parametrize("name, make, compiled", [
    ("cartpole_lqr", _cartpole, True), ("cartpole_mpc", _cartpole, True), ("cartpole_balance", _cartpole, True),
    ("cartpole_mpc", _cartpole, False), ("arm_mpc", _arm, True), ("arm_pd", _arm, True),
    ("arm_pd_adaptive", _arm, True),
])
def test_a_rehearsed_paced_run_records_what_a_fast_run_does(name, make, compiled, monkeypatch):
    """The rehearsal runs each tick's control call before its release on the real state and puts that
    state back: a paced run records what a fast run does, bit for bit, though the controller ran twice per
    tick (20 ms ticks, 10 ms for the arm; the records are compared up to the tick a miss held, if any). The
    cart-pole's controllers on the compiled tick and one on `act`; the arm's computed torque (always `act`)
    around the spiking MPC, around PD, and around PD with the PES population learning online."""
    env = make()
    path = ROOT / "configs" / "controllers" / f"{name}.yaml"
    kind, config = load_controller_config(path)
    controller = build_controller(kind, config, linear_model_of(env), env.observation_space.shape[0], path,
                                  robot=env.unwrapped)
    rehearsals = []
    rehearse = Rehearsal.__call__

    def counted(rehearsal):
        rehearsals.append(rehearsal.plant.k)
        rehearse(rehearsal)

    monkeypatch.setattr(Rehearsal, "__call__", counted)

    def episode(mode):
        settings = LoopSettings(n_ticks=50, control_period_s=env.unwrapped.control_period_s, mode=mode, seed=4,
                                compiled_tick=compiled,
                                spin_s=0.005)  # a sleep that wakes up to 5 ms late still leaves the rehearsal its time
        recorder = make_recorder(env, controller, settings.n_ticks)
        outcome = run_episode(env, controller, settings, recorder)
        return outcome, {key: value for key, value in recorder.arrays().items()
                         if key not in ("stage_s", "tick_s", "lateness_s", "tick_cpu_s")}

    fast, fast_records = episode("fast")
    for _ in range(3):  # this VM stalls for 10-20 ms at times: a miss holds a tick and changes the course
        rehearsals.clear()
        paced, paced_records = episode("realtime")
        held = np.flatnonzero(paced_records["command_source"] == COMMAND_HELD)
        compared = held[0] if held.size else 50
        if compared >= 40:
            break
    env.close()
    assert paced.realtime["rehearse"]["applied"]
    assert compared >= 40, f"the machine stalled each of 3 paced runs before tick 40 (last at {compared})"
    rehearsed = [k for k in rehearsals if k < compared]  # a tick whose wait woke late is not rehearsed
    assert len(set(rehearsed)) == len(rehearsed) and 0 not in rehearsed and len(rehearsed) >= compared // 2
    caught_stuck = fast.monitor["stale"] + fast.monitor["rate"]  # the arm's joints have no staleness limit: a jump
    assert fast.monitor["nonfinite"] > 0 and caught_stuck > 0
    if not paced.deadline_misses:
        assert paced.monitor == fast.monitor
    for key, values in fast_records.items():
        np.testing.assert_array_equal(paced_records[key][:compared], values[:compared], err_msg=key)


def test_a_controller_that_declares_no_rehearsal_arrays_is_not_rehearsed_on_act():
    env = gymnasium.make("neuroctl/CartPoleBalance-v0", disable_env_checker=True, max_episode_steps=10**9,
                         control_period_s=0.01)
    lqr = LQRController(LQRConfig(q=(1.0, 10.0, 0.1, 0.1), r=(1.0,)), linear_model_of(env), 4)
    assert lqr.rehearsal_arrays() is None
    settings = LoopSettings(n_ticks=5, control_period_s=0.01, mode="realtime", compiled_tick=False)
    outcome = run_episode(env, lqr, settings, make_recorder(env, lqr, settings.n_ticks))
    env.close()
    assert outcome.realtime["rehearse"]["requested"] and not outcome.realtime["rehearse"]["applied"]
    assert "declares no rehearsal_arrays" in outcome.realtime["rehearse"]["detail"]


def test_the_launch_file_can_turn_the_rehearsal_off(tmp_path):
    root = Path(__file__).resolve().parents[2]
    text = (root / "launch" / "cartpole_balance.yaml").read_text().replace(
        "../configs/", f"{root}/configs/") + "\n"
    path = tmp_path / "launch.yaml"
    for value in (True, False):
        path.write_text(text.replace("run:\n", f"run:\n  realtime: {{rehearse: {str(value).lower()}}}\n"))
        launch = load_launch(path)
        with make_env(launch) as env:
            assert loop_settings(launch, env).realtime.rehearse is value


def test_stolen_time_is_read_from_proc_stat_or_reported_unknown(tmp_path, monkeypatch):
    import neuroctl.runtime.realtime as realtime

    stat = tmp_path / "stat"
    stat.write_text("cpu  466646 1712 44780 873323 1984 0 330 3235 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
    monkeypatch.setattr(realtime, "PROC_STAT", str(stat))
    assert realtime.host_steal_s() == pytest.approx(3235 / os.sysconf("SC_CLK_TCK"))
    stat.write_text("cpu  1 2 3\n")  # a kernel without the steal column
    assert realtime.host_steal_s() is None
    monkeypatch.setattr(realtime, "PROC_STAT", str(tmp_path / "missing"))
    assert realtime.host_steal_s() is None


@linux_only
def test_a_paced_run_reports_the_time_stolen_from_it_and_a_fast_run_does_not():
    env = gymnasium.make("neuroctl/CartPoleBalance-v0", disable_env_checker=True, max_episode_steps=10**9,
                         control_period_s=0.01)
    lqr = LQRController(LQRConfig(q=(1.0, 10.0, 0.1, 0.1), r=(1.0,)), linear_model_of(env), 4)
    outcomes = {}
    for mode in ("fast", "realtime"):
        settings = LoopSettings(n_ticks=5, control_period_s=0.01, mode=mode)
        outcomes[mode] = run_episode(env, lqr, settings, make_recorder(env, lqr, settings.n_ticks))
    env.close()
    assert outcomes["fast"].host_steal_s is None
    paced = outcomes["realtime"]
    # every vCPU at most the whole loop, to the counter's 1/SC_CLK_TCK s (10 ms) granularity
    ceiling = os.cpu_count() * paced.wall_time_s + 2.0 / os.sysconf("SC_CLK_TCK")
    assert paced.host_steal_s is not None and 0.0 <= paced.host_steal_s <= ceiling


@linux_only
def test_the_summary_and_the_latency_plot_say_how_much_time_the_host_took(tmp_path):
    from neuroctl.metrics.report import stolen_note
    from neuroctl.run import run_launch
    from neuroctl.viz.plots import latency_figure

    assert stolen_note(None) == "" and stolen_note(0.14) == "the host took 140 ms of the vCPUs' time"
    text = (ROOT / "launch" / "cartpole_realtime.yaml").read_text().replace("../configs/", f"{ROOT}/configs/")
    path = tmp_path / "launch.yaml"
    path.write_text(text.replace("duration_s: 10.0", "duration_s: 0.05"))
    result = run_launch(load_launch(path))
    stolen = result.metrics["deadline"]["host_steal_s"]
    assert stolen is not None and stolen >= 0.0  # Linux reports steal in /proc/stat
    title = latency_figure(result.trajectory(), result.metrics, result.info)._suptitle.get_text()
    assert title.endswith("\n" + stolen_note(stolen)) and "deadline misses" in title  # a line of its own
