"""Fast mode is deterministic across processes: same launch file and seed, bit-identical trajectories, for
any BLAS thread count."""

import json
import os
import subprocess
import sys

import numpy as np

from .conftest import ROOT, SPIKING_CONFIG, launch_text

TIMING = {"stage_s", "tick_s", "lateness_s"}  # wall-clock measurements: the only arrays allowed to differ
# noise from the env's RNG (observation noise and a noise fault), a NaN burst, a push
KWARGS = json.dumps({"observation_noise_std": 0.001,
                     "pushes": [{"start_s": 0.3, "duration_s": 0.05, "force_n": 1.0}],
                     "faults": [{"kind": "noise", "sensor": "x_dot", "start_s": 0.2, "duration_s": 0.2,
                                 "magnitude": 0.5},
                                {"kind": "nan", "sensor": "theta", "start_s": 0.5, "duration_s": 0.05}]})


def test_two_processes_give_bit_identical_trajectories(tmp_path):
    launch = tmp_path / "launch.yaml"
    launch.write_text(launch_text(SPIKING_CONFIG, run="{duration_s: 1.0, seed: 7}", kwargs=KWARGS))
    outs = [tmp_path / "a", tmp_path / "b"]
    processes = [subprocess.Popen([sys.executable, "-m", "neuroctl", "launch", str(launch), "--out", str(out)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for out in outs]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    first, second = (np.load(out / "trajectory.npz") for out in outs)
    assert set(first.files) == set(second.files)
    for name in set(first.files) - TIMING:
        assert np.array_equal(first[name], second[name], equal_nan=first[name].dtype.kind == "f"), name
    assert first["observation"].shape == (100, 4) and np.isnan(first["observation"]).any()
    assert first["raster"].any()  # the spikes themselves are reproduced
    metrics = [json.loads((out / "metrics.json").read_text()) for out in outs]
    for section in ("task", "activity", "faults"):
        assert metrics[0][section] == metrics[1][section], section


# Build each controller and run it in closed loop on the cart-pole; print one hash of its actions (and of
# its arrays built from BLAS-sized products) per controller.
CLOSED_LOOP = """
import hashlib, sys
import numpy as np
import neuroctl
from neuroctl.control.registry import build_controller, load_controller_config
from neuroctl.launchfile import linear_model_of
import gymnasium

def digest(*arrays):
    return hashlib.sha256(b"".join(np.ascontiguousarray(a, dtype=np.float64).tobytes() for a in arrays)).hexdigest()

for path in sys.argv[1:]:
    env = gymnasium.make("neuroctl/CartPoleBalance-v0", disable_env_checker=True, max_episode_steps=10**9)
    model = linear_model_of(env)
    kind, config = load_controller_config(path)
    controller = build_controller(kind, config, model, 4, path)
    controller.reset(0)
    observation, _ = env.reset(seed=3)
    actions = np.empty((TICKS, 1))
    for tick in range(TICKS):
        actions[tick] = controller.act(observation)
        observation, *_ = env.step(actions[tick])
    problem = getattr(controller, "qp_problem", None)
    built = [problem.H, problem.F, problem.M, problem.C] if problem is not None else []
    print(path, digest(actions[:1]), digest(actions), digest(*built), flush=True)
    env.close()
"""
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def test_controllers_are_bit_identical_for_any_blas_thread_count(tmp_path):
    """Every controller kind, built and run for 200 ticks, with BLAS on 1 thread, 2 threads and the default:
    the same actions bit for bit (the first one included) and the same QP arrays. The horizon-100 MPCs are
    large enough for OpenBLAS to thread their products and eigenvalues (it differed from horizon 60 on),
    the spiking populations' decoders differed at any size. (This covers thread counts on one machine;
    see neuroctl/network/linalg.py for what the build computes without BLAS.)"""
    configs = [SPIKING_CONFIG, ROOT / "configs" / "controllers" / "cartpole_lqr.yaml",
               ROOT / "configs" / "controllers" / "cartpole_mpc_population.yaml"]
    for kind in ("mpc_spiking", "mpc_dense", "mpc_exact"):
        for formulation in ("dual", "primal") if kind != "mpc_exact" else ("",):
            path = tmp_path / f"{kind}-{formulation or 'exact'}.yaml"
            path.write_text(f"kind: {kind}\nhorizon: 100\n" + (f"formulation: {formulation}\n" if formulation else ""))
            configs.append(path)
    base = {key: value for key, value in os.environ.items() if key not in BLAS_THREAD_VARIABLES}
    settings = {"1 thread": dict.fromkeys(BLAS_THREAD_VARIABLES, "1"),
                "2 threads": dict.fromkeys(BLAS_THREAD_VARIABLES, "2"), "default": {}}
    processes = {name: subprocess.Popen([sys.executable, "-c", CLOSED_LOOP.replace("TICKS", "200"), *map(str, configs)],
                                        env={**base, **threads}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                 for name, threads in settings.items()}
    outputs = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        outputs[name] = stdout.splitlines()
        assert len(outputs[name]) == len(configs)
    differing = [f"{name}: {other.split()[0]}" for name in ("2 threads", "default")
                 for single, other in zip(outputs["1 thread"], outputs[name]) if single != other]
    assert not differing, f"differ from the 1-thread run: {differing}"
