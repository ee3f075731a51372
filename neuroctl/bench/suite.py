"""`neuroctl bench FILE.yaml`: read a suite file, run it, write DIR/bench.json and DIR/bench.md.

A suite file starts with `kind` (kernel, controllers, realtime) followed by that kind's keys, validated
strictly against the kind's frozen dataclass (`neuroctl.config.parse`); every kind has `repeat`. Paths
in a suite file are relative to the file. Each kind's module has `run(config, context) -> SuiteResult`.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from neuroctl.bench.machine import load_average, machine_info
from neuroctl.bench.tables import Table
from neuroctl.progress import ProgressBar
from neuroctl.config import ConfigError, file_problem, load_yaml, parse, shown
from neuroctl.runtime.files import (OutputError, atomic_write_bytes, atomic_write_json, check_output_dir,
                                    fallback_message, write_with_fallback)
from neuroctl.runtime.signals import Interruptible

BENCH_SCHEMA = 1

SUITE_KINDS: dict[str, tuple[str, str]] = {
    "kernel": ("neuroctl.bench.kernel", "KernelSuite"),
    "controllers": ("neuroctl.bench.controllers", "ControllersSuite"),
    "realtime": ("neuroctl.bench.realtime", "RealtimeSuite"),
}
"""kind -> (module, config dataclass); the module has `run(config, context) -> SuiteResult`."""


@dataclass
class SuiteResult:
    """What a suite measured: `data` for bench.json, `tables` for bench.md, and `machine`: what the suite
    adds to the machine block (machine.suite), e.g. BLAS threads, the Brian2 venv's versions."""

    data: dict[str, Any]
    tables: list[Table]
    machine: dict[str, Any] = field(default_factory=dict)


class Progress:
    """One status line on stderr (`neuroctl.progress.ProgressBar`), rewritten in place; silent when
    stderr is not a terminal."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.line = ProgressBar(label, None, stream=stream)
        self.enabled = self.line.enabled

    def __call__(self, text: str) -> None:
        self.line.status(text)

    def done(self) -> None:
        self.line.close()


@dataclass
class SuiteContext:
    """What a suite needs besides its config: where its file is, where results go, progress."""

    path: Path
    out_dir: Path
    progress: Progress

    def resolve(self, value: str) -> Path:
        """A path from the suite file: `~` expanded, relative paths taken from the suite file's folder."""
        path = Path(value).expanduser()
        return Path(os.path.abspath(path if path.is_absolute() else self.path.parent / path))

    def existing_file(self, value: str, key: str) -> Path:
        """`resolve(value)`, which must be a file; otherwise a ConfigError on `key` of the suite file."""
        path = self.resolve(value)
        problem = file_problem(path)
        if problem is not None:
            raise ConfigError(self.path, key, f"{problem}: {str(path)!r}")
        return path


def load_suite(path: Path, repeat: int | None = None) -> tuple[str, Any]:
    """(kind, config) of a suite file; `repeat` (from the command line) replaces the file's."""
    data = load_yaml(path)
    kind = data.pop("kind", None)
    if not isinstance(kind, str) or kind not in SUITE_KINDS:
        got = "missing" if kind is None else f"unknown suite kind {shown(kind)}"
        raise ConfigError(path, "kind", f"{got}; expected one of: {', '.join(SUITE_KINDS)}")
    module_name, class_name = SUITE_KINDS[kind]
    config = parse(getattr(importlib.import_module(module_name), class_name), data, path)
    if repeat is not None:
        config = dataclasses.replace(config, repeat=repeat)
    return kind, config


def run_suite(path: Path, out_dir: Path | None, repeat: int | None) -> int:
    """Run the suite in `path`; write bench.json and bench.md into `out_dir` (default runs/bench/<stem>),
    or into a fallback directory if that fails after the suite ran (exit code 1, said on stderr).

    SIGINT/SIGTERM stop the whole suite at once (`neuroctl.runtime.signals.Interrupted`): nothing is
    written, as a suite's figures are only meaningful complete."""
    path = Path(path)
    kind, config = load_suite(path, repeat)
    out_dir = Path(out_dir or Path("runs") / "bench" / path.stem)
    try:
        check_output_dir(out_dir)
    except OutputError as exc:
        raise ConfigError("--out", "", f"cannot write results to {exc.path!r}: {exc.problem}") from None
    context = SuiteContext(path, out_dir, Progress(f"bench {path.stem}"))
    machine = machine_info()
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.perf_counter()
    try:
        with Interruptible():
            result = importlib.import_module(SUITE_KINDS[kind][0]).run(config, context)
    finally:
        context.progress.done()
    machine["load_average_end"] = load_average()
    machine["suite"] = result.machine
    document = {
        "schema": BENCH_SCHEMA,
        "suite": kind,
        "file": str(path),
        "command": _command(path, out_dir, repeat),
        "started_utc": started.isoformat(timespec="seconds"),
        "elapsed_s": round(time.perf_counter() - clock, 3),
        "repeat": config.repeat,
        "config": dataclasses.asdict(config),
        "machine": machine,
        "results": result.data,
    }
    text = markdown(document, result.tables).encode()

    def write(directory: Path) -> None:
        atomic_write_json(directory / "bench.json", document)
        atomic_write_bytes(directory / "bench.md", text)
    kept_in, problem = write_with_fallback(write, out_dir, "bench")
    print(f"{kind} suite: {kept_in / 'bench.md'}, {kept_in / 'bench.json'}")
    if problem is not None:
        print(fallback_message(out_dir, kept_in, problem), file=sys.stderr)
        return 1
    return 0


def _command(path: Path, out_dir: Path, repeat: int | None) -> str:
    """The command that reproduces this run."""
    return f"neuroctl bench {path} --out {out_dir}" + (f" --repeat {repeat}" if repeat is not None else "")


def markdown(document: dict[str, Any], tables: list[Table]) -> str:
    """bench.md: what ran, on which machine, then the suite's tables."""
    machine = document["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items() if version)
    lines = [
        f"## `{document['command']}`",
        "",
        f"- when: {document['started_utc']}, {document['elapsed_s']:.0f} s, repeat {document['repeat']}",
        f"- machine: {machine['cpu_model']}, {machine['cores']} cores ({machine['cores_usable']} usable), "
        f"{machine['platform']}, Python {machine['python']}",
        f"- versions: {versions}",
        f"- load average (1/5/15 min) at start {_triple(machine['load_average_start'])}, "
        f"at end {_triple(machine['load_average_end'])}",
    ]
    lines += [f"- {key}: {_flat(value)}" for key, value in machine["suite"].items()]
    for table in tables:
        lines += ["", table.markdown()]
    return "\n".join(lines) + "\n"


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _triple(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)
