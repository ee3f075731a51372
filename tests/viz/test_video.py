"""Videos rendered after the run from the logged states: real-time frame counts, readable, not blank."""

import math

import gymnasium

import imageio.v3 as iio
import numpy as np
import pytest
from viz_runs import CONTROLLERS, STATE_FEEDBACK_LAUNCH

from neuroctl.cli import main
from neuroctl.launchfile import make_env
from neuroctl.run import record_video
from neuroctl.viz.video import Overlay, frame_stride, logged_observations

LQR = CONTROLLERS / "cartpole_lqr.yaml"


def read_frames(path):
    return np.stack(list(iio.imiter(path)))


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_video_plays_in_real_time_and_shows_the_robot(mpc_push_run, tmp_path, suffix):
    launch, result, _ = mpc_push_run
    path = tmp_path / f"run{suffix}"
    progress = []
    report = record_video(launch, result, path, lambda k, total: progress.append((k, total)))
    frames = read_frames(path)
    ticks = result.metrics["ticks"]  # 150 ticks of 10 ms: every 4th tick, 25 fps
    assert frame_stride(0.01) == 4 and report.fps == pytest.approx(25.0)
    assert len(frames) == report.frames == math.ceil(ticks / 4) == 38
    assert frames.shape[1:] == (240, 320, 3) and report.frame_size == (320, 240)
    assert progress[-1] == (38, 38)
    if suffix == ".gif":
        assert iio.immeta(path)["duration"] == 40  # ms per frame
    else:
        assert iio.immeta(path, plugin="FFMPEG")["fps"] == pytest.approx(25.0)
    frame = frames[10].astype(np.float64)
    assert frame.mean(axis=2).var() > 50  # the cart, pole, rail and overlay on a white background
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_frames_follow_the_logged_states(state_feedback_run, tmp_path):
    """Frame i is render_observation of the logged observation of tick 4 i (below the overlay's text)."""
    launch, result, _ = state_feedback_run
    path = tmp_path / "run.gif"
    record_video(launch, result, path)
    frames = read_frames(path).astype(np.float64)
    assert len(frames) == 25
    env = make_env(launch)
    try:
        expected = [env.unwrapped.render_observation(result.recorder.observation[k]) for k in (0, 96)]
    finally:
        env.close()
    below_text = slice(60, None)
    for frame, tick_frame in ((frames[0], expected[0]), (frames[24], expected[1])):
        assert np.abs(frame[below_text] - tick_frame[below_text]).mean() < 0.1
    assert np.abs(frames[0][below_text] - expected[1][below_text]).mean() > 0.5  # the robot moved


def test_overlay_names_time_latency_spikes_and_pushes(mpc_push_run):
    _, result, _ = mpc_push_run
    overlay = Overlay(result.trajectory(), result.info)
    tick = 102  # inside the push at [1.0, 1.1) s
    lines = overlay.lines(tick)
    assert lines[0] == "t = 1.02 s" and lines[1].startswith("tick compute ") and lines[1].endswith(" us")
    assert lines[2] == f"spikes this tick: {result.recorder.activity[tick, 0]}"
    assert overlay.push_text(tick) == "push +1 N" and overlay.push_text(50) == ""


def test_position_only_observations_are_rendered_at_rest():
    """The cart-pole draws a position-only observation [x, theta] with zero speeds."""
    env = gymnasium.make("neuroctl/CartPoleBalance-v0", position_only=True).unwrapped
    full = gymnasium.make("neuroctl/CartPoleBalance-v0").unwrapped
    np.testing.assert_array_equal(env.render_observation([0.3, 0.2]), full.render_observation([0.3, 0.2, 0.0, 0.0]))
    env.close()
    full.close()


def test_noisy_observations_are_rendered_with_a_note():
    _, notes = logged_observations(np.zeros((2, 4)), noise_std=0.01)
    assert notes == ("the observation is noisy (std 0.01): the video shows the noisy observations, not the true "
                     "state",)


def test_launch_file_video_is_written_into_the_run_directory(tmp_path, capsys):
    launch = tmp_path / "video.yaml"
    launch.write_text(f"env: {{id: neuroctl/CartPoleBalance-v0}}\ncontroller: {LQR}\n"
                      "run: {duration_s: 0.4}\noutputs: {video: clip.gif, plots: false}\n")
    assert main(["launch", str(launch), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "video: " in out and "(10 frames, 320x240, 25 fps, real time;" in out
    assert len(read_frames(tmp_path / "out" / "clip.gif")) == 10


@pytest.mark.parametrize("args, expected", [
    (["--record", "out.txt"], "error: neuroctl launch: argument --record: expected a path ending in .mp4 or "
                              ".gif, got 'out.txt'\n"),
    (["--record", "out"], "error: neuroctl launch: argument --record: expected a path ending in .mp4 or "
                          ".gif, got 'out'\n"),
])
def test_bad_record_path_is_a_one_line_usage_error(tmp_path, capsys, args, expected):
    code = main(["launch", str(STATE_FEEDBACK_LAUNCH), "--out", str(tmp_path / "out"), *args])
    assert code == 2 and capsys.readouterr().err == expected
    assert not (tmp_path / "out").exists()


def test_bad_launch_file_video_is_a_one_line_config_error(tmp_path, capsys):
    launch = tmp_path / "video.yaml"
    launch.write_text(f"env: {{id: neuroctl/CartPoleBalance-v0}}\ncontroller: {LQR}\n"
                      "outputs: {video: a.avi}\n")
    assert main(["launch", str(launch), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"error: {launch}: outputs.video: expected a path ending in .mp4 or "
                                       ".gif, got 'a.avi'\n")
    assert not (tmp_path / "out").exists()


def test_non_finite_readings_show_the_last_finite_state():
    logged = np.array([[np.nan, 0.0, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4], [0.5, np.inf, 0.0, 0.0]])
    states, notes = logged_observations(logged, noise_std=0.0)
    np.testing.assert_array_equal(states, [[0.0] * 4, [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]])
    assert notes == ("2 ticks logged a non-finite reading: they show the last finite one",)
