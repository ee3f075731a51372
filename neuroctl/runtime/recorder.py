"""Per-tick records in arrays allocated before the first tick (nothing is allocated per tick)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from neuroctl.control.base import ACTIVITY_FIELDS
from neuroctl.runtime.files import atomic_write_bytes

COMMAND_FROM_CONTROLLER, COMMAND_HELD, COMMAND_REPLACED, COMMAND_SKIPPED = range(4)
"""Where a tick's command came from: the controller; held after an overrun; the watchdog; a skipped tick."""

MAX_PREDICTION_STEPS = 10
RASTER_NEURONS = 64
"""Spike rasters keep this many neurons, evenly spaced over the network."""


class Recorder:
    """Time, observation, action, activity, stage times and lateness of every tick of one episode."""

    def __init__(self, n_ticks: int, observation_size: int, action_size: int,
                 stage_names: tuple[str, ...], prediction_shape: tuple[int, int] | None = None,
                 plan_size: int | None = None, raster_shape: tuple[int, int] | None = None):
        self.stage_names = stage_names
        self.capacity = n_ticks
        self.count = 0
        self.time_s = np.zeros(n_ticks)
        self.observation = np.zeros((n_ticks, observation_size))
        self.action = np.zeros((n_ticks, action_size))
        self.reward = np.zeros(n_ticks)
        self.activity = np.zeros((n_ticks, len(ACTIVITY_FIELDS)), dtype=np.int64)
        self.stage_s = np.zeros((n_ticks, len(stage_names)))
        self.tick_s = np.zeros(n_ticks)
        self.lateness_s = np.zeros(n_ticks)
        self.command_source = np.zeros(n_ticks, dtype=np.int8)
        self.predicted_states = None
        if prediction_shape is not None:
            steps = min(prediction_shape[0], MAX_PREDICTION_STEPS + 1)
            self.predicted_states = np.full((n_ticks, steps, prediction_shape[1]), np.nan)
        self.planned_commands = None if plan_size is None else np.full((n_ticks, plan_size), np.nan)
        self.raster = None
        self.raster_neurons = np.zeros(0, dtype=np.int64)
        if raster_shape is not None:
            timesteps, neurons = raster_shape
            self.raster_neurons = np.unique(np.linspace(0, neurons - 1, min(neurons, RASTER_NEURONS)).astype(np.int64))
            self.raster = np.zeros((n_ticks, timesteps, self.raster_neurons.size), dtype=np.uint8)

    def arrays(self) -> dict[str, np.ndarray]:
        """The filled part of every record, by name."""
        n = self.count
        out = {
            "time_s": self.time_s[:n], "observation": self.observation[:n], "action": self.action[:n],
            "reward": self.reward[:n], "activity": self.activity[:n], "stage_s": self.stage_s[:n],
            "tick_s": self.tick_s[:n], "lateness_s": self.lateness_s[:n],
            "command_source": self.command_source[:n],
        }
        if self.predicted_states is not None:
            out["predicted_states"] = self.predicted_states[:n]
        if self.planned_commands is not None:
            out["planned_commands"] = self.planned_commands[:n]
        if self.raster is not None:
            out["raster"] = self.raster[:n]
            out["raster_neurons"] = self.raster_neurons
        return out

    def save_npz(self, path: Path) -> None:
        """Write the trajectory atomically (temporary file in the same directory, then rename)."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, stage_names=np.array(self.stage_names),
                            activity_fields=np.array(ACTIVITY_FIELDS), **self.arrays())
        atomic_write_bytes(path, buffer.getvalue())
