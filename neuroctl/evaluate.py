"""`neuroctl eval`: one launch file over N seeded episodes for each listed controller.

Per controller: success rate, mean closed-loop cost, the cost ratio to the first controller (over the
seeds where both succeeded, so that a failed, shorter episode never looks cheap), the QP error of
predictive controllers against the exact solution of the same QP at the same observation (max-abs
difference over the plan divided by the actuator limit), activity per tick, and the environment's task
metrics (`task_metrics: {<name>: {median, p90, mean, n}}` over the episodes).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from neuroctl.launchfile import load_launch
from neuroctl.progress import ProgressBar, is_terminal
from neuroctl.run import run_launch
from neuroctl.runtime.recorder import COMMAND_FROM_CONTROLLER, COMMAND_REPLACED
from neuroctl.runtime.signals import Interrupted, Interruptible

QP_SOLVER_TOLERANCE = 1e-10


@dataclass
class EpisodeSummary:
    seed: int
    success: bool
    cost: float
    synaptic_events_per_tick: float
    dense_macs_per_tick: float
    qp_errors: np.ndarray | None
    task_metrics: dict[str, Any]


def qp_errors_of(controller: Any, observations: np.ndarray, plans: np.ndarray,
                 references: np.ndarray | None = None) -> np.ndarray:
    """Per tick: max |U - U*| / limit, U* the exact QP solution at the observation the controller saw
    and the reference it was given (the QP's x0 = `controller.qp_initial_state(observation, reference)`,
    x - x_ref; the observation itself for a controller without one)."""
    from neuroctl.control.mpc import ExactQPSolver, qp_error

    solver = ExactQPSolver(controller.qp_problem, tolerance=QP_SOLVER_TOLERANCE)
    exact = np.zeros(plans.shape[1])
    errors = np.empty(len(plans))
    initial_state = getattr(controller, "qp_initial_state", None)
    for k, (observation, plan) in enumerate(zip(observations, plans)):
        reference = None if references is None else references[k]
        x0 = observation if initial_state is None else initial_state(observation, reference)
        errors[k] = qp_error(controller.qp_problem, plan, solver.solve_into(x0, exact))
    return errors


def run_episode_summary(launch_path: Path, controller_path: Path | None, seed: int) -> EpisodeSummary:
    """One episode in fast mode (evaluation is about the task, not the wall clock)."""
    launch = load_launch(launch_path, controller_path, seed=seed, mode="fast")
    result = run_launch(launch)
    data = result.recorder.arrays()
    errors = None
    if "planned_commands" in data and hasattr(result.controller, "qp_problem") \
            and not getattr(result.controller, "solves_exactly", launch.controller_kind == "mpc_exact"):
        planned = np.isin(data["command_source"], (COMMAND_FROM_CONTROLLER, COMMAND_REPLACED))
        references = data["reference"][planned] if "reference" in data else None
        errors = qp_errors_of(result.controller, data["controller_observation"][planned],
                              data["planned_commands"][planned], references)
    activity = result.metrics["activity"]
    task = result.metrics["task"]
    return EpisodeSummary(seed, task["success"], task["cost"], activity["synaptic_events_per_tick"],
                          activity["dense_macs_per_tick"], errors, task["metrics"])


def task_metric_statistics(episodes: list[EpisodeSummary]) -> dict[str, dict[str, float | int | None]]:
    """Per task metric, its median, p90 and mean over the episodes (`n` values): a number per episode,
    or a list per episode (one value per target, say) pooled over the episodes. A None is a figure
    that does not exist (a target never reached): it counts as +inf, so that the statistics it moves
    become null in eval.json; `none` says how many there were."""
    names = dict.fromkeys(name for e in episodes for name in e.task_metrics)
    statistics = {}
    for name in names:
        values = []
        for episode in episodes:
            value = episode.task_metrics.get(name)
            values.extend(value if isinstance(value, list) else [value])
        if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            continue  # not figures
        pooled = np.array([math.inf if v is None else v for v in values], dtype=np.float64)
        if pooled.size == 0:
            continue
        with np.errstate(invalid="ignore"):
            statistics[name] = {"median": float(np.median(pooled)), "p90": float(np.percentile(pooled, 90)),
                                "mean": float(pooled.mean()), "n": int(pooled.size),
                                "none": sum(v is None for v in values)}
    return statistics


def summarize(config: str, episodes: list[EpisodeSummary],
              reference: list[EpisodeSummary] | None) -> dict[str, Any]:
    costs = np.array([e.cost for e in episodes])
    summary: dict[str, Any] = {
        "config": config,
        "success_rate": float(np.mean([e.success for e in episodes])),
        "mean_cost": float(costs.mean()),
        "cost_ratio": None,
        "qp_error": None,
        "synaptic_events_per_tick": float(np.mean([e.synaptic_events_per_tick for e in episodes])),
        "dense_macs_per_tick": float(np.mean([e.dense_macs_per_tick for e in episodes])),
        "task_metrics": task_metric_statistics(episodes),
        "episodes": [{"seed": e.seed, "success": e.success, "cost": e.cost, "task_metrics": e.task_metrics}
                     for e in episodes],
    }
    if reference is not None:
        both = [i for i, (a, b) in enumerate(zip(episodes, reference)) if a.success and b.success]
        if both:
            summary["cost_ratio"] = float(costs[both].mean() / np.mean([reference[i].cost for i in both]))
            summary["cost_ratio_seeds"] = len(both)
    errors = np.concatenate([e.qp_errors for e in episodes if e.qp_errors is not None] or [np.zeros(0)])
    if errors.size:
        summary["qp_error"] = {"mean": float(errors.mean()), "p99": float(np.percentile(errors, 99)),
                               "max": float(errors.max())}
    return summary


def evaluate(launch_path: Path, seeds: list[int], controllers: list[Path | None],
             progress: TextIO | None = None) -> dict[str, Any]:
    """Run every (controller, seed) episode; the first controller is the reference of cost ratios.

    SIGINT or SIGTERM at any point (during an episode, while its results are summarised, between
    episodes) stops the evaluation: the report keeps every episode finished before the signal, with
    `interrupted` true and `signal_number` the signal (None when it ran to the end).
    """
    names = [str(load_launch(launch_path, controller).controller_path) for controller in controllers]
    episodes: list[list[EpisodeSummary]] = [[] for _ in controllers]
    total = len(seeds) * len(controllers)
    signal_number = None
    bar = ProgressBar("eval", total, "episodes", progress) if progress is not None else None
    try:
        with Interruptible():
            for c, controller in enumerate(controllers):
                for s, seed in enumerate(seeds):
                    episode = run_episode_summary(launch_path, controller, seed)
                    episodes[c].append(episode)
                    if bar is not None:
                        bar.status(Path(str(controller or "launch controller")).name)
                        bar.update_to(c * len(seeds) + s + 1)
    except Interrupted as exc:
        signal_number = exc.signal_number
    finally:
        if bar is not None:
            bar.close()
    results = []
    reference = None
    for name, finished in zip(names, episodes):
        if finished:
            results.append(summarize(name, finished, reference))
            reference = reference or finished
    return {"launch": str(launch_path), "seeds": seeds, "interrupted": signal_number is not None,
            "signal_number": signal_number, "controllers": results}


def format_table(report: dict[str, Any]) -> str:
    header = ("controller", "success", "mean cost", "cost ratio", "QP err mean", "QP err p99",
              "syn. events/tick", "dense MACs/tick")
    rows = [header]
    for c in report["controllers"]:
        qp = c["qp_error"]
        rows.append((Path(c["config"]).name, f"{100 * c['success_rate']:.0f}%", f"{c['mean_cost']:.4g}",
                     "-" if c["cost_ratio"] is None else f"{c['cost_ratio']:.4f}",
                     "-" if qp is None else f"{qp['mean']:.2e}", "-" if qp is None else f"{qp['p99']:.2e}",
                     f"{c['synaptic_events_per_tick']:.1f}", f"{c['dense_macs_per_tick']:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    for c in report["controllers"]:
        figures = [f"{name} {_figure(stats['median'])} (p90 {_figure(stats['p90'])})"
                   for name, stats in c["task_metrics"].items()]
        if figures:
            lines.append(f"{Path(c['config']).name} task metrics, median: " + ", ".join(figures))
    seeds = report["seeds"]
    return f"{report['launch']}, seeds {seeds[0]}..{seeds[-1]}\n" + "\n".join(lines)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def progress_stream() -> TextIO | None:
    """stderr if it is a terminal (evaluate() draws its progress bar there), else None."""
    return sys.stderr if is_terminal(sys.stderr) else None
