"""Launch files: one run = an environment + a controller config + run settings + outputs."""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium
import numpy as np

from neuroctl.config import ConfigError, did_you_mean, file_problem, load_yaml, parse, range_field, shown
from neuroctl.control.base import Controller, LinearModel
from neuroctl.control.registry import MODEL_KEY, load_controller_config
from neuroctl.runtime.loop import LoopSettings, make_recorder
from neuroctl.envs.robot import Sensor
from neuroctl.runtime.recorder import Recorder
from neuroctl.runtime.robots import NotARobot, describe

MAX_DURATION_S = 86_400.0
MAX_SEED = 2**32 - 1
UNLIMITED_STEPS = 2**62
"""The run's duration ends an episode, not the registration's `max_episode_steps`."""
KWARG_PATH = re.compile(r"[A-Za-z_]\w*(\[\d+\]|\.\w+)*")
"""An environment's ValueError starting with a keyword argument path (`faults[1].kind: ...`)."""


@dataclass(frozen=True)
class EnvSection:
    id: str
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunSection:
    duration_s: float = range_field(10.0, min=0.0, min_exclusive=True, max=MAX_DURATION_S)
    mode: Literal["fast", "realtime"] = "fast"
    seed: int = range_field(0, min=0, max=MAX_SEED)
    overrun_policy: Literal["hold", "skip", "abort"] = "hold"
    watchdog: Literal["zero", "hold"] = "zero"
    spin_s: float = range_field(0.0002, min=0.0, max=0.01, doc="busy-wait before each deadline, s")


@dataclass(frozen=True)
class TaskSection:
    cost_q: list[float] | None = range_field(None, min=0.0, doc="diagonal state weights of the task cost")
    cost_r: list[float] | None = range_field(None, min=0.0, doc="diagonal action weights of the task cost")


@dataclass(frozen=True)
class OutputSection:
    dir: str | None = None
    plots: bool = True
    video: str | None = None


@dataclass(frozen=True)
class SensorSection:
    """One sensor's plausible readings for the sensor monitor (`neuroctl.runtime.monitor`).

    A key left out keeps the environment's value; `.inf` (`-.inf` for `low`) switches a check off.
    """

    low: float | None = range_field(None, allow_infinite=True, doc="lowest plausible reading")
    high: float | None = range_field(None, allow_infinite=True, doc="highest plausible reading")
    max_rate_per_s: float | None = range_field(None, min=0.0, min_exclusive=True, allow_infinite=True,
                                               doc="fastest plausible change, sensor units per s")
    stale_after_s: float | None = range_field(None, min=0.0, min_exclusive=True, allow_infinite=True,
                                              doc="a reading unchanged for longer is stale")
    tolerance: float | None = range_field(None, min=0.0, doc="a change up to this is always plausible")


@dataclass(frozen=True)
class LaunchConfig:
    env: EnvSection
    controller: str
    run: RunSection = field(default_factory=RunSection)
    task: TaskSection = field(default_factory=TaskSection)
    outputs: OutputSection = field(default_factory=OutputSection)
    sensors: dict[str, SensorSection] = field(default_factory=dict)


@dataclass(frozen=True)
class Launch:
    """A validated launch file with its controller config resolved."""

    path: Path
    config: LaunchConfig
    controller_path: Path
    controller_kind: str
    controller_config: Any

    @property
    def name(self) -> str:
        return self.path.stem


def load_launch(path: str | Path, controller_override: str | Path | None = None,
                **run_overrides: Any) -> Launch:
    """Read and validate a launch file (and its controller config); overrides replace run settings."""
    path = Path(path)
    config = parse(LaunchConfig, load_yaml(path), path)
    if config.env.id not in gymnasium.registry:
        close = difflib.get_close_matches(config.env.id, list(gymnasium.registry), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(path, "env.id", f"unknown environment id {shown(config.env.id)}; {hint}"
                          f"the neuroctl ids are: {', '.join(neuroctl_env_ids())}")
    overrides = {k: v for k, v in run_overrides.items() if v is not None}
    if overrides:
        merged = dataclasses.asdict(config.run) | overrides
        config = dataclasses.replace(config, run=parse(RunSection, merged, "command line"))
    if controller_override is not None:
        controller_path = Path(controller_override)
        key_where: str | Path = "--controller"
    else:
        controller_path = Path(os.path.abspath(path.parent / config.controller))
        key_where = path
    problem = file_problem(controller_path)
    if problem is not None:
        raise ConfigError(key_where, "controller" if key_where == path else "",
                          f"controller config {str(controller_path)!r}: {problem}")
    kind, controller_config = load_controller_config(controller_path)
    if MODEL_KEY in load_yaml(controller_path):
        raise ConfigError(controller_path, MODEL_KEY, "a launch uses the environment's own linear model; this "
                          "section is for environments used through neuroctl.wrappers.ControllerPolicy")
    return Launch(path, config, controller_path, kind, controller_config)


def neuroctl_env_ids() -> list[str]:
    """The registered neuroctl environment ids."""
    return [k for k in gymnasium.registry if k.startswith("neuroctl/")]


def make_env(launch: Launch, render_mode: str | None = None) -> gymnasium.Env:
    """Create the launch file's environment; a bad keyword argument is a ConfigError on env.kwargs, an
    environment a launch cannot drive (see `missing_for_launch`) a ConfigError on env.id.

    The environment is created with checker and order-enforcing wrappers switched off: the loop calls it
    correctly, and the per-tick cost of those wrappers is measurable at 1 kHz. `render_mode` is not a
    launch file's to set: runs record states, and videos are rendered from them afterwards.
    """
    env_config = launch.config.env
    if "render_mode" in env_config.kwargs:
        raise ConfigError(launch.path, "env.kwargs.render_mode", "not allowed: videos are rendered from the "
                          "logged states afterwards (outputs.video)")
    kwargs = dict(env_config.kwargs, **({} if render_mode is None else {"render_mode": render_mode}))
    try:
        with warnings.catch_warnings():  # e.g. gymnasium's "out of date" on old ids: not ours to print
            warnings.simplefilter("ignore")
            env = gymnasium.make(env_config.id, max_episode_steps=UNLIMITED_STEPS,
                                 disable_env_checker=True, **kwargs)
    except (ImportError, gymnasium.error.DependencyNotInstalled) as exc:
        raise ConfigError(launch.path, "env.id", f"{shown(env_config.id)} is registered but cannot be built "
                          f"here: {exc}") from None
    except (TypeError, ValueError, OverflowError, gymnasium.error.Error) as exc:
        key, _, message = str(exc).partition(": ")
        if message and KWARG_PATH.fullmatch(key):
            raise ConfigError(launch.path, f"env.kwargs.{key}", message) from None
        raise ConfigError(launch.path, "env.kwargs", str(exc)) from None
    missing = missing_for_launch(env)
    if missing:
        env.close()
        raise ConfigError(launch.path, "env.id", f"{shown(env_config.id)} cannot be launched: it lacks {missing}; "
                          f"the neuroctl ids are: {', '.join(neuroctl_env_ids())}")
    return env


def missing_for_launch(env: gymnasium.Env) -> str:
    """What the environment lacks for a launch (see `neuroctl.runtime.robots.describe`; a linear model for
    the controllers), or ""."""
    try:
        description = describe(env)
    except NotARobot as exc:
        return str(exc)
    return "" if description.linearisable else "a linear model (linear_model(), the robot contract)"


def linear_model_of(env: gymnasium.Env) -> LinearModel:
    """The environment's discrete linear model about its default operating point, in action units."""
    plant = env.unwrapped.linear_model()
    space = env.action_space
    return LinearModel(A=np.asarray(plant.A, dtype=np.float64), B=np.asarray(plant.B, dtype=np.float64),
                       dt=float(plant.dt_s), u_low=np.asarray(space.low, dtype=np.float64),
                       u_high=np.asarray(space.high, dtype=np.float64))


def loop_settings(launch: Launch, env: gymnasium.Env) -> LoopSettings:
    """The loop's settings: the launch file's run section, its duration in ticks, its sensor limits."""
    run = launch.config.run
    period = describe(env).control_period_s
    return LoopSettings(n_ticks=max(1, int(round(run.duration_s / period))), control_period_s=period,
                        mode=run.mode, seed=run.seed, overrun_policy=run.overrun_policy,
                        watchdog=run.watchdog, spin_s=run.spin_s, sensors=sensors_of(launch, env))


def sensors_of(launch: Launch, env: gymnasium.Env) -> tuple[Sensor, ...]:
    """The environment's sensors with the launch file's `sensors` overrides, in observation order."""
    sensors = describe(env).sensors
    names = [sensor.name for sensor in sensors]
    limits = dict(zip(names, sensors))
    for name, section in launch.config.sensors.items():
        if name not in limits:
            raise ConfigError(launch.path, f"sensors.{name}", f"unknown sensor{did_you_mean(name, names)}")
        given = {f.name: getattr(section, f.name) for f in dataclasses.fields(section)}
        merged = dataclasses.replace(limits[name], **{k: v for k, v in given.items() if v is not None})
        if not merged.low < merged.high:
            raise ConfigError(launch.path, f"sensors.{name}",
                              f"expected low < high, got low {merged.low} and high {merged.high}")
        limits[name] = merged
    return tuple(limits.values())


def recorder_for(launch: Launch, env: gymnasium.Env, controller: Controller, n_ticks: int) -> Recorder:
    """`make_recorder`; records too large for memory are a ConfigError on run.duration_s."""
    try:
        return make_recorder(env, controller, n_ticks)
    except ValueError as exc:
        raise ConfigError(launch.path, "run.duration_s", f"{exc}; shorten the run") from None
