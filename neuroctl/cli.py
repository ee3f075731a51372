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


LAUNCH_EPILOG = """\
examples:
  neuroctl launch cartpole_mpc                      # a packaged demo by name (see `neuroctl info`)
  neuroctl launch launch/cartpole_mpc.yaml --duration 5 --seed 3 --out runs/try
  neuroctl launch cartpole_mpc --controller configs/controllers/cartpole_lqr.yaml --record run.mp4

FILE is a launch file's path, or the name of a packaged demo launch file (cartpole_mpc,
cartpole_balance, arm_reach, ...). An output directory that already holds results is never
overwritten silently: the run goes to DIR-2 (then DIR-3, ...) and says so, unless --overwrite."""

CHECK_EPILOG = """\
examples:
  neuroctl check launch/cartpole_mpc.yaml
  neuroctl check configs/controllers/cartpole_mpc.yaml"""

EVAL_EPILOG = """\
examples:
  neuroctl eval cartpole_mpc --seeds 10
  neuroctl eval launch/cartpole_mpc_hard.yaml --seeds 50 --workers 2 \\
      --controller configs/controllers/cartpole_mpc_hard_exact.yaml \\
      --controller configs/controllers/cartpole_mpc_hard.yaml
  neuroctl eval launch/cartpole_mpc_hard.yaml --seeds 200 --executor ray --address ray://head:10001

An output directory that already holds eval.json goes to DIR-2 (DIR-3, ...) unless --overwrite."""

SWEEP_EPILOG = """\
examples:
  neuroctl sweep configs/sweeps/force_limit.yaml                 # one worker per core
  neuroctl sweep configs/sweeps/mpc_sparsity.yaml --workers 2 --out runs/sweep/sparsity
  neuroctl sweep configs/sweeps/mpc_sparsity.yaml --out runs/sweep/sparsity --resume   # after Ctrl-C
  neuroctl sweep configs/sweeps/force_limit.yaml --executor ray --address ray://head:10001

Every finished trial is appended to DIR/trials.jsonl at once; Ctrl-C keeps them (exit 130) and --resume
runs the rest. DIR/summary.md and summary.json: per controller and setting, success with its Wilson
interval, cost, latency, modelled energy per tick."""

BENCH_EPILOG = """\
examples:
  neuroctl bench configs/bench/controllers.yaml
  neuroctl bench configs/bench/kernel.yaml --repeat 3 --out runs/bench/kernel-quick

An output directory that already holds bench.json goes to DIR-2 (DIR-3, ...) unless --overwrite."""

INFO_EPILOG = """\
example:
  neuroctl info"""

MAIN_EPILOG = """\
examples:
  neuroctl launch cartpole_mpc          # the spiking predictive controller balancing the cart-pole
  neuroctl launch --help                # every command has --help with examples

Without a command, neuroctl prints this help on stderr and exits with code 2 (a usage error)."""

RESULT_FILES = ("metrics.json", "trajectory.npz", "eval.json", "bench.json")
"""A directory holding any of these holds an earlier run's results (not overwritten without --overwrite)."""


def build_parser() -> argparse.ArgumentParser:
    from neuroctl import __version__

    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="neuroctl", description="Real-time robot control with recurrent spiking networks.",
                     epilog=MAIN_EPILOG, formatter_class=formatter)
    parser.add_argument("--version", action="version", version=f"neuroctl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    overwrite_help = "replace the results in an output directory that already holds some"

    launch = commands.add_parser("launch", help="run a launch file and write metrics.json and trajectory.npz",
                                 epilog=LAUNCH_EPILOG, formatter_class=formatter)
    launch.add_argument("file", type=Path, metavar="FILE", help="launch file (YAML), or a packaged demo's name")
    launch.add_argument("--duration", type=_positive_float, help="run length in seconds of simulated time")
    launch.add_argument("--mode", choices=("realtime", "fast"), help="pace to the wall clock or run flat out")
    launch.add_argument("--seed", type=_seed, help="seed of the initial state and the network")
    launch.add_argument("--controller", type=Path, help="controller config replacing the launch file's")
    launch.add_argument("--out", type=Path, help="output directory (default: the launch file's outputs.dir)")
    launch.add_argument("--overwrite", action="store_true", help=overwrite_help)
    launch.add_argument("--record", type=_video_path, metavar="PATH.mp4|PATH.gif",
                        help="after the run, render a real-time video of it from the logged states")

    check = commands.add_parser("check", help="validate a launch file or a controller config without running",
                                epilog=CHECK_EPILOG, formatter_class=formatter)
    check.add_argument("file", type=Path, metavar="FILE")

    evaluate = commands.add_parser("eval", help="run a launch file over N seeds for each listed controller",
                                   epilog=EVAL_EPILOG, formatter_class=formatter)
    evaluate.add_argument("file", type=Path, metavar="FILE", help="launch file (YAML), or a packaged demo's name")
    evaluate.add_argument("--seeds", type=_positive_int, required=True, help="number of seeded episodes")
    evaluate.add_argument("--first-seed", type=_seed, default=0, help="first seed (default 0)")
    evaluate.add_argument("--controller", type=Path, action="append", default=None,
                          help="controller config (repeatable; default: the launch file's)")
    evaluate.add_argument("--executor", choices=("local", "ray"), default="local",
                          help="local: this process, or worker processes with --workers (the default); ray: Ray tasks")
    evaluate.add_argument("--workers", type=_positive_int,
                          help="worker processes, or the CPUs of a local Ray (default: 1 locally, one per core "
                               "for a local Ray)")
    evaluate.add_argument("--address", help="with --executor ray: the cluster's address (default: start a local Ray)")
    evaluate.add_argument("--out", type=Path, help="output directory (default: runs/eval/<launch name>)")
    evaluate.add_argument("--overwrite", action="store_true", help=overwrite_help)

    sweep = commands.add_parser("sweep", help="run trials over parameter settings, controllers and seeds in parallel",
                                epilog=SWEEP_EPILOG, formatter_class=formatter)
    sweep.add_argument("file", type=Path, metavar="SWEEP.yaml", help="sweep file (YAML, see configs/sweeps/)")
    sweep.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="local: worker processes on this machine (the default); ray: Ray tasks")
    sweep.add_argument("--workers", type=_positive_int,
                       help="worker processes, or the CPUs of a local Ray (default: one per core)")
    sweep.add_argument("--address", help="with --executor ray: the cluster's address (default: start a local Ray)")
    sweep.add_argument("--out", type=Path, help="output directory (default: runs/sweep/<sweep name>)")
    sweep.add_argument("--resume", action="store_true", help="skip the trials already in DIR/trials.jsonl")

    bench = commands.add_parser("bench", help="run a benchmark suite and write bench.json and bench.md",
                                epilog=BENCH_EPILOG, formatter_class=formatter)
    bench.add_argument("file", type=Path, help="benchmark suite (YAML, see configs/bench/)")
    bench.add_argument("--out", type=Path, help="output directory (default: runs/bench/<suite name>)")
    bench.add_argument("--overwrite", action="store_true", help=overwrite_help)
    bench.add_argument("--repeat", type=_positive_int, help="repetitions per measurement (default: the suite's)")

    commands.add_parser("info", help="versions, numba cache directory, environments and packaged launch files",
                        epilog=INFO_EPILOG, formatter_class=formatter)
    return parser


def fresh_output_directory(path: Path, overwrite: bool) -> tuple[Path, str | None]:
    """The directory a run writes to: `path` itself when it holds no earlier results (RESULT_FILES) or
    with `overwrite`; else the first of `path-2`, `path-3`, ... that holds none, with a note saying so."""
    if overwrite or not _holds_results(path):
        return path, None
    number = 2
    while _holds_results(candidate := path.with_name(f"{path.name}-{number}")):
        number += 1
    return candidate, (f"{str(path)!r} holds an earlier run's results: writing to {str(candidate)!r} "
                       f"(--overwrite replaces them)")


def _holds_results(path: Path) -> bool:
    try:
        return path.is_dir() and any((path / name).exists() for name in RESULT_FILES)
    except (OSError, ValueError):  # unreadable or a NUL byte: check_output_dir reports it
        return False


def main(argv: Sequence[str] | None = None) -> int:
    from neuroctl.startup import interrupted_while_starting

    if interrupted_while_starting():
        print("interrupted", file=sys.stderr)
        return EXIT_SIGINT
    try:
        from neuroctl.config import ConfigError
        from neuroctl.runtime.files import ResultsLost

        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version: argparse printed them
            return exc.code if isinstance(exc.code, int) else 0
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        commands = {"launch": cmd_launch, "check": cmd_check, "eval": cmd_eval, "sweep": cmd_sweep,
                    "bench": cmd_bench, "info": cmd_info}
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
    from neuroctl.launchfile import load_launch, resolve_launch_path
    from neuroctl.run import default_out_dir, progress_printer, run_launch, video_path_of

    args.file = resolve_launch_path(args.file)
    launch = load_launch(args.file, args.controller, duration_s=args.duration, mode=args.mode, seed=args.seed)
    out_dir = output_directory(args.out or default_out_dir(launch),
                               "--out" if args.out else f"{args.file}: outputs.dir")
    out_dir, moved = fresh_output_directory(out_dir, args.overwrite)
    if moved:
        print(f"note: {moved}", file=sys.stderr)
    if args.record is None and launch.config.outputs.video is not None:
        _check_launch_video(launch, out_dir)
    video_path = video_path_of(launch, out_dir, args.record)
    progress = progress_printer(launch.name)
    result = run_launch(launch, out_dir, progress)
    if progress is not None:
        progress.close()  # a run that stopped short of its end leaves its bar open
    print(format_summary(result.metrics, result.out_dir, result.plots, launch))
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
    from neuroctl.evaluate import EpisodeFailed, evaluate, format_table, progress_stream
    from neuroctl.launchfile import MAX_SEED, resolve_launch_path
    from neuroctl.runtime.files import atomic_write_json, write_with_fallback
    from neuroctl.sweep import default_workers

    args.file = resolve_launch_path(args.file)
    check_executor(args)
    workers = args.workers or (default_workers() if args.executor == "ray" else 1)
    last_seed = args.first_seed + args.seeds - 1
    if last_seed > MAX_SEED:
        raise UsageError(f"--seeds: {args.seeds} seeds from --first-seed {args.first_seed} end at seed "
                         f"{last_seed}; seeds are at most {MAX_SEED} (2**32 - 1)")
    seeds = list(range(args.first_seed, last_seed + 1))
    out_dir = output_directory(args.out or Path("runs") / "eval" / args.file.stem, "--out")
    out_dir, moved = fresh_output_directory(out_dir, args.overwrite)
    if moved:
        print(f"note: {moved}", file=sys.stderr)
    try:
        report = evaluate(args.file, seeds, args.controller or [None], progress_stream(), workers, args.executor,
                          args.address)
    except EpisodeFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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


def check_executor(args: argparse.Namespace) -> None:
    """--executor ray needs Ray installed; --address needs --executor ray."""
    import importlib.util

    if args.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise UsageError("--executor ray: Ray is not installed here: pip install -e '.[ray]' (or 'neuroctl[ray]')")
    if args.address and args.executor != "ray":
        raise UsageError("--address: only with --executor ray")


def cmd_sweep(args: argparse.Namespace) -> int:
    import time

    from neuroctl.progress import ProgressBar, is_terminal
    from neuroctl.sweep import run_sweep

    check_executor(args)
    out_dir = output_directory(args.out or Path("runs") / "sweep" / args.file.stem, "--out")
    results = out_dir / "trials.jsonl"
    if results.exists() and results.stat().st_size and not args.resume:
        raise UsageError(f"--out: {str(results)!r} already holds trials: --resume runs the rest, or choose "
                         f"another directory")
    bar = ProgressBar("sweep", None, "trials", sys.stderr) if is_terminal(sys.stderr) else None

    started, first_done = time.monotonic(), None

    def progress(done: int, total: int) -> None:  # tqdm's status line: done/total, rate, time left, elapsed
        nonlocal first_done
        if bar is None:
            return
        first_done = done - 1 if first_done is None else first_done  # trials already there (--resume)
        rate = (done - first_done) / max(time.monotonic() - started, 1e-9)
        bar.status(f"{done}/{total} trials, {rate:.2f}/s, about {(total - done) / rate:.0f} s left")

    try:
        report = run_sweep(args.file, out_dir, args.workers, args.resume, progress, args.executor, args.address)
    except KeyboardInterrupt:
        print(f"interrupted: the finished trials are in {results}; --resume runs the rest", file=sys.stderr)
        return EXIT_SIGINT
    finally:
        if bar is not None:
            bar.close()
    print((out_dir / "summary.md").read_text(), end="")
    print(f"results: {results} ({report['finished']} of {report['trials']} trials), {out_dir / 'summary.json'}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from neuroctl.bench.suite import run_suite

    out_dir, moved = fresh_output_directory(args.out or Path("runs") / "bench" / args.file.stem, args.overwrite)
    if moved:
        print(f"note: {moved}", file=sys.stderr)
    return run_suite(args.file, out_dir, args.repeat)


def cmd_check(args: argparse.Namespace) -> int:
    from neuroctl.config import ConfigError, load_yaml
    from neuroctl.control.registry import load_controller_config
    from neuroctl.launchfile import load_launch, resolve_launch_path

    args.file = resolve_launch_path(args.file)
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
    from neuroctl.launchfile import packaged_launch_dir, packaged_launch_names

    print("environments: " + ", ".join(k for k in gymnasium.registry if k.startswith("neuroctl/")))
    print(f"launch files ({packaged_launch_dir()}): {', '.join(packaged_launch_names())}")
    return 0


def format_summary(metrics: dict, out_dir: Path, plots: Sequence[Path] = (), launch: Launch | None = None) -> str:
    """The summary a run prints: what ran (with the controller config's key parameters when `launch` is
    given), the result and task metrics, latency, activity, energy and EDP per tick on every hardware
    profile beside the dense twin's, faults and where the results are."""
    from neuroctl.metrics.report import faults_summary, stolen_note
    from neuroctl.runtime.realtime import realtime_summary

    task, latency, deadline, activity = (metrics["task"], metrics["latency_us"], metrics["deadline"],
                                         metrics["activity"])
    status = "succeeded" if task["success"] else (
        "interrupted" if metrics["interrupted"] else
        "aborted on overrun" if metrics["aborted"] else f"failed at tick {task['terminated_at_tick']}")
    rows = [
        ("run", f"{metrics['env']} / {metrics['controller']} / seed {metrics['seed']} / {metrics['mode']}"),
        *([("controller", _controller_row(launch))] if launch is not None else []),
        ("result", f"{status} after {metrics['duration_s']:.3f} s ({metrics['ticks']} ticks of "
                   f"{metrics['control_period_s'] * 1e3:g} ms)"),
        ("task", f"return {task['return']:.1f}, cost {_number(task['cost'])}"),
        *([("task metrics", _task_metrics_row(task["metrics"]))] if task.get("metrics") else []),
        ("controller latency", _latency_row(latency["controller"])),
        ("tick latency", _latency_row(latency["tick"])),
        ("deadline", f"{deadline['misses']} misses ({100 * deadline['miss_rate']:.3f}%; "
                     f"{_causes(deadline['misses_by_cause'])}), lateness p50 "
                     f"{deadline['lateness_us']['p50']:.1f} us, p99 {deadline['lateness_us']['p99']:.1f} us, "
                     f"max {deadline['lateness_us']['max']:.1f} us{_then(stolen_note(deadline.get('host_steal_s')))}"
                     if metrics["mode"] == "realtime" else "fast mode: not paced"),
        *([("realtime", realtime_summary(metrics["realtime"]))] if metrics.get("realtime") else []),
        ("activity per tick", f"{activity['spikes_per_tick']:.1f} spikes, "
                              f"{activity['synaptic_events_per_tick']:.1f} synaptic events, "
                              f"{activity['dense_macs_per_tick']:.0f} dense-equivalent MACs"),
        *_energy_rows(metrics),
        ("faults", faults_summary(metrics["faults"])),
        ("results", str(out_dir)),
    ]
    if plots:
        rows.append(("plots", ", ".join(path.name for path in plots)))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _then(note: str) -> str:
    """"; note", or "" for no note."""
    return f"; {note}" if note else ""


def _causes(by_cause: dict[str, int]) -> str:
    """`compute 0, stalled 3, carried 1`: the misses per cause (`neuroctl.runtime.loop`)."""
    return ", ".join(f"{cause} {n}" for cause, n in by_cause.items())


SUMMARY_PARAMETERS = 7
"""At most this many of a controller config's scalar parameters go into the summary."""


def _controller_row(launch: Launch) -> str:
    """`mpc_spiking from configs/controllers/cartpole_mpc.yaml: horizon 20, iterations 20, ...`: the
    config file and its first scalar parameters (numbers, names, flags; not the weight lists)."""
    import dataclasses
    import os

    config = launch.controller_config
    parameters = []
    if dataclasses.is_dataclass(config):
        for item in dataclasses.fields(config):
            value = getattr(config, item.name)
            if isinstance(value, (bool, int, float, str)):
                parameters.append(f"{item.name} {value:g}" if isinstance(value, float) and not isinstance(value, bool)
                                  else f"{item.name} {value}")
    try:
        shown_path = os.path.relpath(launch.controller_path)
    except ValueError:  # another drive (Windows)
        shown_path = str(launch.controller_path)
    if shown_path.startswith(".." + os.sep + ".."):
        shown_path = str(launch.controller_path)
    listed = ", ".join(parameters[:SUMMARY_PARAMETERS])
    return f"{launch.controller_kind} from {shown_path}" + (f": {listed}" if listed else "")


def _energy_rows(metrics: dict) -> list[tuple[str, str]]:
    """Energy and EDP per tick on each hardware profile (metrics.json's `energy`), and, for a spiking
    controller (charged for events), its dense twin's beside it: the same tick's dense-equivalent MACs
    priced on the same profile (`tick_energy`). Energy is always modelled; a delay is measured (this
    machine's controller time) or modelled (the profile's per-operation times). The dense twin was not
    run, so on a measured-delay profile its delay (and EDP) is unknown: `neuroctl bench` measures it."""
    import math

    from neuroctl.metrics.energy import shipped_profiles, tick_energy

    energy = metrics.get("energy")
    if not energy or not energy.get("profiles"):
        return []
    charged = energy.get("charged_counts_per_tick", {})
    dense_macs = metrics["activity"].get("dense_macs_per_tick", 0.0)
    spiking = "dense_macs" not in charged and dense_macs > 0
    twins = {}
    if spiking:
        for profile in shipped_profiles():
            twins[profile.name] = tick_energy(profile, {"dense_macs": dense_macs}, math.nan)
    rows = [("energy per tick", "modelled energy, EDP (delay: measured here or modelled)"
                                + (f"  |  dense twin, {dense_macs:.0f} MACs (not run: its delay is "
                                   "unknown where measured)" if spiking else ""))]
    texts = [(name, _energy_entry(entry)) for name, entry in energy["profiles"].items()]
    width = max(len(text) for _, text in texts)
    for name, text in texts:
        if spiking:
            twin = twins.get(name)
            text = f"{text:<{width}}  |  " + ("n/a (no such profile)" if twin is None else _energy_entry(twin))
        rows.append((f"  {name}", text))
    return rows


def _energy_entry(entry: dict) -> str:
    import math

    if not entry.get("applicable"):
        return f"n/a ({entry.get('reason', 'not applicable')})"
    energy_j = entry.get("energy_with_host_j", entry["energy_j"])
    text = _si(energy_j, "J") + (" with host" if "energy_with_host_j" in entry else "")
    edp = entry["edp_js"]
    if edp is None or not math.isfinite(edp):
        return text
    return f"{text}, EDP {edp:.3g} J s ({entry['delay_basis']} {_si(entry['delay_s'], 's')})"


def _si(value: float, unit: str) -> str:
    """3 significant digits with an SI prefix: 4.53 uJ, 35.6 nJ, 45.4 us."""
    if value == 0:
        return f"0 {unit}"
    for scale, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _number(value: float | None) -> str:
    return "null (not finite)" if value is None else f"{value:.4g}"


def _task_metrics_row(task_metrics: dict) -> str:
    """The environment's task metrics that are single numbers, e.g. `final_distance_m 0.00048`."""
    return ", ".join(f"{name} {_number(value)}" for name, value in task_metrics.items()
                     if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)))


def _latency_row(stats: dict) -> str:
    return f"p50 {stats['p50']:.1f} us, p99 {stats['p99']:.1f} us, max {stats['max']:.1f} us"
