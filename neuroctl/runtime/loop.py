"""The fixed-timestep control loop: any gymnasium environment, any neuroctl controller.

One tick: (wait for the release time in realtime mode) -> control (the controller's one call: encode,
network, decode) -> watchdog -> environment step (actuate, physics, sense). Every stage is timed into
arrays allocated before the first tick; kernels are compiled and warmed up before the first tick.

Deadline policy in realtime mode, when a tick ends after its deadline (the next release time):
- `hold`: the next tick starts at once, late, and applies the last command without calling the
  controller, so that the loop catches up with its schedule.
- `skip`: the release times already passed are skipped; for each one the plant is stepped with the
  last command (simulated time keeps pace with the wall clock) and the loop waits for the next release.
- `abort`: the run stops after the tick that missed, with complete results.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import gymnasium
import numpy as np

from neuroctl.control.base import Controller
from neuroctl.runtime.pacing import wait_until
from neuroctl.runtime.recorder import (COMMAND_FROM_CONTROLLER, COMMAND_HELD, COMMAND_REPLACED,
                                       COMMAND_SKIPPED, Recorder)
from neuroctl.runtime.watchdog import CommandWatchdog

CONTROL_STAGE = "control"
ENV_STEP_STAGE = "env_step"


@dataclass(frozen=True)
class LoopSettings:
    n_ticks: int
    control_period_s: float
    mode: Literal["fast", "realtime"] = "fast"
    seed: int = 0
    overrun_policy: Literal["hold", "skip", "abort"] = "hold"
    watchdog: Literal["zero", "hold"] = "zero"
    spin_s: float = 0.0002


@dataclass
class EpisodeOutcome:
    """How an episode ended, beside the per-tick records."""

    ticks: int = 0
    terminated_at_tick: int | None = None
    deadline_misses: int = 0
    aborted: bool = False
    interrupted: bool = False
    watchdog_replacements: int = 0
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    extra: dict = field(default_factory=dict)


class StopRequest:
    """Set by SIGINT/SIGTERM while a run is under way; the loop stops at the end of the tick."""

    def __init__(self) -> None:
        self.signal_number: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopRequest":
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:
                pass
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        self.signal_number = signum

    @property
    def requested(self) -> bool:
        return self.signal_number is not None


def stage_names_of(env: gymnasium.Env) -> tuple[str, ...]:
    """The stages timed per tick: the controller, then the environment's own stages if it reports them."""
    env_stages = getattr(env.unwrapped, "STAGE_NAMES", None)
    return (CONTROL_STAGE, *env_stages) if env_stages else (CONTROL_STAGE, ENV_STEP_STAGE)


def make_recorder(env: gymnasium.Env, controller: Controller, n_ticks: int) -> Recorder:
    """Records sized for the run, with what the controller exposes: its plan (`predicted_states`,
    `last_solution`) and its spikes (`spike_raster`, uint8 (timesteps per tick, neurons), 1 = spiked)."""
    predicted = getattr(controller, "predicted_states", None)
    plan = getattr(controller, "last_solution", None)
    raster = getattr(controller, "spike_raster", None)
    return Recorder(n_ticks, env.observation_space.shape[0], env.action_space.shape[0],
                    stage_names_of(env), None if predicted is None else predicted.shape,
                    None if plan is None else plan.size, None if raster is None else raster.shape)


def run_episode(env: gymnasium.Env, controller: Controller, settings: LoopSettings, recorder: Recorder,
                stop: StopRequest | None = None,
                on_tick: Callable[[int], None] | None = None) -> EpisodeOutcome:
    """Run one episode of `settings.n_ticks` ticks (fewer if the task terminates or the run stops)."""
    controller.warmup()
    watchdog = CommandWatchdog(env.action_space.low, env.action_space.high, settings.watchdog)
    observation = np.zeros(env.observation_space.shape, dtype=np.float64)  # controllers see float64
    observation[:] = env.reset(seed=settings.seed)[0]
    controller.reset(settings.seed)
    env_stage_times = getattr(env.unwrapped, "stage_times_s", None)
    period = settings.control_period_s
    realtime = settings.mode == "realtime"
    outcome = EpisodeOutcome()
    last_action = watchdog.last_good.copy()
    hold_next = False
    k = 0
    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    release = wall_start

    def step_plant(action: np.ndarray, source: int, lateness: float, control_s: float, start: float):
        env_start = time.perf_counter()
        next_observation, reward, terminated, _, _ = env.step(action)
        end = time.perf_counter()
        recorder.time_s[k] = k * period
        recorder.observation[k] = observation
        recorder.action[k] = action
        recorder.reward[k] = reward
        recorder.command_source[k] = source
        recorder.lateness_s[k] = lateness
        recorder.tick_s[k] = end - start
        recorder.stage_s[k, 0] = control_s
        if env_stage_times is not None:
            recorder.stage_s[k, 1:] = env_stage_times
        else:
            recorder.stage_s[k, 1] = end - env_start
        observation[:] = next_observation
        recorder.count = k + 1
        return terminated, end

    while k < settings.n_ticks:
        if realtime:
            wait_until(release, settings.spin_s)
        start = time.perf_counter()
        lateness = start - release if realtime else 0.0
        if hold_next:
            action, source, control_s = last_action, COMMAND_HELD, 0.0
            recorder.activity[k] = 0
            hold_next = False
        else:
            proposed = controller.act(observation)
            control_s = time.perf_counter() - start
            recorder.activity[k] = controller.activity
            if recorder.predicted_states is not None:
                steps = recorder.predicted_states.shape[1]
                recorder.predicted_states[k] = controller.predicted_states[:steps]
            if recorder.planned_commands is not None:
                recorder.planned_commands[k] = controller.last_solution
            if recorder.raster is not None:
                recorder.raster[k] = controller.spike_raster[:, recorder.raster_neurons]
            action, replaced = watchdog.check(proposed)
            source = COMMAND_REPLACED if replaced else COMMAND_FROM_CONTROLLER
        last_action = action
        terminated, end = step_plant(action, source, lateness, control_s, start)
        k += 1
        if terminated:
            outcome.terminated_at_tick = k - 1
            break
        if on_tick is not None:
            on_tick(k)
        if stop is not None and stop.requested:
            outcome.interrupted = True
            break
        deadline = release + period
        release = deadline
        if realtime and end > deadline:
            outcome.deadline_misses += 1
            if settings.overrun_policy == "abort":
                outcome.aborted = True
                break
            if settings.overrun_policy == "hold":
                hold_next = True
            else:
                while release < time.perf_counter() and k < settings.n_ticks and not terminated:
                    recorder.activity[k] = 0
                    skip_start = time.perf_counter()
                    terminated, _ = step_plant(last_action, COMMAND_SKIPPED, skip_start - release, 0.0,
                                               skip_start)
                    k += 1
                    release += period
                if terminated:
                    outcome.terminated_at_tick = k - 1
                    break
    outcome.ticks = recorder.count
    outcome.wall_time_s = time.perf_counter() - wall_start
    outcome.cpu_time_s = time.process_time() - cpu_start
    outcome.watchdog_replacements = watchdog.replaced
    return outcome
