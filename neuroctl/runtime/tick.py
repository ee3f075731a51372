"""The loop's per-tick work in compiled calls on arrays allocated before the first tick.

`TickArrays` holds every array the loop touches in a tick (the reading and its contained copy, the sensor
monitor's limits, state and counts, the watchdog's bounds and safe commands, every per-tick record) in
one numba structref, so that a call passes one object instead of some thirty arrays. Per tick:

- `sense_tick(loop, k)`: the sensor monitor on the reading of tick k (taken at k control periods) into
  `sensed`; the reading and `sensed` into the records of tick k;
- `control_tick(loop, controller, k)`: `sense_tick`, then the controller's jitted `step` on `sensed` and
  `reference` (its `CompiledArraysType` arrays), its activity, plan and raster into the records, and the
  watchdog (`guard_command`) from its proposed command into `command`, the command to apply; returns
  the command's source. One call for monitor, encode, network, decode and watchdog;
- `finish_tick(loop, k, ...)`: after the environment's step, the rest of tick k's records (time, applied
  command, source, reward, lateness, stage and tick times, thread CPU time) and the count.

numba's cache keys `control_tick` by its argument types only: after editing a controller's `step`
(its `overload_method`) or a kernel it calls, touch this file (or clear the cache), or the compiled
tick keeps the old code.

`state_arrays(struct)` gives the arrays a structref holds (shared with it), for the loop's rehearsal of a
tick before its release time (`neuroctl.runtime.loop.Rehearsal`).

A call through a numba dispatcher types every argument in Python first, about 1 us per structref;
`entry_point` (`neuroctl.network.jit`) compiles (or loads from the cache) the signature once and returns
the compiled function itself, which unboxes its arguments directly (about 0.3-0.5 us for two structrefs
and an integer).
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload
from numba.experimental import structref

from neuroctl.network.jit import cached_njit, entry_point
from neuroctl.runtime.monitor import SensorMonitor, check_readings
from neuroctl.runtime.recorder import COMMAND_FROM_CONTROLLER, COMMAND_REPLACED, Recorder
from neuroctl.runtime.watchdog import CommandWatchdog, guard_command


@structref.register
class TickArraysType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(kind)) for name, kind in fields)


class TickArrays(structref.StructRefProxy):
    """The arrays of one episode's loop (module docstring); built by `tick_arrays`."""


FIELDS = (
    "period_s", "reading", "sensed", "reference",
    "limits", "monitor_state", "monitor_counts",
    "lowest", "highest", "hold_last", "last_good", "zero_command", "replacements", "command",
    "time_s", "observation", "controller_observation", "action", "reward", "activity", "recorded_reference",
    "stage_s", "tick_s", "lateness_s", "tick_cpu_s", "command_source", "predicted_states", "planned_commands",
    "raster", "raster_stride", "ticks_recorded", "env_stage_times",
)  # fmt: skip
structref.define_proxy(TickArrays, TickArraysType, list(FIELDS))


@cached_njit
def _new_tick_arrays(*fields):
    return TickArrays(*fields)


def tick_arrays(period_s: float, reading: np.ndarray, sensed: np.ndarray, reference: np.ndarray,
                monitor: SensorMonitor, watchdog: CommandWatchdog, recorder: Recorder,
                env_stage_times: np.ndarray | None) -> TickArrays:
    """The loop's arrays in one structref: the arrays themselves, shared with the monitor, the watchdog and
    the recorder (absent records as arrays with no rows); `env_stage_times` the environment's per-stage
    times of its last step (`TimedRobot.stage_times_s`, updated in place), None: one stage, timed here."""
    def record(values, shape, dtype=np.float64):
        return values if values is not None else np.zeros(shape, dtype=dtype)

    return _new_tick_arrays(
        float(period_s), reading, sensed, reference,
        monitor.limits, monitor.state, monitor.counts,
        watchdog.lowest, watchdog.highest, watchdog.hold_last, watchdog.last_good, watchdog.zero_command,
        watchdog.replacements, watchdog.command,
        recorder.time_s, recorder.observation, recorder.controller_observation, recorder.action, recorder.reward,
        recorder.activity, record(recorder.reference, (0, reference.size)), recorder.stage_s, recorder.tick_s,
        recorder.lateness_s, recorder.tick_cpu_s, recorder.command_source,
        record(recorder.predicted_states, (0, 0, 0)), record(recorder.planned_commands, (0, 0)),
        record(recorder.raster, (0, 0, 0), np.uint8), recorder.raster_stride, recorder.ticks_recorded,
        np.zeros(0) if env_stage_times is None else env_stage_times,
    )  # fmt: skip


@cached_njit(inline=True)
def _sense(loop, k):
    check_readings(loop.reading, k * loop.period_s, loop.limits, loop.monitor_state, loop.monitor_counts,
                   loop.sensed)
    loop.observation[k] = loop.reading
    loop.controller_observation[k] = loop.sensed


@cached_njit
def sense_tick(loop, k):
    """The monitor on tick k's reading into `sensed`; both into the records (module docstring)."""
    _sense(loop, k)


@cached_njit
def control_tick(loop, controller, k):
    """Monitor, controller step, records and watchdog of tick k (module docstring); returns the source
    of `command` (COMMAND_FROM_CONTROLLER or COMMAND_REPLACED)."""
    _sense(loop, k)
    controller.step(loop.sensed, loop.reference)
    if loop.recorded_reference.shape[0] > 0:
        loop.recorded_reference[k] = loop.reference
    loop.activity[k] = controller.activity
    if loop.predicted_states.shape[0] > 0:
        loop.predicted_states[k] = controller.predicted_states[: loop.predicted_states.shape[1]]
    if loop.planned_commands.shape[0] > 0:
        loop.planned_commands[k] = controller.plan
    if loop.raster.shape[0] > 0:
        stride = loop.raster_stride
        for row in range(loop.raster.shape[1]):
            for column in range(loop.raster.shape[2]):
                loop.raster[k, row, column] = controller.raster[row, column * stride]
    replaced = guard_command(controller.action, loop.lowest, loop.highest, loop.hold_last, loop.last_good,
                             loop.zero_command, loop.replacements, loop.command)
    return COMMAND_REPLACED if replaced else COMMAND_FROM_CONTROLLER


@cached_njit
def finish_tick(loop, k, source, reward, lateness_s, tick_s, control_s, env_s, cpu_s):
    """Tick k's records after the environment's step (module docstring): times in s, `cpu_s` NaN when
    not measured; the environment's stages from `env_stage_times` when it times them, else `env_s`."""
    loop.time_s[k] = k * loop.period_s
    loop.action[k] = loop.command
    loop.command_source[k] = source
    loop.reward[k] = reward
    loop.lateness_s[k] = lateness_s
    loop.tick_s[k] = tick_s
    loop.tick_cpu_s[k] = cpu_s
    loop.stage_s[k, 0] = control_s
    if loop.env_stage_times.shape[0] > 0:
        loop.stage_s[k, 1:] = loop.env_stage_times
    else:
        loop.stage_s[k, 1] = env_s
    loop.ticks_recorded[0] = k + 1


def _arrays_of(struct):
    """(typing stub) The arrays of a structref: see `state_arrays`."""


@overload(_arrays_of)
def _arrays_of_overload(struct):
    """A getter generated from the structref type's fields (numba has no generic field access)."""
    paths = []
    for name, field in struct.field_dict.items():
        if isinstance(field, types.Array):
            paths.append(f"struct.{name}")
        elif isinstance(field, types.BaseTuple):
            paths += [f"struct.{name}[{i}]" for i, item in enumerate(field.types) if isinstance(item, types.Array)]
    namespace: dict = {}
    exec(f"def get(struct):\n    return ({''.join(path + ', ' for path in paths)})\n", namespace)
    return namespace["get"]


@cached_njit
def state_arrays(struct):
    """The arrays of a structref: its array fields and the arrays in its tuple fields, in field order,
    shared with it (not copies). Cached on disk per structref type (compiling one takes 0.5-2.5 s)."""
    return _arrays_of(struct)
