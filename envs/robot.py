"""The robot contract: what the neuroctl loop, sensor monitor, launch files, eval, plots and video rely on.

A neuroctl environment is a gymnasium environment with 1-D Box observation and action spaces that also
declares the members below. `Robot` is the required part: any gymnasium environment of a user's own can
be driven by `neuroctl launch` once it has a control period (gymnasium's MuJoCo environments have `dt`,
which `neuroctl.runtime.robots.describe` reads as one). The optional parts are separate protocols,
checked with `isinstance` (never by probing attributes one by one); what an environment leaves out gets
a documented default in `neuroctl.runtime.robots.describe`.

Units are SI. The action is normalised: each actuator's command is `action[i] * actuator.limit` in the
actuator's unit, with the action clipped to [-1, 1].

- `Robot`: `control_period_s` (s per `step()`), `observation_space`, `action_space`.
- `DeclaredRobot`: `sensors` (one `Sensor` per observation component: name, unit, plausible readings for
  the sensor monitor), `actuators` (one `Actuator` per action component: name, unit, limit) and
  `observation_noise_std` (0 when the observation is exact).
- `PushedRobot`: `push_intervals_s` ((start_s, end_s, force_n) of its pushes) and `push_description`.
- `LinearisableRobot`: `linear_model(x_op=None, a_op=None) -> PlantModel`, the discrete model of one
  control period about an operating point (the robot's default one when None).
- `TaskRobot`: `task` (a `Task`: cost weights on the tracking error, the names of its metrics),
  `reference(out)` (the set point the controller should track now, in the model's state coordinates:
  the cart-pole's origin, the arm's joint-space target [q*, 0] from inverse kinematics),
  `tracking_error(observation, out)` (what the task cost weighs) and `task_metrics(trajectory)`
  (the task's own figures of a finished episode, from the logged arrays).
- `RenderableRobot`: `render_observation(observation)`, a frame of the robot as a logged observation
  shows it (for videos made from the logged trajectory after the run).
- `RigidBodyRobot`: a torque-controlled, fixed-base arm's rigid-body model from the simulator, for
  computed-torque controllers: `joint_names`, `joint_torque_limits_nm`, `joint_lower_rad` and
  `joint_upper_rad` (the position limits, from the URDF), `joint_state(observation, q, qd)`
  (where the joint positions and velocities sit in an observation), `mass_matrix(q, out)` (M(q), n x n)
  and `bias_torques(q, qd, out)` (gravity, Coriolis and centrifugal torques h(q, qd), so that the torques
  tau = M(q) qdd + h(q, qd) give the joint accelerations qdd). The action is tau / joint_torque_limits_nm.
- `LeggedRobot`: a torque-controlled, floating-base legged robot's description for centroidal (single
  rigid body) controllers: `joint_names`, `joint_torque_limits_nm`, `foot_names`, `body_mass_kg` (the
  whole robot), `body_inertia_kgm2` (3x3, base frame, the whole robot about its centre of mass at the
  standing pose), `com_offset_m` (3, that centre of mass in the base frame, m), `hip_offsets_m` (legs
  x 3, hip positions in the base frame), `nominal_joint_positions` (the standing pose),
  `standing_height_m`, `steps` (control periods since the last reset: the robot's clock);
  `base_state(observation, out)` (12: roll, pitch, yaw (ZYX Euler, rad), position (m, world), angular
  velocity (rad/s, world), linear velocity (m/s, world)),
  `joint_state(observation, q, qd)`, `leg_kinematics(q, foot_positions_out, jacobians_out)` (each foot's
  position in the base frame relative to the base origin and the 3x3 Jacobian of it with respect to that
  leg's joint angles, a pure function of the joint angles: stance torques tau = -J' R' f),
  `command(out)` (the commanded base velocity now: forward and lateral in the heading frame (m/s), yaw
  rate (rad/s)) and `foot_contacts(out)` (1.0 where a foot touches the ground now). The action is
  tau / joint_torque_limits_nm.
- `TimedRobot`: `STAGE_NAMES` and `stage_times_s` (the wall time of each stage of the last `step()`).
- `FaultyRobot`: `fault_ticks` (per fault kind, the readings the environment corrupted since reset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

import gymnasium
import numpy as np


@dataclass(frozen=True)
class Sensor:
    """One observation component: its name and unit, and the readings that are plausible while the task
    runs (`low`..`high`, changes of at most `max_rate_per_s` per second plus `tolerance`, a reading
    unchanged for longer than `stale_after_s` is stale); `inf` switches a check off."""

    name: str
    unit: str
    low: float = -math.inf
    high: float = math.inf
    max_rate_per_s: float = math.inf
    stale_after_s: float = math.inf
    tolerance: float = 0.0
    periodic: bool = False
    """An angle reported in [-pi, pi] (wrapped again after noise)."""
    description: str = ""
    """What it measures, for plot labels ("pole angle θ")."""

    @property
    def label(self) -> str:
        """For plots, e.g. "pole angle θ (rad)" (`label`)."""
        return label(self.description or self.name, self.unit)


@dataclass(frozen=True)
class Actuator:
    """One action component: the command `action * limit` in `unit` (N, N m, ...), action in [-1, 1]."""

    name: str
    unit: str
    limit: float
    description: str = ""

    @property
    def label(self) -> str:
        """For plots, e.g. "cart force (N)" (`label`)."""
        return label(self.description or self.name, self.unit)


def label(what: str, unit: str) -> str:
    """`what (unit)`, or `what` alone without a unit."""
    return f"{what} ({unit})" if unit else what


@dataclass(frozen=True)
class PlantModel:
    """The discrete model of one control period about an operating point (x_op, a_op):

        x[k+1] - x_op = A (x[k] - x_op) + B (a[k] - a_op),    observation = y_op + C (x - x_op)

    with a the normalised action. `C` None means the observation is the state (C = I, y_op = x_op).
    `state_names` name the components of x.
    """

    A: np.ndarray
    B: np.ndarray
    dt_s: float
    x_op: np.ndarray
    a_op: np.ndarray
    state_names: tuple[str, ...]
    C: np.ndarray | None = None
    y_op: np.ndarray | None = None


@dataclass(frozen=True)
class Task:
    """What the environment asks of a controller: the per-tick cost e'Qe + a'Ra on the tracking error e
    (`tracking_error`) and the normalised action a, `error_names` naming the components of e, and the
    names of the figures `task_metrics` reports for an episode."""

    cost_q: tuple[float, ...]
    cost_r: tuple[float, ...]
    error_names: tuple[str, ...]
    metric_names: tuple[str, ...] = ()
    description: str = ""
    units: Mapping[str, str] = field(default_factory=dict)
    """Unit of each metric, by name."""


@runtime_checkable
class Robot(Protocol):
    """The required part: a gymnasium environment with Box spaces and a control period."""

    control_period_s: float
    observation_space: gymnasium.spaces.Space
    action_space: gymnasium.spaces.Space


@runtime_checkable
class DeclaredRobot(Protocol):
    sensors: tuple[Sensor, ...]
    actuators: tuple[Actuator, ...]
    observation_noise_std: float


@runtime_checkable
class PushedRobot(Protocol):
    push_intervals_s: tuple[tuple[float, float, float], ...]
    """(start_s, end_s, force_n) of each push after a reset."""
    push_description: str | None
    """Where the pushes act, for plot legends ("push on the pole"); None: the robot takes no pushes."""


@runtime_checkable
class LinearisableRobot(Protocol):
    def linear_model(self, x_op: np.ndarray | None = None, a_op: np.ndarray | None = None) -> PlantModel: ...


@runtime_checkable
class TaskRobot(Protocol):
    task: Task

    def reference(self, out: np.ndarray) -> None: ...

    def tracking_error(self, observation: np.ndarray, out: np.ndarray) -> None: ...

    def task_metrics(self, trajectory: Mapping[str, np.ndarray]) -> dict[str, Any]: ...


@runtime_checkable
class RenderableRobot(Protocol):
    def render_observation(self, observation: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class RigidBodyRobot(Protocol):
    joint_names: tuple[str, ...]
    joint_torque_limits_nm: np.ndarray
    joint_lower_rad: np.ndarray
    joint_upper_rad: np.ndarray

    def joint_state(self, observation: np.ndarray, q_out: np.ndarray, qd_out: np.ndarray) -> None: ...

    def mass_matrix(self, q: np.ndarray, out: np.ndarray) -> None: ...

    def bias_torques(self, q: np.ndarray, qd: np.ndarray, out: np.ndarray) -> None: ...


@runtime_checkable
class LeggedRobot(Protocol):
    joint_names: tuple[str, ...]
    joint_torque_limits_nm: np.ndarray
    foot_names: tuple[str, ...]
    body_mass_kg: float
    body_inertia_kgm2: np.ndarray
    com_offset_m: np.ndarray
    hip_offsets_m: np.ndarray
    nominal_joint_positions: np.ndarray
    standing_height_m: float
    steps: int
    """Control periods since the last reset (the robot's clock)."""

    def base_state(self, observation: np.ndarray, out: np.ndarray) -> None: ...

    def joint_state(self, observation: np.ndarray, q_out: np.ndarray, qd_out: np.ndarray) -> None: ...

    def leg_kinematics(self, q: np.ndarray, foot_positions_out: np.ndarray, jacobians_out: np.ndarray) -> None: ...

    def command(self, out: np.ndarray) -> None: ...

    def foot_contacts(self, out: np.ndarray) -> None: ...


@runtime_checkable
class TimedRobot(Protocol):
    STAGE_NAMES: tuple[str, ...]
    stage_times_s: np.ndarray


@runtime_checkable
class FaultyRobot(Protocol):
    fault_ticks: dict[str, int]
