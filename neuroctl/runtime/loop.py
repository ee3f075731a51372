"""The fixed-timestep control loop: any gymnasium environment, any neuroctl controller.

One tick: (wait for the release time in realtime mode) -> sensor monitor (the reading is checked and
contained: `neuroctl.runtime.monitor`) -> reference (a `TaskRobot`'s `reference(out)` into a buffer
allocated before the first tick, zeros for other environments) -> control (the controller's one call,
`act(observation, reference)`: encode, network, decode)
-> watchdog (a non-finite or out-of-range command is replaced) -> environment step (actuate, physics,
sense). Every stage is timed into arrays allocated before the first tick; kernels are compiled and
warmed up before the first tick.

Deadline policy in realtime mode, when a tick ends after its deadline (the next release time):
- `hold`: the next tick starts at once, late, and applies the last command without calling the
  controller, so that the loop catches up with its schedule.
- `skip`: the release times already passed are skipped; for each one the plant is stepped with the
  last command (simulated time keeps pace with the wall clock) and the loop waits for the next release.
- `abort`: the run stops after the tick that missed, with complete results.

In realtime mode the loop runs under `run.realtime`'s settings (`neuroctl.runtime.realtime`: how it
waits, affinity, SCHED_FIFO, locked memory; the outcome reports each, applied or why not) and every
miss is attributed to one cause, from the tick's wall time, its thread CPU time and when it started:

- `stalled`: the process was not running for at least the overrun (wall time minus thread CPU time
  within the tick, plus a late wake-up from the wait): the machine, not the loop, made it miss;
- `carried`: not that alone, but with the lateness the tick inherited from an earlier overrun (it
  started after its release because the previous tick ended late) it is explained;
- `compute`: otherwise: the loop's own work ran past the deadline.

A stop request (SIGINT/SIGTERM, see `StopRequest`) ends the episode before its next tick, also when it
came during the warm-up (the episode then has no ticks); the results are complete either way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import gymnasium
import numpy as np

from neuroctl.control.base import Controller
from neuroctl.envs.robot import Sensor, TaskRobot
from neuroctl.runtime.monitor import SensorMonitor
from neuroctl.runtime.pacing import garbage_collection_paused, wait_until
from neuroctl.runtime.realtime import RealtimeSettings, realtime_applied
from neuroctl.runtime.recorder import (COMMAND_FROM_CONTROLLER, COMMAND_HELD, COMMAND_REPLACED,
                                       COMMAND_SKIPPED, Recorder)
from neuroctl.runtime.robots import describe, fault_ticks, timed
from neuroctl.runtime.signals import StopRequest
from neuroctl.runtime.watchdog import CommandWatchdog



@dataclass(frozen=True)
class LoopSettings:
    n_ticks: int
    control_period_s: float
    mode: Literal["fast", "realtime"] = "fast"
    seed: int = 0
    overrun_policy: Literal["hold", "skip", "abort"] = "hold"
    watchdog: Literal["zero", "hold"] = "zero"
    spin_s: float = 0.0002
    sensors: tuple[Sensor, ...] | None = None
    """Per sensor, in observation order, the plausible readings; None: the environment's (`describe`)."""
    realtime: RealtimeSettings = field(default_factory=RealtimeSettings)


MISS_CAUSES = ("compute", "stalled", "carried")


@dataclass
class EpisodeOutcome:
    """How an episode ended, beside the per-tick records."""

    ticks: int = 0
    terminated_at_tick: int | None = None
    deadline_misses: int = 0
    misses_by_cause: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MISS_CAUSES, 0))
    """Realtime mode: the misses per cause (module docstring)."""
    realtime: dict = field(default_factory=dict)
    """Realtime mode: each `run.realtime` setting, applied or why not (`AppliedRealtime.report`)."""
    aborted: bool = False
    interrupted: bool = False
    watchdog_replacements: int = 0
    injected_fault_ticks: dict[str, int] = field(default_factory=dict)
    """Per fault kind, the readings the environment corrupted (its `fault_ticks`; empty without)."""
    monitor: dict = field(default_factory=dict)
    """The sensor monitor's counts (`SensorMonitor.summary`)."""
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    extra: dict = field(default_factory=dict)


def make_recorder(env: gymnasium.Env, controller: Controller, n_ticks: int) -> Recorder:
    """Records sized for the run, with what the controller exposes: its plan (`predicted_states`,
    `last_solution`) and its spikes (`spike_raster`, uint8 (timesteps per tick, neurons), 1 = spiked).
    A ValueError if the records would exceed `recorder.MAX_RECORD_BYTES`."""
    predicted = getattr(controller, "predicted_states", None)
    plan = getattr(controller, "last_solution", None)
    raster = getattr(controller, "spike_raster", None)
    return Recorder(n_ticks, env.observation_space.shape[0], env.action_space.shape[0],
                    describe(env).stage_names, None if predicted is None else predicted.shape,
                    None if plan is None else plan.size, None if raster is None else raster.shape,
                    controller.reference_size)


class MonitoredPlant:
    """The environment seen through the sensor monitor, with every step recorded.

    `reading` is the environment's latest observation (float64, possibly faulty); `sensed` is the
    monitor's contained copy of it, the only one a controller sees; `k` counts the steps since reset.
    """

    def __init__(self, env: gymnasium.Env, monitor: SensorMonitor, recorder: Recorder, period_s: float):
        self.env = env
        self.monitor = monitor
        self.recorder = recorder
        self.period_s = period_s
        self.reading = np.zeros(env.observation_space.shape, dtype=np.float64)  # controllers see float64
        self.sensed = np.zeros_like(self.reading)
        self.k = 0
        self._env_stage_times = timed(env)

    def reset(self, seed: int) -> None:
        self.reading[:] = self.env.reset(seed=seed)[0]
        self.monitor.reset()
        self.k = 0

    def sense(self) -> None:
        """Check the current reading (taken at k periods) into `sensed`."""
        self.monitor.check(self.reading, self.k * self.period_s, self.sensed)

    def step(self, action: np.ndarray, source: int, lateness_s: float, control_s: float,
             start: float, cpu_start: float | None = None) -> tuple[bool, float]:
        """Apply `action` for one period and record tick k (started at `start`, perf_counter clock; its
        thread CPU time from `cpu_start`, time.thread_time clock, when given).

        Returns whether the task terminated and the time the step ended.
        """
        k = self.k
        env_start = time.perf_counter()
        next_reading, reward, terminated, _, _ = self.env.step(action)
        end = time.perf_counter()
        recorder = self.recorder
        if cpu_start is not None:
            recorder.tick_cpu_s[k] = time.thread_time() - cpu_start
        recorder.time_s[k] = k * self.period_s
        recorder.observation[k] = self.reading
        recorder.controller_observation[k] = self.sensed
        recorder.action[k] = action
        recorder.reward[k] = reward
        recorder.command_source[k] = source
        recorder.lateness_s[k] = lateness_s
        recorder.tick_s[k] = end - start
        recorder.stage_s[k, 0] = control_s
        if self._env_stage_times is not None:
            recorder.stage_s[k, 1:] = self._env_stage_times
        else:
            recorder.stage_s[k, 1] = end - env_start
        recorder.count = k + 1
        self.reading[:] = next_reading
        self.k = k + 1
        return terminated, end


PROGRESS_REPORTS = 200
"""`on_tick` is called about this many times per episode (every n_ticks / 200 ticks, and after the last)."""


def without_bookkeeping(env: gymnasium.Env, n_ticks: int) -> gymnasium.Env:
    """The environment the loop steps: `env.unwrapped` when every wrapper around it only keeps books
    the loop keeps itself (OrderEnforcing: the loop resets first; PassiveEnvChecker: checks of the first
    calls; TimeLimit with a limit the episode cannot reach), else `env` (a wrapper that changes what the
    environment does stays in). Each wrapper costs a Python call per step, measurable at 1 kHz."""
    layer = env
    while isinstance(layer, gymnasium.Wrapper):
        if isinstance(layer, gymnasium.wrappers.TimeLimit):
            if layer._max_episode_steps is not None and layer._max_episode_steps < n_ticks:
                return env
        elif not isinstance(layer, (gymnasium.wrappers.OrderEnforcing, gymnasium.wrappers.PassiveEnvChecker)):
            return env
        layer = layer.env
    return layer


def run_episode(env: gymnasium.Env, controller: Controller, settings: LoopSettings, recorder: Recorder,
                stop: StopRequest | None = None,
                on_tick: Callable[[int], None] | None = None) -> EpisodeOutcome:
    """Run one episode of `settings.n_ticks` ticks (fewer if the task terminates or the run stops);
    `on_tick(k)` reports progress PROGRESS_REPORTS times (k ticks done)."""
    controller.warmup()
    sensors = settings.sensors or describe(env).sensors
    env = without_bookkeeping(env, settings.n_ticks)
    report_every = max(1, settings.n_ticks // PROGRESS_REPORTS)
    plant = MonitoredPlant(env, SensorMonitor(sensors), recorder, settings.control_period_s)
    plant.monitor.warmup()
    watchdog = CommandWatchdog(env.action_space.low, env.action_space.high, settings.watchdog)
    plant.reset(settings.seed)
    controller.reset(settings.seed)
    period = settings.control_period_s
    realtime = settings.mode == "realtime"
    outcome = EpisodeOutcome()
    last_action = watchdog.last_good.copy()
    reference = np.zeros(controller.reference_size)
    task_robot = env.unwrapped if isinstance(env.unwrapped, TaskRobot) else None
    hold_next = terminated = False
    wait_spin_s = math.inf if settings.realtime.wait == "spin" else settings.spin_s
    with garbage_collection_paused(realtime), realtime_applied(settings.realtime if realtime
                                                               else RealtimeSettings()) as applied:
        if realtime:
            outcome.realtime = applied.report()
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        release = last_end = wall_start
        while plant.k < settings.n_ticks and not (stop is not None and stop.requested):
            if realtime:
                wait_until(release, wait_spin_s)
            start = time.perf_counter()
            tick_cpu_start = time.thread_time() if realtime else None
            plant.sense()
            if hold_next:
                action, source, control_s = last_action, COMMAND_HELD, 0.0
                recorder.activity[plant.k] = 0
                hold_next = False
            else:
                action, source, control_s = _control(controller, plant, watchdog, reference, task_robot)
            last_action = action
            terminated, end = plant.step(action, source, start - release if realtime else 0.0, control_s, start,
                                         tick_cpu_start)
            if terminated:
                break
            if on_tick is not None and (plant.k % report_every == 0 or plant.k == settings.n_ticks):
                on_tick(plant.k)
            release += period
            if realtime and end > release:
                outcome.deadline_misses += 1
                cause = miss_cause(release - period, last_end, start, end, recorder.tick_cpu_s[plant.k - 1], period)
                outcome.misses_by_cause[cause] += 1
                if settings.overrun_policy == "abort":
                    outcome.aborted = True
                    break
                if settings.overrun_policy == "hold":
                    hold_next = True
                else:
                    release, terminated = _skip_missed(plant, last_action, release, settings.n_ticks)
                    if terminated:
                        break
            last_end = end
        outcome.ticks = recorder.count
        outcome.terminated_at_tick = plant.k - 1 if terminated else None
        outcome.interrupted = stop is not None and stop.requested
        outcome.wall_time_s = time.perf_counter() - wall_start
        outcome.cpu_time_s = time.process_time() - cpu_start
    outcome.watchdog_replacements = watchdog.replaced
    outcome.injected_fault_ticks = fault_ticks(env)
    outcome.monitor = plant.monitor.summary()
    return outcome


def miss_cause(release: float, previous_end: float, start: float, end: float, tick_cpu_s: float,
               period: float) -> str:
    """Why a tick released at `release` that ran from `start` to `end` (perf_counter clock, after the
    previous tick ended at `previous_end`) with `tick_cpu_s` of thread CPU time missed its deadline
    release + period: "stalled", "carried" or "compute" (module docstring)."""
    overrun = end - (release + period)
    woke_late = max(0.0, start - max(release, previous_end))
    not_running = woke_late + max(0.0, (end - start) - tick_cpu_s)
    if not_running >= overrun:
        return "stalled"
    if not_running + max(0.0, previous_end - release) >= overrun:
        return "carried"
    return "compute"


def _control(controller: Controller, plant: MonitoredPlant, watchdog: CommandWatchdog, reference: np.ndarray,
             task_robot: TaskRobot | None) -> tuple[np.ndarray, int, float]:
    """The controller's command for the contained reading after the watchdog, its source, its time (s).

    The reference is refilled from `task_robot` first (left at zero without one; the robot's work, such
    as inverse kinematics, is in the tick's time but not in the controller's). Records the reference, the
    controller's activity and what it exposes (plan, spikes) for tick k.
    """
    recorder, k = plant.recorder, plant.k
    if task_robot is not None:
        task_robot.reference(reference)
    start = time.perf_counter()
    proposed = controller.act(plant.sensed, reference)
    control_s = time.perf_counter() - start
    if recorder.reference is not None:
        recorder.reference[k] = reference
    recorder.activity[k] = controller.activity
    if recorder.predicted_states is not None:
        steps = recorder.predicted_states.shape[1]
        recorder.predicted_states[k] = controller.predicted_states[:steps]
    if recorder.planned_commands is not None:
        recorder.planned_commands[k] = controller.last_solution
    if recorder.raster is not None:
        recorder.raster[k] = controller.spike_raster[:, recorder.raster_columns]
    action, replaced = watchdog.check(proposed)
    return action, COMMAND_REPLACED if replaced else COMMAND_FROM_CONTROLLER, control_s


def _skip_missed(plant: MonitoredPlant, action: np.ndarray, release: float, n_ticks: int) -> tuple[float, bool]:
    """Step the plant with `action` once per release time already past (`skip` policy).

    Returns the next release time and whether the task terminated.
    """
    terminated = False
    while release < time.perf_counter() and plant.k < n_ticks and not terminated:
        start = time.perf_counter()
        plant.sense()
        plant.recorder.activity[plant.k] = 0
        terminated, _ = plant.step(action, COMMAND_SKIPPED, start - release, 0.0, start)
        release += plant.period_s
    return release, terminated
