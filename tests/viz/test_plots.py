"""Plots in the run directory, and the spike rasters in trajectory.npz behind them."""

import importlib.util

import matplotlib.image
import numpy as np
import pytest

from neuroctl.control.base import SPIKES
from neuroctl.run import write_results

from viz_runs import CONTROLLERS, MPC_PUSH_LAUNCH, STATE_FEEDBACK_LAUNCH, run_into

pytestmark = pytest.mark.filterwarnings("error::UserWarning")  # e.g. a collapsed layout

PLOTS = ("state_command.png", "spike_raster.png", "latency.png", "activity_energy.png")
RUNS = pytest.mark.parametrize("run", ["state_feedback_run", "mpc_push_run"])


@RUNS
def test_every_plot_is_written_readable_and_not_blank(run, request):
    _, _, out_dir = request.getfixturevalue(run)
    for name in PLOTS:
        path = out_dir / name
        image = matplotlib.image.imread(path)
        assert path.stat().st_size > 20_000, name
        assert image.shape[0] >= 500 and image.shape[1] >= 900, (name, image.shape)
        grey = image[..., :3].mean(axis=2)
        assert grey.var() > 0.01, (name, grey.var())  # a blank or nearly blank figure is ~0
    assert not list(out_dir.glob(".*.tmp"))


@RUNS
def test_trajectory_raster_has_the_spikes_of_every_tick(run, request):
    _, result, out_dir = request.getfixturevalue(run)
    trajectory = np.load(out_dir / "trajectory.npz")
    raster, spikes = trajectory["raster"], trajectory["activity"][:, SPIKES]
    assert raster.dtype == np.uint8 and raster.shape[0] == result.metrics["ticks"]
    assert raster.sum() > 0 and set(np.unique(raster)) <= {0, 1}
    assert np.all(raster.sum(axis=(1, 2)) <= spikes)  # sampled neurons only


def test_mpc_raster_counts_every_event(mpc_push_run):
    """The spiking MPC has 24 neurons (20 gradient + 4 sensor), all sampled: raster sum = spikes."""
    _, result, out_dir = mpc_push_run
    trajectory = np.load(out_dir / "trajectory.npz")
    raster = trajectory["raster"]
    assert raster.shape[1:] == (21, 24)  # K = 20 iterations + the dual's read-out; n + nx neurons
    np.testing.assert_array_equal(raster.sum(axis=(1, 2)), trajectory["activity"][:, SPIKES])
    assert raster[:, 0, 20:].sum() > 0 and raster[:, 1:, 20:].sum() == 0  # sensor events: first row


def test_state_feedback_raster_counts_every_spike_of_a_small_network(tmp_path_factory, tmp_path):
    """8 neurons per population x 8 populations = 64 neurons, all sampled: raster sum = spikes."""
    config = tmp_path / "small.yaml"
    config.write_text("kind: spiking_state_feedback\npopulation: {neurons_per_dimension: 8}\n")
    _, result, out_dir = run_into(tmp_path_factory, STATE_FEEDBACK_LAUNCH, 0.3, controller=config)
    trajectory = np.load(out_dir / "trajectory.npz")
    raster = trajectory["raster"]
    assert raster.shape[1:] == (10, 64)
    np.testing.assert_array_equal(trajectory["raster_neurons"], np.arange(64))
    np.testing.assert_array_equal(raster.sum(axis=(1, 2)), trajectory["activity"][:, SPIKES])
    assert raster.sum() > 0


def test_no_raster_for_non_spiking_controllers(tmp_path_factory):
    dense = CONTROLLERS / "cartpole_mpc_dense.yaml"
    _, result, out_dir = run_into(tmp_path_factory, MPC_PUSH_LAUNCH, 0.2, controller=dense)
    assert not hasattr(result.controller, "spike_raster")
    assert "raster" not in np.load(out_dir / "trajectory.npz")
    assert (out_dir / "state_command.png").exists() and not (out_dir / "spike_raster.png").exists()


def test_plots_can_be_switched_off(tmp_path_factory, tmp_path):
    launch = tmp_path / "quiet.yaml"
    launch.write_text(STATE_FEEDBACK_LAUNCH.read_text().replace("outputs:\n", "outputs:\n  plots: false\n")
                      .replace("../configs", str(STATE_FEEDBACK_LAUNCH.parents[1] / "configs")))
    _, _, out_dir = run_into(tmp_path_factory, launch, 0.1)
    assert (out_dir / "metrics.json").exists() and not list(out_dir.glob("*.png"))


def test_missing_matplotlib_skips_plots_with_a_note(state_feedback_run, tmp_path, monkeypatch):
    _, result, _ = state_feedback_run
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "matplotlib" else real_find_spec(name, *args))
    notes_before = len(result.notes)
    write_results(result, tmp_path)
    assert (tmp_path / "metrics.json").exists() and not list(tmp_path.glob("*.png"))
    assert result.notes[notes_before:] == [
        "plots skipped: matplotlib is not installed (pip install 'neuroctl[viz]')"]


def test_derivative_labels_become_mathtext():
    from neuroctl.viz.plots import mathtext

    assert mathtext("cart velocity x\u0307 (m/s)") == r"cart velocity $\dot{x}$ (m/s)"
    assert mathtext("pole angular velocity \u03b8\u0307") == r"pole angular velocity $\dot{\theta}$"
    assert mathtext("pole angle \u03b8 (rad)") == "pole angle \u03b8 (rad)"


def test_held_readings_misses_and_outliers_are_found_from_the_records():
    from matplotlib.figure import Figure

    from neuroctl.viz.plots import _robust_ylim, deadline_miss_times, held_intervals

    time_s = np.arange(10) * 0.01
    raw = np.zeros((10, 2))
    raw[3, 1] = np.nan  # a NaN reading the monitor held
    raw[6:8, 0] = 5.0  # two out-of-range readings it replaced
    seen = np.where(np.isnan(raw), 0.0, raw)
    seen[6:8, 0] = 0.0
    trajectory = {"time_s": time_s, "observation": raw, "controller_observation": seen,
                  "lateness_s": np.array([0, 0, 0.004, 0, 0, 0, 0, 0, 0, 0.0]), "tick_s": np.full(10, 0.007)}
    assert np.allclose(held_intervals(trajectory, 0.01), [(0.03, 0.04), (0.06, 0.08)])
    assert deadline_miss_times(trajectory, {"mode": "realtime"}, 0.01).tolist() == [0.02]
    assert deadline_miss_times(trajectory, {"mode": "fast"}, 0.01).size == 0
    axis = Figure().subplots()
    values = np.sin(np.linspace(0, 6, 200))
    values[50] = 1e3  # one spike
    axis.plot(values)
    _robust_ylim(axis, [values])
    low, high = axis.get_ylim()
    assert -1.3 < low < -0.9 and 0.9 < high < 1.3
    assert any("1 point off scale" in text.get_text() for text in axis.texts)
