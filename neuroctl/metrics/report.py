"""metrics.json (schema 1): the summary of one run, built from the per-tick records.

The schema is documented in the README; `SCHEMA_VERSION` changes whenever a key changes meaning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuroctl.activity import COUNTER_FIELDS
from neuroctl.metrics.latency import summarize_us
from neuroctl.runtime.loop import EpisodeOutcome, LoopSettings
from neuroctl.runtime.robots import CONTROL_STAGE
from neuroctl.runtime.recorder import COMMAND_FROM_CONTROLLER, COMMAND_REPLACED, Recorder

SCHEMA_VERSION = 1


def stolen_note(steal_s: float | None) -> str:
    """"the host took N ms of the vCPUs' time" for a run's `deadline.host_steal_s`, or "" when it is not
    reported: the launch summary's and the latency plot's note."""
    return "" if steal_s is None else f"the host took {1e3 * steal_s:.0f} ms of the vCPUs' time"


def quadratic_cost(error: np.ndarray, action: np.ndarray, cost_q: np.ndarray, cost_r: np.ndarray) -> float:
    """Sum over ticks of e'Qe + a'Ra with diagonal Q and R (e the tracking error, a the action); inf when
    it overflows (huge weights; metrics.json then says null)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sum(error**2 @ cost_q) + np.sum(action**2 @ cost_r))


def build_metrics(*, env_id: str, controller: str, settings: LoopSettings, outcome: EpisodeOutcome,
                  recorder: Recorder, tracking_error: np.ndarray, cost_q: np.ndarray, cost_r: np.ndarray,
                  task_metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """metrics.json (schema 1) of one episode, but for `energy`, which needs these figures first
    (`neuroctl.metrics.energy.energy_section`). `tracking_error` has one row per tick (the task's error
    of the observation the controller saw); `task_metrics` are the environment's own figures."""
    data = recorder.arrays()
    ticks = outcome.ticks
    period = settings.control_period_s
    controller_ticks = data["command_source"] == COMMAND_FROM_CONTROLLER
    controller_ticks |= data["command_source"] == COMMAND_REPLACED
    stage_s = data["stage_s"]
    control_index = recorder.stage_names.index(CONTROL_STAGE)
    realtime = settings.mode == "realtime"
    lateness = data["lateness_s"] if realtime else np.zeros(0)
    activity = data["activity"][controller_ticks]
    mean_activity = activity.mean(axis=0) if activity.size else np.zeros(len(COUNTER_FIELDS))
    success = outcome.terminated_at_tick is None and ticks == settings.n_ticks and not outcome.aborted
    return {
        "schema": SCHEMA_VERSION,
        "env": env_id,
        "controller": controller,
        "seed": settings.seed,
        "mode": settings.mode,
        "control_period_s": period,
        "duration_s": round(ticks * period, 9),
        "ticks": ticks,
        "interrupted": outcome.interrupted,
        "aborted": outcome.aborted,
        "task": {
            "success": bool(success),
            "terminated_at_tick": outcome.terminated_at_tick,
            "return": float(data["reward"].sum()),
            # the error of what the controller saw (after the sensor monitor): finite even under sensor faults
            "cost": quadratic_cost(tracking_error, data["action"], cost_q, cost_r),
            "metrics": dict(task_metrics or {}),
        },
        "latency_us": {
            "tick": summarize_us(data["tick_s"]),
            "controller": summarize_us(stage_s[controller_ticks, control_index]),
            "stages": {name: summarize_us(stage_s[:, i]) for i, name in enumerate(recorder.stage_names)},
        },
        "deadline": {
            "misses": outcome.deadline_misses,
            "miss_rate": outcome.deadline_misses / ticks if realtime and ticks else 0.0,
            "misses_by_cause": dict(outcome.misses_by_cause),
            "lateness_us": {k: v for k, v in summarize_us(lateness).items() if k != "mean"},
            "cpu_time_s": round(outcome.cpu_time_s, 6),
            "wall_time_s": round(outcome.wall_time_s, 6),
            "host_steal_s": None if outcome.host_steal_s is None else round(outcome.host_steal_s, 3),
        },
        "activity": {f"{name}_per_tick": round(float(v), 3) for name, v in zip(COUNTER_FIELDS, mean_activity)},
        "neurobench": neurobench_section(dict(zip(COUNTER_FIELDS, mean_activity))),
        "faults": faults_section(outcome),
        "realtime": outcome.realtime or None,
    }


NEUROBENCH_SOURCE = ("NeuroBench (Yik et al., Nature Communications 2025): SynapticOperations, "
                     "ActivationSparsity, MembraneUpdates")


def neurobench_section(activity_per_tick: dict[str, float]) -> dict[str, Any]:
    """The per-tick activity under NeuroBench's definitions, so that the figures compare with published
    ones (mean per controller tick):

    - `SynapticOperations`: `Effective_ACs`, the accumulates that binary spikes trigger (synaptic events
      that carry no value); `Effective_MACs`, the multiply-accumulates executed: for a network, its
      graded synaptic events (sigma-delta events, factored connections' encoder products); for a
      non-spiking controller, its MACs (it skips none, so every one is effective); `Dense`, what a
      dense evaluation of the same computation needs (`dense_macs`);
    - `ActivationSparsity`: 1 - spikes / neuron updates, the share of neuron outputs per step that are
      zero (null without neurons);
    - `MembraneUpdates`: neuron state updates.

    A computed-torque controller's non-spiking work beside its network (`cpu_macs`) is not in them: it
    is not the model's (metrics.json `activity.cpu_macs_per_tick` has it).
    """
    events = activity_per_tick["synaptic_events"]
    graded = activity_per_tick["graded_synaptic_events"]
    updates = activity_per_tick["neuron_updates"]
    dense = activity_per_tick["dense_macs"]
    spiking = updates > 0.0
    return {
        "SynapticOperations": {"Effective_MACs": round(float(graded if spiking else dense), 3),
                               "Effective_ACs": round(float(events - graded if spiking else 0.0), 3),
                               "Dense": round(float(dense), 3)},
        "ActivationSparsity": round(1.0 - activity_per_tick["spikes"] / updates, 6) if spiking else None,
        "MembraneUpdates": round(float(updates), 3),
        "per": "controller tick (mean)",
        "source": NEUROBENCH_SOURCE,
    }


def faults_section(outcome: EpisodeOutcome) -> dict[str, Any]:
    """What went wrong in the robot's data and what contained it.

    `injected_ticks`: per fault kind, the readings the environment corrupted (empty if it injects
    none); `monitor`: the sensor monitor's counts per check (and `by_sensor`); `watchdog_replacements`:
    commands replaced because they were non-finite or out of range.
    """
    return {"watchdog_replacements": outcome.watchdog_replacements,
            "injected_ticks": dict(outcome.injected_fault_ticks),
            "monitor": outcome.monitor}


def faults_summary(faults: dict[str, Any]) -> str:
    """One line for a terminal: injected faults, readings the monitor held or found stale, replaced commands."""
    injected = ", ".join(f"{kind} {n}" for kind, n in faults.get("injected_ticks", {}).items() if n) or "none"
    monitor = faults.get("monitor", {})
    checks = ", ".join(f"{check} {n}" for check, n in monitor.items() if check != "by_sensor" and n) or "none"
    return (f"injected ticks: {injected}; monitor: {checks}; "
            f"watchdog replaced {faults['watchdog_replacements']} commands")
