"""`neuroctl launch | check | eval | bench | info`: the command line. Composes launch files, runs and reports.

A user mistake (bad config, missing file, unknown id, bad flag) ends with exit code 2 and one line
`error: <where>: <what was wrong and what is expected>` on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from neuroctl.launchfile import Launch
    from neuroctl.run import RunResult

EXIT_RESULTS_ELSEWHERE = 1
"""The run finished but its results could not be written where asked (kept in a fallback directory),
or could not be written at all."""
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class UsageError(Exception):
    """A bad command line: reported as `error: neuroctl: <message>`."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage and exits 2; we want one line
        raise UsageError(f"{self.prog}: {message}")


def _checked(convert: Callable[[str], float], accept: Callable[[float], bool], expected: str):
    """An argparse type: `convert` the text, keep it if `accept`s it, else 'expected <expected>, got ...'."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


_positive_float = _checked(float, lambda v: 0 < v < float("inf"), "a positive finite number")
_positive_int = _checked(int, lambda v: v >= 1, "a positive integer")
_seed = _checked(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")


def _video_path(text: str) -> Path:
    from neuroctl.runtime.files import OutputError, check_output_file
    from neuroctl.viz.video import VideoError, check_video_path

    try:
        check_video_path(text)
        check_output_file(text)
    except (VideoError, OutputError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="neuroctl", description="Real-time robot control with recurrent spiking networks.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    launch = commands.add_parser("launch", help="run a launch file and write metrics.json and trajectory.npz")
    launch.add_argument("file", type=Path, help="launch file (YAML)")
    launch.add_argument("--duration", type=_positive_float, help="run length in seconds of simulated time")
    launch.add_argument("--mode", choices=("realtime", "fast"), help="pace to the wall clock or run flat out")
    launch.add_argument("--seed", type=_seed, help="seed of the initial state and the network")
    launch.add_argument("--controller", type=Path, help="controller config replacing the launch file's")
    launch.add_argument("--out", type=Path, help="output directory (default: the launch file's outputs.dir)")
    launch.add_argument("--record", type=_video_path, metavar="PATH.mp4|PATH.gif",
                        help="after the run, render a real-time video of it from the logged states")

    check = commands.add_parser("check", help="validate a launch file or a controller config without running")
    check.add_argument("file", type=Path)

    evaluate = commands.add_parser("eval", help="run a launch file over N seeds for each listed controller")
    evaluate.add_argument("file", type=Path, help="launch file (YAML)")
    evaluate.add_argument("--seeds", type=_positive_int, required=True, help="number of seeded episodes")
    evaluate.add_argument("--first-seed", type=_seed, default=0, help="first seed (default 0)")
    evaluate.add_argument("--controller", type=Path, action="append", default=None,
                          help="controller config (repeatable; default: the launch file's)")
    evaluate.add_argument("--out", type=Path, help="output directory (default: runs/eval/<launch name>)")

    bench = commands.add_parser("bench", help="run a benchmark suite and write bench.json and bench.md")
    bench.add_argument("file", type=Path, help="benchmark suite (YAML, see configs/bench/)")
    bench.add_argument("--out", type=Path, help="output directory (default: runs/bench/<suite name>)")
    bench.add_argument("--repeat", type=_positive_int, help="repetitions per measurement (default: the suite's)")

    commands.add_parser("info", help="versions, numba cache directory and registered environments")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from neuroctl.startup import interrupted_while_starting

    if interrupted_while_starting():
        print("interrupted", file=sys.stderr)
        return EXIT_SIGINT
    try:
        from neuroctl.config import ConfigError
        from neuroctl.runtime.files import ResultsLost

        args = build_parser().parse_args(argv)
        commands = {"launch": cmd_launch, "check": cmd_check, "eval": cmd_eval, "bench": cmd_bench,
                    "info": cmd_info}
        return commands[args.command](args)
    except KeyboardInterrupt as exc:  # outside a run (a run itself stops cleanly): imports, eval, bench
        import signal

        print("interrupted", file=sys.stderr)
        return EXIT_SIGTERM if getattr(exc, "signal_number", None) == signal.SIGTERM else EXIT_SIGINT
    except (ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ResultsLost as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RESULTS_ELSEWHERE


def _exit_code(signal_number: int | None) -> int | None:
    """The exit code of a command stopped by `signal_number` (None: not stopped by a signal)."""
    import signal

    if signal_number is None:
        return None
    return EXIT_SIGTERM if signal_number == signal.SIGTERM else EXIT_SIGINT


def _kept_elsewhere(out_dir: Path, kept_in: Path, problem: str | None) -> int | None:
    """Say so when results meant for `out_dir` went to the fallback `kept_in`; the exit code then."""
    from neuroctl.runtime.files import fallback_message

    if problem is None:
        return None
    print(fallback_message(out_dir, kept_in, problem), file=sys.stderr)
    return EXIT_RESULTS_ELSEWHERE


def cmd_launch(args: argparse.Namespace) -> int:
    from neuroctl.launchfile import load_launch
    from neuroctl.run import default_out_dir, progress_printer, run_launch, video_path_of

    launch = load_launch(args.file, args.controller, duration_s=args.duration, mode=args.mode, seed=args.seed)
    out_dir = output_directory(args.out or default_out_dir(launch),
                               "--out" if args.out else f"{args.file}: outputs.dir")
    if args.record is None and launch.config.outputs.video is not None:
        _check_launch_video(launch, out_dir)
    video_path = video_path_of(launch, out_dir, args.record)
    progress = progress_printer(launch.name)
    result = run_launch(launch, out_dir, progress)
    if progress is not None and not result.metrics["task"]["success"]:
        sys.stderr.write("\n")  # the progress line stopped short of its end, which ends the line
    print(format_summary(result.metrics, result.out_dir, result.plots))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    failed = _kept_elsewhere(out_dir, result.out_dir, result.out_problem)
    stopped = _exit_code(result.signal_number)
    if stopped is not None:
        if video_path is not None:
            print("note: video skipped: the run was interrupted", file=sys.stderr)
        return stopped
    if video_path is not None and failed is None:
        return _make_video(launch, result, video_path)
    return failed or 0


def _check_launch_video(launch: Launch, out_dir: Path | None = None) -> None:
    """Before the run: a launch file's `outputs.video` that could not be written is a config error."""
    from neuroctl.config import ConfigError
    from neuroctl.runtime.files import OutputError, check_output_file
    from neuroctl.viz.video import VideoError, check_video_path

    try:
        check_video_path(launch.config.outputs.video)
        if out_dir is not None:
            check_output_file(out_dir / launch.config.outputs.video)
    except (VideoError, OutputError) as exc:
        raise ConfigError(launch.path, "outputs.video", str(exc)) from None


def _make_video(launch: Launch, result: RunResult, path: Path) -> int:
    """Render the video after the run (progress on a terminal) and say where it is; the exit code.

    SIGINT/SIGTERM stop the rendering at once (no file, no temporary directory left behind)."""
    from neuroctl.run import progress_printer, record_video
    from neuroctl.runtime.signals import Interrupted, Interruptible
    from neuroctl.viz.video import VideoError

    try:
        with Interruptible():
            report = record_video(launch, result, path, progress_printer("video", unit="frames"))
    except Interrupted as exc:
        print("note: video skipped: interrupted while rendering", file=sys.stderr)
        return _exit_code(exc.signal_number)
    except (VideoError, OSError) as exc:
        print(f"error: video {str(path)!r}: {exc}; the run's results are complete", file=sys.stderr)
        return EXIT_RESULTS_ELSEWHERE
    for note in report.notes:
        print(f"note: video: {note}", file=sys.stderr)
    width, height = report.frame_size
    print(f"video: {report.path} ({report.frames} frames, {width}x{height}, {report.fps:g} fps, real time; "
          f"{1e3 * report.render_s_per_frame:.1f} ms per frame to render)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from neuroctl.evaluate import evaluate, format_table, progress_stream
    from neuroctl.launchfile import MAX_SEED
    from neuroctl.runtime.files import atomic_write_json, write_with_fallback

    last_seed = args.first_seed + args.seeds - 1
    if last_seed > MAX_SEED:
        raise UsageError(f"--seeds: {args.seeds} seeds from --first-seed {args.first_seed} end at seed "
                         f"{last_seed}; seeds are at most {MAX_SEED} (2**32 - 1)")
    seeds = list(range(args.first_seed, last_seed + 1))
    out_dir = output_directory(args.out or Path("runs") / "eval" / args.file.stem, "--out")
    report = evaluate(args.file, seeds, args.controller or [None], progress_stream())
    kept_in, problem = write_with_fallback(lambda d: atomic_write_json(d / "eval.json", report), out_dir, "eval")
    print(format_table(report))
    print(f"results: {kept_in / 'eval.json'}" + (" (interrupted: partial)" if report["interrupted"] else ""))
    failed = _kept_elsewhere(out_dir, kept_in, problem)
    return _exit_code(report["signal_number"]) or failed or 0


def output_directory(path: Path, where: str) -> Path:
    """Check, before a run, that results could be written to directory `path` (created later, by the
    run): a bad one is a usage error now rather than a lost run (`runtime.files.check_output_dir`)."""
    from neuroctl.config import ConfigError
    from neuroctl.runtime.files import OutputError, check_output_dir

    try:
        return check_output_dir(path)
    except OutputError as exc:
        raise ConfigError(where, "", f"cannot write results to {exc.path!r}: {exc.problem}") from None


def cmd_bench(args: argparse.Namespace) -> int:
    from neuroctl.bench.suite import run_suite

    return run_suite(args.file, args.out, args.repeat)


def cmd_check(args: argparse.Namespace) -> int:
    from neuroctl.config import ConfigError, load_yaml
    from neuroctl.control.registry import load_controller_config
    from neuroctl.launchfile import load_launch

    data = load_yaml(args.file)
    if "kind" in data:
        kind, _ = load_controller_config(args.file)
        print(f"ok: {args.file}: controller config ({kind})")
    elif "env" in data or "controller" in data:
        from neuroctl.run import validate_launch

        launch = load_launch(args.file)
        if launch.config.outputs.video is not None:
            _check_launch_video(launch)
        validate_launch(launch)
        print(f"ok: {args.file}: launch file ({launch.config.env.id}, {launch.controller_kind} "
              f"from {launch.controller_path})")
    else:
        raise ConfigError(args.file, "", "neither a launch file (env, controller, ...) nor a controller "
                          "config (kind, ...)")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import platform

    import gymnasium
    import numpy

    import neuroctl
    from neuroctl.network.jit import NUMBA_CACHE_DIR

    import numba
    from neuroctl.envs.bullet import pybullet

    print(f"neuroctl {neuroctl.__version__}, Python {platform.python_version()}, numpy {numpy.__version__}, "
          f"numba {numba.__version__}, pybullet API {pybullet.getAPIVersion()}, gymnasium {gymnasium.__version__}")
    print(f"numba cache: {NUMBA_CACHE_DIR or 'off (no private directory found: kernels compile in every process)'}")
    print("environments: " + ", ".join(k for k in gymnasium.registry if k.startswith("neuroctl/")))
    return 0


def format_summary(metrics: dict, out_dir: Path, plots: Sequence[Path] = ()) -> str:
    from neuroctl.metrics.report import faults_summary

    task, latency, deadline, activity = (metrics["task"], metrics["latency_us"], metrics["deadline"],
                                         metrics["activity"])
    status = "succeeded" if task["success"] else (
        "interrupted" if metrics["interrupted"] else
        "aborted on overrun" if metrics["aborted"] else f"failed at tick {task['terminated_at_tick']}")
    rows = [
        ("run", f"{metrics['env']} / {metrics['controller']} / seed {metrics['seed']} / {metrics['mode']}"),
        ("result", f"{status} after {metrics['duration_s']:.3f} s ({metrics['ticks']} ticks of "
                   f"{metrics['control_period_s'] * 1e3:g} ms)"),
        ("task", f"return {task['return']:.1f}, cost {_number(task['cost'])}"),
        *([("task metrics", _task_metrics_row(task["metrics"]))] if task.get("metrics") else []),
        ("controller latency", _latency_row(latency["controller"])),
        ("tick latency", _latency_row(latency["tick"])),
        ("deadline", f"{deadline['misses']} misses ({100 * deadline['miss_rate']:.3f}%), lateness p50 "
                     f"{deadline['lateness_us']['p50']:.1f} us, p99 {deadline['lateness_us']['p99']:.1f} us, "
                     f"max {deadline['lateness_us']['max']:.1f} us" if metrics["mode"] == "realtime"
                     else "fast mode: not paced"),
        ("activity per tick", f"{activity['spikes_per_tick']:.1f} spikes, "
                              f"{activity['synaptic_events_per_tick']:.1f} synaptic events, "
                              f"{activity['dense_macs_per_tick']:.0f} dense-equivalent MACs"),
        ("faults", faults_summary(metrics["faults"])),
        ("results", str(out_dir)),
    ]
    if plots:
        rows.append(("plots", ", ".join(path.name for path in plots)))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _number(value: float | None) -> str:
    return "null (not finite)" if value is None else f"{value:.4g}"


def _task_metrics_row(task_metrics: dict) -> str:
    """The environment's task metrics that are single numbers, e.g. `final_distance_m 0.00048`."""
    return ", ".join(f"{name} {_number(value)}" for name, value in task_metrics.items()
                     if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)))


def _latency_row(stats: dict) -> str:
    return f"p50 {stats['p50']:.1f} us, p99 {stats['p99']:.1f} us, max {stats['max']:.1f} us"
