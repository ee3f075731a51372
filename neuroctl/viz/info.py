"""What plots and videos need to know about a run beyond its records: names, units, pushes, neuron groups."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import gymnasium

from neuroctl.runtime.robots import describe

@dataclass(frozen=True)
class RunInfo:
    """Labels and context of one run, for its plots and video.

    `command_scale` turns an action into the plotted command (the first actuator's limit: N per action
    unit for the cart-pole); `pushes` are (start_s, end_s, force_n) disturbances, `push_label` says
    where they act; `noise_std` is the observation noise; `raster_groups` are (label, first neuron, end
    neuron) of the controller's neuron groups (raster column indices).
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


def run_info(env_id: str, controller_kind: str, seed: int, env: gymnasium.Env, controller: Any) -> RunInfo:
    """The `RunInfo` of a run of `controller` on `env` (an instance of `env_id`), from its robot
    description (`neuroctl.runtime.robots.describe`): labels and units of its sensors and actuators."""
    robot = describe(env)
    labels = tuple(sensor.label for sensor in robot.sensors)
    actuator = robot.actuators[0]
    return RunInfo(
        title=f"{env_id} · {controller_kind} · seed {seed}",
        control_period_s=robot.control_period_s,
        state_labels=labels,
        command_label=actuator.label,
        command_scale=actuator.limit,
        pushes=robot.push_intervals_s,
        push_label=robot.push_description,
        noise_std=robot.observation_noise_std,
        raster_groups=named_groups(getattr(controller, "spike_raster_groups", ()), labels),
    )


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
