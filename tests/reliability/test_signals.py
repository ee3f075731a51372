"""SIGINT/SIGTERM wherever they land in a command (issue 9, class 4 and 6): the environment build and the
warm-up with plots on, the metrics of a finished run, an evaluation, a benchmark suite, the video, and the
package's own imports. Each ends with the right exit code (130 for SIGINT, 143 for SIGTERM), no traceback,
and nothing half-done left behind."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import LQR_CONFIG, ROOT, SPIKING_CONFIG, launch_text

DRIVER = Path(__file__).with_name("signal_driver.py")
EXIT = {"INT": 130, "TERM": 143}


def driven(when: str, how: str, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DRIVER), when, how, *map(str, args)], capture_output=True,
                          text=True, timeout=180, cwd=cwd)


def write_launch(tmp_path: Path, controller: Path, run: str, plots: bool = False) -> Path:
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(controller, run=run).replace("plots: false", f"plots: {str(plots).lower()}"))
    return path


@pytest.mark.parametrize("when, how", [("env", "INT"), ("build", "TERM"), ("warmup", "INT")])
def test_a_run_stopped_before_its_first_tick_with_plots_on(tmp_path, when, how):
    """A zero-tick run with plots on: complete (empty) results, the plots skipped with a note."""
    launch = write_launch(tmp_path, SPIKING_CONFIG, "{duration_s: 5.0}", plots=True)
    result = driven(when, how, "launch", launch, "--out", tmp_path / "out")
    assert result.returncode == EXIT[how], result.stderr
    assert "Traceback" not in result.stderr and "note: plots skipped: the run recorded no ticks" in result.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["ticks"] == 0 and metrics["interrupted"] is True
    assert len(np.load(tmp_path / "out" / "trajectory.npz")["observation"]) == 0
    assert not list((tmp_path / "out").glob("*.png"))


def test_a_signal_after_the_last_tick_still_sets_the_exit_code(tmp_path):
    """SIGINT while a finished run's metrics are built: the results are complete (every tick ran), and
    the exit code says the run was interrupted."""
    launch = write_launch(tmp_path, LQR_CONFIG, "{duration_s: 0.3}")
    result = driven("metrics", "INT", "launch", launch, "--out", tmp_path / "out")
    assert result.returncode == 130 and "Traceback" not in result.stderr
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["ticks"] == 30


@pytest.mark.parametrize("when, how", [("metrics", "INT"), ("warmup", "TERM"), ("build", "INT")])
def test_eval_stops_at_the_signal_and_keeps_the_finished_episodes(tmp_path, when, how):
    """The first episode is interrupted (during its run, or while its metrics are built): the evaluation
    stops there, writes a partial eval.json and exits with the signal's code; no later episode runs."""
    launch = write_launch(tmp_path, LQR_CONFIG, "{duration_s: 0.3}")
    result = driven(when, how, "eval", launch, "--seeds", 3, "--out", tmp_path / "out")
    assert result.returncode == EXIT[how], result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("driver: signal sent") == 1
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert report["interrupted"] is True and report["signal_number"] == getattr(signal, f"SIG{how}")
    assert report["controllers"] == []  # the interrupted episode is not counted


def test_sigterm_stops_the_whole_bench_suite(tmp_path):
    """SIGTERM in the first episode of a controllers suite stops the suite (not only that episode)."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"kind: controllers\nrepeat: 2\nlaunch: {ROOT / 'launch' / 'cartpole_mpc.yaml'}\n"
                     f"duration_s: 0.2\ncontrollers: [{LQR_CONFIG}, {SPIKING_CONFIG}]\n"
                     f"edp: {{spiking: {SPIKING_CONFIG}, dense: {LQR_CONFIG}}}\n"
                     f"tick_timing: {{controllers: [{LQR_CONFIG}], ticks: 10}}\n")
    result = driven("build", "TERM", "bench", suite, "--out", tmp_path / "out")
    assert result.returncode == 143, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("driver: signal sent") == 1
    assert "interrupted" in result.stderr and not (tmp_path / "out").exists()


def test_sigterm_while_rendering_the_video_leaves_nothing_behind(tmp_path):
    launch = write_launch(tmp_path, LQR_CONFIG, "{duration_s: 1.0}")
    video = tmp_path / "video" / "run.gif"
    video.parent.mkdir()
    result = driven("frame", "TERM", "launch", launch, "--out", tmp_path / "out", "--record", video)
    assert result.returncode == 143, result.stderr
    assert "Traceback" not in result.stderr and "video skipped: interrupted while rendering" in result.stderr
    assert list(video.parent.iterdir()) == []  # no video, no temporary directory
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["ticks"] == 100


def test_sigint_while_the_package_imports(tmp_path):
    """SIGINT at several moments of `neuroctl check` (most of them while `import neuroctl` still imports
    gymnasium): exit 130 and "interrupted", or the check completed, never a traceback. (When the
    KeyboardInterrupt passed through a C extension's own Python call, the interpreter ends itself by
    SIGINT after main returned 130: the shell sees 130 either way.)"""
    codes = []
    for delay_s in (0.1, 0.2, 0.3, 0.45, 0.6):
        process = subprocess.Popen([sys.executable, "-m", "neuroctl", "check", ROOT / "launch" / "cartpole_mpc.yaml"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        time.sleep(delay_s)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        interrupted = process.returncode in (130, -signal.SIGINT) and err == "interrupted\n"
        assert interrupted or out.startswith("ok: "), (out, err)
        codes.append(interrupted)
    assert any(codes)
