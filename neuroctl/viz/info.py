"""What plots and videos need to know about a run beyond its records: names, units, limits, pushes,
neuron groups, the task's tracking error. All of it comes from the environment's description
(`neuroctl.runtime.robots.describe`): nothing here is keyed by environment id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium
import numpy as np

from neuroctl.envs.robot import Sensor, TaskRobot
from neuroctl.runtime.robots import describe


@dataclass(frozen=True)
class RunInfo:
    """Labels and context of one run, for its plots and video.

    Per sensor (observation component): `state_labels` ("pole angle θ (rad)"), `sensor_names` (the
    label without its unit) and `sensor_units`. Per actuator: `command_labels` ("joint 1 torque (N m)"),
    `command_limits` (the limit in the command's unit) and `command_scales` (the command per action
    unit: the limit for a normalised action, 1 where the action is the command). `command_label` and
    `command_scale` are the first actuator's. `pushes` are (start_s, end_s, force_n) disturbances,
    `push_label` says where they act; `noise_std` is the observation noise; `raster_groups` are (label,
    first neuron, end neuron) of the controller's neuron groups (raster column indices).
    `error_names` name the components of the task's tracking error and `tracking_error` computes it
    from an array of observations (None without a task); `task_description` says what the task asks; `sensors` are the declared sensors.
    """

    title: str
    control_period_s: float
    state_labels: tuple[str, ...]
    command_label: str
    command_scale: float
    pushes: tuple[tuple[float, float, float], ...] = ()
    push_label: str = "push"
    noise_std: float = 0.0
    raster_groups: tuple[tuple[str, int, int], ...] = ()
    sensor_names: tuple[str, ...] = ()
    sensor_units: tuple[str, ...] = ()
    command_labels: tuple[str, ...] = ()
    command_limits: tuple[float, ...] = ()
    command_scales: tuple[float, ...] = ()
    error_names: tuple[str, ...] = ()
    tracking_error: Callable[[np.ndarray], np.ndarray] | None = None
    task_description: str = ""
    sensors: tuple[Sensor, ...] = ()
    """The environment's declared sensors (plausible low/high of each reading), for plots."""

    @property
    def units(self) -> tuple[str, ...]:
        """Each sensor's unit ("" where it has none; as many as `state_labels`)."""
        return self.sensor_units or ("",) * len(self.state_labels)

    @property
    def names(self) -> tuple[str, ...]:
        """Each sensor's label without its unit."""
        return self.sensor_names or tuple(label.rsplit(" (", 1)[0] for label in self.state_labels)

    @property
    def actuators(self) -> tuple[tuple[str, float, float], ...]:
        """(label, limit in the command's unit, command per action unit) of each actuator."""
        if self.command_labels:
            return tuple(zip(self.command_labels, self.command_limits, self.command_scales))
        return ((self.command_label, self.command_scale, self.command_scale),)


def run_info(env_id: str, controller_kind: str, seed: int, env: gymnasium.Env, controller: Any) -> RunInfo:
    """The `RunInfo` of a run of `controller` on `env` (an instance of `env_id`), from its robot
    description (`neuroctl.runtime.robots.describe`): labels, units and limits of its sensors and
    actuators, and its task's tracking error."""
    robot = describe(env)
    labels = tuple(sensor.label for sensor in robot.sensors)
    actuator = robot.actuators[0]
    scales = robot.command_scales or tuple(a.limit for a in robot.actuators)
    return RunInfo(
        title=f"{env_id} · {controller_kind} · seed {seed}",
        control_period_s=robot.control_period_s,
        state_labels=labels,
        command_label=actuator.label,
        command_scale=scales[0],
        pushes=robot.push_intervals_s,
        push_label=robot.push_description,
        noise_std=robot.observation_noise_std,
        raster_groups=named_groups(getattr(controller, "spike_raster_groups", ()), labels),
        sensor_names=tuple(sensor.description or sensor.name for sensor in robot.sensors),
        sensor_units=tuple(sensor.unit for sensor in robot.sensors),
        command_labels=tuple(a.label for a in robot.actuators),
        command_limits=tuple(float(a.limit) for a in robot.actuators),
        command_scales=tuple(float(s) for s in scales),
        error_names=tuple(robot.task.error_names) if robot.task else (),
        tracking_error=_tracking_error_of(env) if robot.task else None,
        task_description=robot.task.description if robot.task else "",
        sensors=tuple(robot.sensors),
    )


def _tracking_error_of(env: gymnasium.Env) -> Callable[[np.ndarray], np.ndarray] | None:
    """observations (ticks, n) -> the task's tracking errors (ticks, m), by the environment's own
    `tracking_error` (`TaskRobot`); non-finite readings give non-finite errors, never an exception."""
    unwrapped = env.unwrapped
    if not isinstance(unwrapped, TaskRobot):
        return None
    size = len(unwrapped.task.error_names)

    def errors(observations: np.ndarray) -> np.ndarray:
        out = np.full((len(observations), size), np.nan)
        for observation, error in zip(np.asarray(observations, dtype=np.float64), out):
            if np.all(np.isfinite(observation)):
                unwrapped.tracking_error(observation, error)
        return out
    return errors


def named_groups(groups: tuple[tuple[str, int, int], ...],
                 state_labels: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """Neuron groups with a state index in their label ('encoder[1]') named after that state."""
    named = []
    for label, start, stop in groups:
        match = re.fullmatch(r"(.*)\[(\d+)\]", label)
        if match and int(match[2]) < len(state_labels):
            state = state_labels[int(match[2])].rsplit(" (", 1)[0]  # without the unit
            label = f"{match[1]}: {state}"
        named.append((label, start, stop))
    return tuple(named)
