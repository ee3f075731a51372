"""SIGINT/SIGTERM at any point of `neuroctl launch`, the `abort` overrun policy end to end, and atomic
result files: a stopped run still leaves complete results, and no half-written file ever exists."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import neuroctl.control.lqr
from neuroctl.cli import main
from neuroctl.runtime.files import FILE_MODE, atomic_write_bytes, atomic_write_json
from neuroctl.runtime.recorder import Recorder

from .conftest import LQR_CONFIG, SPIKING_CONFIG, launch_text

DRIVER = Path(__file__).with_name("signal_driver.py")
METRICS_KEYS = {"schema", "env", "controller", "seed", "mode", "control_period_s", "duration_s", "ticks",
                "interrupted", "aborted", "task", "latency_us", "deadline", "activity", "faults", "energy",
                "realtime", "neurobench"}


def write_launch(tmp_path, controller, run):
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(controller, run=run))
    return path


def assert_complete_results(out_dir: Path, ticks: int, **flags) -> dict:
    """metrics.json with every key and the given flags, a trajectory of `ticks` ticks, no temp files."""
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert set(metrics) == METRICS_KEYS
    assert metrics["ticks"] == ticks and all(metrics[flag] == value for flag, value in flags.items())
    trajectory = np.load(out_dir / "trajectory.npz")
    assert len(trajectory["observation"]) == len(trajectory["action"]) == ticks
    assert not list(out_dir.glob(".*.tmp"))
    return metrics


@pytest.mark.parametrize("when, how, ticks", [
    ("build", "TERM", 0),   # before the run's network exists
    ("warmup", "INT", 0),   # while the kernels compile / load and run once
    ("tick", "INT", 20),    # in the loop, fast mode
    ("tick", "TERM", 20),
])
def test_signal_stops_the_run_with_complete_results(tmp_path, when, how, ticks):
    launch = write_launch(tmp_path, SPIKING_CONFIG, "{duration_s: 5.0}")
    result = subprocess.run([sys.executable, str(DRIVER), when, how, "launch", str(launch), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == (143 if how == "TERM" else 130), result.stderr
    assert "Traceback" not in result.stderr and "interrupted" in result.stdout
    assert_complete_results(tmp_path / "out", ticks, interrupted=True, aborted=False)


def test_sigterm_from_outside_in_realtime_mode(tmp_path):
    """SIGTERM sent by another process while the loop paces 10 ms ticks to the wall clock."""
    launch = write_launch(tmp_path, LQR_CONFIG, "{duration_s: 60.0, mode: realtime}")
    process = subprocess.Popen([sys.executable, str(DRIVER), "tick", "announce", "launch", str(launch),
                                "--out", str(tmp_path / "out")], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert "tick 20" in iter(lambda: process.stderr.readline().strip(), "")  # pybullet prints a line first
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 143 and "Traceback" not in stderr
    ticks = json.loads((tmp_path / "out" / "metrics.json").read_text())["ticks"]
    assert 20 <= ticks < 6000
    assert_complete_results(tmp_path / "out", ticks, interrupted=True, mode="realtime")


def test_abort_policy_stops_cleanly_with_complete_results(tmp_path, capsys, monkeypatch):
    """A controller call of 40 ms at a 10 ms period misses its deadline: the run stops after that tick."""
    calls = []
    act = neuroctl.control.lqr.LQRController.act

    def slow_sixth_call(self, observation, reference=None):
        calls.append(None)
        if len(calls) == 6:  # call 1 is the warm-up's: this is tick 5 (the 5th stall is on tick 4)
            time.sleep(0.04)
        return act(self, observation, reference)

    monkeypatch.setattr(neuroctl.control.lqr.LQRController, "act", slow_sixth_call)
    launch = write_launch(tmp_path, LQR_CONFIG, "{duration_s: 2.0, mode: realtime, overrun_policy: abort}")
    assert main(["launch", str(launch), "--out", str(tmp_path / "out")]) == 0
    assert "aborted on overrun" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert 1 <= metrics["ticks"] <= 5  # the machine may stall a tick earlier than the slow call
    assert_complete_results(tmp_path / "out", metrics["ticks"], aborted=True, interrupted=False)
    assert metrics["deadline"]["misses"] == 1 and metrics["task"]["success"] is False


# ---- atomic writes ----


@pytest.fixture
def old_file(tmp_path):
    path = tmp_path / "metrics.json"
    atomic_write_json(path, {"old": True})
    return path


def assert_old_file_intact(path: Path) -> None:
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_serialisation_error_leaves_the_old_file(old_file):
    with pytest.raises(TypeError):
        atomic_write_json(old_file, {"cost": object()})
    assert_old_file_intact(old_file)


def test_non_finite_figures_are_written_as_null(tmp_path):
    """JSON has no NaN or infinity: they are written as null, wherever they sit, numpy's too."""
    path = tmp_path / "metrics.json"
    atomic_write_json(path, {"cost": float("inf"), "p": [1.5, float("nan"), np.float64(-np.inf)],
                             "n": {"k": np.int64(3), "e": np.float32(2.5)}})
    assert json.loads(path.read_text()) == {"cost": None, "p": [1.5, None, None], "n": {"k": 3, "e": 2.5}}


def test_crash_during_the_write_leaves_the_old_file(old_file, monkeypatch):
    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_json(old_file, {"new": True})
    assert_old_file_intact(old_file)


def test_interrupt_during_the_trajectory_serialisation_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "trajectory.npz"
    atomic_write_bytes(path, b"old")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Recorder(10, 4, 1, ("control",)).save_npz(path)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_killed_writer_never_leaves_a_partial_file(tmp_path):
    """SIGKILL while a process rewrites an 8 MB file in a loop: the file is always one complete version."""
    path = tmp_path / "big.bin"
    writer = ("import sys, itertools\nfrom neuroctl.runtime.files import atomic_write_bytes\n"
              "for i in itertools.count():\n"
              "    atomic_write_bytes(sys.argv[1], bytes([i % 256]) * 8_000_000)\n"
              "    print(i, flush=True)\n")
    process = subprocess.Popen([sys.executable, "-c", writer, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(3):
            process.stdout.readline()
        process.kill()
    finally:
        process.wait(timeout=30)
    data = path.read_bytes()
    assert len(data) == 8_000_000 and data == data[:1] * len(data)


def test_result_files_get_the_usual_permissions(tmp_path):
    path = tmp_path / "metrics.json"
    atomic_write_json(path, {})
    assert path.stat().st_mode & 0o777 == FILE_MODE
