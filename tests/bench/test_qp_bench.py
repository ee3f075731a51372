"""The QP solver comparison: on a sequence of random QPs the exact solvers agree with the reference and
PIPG's gap and events are reported; a recorded sequence survives a save and load."""

import numpy as np

from neuroctl.bench.qp import RecordingSolver, compare_qp_solvers, load_qps, save_qps
from neuroctl.control.qp_solvers import InequalityQP, make_qp_solver


def drifting_qps(count: int) -> list[InequalityQP]:
    rng = np.random.default_rng(3)
    n, m = 10, 6
    a = rng.standard_normal((n, n))
    hessian, rows = a.T @ a / n + 0.1 * np.eye(n), rng.standard_normal((m, n))
    h = rows @ rng.uniform(-0.5, 0.5, n) + 0.3
    q, drift = 3.0 * rng.standard_normal(n), rng.standard_normal(n)
    return [InequalityQP(hessian, q + 0.02 * k * drift, -np.ones(n), np.ones(n), rows, h) for k in range(count)]


def test_comparison_reports_each_solver_against_the_reference(tmp_path):
    recorder = RecordingSolver(make_qp_solver("daqp"))
    for qp in drifting_qps(12):
        recorder.solve(qp)
    save_qps(tmp_path / "qps.npz", recorder.qps)
    qps = load_qps(tmp_path / "qps.npz")
    assert len(qps) == 12 and np.array_equal(qps[5].q, drifting_qps(12)[5].q)
    solvers = {"daqp": make_qp_solver("daqp"), "osqp": make_qp_solver("osqp", eps_abs=1e-9, eps_rel=1e-9),
               "pipg_spiking": make_qp_solver("pipg_spiking", iterations=300, threshold=1e-5),
               "pipg_dense": make_qp_solver("pipg_dense", iterations=300)}
    summary = compare_qp_solvers(qps, solvers)
    assert summary["daqp"]["objective_gap"]["max"] == 0.0
    assert summary["daqp"]["time_ratio_to_reference"]["p50"] == 1.0
    assert summary["osqp"]["objective_gap"]["max"] < 1e-6 and summary["osqp"]["statuses"] == {"solved": 12}
    for name in ("pipg_spiking", "pipg_dense"):
        assert summary[name]["objective_gap"]["max"] < 1e-2 and summary[name]["max_violation"]["max"] < 1e-3
        assert summary[name]["dense_macs_per_solve"] == 301 * (10 * 10 + 2 * 6 * 10)
    assert 0 < summary["pipg_spiking"]["synaptic_events_per_solve"] < summary["pipg_dense"]["dense_macs_per_solve"]
    assert summary["pipg_spiking"]["weight_updates"] == 10 * 10 + 2 * 6 * 10  # the weights never change
