"""Helpers on `LinearModel`: zero-order-hold discretisation, discrete LQR, the cart-pole approximation.

Conventions: states and inputs are column-stacked vectors, `x[k+1] = A x[k] + B u[k]`; `u` in the
environment's action units; the quadratic stage cost is `x'Qx + u'Ru`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.linalg

from neuroctl.control.base import LinearModel
from neuroctl.network.linalg import cholesky_solve, matmul


def discretize_zoh(a_c: np.ndarray, b_c: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact zero-order-hold discretisation of `x' = A_c x + B_c u` over a period `dt` (s).

    `A = exp(A_c dt)`, `B = integral_0^dt exp(A_c s) ds B_c`, both read off the exponential of the
    augmented matrix [[A_c, B_c], [0, 0]] dt.
    """
    nx, nu = b_c.shape
    augmented = np.zeros((nx + nu, nx + nu))
    augmented[:nx, :nx] = a_c
    augmented[:nx, nx:] = b_c
    exponential = scipy.linalg.expm(augmented * dt)
    return exponential[:nx, :nx], exponential[:nx, nx:]


def model_from_continuous(
    a_c: np.ndarray, b_c: np.ndarray, dt: float, u_low: np.ndarray, u_high: np.ndarray
) -> LinearModel:
    """`LinearModel` of the continuous system `x' = A_c x + B_c u` held constant over each period `dt`."""
    a, b = discretize_zoh(np.asarray(a_c, float), np.asarray(b_c, float), dt)
    return LinearModel(A=a, B=b, dt=dt, u_low=np.asarray(u_low, float), u_high=np.asarray(u_high, float))


def dlqr(model: LinearModel, q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-horizon discrete LQR: gain K (nu, nx) and DARE solution P (nx, nx).

    P solves `P = A'PA - A'PB (R + B'PB)^-1 B'PA + Q`; the optimal unconstrained law is `u = -K x`
    with `K = (R + B'PB)^-1 B'PA`, and `x'Px` is the optimal cost-to-go. P comes from LAPACK (scipy),
    K from `neuroctl.network.linalg` (the same bits for any BLAS thread count).

    Raises ValueError naming `model` when (A, B) is not stabilisable (no weights help) and `q, r` when
    the Riccati equation has no finite stabilising solution with these weights; scipy's warnings are
    kept quiet.
    """
    _check_stabilisable(model)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            p = scipy.linalg.solve_discrete_are(model.A, model.B, q, r)
            p = 0.5 * (p + p.T)
            b_p = matmul(model.B.T, p)
            w = r + matmul(b_p, model.B)
            k = cholesky_solve(0.5 * (w + w.T), matmul(b_p, model.A))
            solved = bool(np.all(np.isfinite(p)) and np.all(np.isfinite(k)))
        except (np.linalg.LinAlgError, ValueError):
            solved = False
    if not solved:
        raise ValueError("q, r: the LQR Riccati equation has no finite solution for this model with these "
                         "weights; expected q and r entries within a few orders of magnitude of each other")
    return k, p


def _check_stabilisable(model: LinearModel) -> None:
    """PBH test: every mode of A with |lambda| >= 1 must be moved by B (rank [A - lambda I, B] = nx)."""
    a, b = np.asarray(model.A, dtype=np.float64), np.asarray(model.B, dtype=np.float64)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("model: the linear model (A, B) has non-finite entries")
    with np.errstate(all="ignore"):
        eigenvalues = np.linalg.eigvals(a)
        scale = max(np.max(np.abs(a)), np.max(np.abs(b)), 1.0)
        for eigenvalue in eigenvalues:
            if abs(eigenvalue) < 1.0 - 1e-9:
                continue
            pencil = np.hstack([a - eigenvalue * np.eye(a.shape[0]), b])
            singular = np.linalg.svd(pencil, compute_uv=False)
            if singular[-1] <= 1e-10 * scale:
                raise ValueError(f"model: the linear model is not stabilisable: its mode at eigenvalue "
                                 f"{_shown(eigenvalue)} (|lambda| >= 1) is not moved by the actions (B); no "
                                 f"LQR or MPC weights can control it")


def diagonal_weights(values: Sequence[float], size: int, name: str, positive: bool) -> np.ndarray:
    """Diagonal weight matrix from a config list, checking its length and sign.

    `positive` asks for strictly positive entries (R), otherwise non-negative ones (Q).
    """
    weights = np.asarray(values, dtype=float)
    per = "input" if positive else "state"
    if weights.shape != (size,):
        raise ValueError(f"{name}: expected {size} weights (one per {per}), got {weights.size}")
    sign_ok = np.all(weights > 0) if positive else np.all(weights >= 0)
    if not (np.all(np.isfinite(weights)) and sign_ok):
        sign = "> 0" if positive else ">= 0"
        raise ValueError(f"{name}: weights must be finite and {sign}, got {list(values)}")
    return np.diag(weights)


def cartpole_approximation(dt: float = 0.01, max_force_n: float = 6.0) -> LinearModel:
    """Approximate linearisation of the PyBullet cart-pole about upright, state [x, theta, x_dot, theta_dot].

    Continuous time, force u in newtons: x'' = 0.97 u - 0.03 x_dot (cart of about 1.1 kg with link
    damping), theta'' = 15.78 theta - 1.46 u (unstable pole at 3.97 rad/s). The input is the normalised
    action a in [-1, 1] with u = a * max_force_n, so B in action units is B_newton * max_force_n.
    A stand-in for the environment's own linearisation (finite differences of the simulated plant).
    """
    a_c = np.array(
        [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, -0.03, 0.0], [0.0, 15.78, 0.0, 0.0]]
    )
    b_c = np.array([[0.0], [0.0], [0.97], [-1.46]]) * max_force_n
    return model_from_continuous(a_c, b_c, dt, u_low=np.array([-1.0]), u_high=np.array([1.0]))


def random_model(
    seed: int, n_states: int, n_inputs: int, spectral_radius: float, dt: float = 0.01
) -> LinearModel:
    """Random discrete model (like python-control's `drss`) for generic tests and benchmarks.

    A has spectral radius `spectral_radius` (> 1: unstable), B is Gaussian times 0.1 (so that steering
    takes several steps); the bounds are asymmetric,
    lower in [-1.5, -0.5] and upper in [0.5, 1.5] per input, to catch code that assumes a symmetric box.
    """
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n_states, n_states))
    a *= spectral_radius / np.max(np.abs(np.linalg.eigvals(a)))
    b = 0.1 * rng.standard_normal((n_states, n_inputs))
    u_low = -rng.uniform(0.5, 1.5, n_inputs)
    u_high = rng.uniform(0.5, 1.5, n_inputs)
    return LinearModel(A=a, B=b, dt=dt, u_low=u_low, u_high=u_high)


def _shown(value: complex) -> str:
    value = complex(value)
    return f"{value.real:.4g}" if abs(value.imag) < 1e-12 else f"{value.real:.4g}{value.imag:+.4g}j"
