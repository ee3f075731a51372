"""Running one trial, and the results file every finished trial is appended to.

A worker keeps the environment and built controller of the configuration it ran last
(`neuroctl.run.LaunchRunner`: reset, not rebuild, bit-identical to a fresh build), so a worker that
runs the seeds of one configuration one after another builds it once.

`DIR/trials.jsonl` holds one JSON line per finished trial: `config_id`, `controller`, `setting`
(key path -> value), `seed`, `status` ("ok" or "failed" with `error`), `attempts`, and for an ok trial
`success`, `cost`, `task_metrics`, `latency_us` (controller p50/p99), `activity` (per tick),
`energy_j_per_tick` (per hardware profile; null where it does not apply), `host` and `pid` (the
worker's), `wall_s` (the trial's time in its worker, a build of its configuration included). A line is written whole and flushed at once (`append`); a cut last line (a crash while
writing) is ignored on reading.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from neuroctl.runtime.files import json_safe
from neuroctl.sweep.spec import Trial

_runner: Any = None
_runner_path: tuple[Path, str | None] | None = None
_portable_dir: Path | None = None


@dataclass(frozen=True)
class PortableTrial:
    """A trial with its configuration's files as text, for a worker that cannot read the driver's disk."""

    trial: Trial
    launch_text: str
    controller_text: str


def portable(trial: Trial, controller_path: Path) -> PortableTrial:
    """`trial` with the text of its launch file and of the controller config it runs (`controller_path`)."""
    return PortableTrial(trial, trial.launch_path.read_text(), Path(controller_path).read_text())


def run_portable(task: PortableTrial, run: Callable[[Trial], dict[str, Any]]) -> dict[str, Any]:
    """Write the task's files into a private directory of this process (once per pair of texts), then
    `run` the trial (`run_trial`, `run_eval_episode`) from there; the line keeps the trial's own identity."""
    global _portable_dir
    if _portable_dir is None:
        _portable_dir = Path(tempfile.mkdtemp(prefix="neuroctl-sweep-"))
    texts = (task.launch_text + "\0" + task.controller_text).encode()
    directory = _portable_dir / hashlib.sha256(texts).hexdigest()[:16]
    if not directory.exists():
        directory.mkdir()
        controller = directory / "controller.yaml"
        controller.write_text(task.controller_text)
        launch = yaml.safe_load(task.launch_text)
        launch["controller"] = str(controller)
        (directory / "launch.yaml").write_text(yaml.safe_dump(launch, sort_keys=False))
    line = run(dataclasses.replace(task.trial, launch_path=directory / "launch.yaml", controller=""))
    return {**line, **identity(task.trial)}


def run_trial(trial: Trial) -> dict[str, Any]:
    """Run `trial` in this process (reusing the runner of the same configuration) and return its line."""
    started = time.perf_counter()
    metrics = _runner_for(trial.launch_path).run(trial.seed).metrics
    latency = metrics["latency_us"]["controller"]
    energy = {name: entry.get("energy_j") if entry.get("applicable") else None
              for name, entry in metrics["energy"]["profiles"].items()}
    return {**identity(trial), "status": "ok", "success": metrics["task"]["success"],
            "cost": metrics["task"]["cost"], "task_metrics": metrics["task"]["metrics"],
            "latency_us": {"p50": latency["p50"], "p99": latency["p99"]},
            "activity": metrics["activity"], "energy_j_per_tick": energy, "host": socket.gethostname(),
            "pid": os.getpid(), "wall_s": time.perf_counter() - started}


def _runner_for(launch_path: Path, controller: str | None = None) -> Any:
    """This process's runner of (launch file, controller override): the last one if it is the same,
    else the last one closed and a new one built."""
    global _runner, _runner_path
    from neuroctl.launchfile import load_launch
    from neuroctl.run import LaunchRunner

    if _runner_path != (launch_path, controller):
        if _runner is not None:
            _runner.__exit__(None, None, None)
            _runner, _runner_path = None, None
        _runner = LaunchRunner(load_launch(launch_path, controller, mode="fast"))
        _runner_path = (launch_path, controller)
    return _runner


def run_eval_episode(trial: Trial) -> dict[str, Any]:
    """`neuroctl eval`'s episode of `trial` (its launch file with `trial.controller` in place of the
    launch file's controller, or the launch file's own when empty): its `EpisodeSummary`."""
    from neuroctl.evaluate import run_episode_summary

    runner = _runner_for(trial.launch_path, trial.controller or None)
    return {**identity(trial), "status": "ok", "summary": run_episode_summary(runner, trial.seed)}


def identity(trial: Trial) -> dict[str, Any]:
    return {"config_id": trial.config_id, "controller": trial.controller, "setting": trial.setting,
            "seed": trial.seed}


def append(path: Path, line: dict[str, Any]) -> None:
    """Append one trial's line to the results file and make it durable before returning."""
    text = json.dumps(json_safe(line), sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as results:
        results.write(text)
        results.flush()
        os.fsync(results.fileno())


def read(path: Path) -> list[dict[str, Any]]:
    """The lines of a results file (none if it does not exist); a cut last line is skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = []
    for raw in text.splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return lines
