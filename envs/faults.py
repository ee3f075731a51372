"""Sensor faults injected into an environment's observations: a test bench for failing safe.

A fault corrupts one sensor's reading in the observation, never the simulated plant: the true state,
the physics and the termination are untouched. The kinds, and what the reading is while one is active:

    nan       NaN
    inf       +inf
    stuck     stuck at `magnitude` (a constant, in the sensor's unit)
    dropout   the reading stops updating: it keeps the last reading before the fault
    noise     plus Gaussian noise of standard deviation `magnitude` (> 0), drawn from the env's RNG
    spike     plus `magnitude`, on one reading only (a single outlier: no `duration_s`)
    bias      plus `magnitude`

A fault is given as a dict `{kind, sensor, start_s, duration_s, magnitude}`: `sensor` is a sensor name
or an index into the observation; `magnitude` only for stuck, noise, spike and bias (|magnitude| <=
1e30); `duration_s` for every kind but spike. start_s is in [0, 1e6] s, duration_s in (0, 1e6] s.
Times count from the last reset: the reset's reading is taken at t = 0, the one after step k at
t = k * control_period_s. A fault acts on the readings taken at start_s <= t <
start_s + duration_s, and on at least one (the first at or after start_s).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuroctl.envs.checks import MAX_TIME_S, in_range, invalid, ticks

FAULT_KINDS = ("nan", "inf", "stuck", "dropout", "noise", "spike", "bias")
WITH_MAGNITUDE = frozenset({"stuck", "noise", "spike", "bias"})
MAX_FAULTS = 100
MAX_MAGNITUDE = 1e30  # |magnitude|: far inside float32 (3.4e38), so reading + magnitude stays finite
FAULT_SCHEMA = "a dict {kind, sensor, start_s, duration_s, magnitude}"


@dataclass(frozen=True)
class SensorFault:
    """One fault as the readings it acts on: tick `first_tick <= k < end_tick` (k = 0: the reset's)."""

    kind: str
    sensor: int
    first_tick: int
    end_tick: int
    magnitude: float = 0.0


def parse_faults(value: Any, sensor_names: Sequence[str], control_period_s: float) -> tuple[SensorFault, ...]:
    """Validate the `faults` keyword argument; a ValueError names the key path, e.g. `faults[1].kind`."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise invalid("faults", f"must be a list, each item {FAULT_SCHEMA}", value)
    if len(value) > MAX_FAULTS:
        raise invalid("faults", f"must be a list of at most {MAX_FAULTS} faults", f"{len(value)} faults")
    return tuple(_parse_fault(f"faults[{i}]", fault, sensor_names, control_period_s)
                 for i, fault in enumerate(value))


def fault_keys(kind: str) -> tuple[str, ...]:
    """The keys a fault of `kind` takes, all required."""
    keys = ("kind", "sensor", "start_s") + (() if kind == "spike" else ("duration_s",))
    return keys + (("magnitude",) if kind in WITH_MAGNITUDE else ())


def _parse_fault(path: str, fault: Any, sensor_names: Sequence[str], control_period_s: float) -> SensorFault:
    if not isinstance(fault, Mapping):
        raise invalid(path, f"must be {FAULT_SCHEMA}", fault)
    kind = fault.get("kind")
    if not isinstance(kind, str) or kind not in FAULT_KINDS:
        raise invalid(f"{path}.kind", f"must be one of {', '.join(FAULT_KINDS)}", kind)
    keys = fault_keys(kind)
    for key in fault:
        if key not in keys:
            raise invalid(f"{path}.{key}", f"not a key of a {kind!r} fault (keys: {', '.join(keys)})", fault[key])
    for key in keys:
        if key not in fault:
            raise ValueError(f"{path}.{key}: missing; a {kind!r} fault takes the keys {', '.join(keys)}")
    sensor = _sensor_index(f"{path}.sensor", fault["sensor"], sensor_names)
    start_s = in_range(f"{path}.start_s", fault["start_s"], "a time", 0.0, MAX_TIME_S, "s")
    first_tick = ticks(start_s, control_period_s)
    end_tick = first_tick + 1
    if "duration_s" in keys:
        duration_s = in_range(f"{path}.duration_s", fault["duration_s"], "a duration", 0.0, MAX_TIME_S, "s",
                              open_low=True)
        end_tick = max(end_tick, ticks(start_s + duration_s, control_period_s))
    magnitude = _magnitude(f"{path}.magnitude", kind, fault["magnitude"]) if "magnitude" in keys else 0.0
    return SensorFault(kind, sensor, first_tick, end_tick, magnitude)


def _sensor_index(path: str, value: Any, sensor_names: Sequence[str]) -> int:
    """A sensor given by name or by index, as an index into the observation."""
    expected = f"must be a sensor name ({', '.join(sensor_names)}) or an index in [0, {len(sensor_names) - 1}]"
    if isinstance(value, str) and value in sensor_names:
        return list(sensor_names).index(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < len(sensor_names):
        return int(value)
    raise invalid(path, expected, value)


def _magnitude(path: str, kind: str, value: Any) -> float:
    """Bounded so that a corrupted float32 reading stays finite (the nan and inf kinds are for that)."""
    if kind == "noise":
        return in_range(path, value, "a standard deviation", 0.0, MAX_MAGNITUDE, open_low=True)
    return in_range(path, value, "a finite number (the sensor's unit)", -MAX_MAGNITUDE, MAX_MAGNITUDE)


class FaultInjector:
    """Applies faults to an environment's successive readings and counts the ticks they affect.

    `fault_ticks[kind]` is the number of readings since the last reset that a fault of that kind
    changed (a reading hit by two faults of one kind counts once).
    """

    def __init__(self, faults: tuple[SensorFault, ...], n_sensors: int) -> None:
        self.faults = faults
        self.fault_ticks = dict.fromkeys(FAULT_KINDS, 0)
        self._counted_at = dict.fromkeys(FAULT_KINDS, -1)
        self._previous = np.zeros(n_sensors)  # the last reading handed out, for dropouts
        self._tick = 0

    def reset(self) -> None:
        """Back to tick 0 (the reset's reading comes next) with all counts at zero."""
        self._tick = 0
        for kind in FAULT_KINDS:
            self.fault_ticks[kind] = 0
            self._counted_at[kind] = -1

    def apply(self, reading: np.ndarray, rng: np.random.Generator) -> None:
        """Corrupt this tick's `reading` in place (noise from `rng`); the next call is the next tick."""
        tick = self._tick
        for fault in self.faults:
            if fault.first_tick <= tick < fault.end_tick:
                reading[fault.sensor] = self._corrupted(fault, float(reading[fault.sensor]), tick, rng)
                if self._counted_at[fault.kind] != tick:
                    self._counted_at[fault.kind] = tick
                    self.fault_ticks[fault.kind] += 1
        self._previous[:] = reading
        self._tick = tick + 1

    def _corrupted(self, fault: SensorFault, value: float, tick: int, rng: np.random.Generator) -> float:
        kind = fault.kind
        if kind == "nan":
            return math.nan
        if kind == "inf":
            return math.inf
        if kind == "stuck":
            return fault.magnitude
        if kind == "dropout":
            return float(self._previous[fault.sensor]) if tick > 0 else value
        if kind == "noise":
            return value + float(rng.normal(0.0, fault.magnitude))
        return value + fault.magnitude  # spike, bias
