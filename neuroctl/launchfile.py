"""Launch files: one run = an environment + a controller config + run settings + outputs.

The environment is a registered gymnasium id, or gymnasium's `module:Id` form for a user's own
environment (the module is imported first, so that it can register the id; the launch file's directory
and the current directory are searched too). The controllers' linear model is, in this order of choice:
the controller config's `model` section (A, B, dt_s; `neuroctl.control.registry.load_model_section`), a
finite-difference linearisation asked for by the launch file's `env.model: {linearise: true}` (environments
that can set their state, such as gymnasium's MuJoCo ones; `neuroctl.runtime.robots.finite_difference_model`),
or the environment's own `linear_model()` (the robot contract's `LinearisableRobot`).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import os
import re
import sys
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium
import numpy as np

from neuroctl.config import ConfigError, did_you_mean, file_problem, load_yaml, parse, range_field, shown
from neuroctl.control.base import Controller, LinearModel
from neuroctl.control.registry import MODEL_KEY, load_controller_config, load_model_section
from neuroctl.runtime.loop import LoopSettings, make_recorder
from neuroctl.envs.robot import Sensor
from neuroctl.runtime.realtime import RealtimeSettings
from neuroctl.runtime.recorder import Recorder
from neuroctl.runtime.robots import NotARobot, StateSettableEnv, describe, finite_difference_model

MAX_DURATION_S = 86_400.0
MAX_SEED = 2**32 - 1
UNLIMITED_STEPS = 2**62
"""The run's duration ends an episode, not the registration's `max_episode_steps`."""
KWARG_PATH = re.compile(r"[A-Za-z_]\w*(\[\d+\]|\.\w+)*")
"""An environment's ValueError starting with a keyword argument path (`faults[1].kind: ...`)."""


@dataclass(frozen=True)
class ModelSection:
    """`env.model`: how the launch gets the controllers' linear model when neither the environment
    (`linear_model()`) nor the controller config (its `model` section) gives one: `linearise: true`
    linearises one step of the environment by central differences about its state after reset (with the
    run's seed) and zero action. The environment must set its state (`state_vector()`,
    `set_state(qpos, qvel)`: gymnasium's MuJoCo environments); where the observation is not `state_vector()`, an output map C = d observation /
    d state comes with the model (the observation must determine the state to first order)."""

    linearise: bool = False
    state_step: float = range_field(1e-6, min=0.0, min_exclusive=True, max=1.0,
                                    doc="perturbation of each state component")
    action_step: float = range_field(1e-6, min=0.0, min_exclusive=True, max=1.0,
                                     doc="perturbation of each action component, action units")


@dataclass(frozen=True)
class EnvSection:
    id: str
    kwargs: dict = field(default_factory=dict)
    model: ModelSection | None = None


@dataclass(frozen=True)
class RealtimeSection:
    """`run.realtime`: what a paced run asks of the operating system (`neuroctl.runtime.realtime`)."""

    wait: Literal["sleep", "spin"] = range_field(
        "sleep", doc="sleep: until spin_s before each release, then busy-wait; spin: busy-wait throughout")
    cpus: list[int] | None = range_field(None, min=0, max=4095, doc="CPU affinity: the cores to run on")
    fifo_priority: int | None = range_field(None, min=1, max=99, doc="SCHED_FIFO priority (needs permission)")
    lock_memory: bool = range_field(False, doc="mlockall the process's memory (needs permission)")
    rehearse: bool = range_field(True, doc="run a compiled controller's tick just before its release on its "
                                 "real state, then put the state back (caches warm; no effect on results)")


@dataclass(frozen=True)
class RunSection:
    duration_s: float = range_field(10.0, min=0.0, min_exclusive=True, max=MAX_DURATION_S)
    mode: Literal["fast", "realtime"] = "fast"
    seed: int = range_field(0, min=0, max=MAX_SEED)
    overrun_policy: Literal["hold", "skip", "abort"] = "hold"
    watchdog: Literal["zero", "hold"] = "zero"
    spin_s: float = range_field(0.0002, min=0.0, max=0.01,
                                doc="with realtime.wait sleep: busy-wait before each deadline, s")
    realtime: RealtimeSection = field(default_factory=RealtimeSection)


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
    controller_has_model: bool = False
    """The controller config has a `model` section (used in place of the environment's model)."""

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def gymnasium_id(self) -> str:
        """The environment's registered id (`env.id` without a `module:` prefix)."""
        return split_env_id(self.config.env.id)[1]


def load_launch(path: str | Path, controller_override: str | Path | None = None,
                **run_overrides: Any) -> Launch:
    """Read and validate a launch file (and its controller config); overrides replace run settings."""
    path = Path(path)
    config = parse(LaunchConfig, load_yaml(path), path)
    module, env_id = split_env_id(config.env.id)
    if module:
        import_env_module(module, path)
    if env_id not in gymnasium.registry:
        close = difflib.get_close_matches(env_id, list(gymnasium.registry), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        after = f" after importing {module!r}" if module else ""
        raise ConfigError(path, "env.id", f"unknown environment id {shown(env_id)}{after}; {hint}"
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
    has_model = MODEL_KEY in load_yaml(controller_path)  # used in place of env.model and the env's own
    return Launch(path, config, controller_path, kind, controller_config, has_model)


def packaged_launch_dir() -> Path:
    """Where the demo launch files ship: `launch/` beside `configs/` in the repository (an editable
    install), `neuroctl/launch/` beside `neuroctl/configs/` in a wheel (package-data). Their controller
    paths (`../configs/controllers/...`) resolve in both layouts."""
    from neuroctl.configs import CONFIG_DIR

    return CONFIG_DIR.parent / "launch"


def packaged_launch_names() -> list[str]:
    """The names of the packaged launch files (`cartpole_mpc`, ...), sorted."""
    return sorted(path.stem for path in packaged_launch_dir().glob("*.yaml"))


def resolve_launch_path(text: str | Path) -> Path:
    """The launch file named on a command line: the path itself when it exists; else, for a bare name
    (no directory part: `cartpole_mpc` or `cartpole_mpc.yaml`), the packaged launch file of that name.
    A bare name that is neither is a ConfigError listing the packaged names; any other path is returned
    unchanged (reading it reports what is wrong)."""
    path = Path(text)
    if "\x00" in str(text) or os.path.lexists(path) or len(path.parts) != 1:
        return path
    name = path.name.removesuffix(".yaml").removesuffix(".yml")
    packaged = packaged_launch_dir() / f"{name}.yaml"
    if packaged.is_file():
        return packaged
    names = packaged_launch_names()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise ConfigError(path, "", f"no such file, nor a packaged launch file of that name; {hint}"
                      f"packaged: {', '.join(names)}")


def split_env_id(text: str) -> tuple[str, str]:
    """gymnasium's `module:Id` form as (module, id); ("", id) without a module."""
    module, colon, env_id = text.partition(":")
    return (module, env_id) if colon else ("", text)


def import_env_module(module: str, where: Path) -> None:
    """Import the module of a `module:Id` (so that it registers its environments), searching the launch
    file's directory and the current directory too (both stay at the end of `sys.path`, for entry points
    named by string); a module that does not import is a ConfigError."""
    if not module or not all(part.isidentifier() for part in module.split(".")):
        raise ConfigError(where, "env.id", f"expected 'module:Id' with a Python module name, got module "
                          f"{shown(module)}")
    extra = [p for p in (str(Path(os.path.abspath(where)).parent), os.getcwd()) if p not in sys.path]
    sys.path[len(sys.path):] = extra
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module(module)
    except Exception as exc:  # a user's module can raise anything while it imports
        raise ConfigError(where, "env.id", f"module {module!r} does not import: {type(exc).__name__}: "
                          f"{exc}") from None


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
            env = gymnasium.make(launch.gymnasium_id, max_episode_steps=UNLIMITED_STEPS,
                                 disable_env_checker=True, **kwargs)
    except (ImportError, gymnasium.error.DependencyNotInstalled) as exc:
        raise ConfigError(launch.path, "env.id", f"{shown(env_config.id)} is registered but cannot be built "
                          f"here: {exc}") from None
    except (TypeError, ValueError, OverflowError, gymnasium.error.Error) as exc:
        key, _, message = str(exc).partition(": ")
        if message and KWARG_PATH.fullmatch(key):
            raise ConfigError(launch.path, f"env.kwargs.{key}", message) from None
        raise ConfigError(launch.path, "env.kwargs", str(exc)) from None
    section = env_config.model
    given_model = launch.controller_has_model or (section is not None and section.linearise)
    missing = missing_for_launch(env, given_model)
    if missing:
        env.close()
        raise ConfigError(launch.path, "env.id", f"{shown(env_config.id)} cannot be launched: it lacks {missing}; "
                          f"the neuroctl ids are: {', '.join(neuroctl_env_ids())}")
    try:
        model = launch_model(launch, env)
    except BaseException:
        env.close()
        raise
    if model is not None:
        _LAUNCH_MODELS[env.unwrapped] = model
    return env


_LAUNCH_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""The model a launch gave an environment it made (`make_env`), by environment: `linear_model_of` returns
it in place of the environment's own."""


def missing_for_launch(env: gymnasium.Env, given_model: bool = False) -> str:
    """What the environment lacks for a launch (see `neuroctl.runtime.robots.describe`; a linear model for
    the controllers, unless the launch gives one), or ""."""
    try:
        description = describe(env)
    except NotARobot as exc:
        return str(exc)
    if description.linearisable or given_model:
        return ""
    return ("a linear model (linear_model(), the robot contract; or a model section in the controller "
            "config, or env.model: {linearise: true} in the launch file for an environment that can set its "
            "state)")


def launch_model(launch: Launch, env: gymnasium.Env) -> LinearModel | None:
    """The model the launch gives the controllers in place of the environment's own, or None: the
    controller config's model section (its sizes and period checked against the environment), or a
    finite-difference linearisation (launch file `env.model: {linearise: true}`)."""
    space = env.action_space
    low, high = np.asarray(space.low, dtype=np.float64), np.asarray(space.high, dtype=np.float64)
    n_obs = env.observation_space.shape[0]
    period = describe(env).control_period_s
    if launch.controller_has_model:
        model = load_model_section(launch.controller_path, low, high)
        if model.n_states != n_obs:
            raise ConfigError(launch.controller_path, "model.A", f"expected {n_obs} x {n_obs} (one state per "
                              f"observation component of {launch.config.env.id}), got {model.n_states} x "
                              f"{model.n_states}")
        if not math.isclose(model.dt, period, rel_tol=1e-6):
            raise ConfigError(launch.controller_path, "model.dt_s", f"expected the environment's control "
                              f"period {period:g} s, got {model.dt:g}")
        return model
    section = launch.config.env.model
    if section is None or not section.linearise:
        return None
    unwrapped = env.unwrapped
    if not isinstance(unwrapped, StateSettableEnv):
        raise ConfigError(launch.path, "env.model.linearise", f"{shown(launch.config.env.id)} cannot set its "
                          "state (state_vector() and set_state(qpos, qvel), as gymnasium's MuJoCo environments "
                          "have); give the controller config a model section (A, B, dt_s)")
    plant = finite_difference_model(env, launch.config.run.seed, section.state_step, section.action_step)
    if not (np.all(np.isfinite(plant.A)) and np.all(np.isfinite(plant.B))):
        raise ConfigError(launch.path, "env.model.linearise", "the finite-difference model is not finite; "
                          "try a smaller env.model.state_step")
    if plant.C is None:  # the observation is the state: the model about the origin, the set point
        return LinearModel(A=plant.A, B=plant.B, dt=plant.dt_s, u_low=low, u_high=high)
    if not np.all(np.isfinite(plant.C)) or np.linalg.matrix_rank(plant.C) < plant.A.shape[0]:
        raise ConfigError(launch.path, "env.model.linearise", f"the observation of {shown(launch.config.env.id)} "
                          f"({plant.C.shape[0]} values) does not determine its state ({plant.A.shape[0]} values) "
                          "to first order; give the controller config a model section")
    return LinearModel(A=plant.A, B=plant.B, dt=plant.dt_s, u_low=low, u_high=high, x_op=plant.x_op,
                       C=plant.C, y_op=plant.y_op)


def linear_model_of(env: gymnasium.Env) -> LinearModel:
    """The controllers' discrete linear model, in action units: the one the launch gave the environment
    (`make_env`, `launch_model`), else the environment's own about its default operating point."""
    given = _LAUNCH_MODELS.get(env.unwrapped)
    if given is not None:
        return given
    plant = env.unwrapped.linear_model()
    space = env.action_space
    return LinearModel(A=np.asarray(plant.A, dtype=np.float64), B=np.asarray(plant.B, dtype=np.float64),
                       dt=float(plant.dt_s), u_low=np.asarray(space.low, dtype=np.float64),
                       u_high=np.asarray(space.high, dtype=np.float64), x_op=plant.x_op, u_op=plant.a_op,
                       C=plant.C, y_op=plant.y_op)


def loop_settings(launch: Launch, env: gymnasium.Env) -> LoopSettings:
    """The loop's settings: the launch file's run section, its duration in ticks, its sensor limits."""
    run = launch.config.run
    period = describe(env).control_period_s
    return LoopSettings(n_ticks=max(1, int(round(run.duration_s / period))), control_period_s=period,
                        mode=run.mode, seed=run.seed, overrun_policy=run.overrun_policy,
                        watchdog=run.watchdog, spin_s=run.spin_s, sensors=sensors_of(launch, env),
                        realtime=RealtimeSettings(run.realtime.wait, None if run.realtime.cpus is None
                                                  else tuple(run.realtime.cpus), run.realtime.fifo_priority,
                                                  run.realtime.lock_memory, run.realtime.rehearse))


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
