"""Output paths (issue 9, class 3): checked before a run so that a finished run is never lost to them,
non-finite figures written as JSON null, and a write that fails after the run (full disk, the directory
replaced) keeps the results in a fallback directory named in one line, with exit code 1."""

import errno
import json
from pathlib import Path

import numpy as np
import pytest

import neuroctl.run
import neuroctl.runtime.files
import neuroctl.runtime.recorder
from neuroctl.cli import main

from .conftest import LQR_CONFIG, launch_text

RUN = "{duration_s: 0.2}"


@pytest.fixture
def launch(tmp_path) -> Path:
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(LQR_CONFIG, run=RUN))
    return path


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_an_infinite_cost_is_written_as_null(tmp_path, capsys, recwarn):
    """Task weights of 1e308 make the cost overflow to inf: metrics.json stays valid JSON, with null."""
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(LQR_CONFIG, run=RUN, kwargs="{initial_theta_rad: [0.1, 0.1]}")
                    + "task: {cost_q: [1.0e+308, 1.0e+308, 1.0e+308, 1.0e+308], cost_r: [1.0e+308]}\n")
    assert main(["launch", str(path), "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["task"]["cost"] is None and metrics["ticks"] == 20
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)] and "Warning" not in capsys.readouterr().err


def setups():
    """name -> (function of tmp_path making the bad output directory, expected problem)."""
    def dangling(tmp):
        (tmp / "out").symlink_to(tmp / "nowhere")
        return tmp / "out"

    def loop(tmp):
        (tmp / "out").symlink_to(tmp / "out")
        return tmp / "out"

    def a_file(tmp):
        (tmp / "out").write_text("")
        return tmp / "out"

    def under_a_file(tmp):
        (tmp / "file").write_text("")
        return tmp / "file" / "run"

    return {
        "under /proc": (lambda tmp: Path("/proc/neuroctl-test/run"), "/proc"),
        "a dangling symlink": (dangling, "is a symbolic link to nothing (dangling or a loop)"),
        "a symlink loop": (loop, "is a symbolic link to nothing (dangling or a loop)"),
        "a file": (a_file, "it exists and is not a directory"),
        "under a file": (under_a_file, "file' is not a directory"),
        "a name too long": (lambda tmp: tmp / ("n" * 256), "a component of the path is longer than 255 bytes"),
        "under /dev/null": (lambda tmp: Path("/dev/null/run"), "'/dev/null' is not a directory"),
    }


@pytest.mark.parametrize("name", list(setups()))
def test_a_bad_output_directory_is_refused_before_the_run(tmp_path, capsys, monkeypatch, launch, name):
    make, expected = setups()[name]
    out = make(tmp_path)
    ran = []
    monkeypatch.setattr(neuroctl.run, "run_episode", lambda *a, **k: ran.append(1))
    assert main(["launch", str(launch), "--out", str(out)]) == 2
    err = one_line(capsys)
    assert err.startswith(f"error: --out: cannot write results to '{out}'") and expected in err, err
    assert not ran


def test_an_output_directory_with_a_nul_byte_in_the_launch_file(tmp_path, capsys):
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(LQR_CONFIG, run=RUN).replace("outputs: {plots: false}",
                                                             'outputs: {plots: false, dir: "a\\0b"}'))
    assert main(["launch", str(path)]) == 2
    assert f"error: {path}: outputs.dir: cannot write results to 'a\\\\x00b': the path contains a NUL byte" \
        in one_line(capsys)


@pytest.mark.parametrize("target, expected", [
    ("file/video.gif", "is not a directory"),
    ("adir.gif", "it is a directory; expected a file name"),
    ("/proc/neuroctl-test/video.gif", "cannot write to"),
])
def test_a_video_path_that_could_not_be_written_is_refused_before_the_run(tmp_path, capsys, launch, target,
                                                                          expected):
    (tmp_path / "file").write_text("")
    (tmp_path / "adir.gif").mkdir()
    record = target if target.startswith("/") else str(tmp_path / target)
    assert main(["launch", str(launch), "--out", str(tmp_path / "out"), "--record", record]) == 2
    err = one_line(capsys)
    assert "--record" in err and expected in err and not (tmp_path / "out").exists()


def test_an_outputs_video_that_is_a_directory_is_refused_before_the_run(tmp_path, capsys):
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(LQR_CONFIG, run=RUN).replace("outputs: {plots: false}",
                                                             "outputs: {plots: false, video: v.gif}"))
    (tmp_path / "out" / "v.gif").mkdir(parents=True)
    assert main(["launch", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "outputs.video: cannot write to" in one_line(capsys)


def failing_writes_under(directory: Path, monkeypatch, code: int = errno.ENOSPC) -> None:
    """Every atomic write into `directory` fails as on a full disk."""
    write = neuroctl.runtime.files.atomic_write_bytes

    def full(path, data):
        if Path(path).resolve().is_relative_to(directory.resolve()):
            raise OSError(code, "simulated")
        write(path, data)
    monkeypatch.setattr(neuroctl.runtime.files, "atomic_write_bytes", full)
    monkeypatch.setattr(neuroctl.runtime.recorder, "atomic_write_bytes", full)


def fallback_of(err: str) -> Path:
    return Path(err.rsplit("they are kept in '", 1)[1].split("'")[0])


def test_a_full_disk_after_the_run_keeps_the_results_elsewhere(tmp_path, capsys, monkeypatch, launch):
    failing_writes_under(tmp_path / "out", monkeypatch)
    assert main(["launch", str(launch), "--out", str(tmp_path / "out")]) == 1
    err = one_line(capsys)
    assert f"error: cannot write results to '{tmp_path / 'out'}': no space left on the device; they are kept in" in err
    kept = fallback_of(err)
    assert json.loads((kept / "metrics.json").read_text())["ticks"] == 20
    assert len(np.load(kept / "trajectory.npz")["action"]) == 20 and kept.stat().st_mode & 0o077 == 0


def test_an_output_directory_replaced_by_a_file_mid_run(tmp_path, capsys, monkeypatch, launch):
    run_episode = neuroctl.run.run_episode
    out = tmp_path / "out"

    def replacing(*args, **kwargs):
        outcome = run_episode(*args, **kwargs)
        out.write_text("not a directory any more")
        return outcome
    monkeypatch.setattr(neuroctl.run, "run_episode", replacing)
    assert main(["launch", str(launch), "--out", str(out)]) == 1
    err = one_line(capsys)
    assert f"cannot write results to '{out}'" in err
    assert json.loads((fallback_of(err) / "metrics.json").read_text())["ticks"] == 20


def test_results_lost_everywhere_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch, launch):
    def full(path, data):
        raise OSError(errno.ENOSPC, "simulated")
    monkeypatch.setattr(neuroctl.runtime.files, "atomic_write_bytes", full)
    monkeypatch.setattr(neuroctl.runtime.recorder, "atomic_write_bytes", full)
    assert main(["launch", str(launch), "--out", str(tmp_path / "out")]) == 1
    assert "nor to a temporary directory (no space left on the device): the results are lost" in one_line(capsys)


def test_eval_results_kept_elsewhere(tmp_path, capsys, monkeypatch, launch):
    failing_writes_under(tmp_path / "out", monkeypatch, errno.EROFS)
    assert main(["eval", str(launch), "--seeds", "2", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "read-only file system; they are kept in" in err
    report = json.loads((fallback_of(err) / "eval.json").read_text())
    assert len(report["controllers"][0]["episodes"]) == 2


@pytest.mark.parametrize("out", ["/dev/null/bench", "/proc/neuroctl-bench"])
def test_bench_out_is_checked_before_the_suite_runs(tmp_path, capsys, monkeypatch, out):
    import neuroctl.bench.kernel

    ran = []
    monkeypatch.setattr(neuroctl.bench.kernel, "run", lambda *a: ran.append(1))
    suite = tmp_path / "kernel.yaml"
    suite.write_text("kind: kernel\nnetworks: [{neurons: 10, connectivity: 0.1}]\n")
    assert main(["bench", str(suite), "--out", out]) == 2
    assert one_line(capsys).startswith(f"error: --out: cannot write results to '{out}'") and not ran
