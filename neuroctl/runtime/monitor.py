"""The sensor monitor: nothing implausible or non-finite in a reading ever reaches a controller.

Every reading of every tick is checked sensor by sensor, in this order:

1. `nonfinite`: NaN or +-inf;
2. `out_of_range`: outside [low, high];
3. `rate`: it moved away from the sensor's accepted value by more than `max_rate_per_s` times the time
   since that value was first read, plus `tolerance` (sensor noise). The allowance grows while readings
   are rejected or unchanged, so the first reading after a gap may have moved by as much as the gap
   allows, and a genuine jump is accepted once it is no longer faster than plausible.

A reading that fails one of these is counted under the first check it failed and replaced by the
sensor's last accepted value (before any, the middle of [low, high] when both are finite, else 0 clipped
into them): the controller gets the last plausible reading. Independently,

4. `stale`: a raw reading bit-identical to the one before for longer than `stale_after_s` is counted
   (and handed on: a stuck sensor's value is its last plausible reading).

Limits come per sensor from the environment's declared `sensors` (`neuroctl.envs.robot.Sensor`: low,
high, max_rate_per_s, stale_after_s, tolerance) where it declares them, else from its observation
space's bounds (no rate and no stale check; `neuroctl.runtime.robots.describe`); launch files override
them (`sensors:`). The checks run in one compiled call per tick on preallocated arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuroctl.envs.robot import Sensor
from neuroctl.network.jit import cached_njit

CHECKS = ("nonfinite", "out_of_range", "rate", "stale")
NONFINITE, OUT_OF_RANGE, RATE, STALE = range(len(CHECKS))
LOW, HIGH, MAX_RATE, STALE_AFTER, TOLERANCE = range(5)  # rows of the limits array
HELD, ACCEPTED_AT, PREVIOUS, CHANGED_AT = range(4)  # rows of the state array


@cached_njit
def check_readings(reading, time_s, limits, state, counts, out):
    """Check one tick's `reading` taken at `time_s` (s); write the contained reading into `out`.

    limits (5, n): rows LOW, HIGH, MAX_RATE, STALE_AFTER, TOLERANCE; state (4, n): rows HELD (the last
    accepted value), ACCEPTED_AT (when it was first read), PREVIOUS (the last raw reading), CHANGED_AT
    (when the raw reading last changed); counts (4, n) int64, rows as in CHECKS.
    """
    for i in range(reading.shape[0]):
        value = reading[i]
        previous = state[PREVIOUS, i]
        if value == previous or (np.isnan(value) and np.isnan(previous)):  # a sensor stuck at NaN is stale too
            if time_s - state[CHANGED_AT, i] > limits[STALE_AFTER, i]:
                counts[STALE, i] += 1
        else:
            state[CHANGED_AT, i] = time_s
        state[PREVIOUS, i] = value
        held = state[HELD, i]
        if not np.isfinite(value):
            counts[NONFINITE, i] += 1
        elif value < limits[LOW, i] or value > limits[HIGH, i]:
            counts[OUT_OF_RANGE, i] += 1
        elif abs(value - held) > limits[MAX_RATE, i] * (time_s - state[ACCEPTED_AT, i]) + limits[TOLERANCE, i]:
            counts[RATE, i] += 1
        elif value != held:
            state[HELD, i] = value
            state[ACCEPTED_AT, i] = time_s
        out[i] = state[HELD, i]


class SensorMonitor:
    """Checks every reading against its sensor's plausible readings, counts and contains what fails."""

    def __init__(self, sensors: Sequence[Sensor]) -> None:
        self.names = tuple(sensor.name for sensor in sensors)
        self.limits = np.array([[s.low, s.high, s.max_rate_per_s, s.stale_after_s, s.tolerance] for s in sensors],
                               dtype=np.float64).T.copy().reshape(5, len(sensors))
        self.counts = np.zeros((len(CHECKS), len(sensors)), dtype=np.int64)
        self.state = np.zeros((4, len(sensors)))
        self._initial = self._initial_values()
        self.reset()

    def _initial_values(self) -> np.ndarray:
        """Before any accepted reading: the middle of [low, high] if both are finite, else 0 clipped."""
        low, high = self.limits[LOW], self.limits[HIGH]
        bounded = np.isfinite(low) & np.isfinite(high)
        middle = np.zeros_like(low)
        middle[bounded] = (low[bounded] + high[bounded]) / 2.0
        return np.clip(middle, low, high)

    def reset(self) -> None:
        """Forget past readings and zero the counts (a new episode)."""
        self.counts[:] = 0
        self.state[HELD] = self._initial
        self.state[ACCEPTED_AT] = -np.inf
        self.state[PREVIOUS] = np.nan
        self.state[CHANGED_AT] = 0.0

    def check(self, reading: np.ndarray, time_s: float, out: np.ndarray) -> None:
        """Check `reading` (float64) taken at `time_s` (s, increasing); write what a controller may see."""
        check_readings(reading, time_s, self.limits, self.state, self.counts, out)

    def warmup(self) -> None:
        """Compile the check (or load it from the cache) before the first tick, then reset."""
        reading = self._initial.copy()
        self.check(reading, 0.0, reading)
        self.reset()

    def summary(self) -> dict:
        """Counts per check (totals) and `by_sensor` (per sensor name, per check)."""
        totals = {check: int(self.counts[i].sum()) for i, check in enumerate(CHECKS)}
        by_sensor = {name: {check: int(self.counts[i, j]) for i, check in enumerate(CHECKS)}
                     for j, name in enumerate(self.names)}
        return {**totals, "by_sensor": by_sensor}
