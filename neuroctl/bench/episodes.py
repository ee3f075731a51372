"""Per-tick records of several runs of a launch file, pooled: the raw samples behind the statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuroctl.activity import COUNTER_FIELDS
from neuroctl.run import RunResult
from neuroctl.runtime.robots import CONTROL_STAGE
from neuroctl.runtime.recorder import COMMAND_FROM_CONTROLLER, COMMAND_REPLACED


@dataclass
class PooledRuns:
    """Samples of every tick of every run added: seconds for times, counts per controller tick."""

    stage_names: tuple[str, ...] = ()
    controller_s: list[np.ndarray] = field(default_factory=list)
    tick_s: list[np.ndarray] = field(default_factory=list)
    stage_s: list[np.ndarray] = field(default_factory=list)
    lateness_s: list[np.ndarray] = field(default_factory=list)
    activity: list[np.ndarray] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    timesteps_per_tick: int = 1

    def add(self, result: RunResult) -> None:
        data = result.recorder.arrays()
        self.stage_names = result.recorder.stage_names
        called = np.isin(data["command_source"], (COMMAND_FROM_CONTROLLER, COMMAND_REPLACED))
        self.controller_s.append(data["stage_s"][called, self.stage_names.index(CONTROL_STAGE)])
        self.tick_s.append(data["tick_s"])
        self.stage_s.append(data["stage_s"])
        self.lateness_s.append(data["lateness_s"])
        self.activity.append(data["activity"][called])
        self.metrics.append(result.metrics)
        self.timesteps_per_tick = getattr(result.controller, "timesteps_per_tick", 1)

    def controller_us(self) -> np.ndarray:
        return np.concatenate(self.controller_s) * 1e6

    def tick_us(self) -> np.ndarray:
        return np.concatenate(self.tick_s) * 1e6

    def stage_us(self, name: str) -> np.ndarray:
        return np.concatenate([s[:, self.stage_names.index(name)] for s in self.stage_s]) * 1e6

    def lateness_us(self) -> np.ndarray:
        return np.concatenate(self.lateness_s) * 1e6

    def activity_per_tick(self) -> dict[str, float]:
        """Mean count per controller tick of every activity field, over all runs' ticks."""
        rows = np.concatenate(self.activity)
        means = rows.mean(axis=0) if rows.size else np.zeros(len(COUNTER_FIELDS))
        return {name: float(value) for name, value in zip(COUNTER_FIELDS, means)}
