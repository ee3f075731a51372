"""One run of a launch file: environment + controller + loop + results on disk (metrics, trajectory,
plots), and its video rendered afterwards from the logged states."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

import gymnasium
import numpy as np
from threadpoolctl import threadpool_limits

from neuroctl.config import ConfigError
from neuroctl.control.base import COUNTER_FIELDS, Controller
from neuroctl.control.registry import build_controller, builds_from_robot
from neuroctl.envs.robot import TaskRobot
from neuroctl.launchfile import Launch, linear_model_of, loop_settings, make_env, recorder_for
from neuroctl.metrics.energy import energy_section
from neuroctl.metrics.report import build_metrics
from neuroctl.runtime.files import atomic_write_json, write_with_fallback
from neuroctl.runtime.loop import EpisodeOutcome, run_episode
from neuroctl.runtime.recorder import Recorder
from neuroctl.runtime.robots import RobotDescription, describe
from neuroctl.runtime.signals import StopRequest
from neuroctl.viz.info import RunInfo, run_info
from neuroctl.viz.video import VideoReport, render_video


@dataclass
class RunResult:
    """A finished run; `plots` the PNG files written, `notes` one-line remarks for the user (e.g. plots
    skipped); `out_dir` where the results were written (a fallback directory if `out_problem` says why
    the requested one failed); `signal_number` the SIGINT/SIGTERM that stopped the run or came after its
    last tick, else None."""

    metrics: dict[str, Any]
    recorder: Recorder
    outcome: EpisodeOutcome
    controller: Controller
    info: RunInfo
    plots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    out_problem: str | None = None
    signal_number: int | None = None

    def trajectory(self) -> dict[str, np.ndarray]:
        """The records by name, as in trajectory.npz."""
        return {**self.recorder.arrays(), "stage_names": np.array(self.recorder.stage_names),
                "activity_fields": np.array(COUNTER_FIELDS)}


def default_out_dir(launch: Launch) -> Path:
    return Path(launch.config.outputs.dir or Path("runs") / launch.name)


def task_weights(launch: Launch, robot: RobotDescription) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal weights of the task cost on the tracking error and the action: the launch file's `task`
    section, else the environment's task (`neuroctl.envs.robot.Task`), else ones."""
    task = launch.config.task
    error_size = len(robot.task.error_names) if robot.task else len(robot.sensors)
    default_q = robot.task.cost_q if robot.task else np.ones(error_size)
    default_r = robot.task.cost_r if robot.task else np.ones(len(robot.actuators))
    q = np.asarray(default_q if task.cost_q is None else task.cost_q, dtype=np.float64)
    r = np.asarray(default_r if task.cost_r is None else task.cost_r, dtype=np.float64)
    if q.shape != (error_size,):
        raise ConfigError(launch.path, "task.cost_q", f"expected {error_size} weights, got {q.size}")
    if r.shape != (len(robot.actuators),):
        raise ConfigError(launch.path, "task.cost_r", f"expected {len(robot.actuators)} weights, got {r.size}")
    return q, r


def tracking_errors(env: gymnasium.Env, observations: np.ndarray) -> np.ndarray:
    """Per logged tick, the task's tracking error of the observation (`TaskRobot.tracking_error`), or
    the observation itself for an environment without a task (a set point at the origin)."""
    unwrapped = env.unwrapped
    if not isinstance(unwrapped, TaskRobot):
        return observations
    errors = np.zeros((len(observations), len(unwrapped.task.error_names)))
    for observation, error in zip(observations, errors):
        unwrapped.tracking_error(observation, error)
    return errors


def make_controller(launch: Launch, env: gymnasium.Env) -> Controller:
    """The launch file's controller for `env`: built from the controllers' linear model (`linear_model_of`),
    or, for a kind that requires one, from the robot's rigid-body model (`env.unwrapped`)."""
    kind = launch.controller_kind
    model = None if builds_from_robot(kind) else linear_model_of(env)
    return build_controller(kind, launch.controller_config, model, env.observation_space.shape[0],
                            launch.controller_path, env.unwrapped)


def validate_launch(launch: Launch) -> None:
    """Everything a run checks before its first tick, without running it: the environment's keyword
    arguments, the task weights, the controller against the environment's model, the loop settings."""
    with make_env(launch) as env:
        task_weights(launch, describe(env))
        make_controller(launch, env)
        loop_settings(launch, env)


class LaunchRunner:
    """The launch file's environment and controller, built once and reset for every episode.

    `run(seed)` runs one episode from `env.reset(seed)` and `controller.reset(seed)`, with a fresh
    monitor, watchdog and recorder: the same figures, bit for bit, as building everything afresh for that
    seed (tests/test_runner_reuse.py), without the rebuild (the environment, its linearisation, the
    controller's matrices and networks), which was 38-52% of a short eval episode. Use as a context
    manager: it closes the environment.

    While it lives, BLAS runs on one thread (threadpoolctl): the loop runs on one core, and a
    multithreaded OpenBLAS splitting the small products of a tick (the quadruped MPC's replan) was
    10-80x slower than one thread when the other core was busy.
    """

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self._blas = threadpool_limits(limits=1, user_api="blas")
        try:
            self.env = make_env(launch)
        except BaseException:
            self._blas.restore_original_limits()
            raise
        try:
            self.robot = describe(self.env)
            self.cost_q, self.cost_r = task_weights(launch, self.robot)
            self.controller = make_controller(launch, self.env)
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self) -> "LaunchRunner":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.env.close()
        self._blas.restore_original_limits()

    def run(self, seed: int | None = None, out_dir: Path | None = None,
            on_tick: Callable[[int, int], None] | None = None, stop: StopRequest | None = None) -> RunResult:
        """One episode with `seed` (the launch file's run.seed when None); writes its results into
        `out_dir` as `run_launch` does; `stop`: a StopRequest that ends the loop before its next tick."""
        launch = self.launch if seed is None else with_seed(self.launch, seed)
        env, controller, run = self.env, self.controller, launch.config.run
        settings = loop_settings(launch, env)
        recorder = recorder_for(launch, env, controller, settings.n_ticks)
        progress = None if on_tick is None else (lambda k: on_tick(k, settings.n_ticks))
        outcome = run_episode(env, controller, settings, recorder, stop, progress)
        observed = recorder.arrays()["controller_observation"]
        metrics = build_metrics(env_id=launch.config.env.id, controller=launch.controller_kind,
                                settings=settings, outcome=outcome, recorder=recorder,
                                tracking_error=tracking_errors(env, observed), cost_q=self.cost_q,
                                cost_r=self.cost_r, task_metrics=task_metrics_of(env, recorder))
        metrics["energy"] = energy_of(metrics, controller)
        info = run_info(launch.config.env.id, launch.controller_kind, run.seed, env, controller)
        result = RunResult(metrics, recorder, outcome, controller, info)
        if out_dir is not None:
            result.out_dir, result.out_problem = write_with_fallback(
                lambda directory: write_results(result, directory, plots=launch.config.outputs.plots),
                out_dir, "run")
        if stop is not None:
            result.signal_number = stop.signal_number
        return result


def with_seed(launch: Launch, seed: int) -> Launch:
    """`launch` with run.seed replaced."""
    run = dataclasses.replace(launch.config.run, seed=seed)
    return dataclasses.replace(launch, config=dataclasses.replace(launch.config, run=run))


def run_launch(launch: Launch, out_dir: Path | None = None,
               on_tick: Callable[[int, int], None] | None = None) -> RunResult:
    """Run the launch file once; write metrics.json, trajectory.npz and the plots (unless the launch
    file's `outputs.plots` is false) into `out_dir` if given, or into a fallback directory if writing
    there fails (`RunResult.out_dir`, `out_problem`; `neuroctl.runtime.files.ResultsLost` if that fails
    too)."""
    with StopRequest() as stop, LaunchRunner(launch) as runner:  # from here on, SIGINT/SIGTERM end the run cleanly
        return runner.run(out_dir=out_dir, on_tick=on_tick, stop=stop)


def task_metrics_of(env: gymnasium.Env, recorder: Recorder) -> dict[str, Any]:
    """The environment's own figures of the episode (`TaskRobot.task_metrics`), or none."""
    unwrapped = env.unwrapped
    return unwrapped.task_metrics(recorder.arrays()) if isinstance(unwrapped, TaskRobot) else {}


def write_results(result: RunResult, out_dir: Path, plots: bool = True) -> None:
    """trajectory.npz, metrics.json and (if `plots`) the PNG plots, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result.recorder.save_npz(out_dir / "trajectory.npz")
    atomic_write_json(out_dir / "metrics.json", result.metrics)
    if not plots:
        return
    if result.recorder.count == 0:
        result.notes.append("plots skipped: the run recorded no ticks")
        return
    if importlib.util.find_spec("matplotlib") is None:
        result.notes.append("plots skipped: matplotlib is not installed (pip install 'neuroctl[viz]')")
        return
    from neuroctl.viz.plots import write_plots

    result.plots = write_plots(out_dir, result.trajectory(), result.metrics, result.info)


def video_path_of(launch: Launch, out_dir: Path, record: Path | None) -> Path | None:
    """The video to make: `--record` as given, else the launch file's `outputs.video` (relative to the
    run directory), else none."""
    if record is not None:
        return record
    video = launch.config.outputs.video
    return None if video is None else out_dir / video


def record_video(launch: Launch, result: RunResult, path: Path,
                 on_frame: Callable[[int, int], None] | None = None) -> VideoReport:
    """Render the run from its logged states with a fresh environment of the launch file's id and kwargs."""
    env = make_env(launch)
    try:
        return render_video(path, env, result.trajectory(), result.info, on_frame)
    finally:
        env.close()


def energy_of(metrics: dict[str, Any], controller: Controller) -> dict[str, Any]:
    """Energy, delay and EDP per tick under every hardware profile, from the run's mean activity."""
    counts = {name.removesuffix("_per_tick"): value for name, value in metrics["activity"].items()}
    measured_delay_s = metrics["latency_us"]["controller"]["mean"] * 1e-6
    return energy_section(counts, measured_delay_s, getattr(controller, "timesteps_per_tick", 1))


def progress_printer(label: str, stream: TextIO | None = None,
                     unit: str = "ticks") -> Callable[[int, int], None] | None:
    """A progress bar on a terminal (on stderr by default), updated with (k, total)
    (`neuroctl.progress.TickProgress`: tqdm; `close()` ends it early); None when it is not a terminal."""
    from neuroctl.progress import TickProgress, is_terminal

    stream = stream or sys.stderr
    return TickProgress(label, unit, stream) if is_terminal(stream) else None
