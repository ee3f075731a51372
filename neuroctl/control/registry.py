"""Controller kinds by name, for configs: `kind: <name>` picks the class and its config dataclass.

Imports are lazy so that `import neuroctl` stays cheap (no numba compile).

Most kinds are built from the environment's linear model: `Class(config, model, observation_size)`. A
class with `requires_rigid_body = True` (the computed-torque controllers) is built from the robot's
rigid-body model instead: `Class(config, model, observation_size, robot)` with `robot` the environment's
`unwrapped`, a `neuroctl.envs.robot.RigidBodyRobot` (model may then be None). A class with
`requires_legged_robot = True` (the quadruped's convex MPC) is built the same way from a
`neuroctl.envs.robot.LeggedRobot`. `builds_from_robot(kind)` says whether a kind needs no linear model.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuroctl.config import ConfigError, load_yaml, parse, range_field
from neuroctl.control.base import Controller, LinearModel

MODEL_KEY = "model"
MAX_MODEL_SIZE = 1000

CONTROLLER_KINDS: dict[str, tuple[str, str, str]] = {
    "spiking_state_feedback": ("neuroctl.control.state_feedback", "SpikingStateFeedbackController",
                               "SpikingStateFeedbackConfig"),
    "lqr": ("neuroctl.control.lqr", "LQRController", "LQRConfig"),
    "mpc_exact": ("neuroctl.control.mpc", "ExactMPCController", "ExactMPCConfig"),
    "mpc_spiking": ("neuroctl.control.spiking_mpc", "SpikingMPCController", "SpikingMPCConfig"),
    "mpc_dense": ("neuroctl.control.spiking_mpc", "DenseMPCController", "DenseMPCConfig"),
    "computed_torque_pd": ("neuroctl.control.computed_torque", "ComputedTorquePDController",
                           "ComputedTorquePDConfig"),
    "computed_torque_mpc_exact": ("neuroctl.control.computed_torque", "ComputedTorqueExactMPCController",
                                  "ComputedTorqueExactMPCConfig"),
    "computed_torque_mpc_spiking": ("neuroctl.control.computed_torque", "ComputedTorqueSpikingMPCController",
                                    "ComputedTorqueSpikingMPCConfig"),
    "computed_torque_mpc_dense": ("neuroctl.control.computed_torque", "ComputedTorqueDenseMPCController",
                                  "ComputedTorqueDenseMPCConfig"),
    "computed_torque_pd_known_payload": ("neuroctl.control.adaptive", "ComputedTorquePDKnownPayloadController",
                                        "ComputedTorquePDKnownPayloadConfig"),
    "computed_torque_mpc_spiking_known_payload": ("neuroctl.control.adaptive",
                                                  "ComputedTorqueSpikingMPCKnownPayloadController",
                                                  "ComputedTorqueSpikingMPCKnownPayloadConfig"),
    "computed_torque_pd_adaptive": ("neuroctl.control.adaptive", "ComputedTorquePDAdaptiveController",
                                    "ComputedTorquePDAdaptiveConfig"),
    "computed_torque_mpc_spiking_adaptive": ("neuroctl.control.adaptive", "ComputedTorqueSpikingMPCAdaptiveController",
                                             "ComputedTorqueSpikingMPCAdaptiveConfig"),
    "quadruped_mpc": ("neuroctl.control.quadruped_mpc", "QuadrupedMPCController", "QuadrupedMPCConfig"),
}


def controller_class(kind: str) -> type[Controller]:
    module_name, class_name, _ = CONTROLLER_KINDS[kind]
    return getattr(importlib.import_module(module_name), class_name)


def config_class(kind: str) -> type:
    module_name, _, config_name = CONTROLLER_KINDS[kind]
    return getattr(importlib.import_module(module_name), config_name)


@dataclass(frozen=True)
class ModelSection:
    """A controller config's own linear model, for environments that do not provide one:
    x[k+1] = A x[k] + B u[k] over a control period of `dt_s` seconds, u in the action's units."""

    A: list[list[float]] = range_field(max_length=MAX_MODEL_SIZE)
    B: list[list[float]] = range_field(max_length=MAX_MODEL_SIZE)
    dt_s: float = range_field(min=0.0, min_exclusive=True, max=10.0)


def load_controller_config(path: str | Path) -> tuple[str, Any]:
    """Read a controller config file: `kind` plus that kind's keys, validated strictly (and an optional
    `model` section, see `load_model_section`)."""
    data = load_yaml(path)
    if MODEL_KEY in data:
        parse_model_section(data.pop(MODEL_KEY), path)
    kind = data.pop("kind", None)
    if kind is None:
        raise ConfigError(path, "kind", f"missing; expected one of: {', '.join(CONTROLLER_KINDS)}")
    if not isinstance(kind, str) or kind not in CONTROLLER_KINDS:
        raise ConfigError(path, "kind", f"unknown controller kind {kind!r}; expected one of: "
                          f"{', '.join(CONTROLLER_KINDS)}")
    return kind, parse(config_class(kind), data, path)


def requires_rigid_body(kind: str) -> bool:
    """Whether the kind is built from a `RigidBodyRobot` (and needs no linear model)."""
    return bool(getattr(controller_class(kind), "requires_rigid_body", False))


def requires_legged_robot(kind: str) -> bool:
    """Whether the kind is built from a `LeggedRobot` (and needs no linear model)."""
    return bool(getattr(controller_class(kind), "requires_legged_robot", False))


def builds_from_robot(kind: str) -> bool:
    """Whether the kind is built from the robot itself (a RigidBodyRobot or a LeggedRobot), not from a
    linear model."""
    return requires_rigid_body(kind) or requires_legged_robot(kind)


def build_controller(kind: str, config: Any, model: LinearModel | None, observation_size: int,
                     where: str | Path = "controller", robot: Any = None) -> Controller:
    """Instantiate a controller; a config that does not fit the environment is a ConfigError.

    `robot`: the environment's `unwrapped`, given to kinds that require a `RigidBodyRobot` or a
    `LeggedRobot` (a ConfigError naming `kind` when it is not one); `model` None is a ConfigError for
    kinds that need a linear model.
    """
    cls = controller_class(kind)
    try:
        if getattr(cls, "requires_legged_robot", False):
            from neuroctl.envs.robot import LeggedRobot

            if robot is None or not isinstance(robot, LeggedRobot):
                name = "no environment" if robot is None else type(robot).__name__
                raise ConfigError(where, "kind", f"{kind!r} needs a legged robot (a LeggedRobot: base_state, "
                                  f"joint_state, leg_kinematics, body_mass_kg, body_inertia_kgm2, ...), got {name}")
            return cls(config, model, observation_size, robot)
        if getattr(cls, "requires_rigid_body", False):
            from neuroctl.envs.robot import RigidBodyRobot

            if robot is None or not isinstance(robot, RigidBodyRobot):
                name = "no environment" if robot is None else type(robot).__name__
                raise ConfigError(where, "kind", f"{kind!r} needs a robot with a rigid-body model (a "
                                  f"RigidBodyRobot: joint_state, mass_matrix, bias_torques, "
                                  f"joint_torque_limits_nm, joint_lower_rad, joint_upper_rad), got {name}")
            return cls(config, model, observation_size, robot)
        if model is None:
            raise ConfigError(where, "kind", f"{kind!r} needs the environment's linear model (linear_model()) "
                              f"or a model section")
        return cls(config, model, observation_size)
    except ConfigError:
        raise
    except ValueError as exc:
        key, _, message = str(exc).partition(": ")
        raise ConfigError(where, key if message else "", message or str(exc)) from None


def parse_model_section(data: Any, where: str | Path) -> ModelSection:
    section = parse(ModelSection, data, where, MODEL_KEY)
    a, b = _matrix(section.A, where, "model.A"), _matrix(section.B, where, "model.B")
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ConfigError(where, "model.A", f"expected a square matrix (a list of equal-length rows), got shape "
                          f"{a.shape}")
    if b.ndim != 2 or b.shape[0] != a.shape[0]:
        raise ConfigError(where, "model.B", f"expected {a.shape[0]} rows of equal length, got shape {b.shape}")
    return section


def _matrix(rows: list[list[float]], where: str | Path, key: str) -> np.ndarray:
    if not rows or len({len(row) for row in rows}) != 1 or not rows[0]:
        raise ConfigError(where, key, "expected a matrix: a non-empty list of equal-length, non-empty rows")
    return np.asarray(rows, dtype=np.float64)


def load_model_section(path: str | Path, u_low: np.ndarray, u_high: np.ndarray) -> LinearModel | None:
    """The controller config's `model` section as a LinearModel with the given actuator bounds, if any."""
    data = load_yaml(path)
    if MODEL_KEY not in data:
        return None
    section = parse_model_section(data[MODEL_KEY], path)
    if len(section.B[0]) != np.size(u_low):
        raise ConfigError(path, "model.B", f"expected {np.size(u_low)} columns (one per action), got "
                          f"{len(section.B[0])}")
    return LinearModel(A=np.asarray(section.A, dtype=np.float64), B=np.asarray(section.B, dtype=np.float64),
                       dt=section.dt_s, u_low=np.asarray(u_low, dtype=np.float64),
                       u_high=np.asarray(u_high, dtype=np.float64))
