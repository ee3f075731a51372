"""What plots and videos need to know about a run beyond its records: names, units, pushes, neuron groups."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import gymnasium

STATE_LABELS = {
    "neuroctl/CartPoleBalance-v0": ("cart position x (m)", "pole angle θ (rad)", "cart velocity ẋ (m/s)",
                                    "pole angular velocity θ̇ (rad/s)"),
}
"""Observation component names with units, per environment id (other environments: observation[i])."""


@dataclass(frozen=True)
class RunInfo:
    """Labels and context of one run, for its plots and video.

    `command_scale` turns an action into the plotted command (N per action unit for the cart-pole, whose
    action 1 is `max_force_n`); `pushes` are (start_s, end_s, force_n) disturbances; `raster_groups`
    are (label, first neuron, end neuron) of the controller's neuron groups (raster column indices).
    """

    title: str
    control_period_s: float
    state_labels: tuple[str, ...]
    command_label: str
    command_scale: float
    pushes: tuple[tuple[float, float, float], ...] = ()
    raster_groups: tuple[tuple[str, int, int], ...] = ()


def run_info(env_id: str, controller_kind: str, seed: int, env: gymnasium.Env, controller: Any) -> RunInfo:
    """The `RunInfo` of a run of `controller` on `env` (an instance of `env_id`)."""
    unwrapped = env.unwrapped
    size = env.observation_space.shape[0]
    labels = STATE_LABELS.get(env_id, ())[:size]
    if len(labels) != size:
        labels = tuple(f"observation[{i}]" for i in range(size))
    max_force_n = getattr(unwrapped, "max_force_n", None)
    command_label, scale = ("cart force (N)", float(max_force_n)) if max_force_n else ("action", 1.0)
    return RunInfo(
        title=f"{env_id} · {controller_kind} · seed {seed}",
        control_period_s=float(unwrapped.control_period_s),
        state_labels=labels,
        command_label=command_label,
        command_scale=scale,
        pushes=push_intervals(unwrapped),
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


def push_intervals(env: Any) -> tuple[tuple[float, float, float], ...]:
    """(start_s, end_s, force_n) of the environment's validated `pushes`, if it has any.

    A push acts on physics substeps [first_substep, end_substep) of `physics_period_s` each (the
    cart-pole's representation); environments without `pushes` have none.
    """
    pushes = getattr(env, "pushes", ())
    if not pushes:
        return ()
    period = env.physics_period_s
    return tuple((p.first_substep * period, p.end_substep * period, p.force_n) for p in pushes)
