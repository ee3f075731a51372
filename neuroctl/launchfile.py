"""Launch files: one run = an environment + a controller config + run settings + outputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium
import numpy as np

from neuroctl.config import ConfigError, load_yaml, parse, range_field
from neuroctl.control.base import LinearModel
from neuroctl.control.registry import load_controller_config

MAX_DURATION_S = 86_400.0
UNLIMITED_STEPS = 2**62
"""The run's duration ends an episode, not the registration's `max_episode_steps`."""


@dataclass(frozen=True)
class EnvSection:
    id: str
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunSection:
    duration_s: float = range_field(10.0, min=0.0, min_exclusive=True, max=MAX_DURATION_S)
    mode: Literal["fast", "realtime"] = "fast"
    seed: int = range_field(0, min=0, max=2**32 - 1)
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
class LaunchConfig:
    env: EnvSection
    controller: str
    run: RunSection = field(default_factory=RunSection)
    task: TaskSection = field(default_factory=TaskSection)
    outputs: OutputSection = field(default_factory=OutputSection)


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
        import difflib
        known = [k for k in gymnasium.registry if k.startswith("neuroctl/")] or list(gymnasium.registry)
        close = difflib.get_close_matches(config.env.id, list(gymnasium.registry), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known neuroctl ids: {', '.join(known)}"
        raise ConfigError(path, "env.id", f"unknown environment id {config.env.id!r}; {hint}")
    overrides = {k: v for k, v in run_overrides.items() if v is not None}
    if overrides:
        merged = dataclasses.asdict(config.run) | overrides
        config = dataclasses.replace(config, run=parse(RunSection, merged, "command line"))
    if controller_override is not None:
        controller_path = Path(controller_override)
        key_where: str | Path = "--controller"
    else:
        controller_path = (path.parent / config.controller).resolve()
        key_where = path
    if not controller_path.is_file():
        raise ConfigError(key_where, "controller" if key_where == path else "",
                          f"controller config {str(controller_path)!r} does not exist")
    kind, controller_config = load_controller_config(controller_path)
    return Launch(path, config, controller_path, kind, controller_config)


def make_env(launch: Launch, render_mode: str | None = None) -> gymnasium.Env:
    """Create the launch file's environment; a bad keyword argument is a ConfigError on env.kwargs.

    The environment is created with checker and order-enforcing wrappers switched off: the loop calls it
    correctly, and the per-tick cost of those wrappers is measurable at 1 kHz.
    """
    env_config = launch.config.env
    kwargs = dict(env_config.kwargs)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        env = gymnasium.make(env_config.id, max_episode_steps=UNLIMITED_STEPS,
                             disable_env_checker=True, **kwargs)
    except (TypeError, ValueError) as exc:
        key, _, message = str(exc).partition(": ")
        if message and key.isidentifier():
            raise ConfigError(launch.path, f"env.kwargs.{key}", message) from None
        raise ConfigError(launch.path, "env.kwargs", str(exc)) from None
    return env


def linear_model_of(env: gymnasium.Env) -> LinearModel:
    """The environment's discrete linear model about its operating point, in action units."""
    unwrapped = env.unwrapped
    A, B = unwrapped.linear_model()
    space = env.action_space
    return LinearModel(A=np.asarray(A, dtype=np.float64), B=np.asarray(B, dtype=np.float64),
                       dt=float(unwrapped.control_period_s),
                       u_low=np.asarray(space.low, dtype=np.float64),
                       u_high=np.asarray(space.high, dtype=np.float64))


def control_period_of(env: gymnasium.Env) -> float:
    return float(env.unwrapped.control_period_s)
