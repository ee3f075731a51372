"""One inequality-constrained QP description and the solvers that take it.

    min_u 1/2 u'Hu + q'u   subject to   lower <= u <= upper,   G u <= h

H (n, n) symmetric positive semidefinite, the box may hold +-inf, G (m, n) with m >= 0 rows.

Solvers (`make_qp_solver(name, **settings)`):

- "osqp": OSQP (Stellato et al., Math. Prog. Comp. 2020), ADMM on the sparse problem with G and the box
  stacked as one constraint matrix [G; I] (see `OSQPSolver`); the OSQP object is kept and only its
  values are updated while the sparsity patterns of triu(H) and [G; I] are unchanged.
- "daqp": DAQP (Arnström, Bemporad and Axehill, IEEE TAC 2022), a dual active-set solver for dense QPs;
  H must be positive definite unless `eps_prox` regularises it.
- "pipg_spiking": PIPG as a network of gradient and constraint neurons talking with sigma-delta events
  (`neuroctl.network.pipg`), warm started across calls; "pipg_dense": its dense twin (every product
  every iteration), the von Neumann comparison. See `PIPGSolver`.

Every solver reports a `QPResult` whose objective and max_violation are computed here from the returned
u (the same measure for every solver), whose solve time is the measured wall time of `solve` (value
updates and any re-setup included), and whose status is one of the STATUS_* strings. A solver never
returns NaN in u: when the problem is infeasible (or the solver fails) u is the warm start clipped to the
box, zeros clipped to the box without one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse as sparse

from neuroctl.activity import COUNTER_FIELDS, CPU_MACS, WEIGHT_UPDATES
from neuroctl.network.jit import cached_njit
from neuroctl.network.dense import synapse_arrays
from neuroctl.network.pipg import (PRIMAL_ITERATE, SpectrumTracker, exact_spectrum_macs, forget_sent, pipg_solve,
                                   pipg_steps, scale_weights, steps_from_spectrum)

STATUS_SOLVED = "solved"
STATUS_SOLVED_INACCURATE = "solved_inaccurate"
STATUS_INFEASIBLE = "infeasible"
STATUS_UNBOUNDED = "unbounded"
STATUS_MAX_ITERATIONS = "max_iterations"
STATUS_TIME_LIMIT = "time_limit"
STATUS_NON_CONVEX = "non_convex"
STATUS_FAILED = "failed"


@dataclass
class InequalityQP:
    """min 1/2 u'Hu + q'u s.t. lower <= u <= upper (entries may be +-inf), G u <= h (m rows, m >= 0)."""

    H: np.ndarray  # (n, n) symmetric PSD
    q: np.ndarray  # (n,)
    lower: np.ndarray  # (n,)
    upper: np.ndarray  # (n,)
    G: np.ndarray  # (m, n)
    h: np.ndarray  # (m,)

    @property
    def n_variables(self) -> int:
        return self.q.shape[0]

    @property
    def n_constraints(self) -> int:
        return self.G.shape[0]

    def objective(self, u: np.ndarray) -> float:
        """1/2 u'Hu + q'u."""
        return float(_objective(_floats(self.H), _floats(self.q), _floats(u)))

    def max_violation(self, u: np.ndarray) -> float:
        """max(0, max_i(lower_i - u_i, u_i - upper_i), max_j (G u - h)_j), in the units of u and h."""
        return float(_max_violation(_floats(self.lower), _floats(self.upper), _floats(self.G).reshape(-1, self.q.shape[0]),
                                    _floats(self.h), _floats(u)))

    def box_is_empty(self) -> bool:
        return bool(np.any(self.lower > self.upper))

    def fallback(self, warm_start: np.ndarray | None) -> np.ndarray:
        """The u reported when there is no solution: the warm start (or zeros) clipped to the box."""
        start = np.zeros(self.n_variables) if warm_start is None else np.asarray(warm_start, float)
        return np.clip(np.nan_to_num(start, nan=0.0), self.lower, self.upper)


def _floats(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


@cached_njit
def _objective(hessian, linear, u):
    """1/2 u'Hu + q'u (a compiled loop: the numpy expression costs ~20 us of calls on a 120-variable QP)."""
    total = 0.0
    for i in range(u.shape[0]):
        row = 0.0
        for j in range(u.shape[0]):
            row += hessian[i, j] * u[j]
        total += u[i] * (0.5 * row + linear[i])
    return total


@cached_njit
def _max_violation(lower, upper, rows, bounds, u):
    """max(0, lower - u, u - upper, G u - h) over every entry and row."""
    worst = 0.0
    for i in range(u.shape[0]):
        worst = max(worst, lower[i] - u[i], u[i] - upper[i])
    for p in range(rows.shape[0]):
        total = 0.0
        for j in range(u.shape[0]):
            total += rows[p, j] * u[j]
        worst = max(worst, total - bounds[p])
    return worst


@dataclass
class QPResult:
    """A solver's answer to one InequalityQP.

    `solve_time_s`: measured wall time of the `solve` call. `objective`, `max_violation`: of the returned u
    (`InequalityQP.objective`, `InequalityQP.max_violation`). `activity` (len(COUNTER_FIELDS), int64): the
    counters of a spiking or dense-twin network (neuroctl.activity); zeros for the classical solvers.
    """

    u: np.ndarray
    status: str
    iterations: int
    solve_time_s: float
    objective: float
    max_violation: float
    activity: np.ndarray = field(default_factory=lambda: np.zeros(len(COUNTER_FIELDS), np.int64))


class QPSolver(Protocol):
    def solve(self, qp: InequalityQP, warm_start: np.ndarray | None = None) -> QPResult: ...

    def reset(self) -> None:
        """Forget everything kept from earlier solves that changes a result (warm starts, duals)."""
        ...


def _result(qp: InequalityQP, u: np.ndarray, status: str, iterations: int, started_s: float,
            activity: np.ndarray | None = None) -> QPResult:
    """A QPResult for u (its objective and violation measured here), timed from `started_s`."""
    elapsed = time.perf_counter() - started_s
    result = QPResult(u, status, iterations, elapsed, qp.objective(u), qp.max_violation(u))
    if activity is not None:
        result.activity = activity
    return result


_OSQP_STATUS = {
    "solved": STATUS_SOLVED,
    "solved inaccurate": STATUS_SOLVED_INACCURATE,
    "primal infeasible": STATUS_INFEASIBLE,
    "primal infeasible inaccurate": STATUS_INFEASIBLE,
    "dual infeasible": STATUS_UNBOUNDED,
    "dual infeasible inaccurate": STATUS_UNBOUNDED,
    "maximum iterations reached": STATUS_MAX_ITERATIONS,
    "run time limit reached": STATUS_TIME_LIMIT,
    "problem non convex": STATUS_NON_CONVEX,
}


class OSQPSolver:
    """OSQP on l <= A u <= b with A = [G; I], l = [-inf; lower], b = [h; upper] (the box as the last n rows).

    The osqp.OSQP object is kept between calls: when the sparsity patterns of triu(H) and A are those of
    the last setup only the values are updated (`update(Px, Ax, q, l, u)`), otherwise it is set up again
    (`setups` counts the setups). OSQP's own settings by default (eps_abs = eps_rel = 1e-3, max_iter 4000,
    warm starting on) except `polishing` off and `verbose` off; any OSQP setting may be passed. A
    `warm_start` u is handed to OSQP (its duals stay those of the last solve).
    """

    def __init__(self, **settings) -> None:
        self.settings = {"verbose": False, "polishing": False, **settings}
        self.setups = 0
        self._solver = None
        self._pattern: tuple | None = None

    def reset(self) -> None:
        """Set up afresh on the next solve (OSQP's own warm start and its rho adaptation forgotten)."""
        self._solver = None
        self._pattern = None

    def solve(self, qp: InequalityQP, warm_start: np.ndarray | None = None) -> QPResult:
        import osqp

        started = time.perf_counter()
        if qp.box_is_empty():
            return _result(qp, qp.fallback(warm_start), STATUS_INFEASIBLE, 0, started)
        hessian = sparse.csc_matrix(np.triu(qp.H))
        constraints = sparse.csc_matrix(np.vstack((qp.G, np.eye(qp.n_variables))))
        lower = np.concatenate((np.full(qp.n_constraints, -np.inf), qp.lower))
        upper = np.concatenate((qp.h, qp.upper))
        pattern = (hessian.shape, hessian.indptr, hessian.indices, constraints.shape, constraints.indptr,
                   constraints.indices)
        if self._solver is not None and _same_pattern(pattern, self._pattern):
            self._solver.update(Px=hessian.data, Ax=constraints.data, q=qp.q, l=lower, u=upper)
        else:
            self._solver = osqp.OSQP()
            self._solver.setup(hessian, qp.q, constraints, lower, upper, **self.settings)
            self._pattern = pattern
            self.setups += 1
        if warm_start is not None:
            self._solver.warm_start(x=qp.fallback(warm_start))
        answer = self._solver.solve(raise_error=False)
        status = _OSQP_STATUS.get(answer.info.status, STATUS_FAILED)
        solution = answer.x
        if status in (STATUS_INFEASIBLE, STATUS_UNBOUNDED, STATUS_NON_CONVEX, STATUS_FAILED) or not np.all(
            np.isfinite(solution)
        ):
            solution = qp.fallback(warm_start)
        return _result(qp, np.array(solution, float), status, int(answer.info.iter), started)


def _same_pattern(pattern: tuple, other: tuple | None) -> bool:
    if other is None:
        return False
    return all(np.array_equal(a, b) for a, b in zip(pattern, other))


_DAQP_STATUS = {
    1: STATUS_SOLVED,
    2: STATUS_SOLVED,  # optimal with soft constraints relaxed (none are declared soft here)
    -1: STATUS_INFEASIBLE,
    -2: STATUS_FAILED,  # cycling
    -3: STATUS_UNBOUNDED,
    -4: STATUS_MAX_ITERATIONS,
    -5: STATUS_NON_CONVEX,
    -6: STATUS_FAILED,  # overdetermined initial working set
}


class DAQPSolver:
    """DAQP (dense dual active set) on blower <= [I; G] u <= bupper: the box as simple bounds, G rows below.

    Settings are DAQP's (`primal_tol`, `dual_tol`, `iter_limit`, `eps_prox`, ...), its defaults by default.
    A `warm_start` u (clipped to the box, NaN as 0) is passed as DAQP's `primal_start` (the initial
    working set: constraints nearly active there).
    """

    def __init__(self, **settings) -> None:
        self.settings = dict(settings)

    def reset(self) -> None:
        """Nothing is kept between solves."""

    def solve(self, qp: InequalityQP, warm_start: np.ndarray | None = None) -> QPResult:
        import daqp

        started = time.perf_counter()
        if qp.box_is_empty():
            return _result(qp, qp.fallback(warm_start), STATUS_INFEASIBLE, 0, started)
        upper = np.ascontiguousarray(np.concatenate((qp.upper, qp.h)))
        lower = np.ascontiguousarray(np.concatenate((qp.lower, np.full(qp.n_constraints, -np.inf))))
        sense = np.zeros(upper.shape[0], np.int32)
        extra = {} if warm_start is None else {"primal_start": qp.fallback(warm_start)}
        solution, _, exitflag, info = daqp.solve(
            np.ascontiguousarray(qp.H, float), np.ascontiguousarray(qp.q, float),
            np.ascontiguousarray(qp.G, float), upper, lower, sense, **extra, **self.settings,
        )  # fmt: skip
        status = _DAQP_STATUS.get(int(exitflag), STATUS_FAILED)
        if status != STATUS_SOLVED or not np.all(np.isfinite(solution)):
            solution = qp.fallback(warm_start)
        return _result(qp, np.array(solution, float), status, int(info["iterations"]), started)


class PIPGSolver:
    """PIPG (`neuroctl.network.pipg`) on an InequalityQP: K iterations per call from the last call's z and w.

    Settings: `iterations` K (default 200); `threshold` (units of u, default 1e-4): the gradient neurons'
    event threshold, and the constraint neurons' one scaled so that an unsent change of v_j moves no
    gradient step by more than it (theta_j = threshold / (alpha max_i |d_i G~_ji|), in the notation
    below); `tolerance` (0, the default, runs all K iterations): stop once no scaled z_i moves and no
    scaled row is violated by more; `dual_ratio` beta / alpha (default None: balanced steps; the rule:
    `pipg_steps`); `momentum` "nesterov" (default; mu from kappa(H~)) or "none" (PIPG as published);
    `scaling` (default True): the network solves the diagonally scaled QP in u = D s,

        H~ = D H D,  q~ = D q,  box / d,  G~ = R G D,  h~ = R h,   d_i = H_ii^-1/2,  r_j = 1 / ||(G D)_j||

    (Jacobi scaling of the variables, which keeps the box a box, and unit rows; d_i = 1 where H_ii = 0,
    r_j = 1 for a zero row); the host scales q, h and the box per call and the answer back (n + m
    products, not counted). On the quadruped's force QPs it cut PIPG's objective gap at 200 iterations
    from 3e-3 to 8e-5 (with momentum).

    Warm start: z and w persist between calls of the same size (a `warm_start` u replaces z, clipped to
    the box). When H or G differ from the last call's, the scaling, steps and momentum are recomputed (z
    and w carried over into the new scaling) and the network forgets its sent values (the first round
    resends every value through the new weights). `power_iterations` (default 0): the steps' spectrum
    exactly at every weight change (`pipg_steps`), or, when > 0, by that many power steps per weight
    change from the last change's eigenvectors (`SpectrumTracker`; exact on the first change and on a
    jump), at a small fraction of the cost for weights that move a little between calls.

    Status: "solved" when `tolerance` > 0 was met, "max_iterations" otherwise (PIPG detects no
    infeasibility: an infeasible QP ends with its violation in max_violation), "failed" if a value is not
    finite (u is then the fallback and the network restarts cold). `activity` of each result: the
    network's counters (SPIKES, SYNAPTIC_EVENTS, GRADED_SYNAPTIC_EVENTS, NEURON_UPDATES, DENSE_MACS);
    on a call whose weights changed, the spiking network also counts WEIGHT_UPDATES = n^2 + 2 nnz(G~) (H~,
    and G~'s nonzero entries in both directions, written into its synapses), and both count CPU_MACS for the host's
    step-size computation (`exact_spectrum_macs`, or the tracker's `macs`; the scaling's n^2 + mn
    products are left out). `raster`: the last call's events
    (`neuroctl.network.pipg`; (K + 1, n + m) for the spiking network, (0, n + m) for the dense twin).
    """

    dense: bool

    def __init__(self, iterations: int = 200, threshold: float = 1e-4, tolerance: float = 0.0,
                 dual_ratio: float | None = None, momentum: str = "nesterov", scaling: bool = True,
                 power_iterations: int = 0) -> None:
        if (iterations < 1 or threshold < 0.0 or tolerance < 0.0 or (dual_ratio is not None and dual_ratio <= 0.0)
                or momentum not in ("nesterov", "none") or power_iterations < 0):
            raise ValueError("PIPG settings: expected iterations >= 1, threshold >= 0, tolerance >= 0, "
                             "dual_ratio > 0 or None, momentum 'nesterov' or 'none', power_iterations >= 0")
        self.iterations = iterations
        self.threshold = threshold
        self.tolerance = tolerance
        self.dual_ratio = dual_ratio
        self.momentum_rule = momentum
        self.scaling = scaling
        self.spectrum = SpectrumTracker(power_iterations) if power_iterations else None
        self.alpha = self.beta = self.momentum = 0.0
        self.weight_changes = 0
        self._last_qp: InequalityQP | None = None
        self._source_hessian = np.zeros((0, 0))  # the H and G of the last weight change, as given
        self._source_rows = np.zeros((0, 0))
        self._hessian = np.zeros((0, 0))  # the scaled weights the network holds
        self._rows = np.zeros((0, 0))
        self._row_synapses = self._column_synapses = synapse_arrays(0, 0)  # G~'s nonzero entries
        self._column_scale = np.zeros(0)  # d
        self._row_scale = np.zeros(0)  # r
        self._row_effect = np.zeros(0)  # max_i |G~_ji d_i|, for the constraint neurons' thresholds
        self._primal = np.zeros((5, 0))
        self._dual = np.zeros((4, 0))
        self.raster = np.zeros((0, 0), np.uint8)
        self._primal_thresholds = np.zeros(0)
        self._dual_thresholds = np.zeros(0)

    def reset(self) -> None:
        """Forget the warm start: z = 0, w = 0, nothing sent, the spectrum's eigenvectors."""
        self._primal[:] = 0.0
        self._dual[:] = 0.0
        self._last_qp = None
        if self.spectrum is not None:
            self.spectrum.reset()

    def size_for(self, n_variables: int, n_constraints: int) -> None:
        """Allocate the network (state and raster) for QPs of this size, cold, if it has another size."""
        n, m = n_variables, n_constraints
        if self._primal.shape[1] != n or self._dual.shape[1] != m:
            self._primal, self._dual = np.zeros((5, n)), np.zeros((4, m))
            self._column_scale, self._row_scale = np.ones(n), np.ones(m)
            self.raster = np.zeros((0 if self.dense else self.iterations + 1, n + m), np.uint8)

    def solve(self, qp: InequalityQP, warm_start: np.ndarray | None = None, iterations: int | None = None) -> QPResult:
        """Up to `iterations` (default the setting K) iterations on `qp` from the warm start."""
        return self._run(qp, warm_start, self.iterations if iterations is None else iterations, False)

    def resume(self, qp: InequalityQP, iterations: int) -> QPResult:
        """Up to `iterations` more iterations on the QP of the last call (the same object, unchanged),
        continuing its iteration (`pipg_solve`'s resume): calls of K1 and K2 compute what one of K1 + K2
        does. The spiking raster holds at most K + 1 rows: `iterations` <= K."""
        return self._run(qp, None, iterations, True)

    def _run(self, qp: InequalityQP, warm_start: np.ndarray | None, iterations: int, resume: bool) -> QPResult:
        started = time.perf_counter()
        activity = np.zeros(len(COUNTER_FIELDS), np.int64)
        n, m = qp.n_variables, qp.n_constraints
        if not 1 <= iterations <= self.iterations:
            raise ValueError(f"PIPG iterations per call: expected 1..{self.iterations}, got {iterations}")
        if resume and qp is not self._last_qp:
            raise ValueError("PIPG resume: expected the QP of the last call (the same InequalityQP)")
        self.size_for(n, m)
        if not resume and not (np.array_equal(qp.H, self._source_hessian) and np.array_equal(qp.G, self._source_rows)):
            self._load_weights(qp, activity)
        self._last_qp = qp
        d, r = self._column_scale, self._row_scale
        z = self._primal[PRIMAL_ITERATE]
        if warm_start is not None:
            z[:] = qp.fallback(warm_start) / d
        run = pipg_solve(
            self._hessian, d * qp.q, qp.lower / d, qp.upper / d, self._rows, self._row_synapses,
            self._column_synapses, r * qp.h,
            self.alpha, self.beta, self.momentum, iterations, self.tolerance,
            self._primal_thresholds, self._dual_thresholds, self.dense, self._primal, self._dual, activity,
            self.raster, resume,
        )  # fmt: skip
        if not (np.all(np.isfinite(self._primal)) and np.all(np.isfinite(self._dual))):
            self.reset()
            return _result(qp, qp.fallback(warm_start), STATUS_FAILED, run, started, activity)
        converged = self.tolerance > 0.0 and run < iterations
        status = STATUS_SOLVED if converged else STATUS_MAX_ITERATIONS
        return _result(qp, np.clip(d * z, qp.lower, qp.upper), status, run, started, activity)

    def _load_weights(self, qp: InequalityQP, activity: np.ndarray) -> None:
        """New H or G: scale them (`scale_weights`), recompute the steps and thresholds, forget the sent values."""
        n, m = qp.n_variables, qp.n_constraints
        if self._hessian.shape != (n, n) or self._rows.shape != (m, n):  # a new size: the arrays, once
            self._source_hessian, self._source_rows = np.zeros((n, n)), np.zeros((m, n))
            self._hessian, self._rows = np.zeros((n, n)), np.zeros((m, n))
            self._row_synapses, self._column_synapses = synapse_arrays(m, m * n), synapse_arrays(n, m * n)
            self._row_effect = np.zeros(m)
        np.copyto(self._source_hessian, qp.H)
        np.copyto(self._source_rows, np.reshape(qp.G, (m, n)))
        synapses = scale_weights(self._source_hessian, self._source_rows, self.scaling, self._column_scale,
                                 self._row_scale, self._hessian, self._rows, self._row_synapses,
                                 self._column_synapses, self._row_effect, self._primal, self._dual)
        if self.spectrum is None:
            self.alpha, self.beta, momentum = pipg_steps(self._hessian, self._rows, self.dual_ratio)
            activity[CPU_MACS] += exact_spectrum_macs(n, m)
        else:
            smallest, largest, sigma = self.spectrum.estimate(self._hessian, self._rows)
            self.alpha, self.beta, momentum = steps_from_spectrum(smallest, largest, sigma, self.dual_ratio)
            activity[CPU_MACS] += self.spectrum.macs
        self.momentum = momentum if self.momentum_rule == "nesterov" else 0.0
        theta = 0.0 if self.dense else self.threshold
        self._primal_thresholds = theta / self._column_scale  # a change of s_i by theta / d_i moves u_i by theta
        self._dual_thresholds = theta / (self.alpha * np.maximum(self._row_effect, np.finfo(float).tiny))
        forget_sent(self._primal, self._dual)
        if not self.dense:
            activity[WEIGHT_UPDATES] += synapses
        self.weight_changes += 1


class SpikingPIPGSolver(PIPGSolver):
    """PIPG's gradient and constraint neurons talking with sigma-delta events (`PIPGSolver`)."""

    dense = False


class DensePIPGSolver(PIPGSolver):
    """The dense twin: the same iterations with every product every iteration, no events (`PIPGSolver`)."""

    dense = True


def make_qp_solver(name: str, **settings) -> QPSolver:
    """A solver by name ("osqp", "daqp", "pipg_spiking", "pipg_dense"), built with `settings` (the
    solver's own keyword settings)."""
    solvers = {"osqp": OSQPSolver, "daqp": DAQPSolver, "pipg_spiking": SpikingPIPGSolver,
               "pipg_dense": DensePIPGSolver}
    if name not in solvers:
        raise ValueError(f"QP solver {name!r}: expected one of {', '.join(sorted(solvers))}")
    return solvers[name](**settings)
