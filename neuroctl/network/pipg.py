"""PIPG as a network: gradient neurons and constraint neurons talking with sigma-delta events.

The QP `min 1/2 z'Hz + q'z  s.t.  lower <= z <= upper,  G z <= h` (H (n, n) symmetric PSD, G (m, n))
is solved by proportional-integral projected gradient (PIPG; Yu, Elango and Acikmese, IEEE L-CSS 2021,
the algorithm of Loihi 2's QP solver, Mangalore et al., IEEE RAM 2024) with constant steps alpha, beta,
here with momentum mu on the primal (the extrapolation of accelerated projected gradient):

    v     = max(0, w + beta (G y - h))                      (constraint neurons: proportional + integral)
    z+    = clip(y - alpha (H y + q + G'v), lower, upper)   (gradient neurons, projected on the box)
    y     <- z+ + mu (z+ - z),  z <- z+                      (momentum; none where the step went uphill)
    w     <- max(0, w + beta (G y - h))                      (constraint neurons integrate the violation)

one gradient neuron per z_i (holding z_i and its extrapolated point y_i, which it sends), one
constraint neuron per row of G holding its integral w_j (the dual, projected to >= 0) and sending its
output v_j. Each iteration: the gradient neurons step and send, then the constraint neurons update and
send (the next iteration's v uses the new w and G y). A gradient neuron whose step went uphill,
(y_i - z+_i)(z+_i - z_i) > 0, drops its momentum (the per-neuron gradient restart of O'Donoghue and
Candes, as in `neuroctl.network.gradient`); the answer is z, and each call starts from y = z. With
mu = 0 this is PIPG itself (y = z). Momentum turns the iterations needed from ~kappa(H)
into ~sqrt(kappa(H)): on the trotting quadruped's force QPs (kappa ~ 4e4) 200 iterations reach a
relative objective gap of 3e-3 with it and 0.77 without (`neuroctl.bench.qp`).

Events (`neuroctl.network.sigma_delta`, over the connections of `neuroctl.network.dense`): gradient
neuron j sends d = y_j - y_hat_j when |d| > theta_primal_j, into H's row j (the gradient neurons'
accumulators of H y_hat; dense, a condensed MPC's Hessian is) and G's column j (the constraint neurons'
accumulators of G y_hat; its nonzero entries only, compressed: a friction pyramid's row has 2 of the
quadruped's 120): fan-out n + nnz(G's column j). Constraint neuron j sends d = v_j - v_hat_j when |d| >
theta_dual_j into G's row j (the gradient neurons' accumulators of G'v_hat): fan-out nnz(G's row j). A
synapse of weight zero does not exist, as on a chip that stores its synapse lists. q and h are the
neurons' biases. The receivers' copies y_hat, v_hat are always within theta of the values, so the
iteration runs on values perturbed by at most theta. Each call starts from y = z with one round of
events of the gradient neurons (their values since the last call) and one of the constraint neurons (v
from the warm-started w and z), then runs K iterations. A call that resumes (`resume`) continues the
last call's iteration on the same QP without the restart and the first round: the iterations of one QP
can be spread over several calls (over control ticks) and compute what one call does.

Warm start: z and w persist in `state` between calls. When the weights (H or G) change, the caller
forgets the sent values (`forget_sent`): the receivers' copies and accumulators restart at zero, so the
first round sends every neuron's full value through the new weights.

The dense twin (`dense = True`): the same iterations with H y, G y and G'v fully multiplied every
iteration from the exact values (no events); with all thresholds at 0 the two compute the same z up
to rounding.

Counters per call, ADDED to `activity` (len(COUNTER_FIELDS), `neuroctl.activity`): SPIKES = events of
both kinds; SYNAPTIC_EVENTS = GRADED_SYNAPTIC_EVENTS = the synapses the events reached, the sum of
their fan-outs above (every event carries a value); NEURON_UPDATES = R (n + m); DENSE_MACS = R (n^2 +
2mn), what the dense twin does, with R = K + 1 rounds (the first round included; R = K for a call that
resumes). The dense twin adds only DENSE_MACS.

Early stop: with tolerance > 0 a call ends after the first iteration in which no z_i moved by more than
tolerance and no row is violated by more than tolerance (G y_hat - h <= tolerance).

Raster (uint8, one row per round of events: the first round, then one per iteration, K + 1 rows; n + m
columns: gradient neurons, then constraint neurons): 1 where a neuron sent an event; rows after an early
stop stay 0, so its sum is the call's spike count. A (0, n + m) raster records nothing.
"""

from __future__ import annotations

import numpy as np

from neuroctl.activity import (COUNTER_FIELDS, DENSE_MACS, GRADED_SYNAPTIC_EVENTS, NEURON_UPDATES, SPIKES,
                               SYNAPTIC_EVENTS)
from neuroctl.network.dense import compress, deliver_dense, dense_product, send_events
from neuroctl.network.jit import cached_njit
from neuroctl.network.linalg import (extreme_eigenvalues, gershgorin_radius, gram_norm_bound, nearest_eigenvector,
                                     refine_eigenpair, refine_macs)

PRIMAL_ITERATE, PRIMAL_POINT, PRIMAL_SENT, HESSIAN_INPUT, CONSTRAINT_INPUT = range(5)
"""Rows of the gradient neurons' (5, n) state: z, the point y they send, the receivers' copy y_hat,
H y_hat, G'v_hat."""
INTEGRAL, OUTPUT, DUAL_SENT, ROW_INPUT = range(4)
"""Rows of the constraint neurons' (4, m) state: w, v, the receivers' copy v_hat, G y_hat."""


def pipg_steps(hessian: np.ndarray, rows: np.ndarray, dual_ratio: float | None = None) -> tuple[float, float, float]:
    """`steps_from_spectrum` of H's exact extreme eigenvalues and sigma = ||G||_2^2 (the largest
    eigenvalue of the smaller of G G' and G'G)."""
    smallest, largest = extreme_eigenvalues(hessian)
    m, n = rows.shape
    sigma = 0.0
    if m:
        rows_gram = rows @ rows.T if m <= n else rows.T @ rows
        sigma = max(extreme_eigenvalues(rows_gram)[1], 0.0)
    return steps_from_spectrum(smallest, largest, sigma, dual_ratio)


def steps_from_spectrum(smallest: float, largest: float, sigma: float,
                        dual_ratio: float | None = None) -> tuple[float, float, float]:
    """Constant steps (alpha, beta) with alpha (lambda + beta sigma) = 1, and the momentum mu, from
    lambda = the largest eigenvalue of H, its smallest, and sigma = ||G||_2^2.

    alpha (||H|| + beta ||G||^2) <= 1 is the sufficient condition for constant steps of primal-dual
    projected gradient methods of this family (PIPG's, Yu, Elango and Acikmese 2021; it is Condat-Vu's
    primal-dual splitting condition, which has lambda / 2); here it holds with equality, and:

    - dual_ratio None (balanced, the default): the primal and dual terms equal, alpha lambda =
      alpha beta sigma = 1/2, so alpha = 1 / (2 lambda), beta = lambda / sigma. It does not depend on
      the units of G and h (scaling G by c scales beta by 1/c^2, as the dual's units require);
    - dual_ratio r: beta = r alpha, alpha = 2 / (lambda + sqrt(lambda^2 + 4 r sigma)).

    Without rows (sigma = 0) alpha = 1/lambda (projected gradient) and beta = 0.

    mu = (sqrt(kappa) - 1) / (sqrt(kappa) + 1), kappa = lambda / lambda_min(H) (Nesterov's constant
    momentum for a strongly convex quadratic; 1 - 1e-6 at most, for a singular H).
    """
    root = np.sqrt(largest / smallest) if smallest > 0.0 else np.inf
    momentum = min(float((root - 1.0) / (root + 1.0)), 1.0 - 1e-6) if np.isfinite(root) else 1.0 - 1e-6
    if sigma <= 0.0:
        return float(1.0 / largest), 0.0, momentum
    if dual_ratio is None:
        return float(0.5 / largest), float(largest / sigma), momentum
    alpha = 2.0 / (largest + np.sqrt(largest * largest + 4.0 * dual_ratio * sigma))
    return float(alpha), float(dual_ratio * alpha), momentum


class SpectrumTracker:
    """Estimates of H's extreme eigenvalues and of sigma = ||G||_2^2 for PIPG's steps, warm started across
    weight changes (the MPC's H moves a little from one replan to the next).

    `estimate(H, G)` -> (smallest, largest, sigma):

    - sigma: Gershgorin's bound on G'G (`gram_norm_bound`), never below sigma, from each row's nonzeros
      (equal to sigma on the quadruped's friction pyramids, whose G'G is block diagonal);
    - H, cold (the first call unless `seed`ed, a new size, after `reset`, or when the warm lambda_max
      moved by more than `jump` relative): the exact extreme eigenvalues (`extreme_eigenvalues`) and
      their eigenvectors by inverse iteration (`nearest_eigenvector`);
    - H, warm: `iterations` power steps from the last eigenvectors (`refine_eigenpair`): lambda_max as
      the Rayleigh quotient + residual (Krylov-Weinstein: an eigenvalue lies within the residual of the
      quotient, and a warm-started vector tracks the dominant one), capped by H's Gershgorin bound, so
      the steps err short; lambda_min as the Rayleigh quotient of its vector, an upper bound, so the
      momentum errs low.

    `macs`: the host's multiply-accumulates of the last call (`eigenvalue_macs` and the inverse
    iteration's Cholesky factorisations when cold, `refine_macs` when warm, the Gram bound's products).
    `cold_starts` counts the exact computations.
    """

    def __init__(self, iterations: int, jump: float = 0.1) -> None:
        self.iterations = iterations
        self.jump = jump
        self.macs = 0
        self.cold_starts = 0
        self._vectors = np.zeros((2, 0))  # H's lambda_max and lambda_min eigenvectors
        self._largest = 0.0
        self._gram, self._nonzero, self._product = np.zeros((0, 0)), np.zeros(0, np.int64), np.zeros(0)  # scratch

    def reset(self) -> None:
        self._vectors = np.zeros((2, 0))

    def state(self) -> tuple[np.ndarray, float]:
        """(H's lambda_max and lambda_min eigenvectors (2, n), lambda_max) as tracked: copies, for `seed`."""
        return self._vectors.copy(), self._largest

    def seed(self, vectors: np.ndarray, largest: float) -> None:
        """Track from `state()` of another tracker (a nominal QP's) instead of starting cold: the next
        estimate runs the power steps from these vectors, and is exact only on a jump from `largest`."""
        self._vectors, self._largest = np.array(vectors, dtype=np.float64), float(largest)

    def estimate(self, hessian: np.ndarray, rows: np.ndarray) -> tuple[float, float, float]:
        n = hessian.shape[0]
        if self._product.shape[0] != n:
            self._gram, self._nonzero, self._product = np.zeros((n, n)), np.zeros(n, np.int64), np.zeros(n)
        sigma, self.macs = gram_norm_bound(rows, self._gram, self._nonzero) if rows.shape[0] else (0.0, 0)
        if self._vectors.shape[1] == n:
            product = self._product
            top, bottom = self._vectors
            rho, residual = refine_eigenpair(hessian, 0.0, top, self.iterations, product)
            largest = min(rho + residual, gershgorin_radius(hessian))
            smallest, _ = refine_eigenpair(hessian, largest, bottom, self.iterations, product)
            self.macs += 2 * refine_macs(n, self.iterations) + n * n
            if abs(largest - self._largest) <= self.jump * self._largest and smallest > 0.0:
                self._largest = largest
                return smallest, largest, sigma
        start = np.linspace(1.0, 2.0, n)
        smallest, largest = extreme_eigenvalues(hessian)
        self._vectors = np.array([nearest_eigenvector(hessian, largest, True, start),
                                  nearest_eigenvector(hessian, smallest, False, start)])
        self._largest = largest
        self.macs += eigenvalue_macs(n) + n**3 // 3  # and two Cholesky factorisations
        self.cold_starts += 1
        return smallest, largest, sigma


def eigenvalue_macs(size: int) -> int:
    """Estimated multiply-accumulates of `extreme_eigenvalues` on a (size, size) matrix: Householder
    tridiagonalisation, about 4/3 size^3 (Golub and Van Loan, Matrix Computations, sec. 8.3.1); the
    bisection's O(size) per step is left out."""
    return (4 * size**3) // 3


def exact_spectrum_macs(n: int, m: int) -> int:
    """Estimated multiply-accumulates of `pipg_steps` for H (n, n) and G (m, n): the eigenvalues of H and
    of the smaller Gram matrix, and that Gram product."""
    small = min(m, n)
    return eigenvalue_macs(n) + (eigenvalue_macs(small) + small * small * max(m, n) if m else 0)


@cached_njit
def scale_weights(source_hessian, source_rows, scaling, column_scale, row_scale, hessian, rows, row_synapses,
                  column_synapses, row_effect, primal, dual):
    """The network's weights for H and G (the `PIPGSolver`'s scaling), in place, no allocation: with
    `scaling`, d_i = H_ii^-1/2 (1 where H_ii <= 0) and r_j = 1 / ||(G D)_j|| (1 for a zero row), else
    ones; H~ = D H D, G~ = R G D (`rows`, and its nonzero entries as compressed rows, `row_synapses`,
    and columns, `column_synapses`: `neuroctl.network.dense.compress`); row_effect_j = max_i |G~_ji d_i|
    (how far a unit change of v_j moves the answer u, before alpha). z and w are carried into the new
    scaling (z_i *= d_old_i / d_i, w_j *= r_old_j / r_j): `column_scale` and `row_scale` hold d_old and
    r_old on entry, d and r on return. Returns the synapses written: n^2 + 2 nnz(G~) (nnz(G) barring underflow)."""
    m, n = source_rows.shape
    for i in range(n):
        diagonal = source_hessian[i, i]
        scale = 1.0 / np.sqrt(diagonal) if scaling and diagonal > 0.0 else 1.0
        primal[PRIMAL_ITERATE, i] *= column_scale[i] / scale
        column_scale[i] = scale
    for i in range(n):
        for j in range(n):
            hessian[i, j] = column_scale[i] * source_hessian[i, j] * column_scale[j]
    for p in range(m):
        norm = 0.0
        for i in range(n):
            value = source_rows[p, i] * column_scale[i]
            norm += value * value
        scale = 1.0 / np.sqrt(norm) if scaling and norm > 0.0 else 1.0
        dual[INTEGRAL, p] *= row_scale[p] / scale
        row_scale[p] = scale
        effect = 0.0
        for i in range(n):
            value = scale * source_rows[p, i] * column_scale[i]
            rows[p, i] = value
            effect = max(effect, abs(value * column_scale[i]))
        row_effect[p] = effect
    compress(rows, False, row_synapses)
    compress(rows, True, column_synapses)
    return n * n + 2 * row_synapses[0][m]


def forget_sent(primal: np.ndarray, dual: np.ndarray) -> None:
    """Receivers' copies and accumulators to zero (new weights): the next round sends the full values."""
    primal[PRIMAL_SENT:] = 0.0
    dual[OUTPUT:] = 0.0


@cached_njit
def pipg_solve(
    hessian, q, lower, upper, rows, row_synapses, column_synapses, h, alpha, beta, momentum, iterations,
    tolerance, primal_thresholds, dual_thresholds, dense, primal, dual, activity, raster, resume=False,
):  # fmt: skip
    """Run up to K = `iterations` PIPG iterations from the state (module docstring); return the
    iterations run. rows G (m, n) C-contiguous (the dense twin's), row_synapses and column_synapses its
    nonzero entries as compressed rows and columns (`neuroctl.network.dense.compress`; the events'
    fan-outs); primal (5, n), dual
    (4, m) states; activity int64, counters added; raster uint8 (K + 1, n + m) zeroed then marked, or
    (0, n + m). `resume`: continue the last call's iteration on the same QP (no restart y = z, no first
    round: the receivers' copies are current), so calls of K1 and K2 iterations compute what one call of
    K1 + K2 does."""
    n, m = q.shape[0], h.shape[0]
    raster.fill(0)
    events = synaptic = 0
    if not resume:
        primal[PRIMAL_POINT] = primal[PRIMAL_ITERATE]
        sent, reached = _send_primal(hessian, column_synapses, rows, primal_thresholds, dense, primal, dual,
                                     raster, 0)
        _constraint_step(h, beta, False, dual)
        sent_dual, reached_dual = _send_dual(rows, row_synapses, dual_thresholds, dense, primal, dual, raster, 0)
        events, synaptic = sent + sent_dual, reached + reached_dual
    run = 0
    for _ in range(iterations):
        run += 1
        moved = _gradient_step(q, lower, upper, alpha, momentum, primal)
        sent, reached = _send_primal(hessian, column_synapses, rows, primal_thresholds, dense, primal, dual,
                                     raster, run)
        violation = _constraint_step(h, beta, True, dual)
        sent_dual, reached_dual = _send_dual(rows, row_synapses, dual_thresholds, dense, primal, dual, raster, run)
        events += sent + sent_dual
        synaptic += reached + reached_dual
        if tolerance > 0.0 and moved <= tolerance and violation <= tolerance:
            break
    rounds = run if resume else run + 1
    activity[DENSE_MACS] += rounds * (n * n + 2 * m * n)
    if not dense:
        activity[SPIKES] += events
        activity[SYNAPTIC_EVENTS] += synaptic
        activity[GRADED_SYNAPTIC_EVENTS] += synaptic  # every event carries a value
        activity[NEURON_UPDATES] += rounds * (n + m)
    return run


@cached_njit
def _gradient_step(q, lower, upper, alpha, momentum, primal):
    """z+ = clip(y - alpha (H y_hat + q + G'v_hat)) from the accumulators, y <- z+ + momentum (z+ - z)
    (none where the step went uphill), z <- z+; return max_i |z+_i - z_i|."""
    z, y = primal[PRIMAL_ITERATE], primal[PRIMAL_POINT]
    moved = 0.0
    for i in range(z.shape[0]):
        gradient = primal[HESSIAN_INPUT, i] + primal[CONSTRAINT_INPUT, i] + q[i]
        updated = min(max(y[i] - alpha * gradient, lower[i]), upper[i])
        moved = max(moved, abs(updated - z[i]))
        uphill = (y[i] - updated) * (updated - z[i]) > 0.0
        y[i] = updated if uphill else updated + momentum * (updated - z[i])
        z[i] = updated
    return moved


@cached_njit
def _send_primal(hessian, column_synapses, rows, thresholds, dense, primal, dual, raster, row):
    """Gradient neurons' events of y into H y_hat and G y_hat (dense: both products from y); return
    (events, synaptic events). Neuron j's event is marked in raster[row, j]."""
    z, z_hat = primal[PRIMAL_POINT], primal[PRIMAL_SENT]
    hessian_input, row_input = primal[HESSIAN_INPUT], dual[ROW_INPUT]
    if dense:
        z_hat[:] = z
        hessian_input[:] = 0.0
        dense_product(hessian, z, hessian_input)
        row_input[:] = 0.0
        dense_product(rows, z, row_input)
        return 0, 0
    # H symmetric: row j is neuron j's fan-out into the gradient neurons; G's column j into the constraint ones
    return send_events(z, z_hat, thresholds, hessian, hessian_input, column_synapses, row_input, raster, row, 0)


@cached_njit
def _constraint_step(h, beta, integrate, dual):
    """Constraint neurons: (w <- max(0, w + beta c) if `integrate`), v = max(0, w + beta c), with
    c = G y_hat - h; return max(0, max_j c_j)."""
    w, v = dual[INTEGRAL], dual[OUTPUT]
    violation = 0.0
    for j in range(h.shape[0]):
        excess = dual[ROW_INPUT, j] - h[j]
        violation = max(violation, excess)
        if integrate:
            w[j] = max(0.0, w[j] + beta * excess)
        v[j] = max(0.0, w[j] + beta * excess)
    return violation


@cached_njit
def _send_dual(rows, row_synapses, thresholds, dense, primal, dual, raster, row):
    """Constraint neurons' events into G'v_hat (dense: the product from v); return (events, synaptic
    events). Constraint neuron j's event is marked in raster[row, n + j]."""
    v, v_hat = dual[OUTPUT], dual[DUAL_SENT]
    constraint_input = primal[CONSTRAINT_INPUT]
    if dense:
        v_hat[:] = v
        constraint_input[:] = 0.0
        for j in range(v.shape[0]):  # G'v: row j of G is constraint neuron j's fan-out
            deliver_dense(rows, j, v[j], constraint_input)
        return 0, 0
    # G's row j is constraint neuron j's fan-out
    return send_events(v, v_hat, thresholds, rows[:0], constraint_input[:0], row_synapses, constraint_input, raster,
                       row, constraint_input.shape[0])


def pipg_solve_reference(
    hessian: np.ndarray, q: np.ndarray, lower: np.ndarray, upper: np.ndarray, rows: np.ndarray, h: np.ndarray,
    alpha: float, beta: float, momentum: float, iterations: int, tolerance: float, primal_thresholds: np.ndarray,
    dual_thresholds: np.ndarray, dense: bool, primal: np.ndarray, dual: np.ndarray, resume: bool = False,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """numpy reference of `pipg_solve`, vectorised over neurons (a round's events delivered together in
    one matrix product): (iterations run, new primal state, new dual state, counters
    (len(COUNTER_FIELDS),), raster (K + 1, n + m)); the inputs are not changed."""
    n, m = q.shape[0], h.shape[0]
    primal, dual = primal.copy(), dual.copy()
    z, y, y_hat, hessian_input, constraint_input = primal
    w, v, v_hat, row_input = dual
    events = np.zeros(2, dtype=np.int64)
    reached = np.zeros(2, dtype=np.int64)  # the synapses of weight zero do not exist
    column_fanout, row_fanout = np.count_nonzero(rows, axis=0), np.count_nonzero(rows, axis=1)
    raster = np.zeros((iterations + 1, n + m), dtype=np.uint8)

    def send_primal(row: int) -> None:
        if dense:
            y_hat[:] = y
            hessian_input[:] = hessian @ y
            row_input[:] = rows @ y
            return
        fired = np.abs(y - y_hat) > primal_thresholds
        change = np.where(fired, y - y_hat, 0.0)
        hessian_input[:] += hessian @ change
        row_input[:] += rows @ change
        y_hat[fired] = y[fired]
        events[0] += fired.sum()
        reached[0] += (fired * (n + column_fanout)).sum()
        raster[row, :n] = fired

    def constraint_step(integrate: bool) -> float:
        excess = row_input - h
        if integrate:
            w[:] = np.maximum(0.0, w + beta * excess)
        v[:] = np.maximum(0.0, w + beta * excess)
        return float(np.max(excess, initial=0.0))

    def send_dual(row: int) -> None:
        if dense:
            v_hat[:] = v
            constraint_input[:] = rows.T @ v
            return
        fired = np.abs(v - v_hat) > dual_thresholds
        constraint_input[:] += rows.T @ np.where(fired, v - v_hat, 0.0)
        v_hat[fired] = v[fired]
        events[1] += fired.sum()
        reached[1] += (fired * row_fanout).sum()
        raster[row, n:] = fired

    if not resume:
        y[:] = z
        send_primal(0)
        constraint_step(False)
        send_dual(0)
    run = 0
    for _ in range(iterations):
        run += 1
        updated = np.clip(y - alpha * (hessian_input + constraint_input + q), lower, upper)
        moved = float(np.max(np.abs(updated - z), initial=0.0))
        uphill = (y - updated) * (updated - z) > 0.0
        y[:] = np.where(uphill, updated, updated + momentum * (updated - z))
        z[:] = updated
        send_primal(run)
        violation = constraint_step(True)
        send_dual(run)
        if tolerance > 0.0 and moved <= tolerance and violation <= tolerance:
            break
    counters = np.zeros(len(COUNTER_FIELDS), dtype=np.int64)
    rounds = run if resume else run + 1
    counters[DENSE_MACS] = rounds * (n * n + 2 * m * n)
    if not dense:
        synaptic = reached.sum()
        counters[[SPIKES, SYNAPTIC_EVENTS, GRADED_SYNAPTIC_EVENTS]] = events.sum(), synaptic, synaptic
        counters[NEURON_UPDATES] = rounds * (n + m)
    return run, primal, dual, counters, raster
