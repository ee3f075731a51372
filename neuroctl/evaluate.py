"""`neuroctl eval`: one launch file over N seeded episodes for each listed controller.

eval.json: `launch`, `seeds`, `interrupted`, `signal_number`, `units` (the unit of each figure below),
and `controllers`, one summary per controller (the first is the reference of cost ratios):

- `success_rate` (fraction), `successes`, `episodes_n`, `success_ci95`: [low, high], the Wilson score
  95% interval of the success rate;
- `mean_cost`: the mean task cost over the episodes that succeeded (`cost_n` of them; null if none), so
  that a failed episode, shorter and so cheaper, never lowers it; `mean_cost_all_episodes`: the mean over
  every episode, failed ones with their short cost (what `mean_cost` was before issue 11). A task cost is
  the episode's sum over ticks of e'Qe + a'Ra (tracking error e, normalised action a; dimensionless);
- `cost_ratio`: mean cost over the seeds where both this controller and the first succeeded over the
  first's on those seeds; `cost_ratio_seeds`: how many seeds that is (0 and a null ratio when none);
- `qp_error` {mean, p99, max}: per tick, max |U - U*| over the plan / the actuator limit (a fraction of
  the command limit), U* the exact solution of the same QP at the observation the controller saw; null
  for a controller that is not predictive or solves exactly;
- `synaptic_events_per_tick`, `dense_macs_per_tick`: mean activity per tick (events, MACs);
- `task_metrics: {<name>: {median, p90, mean, n, none}}` over the episodes (the environment's figures;
  a yes/no figure such as `fell`: `{true, n}`, the episodes where it held);
- `failures`: one entry per episode that did not succeed (see `ended` below);
- `episodes`: per episode `seed`, `success`, `cost`, `task_metrics` and `ended`: how it ended,
  {`by`: "completed" | "terminated" (the environment ended it: a termination limit) | "aborted" (the
  loop gave up: a deadline or watchdog policy) | "stopped" (shorter than the launch file's duration),
  `tick` (the last tick run), `time_s` (simulated time at its end), `past_plausible` (the sensors whose
  last logged reading lay outside the range the environment declares plausible: sensor, reading, unit,
  low, high), `nearest_limit` (the sensor whose last logged reading came nearest its plausible range,
  as a fraction of the bound it approached; a hint of the limit that ended the episode, as the reading
  that crossed a termination limit is not logged)}.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from neuroctl.envs.robot import Sensor
from neuroctl.launchfile import load_launch
from neuroctl.progress import ProgressBar, is_terminal
from neuroctl.run import LaunchRunner
from neuroctl.runtime.recorder import COMMAND_FROM_CONTROLLER, COMMAND_REPLACED
from neuroctl.runtime.signals import Interrupted, Interruptible, StopRequest

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
    ended: dict[str, Any] = field(default_factory=dict)


def qp_errors_of(controller: Any, observations: np.ndarray, plans: np.ndarray,
                 references: np.ndarray | None = None) -> np.ndarray:
    """Per tick: max |U - U*| / limit, U* the exact QP solution at the observation the controller saw
    and the reference it was given (the QP's x0 = `controller.qp_initial_state(observation, reference)`,
    x - x_ref; the observation itself for a controller without one)."""
    from neuroctl.control.mpc import ExactQPSolver, qp_errors

    solver = ExactQPSolver(controller.qp_problem, tolerance=QP_SOLVER_TOLERANCE)
    initial_state = getattr(controller, "qp_initial_state", None)
    x0s = np.empty((len(observations), controller.qp_problem.F.shape[1]))
    for k, observation in enumerate(observations):
        reference = None if references is None else references[k]
        x0s[k] = observation if initial_state is None else initial_state(observation, reference)
    exacts = solver.solve_sequence(x0s, np.empty_like(plans))  # each warm started from the tick before
    return qp_errors(controller.qp_problem, plans, exacts)


def run_episode_summary(runner: LaunchRunner, seed: int) -> EpisodeSummary:
    """One episode of the runner's launch (built in fast mode: evaluation is about the task, not the
    wall clock) with `seed`."""
    with StopRequest() as stop:
        result = runner.run(seed, stop=stop)
    launch = runner.launch
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
    ended = how_it_ended(result.metrics, data["observation"], runner.robot.sensors,
                         max(1, int(round(launch.config.run.duration_s / result.metrics["control_period_s"]))))
    return EpisodeSummary(seed, task["success"], task["cost"], activity["synaptic_events_per_tick"],
                          activity["dense_macs_per_tick"], errors, task["metrics"], ended)


def how_it_ended(metrics: dict[str, Any], observations: np.ndarray, sensors: tuple[Sensor, ...],
                 n_ticks: int) -> dict[str, Any]:
    """`ended` of an episode (see the module docstring) from its metrics.json and its logged raw
    observations (`observation`, one row per tick, as read before that tick's command)."""
    ticks = int(metrics["ticks"])
    period = float(metrics["control_period_s"])
    task = metrics["task"]
    if task["terminated_at_tick"] is not None:
        by, tick = "terminated", int(task["terminated_at_tick"])
    elif metrics.get("aborted"):
        by, tick = "aborted", ticks - 1
    elif ticks < n_ticks:
        by, tick = "stopped", ticks - 1
    else:
        by, tick = "completed", ticks - 1
    ended: dict[str, Any] = {"by": by, "tick": tick, "time_s": round((tick + 1) * period, 9),
                             "past_plausible": [], "nearest_limit": None}
    if by == "completed" or len(observations) == 0:
        return ended
    last = np.asarray(observations[min(tick, len(observations) - 1)], dtype=np.float64)
    nearest, nearest_fraction = None, -math.inf
    for sensor, reading in zip(sensors, last):
        entry = {"sensor": sensor.name, "reading": float(reading), "unit": sensor.unit,
                 "low": sensor.low, "high": sensor.high}
        if not math.isfinite(reading) or not sensor.low <= reading <= sensor.high:
            ended["past_plausible"].append({**entry, "reading": _json_number(reading)})
            continue
        bound = sensor.high if reading >= 0 else sensor.low
        if math.isfinite(bound) and bound != 0:
            fraction = reading / bound
            if fraction > nearest_fraction:
                nearest, nearest_fraction = {**entry, "bound": bound, "fraction": float(fraction)}, fraction
    ended["nearest_limit"] = nearest
    return ended


def _json_number(value: float) -> float | str:
    return float(value) if math.isfinite(value) else str(value)


def describe_end(ended: dict[str, Any]) -> str:
    """One line: how an episode ended ("terminated by the environment at 1.34 s (tick 133); ...")."""
    by = {"terminated": "terminated by the environment", "aborted": "aborted by the loop",
          "stopped": "stopped short", "completed": "completed"}[ended["by"]]
    text = f"{by} at {ended['time_s']:.3g} s (tick {ended['tick']})"
    past = ended.get("past_plausible") or []
    if past:
        text += "; past their plausible range: " + ", ".join(
            f"{p['sensor']} {_reading(p['reading'])} {p['unit']}".rstrip() for p in past)
    nearest = ended.get("nearest_limit")
    if nearest is not None:
        text += (f"; last reading nearest its plausible limit: {nearest['sensor']} {nearest['reading']:.3g} "
                 f"{nearest['unit']} ({100 * nearest['fraction']:.0f}% of {nearest['bound']:g} {nearest['unit']})".rstrip()
                 .replace("  ", " "))
    return text


def _reading(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.3g}"


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% for the default z); (0, 1) for n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def task_metric_statistics(episodes: list[EpisodeSummary]) -> dict[str, dict[str, float | int | None]]:
    """Per task metric, its median, p90 and mean over the episodes (`n` values): a number per episode,
    or a list per episode (one value per target, say) pooled over the episodes. A None is a figure
    that does not exist (a target never reached): it counts as +inf, so that the statistics it moves
    become null in eval.json; `none` says how many there were. A yes/no metric (a bool per episode,
    the quadruped's `fell`) gives `true`, the episodes where it holds, of `n`."""
    names = dict.fromkeys(name for e in episodes for name in e.task_metrics)
    statistics = {}
    for name in names:
        values = []
        for episode in episodes:
            value = episode.task_metrics.get(name)
            values.extend(value if isinstance(value, list) else [value])
        if values and all(isinstance(v, bool) for v in values):
            statistics[name] = {"true": sum(values), "n": len(values)}
            continue
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


UNITS = {
    "success_rate": "fraction of episodes", "success_ci95": "fraction of episodes (Wilson 95%)",
    "mean_cost": "task cost per episode (sum over ticks of e'Qe + a'Ra), over succeeded episodes",
    "mean_cost_all_episodes": "task cost per episode, over all episodes",
    "cost_ratio": "ratio (paired seeds where both succeeded)",
    "qp_error": "fraction of the command limit (max |U - U*| over the plan / limit, per tick)",
    "synaptic_events_per_tick": "events per tick", "dense_macs_per_tick": "multiply-accumulates per tick",
    "time_s": "s of simulated time",
}


def summarize(config: str, episodes: list[EpisodeSummary],
              reference: list[EpisodeSummary] | None) -> dict[str, Any]:
    costs = np.array([e.cost for e in episodes])
    succeeded = np.array([e.success for e in episodes], dtype=bool)
    successes = int(succeeded.sum())
    low, high = wilson_interval(successes, len(episodes))
    summary: dict[str, Any] = {
        "config": config,
        "success_rate": float(np.mean(succeeded)),
        "successes": successes,
        "episodes_n": len(episodes),
        "success_ci95": [low, high],
        "mean_cost": float(costs[succeeded].mean()) if successes else None,
        "cost_n": successes,
        "mean_cost_all_episodes": float(costs.mean()),
        "cost_ratio": None,
        "cost_ratio_seeds": 0,
        "qp_error": None,
        "synaptic_events_per_tick": float(np.mean([e.synaptic_events_per_tick for e in episodes])),
        "dense_macs_per_tick": float(np.mean([e.dense_macs_per_tick for e in episodes])),
        "task_metrics": task_metric_statistics(episodes),
        "failures": [{"seed": e.seed, **e.ended} for e in episodes if not e.success],
        "episodes": [{"seed": e.seed, "success": e.success, "cost": e.cost, "task_metrics": e.task_metrics,
                      "ended": e.ended} for e in episodes],
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


class EpisodeFailed(RuntimeError):
    """An episode that failed twice on the worker processes of `evaluate(..., workers > 1)`."""


def evaluate(launch_path: Path, seeds: list[int], controllers: list[Path | None],
             progress: TextIO | None = None, workers: int = 1, executor: str = "local",
             address: str | None = None) -> dict[str, Any]:
    """Run every (controller, seed) episode; the first controller is the reference of cost ratios.
    With `workers` > 1 the episodes run on that many local worker processes (`neuroctl.sweep.local`),
    with `executor` "ray" as Ray tasks (`neuroctl.sweep.ray_executor`: on the cluster at `address`, or
    on a local Ray of `workers` CPUs): the same report, episode for episode; an episode that fails twice
    there raises EpisodeFailed.

    SIGINT or SIGTERM at any point (during an episode, while its results are summarised, between
    episodes) stops the evaluation: the report keeps every episode finished before the signal, with
    `interrupted` true and `signal_number` the signal (None when it ran to the end).
    """
    names = [str(load_launch(launch_path, controller).controller_path) for controller in controllers]
    episodes: list[list[EpisodeSummary]] = [[] for _ in controllers]
    total = len(seeds) * len(controllers)
    signal_number = None
    bar = ProgressBar("eval", total, "episodes", progress) if progress is not None else None

    def done(controller: Path | None) -> None:
        if bar is not None:
            bar.status(Path(str(controller or "launch controller")).name)
            bar.update_to(sum(len(e) for e in episodes))

    try:
        with Interruptible():
            if workers > 1 or executor == "ray":
                _on_workers(launch_path, seeds, controllers, names, workers, executor, address, episodes, done)
            for c, controller in enumerate(controllers):
                if len(episodes[c]) == len(seeds):
                    continue
                with LaunchRunner(load_launch(launch_path, controller, mode="fast")) as runner:
                    for seed in seeds:
                        episodes[c].append(run_episode_summary(runner, seed))
                        done(controller)
    except Interrupted as exc:
        signal_number = exc.signal_number
    finally:
        if bar is not None:
            bar.close()
    order = {seed: i for i, seed in enumerate(seeds)}
    for finished in episodes:
        finished.sort(key=lambda e: order[e.seed])
    results = []
    reference = None
    for name, finished in zip(names, episodes):
        if finished:
            results.append(summarize(name, finished, reference))
            reference = reference or finished
    return {"launch": str(launch_path), "seeds": seeds, "interrupted": signal_number is not None,
            "signal_number": signal_number, "units": UNITS, "controllers": results}


def _on_workers(launch_path: Path, seeds: list[int], controllers: list[Path | None], controller_paths: list[str],
                workers: int, executor: str, address: str | None, episodes: list[list[EpisodeSummary]],
                done: Callable[[Path | None], None]) -> None:
    """Every episode on `workers` local processes, or as Ray tasks (`executor` "ray"), each summary
    appended to its controller's list as it arrives (in any order: the caller sorts them by seed)."""
    from neuroctl.sweep.local import LocalPool
    from neuroctl.sweep.ray_executor import run_ray
    from neuroctl.sweep.spec import Trial
    from neuroctl.sweep.trials import portable, run_eval_episode

    trials = [Trial(f"controller-{c}", "" if controller is None else str(controller), {}, seed, Path(launch_path))
              for c, controller in enumerate(controllers) for seed in seeds]

    def keep(line: dict[str, Any]) -> None:
        c = int(line["config_id"].removeprefix("controller-"))
        if line["status"] != "ok":
            raise EpisodeFailed(f"{launch_path}: controller {controllers[c] or 'of the launch file'}, seed "
                                f"{line['seed']}: failed twice: {line['error']}")
        episodes[c].append(line["summary"])
        done(controllers[c])

    if executor == "ray":
        tasks = [portable(trial, Path(controller_paths[int(trial.config_id.removeprefix("controller-"))]))
                 for trial in trials]
        run_ray(tasks, run_eval_episode, keep, address, workers)
        return
    with LocalPool(workers, [str(Path(launch_path).resolve().parent), os.getcwd()], run_eval_episode) as pool:
        pool.run(trials, keep)


def format_table(report: dict[str, Any]) -> str:
    """The terminal table of an eval report, then each controller's task metrics and failed episodes."""
    header = ("controller", "success (95% CI)", "cost, succeeded (n)", "cost ratio (seeds)",
              "QP err mean (of limit)", "QP err p99 (of limit)", "syn. events/tick", "dense MACs/tick")
    rows = [header]
    for c in report["controllers"]:
        qp = c["qp_error"]
        n = c.get("episodes_n", len(c.get("episodes", [])))
        successes = c.get("successes", round(c["success_rate"] * n))
        low, high = c.get("success_ci95", wilson_interval(successes, n))
        cost = c["mean_cost"]
        rows.append((Path(c["config"]).name,
                     f"{successes}/{n} ({100 * low:.0f}-{100 * high:.0f}%)",
                     "-" if cost is None else f"{cost:.4g} ({c.get('cost_n', successes)})",
                     "-" if c["cost_ratio"] is None else f"{c['cost_ratio']:.4f} ({c.get('cost_ratio_seeds', 0)})",
                     "-" if qp is None else f"{qp['mean']:.2e}", "-" if qp is None else f"{qp['p99']:.2e}",
                     f"{c['synaptic_events_per_tick']:.1f}", f"{c['dense_macs_per_tick']:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.append("cost: task cost per episode (sum of e'Qe + a'Ra), mean over the episodes that succeeded; "
                 "cost ratio: over the seeds where both this controller and the first succeeded; "
                 "QP error: max |U - U*| / command limit")
    for c in report["controllers"]:
        figures = [f"{name} {stats['true']}/{stats['n']}" if "true" in stats else
                   f"{name} {_figure(stats['median'])} (p90 {_figure(stats['p90'])})"
                   for name, stats in c["task_metrics"].items()]
        if figures:
            lines.append(f"{Path(c['config']).name} task metrics, median: " + ", ".join(figures))
    for c in report["controllers"]:
        for failure in c.get("failures", []):
            lines.append(f"{Path(c['config']).name} seed {failure['seed']}: {describe_end(failure)}")
    seeds = report["seeds"]
    return f"{report['launch']}, seeds {seeds[0]}..{seeds[-1]}\n" + "\n".join(lines)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def progress_stream() -> TextIO | None:
    """stderr if it is a terminal (evaluate() draws its progress bar there), else None."""
    return sys.stderr if is_terminal(sys.stderr) else None
