"""Tiny versions of the benchmark suites, end to end: bench.json and bench.md written, every simulator
and controller reported (measured or unavailable with a reason), numbers finite and positive.
No timing assertions: speed is what the suites measure, not what the tests check."""

import json
import math
from pathlib import Path

import pytest
import yaml

from neuroctl.bench.suite import run_suite
from neuroctl.config import load_yaml
from neuroctl.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:numpy.core is deprecated:DeprecationWarning")  # nengo 4.1 on numpy 2

ROOT = Path(__file__).resolve().parents[2]
CONTROLLERS = ROOT / "configs" / "controllers"
MPC = str(CONTROLLERS / "cartpole_mpc.yaml")
MPC_DENSE = str(CONTROLLERS / "cartpole_mpc_dense.yaml")
MPC_EXACT = str(CONTROLLERS / "cartpole_mpc_exact.yaml")
ALL_CONTROLLERS = [str(CONTROLLERS / "cartpole_balance.yaml"), MPC, MPC_DENSE, MPC_EXACT,
                   str(CONTROLLERS / "cartpole_lqr.yaml")]


def write_suite(tmp_path: Path, suite: dict) -> Path:
    path = tmp_path / f"{suite['kind']}.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def run(tmp_path: Path, suite: dict) -> tuple[dict, str]:
    out = tmp_path / "out"
    assert run_suite(write_suite(tmp_path, suite), out, None) == 0
    return json.loads((out / "bench.json").read_text()), (out / "bench.md").read_text()


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def check_machine(document: dict) -> None:
    machine = document["machine"]
    assert machine["cores"] >= 1 and machine["cpu_model"]
    for package in ("numpy", "numba", "pybullet"):
        assert machine["versions"][package]
    assert "nengo" in machine["versions"] and "brian2" in machine["versions"]
    assert len(machine["load_average_start"]) == 3 and len(machine["load_average_end"]) == 3


def check_stats(block: dict) -> None:
    assert all(positive(block[key]) for key in ("p50", "p99", "max", "mean")), block
    assert block["p50"] <= block["p99"] <= block["max"]


def test_kernel_suite_reports_every_simulator(tmp_path):
    suite = {"kind": "kernel", "repeat": 2, "networks": [{"neurons": 60, "connectivity": 0.2, "steps": 20}],
             "peers": ["nengo", "brian2", "numpy"], "warmup_steps": 10, "rate_steps": 200,
             "brian2": {"venv": str(tmp_path / "no-venv"), "create_venv": False},
             "targets": [{"neurons": 60, "connectivity": 0.2, "peer": "brian2", "min_speedup": 5}]}
    document, md = run(tmp_path, suite)
    check_machine(document)
    assert "no working Brian2 venv" in document["machine"]["suite"]["brian2_venv"]
    [network] = document["results"]["networks"]
    rows = {row["label"]: row for row in network["simulators"]}
    assert {"neuroctl", "numpy"} <= set(rows)
    for row in rows.values():
        check_stats(row["per_step_us"])
        assert positive(row["neuron_updates_per_s"]) and positive(row["rate_hz"]) and positive(row["build_s"])
    assert positive(rows["neuroctl"]["compile_s"]) and rows["numpy"]["compile_s"] is None
    assert rows["neuroctl"]["per_step_us"]["n"] == 2
    # neuroctl and its numpy reference integrate the same network: the same spikes
    assert rows["numpy"]["rate_hz"] == rows["neuroctl"]["rate_hz"]
    # a peer is measured or reported unavailable with its reason, never dropped
    assert set(network["unavailable"]) | set(rows) == {"neuroctl", "nengo", "numpy", "brian2 cython",
                                                       "brian2 cpp_standalone"}
    assert all(reason for reason in network["unavailable"].values())
    assert positive(network["speedup_of_neuroctl"]["numpy"]["p50"])
    floor = network["floor"]  # at neuroctl's own rate: spikes x fan-out x 6 bytes over the bandwidth, + 60 updates
    assert floor["bytes_per_synapse"] == 6 and positive(floor["read_bandwidth_gb_s"]) and positive(floor["neuron_update_ns"])
    assert floor["spikes_per_step"] == pytest.approx(rows["neuroctl"]["rate_hz"] * 60 * 0.001)
    fan_out = network["synapses"] / 60
    assert floor["synapse_rows_us"] == pytest.approx(
        floor["spikes_per_step"] * fan_out * 6 / (floor["read_bandwidth_gb_s"] * 1e9) * 1e6)
    assert floor["neuron_updates_us"] == pytest.approx(60 * floor["neuron_update_ns"] * 1e-3)
    assert floor["floor_us"] == pytest.approx(floor["synapse_rows_us"] + floor["neuron_updates_us"])
    assert floor["ratio_to_floor"] == pytest.approx(rows["neuroctl"]["per_step_us"]["p50"] / floor["floor_us"])
    assert "The kernel against its floor" in md
    [target] = document["results"]["targets"]
    assert target["met"] is None and target["speedup"] is None
    assert "| 60 n, 20% | neuroctl |" in md and "brian2 cython" in md and "not measured" in md


def test_nengo_runs_the_same_network(tmp_path):
    suite = {"kind": "kernel", "repeat": 1, "networks": [{"neurons": 80, "connectivity": 1.0, "steps": 10}],
             "peers": ["nengo"], "warmup_steps": 1, "rate_steps": 500}
    document, _ = run(tmp_path, suite)
    rows = {row["label"]: row for row in document["results"]["networks"][0]["simulators"]}
    check_stats(rows["nengo"]["per_step_us"])
    assert "dense transform" in rows["nengo"]["target"]
    # same weights, biases and initial voltages: rates agree to within the two LIF discretisations
    assert rows["nengo"]["rate_hz"] == pytest.approx(rows["neuroctl"]["rate_hz"], rel=0.15)


def test_kernel_suite_nengo_models(tmp_path):
    suite = {"kind": "kernel", "repeat": 2, "networks": [{"neurons": 20, "connectivity": 0.2, "steps": 5}],
             "peers": ["numpy"], "warmup_steps": 5, "rate_steps": 20,
             "nengo_models": [{"model": "communication_channel", "steps": 50},
                              {"model": "integrator", "steps": 50, "min_speedup": 1e-6}]}
    document, md = run(tmp_path, suite)
    channel, integrator = document["results"]["nengo_models"]
    for model in (channel, integrator):
        check_stats(model["neuroctl_per_step_us"])
        check_stats(model["nengo_per_step_us"])
        assert model["speedup_of_neuroctl"]["rounds"] == 2 and positive(model["speedup_of_neuroctl"]["p50"])
    assert (channel["neurons"], integrator["neurons"]) == (200, 200) and channel["min_speedup"] == 20
    assert integrator["met"] is True
    assert "| communication_channel | 200 |" in md and "| integrator | 200 |" in md


def test_controllers_suite(tmp_path):
    suite = {"kind": "controllers", "repeat": 1, "launch": str(ROOT / "launch" / "cartpole_mpc.yaml"),
             "duration_s": 0.05, "controllers": ALL_CONTROLLERS,
             "edp": {"spiking": MPC, "dense": MPC_DENSE},
             "tick_timing": {"controllers": [MPC, MPC_DENSE, MPC_EXACT], "ticks": 8},
             "loop_paths": {"launch": str(ROOT / "launch" / "cartpole_realtime.yaml"), "duration_s": 0.005}}
    document, md = run(tmp_path, suite)
    check_machine(document)
    results = document["results"]
    assert set(results["controllers"]) == {Path(p).stem for p in ALL_CONTROLLERS}
    paths = results["loop_paths"]["controllers"]
    assert set(paths) == set(results["controllers"]) and paths["cartpole_lqr"]["compiled_tick"]
    assert not paths["cartpole_mpc_exact"]["compiled_tick"]  # exact MPC keeps `act`
    for entry in paths.values():
        for path in ("compiled", "python"):
            figures = entry[path]
            assert 0 < figures["control_us"] < figures["tick_us"] and figures["physics_us"] > 0
            assert 0 < figures["beyond_physics_and_control_us"] < figures["tick_us"] - figures["control_us"]
        assert entry["overhead_ratio_compiled_over_python"]["rounds"] == 1
    assert "Control paths: compiled tick vs Python path" in md and "tick - physics - control" in md
    for summary in results["controllers"].values():
        check_stats(summary["latency_us"]["controller"])
        check_stats(summary["latency_us"]["tick"])
        assert summary["episodes"] == 1 and summary["ticks"] == 5
        assert summary["energy_per_tick"]["cpu"]["applicable"]
    spiking = results["controllers"]["cartpole_mpc"]
    assert set(spiking["charged_counts_per_tick"]) == {"spikes", "synaptic_events", "neuron_updates"}
    assert spiking["energy_per_tick"]["loihi"]["delay_basis"] == "modelled"
    headline = results["edp_headline"]
    assert positive(headline["spiking"]["edp_js"])
    for profile in ("cpu", "cmos45nm"):
        assert positive(headline["dense"][profile]["edp_ratio_dense_over_spiking"])
    timing = results["tick_timing"]
    assert set(timing["per_tick_us"]) == {"cartpole_mpc", "cartpole_mpc_dense", "cartpole_mpc_exact"}
    for block in timing["per_tick_us"].values():
        check_stats(block)
    assert "Headline" in md and "MODELLED" in md


def test_arm_controllers_suite_keeps_the_robot_for_computed_torque(tmp_path):
    """The shipped arm suite, shortened: the computed-torque controllers call the arm's rigid-body model
    every tick, in the episodes and in the tick timing (which needs its environment kept open)."""
    suite = load_yaml(ROOT / "configs" / "bench" / "arm_controllers.yaml")
    base = ROOT / "configs" / "bench"
    resolve = lambda value: str((base / value).resolve())  # noqa: E731
    suite.update(repeat=1, duration_s=0.05, launch=resolve(suite["launch"]),
                 controllers=[resolve(p) for p in suite["controllers"]],
                 edp={**suite["edp"], "spiking": resolve(suite["edp"]["spiking"]), "dense": resolve(suite["edp"]["dense"])},
                 tick_timing={**suite["tick_timing"], "ticks": 20,
                              "controllers": [resolve(p) for p in suite["tick_timing"]["controllers"]]})
    document, _ = run(tmp_path, suite)
    results = document["results"]
    for summary in results["controllers"].values():
        assert summary["episodes"] == 1 and summary["ticks"] == 50
    timing = results["tick_timing"]["per_tick_us"]
    assert set(timing) == {"arm_mpc", "arm_mpc_dense", "arm_mpc_exact", "arm_pd"}
    assert all(block["p50"] > 0 for block in timing.values())


def test_realtime_suite(tmp_path):
    suite = {"kind": "realtime", "launch": str(ROOT / "launch" / "cartpole_realtime.yaml"),
             "periods_s": [0.001, 0.002], "duration_s": 0.2,
             "settings": {"plain": {}, "spin": {"wait": "spin", "rehearse": False}}}
    document, md = run(tmp_path, suite)
    check_machine(document)
    periods = document["results"]["periods"]
    assert [(p["period_s"], p["settings"]) for p in periods] == [
        (0.001, "plain"), (0.001, "spin"), (0.002, "plain"), (0.002, "spin")]
    for period in periods:
        assert period["ticks"] == round(0.2 / period["period_s"])
        assert 0 <= period["misses"] <= period["ticks"] and 0.0 <= period["miss_rate"] <= 1.0
        assert sum(period["misses_by_cause"].values()) == period["misses"]
        assert period["targets"]["no_compute_miss"] == (period["misses_by_cause"]["compute"] == 0)
        wait = period["realtime_applied"][0]["wait"]["requested"]
        assert wait == ("spin" if period["settings"] == "spin" else "sleep")
        assert math.isfinite(period["lateness_us"]["p50"]) and positive(period["wall_time_s"])
        check_stats(period["controller_us"])
        assert len(period["load_average_before_after"]) == 1
    assert "1000 Hz" in md and "500 Hz" in md and "compute / stalled / carried" in md
    assert "- 1000 Hz, spin: wait spin\n" in md and "- 1000 Hz, plain: wait sleep; rehearse True: applied\n" in md


def test_cli_repeat_and_default_out_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write_suite(tmp_path, {"kind": "realtime", "launch": str(ROOT / "launch" / "cartpole_realtime.yaml"),
                                  "periods_s": [0.002], "duration_s": 0.02, "repeat": 1})
    assert main(["bench", str(path), "--repeat", "2"]) == 0
    document = json.loads((tmp_path / "runs" / "bench" / "realtime" / "bench.json").read_text())
    assert document["repeat"] == 2 and document["results"]["periods"][0]["runs"] == 2
    assert "--repeat 2" in document["command"]


@pytest.mark.parametrize("suite, message", [
    ({"kind": "kernal"}, "kind: unknown suite kind 'kernal'"),
    ({"kind": "kernel", "repeats": 3}, "repeats: unknown key; did you mean 'repeat'?"),
    ({"kind": "kernel", "peers": ["nengo", "lava"]}, "peers[1]: expected one of"),
    ({"kind": "kernel", "networks": [{"neurons": 100, "connectivity": 1.5}]}, "networks[0].connectivity"),
    ({"kind": "realtime", "periods_s": [0.0005]}, "periods_s[0]: expected a value >= 0.001"),
    ({"kind": "realtime", "settings": {"hardened": {"cpu": [1]}}}, "settings.hardened.cpu: unknown key; did you mean 'cpus'?"),
    ({"kind": "controllers", "launch": str(ROOT / "launch" / "cartpole_mpc.yaml"), "controllers": ["missing.yaml"]},
     "controllers[0]: no such file"),
])
def test_bad_suite_is_one_line_error(tmp_path, capsys, suite, message):
    path = write_suite(tmp_path, suite)
    assert main(["bench", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
