"""The condensed MPC quadratic programme, its dual, and an exact box-QP solver.

Primal (condensed) QP
---------------------
Over a horizon of N steps with decision U = [u_0; ...; u_{N-1}] (n = N*nu values, action units) the
predicted states are X = [x_0; ...; x_N] = Phi x0 + Gamma U, and the cost

    J(U) = sum_{k<N} (x_k'Q x_k + u_k'R u_k) + x_N'P x_N          (P: DARE solution, LQR cost-to-go)
         = 1/2 U'HU + q'U + const,   H = 2 (Gamma'Qbar Gamma + Rbar),   q = F x0 + G r,

with F = 2 Gamma'Qbar Phi and, for an optional state reference r = [r_1; ...; r_N] (cost on x_k - r_k,
k >= 1), G = -2 Gamma'Qbar. The constraints are the actuator bounds on every u_k: a box.

Long horizons
-------------
For an unstable plant H is ill-conditioned: the inputs' effect on the unstable mode at the end of the
horizon grows like exp(lambda (N - k) Ts), and P weighs that mode heavily, so one direction of H grows
like exp(2 lambda N Ts). Gradient methods converge at a rate set by kappa(H). Measured on the cart-pole
approximation (Ts = 10 ms, lambda = 3.97 rad/s, default weights Q = diag(1, 10, 0.1, 0.1), R = 1,
`python -m neuroctl.control.measure conditioning`):

    N                       20      40      60       80
    kappa(H)                11.6    94.2    603      3.39e3
    kappa(D H D), Jacobi    15.3    208     2.05e3   1.60e4
    kappa([H^-1]_mm), m=20  11.6    11.6    11.6     11.6   (leading m x m block, any N)

Diagonal (Jacobi) scaling, the only change of variables that keeps the box a box, makes it worse: the
ill-conditioning is a direction (the unstable mode), not a spread of column scales. Prestabilising
with the LQR gain, u_k = -K x_k + v_k, makes the Hessian block diagonal, 2 (R + B'PB) per step (kappa
1 for one input, since P is the DARE solution), with q_v = 0, but turns the box into state-dependent
constraints lo <= L v + C x0 <= hi (L unit lower block-triangular, L_kj = -K A_cl^(k-1-j) B, C_k =
-K A_cl^k). Its dual keeps the box simple: with multipliers y (one per u_k) the dual problem is

    min_y 1/2 y'My + b'y + sigma(y),   M = H^-1 = 1/2 L Wbar^-1 L'  (W = R + B'PB),   b = -C x0,

where sigma(y) = sum_i max(hi_i y_i, lo_i y_i) is the support function of the box, whose proximal
step is elementwise (a dead zone: prox(v) = v - s clip(v / s, lo, hi)), and the commands are
U(y) = C x0 - M y = -(My + b), i.e. the negated gradient. M and C are built from the closed loop
A_cl = A - BK and so are computed stably for any N. Inactive constraints have y_i = 0 exactly, so the
dual iterations only work on the active constraints, and the leading m x m block of M does not depend
on N (it is H_m^-1, the m-step problem's; table above): the conditioning is set by how far into the
horizon the actuator saturates, not by the horizon. Without active constraints the dual neurons are
silent and U = C x0 is the LQR plan.

Chosen formulation: the dual of the prestabilised QP (`formulation="dual"`) by default; the primal
condensed QP (`"primal"`, the scheme of Mangalore et al. 2024) stays available. Spiking network, K = 20
Nesterov iterations, default thresholds, closed loop on the cart-pole approximation from random starts
(`python -m neuroctl.control.measure closed-loop --horizon N`; N = 20: 10 seeds x 10 s, else 5 x 5 s):

    N    formulation   QP error mean / p99    syn. events / dense MACs   cost / exact MPC
    20   dual          2.8e-4 / 1.0e-3        0.60 %                     1.0001
    20   primal        1.4e-3 / 2.2e-3        8.6 %                      1.00006
    40   dual          2.3e-4 / 1.6e-3        0.63 %                     1.0003
    40   primal        2.0e-3 / 1.0e-2        6.6 %                      1.0002
    80   dual          2.3e-4 / 1.6e-3        0.32 %                     1.0003
    80   primal        2.3e-2 / 4.1e-1        5.3 %                      1.05

(QP error: max_i |U_i - U*_i| / bound over the whole plan, per tick.)

Polyhedral constraints
----------------------
Beside the box, rows G U <= h(x0, x_ref) (`PolyhedralConstraints`), e.g. state bounds over the horizon
(`state_bound_constraints`): x_low <= x_k <= x_high for k = 1..N, with x_k = x_ref + e_k and the
predicted errors e_k = Phi_k x0 + Gamma_k U (x0 = x - x_ref, as the controllers solve it), become

    Gamma_k U <= x_high - x_ref - Phi_k x0,     -Gamma_k U <= x_ref - x_low + Phi_k x0

(one row per finite bound), so h = h_constant + E x0 + E_ref x_ref: two matrix-vector products per tick.
`ConstrainedMPCQP` holds the `neuroctl.control.qp_solvers.InequalityQP` of a problem and its rows and
refreshes q = F x0 and h in place for each tick's x0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroctl.control.base import LinearModel
from neuroctl.control.linear import dlqr
from neuroctl.control.qp_solvers import InequalityQP
from neuroctl.network.jit import cached_njit
from neuroctl.network.linalg import cholesky_solve, extreme_eigenvalues, matmul, matvec_into


@dataclass(frozen=True)
class MPCProblem:
    """Arrays of the condensed MPC QP of one model, horizon and cost (built by `build_mpc_problem`).

    Shapes: n = N*nu decision values U (action units), X = [x_0..x_N] stacked ((N+1)*nx).

    In the model's deviation coordinates: U holds u_k - u_op (so the bounds are u_low - u_op ..
    u_high - u_op), x0 is the initial state's offset. A controller tracking a reference x_ref that the
    model holds at u = u_op (an equilibrium) solves it at x0 = x - x_ref: the predicted states are then
    the tracking errors x_k - x_ref.
    """

    horizon: int
    model: LinearModel
    Q: np.ndarray
    R: np.ndarray
    P: np.ndarray  # terminal weight, DARE solution
    K: np.ndarray  # LQR gain (nu, nx)
    H: np.ndarray  # (n, n) Hessian of 1/2 U'HU + q'U
    F: np.ndarray  # (n, nx): q = F x0 (+ G r)
    G: np.ndarray  # (n, N*nx): reference term of q
    state_map: np.ndarray  # Phi ((N+1)*nx, nx)
    input_map: np.ndarray  # Gamma ((N+1)*nx, n)
    lower: np.ndarray  # (n,) bounds on U
    upper: np.ndarray
    M: np.ndarray  # (n, n) H^-1, dual Hessian
    C: np.ndarray  # (n, nx) unconstrained (LQR) plan: U = C x0 = -H^-1 F x0

    @property
    def n_states(self) -> int:
        return self.model.n_states

    @property
    def n_inputs(self) -> int:
        return self.model.n_inputs

    @property
    def n_decisions(self) -> int:
        return self.horizon * self.model.n_inputs

    def linear_term(self, x0: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """q(x0, r) = F x0 + G r; `reference` (N, nx) holds r_1..r_N, None means r = 0."""
        q = self.F @ x0
        if reference is not None:
            q = q + self.G @ np.asarray(reference, float).reshape(-1)
        return q

    def objective(self, x0: np.ndarray, commands: np.ndarray, reference: np.ndarray | None = None) -> float:
        """1/2 U'HU + q(x0, r)'U: the cost J(U) up to a term independent of U."""
        u = np.asarray(commands, float).reshape(-1)
        return float(0.5 * u @ self.H @ u + self.linear_term(x0, reference) @ u)

    def predict(self, x0: np.ndarray, commands: np.ndarray) -> np.ndarray:
        """Predicted states (N+1, nx) from x0 under U (any shape with N*nu values)."""
        x = matmul(self.state_map, x0) + matmul(self.input_map, np.asarray(commands, float).reshape(-1))
        return x.reshape(self.horizon + 1, self.n_states)


def build_mpc_problem(model: LinearModel, q: np.ndarray, r: np.ndarray, horizon: int) -> MPCProblem:
    """Condense the MPC of `model` with stage weights Q = `q`, R = `r` over `horizon` steps."""
    if horizon < 1:
        raise ValueError(f"horizon: expected >= 1, got {horizon}")
    k, p = dlqr(model, q, r)
    nx = model.n_states
    state_map, input_map = _prediction_maps(model.A, model.B, horizon)
    weights = [q] * horizon + [p]  # Qbar = blockdiag(Q, ..., Q, P)
    weighted = _times_block_diagonal(input_map.T, weights)  # Gamma' Qbar
    hessian = 2.0 * (matmul(weighted, input_map) + np.kron(np.eye(horizon), r))
    feedback, unconstrained = _prestabilised_maps(model.A, model.B, k, horizon)
    w = r + matmul(matmul(model.B.T, p), model.B)
    w_inv = cholesky_solve(0.5 * (w + w.T), np.eye(model.n_inputs))
    return MPCProblem(
        horizon=horizon,
        model=model,
        Q=q,
        R=r,
        P=p,
        K=k,
        H=0.5 * (hessian + hessian.T),
        F=2.0 * matmul(weighted, state_map),
        G=-2.0 * weighted[:, nx:],
        state_map=state_map,
        input_map=input_map,
        lower=np.tile(np.asarray(model.u_low, float) - model.u_op, horizon),  # bounds on u - u_op
        upper=np.tile(np.asarray(model.u_high, float) - model.u_op, horizon),
        M=_symmetric(0.5 * matmul(_times_block_diagonal(feedback, [w_inv] * horizon), feedback.T)),
        C=unconstrained,
    )


def _times_block_diagonal(matrix: np.ndarray, blocks: list[np.ndarray]) -> np.ndarray:
    """matrix @ blockdiag(blocks), block column by block column (the zeros are never multiplied)."""
    out = np.empty((matrix.shape[0], sum(block.shape[1] for block in blocks)))
    start = 0
    for block in blocks:
        size = block.shape[0]
        out[:, start : start + size] = matmul(matrix[:, start : start + size], block)
        start += size
    return out


def _symmetric(matrix: np.ndarray) -> np.ndarray:
    return 0.5 * (matrix + matrix.T)


def _prediction_maps(a: np.ndarray, b: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Phi, Gamma with x_k = A^k x0 + sum_{j<k} A^(k-1-j) B u_j for k = 0..N."""
    nx, nu = b.shape
    state_map = np.zeros(((horizon + 1) * nx, nx))
    input_map = np.zeros(((horizon + 1) * nx, horizon * nu))
    power = np.eye(nx)
    for k in range(horizon + 1):
        state_map[k * nx : (k + 1) * nx] = power
        power = matmul(a, power)
    impulse = b
    for lag in range(1, horizon + 1):  # block (k, j) with k - j = lag is A^(lag-1) B
        for j in range(horizon + 1 - lag):
            input_map[(j + lag) * nx : (j + lag + 1) * nx, j * nu : (j + 1) * nu] = impulse
        impulse = matmul(a, impulse)
    return state_map, input_map


def _prestabilised_maps(
    a: np.ndarray, b: np.ndarray, k: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """L (n, n) and C (n, nx) with U = L v + C x0 under u_k = -K x_k + v_k.

    Closed loop A_cl = A - BK: L_kk = I, L_kj = -K A_cl^(k-1-j) B for j < k, C_k = -K A_cl^k.
    """
    nx, nu = b.shape
    closed = a - matmul(b, k)
    feedback = np.eye(horizon * nu)
    unconstrained = np.zeros((horizon * nu, nx))
    power = np.eye(nx)
    impulse = b
    for step in range(horizon):
        unconstrained[step * nu : (step + 1) * nu] = matmul(-k, power)
        power = matmul(closed, power)
    for lag in range(1, horizon):
        block = matmul(-k, impulse)
        for j in range(horizon - lag):
            feedback[(j + lag) * nu : (j + lag + 1) * nu, j * nu : (j + 1) * nu] = block
        impulse = matmul(closed, impulse)
    return feedback, unconstrained


def step_and_momentum(hessian: np.ndarray) -> tuple[float, float]:
    """Step 1/L and Nesterov momentum (sqrt(kappa) - 1)/(sqrt(kappa) + 1) for a symmetric Hessian.

    L and mu are its largest and smallest eigenvalues, kappa = L / mu (`extreme_eigenvalues`: the same
    bits for any BLAS thread count, unlike LAPACK's eigvalsh).
    """
    smallest, largest = extreme_eigenvalues(hessian)
    kappa = largest / smallest
    return 1.0 / largest, (np.sqrt(kappa) - 1.0) / (np.sqrt(kappa) + 1.0)


@cached_njit
def solve_box_qp(hessian, q, lower, upper, step, tolerance, max_iterations, u, work):
    """Solve min 1/2 u'Hu + q'u, lower <= u <= upper in place from the warm start `u` (FISTA, restarts).

    Stops when the fixed-point residual max_i |u_i - clip(u_i - step (Hu + q)_i)| <= tolerance
    (step = 1/L, so the residual is in the units of u). Adaptive restart (O'Donoghue & Candes 2015):
    momentum is reset when it points uphill. `work` is a (3, n) scratch array. Returns the number of
    gradient evaluations (each n^2 multiply-accumulates).
    """
    n = u.shape[0]
    y, previous, gradient = work[0], work[1], work[2]
    for i in range(n):
        u[i] = min(max(u[i], lower[i]), upper[i])
        y[i] = u[i]
    t = 1.0
    evaluations = 0
    while evaluations < max_iterations:
        _gradient(hessian, q, y, gradient)
        evaluations += 1
        residual = 0.0
        uphill = 0.0
        for i in range(n):
            previous[i] = u[i]
            u[i] = min(max(y[i] - step * gradient[i], lower[i]), upper[i])
            residual = max(residual, abs(u[i] - y[i]))
            uphill += (y[i] - u[i]) * (u[i] - previous[i])
        if residual <= tolerance:
            _gradient(hessian, q, u, gradient)
            evaluations += 1
            if _fixed_point_residual(u, gradient, lower, upper, step) <= tolerance:
                return evaluations
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        beta = (t - 1.0) / t_next
        if uphill > 0.0:
            t_next, beta = 1.0, 0.0
        for i in range(n):
            y[i] = u[i] + beta * (u[i] - previous[i])
        t = t_next
    return evaluations


@cached_njit
def _gradient(hessian, q, u, out):
    """out = H u + q."""
    n = u.shape[0]
    for i in range(n):
        total = q[i]
        for j in range(n):
            total += hessian[i, j] * u[j]
        out[i] = total


@cached_njit
def _fixed_point_residual(u, gradient, lower, upper, step):
    """max_i |u_i - clip(u_i - step g_i, lower_i, upper_i)|."""
    residual = 0.0
    for i in range(u.shape[0]):
        projected = min(max(u[i] - step * gradient[i], lower[i]), upper[i])
        residual = max(residual, abs(u[i] - projected))
    return residual


def fixed_point_residual(problem: MPCProblem, x0: np.ndarray, commands: np.ndarray) -> float:
    """Optimality measure of U for the QP at x0 (zero exactly at the solution), in action units."""
    u = np.asarray(commands, float).reshape(-1)
    step, _ = step_and_momentum(problem.H)
    gradient = problem.H @ u + problem.linear_term(x0)
    return float(_fixed_point_residual(u, gradient, problem.lower, problem.upper, step))


@dataclass(frozen=True)
class PolyhedralConstraints:
    """Rows G U <= h(x0, x_ref) = h_constant + state_gain x0 + reference_gain x_ref of an MPC QP.

    Shapes: G (m, n), h_constant (m,), state_gain and reference_gain (m, nx); x0 = x - x_ref is the QP's
    initial state, x_ref the tick's model-state set point (zeros when there is none).
    """

    G: np.ndarray
    h_constant: np.ndarray
    state_gain: np.ndarray
    reference_gain: np.ndarray

    @property
    def n_rows(self) -> int:
        return self.G.shape[0]

    def offsets_into(self, x0: np.ndarray, reference: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
        """out = h(x0, x_ref) (m,), with `scratch` (m,) a work array."""
        matvec_into(self.state_gain, x0, out)
        matvec_into(self.reference_gain, reference, scratch)
        out += scratch
        out += self.h_constant


def state_bound_constraints(problem: MPCProblem, x_low: np.ndarray, x_high: np.ndarray) -> PolyhedralConstraints:
    """x_low <= x_k <= x_high (nx each, model-state units, +-inf: no bound) for k = 1..N as rows on U
    (the module docstring): the upper bounds of step k, then its lower bounds, step by step."""
    nx = problem.n_states
    x_low, x_high = np.asarray(x_low, float).reshape(-1), np.asarray(x_high, float).reshape(-1)
    if x_low.shape != (nx,) or x_high.shape != (nx,):
        raise ValueError(f"state bounds: expected {nx} values each, got {x_low.size} and {x_high.size}")
    if np.any(x_low > x_high):
        raise ValueError("state bounds: expected x_low <= x_high")
    rows, constants, states, references = [], [], [], []
    identity = np.eye(nx)
    for k in range(1, problem.horizon + 1):
        gamma = problem.input_map[k * nx : (k + 1) * nx]
        phi = problem.state_map[k * nx : (k + 1) * nx]
        for sign, bound in ((1.0, x_high), (-1.0, x_low)):
            kept = np.isfinite(bound)
            rows.append(sign * gamma[kept])
            constants.append(sign * bound[kept])
            states.append(-sign * phi[kept])
            references.append(-sign * identity[kept])
    return PolyhedralConstraints(
        G=np.ascontiguousarray(np.vstack(rows)),
        h_constant=np.concatenate(constants),
        state_gain=np.ascontiguousarray(np.vstack(states)),
        reference_gain=np.ascontiguousarray(np.vstack(references)),
    )


class ConstrainedMPCQP:
    """The InequalityQP of `problem` with `constraints` (None: box only), refreshed in place per tick.

    `update(x0, reference)` sets q = F x0 and h = h(x0, x_ref) and returns the same `qp` object (its H,
    box and G are the problem's arrays, never copied per tick).
    """

    def __init__(self, problem: MPCProblem, constraints: PolyhedralConstraints | None = None) -> None:
        self.problem = problem
        self.constraints = constraints
        n, nx = problem.n_decisions, problem.n_states
        rows = np.zeros((0, n)) if constraints is None else constraints.G
        self.qp = InequalityQP(problem.H, np.zeros(n), problem.lower, problem.upper, rows, np.zeros(rows.shape[0]))
        self._scratch = np.zeros(rows.shape[0])
        self._zero_reference = np.zeros(nx)

    def update(self, x0: np.ndarray, reference: np.ndarray | None = None) -> InequalityQP:
        matvec_into(self.problem.F, x0, self.qp.q)
        if self.constraints is not None:
            reference = self._zero_reference if reference is None else np.asarray(reference, float)
            self.constraints.offsets_into(x0, reference, self.qp.h, self._scratch)
        return self.qp
