"""A QP rewritten for first-order solvers: its free variables only, in coordinates where H = I.

The condensed MPC QPs of the quadruped have Hessians of condition 1e4-1e5 (a chain of integrators over
the horizon, and internal foot forces that only the small force weight penalises), on which projected
gradient methods such as PIPG need tens of thousands of iterations. Whitening (a change of variables by
the Cholesky factor, the ideal preconditioner of a first-order method) gives them an identity Hessian:
for min 1/2 U'HU + q'U s.t. lower <= U <= upper, G U <= h, with the fixed variables x (lower = upper)
substituted and the free ones f written U_f = T z, H_ff = L L' (Cholesky), T = L^-T:

    min 1/2 z'z + (T'(q_f + H_fx U_x))' z   s.t.   [G_f; I; -I] T z <= [h - G_x U_x; upper_f; -lower_f]

(rows of infinite bound dropped): only inequality rows, each dense. A solver of the whitened QP then
spends its iterations on the constraints alone (with none active, its first gradient step is the
solution). The factorisation and the transforms run on the host, not in the solver: `macs` counts them.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, solve_triangular

from neuroctl.control.qp_solvers import InequalityQP


def whitening_macs(n_free: int, n_rows: int) -> int:
    """Host multiply-accumulates of one `whiten` + `recover`: Cholesky n^3/6, T = L^-T n^3/6, the rows
    [G_f] T (triangular T: n_rows n^2 / 2), T'q and the warm start (n^2 / 2 each), U_f = T z (n^2 / 2)."""
    n = n_free
    return n**3 // 3 + n_rows * n * n // 2 + 3 * n * n // 2


class Whitening:
    """`whiten(qp, warm_start)` -> (the whitened InequalityQP, its warm start z); `recover(z, out)` -> U.
    `macs` is the host's work of the last whiten + recover (`whitening_macs`)."""

    def __init__(self) -> None:
        self.macs = 0
        self._free = np.zeros(0, dtype=bool)
        self._transform = np.zeros((0, 0))
        self._fixed_values = np.zeros(0)

    def whiten(self, qp: InequalityQP, warm_start: np.ndarray | None) -> tuple[InequalityQP, np.ndarray | None]:
        free = qp.upper > qp.lower
        fixed_values = np.where(free, 0.0, qp.lower)
        hessian = qp.H[np.ix_(free, free)]
        factor, _ = cho_factor(hessian, lower=True)
        lower_factor = np.tril(factor)
        n = int(free.sum())
        transform = solve_triangular(lower_factor, np.eye(n), lower=True).T  # T = L^-T
        linear = transform.T @ (qp.q[free] + qp.H[np.ix_(free, ~free)] @ fixed_values[~free])
        rows = np.vstack((qp.G[:, free] @ transform, transform, -transform))
        bounds = np.concatenate((qp.h - qp.G[:, ~free] @ fixed_values[~free], qp.upper[free], -qp.lower[free]))
        finite = np.isfinite(bounds)
        whitened = InequalityQP(np.eye(n), linear, np.full(n, -np.inf), np.full(n, np.inf), rows[finite],
                                bounds[finite])
        self._free, self._transform, self._fixed_values = free, transform, fixed_values
        self.macs = whitening_macs(n, qp.n_constraints)
        start = None if warm_start is None else lower_factor.T @ warm_start[free]
        return whitened, start

    def recover(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """U of the whitened solution z: U_f = T z, the fixed variables at their values."""
        out[:] = self._fixed_values
        out[self._free] = self._transform @ z
        return out
