"""`neuroctl sweep`: trials over parameter settings, controllers and seeds, on local worker processes.

    report = run_sweep(Path("configs/sweeps/force_limit.yaml"), Path("runs/sweep/force_limit"), workers=2)

`spec` reads a sweep file and validates every trial's configuration before anything runs; `local`
runs the trials on one worker process per core (`ray_executor`: as Ray tasks) (a worker reuses its environment and controller
across the seeds of a configuration), appending each finished trial to `DIR/trials.jsonl` at once
(`trials`); `summary` writes `DIR/summary.json` and `DIR/summary.md`, `neuroctl.viz.sweep_plots` the
plots (each metric against each varied parameter, the Pareto front of energy against cost). With `resume`, the trials already
in `DIR/trials.jsonl` are skipped. The same trial gives the same line on any worker: results do not
depend on which worker ran what, nor on how many there were.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neuroctl.runtime.files import atomic_write_json
from neuroctl.sweep.local import LocalPool
from neuroctl.sweep.ray_executor import run_ray
from neuroctl.sweep.spec import expand
from neuroctl.sweep.summary import markdown, summarize
from neuroctl.sweep.trials import append, portable, read, run_trial

__all__ = ["run_sweep", "default_workers"]


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_sweep(sweep_path: Path, out_dir: Path, workers: int | None = None, resume: bool = False,
              on_trial: Callable[[int, int], None] | None = None, executor: str = "local",
              address: str | None = None) -> dict[str, Any]:
    """Run the sweep file's trials not yet in `out_dir/trials.jsonl` (all of them unless `resume`, and
    then the file must not hold any) on `executor` ("local": `workers` processes, default one per core;
    "ray": Ray tasks on the cluster at `address`, or on a local Ray of `workers` CPUs started for the
    sweep), write the summaries and return summary.json's content; `on_trial(done, total)` after each
    trial. A KeyboardInterrupt stops the workers, writes the summaries of what finished (`interrupted`:
    true) and propagates."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "trials.jsonl"
    done = {(line["config_id"], line["seed"]) for line in read(results_path)}
    if done and not resume:
        raise FileExistsError(f"{results_path} already holds {len(done)} trials: --resume runs the rest")
    workers = workers or default_workers()
    if executor == "ray":
        _, trials = expand(sweep_path, out_dir / "configs")

        def on_ray(todo: list, path: Path, progress: Callable) -> None:
            tasks = [portable(trial, trial.launch_path.parent / "controller.yaml") for trial in todo]
            run_ray(tasks, run_trial, lambda line: (append(path, line), progress(line)), address, workers)

        return _run(on_ray, trials, done, sweep_path, out_dir, on_trial)
    with LocalPool(workers, [str(Path(sweep_path).resolve().parent), os.getcwd()]) as pool:
        _, trials = expand(sweep_path, out_dir / "configs")  # while the workers start
        return _run(lambda todo, path, progress: pool.run(todo, lambda line: append(path, line), progress),
                    trials, done, sweep_path, out_dir, on_trial)


def _run(execute: Callable, trials: list, done: set, sweep_path: Path, out_dir: Path,
         on_trial: Callable[[int, int], None] | None) -> dict[str, Any]:
    results_path = out_dir / "trials.jsonl"
    todo = [trial for trial in trials if trial.key not in done]
    counter = {"done": len(trials) - len(todo)}

    def progress(_: dict[str, Any]) -> None:
        counter["done"] += 1
        if on_trial is not None:
            on_trial(counter["done"], len(trials))

    interrupted = False
    try:
        execute(todo, results_path, progress)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        keys = {trial.key for trial in trials}
        lines = [line for line in read(results_path) if (line["config_id"], line["seed"]) in keys]
        configurations = summarize(lines)
        report = {"sweep": str(sweep_path), "trials": len(trials), "finished": len(lines),
                  "interrupted": interrupted, "configurations": configurations}
        report["plots"] = _plots(out_dir, configurations, Path(sweep_path).stem)
        atomic_write_json(out_dir / "summary.json", report)
        (out_dir / "summary.md").write_text(markdown(str(sweep_path), configurations, interrupted))
    return report


def _plots(out_dir: Path, configurations: list[dict[str, Any]], title: str) -> list[str] | str:
    """The plots' file names, or why there are none (matplotlib is the `viz` extra)."""
    if not configurations:
        return "no finished trials"
    if importlib.util.find_spec("matplotlib") is None:
        return "matplotlib is not installed (pip install 'neuroctl[viz]')"
    from neuroctl.viz.sweep_plots import write_sweep_plots

    return [path.name for path in write_sweep_plots(out_dir, configurations, title)]
