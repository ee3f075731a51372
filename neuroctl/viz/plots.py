"""The PNG plots of a run directory, drawn from the run's records after the run.

- `state_command.png`: every observed state component and the command against time, the pushes
  shaded, and for predictive controllers the one-tick-ahead prediction against what happened.
- `spike_raster.png` (spiking controllers): the sampled neurons' spikes over the first seconds, and the
  whole network's spikes per tick below.
- `latency.png`: histograms of the time per stage and per tick (log scale, us), the deadline drawn.
- `activity_energy.png`: spikes, synaptic events and dense-equivalent MACs per tick against time, and
  the modelled energy per tick of every hardware profile.

matplotlib is used through `matplotlib.figure.Figure` (Agg, no pyplot): no global backend switch, no
figure kept alive. Files are written atomically.
"""

from __future__ import annotations

import dataclasses
import io
import math
import textwrap
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import EngFormatter, FuncFormatter
from matplotlib.transforms import blended_transform_factory

from neuroctl.control.base import ACTIVITY_FIELDS, SPIKES
from neuroctl.metrics.report import stolen_note
from neuroctl.runtime.files import atomic_write_bytes
from neuroctl.viz.info import RunInfo

DPI = 100
RASTER_WINDOW_S = 2.0
GROUP_LABEL_WIDTH = 24
"""Characters per line of a neuron group's name beside the raster."""
PUSH_COLOUR = "tab:red"
ERROR_COLOURS = ("tab:blue", "tab:purple", "tab:olive", "tab:brown", "tab:cyan", "tab:grey")
ACTIVITY_STYLE = {
    "spikes": ("spikes", "tab:blue"),
    "synaptic_events": ("synaptic events (spikes × fan-out)", "tab:orange"),
    "dense_macs": ("MACs (for a spiking network: what a dense evaluation would need)", "tab:green"),
}
"""Activity counters drawn against time: label and colour."""

Trajectory = Mapping[str, np.ndarray]
"""The run's records by name, as in trajectory.npz (with `stage_names` and `activity_fields`)."""


def write_plots(out_dir: Path, trajectory: Trajectory, metrics: dict[str, Any], info: RunInfo) -> list[Path]:
    """Draw every plot of the run into `out_dir`; returns the files written."""
    end_s = len(trajectory["time_s"]) * info.control_period_s
    info = mathtext_labels(dataclasses.replace(info, pushes=_pushes_before(info.pushes, end_s)))
    figures = {"state_command.png": state_figure(trajectory, metrics, info)}
    if "raster" in trajectory:
        figures["spike_raster.png"] = raster_figure(trajectory, info)
    figures["latency.png"] = latency_figure(trajectory, metrics, info)
    figures["activity_energy.png"] = activity_energy_figure(trajectory, metrics, info)
    paths = []
    for name, figure in figures.items():
        paths.append(out_dir / name)
        save_png(figure, paths[-1])
    return paths


GREEK = {"α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "θ": r"\theta", "φ": r"\phi",
         "ψ": r"\psi", "ω": r"\omega", "τ": r"\tau", "λ": r"\lambda", "μ": r"\mu", "σ": r"\sigma"}
ACCENTS = {"\u0307": r"\dot", "\u0308": r"\ddot"}
"""Combining dot above / diaeresis (U+0307, U+0308): DejaVu Sans does not place them, mathtext does."""


def mathtext(text: str) -> str:
    """`text` with each letter carrying a combining dot (or two) written as mathtext: "cart velocity ẋ"
    -> "cart velocity $\\dot{x}$", "θ̇" -> "$\\dot{\\theta}$"; `$` elsewhere escaped."""
    if not any(accent in text for accent in ACCENTS):
        return text
    out, k = [], 0
    text = text.replace("$", r"\$")
    while k < len(text):
        char = text[k]
        if k + 1 < len(text) and text[k + 1] in ACCENTS:
            out.append(f"${ACCENTS[text[k + 1]]}{{{GREEK.get(char, char)}}}$")
            k += 2
        else:
            out.append(char)
            k += 1
    return "".join(out)


def mathtext_labels(info: RunInfo) -> RunInfo:
    """`info` with every label the plots draw passed through `mathtext`."""
    return dataclasses.replace(
        info, state_labels=tuple(map(mathtext, info.state_labels)),
        sensor_names=tuple(map(mathtext, info.sensor_names)), command_label=mathtext(info.command_label),
        command_labels=tuple(map(mathtext, info.command_labels)),
        error_names=tuple(map(mathtext, info.error_names)),
        raster_groups=tuple((mathtext(label), a, b) for label, a, b in info.raster_groups))


def _title(figure: Figure, info: RunInfo, subject: str) -> None:
    """Two lines: what ran, then what the figure shows."""
    figure.suptitle(f"{info.title}\n{subject}", fontsize=11)


def save_png(figure: Figure, path: Path) -> None:
    """Write `figure` as a PNG, atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    atomic_write_bytes(path, buffer.getvalue())


# ---- state and command ----

MAX_SINGLE_PANELS = 6
"""Up to this many sensors get a panel each; more are grouped by unit (`sensor_groups`)."""
MAX_LINES_PER_PANEL = 8
QUANTITIES = {"rad": "angles", "rad/s": "angular velocities", "m": "positions", "m/s": "velocities",
              "N": "forces", "N m": "torques", "A": "currents", "V": "voltages"}
"""What a group of sensors in a unit measures, for its panel's title (other units: "readings")."""
LINE_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
                "tab:olive", "tab:cyan", "tab:grey")


def sensor_groups(info: RunInfo) -> list[tuple[str, list[int]]]:
    """The state panels as (title, sensor indices): one per sensor for up to `MAX_SINGLE_PANELS`
    sensors, else one per unit in order of first appearance (at most `MAX_LINES_PER_PANEL` lines a
    panel: a larger group is split into parts titled "1 of 3", ...; the legend names the lines)."""
    n = len(info.state_labels)
    if n <= MAX_SINGLE_PANELS:
        return [(info.state_labels[i], [i]) for i in range(n)]
    by_unit: dict[str, list[int]] = {}
    for i, unit in enumerate(info.units):
        by_unit.setdefault(unit, []).append(i)
    groups = []
    for unit, indices in by_unit.items():
        title = f"{QUANTITIES.get(unit, 'readings')} ({unit})" if unit else "readings (no unit)"
        chunks = [indices[k:k + MAX_LINES_PER_PANEL] for k in range(0, len(indices), MAX_LINES_PER_PANEL)]
        for part, chunk in enumerate(chunks, start=1):
            suffix = f", {part} of {len(chunks)}" if len(chunks) > 1 else ""  # short: the label spans one panel
            groups.append((title + suffix, chunk))
    return groups


def state_figure(trajectory: Trajectory, metrics: dict[str, Any], info: RunInfo) -> Figure:
    """The observed state (a panel per component, or per unit for many components), the command, the
    task's tracking error (for a robot with a task and more than one actuator, or grouped sensors) and
    the prediction error of predictive controllers."""
    time_s, observation = trajectory["time_s"], trajectory["observation"]
    predicted = trajectory.get("predicted_states")
    groups = sensor_groups(info)
    grouped = any(len(indices) > 1 for _, indices in groups)
    errors = _tracking_errors(observation, info) if grouped or len(info.actuators) > 1 else None
    rows = len(groups) + 1 + (errors is not None) + (predicted is not None)
    heights = [1.9 if len(indices) > 1 else 1.45 for _, indices in groups] + [1.9 if grouped else 1.45] * (
        rows - len(groups))
    figure = Figure(figsize=(10 + 1.6 * grouped, sum(heights) + 0.9), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True, height_ratios=heights, squeeze=False)[:, 0]
    seen = trajectory.get("controller_observation")
    for axis, (title, indices) in zip(axes, groups):
        _state_panel(axis, time_s, observation, predicted, indices, info, title, seen)
    row = len(groups)
    command_axis = axes[row]
    _command_panel(command_axis, trajectory, info)
    if errors is not None:
        row += 1
        _tracking_error_panel(axes[row], time_s, errors, info)
    if predicted is not None:
        _prediction_error_panel(axes[row + 1], time_s, observation, predicted, info, groups)
    plausible_drawn = False
    for axis, (_, indices) in zip(axes, groups):
        _robust_ylim(axis, [observation[:, indices]] + ([] if seen is None else [seen[:, indices]]))
        if len(indices) == 1:
            plausible_drawn |= _draw_plausible_range(axis, info, indices[0])
    held = held_intervals(trajectory, info.control_period_s)
    misses = deadline_miss_times(trajectory, metrics, info.control_period_s)
    end = _end_marker(metrics, info)
    for axis in axes:
        _leave_headroom(axis, 0.05 if grouped else 0.3)
        _mark_pushes(axis, info.pushes)
        _mark_held(axis, held)
        _mark_misses(axis, misses)
        if end is not None:
            axis.axvline(end, color="black", lw=1.2, ls="-.")
        axis.grid(alpha=0.3)
    _label_pushes(axes[0], info.pushes)
    handles = _legend_handles(axes[0], command_axis, info, grouped)
    handles += _held_handles(held, metrics) + _miss_handles(misses)
    if plausible_drawn:
        handles.append(Line2D([], [], color="tab:brown", ls=":", lw=1.0,
                              label="plausible range declared by the env (no termination limit is declared)"))
    if end is not None:
        handles.append(Line2D([], [], color="black", lw=1.2, ls="-.", label="episode ended"))
    figure.legend(handles=handles, loc="outside lower center", fontsize=8, ncol=4, frameon=False)
    axes[-1].set_xlabel("time (s)")
    right = max(time_s[-1] + info.control_period_s, info.control_period_s)
    axes[-1].set_xlim(0.0, right * (1.03 if end is not None else 1.0))
    _title(figure, info, f"state and command: {_outcome(metrics, trajectory, info)}")
    return figure


FAULT_COLOUR = "tab:orange"
MISS_COLOUR = "tab:red"
OUTLIER_SPANS = 3.0
"""A reading further than this many robust spans (1st-99th percentile) outside them is clipped."""


def held_intervals(trajectory: Trajectory, period_s: float) -> list[tuple[float, float]]:
    """(start_s, end_s) of each run of ticks where the controller saw something else than the raw
    reading (`controller_observation` != `observation`, NaN-aware): where the sensor monitor held or
    replaced a faulty reading."""
    raw, seen = trajectory["observation"], trajectory.get("controller_observation")
    if seen is None or seen.shape != raw.shape:
        return []
    same = (raw == seen) | (np.isnan(raw) & np.isnan(seen))
    differs = ~np.all(same, axis=1)
    return _runs(trajectory["time_s"], differs, period_s)


def deadline_miss_times(trajectory: Trajectory, metrics: dict[str, Any], period_s: float) -> np.ndarray:
    """The times of the ticks that missed their deadline in a paced run (the tick ended after the next
    release: start lateness + tick time > period); none in fast mode."""
    if metrics.get("mode") != "realtime" or "lateness_s" not in trajectory:
        return np.zeros(0)
    missed = trajectory["lateness_s"] + trajectory["tick_s"] > period_s
    return trajectory["time_s"][missed]


def _runs(time_s: np.ndarray, flags: np.ndarray, period_s: float) -> list[tuple[float, float]]:
    """Contiguous runs of flagged ticks as (start_s, end_s), each tick lasting one period."""
    runs, start = [], None
    for k, flag in enumerate(flags):
        if flag and start is None:
            start = k
        if start is not None and (not flag or k == len(flags) - 1):
            stop = k if not flag else k + 1
            runs.append((float(time_s[start]), float(time_s[stop - 1]) + period_s))
            start = None
    return runs


def _mark_held(axis: Axes, held: list[tuple[float, float]]) -> None:
    for start, end in held:
        axis.axvspan(start, end, color=FAULT_COLOUR, alpha=0.25, lw=0)


def _held_handles(held: list[tuple[float, float]], metrics: dict[str, Any]) -> list:
    if not held:
        return []
    injected = {k: n for k, n in metrics.get("faults", {}).get("injected_ticks", {}).items() if n}
    what = ", ".join(f"{kind} {n} ticks" for kind, n in injected.items()) or "no injected fault counted"
    return [Patch(color=FAULT_COLOUR, alpha=0.25, label=f"monitor held the reading (faults: {what})")]


def _mark_misses(axis: Axes, misses: np.ndarray) -> None:
    """A tick on the time axis (bottom of the panel) at each deadline miss."""
    if misses.size:
        transform = blended_transform_factory(axis.transData, axis.transAxes)
        axis.plot(misses, np.zeros(misses.size), transform=transform, ls="none", marker="|",
                  markersize=9, color=MISS_COLOUR, clip_on=False)


def _miss_handles(misses: np.ndarray) -> list:
    if not misses.size:
        return []
    return [Line2D([], [], ls="none", marker="|", markersize=9, color=MISS_COLOUR,
                   label=f"deadline miss ({misses.size} ticks)")]


def _robust_ylim(axis: Axes, series: list[np.ndarray]) -> None:
    """Clip readings far outside the bulk (a single spike of 1e3 must not flatten the trace): the y
    range covers every reading within `OUTLIER_SPANS` spans of the 1st-99th percentiles; the panel
    says how many points it clipped."""
    values = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in series])
    finite = values[np.isfinite(values)]
    if finite.size < 10:
        return
    low, high = np.percentile(finite, [1, 99])
    span = max(high - low, 1e-9 * max(abs(low), abs(high), 1.0))
    inside = finite[(finite >= low - OUTLIER_SPANS * span) & (finite <= high + OUTLIER_SPANS * span)]
    clipped = finite.size - inside.size
    if not clipped:
        return
    margin = 0.08 * (inside.max() - inside.min() or span)
    axis.set_ylim(inside.min() - margin, inside.max() + margin)
    axis.text(0.995, 0.04, f"{clipped} point{'s' if clipped > 1 else ''} off scale (clipped)",
              transform=axis.transAxes, ha="right", va="bottom", fontsize=7, color="tab:red",
              bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1.0))


def _draw_plausible_range(axis: Axes, info: RunInfo, index: int) -> bool:
    """The sensor's declared plausible low/high (dotted), where it lies near the drawn range (the
    environment declares no termination limits: this is what the sensor monitor checks)."""
    if index >= len(info.sensors):
        return False
    sensor = info.sensors[index]
    low, high = axis.get_ylim()
    span = high - low
    drawn = False
    for bound in (sensor.low, sensor.high):
        if math.isfinite(bound) and low - span <= bound <= high + span:
            axis.axhline(bound, color="tab:brown", ls=":", lw=1.0)
            low, high = min(low, bound), max(high, bound)
            drawn = True
    axis.set_ylim(low, high)
    return drawn


def _end_marker(metrics: dict[str, Any], info: RunInfo) -> float | None:
    """The time a failed episode ended (None for a run that went its full length)."""
    if metrics["task"]["success"]:
        return None
    return float(metrics["duration_s"])


def _state_panel(axis: Axes, time_s: np.ndarray, observation: np.ndarray, predicted: np.ndarray | None,
                 indices: list[int], info: RunInfo, title: str, seen: np.ndarray | None = None) -> None:
    """One component (the raw reading, the controller's view of it over it where they differ, and the
    prediction, in the shared legend's colours) or a group of them (a colour each, named in the panel's
    own legend; the prediction dashed in the same colour)."""
    if len(indices) == 1:
        i = indices[0]
        differs = seen is not None and not np.array_equal(seen[:, i], observation[:, i], equal_nan=True)
        axis.plot(time_s, observation[:, i], color="tab:blue", lw=1.2,
                  label="observed (raw reading)" if differs else "observed")
        if differs:
            axis.plot(time_s, seen[:, i], color="black", lw=0.9, label="controller's view (after the monitor)")
        if predicted is not None and i < predicted.shape[2]:
            axis.plot(time_s[1:], predicted[:-1, 1, i], color="tab:orange", lw=1.0, ls="--",
                      label="predicted one tick ahead")
        _panel_title(axis, title)
        return
    for n, i in enumerate(indices):
        colour = LINE_COLOURS[n % len(LINE_COLOURS)]
        axis.plot(time_s, observation[:, i], color=colour, lw=1.1, label=info.names[i])
        if seen is not None and not np.array_equal(seen[:, i], observation[:, i], equal_nan=True):
            axis.plot(time_s, seen[:, i], color=colour, lw=0.7, ls=":")
        if predicted is not None and i < predicted.shape[2]:
            axis.plot(time_s[1:], predicted[:-1, 1, i], color=colour, lw=0.8, ls="--")
    axis.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)
    axis.set_ylabel(title, fontsize=8)


def _command_panel(axis: Axes, trajectory: Trajectory, info: RunInfo) -> None:
    """The command held over each tick and the actuator limits: in the actuator's unit for one actuator
    (or several sharing a unit and a limit), else each in % of its own limit."""
    time_s = trajectory["time_s"]
    action = trajectory["action"]
    actuators = info.actuators[:action.shape[1]]
    units = {label.rpartition(" (")[2] for label, _, _ in actuators}
    shared = len(actuators) == 1 or (len({limit for _, limit, _ in actuators}) == 1 and len(units) == 1)
    for j, (label, limit, scale) in enumerate(actuators):
        colour = "tab:green" if len(actuators) == 1 else LINE_COLOURS[j % len(LINE_COLOURS)]
        command = action[:, j] * scale if shared else 100.0 * action[:, j] * scale / limit
        name = label if shared else f"{label.rsplit(' (', 1)[0]} (±{limit:g}{_unit_of(label)})"
        axis.step(time_s, command, where="post", color=colour, lw=1.0,
                  label="command" if len(actuators) == 1 else name)
    bound = actuators[0][1] if shared else 100.0
    for limit in (-bound, bound):
        axis.axhline(limit, color="grey", ls=":", lw=1.0, label="actuator limit")
    if len(actuators) == 1:
        _panel_title(axis, f"command: {actuators[0][0]}")
        return
    handles, labels = axis.get_legend_handles_labels()
    keep = [k for k, text in enumerate(labels) if text != "actuator limit"]
    axis.legend([handles[k] for k in keep], [labels[k] for k in keep], loc="upper left",
                bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)
    axis.set_ylabel(f"commands ({_unit_of(actuators[0][0]).strip() or 'action units'})" if shared
                    else "commands\n(% of each limit)", fontsize=8)


def _unit_of(label: str) -> str:
    """' N m' of 'joint 1 torque (N m)', '' without a unit."""
    return f" {label.rsplit(' (', 1)[1].rstrip(')')}" if label.endswith(")") and " (" in label else ""


def _tracking_errors(observation: np.ndarray, info: RunInfo) -> np.ndarray | None:
    """The task's tracking error of every logged observation, or None without a task."""
    if info.tracking_error is None or not info.error_names:
        return None
    return info.tracking_error(observation)


def _tracking_error_panel(axis: Axes, time_s: np.ndarray, errors: np.ndarray, info: RunInfo) -> None:
    """Each component of the task's tracking error, and its norm."""
    for n, name in enumerate(info.error_names):
        axis.plot(time_s, errors[:, n], color=LINE_COLOURS[n % len(LINE_COLOURS)], lw=1.0, label=name)
    if errors.shape[1] > 1:
        axis.plot(time_s, np.linalg.norm(errors, axis=1), color="black", lw=1.3, label="norm")
    axis.axhline(0.0, color="grey", lw=0.8)
    axis.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)
    axis.set_ylabel("task tracking error", fontsize=8)
    if info.task_description:
        _panel_title(axis, f"task: {info.task_description}")


def _prediction_error_panel(axis: Axes, time_s: np.ndarray, observation: np.ndarray, predicted: np.ndarray,
                            info: RunInfo, groups: list[tuple[str, list[int]]]) -> None:
    """|one-tick-ahead prediction - observation| in % of each component's range over the run: per
    component, or for grouped sensors the largest of each group's components."""
    m = min(observation.shape[1], predicted.shape[2])
    error = np.abs(predicted[:-1, 1, :m] - observation[1:, :m])
    span = np.ptp(observation[:, :m], axis=0)
    percent = 100.0 * error / np.where(span > 0, span, 1.0)
    lines = [(title, [i for i in indices if i < m]) for title, indices in groups]
    lines = [(title, indices) for title, indices in lines if indices]
    for n, (title, indices) in enumerate(lines):
        label = info.state_labels[indices[0]] if len(indices) == 1 else f"{title}: largest"
        axis.plot(time_s[1:], percent[:, indices].max(axis=1), lw=0.9, label=label,
                  color=ERROR_COLOURS[n % len(ERROR_COLOURS)])
    if any(len(indices) > 1 for _, indices in groups):
        axis.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)
        axis.set_ylabel("one-tick-ahead\nprediction error\n(% of range)", fontsize=8)
    else:
        axis.legend(loc="upper right", fontsize=7, ncol=2, framealpha=0.9)
        _panel_title(axis, "one-tick-ahead prediction error (% of each component's range over the run)")


def _leave_headroom(axis: Axes, fraction: float = 0.3) -> None:
    """Extend the y range upwards so that the panel title and legends sit above the data."""
    low, high = axis.get_ylim()
    axis.set_ylim(low, high + fraction * (high - low))


def _panel_title(axis: Axes, text: str) -> None:
    """The panel's name inside its upper left corner (the space above the top panel is for pushes)."""
    axis.text(0.005, 0.96, text, transform=axis.transAxes, ha="left", va="top", fontsize=9,
              bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1.5))


def _pushes_before(pushes: tuple[tuple[float, float, float], ...],
                   end_s: float) -> tuple[tuple[float, float, float], ...]:
    """The pushes that start before `end_s` (the others would widen the time axis)."""
    return tuple(push for push in pushes if push[0] < end_s)


def _mark_pushes(axis: Axes, pushes: tuple[tuple[float, float, float], ...]) -> None:
    """Shade the time each push acts."""
    for start, end, _ in pushes:
        axis.axvspan(start, end, color=PUSH_COLOUR, alpha=0.15, lw=0)


def _label_pushes(axis: Axes, pushes: tuple[tuple[float, float, float], ...]) -> None:
    """The force of each push above the top panel."""
    transform = blended_transform_factory(axis.transData, axis.transAxes)
    for start, end, force_n in pushes:
        axis.text((start + end) / 2, 1.02, f"push {force_n:+g} N", transform=transform, ha="center",
                  va="bottom", fontsize=7, color=PUSH_COLOUR)


def _legend_handles(state_axis: Axes, command_axis: Axes, info: RunInfo, grouped: bool = False) -> list:
    """One legend for the state and command panels: lines (or, where panels name their own lines,
    what solid and dashed mean), limits, pushes."""
    command_handles, command_labels = command_axis.get_legend_handles_labels()
    if grouped:
        handles = [Line2D([], [], color="black", lw=1.1, label="observed")]
        if any(line.get_linestyle() == "--" for line in state_axis.get_lines()):
            handles.append(Line2D([], [], color="black", lw=0.8, ls="--", label="predicted one tick ahead"))
    else:
        handles = list(state_axis.get_legend_handles_labels()[0])
        figure_axes = state_axis.figure.axes if state_axis.figure is not None else []
        names = {h.get_label() for h in handles}
        for other in figure_axes:
            for handle in other.get_legend_handles_labels()[0]:
                if handle.get_label() == "controller's view (after the monitor)" and handle.get_label() not in names:
                    handles.append(handle)
                    names.add(handle.get_label())
    if "command" in command_labels:
        handles.append(command_handles[command_labels.index("command")])
    handles.append(command_handles[command_labels.index("actuator limit")])
    return handles + _push_handles(info)


def _push_handles(info: RunInfo) -> list:
    """A legend entry for the pushes' shading, if there are pushes."""
    return [Patch(color=PUSH_COLOUR, alpha=0.15, label=info.push_label)] if info.pushes else []


def _outcome(metrics: dict[str, Any], trajectory: Trajectory | None = None, info: RunInfo | None = None) -> str:
    """How the run ended, for a title: for a failed run, when and (from its last logged reading against
    the sensors' declared plausible ranges, `neuroctl.evaluate.how_it_ended`) near which limit."""
    task = metrics["task"]
    if task["success"]:
        return f"succeeded over the full {metrics['duration_s']:g} s"
    if metrics["interrupted"]:
        return f"interrupted after {metrics['duration_s']:g} s"
    if metrics["aborted"]:
        return f"aborted on overrun after {metrics['duration_s']:g} s"
    text = f"failed: the environment terminated the episode at {metrics['duration_s']:g} s"
    if trajectory is not None and info is not None and info.sensors:
        from neuroctl.evaluate import how_it_ended

        ended = how_it_ended(metrics, trajectory["observation"], info.sensors, metrics["ticks"] + 1)
        past = ended["past_plausible"]
        nearest = ended["nearest_limit"]
        if past:
            text += "; past the plausible range: " + ", ".join(p["sensor"] for p in past)
        elif nearest is not None:
            text += (f"\nlast reading nearest its plausible limit: {nearest['sensor']} {nearest['reading']:.3g} "
                     f"{nearest['unit']} ({100 * nearest['fraction']:.0f}% of {nearest['bound']:g})")
    return text


# ---- spike raster ----

def raster_figure(trajectory: Trajectory, info: RunInfo, window_s: float = RASTER_WINDOW_S) -> Figure:
    """The sampled neurons' spikes over the first `window_s`, and the network's spikes per tick below."""
    raster, neurons = trajectory["raster"], trajectory["raster_neurons"]
    period = info.control_period_s
    ticks = min(len(raster), max(1, math.ceil(window_s / period - 1e-9)))
    timesteps = raster.shape[1]
    substep = period / timesteps
    tick, step, column = np.nonzero(raster[:ticks])
    figure = Figure(figsize=(10, 6.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.scatter((tick * timesteps + step) * substep, column, marker="|", s=18, linewidths=0.8, color="black")
    _shade_groups(top, neurons, info.raster_groups)
    pushes = _pushes_before(info.pushes, ticks * period)
    _label_pushes(top, pushes)
    top.set_ylim(-0.5, len(neurons) - 0.5)
    top.set_ylabel(_neuron_axis_label(neurons, info.raster_groups))
    spikes = trajectory["activity"][:ticks, SPIKES]
    bottom.step(trajectory["time_s"][:ticks], spikes, where="post", color="tab:purple", lw=1.0)
    bottom.set_ylabel("spikes per tick\n(whole network)")
    bottom.set_xlabel(f"time (s); {timesteps} network timesteps per {period * 1e3:g} ms control tick, "
                      f"drawn {substep * 1e3:.3g} ms apart")
    bottom.set_xlim(0.0, ticks * period)
    for axis in (top, bottom):
        _mark_pushes(axis, pushes)
        axis.grid(alpha=0.3, axis="x")
    _title(figure, info, f"spike raster, first {ticks * period:g} s")
    return figure


def _shade_groups(axis: Axes, neurons: np.ndarray, groups: tuple[tuple[str, int, int], ...]) -> None:
    """Alternate bands and a label at the right for each neuron group with sampled neurons."""
    transform = blended_transform_factory(axis.transAxes, axis.transData)
    shown = 0
    for label, start, stop in groups:
        rows = np.flatnonzero((neurons >= start) & (neurons < stop))
        if rows.size == 0:
            continue
        low, high = rows[0] - 0.5, rows[-1] + 0.5
        if shown % 2 == 0:
            axis.axhspan(low, high, color="tab:blue", alpha=0.08, lw=0)
        axis.text(1.005, (low + high) / 2, textwrap.fill(label, GROUP_LABEL_WIDTH), transform=transform,
                  va="center", fontsize=8)
        shown += 1


def _neuron_axis_label(neurons: np.ndarray, groups: tuple[tuple[str, int, int], ...]) -> str:
    """'neuron', or how many of how many neurons the raster samples."""
    total = max((stop for _, _, stop in groups), default=0)
    if total > len(neurons):
        return f"neuron ({len(neurons)} of {total}, evenly spaced)"
    return "neuron"


# ---- latency ----

def latency_figure(trajectory: Trajectory, metrics: dict[str, Any], info: RunInfo) -> Figure:
    """Histograms of the per-stage and whole-tick times on a log axis, with the deadline."""
    series = [(str(name), trajectory["stage_s"][:, i]) for i, name in enumerate(trajectory["stage_names"])]
    series.append(("whole tick", trajectory["tick_s"]))
    if metrics["mode"] == "realtime":
        series.append(("lateness of the tick start", trajectory["lateness_s"]))
    series_us = [(name, 1e6 * values[values > 0]) for name, values in series]
    deadline_us = 1e6 * info.control_period_s
    bins = _log_bins([values for _, values in series_us], deadline_us)
    figure = Figure(figsize=(10, 5.5), layout="constrained")
    axis = figure.subplots()
    for name, values in series_us:
        if values.size:
            whole = name == "whole tick"
            axis.hist(values, bins=bins, histtype="step", lw=2.0 if whole else 1.3,
                      color="black" if whole else None, label=_latency_label(name, values))
    axis.axvline(deadline_us, color="tab:red", ls="--", lw=1.5,
                 label=f"deadline: control period {info.control_period_s * 1e3:g} ms")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_xlabel("time (µs, log scale)")
    axis.set_ylabel("ticks (log scale)")
    axis.grid(alpha=0.3, which="major")
    figure.legend(loc="outside lower center", fontsize=8, ncol=2, frameon=False)
    deadline = metrics["deadline"]
    causes = ", ".join(f"{n} {cause}" for cause, n in deadline.get("misses_by_cause", {}).items() if n)
    stolen = stolen_note(deadline.get("host_steal_s"))
    paced = (f"realtime mode: {deadline['misses']} deadline misses{f' ({causes})' if causes else ''}"
             + ("\n" + stolen if stolen else "") if metrics["mode"] == "realtime" else "fast mode: not paced")
    _title(figure, info, f"time per stage and per tick: {metrics['ticks']} ticks, {paced}")
    return figure


def _log_bins(series: list[np.ndarray], deadline_us: float) -> np.ndarray:
    """Log-spaced bins from below the smallest value to above both the largest value and the deadline."""
    values = np.concatenate([v for v in series if v.size] or [np.array([1.0])])
    low = 10.0 ** math.floor(math.log10(max(values.min(), 1e-3)))
    high = 10.0 ** math.ceil(math.log10(max(values.max(), deadline_us) * 1.01))
    return np.logspace(math.log10(low), math.log10(high), 20 * round(math.log10(high / low)) + 1)


def _latency_label(name: str, values_us: np.ndarray) -> str:
    """A legend entry: the series' name and its p50, p99 and max."""
    p50, p99 = np.percentile(values_us, [50, 99])
    return f"{name}: p50 {p50:.3g} µs, p99 {p99:.3g} µs, max {values_us.max():.3g} µs"


# ---- activity and energy ----

def activity_energy_figure(trajectory: Trajectory, metrics: dict[str, Any], info: RunInfo) -> Figure:
    """Activity per tick against time (left) and modelled energy per tick per hardware profile (right)."""
    figure = Figure(figsize=(13, 5.5), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=(3, 2))
    _activity_panel(left, trajectory, info)
    _energy_panel(right, metrics["energy"]["profiles"], metrics["energy"].get("host"))
    _title(figure, info, "activity and modelled energy per control tick")
    return figure


def _activity_panel(axis: Axes, trajectory: Trajectory, info: RunInfo) -> None:
    """Spikes, synaptic events and MACs per tick on a log axis (zero counts, e.g. held ticks, left out)."""
    fields = [str(name) for name in trajectory.get("activity_fields", ACTIVITY_FIELDS)]
    activity = trajectory["activity"].astype(np.float64)
    for name, (label, colour) in ACTIVITY_STYLE.items():
        values = activity[:, fields.index(name)]
        if np.any(values > 0):
            axis.step(trajectory["time_s"], np.where(values > 0, values, np.nan), where="post", lw=1.0,
                      color=colour, label=f"{label}: mean {values.mean():.4g}")
    if not np.any(activity[:, fields.index("spikes")] > 0):
        axis.text(0.02, 0.97, "no spikes in this run", transform=axis.transAxes, va="top", fontsize=9)
    _mark_pushes(axis, info.pushes)
    if axis.has_data():
        axis.set_yscale("log")
    handles = axis.get_legend_handles_labels()[0] + _push_handles(info)
    axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, frameon=False)
    axis.set_xlabel("time (s)")
    axis.set_ylabel("count per control tick (log scale)")
    axis.set_title("activity per tick", fontsize=10)
    axis.grid(alpha=0.3)


def _profile_name(name: str, entry: dict[str, Any]) -> str:
    """'loihi: Intel Loihi neuromorphic chip' from the profile's source (up to its citation)."""
    source = str(entry.get("source", "")).split(" (")[0].split(";")[0].strip()
    return textwrap.fill(f"{name}: {source}" if source else name, 30)


def _energy_panel(axis: Axes, energy: dict[str, Any], host: dict[str, Any] | None = None) -> None:
    """Horizontal bars of the modelled energy per tick, each row naming its profile and saying what is
    modelled and what measured; the host CPU's part (non-spiking work beside the network) stacked on
    where metrics.json has one; profiles that cannot run the workload say why."""
    if not energy:
        axis.text(0.5, 0.5, "no hardware profiles", ha="center", transform=axis.transAxes)
        axis.set_axis_off()
        return
    names = sorted(energy)
    values = np.array([energy[name]["energy_j"] if energy[name].get("applicable") else np.nan
                       for name in names], dtype=np.float64)
    host_j = float(host["energy_j"]) if host else 0.0
    totals = np.where(values > 0, values + host_j, np.nan)
    positive = np.concatenate([values[values > 0], totals[np.isfinite(totals)]])
    rows = np.arange(len(names))
    axis.barh(rows, np.where(values > 0, values, np.nan), color="tab:cyan", label="controller (modelled)")
    if host_j > 0:
        axis.barh(rows, np.where(values > 0, host_j, np.nan), left=np.where(values > 0, values, np.nan),
                  color="tab:grey", alpha=0.6, label=f"+ host {host.get('profile', 'cpu')}: "
                  f"{host.get('cpu_macs_per_tick', 0):.3g} MACs/tick (modelled)")
    axis.set_xscale("log")
    low, high = (positive.min() / 10, positive.max() * 1000) if positive.size else (1e-12, 1e-3)
    axis.set_xlim(low, high)
    formatter = EngFormatter(unit="J", places=2)
    for row, (name, value, total) in enumerate(zip(names, values, totals)):
        entry = energy[name]
        if value > 0:
            end = total if host_j > 0 else value
            text = formatter(value) + (f" + host = {formatter(total)}" if host_j > 0 else "")
            delay = entry.get("delay_basis", "?")
            axis.text(end * 1.3, row, f"{text}\nenergy {entry.get('energy_basis', 'modelled')}, delay {delay}",
                      va="center", fontsize=7)
        else:
            reason = "0 J" if value == 0 else f"not applicable: {entry.get('reason', '')}"
            axis.text(low * 1.3, row, textwrap.fill(reason, 40), va="center", fontsize=7)
    axis.set_yticks(rows, [_profile_name(name, energy[name]) for name in names], fontsize=7)
    axis.set_ylim(len(names) - 0.5, -0.5)  # first profile on top; rows without a bar keep their place
    axis.xaxis.set_major_formatter(EngFormatter(unit="J"))
    axis.set_xlabel("energy per tick (log scale)")
    axis.set_title("MODELLED energy per tick by hardware profile\n(counted activity × energy per operation; "
                   "delay per row)", fontsize=9)
    if host_j > 0:
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=7, frameon=False)
    axis.grid(alpha=0.3, axis="x")
