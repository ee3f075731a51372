"""QP solvers side by side on a recorded sequence of QPs (`neuroctl.control.qp_solvers`).

`compare_qp_solvers(qps, solvers)` runs every solver on the sequence in order, each warm started from
its own last solution (as an MPC's solver is from tick to tick), interleaved QP by QP (QP 0: A, B, C;
QP 1: A, B, C; ...) so that a drift of the machine lands on all alike. Per solver: measured wall time
per solve (p50/p99/max/mean, and the median round-by-round ratio to the reference solver), the
objective's gap to the reference's relative to max(1, |objective|), the constraint violation, the
iterations, the statuses, and the activity counters per solve (synaptic events, dense MACs, weight
updates). The reference is a solver of the set (default "daqp", exact).

`RecordingSolver` wraps a solver and keeps a copy of every QP it is given (a controller's QPs over an
episode); `save_qps` / `load_qps` keep a sequence in one .npz file.

Run `python -m neuroctl.bench.qp --task arm|quadruped [--ticks N] [--seed S]` for QPs recorded in closed
loop: the arm's joint-limited QPs (configs/controllers/arm_mpc_exact_limits.yaml on neuroctl/ArmReach-v0,
one per 1 ms tick) or the trotting quadruped's force QPs (configs/controllers/quadruped_mpc_osqp.yaml on
neuroctl/QuadrupedTrot-v0 commanded 0.5 m/s forward, one per 10 ms replan), BLAS held to one thread
as in a launch.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from neuroctl.activity import DENSE_MACS, SYNAPTIC_EVENTS, WEIGHT_UPDATES
from neuroctl.bench.timing import paired_ratio, stats
from neuroctl.control.qp_solvers import InequalityQP, QPResult, QPSolver, make_qp_solver

QP_FIELDS = ("H", "q", "lower", "upper", "G", "h")


class RecordingSolver:
    """A QPSolver that passes every call to `solver` and appends a copy of its QP to `qps`."""

    def __init__(self, solver: QPSolver) -> None:
        self.solver = solver
        self.qps: list[InequalityQP] = []

    def solve(self, qp: InequalityQP, warm_start: np.ndarray | None = None) -> QPResult:
        self.qps.append(copy.deepcopy(qp))
        return self.solver.solve(qp, warm_start)

    def reset(self) -> None:
        self.solver.reset()


def save_qps(path: str | Path, qps: Sequence[InequalityQP]) -> None:
    """One .npz: each field stacked over the sequence (all QPs of one size)."""
    np.savez_compressed(path, **{name: np.stack([getattr(qp, name) for qp in qps]) for name in QP_FIELDS})


def load_qps(path: str | Path) -> list[InequalityQP]:
    with np.load(path) as data:
        fields = [data[name] for name in QP_FIELDS]
    return [InequalityQP(*(field[i] for field in fields)) for i in range(fields[0].shape[0])]


def compare_qp_solvers(qps: Sequence[InequalityQP], solvers: Mapping[str, QPSolver],
                       reference: str = "daqp") -> dict[str, dict]:
    """Every solver on `qps` in order, interleaved (module docstring); `reference` names one of `solvers`."""
    if reference not in solvers:
        raise ValueError(f"reference: expected one of {', '.join(solvers)}, got {reference!r}")
    results: dict[str, list[QPResult]] = {name: [] for name in solvers}
    for solver in solvers.values():
        solver.reset()
    for qp in qps:
        for name, solver in solvers.items():
            previous = results[name][-1].u if results[name] else None
            results[name].append(solver.solve(qp, previous))
    exact = results[reference]
    times = {name: np.array([r.solve_time_s for r in rs]) for name, rs in results.items()}
    summary = {}
    for name, rs in results.items():
        gaps = [abs(r.objective - e.objective) / max(1.0, abs(e.objective)) for r, e in zip(rs, exact)]
        statuses: dict[str, int] = {}
        for r in rs:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        activity = np.array([r.activity for r in rs])
        summary[name] = {
            "solve_time_s": stats(times[name]),
            "time_ratio_to_reference": paired_ratio(times[name], times[reference]),
            "objective_gap": stats(gaps),
            "max_violation": stats([r.max_violation for r in rs]),
            "iterations": stats([r.iterations for r in rs]),
            "statuses": statuses,
            "synaptic_events_per_solve": float(activity[:, SYNAPTIC_EVENTS].mean()),
            "dense_macs_per_solve": float(activity[:, DENSE_MACS].mean()),
            "weight_updates": int(activity[:, WEIGHT_UPDATES].sum()),
        }
    return summary


CONTROLLERS = Path(__file__).resolve().parents[2] / "configs" / "controllers"


def closed_loop_qps(task: str, ticks: int, seed: int) -> list[InequalityQP]:
    """The QPs a controller solved over its first `ticks` closed-loop ticks (`task`: see the module
    docstring)."""
    import dataclasses

    import gymnasium

    import neuroctl  # noqa: F401  (registers the environments)
    from neuroctl.control.registry import build_controller, load_controller_config

    if task == "arm":
        env_id, kwargs, config_path = "neuroctl/ArmReach-v0", {"n_targets": 2}, CONTROLLERS / "arm_mpc_exact_limits.yaml"
    elif task == "quadruped":
        env_id, kwargs = "neuroctl/QuadrupedTrot-v0", {"command": [0.5, 0.0, 0.0], "command_ramp_s": 1.0}
        config_path = CONTROLLERS / "quadruped_mpc_osqp.yaml"
    else:
        raise ValueError(f"task: expected arm or quadruped, got {task!r}")
    env = gymnasium.make(env_id, **kwargs)
    try:
        kind, config = load_controller_config(config_path)
        if task == "quadruped":
            config = dataclasses.replace(config, record_qps=True)
        controller = build_controller(kind, config, None, env.observation_space.shape[0], config_path.stem,
                                      env.unwrapped)
        recorder = None
        if task == "arm":
            recorder = RecordingSolver(controller.planner.solver)
            controller.planner.solver = recorder
        observation, _ = env.reset(seed=seed)
        controller.reset(seed)
        reference = np.zeros(controller.reference_size)
        for _ in range(ticks):
            env.unwrapped.reference(reference)
            observation, *_ = env.step(controller.act(np.asarray(observation, np.float64), reference).copy())
    finally:
        env.close()
    return recorder.qps if recorder is not None else list(controller.recorded_qps)


def _print(summary: dict[str, dict]) -> None:
    print("| solver | solve time p50 / p99 (us) | time / DAQP (median) | objective gap p50 / max | "
          "violation p50 / max | iterations p50 | synaptic events / solve | dense MACs / solve |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        t, g, v = s["solve_time_s"], s["objective_gap"], s["max_violation"]
        print(f"| {name} | {1e6 * t['p50']:.0f} / {1e6 * t['p99']:.0f} | {s['time_ratio_to_reference']['p50']:.2f} | "
              f"{g['p50']:.1e} / {g['max']:.1e} | {v['p50']:.1e} / {v['max']:.1e} | {s['iterations']['p50']:.0f} | "
              f"{s['synaptic_events_per_solve']:.0f} | {s['dense_macs_per_solve']:.0f} |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("arm", "quadruped"), default="arm")
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=10, help="PIPG iterations per solve")
    parser.add_argument("--threshold", type=float, default=2e-4, help="spiking PIPG event threshold (units of u)")
    parser.add_argument("--momentum", choices=("nesterov", "none"), default="nesterov", help="PIPG momentum")
    parser.add_argument("--power-iterations", type=int, default=0,
                        help="PIPG's steps: power steps per weight change (0: exact eigenvalues each time)")
    args = parser.parse_args(argv)
    with threadpool_limits(limits=1):  # as in a launch: BLAS on the loop's core only
        _compare(args)


def _compare(args: argparse.Namespace) -> None:
    qps = closed_loop_qps(args.task, args.ticks, args.seed)
    print(f"{len(qps)} QPs of {qps[0].n_variables} variables and {qps[0].n_constraints} rows")
    solvers = {
        "daqp": make_qp_solver("daqp"),
        "osqp": make_qp_solver("osqp"),
        "pipg_spiking": make_qp_solver("pipg_spiking", iterations=args.iterations, threshold=args.threshold,
                                       momentum=args.momentum, power_iterations=args.power_iterations),
        "pipg_dense": make_qp_solver("pipg_dense", iterations=args.iterations, momentum=args.momentum,
                                     power_iterations=args.power_iterations),
    }
    _print(compare_qp_solvers(qps, solvers))


if __name__ == "__main__":
    main()
