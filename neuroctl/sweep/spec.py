"""A sweep file and the trials it stands for.

    launch: ../../launch/cartpole_mpc_hard.yaml          # relative to the sweep file
    controllers: [../controllers/cartpole_mpc_hard_exact.yaml, ../controllers/cartpole_mpc_hard.yaml]
    seeds: {first: 0, count: 50}
    parameters:                                           # dotted key paths, each with its values
      controller.theta_neuron: [0.001, 0.002, 0.005]      # a list: these values (grid)
      env.kwargs.max_force_n: {low: 4.0, high: 10.0, count: 4}   # a range: `count` values drawn uniformly
    sample_seed: 0                                        # the seed of the drawn values

Every combination of the parameters' values (their product) is a setting; `controller.<key>` applies
to each controller config that has a `<key>` (a controller without it runs once for the settings that
differ only in such keys: no trial is run twice), every other path to the launch file. A trial is a
(setting, controller, seed). `expand` validates each setting of each controller before anything runs,
as `neuroctl check` would, with an error naming the trial's key path and value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from neuroctl.config import ConfigError, file_problem, load_yaml, parse, range_field, shown

CONTROLLER_PREFIX = "controller."
LAUNCH_SECTIONS = ("env", "run", "task", "outputs", "sensors")
MAX_TRIALS = 1_000_000


@dataclass(frozen=True)
class SeedSection:
    first: int = range_field(0, min=0, max=2**32 - 1)
    count: int = range_field(10, min=1, max=1_000_000)


@dataclass(frozen=True)
class RangeSection:
    low: float = range_field()
    high: float = range_field()
    count: int = range_field(min=1, max=10_000)
    log: bool = range_field(False, doc="draw uniformly in log(value) (low and high > 0)")


@dataclass(frozen=True)
class SweepFile:
    launch: str
    controllers: list[str] = range_field([], doc="controller configs (default: the launch file's)")
    seeds: SeedSection = field(default_factory=SeedSection)
    parameters: dict = field(default_factory=dict)
    sample_seed: int = range_field(0, min=0, max=2**32 - 1)


@dataclass(frozen=True)
class Trial:
    """One episode: `setting` (key path -> value) of the controller at `controller_path`, with `seed`;
    `config_id` names the (controller, setting) pair, whose materialised launch file is `launch_path`."""

    config_id: str
    controller: str
    setting: dict[str, Any]
    seed: int
    launch_path: Path

    @property
    def key(self) -> tuple[str, int]:
        return (self.config_id, self.seed)


def parameter_values(spec: SweepFile, where: Path) -> dict[str, list[Any]]:
    """Each parameter's values: its list, or `count` draws from its range (seeded by sample_seed, in the
    order the parameters are written)."""
    rng = np.random.default_rng(spec.sample_seed)
    values: dict[str, list[Any]] = {}
    for key, given in spec.parameters.items():
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise ConfigError(where, f"parameters.{key}", "expected a dotted key path such as controller.horizon")
        top = key.split(".")[0]
        if not key.startswith(CONTROLLER_PREFIX) and top not in LAUNCH_SECTIONS:
            raise ConfigError(where, f"parameters.{key}", f"expected a path into the launch file "
                              f"({', '.join(LAUNCH_SECTIONS)}) or the controller configs (controller.<key>)")
        if isinstance(given, list):
            if not given:
                raise ConfigError(where, f"parameters.{key}", "expected at least one value")
            values[key] = given
            continue
        section = parse(RangeSection, given, where, f"parameters.{key}")
        if not section.low < section.high or (section.log and section.low <= 0.0):
            raise ConfigError(where, f"parameters.{key}", f"expected low < high{' and low > 0 (log)' if section.log else ''}"
                              f", got low {section.low:g}, high {section.high:g}")
        if section.log:
            drawn = np.exp(rng.uniform(np.log(section.low), np.log(section.high), section.count))
        else:
            drawn = rng.uniform(section.low, section.high, section.count)
        values[key] = [float(v) for v in drawn]
    return values


def _set(data: dict, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = data.get(part)
        if child is None:
            child = data[part] = {}
        if not isinstance(child, dict):
            raise KeyError(part)
        data = child
    data[path[-1]] = value


def _has(data: dict, path: list[str]) -> bool:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _config_id(controller: Path, setting: dict[str, Any]) -> str:
    text = json.dumps([str(controller), sorted(setting.items())], default=str)
    return f"{controller.stem}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def expand(sweep_path: Path, configs_dir: Path) -> tuple[SweepFile, list[Trial]]:
    """Read the sweep file, write each (controller, setting) pair's launch file and controller config
    under `configs_dir` (`<config_id>/launch.yaml`, `controller.yaml`), validate each as `neuroctl check`
    does, and return the trials in (controller, setting, seed) order. ConfigError on the first problem."""
    from neuroctl.launchfile import load_launch
    from neuroctl.run import validate_launch

    sweep_path = Path(sweep_path)
    spec = parse(SweepFile, load_yaml(sweep_path), sweep_path)
    base = sweep_path.parent
    launch_file = (base / spec.launch).resolve()
    _check_file(sweep_path, "launch", launch_file)
    launch_data = load_yaml(launch_file)
    controllers = [(base / c).resolve() for c in spec.controllers] or \
        [(launch_file.parent / str(launch_data.get("controller", ""))).resolve()]
    for i, controller in enumerate(controllers):
        _check_file(sweep_path, f"controllers[{i}]" if spec.controllers else "launch", controller)
    values = parameter_values(spec, sweep_path)
    keys = list(values)
    n_settings = int(np.prod([len(values[k]) for k in keys])) if keys else 1
    if n_settings * len(controllers) * spec.seeds.count > MAX_TRIALS:
        raise ConfigError(sweep_path, "parameters", f"expected at most {MAX_TRIALS:,} trials, got "
                          f"{n_settings * len(controllers) * spec.seeds.count:,}")
    trials: list[Trial] = []
    for controller in controllers:
        controller_data = load_yaml(controller)
        own = [k for k in keys if not k.startswith(CONTROLLER_PREFIX)
               or _has(controller_data, k[len(CONTROLLER_PREFIX):].split("."))
               or _accepts(controller_data, k[len(CONTROLLER_PREFIX):])]
        seen: set[str] = set()
        for combination in itertools.product(*(values[k] for k in keys)):
            setting = {k: v for k, v in zip(keys, combination) if k in own}
            config_id = _config_id(controller, setting)
            if config_id in seen:
                continue
            seen.add(config_id)
            launch_path = _materialise(sweep_path, configs_dir / config_id, launch_data, controller_data, setting)
            try:
                validate_launch(load_launch(launch_path))
            except ConfigError as exc:
                shown_setting = ", ".join(f"{k} = {shown(v)}" for k, v in setting.items()) or "no parameters"
                raise ConfigError(sweep_path, f"trial {controller.name} with {shown_setting}", exc.message
                                  if not exc.key else f"{exc.key}: {exc.message}") from None
            trials += [Trial(config_id, str(controller), setting, seed, launch_path)
                       for seed in range(spec.seeds.first, spec.seeds.first + spec.seeds.count)]
    return spec, trials


def _check_file(sweep_path: Path, key: str, path: Path) -> None:
    problem = file_problem(path)
    if problem is not None:
        raise ConfigError(sweep_path, key, f"{str(path)!r}: {problem}")


def _accepts(controller_data: dict, key: str) -> bool:
    """Whether the controller config's kind has a top-level field `key` (so that a sweep may set it)."""
    from neuroctl.control.registry import config_class

    kind = controller_data.get("kind")
    try:
        cls = config_class(kind)
    except (KeyError, ValueError, TypeError):
        return False
    top = key.split(".")[0]
    return dataclasses.is_dataclass(cls) and top in {f.name for f in dataclasses.fields(cls)}


def _materialise(sweep_path: Path, directory: Path, launch_data: dict, controller_data: dict,
                 setting: dict[str, Any]) -> Path:
    """Write the setting's controller config and launch file into `directory`; return the launch file."""
    launch = json.loads(json.dumps(launch_data))
    controller = json.loads(json.dumps(controller_data))
    for key, value in setting.items():
        target, path = (controller, key[len(CONTROLLER_PREFIX):]) if key.startswith(CONTROLLER_PREFIX) else (launch, key)
        try:
            _set(target, path.split("."), value)
        except KeyError as exc:
            raise ConfigError(sweep_path, f"parameters.{key}", f"{exc.args[0]!r} is not a section") from None
    launch["controller"] = str((directory / "controller.yaml").resolve())
    launch.setdefault("outputs", {})["plots"] = False  # a trial's results go to trials.jsonl
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "controller.yaml").write_text(yaml.safe_dump(controller, sort_keys=False))
    (directory / "launch.yaml").write_text(yaml.safe_dump(launch, sort_keys=False))
    return directory / "launch.yaml"

