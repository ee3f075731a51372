"""The fixed-timestep control loop: any gymnasium environment, any neuroctl controller.

One tick: (wait for the release time in realtime mode) -> reference (a `TaskRobot`'s `reference(out)`
into a buffer allocated before the first tick, zeros for other environments) -> sensor monitor (the
reading is checked and contained: `neuroctl.runtime.monitor`) -> control (encode, network, decode)
-> watchdog (a non-finite or out-of-range command is replaced) -> environment step (actuate, physics,
sense; the observation is written into the loop's reading buffer: `step_into` where the environment has
one, so that nothing is allocated per tick, else gymnasium's `step` and a copy: `robots.stepper`). Every
stage is timed into arrays allocated before the first tick; kernels are compiled and warmed up before
the first tick (the controller's `warmup`, the monitor's, and one unrecorded step of the environment).

The control path is chosen once per episode (`compiled_tick`):

- compiled, for a controller that declares it (`Controller.compiled_arrays`): monitor, controller
  step, its records and the watchdog in one numba call (`neuroctl.runtime.tick.control_tick`); the
  control stage's time is that call's (the monitor and watchdog included, well under a microsecond);
- Python, for every other controller: the monitor's call, `act(observation, reference)`, the records
  and the watchdog's call; the control stage's time is `act`'s.

Both give bit-identical records (tests/runtime/test_compiled_tick.py); either way the rest of a tick's
records are written by one numba call after the environment's step (`finish_tick`).

Deadline policy in realtime mode, when a tick ends after its deadline (the next release time):
- `hold`: the next tick starts at once, late, and applies the last command without calling the
  controller, so that the loop catches up with its schedule.
- `skip`: the release times already passed are skipped; for each one the plant is stepped with the
  last command (simulated time keeps pace with the wall clock) and the loop waits for the next release.
- `abort`: the run stops after the tick that missed, with complete results.

In realtime mode the loop runs under `run.realtime`'s settings (`neuroctl.runtime.realtime`: how it
waits, affinity, SCHED_FIFO, locked memory, rehearsal; the outcome reports each, applied or why not).
The control stage is rehearsed shortly before each release (`Rehearsal`: the tick's control
call on the real state, which is then put back; the compiled stage always, the Python one when the
controller declares the arrays its `act` writes), so that the tick finds its code and data in the caches
instead of cold after the wait; the records are those of an unrehearsed run, bit for bit.

Every miss is attributed to one cause, from the tick's wall time, its thread CPU time and when it
started:

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
from neuroctl.network.jit import entry_point
from neuroctl.runtime.monitor import SensorMonitor
from neuroctl.runtime.pacing import garbage_collection_paused, wait_until
from neuroctl.runtime.realtime import RealtimeSettings, host_steal_s, realtime_applied
from neuroctl.runtime.recorder import (COMMAND_FROM_CONTROLLER, COMMAND_HELD, COMMAND_REPLACED,
                                       COMMAND_SKIPPED, Recorder)
from neuroctl.runtime.robots import describe, fault_ticks, stepper, timed
from neuroctl.runtime.signals import StopRequest
from neuroctl.runtime.tick import control_tick, finish_tick, sense_tick, state_arrays, tick_arrays
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
    compiled_tick: bool = True
    """Run the controller through its compiled tick when it declares one (module docstring); False:
    always `act` (the Python path, for comparison)."""


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
    host_steal_s: float | None = None
    """Realtime mode: the time the hypervisor took from the machine's vCPUs (all of them) while the loop
    ran (`realtime.host_steal_s`); None in fast mode or where it is not reported."""
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
    """The environment seen through the sensor monitor and the watchdog, with every step recorded.

    `reading` is the environment's latest observation (float64, possibly faulty); `sensed` is the
    monitor's contained copy of it, the only one a controller sees; `command` the watchdog's output, the
    command applied; `k` counts the steps since reset; `arrays` all of them for the compiled calls.
    """

    def __init__(self, env: gymnasium.Env, monitor: SensorMonitor, watchdog: CommandWatchdog, recorder: Recorder,
                 period_s: float, reference: np.ndarray):
        self.env = env
        self.monitor = monitor
        self.watchdog = watchdog
        self.recorder = recorder
        self.period_s = period_s
        self.reference = reference
        self.reading = np.zeros(env.observation_space.shape, dtype=np.float64)  # controllers see float64
        self.sensed = np.zeros_like(self.reading)
        self.command = watchdog.command
        self.k = 0
        self.arrays = tick_arrays(period_s, self.reading, self.sensed, reference, monitor, watchdog, recorder,
                                  timed(env))
        self._sense = entry_point(sense_tick, self.arrays, 0)
        self._finish = entry_point(finish_tick, self.arrays, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        self._step = stepper(env)

    def warmup(self, seed: int) -> None:
        """The watchdog's check of its own command and one step of the environment from
        `reset(seed=seed)` with it, nothing recorded: their kernels are compiled or loaded from the cache
        now (a second on a fresh machine, 10-30 ms from the cache), not in tick 0. Reset the plant after."""
        self.watchdog.check(self.command)
        self.env.reset(seed=seed)
        self._step(self.command, self.reading)

    def reset(self, seed: int) -> None:
        self.reading[:] = self.env.reset(seed=seed)[0]
        self.monitor.reset()
        self.watchdog.reset()
        self.k = 0

    def sense(self) -> None:
        """Check the current reading (taken at k periods) into `sensed`; record both for tick k."""
        self._sense(self.arrays, self.k)

    def step(self, source: int, lateness_s: float, control_s: float, start: float,
             cpu_start: float | None = None) -> tuple[bool, float]:
        """Apply `command` for one period and record tick k (started at `start`, perf_counter clock; its
        thread CPU time from `cpu_start`, time.thread_time clock, when given).

        Returns whether the task terminated and the time the step ended.
        """
        env_start = time.perf_counter()
        reward, terminated, _ = self._step(self.command, self.reading)
        end = time.perf_counter()
        cpu_s = math.nan if cpu_start is None else time.thread_time() - cpu_start
        self._finish(self.arrays, self.k, source, reward, lateness_s, end - start, control_s, end - env_start, cpu_s)
        self.k += 1
        return terminated, end


REHEARSAL_LEAD_S = 0.0001
"""A paced tick is rehearsed at least this long before its release (`Rehearsal.lead_s`)."""
REHEARSAL_MARGIN = 2.0
"""... and at least this many times the rehearsal's typical duration (a moving average, weight
REHEARSAL_SMOOTHING per call), so that a long rehearsal still ends before the release."""
REHEARSAL_SMOOTHING = 0.1
REHEARSAL_DETAIL = f"each tick's control step at least {REHEARSAL_LEAD_S * 1e6:g} us before its release, state put back"
"""metrics.json's `realtime.rehearse.detail` when the rehearsal is applied."""


class Rehearsal:
    """Tick k's control call now, then everything it changed put back as it was: the controller's arrays,
    the monitor's and watchdog's state and counts, the contained reading and the command (the records of
    tick k it writes are written again when the tick runs, from the same reading; the reference is still
    tick k - 1's, which the tick then replaces). A paced tick ran 1.5-3x slower than a fast one with its
    code and data gone cold during the wait (docs/BENCHMARKS.md). `lead_s`: how long before the release
    to call it, REHEARSAL_LEAD_S or REHEARSAL_MARGIN times its typical duration when that is longer.
    """

    def __init__(self, call: Callable[[], object], controller_arrays: tuple[np.ndarray, ...],
                 plant: MonitoredPlant) -> None:
        monitor, watchdog = plant.monitor, plant.watchdog
        self.plant = plant
        self._call = call
        self._live = (*controller_arrays, plant.sensed, monitor.state, monitor.counts, watchdog.last_good,
                      watchdog.replacements, watchdog.command)
        self._saved = tuple(array.copy() for array in self._live)
        self._typical_s = 0.0
        self.lead_s = REHEARSAL_LEAD_S

    def __call__(self) -> None:
        start = time.perf_counter()
        live, saved = self._live, self._saved
        for i in range(len(live)):
            saved[i][...] = live[i]
        self._call()
        for i in range(len(live)):
            live[i][...] = saved[i]
        self._typical_s += REHEARSAL_SMOOTHING * (time.perf_counter() - start - self._typical_s)
        self.lead_s = max(REHEARSAL_LEAD_S, REHEARSAL_MARGIN * self._typical_s)


class PythonControl:
    """The control stage by `act` (any controller): monitor, `act`, records and watchdog as Python calls."""

    def __init__(self, controller: Controller, plant: MonitoredPlant) -> None:
        self.controller = controller
        self.plant = plant

    def rehearsal(self) -> tuple[Rehearsal | None, str]:
        """The rehearsal of this stage and what it does: applied when the controller declares the arrays
        its `act` writes (`Controller.rehearsal_arrays`), else None and why not."""
        arrays = self.controller.rehearsal_arrays()
        if arrays is None:
            return None, "not applied: the controller declares no rehearsal_arrays, its act's state cannot be put back"
        return Rehearsal(self, arrays, self.plant), REHEARSAL_DETAIL

    def __call__(self) -> tuple[int, float]:
        """The command of tick k into `plant.command`; returns its source and `act`'s time (s)."""
        plant, controller = self.plant, self.controller
        recorder, k = plant.recorder, plant.k
        plant.sense()
        start = time.perf_counter()
        proposed = controller.act(plant.sensed, plant.reference)
        control_s = time.perf_counter() - start
        if recorder.reference is not None:
            recorder.reference[k] = plant.reference
        recorder.activity[k] = controller.activity
        if recorder.predicted_states is not None:
            steps = recorder.predicted_states.shape[1]
            recorder.predicted_states[k] = controller.predicted_states[:steps]
        if recorder.planned_commands is not None:
            recorder.planned_commands[k] = controller.last_solution
        if recorder.raster is not None:
            recorder.raster[k] = controller.spike_raster[:, recorder.raster_columns]
        _, replaced = plant.watchdog.check(proposed)
        return COMMAND_REPLACED if replaced else COMMAND_FROM_CONTROLLER, control_s


class CompiledControl:
    """The control stage in one compiled call (`control_tick` on the controller's `compiled_arrays`).

    Built before the first tick, it runs the call once (tick 0's records, the monitor, the watchdog and
    the controller are written: reset them after) so that the first tick runs code already touched.
    """

    def __init__(self, arrays, plant: MonitoredPlant) -> None:
        self.controller_arrays = arrays
        self.plant = plant
        self._tick = entry_point(control_tick, plant.arrays, arrays, 0)
        self._tick(plant.arrays, arrays, 0)

    def __call__(self) -> tuple[int, float]:
        """The command of tick k into `plant.command`; returns its source and the call's time (s)."""
        plant = self.plant
        start = time.perf_counter()
        source = self._tick(plant.arrays, self.controller_arrays, plant.k)
        return source, time.perf_counter() - start

    def rehearsal(self) -> tuple[Rehearsal, str]:
        """The rehearsal of the compiled call (the first per controller type compiles a getter of its
        arrays: `tick.state_arrays`) and what it does."""
        return Rehearsal(self, state_arrays(self.controller_arrays), self.plant), REHEARSAL_DETAIL


def control_stage(controller: Controller, plant: MonitoredPlant, compiled: bool) -> PythonControl | CompiledControl:
    """The compiled control stage when `compiled` and the controller declares one, else the Python one."""
    arrays = controller.compiled_arrays() if compiled else None
    return PythonControl(controller, plant) if arrays is None else CompiledControl(arrays, plant)


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
    reference = np.zeros(controller.reference_size)
    watchdog = CommandWatchdog(env.action_space.low, env.action_space.high, settings.watchdog)
    plant = MonitoredPlant(env, SensorMonitor(sensors), watchdog, recorder, settings.control_period_s, reference)
    plant.monitor.warmup()
    control = control_stage(controller, plant, settings.compiled_tick)  # before the resets: it may run once
    plant.warmup(settings.seed)
    plant.reset(settings.seed)
    controller.reset(settings.seed)
    period = settings.control_period_s
    realtime = settings.mode == "realtime"
    outcome = EpisodeOutcome()
    task_robot = env.unwrapped if isinstance(env.unwrapped, TaskRobot) else None
    hold_next = terminated = False
    wait_spin_s = math.inf if settings.realtime.wait == "spin" else settings.spin_s
    requested = realtime and settings.realtime.rehearse
    rehearse, rehearsal_detail = control.rehearsal() if requested else (None, "not requested")
    with garbage_collection_paused(realtime), realtime_applied(settings.realtime if realtime
                                                               else RealtimeSettings()) as applied:
        if realtime:
            outcome.realtime = applied.report()
            outcome.realtime["rehearse"] = {"requested": settings.realtime.rehearse, "applied": rehearse is not None,
                                            "detail": rehearsal_detail}
        steal_start = host_steal_s() if realtime else None
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        release = last_end = wall_start
        while plant.k < settings.n_ticks and not (stop is not None and stop.requested):
            if realtime:
                wait_until(release, wait_spin_s, None if hold_next else rehearse,
                           REHEARSAL_LEAD_S if rehearse is None else rehearse.lead_s)
            start = time.perf_counter()
            tick_cpu_start = time.thread_time() if realtime else None
            if hold_next:
                plant.sense()
                source, control_s = COMMAND_HELD, 0.0
                recorder.activity[plant.k] = 0
                hold_next = False
            else:
                if task_robot is not None:
                    task_robot.reference(reference)
                source, control_s = control()
            terminated, end = plant.step(source, start - release if realtime else 0.0, control_s, start,
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
                    release, terminated = _skip_missed(plant, release, settings.n_ticks)
                    if terminated:
                        break
            last_end = end
        outcome.ticks = recorder.count
        outcome.terminated_at_tick = plant.k - 1 if terminated else None
        outcome.interrupted = stop is not None and stop.requested
        outcome.wall_time_s = time.perf_counter() - wall_start
        outcome.cpu_time_s = time.process_time() - cpu_start
        steal_end = None if steal_start is None else host_steal_s()
        outcome.host_steal_s = None if steal_end is None else steal_end - steal_start
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


def _skip_missed(plant: MonitoredPlant, release: float, n_ticks: int) -> tuple[float, bool]:
    """Step the plant with the last command once per release time already past (`skip` policy).

    Returns the next release time and whether the task terminated.
    """
    terminated = False
    while release < time.perf_counter() and plant.k < n_ticks and not terminated:
        start = time.perf_counter()
        plant.sense()
        plant.recorder.activity[plant.k] = 0
        terminated, _ = plant.step(COMMAND_SKIPPED, start - release, 0.0, start)
        release += plant.period_s
    return release, terminated
