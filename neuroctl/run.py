"""One run of a launch file: environment + controller + loop + results on disk."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

import numpy as np

from neuroctl.config import ConfigError
from neuroctl.control.base import Controller
from neuroctl.control.registry import build_controller
from neuroctl.launchfile import Launch, control_period_of, linear_model_of, make_env
from neuroctl.metrics.energy import energy_section
from neuroctl.metrics.report import build_metrics
from neuroctl.runtime.files import atomic_write_json
from neuroctl.runtime.loop import EpisodeOutcome, LoopSettings, StopRequest, make_recorder, run_episode
from neuroctl.runtime.recorder import Recorder


@dataclass
class RunResult:
    metrics: dict[str, Any]
    recorder: Recorder
    outcome: EpisodeOutcome
    controller: Controller


def default_out_dir(launch: Launch) -> Path:
    return Path(launch.config.outputs.dir or Path("runs") / launch.name)


def task_weights(launch: Launch, observation_size: int, action_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal weights of the task cost (ones where the launch file gives none)."""
    task = launch.config.task
    q = np.ones(observation_size) if task.cost_q is None else np.asarray(task.cost_q, dtype=np.float64)
    r = np.ones(action_size) if task.cost_r is None else np.asarray(task.cost_r, dtype=np.float64)
    if q.shape != (observation_size,):
        raise ConfigError(launch.path, "task.cost_q", f"expected {observation_size} weights, got {q.size}")
    if r.shape != (action_size,):
        raise ConfigError(launch.path, "task.cost_r", f"expected {action_size} weights, got {r.size}")
    return q, r


def run_launch(launch: Launch, out_dir: Path | None = None,
               on_tick: Callable[[int, int], None] | None = None) -> RunResult:
    """Run the launch file once; write metrics.json and trajectory.npz into `out_dir` if given."""
    env = make_env(launch)
    try:
        observation_size = env.observation_space.shape[0]
        cost_q, cost_r = task_weights(launch, observation_size, env.action_space.shape[0])
        controller = build_controller(launch.controller_kind, launch.controller_config,
                                      linear_model_of(env), observation_size, launch.controller_path)
        run = launch.config.run
        period = control_period_of(env)
        settings = LoopSettings(n_ticks=max(1, int(round(run.duration_s / period))), control_period_s=period,
                                mode=run.mode, seed=run.seed, overrun_policy=run.overrun_policy,
                                watchdog=run.watchdog, spin_s=run.spin_s)
        recorder = make_recorder(env, controller, settings.n_ticks)
        progress = None if on_tick is None else (lambda k: on_tick(k, settings.n_ticks))
        with StopRequest() as stop:
            outcome = run_episode(env, controller, settings, recorder, stop, progress)
            outcome.extra["signal"] = stop.signal_number
        metrics = build_metrics(env_id=launch.config.env.id, controller=launch.controller_kind,
                                settings=settings, outcome=outcome, recorder=recorder,
                                cost_q=cost_q, cost_r=cost_r)
        metrics["energy"] = energy_of(metrics, controller)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            recorder.save_npz(out_dir / "trajectory.npz")
            atomic_write_json(out_dir / "metrics.json", metrics)
        return RunResult(metrics, recorder, outcome, controller)
    finally:
        env.close()


def energy_of(metrics: dict[str, Any], controller: Controller) -> dict[str, Any]:
    """Energy, delay and EDP per tick under every hardware profile, from the run's mean activity."""
    counts = {name.removesuffix("_per_tick"): value for name, value in metrics["activity"].items()}
    measured_delay_s = metrics["latency_us"]["controller"]["mean"] * 1e-6
    return energy_section(counts, measured_delay_s, getattr(controller, "timesteps_per_tick", 1))


def progress_printer(label: str, stream: TextIO | None = None) -> Callable[[int, int], None] | None:
    """A progress line on a terminal (every ~2 %, on stderr by default); None when it is not a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None

    def show(k: int, total: int) -> None:
        if k % max(1, total // 50) == 0 or k == total:
            stream.write(f"\r{label}: {k}/{total} ticks ({100 * k // total}%)")
            if k == total:
                stream.write("\n")
            stream.flush()
    return show
