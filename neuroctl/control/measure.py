"""Measurements of the MPC controllers on the linear cart-pole approximation (a script, not a test).

    python -m neuroctl.control.measure [conditioning] [timing] [closed-loop] [--seeds 10] [--seconds 10]

conditioning: condition numbers of the condensed QP for N = 20, 40, 60, 80 at Ts = 10 ms.
timing: microseconds per act() (one numba call for the spiking network and its dense twin), and for
exact MPC.
closed-loop: x[k+1] = A x[k] + B u[k] from random starts: QP error (max |U - U*| / bound) mean and
p99, synaptic events / dense MACs, and the closed-loop cost relative to exact MPC.
Wall times are measured on this machine; they vary with load.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable

import numpy as np

from neuroctl.control.base import DENSE_MACS, SYNAPTIC_EVENTS, Controller
from neuroctl.control.linear import cartpole_approximation
from neuroctl.control.lqr import LQRConfig, weight_matrices
from neuroctl.control.mpc import ExactMPCConfig, ExactMPCController, ExactQPSolver, qp_error
from neuroctl.control.qp import build_mpc_problem
from neuroctl.control.spiking_mpc import (
    DenseMPCConfig,
    DenseMPCController,
    SpikingMPCConfig,
    SpikingMPCController,
)

Q, R = weight_matrices(LQRConfig().q, LQRConfig().r, cartpole_approximation())  # the config defaults
SPIKING_VARIANTS = {
    "dual nesterov K=20": SpikingMPCConfig(),
    "dual none K=10": SpikingMPCConfig(momentum="none", iterations=10),
    "primal nesterov K=20": SpikingMPCConfig(formulation="primal"),
    "primal none K=10": SpikingMPCConfig(formulation="primal", momentum="none", iterations=10),
}


def conditioning() -> None:
    """kappa(H), kappa of the Jacobi-scaled H and of the dual's leading 20 x 20 block, per horizon."""
    model = cartpole_approximation()
    print("N      kappa(H)   kappa(DHD) Jacobi   kappa([H^-1]_20x20)")
    for horizon in (20, 40, 60, 80):
        problem = build_mpc_problem(model, Q, R, horizon)
        scale = 1.0 / np.sqrt(np.diag(problem.H))
        jacobi = np.linalg.cond(problem.H * np.outer(scale, scale))
        leading = np.linalg.cond(problem.M[:20, :20])
        print(f"{horizon:<6d} {np.linalg.cond(problem.H):<10.3g} {jacobi:<19.3g} {leading:.3g}")


def _microseconds(call: Callable[[], object], repeats: int = 20_000) -> float:
    """Best of 5 runs of `repeats` calls, microseconds per call."""
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            call()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best * 1e6


def _cycling(controller: Controller, observations: np.ndarray) -> Callable[[], object]:
    """A call acting on the next observation, cycling through them."""
    index = iter(range(10**12))
    return lambda: controller.act(observations[next(index) % len(observations)])


def timing() -> None:
    """Per-tick time of each controller on a slowly moving state (steady operation near upright)."""
    model = cartpole_approximation()
    controllers = {
        "spiking (dual)": SpikingMPCController(SpikingMPCConfig(), model, 4),
        "dense twin (dual)": DenseMPCController(DenseMPCConfig(), model, 4),
        "spiking (primal)": SpikingMPCController(SpikingMPCConfig(formulation="primal"), model, 4),
        "dense twin (primal)": DenseMPCController(DenseMPCConfig(formulation="primal"), model, 4),
        "exact MPC": ExactMPCController(ExactMPCConfig(), model, 4),
    }
    rng = np.random.default_rng(0)
    observations = np.cumsum(1e-4 * rng.standard_normal((64, 4)), axis=0) + np.array([0.0, 0.05, 0.0, 0.0])
    print("horizon 20, K = 20: microseconds per tick (best of 5)")
    for name, controller in controllers.items():
        controller.warmup()
        print(f"  {name:<20s} act(): {_microseconds(_cycling(controller, observations)):6.2f} us")


def _simulate(controller: Controller, x0: np.ndarray, ticks: int, exact: ExactQPSolver | None):
    """Closed loop on the linear model; returns cost, summed activity, QP errors per tick."""
    model = cartpole_approximation()
    controller.reset(0)
    x, cost, errors = x0.copy(), 0.0, []
    activity = np.zeros(len(controller.activity), dtype=np.int64)
    for _ in range(ticks):
        u = controller.act(x).copy()
        activity += controller.activity
        if exact is not None:
            errors.append(qp_error(exact.problem, controller.last_solution, exact.solve(x)))
        cost += x @ Q @ x + u @ R @ u
        x = model.A @ x + model.B @ u
    return cost, activity, errors


def closed_loop(seeds: int, seconds: float, horizon: int) -> None:
    """Spiking variants against exact MPC from `seeds` random starts (|theta0| <= 0.25 rad)."""
    model = cartpole_approximation()
    ticks = round(seconds / model.dt)
    starts = [np.random.default_rng(seed).uniform(-1, 1, 4) * [0.2, 0.25, 0.2, 0.5] for seed in range(seeds)]
    exact_controller = ExactMPCController(ExactMPCConfig(horizon=horizon), model, 4)
    exact_costs = [_simulate(exact_controller, x0, ticks, None)[0] for x0 in starts]
    print(f"horizon {horizon}, {seeds} seeds x {seconds} s, default thresholds (0.002 action, 1e-4 state)")
    print("variant                QP err mean   p99        syn/MACs   cost/exact mean   max")
    for name, config in SPIKING_VARIANTS.items():
        controller = SpikingMPCController(dataclasses.replace(config, horizon=horizon), model, 4)
        exact = ExactQPSolver(controller.qp_problem)
        errors, synaptic, macs, ratios = [], 0, 0, []
        for x0, exact_cost in zip(starts, exact_costs, strict=True):
            cost, activity, tick_errors = _simulate(controller, x0, ticks, exact)
            errors += tick_errors
            synaptic += activity[SYNAPTIC_EVENTS]
            macs += activity[DENSE_MACS]
            ratios.append(cost / exact_cost)
        print(
            f"{name:<22s} {np.mean(errors):<13.2e} {np.percentile(errors, 99):<10.2e} "
            f"{synaptic / macs:<10.4f} {np.mean(ratios):<17.6f} {np.max(ratios):.6f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", nargs="*", default=["conditioning", "timing", "closed-loop"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--horizon", type=int, default=20)
    args = parser.parse_args()
    for what in args.what:
        {
            "conditioning": conditioning,
            "timing": timing,
            "closed-loop": lambda: closed_loop(args.seeds, args.seconds, args.horizon),
        }[what]()


if __name__ == "__main__":
    main()
