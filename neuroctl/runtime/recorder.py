"""Per-tick records in arrays allocated before the first tick (nothing is allocated per tick)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from neuroctl.activity import COUNTER_FIELDS
from neuroctl.runtime.files import atomic_write_bytes

COMMAND_FROM_CONTROLLER, COMMAND_HELD, COMMAND_REPLACED, COMMAND_SKIPPED = range(4)
"""Where a tick's command came from: the controller; held after an overrun; the watchdog; a skipped tick."""

MAX_PREDICTION_STEPS = 10
RASTER_NEURONS = 64
"""Spike rasters keep at most this many neurons, every k-th of the network (k = ceil(n / 64))."""


MAX_RECORD_BYTES = 2 * 1024**3
"""The per-tick records of one run may take at most this much memory (checked before allocating)."""


class Recorder:
    """Time, observation, action, activity, stage times and lateness of every tick of one episode.

    `observation` is what the environment returned (possibly faulty), `controller_observation` what the
    controller was given (after the sensor monitor). A ValueError, before anything is allocated, when
    the records of `n_ticks` ticks would take more than MAX_RECORD_BYTES. `activity` has one column per
    `neuroctl.activity.COUNTER_FIELDS`; `reference` (when `reference_size` is given) the reference the
    controller was given each tick (NaN on ticks where it was not called); `tick_cpu_s` the thread CPU
    time of each tick in realtime mode (NaN in fast mode).
    """

    def __init__(self, n_ticks: int, observation_size: int, action_size: int,
                 stage_names: tuple[str, ...], prediction_shape: tuple[int, int] | None = None,
                 plan_size: int | None = None, raster_shape: tuple[int, int] | None = None,
                 reference_size: int | None = None):
        self.stage_names = stage_names
        self.ticks_recorded = np.zeros(1, dtype=np.int64)  # an array, so that a compiled tick can count too
        self.raster_neurons = np.zeros(0, dtype=np.int64)
        self.raster_columns = slice(0)  # a strided slice: copying the sample allocates nothing per tick
        if raster_shape is not None:
            timesteps, neurons = raster_shape
            self.raster_columns = slice(0, neurons, -(-neurons // RASTER_NEURONS))
            self.raster_neurons = np.arange(neurons)[self.raster_columns]
            raster_shape = (timesteps, self.raster_neurons.size)
        if prediction_shape is not None:
            prediction_shape = (min(prediction_shape[0], MAX_PREDICTION_STEPS + 1), prediction_shape[1])
        layout = {
            "time_s": ((), np.float64, 0.0),
            "observation": ((observation_size,), np.float64, 0.0),
            "controller_observation": ((observation_size,), np.float64, 0.0),
            "action": ((action_size,), np.float64, 0.0),
            "reward": ((), np.float64, 0.0),
            "activity": ((len(COUNTER_FIELDS),), np.int64, 0),
            "reference": (None if reference_size is None else (reference_size,), np.float64, np.nan),
            "stage_s": ((len(stage_names),), np.float64, 0.0),
            "tick_s": ((), np.float64, 0.0),
            "lateness_s": ((), np.float64, 0.0),
            "tick_cpu_s": ((), np.float64, np.nan),
            "command_source": ((), np.int8, 0),
            "predicted_states": (prediction_shape, np.float64, np.nan),
            "planned_commands": (None if plan_size is None else (plan_size,), np.float64, np.nan),
            "raster": (raster_shape, np.uint8, 0),
        }
        _check_size(n_ticks, [(shape, dtype) for shape, dtype, _ in layout.values() if shape is not None])
        for name, (shape, dtype, fill) in layout.items():
            setattr(self, name, None if shape is None else np.full((n_ticks, *shape), fill, dtype=dtype))

    @property
    def count(self) -> int:
        """Ticks recorded so far."""
        return int(self.ticks_recorded[0])

    @count.setter
    def count(self, ticks: int) -> None:
        self.ticks_recorded[0] = ticks

    @property
    def raster_stride(self) -> int:
        """Every how many neurons the raster keeps one (`raster_columns`' step; 1 without a raster)."""
        return self.raster_columns.step or 1

    def arrays(self) -> dict[str, np.ndarray]:
        """The filled part of every record, by name."""
        n = self.count
        out = {
            "time_s": self.time_s[:n], "observation": self.observation[:n],
            "controller_observation": self.controller_observation[:n], "action": self.action[:n],
            "reward": self.reward[:n], "activity": self.activity[:n], "stage_s": self.stage_s[:n],
            "tick_s": self.tick_s[:n], "lateness_s": self.lateness_s[:n], "tick_cpu_s": self.tick_cpu_s[:n],
            "command_source": self.command_source[:n],
        }
        if self.reference is not None:
            out["reference"] = self.reference[:n]
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
                            activity_fields=np.array(COUNTER_FIELDS), **self.arrays())
        atomic_write_bytes(path, buffer.getvalue())


def _check_size(n_ticks: int, records: list[tuple[tuple[int, ...], type]]) -> None:
    """A ValueError if `n_ticks` ticks of `records` (per-tick shape, dtype) exceed MAX_RECORD_BYTES."""
    per_tick = sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype in records)
    needed = n_ticks * per_tick
    if needed > MAX_RECORD_BYTES:
        raise ValueError(f"recording {n_ticks} ticks ({per_tick} bytes each) needs {needed / 1e9:.1f} GB; "
                         f"at most {MAX_RECORD_BYTES / 1e9:.1f} GB are allowed")
