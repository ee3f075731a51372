"""Controller kinds by name, for configs: `kind: <name>` picks the class and its config dataclass.

Imports are lazy so that `import neuroctl` stays cheap (no numba compile).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from neuroctl.config import ConfigError, load_yaml, parse
from neuroctl.control.base import Controller, LinearModel

CONTROLLER_KINDS: dict[str, tuple[str, str, str]] = {
    "spiking_state_feedback": ("neuroctl.control.state_feedback", "SpikingStateFeedbackController",
                               "SpikingStateFeedbackConfig"),
    "lqr": ("neuroctl.control.lqr", "LQRController", "LQRConfig"),
    "mpc_exact": ("neuroctl.control.mpc", "ExactMPCController", "ExactMPCConfig"),
    "mpc_spiking": ("neuroctl.control.spiking_mpc", "SpikingMPCController", "SpikingMPCConfig"),
    "mpc_dense": ("neuroctl.control.spiking_mpc", "DenseMPCController", "DenseMPCConfig"),
}


def controller_class(kind: str) -> type[Controller]:
    module_name, class_name, _ = CONTROLLER_KINDS[kind]
    return getattr(importlib.import_module(module_name), class_name)


def config_class(kind: str) -> type:
    module_name, _, config_name = CONTROLLER_KINDS[kind]
    return getattr(importlib.import_module(module_name), config_name)


def load_controller_config(path: str | Path) -> tuple[str, Any]:
    """Read a controller config file: `kind` plus that kind's keys, validated strictly."""
    data = load_yaml(path)
    kind = data.pop("kind", None)
    if kind is None:
        raise ConfigError(path, "kind", f"missing; expected one of: {', '.join(CONTROLLER_KINDS)}")
    if kind not in CONTROLLER_KINDS:
        raise ConfigError(path, "kind", f"unknown controller kind {kind!r}; expected one of: "
                          f"{', '.join(CONTROLLER_KINDS)}")
    return kind, parse(config_class(kind), data, path)


def build_controller(kind: str, config: Any, model: LinearModel, observation_size: int,
                     where: str | Path = "controller") -> Controller:
    """Instantiate a controller; a config that does not fit the environment is a ConfigError."""
    try:
        return controller_class(kind)(config, model, observation_size)
    except ValueError as exc:
        key, _, message = str(exc).partition(": ")
        raise ConfigError(where, key if message else "", message or str(exc)) from None
