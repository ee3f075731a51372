"""Dense linear algebra whose results do not depend on the BLAS library or its thread count.

A multithreaded BLAS (OpenBLAS, MKL) splits a product or factorisation among its threads and sums the
pieces in an order that depends on how many there are, so `rates.T @ rates` or `np.linalg.solve` differ
in their last bits between OPENBLAS_NUM_THREADS=1 and the default, and two machines with different core
counts built different networks and controllers (the decoders moved the very first action). The build
steps that feed a network's weights or a controller's arrays use these kernels instead: plain numba
loops (no fastmath, so no reassociation or fused multiply-add) that add the terms of every sum in one
fixed order (ascending index), single threaded. Their results are bit-identical for any BLAS, thread
count and environment variable (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS, ...).

What the bit-identity covers, for every controller kind: the NEF decoders and connection weights
(`neuroctl.network.nef`, `builder`), the MPC QP matrices H, F, M, C, its step and momentum
(`neuroctl.control.qp`), the LQR gain K from P, and the per-tick products K x and F x0; the rest of a
tick is numba kernels. So one machine gives the same actions for any BLAS thread count (tested in
tests/reliability/test_determinism.py). Not covered: the DARE solution P (scipy / LAPACK on nx x nx,
too small for OpenBLAS to thread, but not guaranteed by construction), and machines of different CPU
types or library versions: numpy's exp/log (rate curves) dispatch on the CPU's SIMD features, and
LAPACK's kernels too.

Loops are ordered so that the innermost one updates independent elements (the compiler vectorises it
without reordering any sum): about as fast as single-threaded BLAS for the sizes used here (a few
thousand), slower beyond.
"""

from __future__ import annotations

import numpy as np

from neuroctl.network.jit import cached_njit


@cached_njit
def _matmul_into(a, b, out):
    rows, inner = a.shape
    columns = b.shape[1]
    for i in range(rows):
        for j in range(columns):
            out[i, j] = 0.0
        for k in range(inner):
            factor = a[i, k]
            if factor != 0.0:  # block-triangular and block-diagonal factors: skip the zeros
                for j in range(columns):
                    out[i, j] += factor * b[k, j]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-D (or 1-D, as a row/column) float64 arrays: out[i, j] = sum over k ascending of the
    terms with a[i, k] != 0 (the same value as BLAS's for finite arrays, up to rounding)."""
    a2 = np.ascontiguousarray(np.atleast_2d(np.asarray(a, dtype=np.float64)))
    b_array = np.asarray(b, dtype=np.float64)
    b2 = np.ascontiguousarray(b_array[:, None] if b_array.ndim == 1 else b_array)
    if a2.shape[1] != b2.shape[0]:
        raise ValueError(f"matmul: shapes {np.shape(a)} and {np.shape(b)} do not align")
    out = np.empty((a2.shape[0], b2.shape[1]))
    _matmul_into(a2, b2, out)
    if b_array.ndim == 1:
        out = out[:, 0]
    return out[0] if np.ndim(a) == 1 else out


@cached_njit
def matvec_into(a, x, out):
    """out = a @ x (a (m, n) C-contiguous, x (n,)), each row summed in ascending column order; no allocation."""
    for i in range(a.shape[0]):
        total = 0.0
        for j in range(a.shape[1]):
            total += a[i, j] * x[j]
        out[i] = total


@cached_njit
def _gram_into(a, out):
    """out = a.T @ a (a (p, n)): the upper triangle in tiles (cache-sized), each element summed over
    the rows of a in ascending order, then mirrored."""
    points, n = a.shape
    out[:, :] = 0.0
    rows, columns = 32, 512
    for i0 in range(0, n, rows):
        for j0 in range(i0, n, columns):
            i1, j1 = min(i0 + rows, n), min(j0 + columns, n)
            for p in range(points):
                for i in range(i0, i1):
                    factor = a[p, i]
                    if factor != 0.0:
                        for j in range(max(i, j0), j1):
                            out[i, j] += factor * a[p, j]
    for i in range(n):
        for j in range(i):
            out[i, j] = out[j, i]


def gram(a: np.ndarray) -> np.ndarray:
    """a.T @ a, exactly symmetric."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    out = np.empty((a.shape[1], a.shape[1]))
    _gram_into(a, out)
    return out


@cached_njit
def _cholesky_solve_into(spd, rhs):
    """Overwrite spd by its Cholesky factor L (lower) and rhs by spd^-1 rhs; False if not positive definite."""
    n = spd.shape[0]
    for k in range(n):
        pivot = spd[k, k]
        if not pivot > 0.0:
            return False
        pivot = np.sqrt(pivot)
        spd[k, k] = pivot
        for i in range(k + 1, n):
            spd[i, k] /= pivot
        for i in range(k + 1, n):  # trailing update of the lower triangle, row by row
            factor = spd[i, k]
            if factor != 0.0:
                for j in range(k + 1, i + 1):
                    spd[i, j] -= factor * spd[j, k]
    columns = rhs.shape[1]
    for i in range(n):  # L y = rhs
        for k in range(i):
            factor = spd[i, k]
            for c in range(columns):
                rhs[i, c] -= factor * rhs[k, c]
        for c in range(columns):
            rhs[i, c] /= spd[i, i]
    for i in range(n - 1, -1, -1):  # L' x = y
        for k in range(i + 1, n):
            factor = spd[k, i]
            for c in range(columns):
                rhs[i, c] -= factor * rhs[k, c]
        for c in range(columns):
            rhs[i, c] /= spd[i, i]
    return True


def cholesky_solve(spd: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """spd^-1 rhs for a symmetric positive definite `spd` (only its lower triangle is read).
    Raises numpy.linalg.LinAlgError when `spd` is not positive definite."""
    factor = np.array(spd, dtype=np.float64, order="C")
    rhs_array = np.asarray(rhs, dtype=np.float64)
    solution = np.array(rhs_array[:, None] if rhs_array.ndim == 1 else rhs_array, dtype=np.float64, order="C")
    if not _cholesky_solve_into(factor, solution):
        raise np.linalg.LinAlgError("matrix is not positive definite")
    return solution[:, 0] if rhs_array.ndim == 1 else solution


@cached_njit
def _tridiagonalize(a, diagonal, off_diagonal):
    """Householder reduction of the symmetric `a` (overwritten) to tridiagonal form (eigenvalues only)."""
    n = a.shape[0]
    v = np.zeros(n)
    p = np.zeros(n)
    for k in range(n - 2):
        norm = 0.0
        for i in range(k + 1, n):
            norm += a[i, k] * a[i, k]
        norm = np.sqrt(norm)
        if norm == 0.0:
            off_diagonal[k] = 0.0
            continue
        alpha = -norm if a[k + 1, k] > 0.0 else norm
        off_diagonal[k] = alpha
        scale = 0.0
        for i in range(k + 1, n):
            v[i] = a[i, k]
        v[k + 1] -= alpha
        for i in range(k + 1, n):
            scale += v[i] * v[i]
        scale = np.sqrt(scale)
        for i in range(k + 1, n):
            v[i] /= scale
        for i in range(k + 1, n):  # p = A22 v
            total = 0.0
            for j in range(k + 1, n):
                total += a[i, j] * v[j]
            p[i] = total
        projection = 0.0
        for i in range(k + 1, n):
            projection += v[i] * p[i]
        for i in range(k + 1, n):  # q = p - (v'p) v
            p[i] -= projection * v[i]
        for i in range(k + 1, n):  # A22 -= 2 (v q' + q v')
            vi, qi = 2.0 * v[i], 2.0 * p[i]
            for j in range(k + 1, n):
                a[i, j] -= vi * p[j] + qi * v[j]
    for k in range(n):
        diagonal[k] = a[k, k]
    if n >= 2:
        off_diagonal[n - 2] = a[n - 1, n - 2]


@cached_njit
def _count_below(diagonal, off_diagonal, shift):
    """Number of eigenvalues of the tridiagonal matrix below `shift` (Sturm sequence)."""
    count = 0
    q = 1.0
    for i in range(diagonal.shape[0]):
        coupling = off_diagonal[i - 1] * off_diagonal[i - 1] if i > 0 else 0.0
        q = diagonal[i] - shift - coupling / q
        if q == 0.0:
            q = -1e-300
        if q < 0.0:
            count += 1
    return count


@cached_njit
def _bisect(diagonal, off_diagonal, index, low, high):
    """The index-th smallest eigenvalue, bisected in [low, high] down to adjacent floating-point numbers."""
    for _ in range(2000):
        middle = 0.5 * (low + high)
        if not (low < middle < high):
            break
        if _count_below(diagonal, off_diagonal, middle) > index:
            high = middle
        else:
            low = middle
    return 0.5 * (low + high)


def extreme_eigenvalues(symmetric: np.ndarray) -> tuple[float, float]:
    """(smallest, largest) eigenvalue of a symmetric matrix (Householder tridiagonalisation + bisection),
    accurate to a few units in the last place of the largest magnitude."""
    a = np.array(symmetric, dtype=np.float64, order="C")
    n = a.shape[0]
    if n == 1:
        return float(a[0, 0]), float(a[0, 0])
    diagonal, off_diagonal = np.zeros(n), np.zeros(n - 1)
    _tridiagonalize(a, diagonal, off_diagonal)
    radius = np.abs(np.concatenate([[0.0], off_diagonal])) + np.abs(np.concatenate([off_diagonal, [0.0]]))
    low, high = float(np.min(diagonal - radius)), float(np.max(diagonal + radius))  # Gershgorin
    span = max(high - low, abs(high), abs(low), 1e-300)
    low, high = low - 1e-12 * span, high + 1e-12 * span
    return float(_bisect(diagonal, off_diagonal, 0, low, high)), float(_bisect(diagonal, off_diagonal, n - 1, low, high))


@cached_njit(reassociate=True)
def refine_eigenpair(matrix, shift, vector, iterations, product):
    """`iterations` power steps on S = M (shift 0) or S = shift I - M (shift > 0: its dominant eigenvector
    is M's smallest when shift >= M's largest eigenvalue), M the symmetric `matrix`, from `vector`
    (overwritten by the unit-norm result); return M's Rayleigh quotient rho = v'Mv at the result and the
    residual norm ||Mv - rho v||. Krylov-Weinstein: M has an eigenvalue within the residual of
    rho (the one v is nearest to, for a warm-started v). A zero vector is returned as is, with (0, 0)."""
    size = vector.shape[0]
    for step in range(iterations + 1):
        norm = 0.0
        for i in range(size):
            norm += vector[i] * vector[i]
        if norm == 0.0:
            return 0.0, 0.0
        norm = np.sqrt(norm)
        for i in range(size):
            vector[i] /= norm
        for i in range(size):  # matvec_into's product, written out so that this function's reassociation applies
            total = 0.0
            for j in range(size):
                total += matrix[i, j] * vector[j]
            product[i] = total
        if step == iterations:
            break
        for i in range(size):
            vector[i] = shift * vector[i] - product[i] if shift > 0.0 else product[i]
    rho = 0.0
    for i in range(size):
        rho += vector[i] * product[i]
    residual = 0.0
    for i in range(size):
        difference = product[i] - rho * vector[i]
        residual += difference * difference
    return rho, np.sqrt(residual)


@cached_njit(reassociate=True)
def gershgorin_radius(matrix):
    """max_i sum_j |M_ij|: Gershgorin's bound on the spectral radius of a square matrix (0 when empty)."""
    bound = 0.0
    for i in range(matrix.shape[0]):
        total = 0.0
        for j in range(matrix.shape[1]):
            total += abs(matrix[i, j])
        bound = max(bound, total)
    return bound


def refine_macs(size: int, iterations: int) -> int:
    """Multiply-accumulates of `refine_eigenpair` on a (size, size) matrix: (iterations + 1) products plus
    the normalisations, Rayleigh quotient and residual (4 size each)."""
    return (iterations + 1) * (size * size + 4 * size)


def nearest_eigenvector(symmetric: np.ndarray, eigenvalue: float, from_above: bool, start: np.ndarray) -> np.ndarray:
    """The unit eigenvector of the eigenvalue at one end of the spectrum, by one step of inverse iteration
    from `start`: a solve with s I - A, s = eigenvalue + delta (from_above: the largest) or A - s I,
    s = eigenvalue - delta (the smallest), both positive definite, delta = 1e-3 |eigenvalue| + 1e-9 of the
    spectral radius bound: the other eigenvectors' shares shrink by delta / (gap + delta). `start`
    normalised if the shifted matrix is not positive definite in floating point."""
    a = np.asarray(symmetric, dtype=np.float64)
    radius = gershgorin_radius(a)
    delta = 1e-3 * abs(eigenvalue) + 1e-9 * radius
    identity = np.eye(a.shape[0])
    shifted = (eigenvalue + delta) * identity - a if from_above else a - (eigenvalue - delta) * identity
    try:
        vector = cholesky_solve(shifted, np.asarray(start, dtype=np.float64))
    except np.linalg.LinAlgError:
        vector = np.array(start, dtype=np.float64)
    return vector / np.linalg.norm(vector)


@cached_njit(reassociate=True)
def gram_norm_bound(rows, gram_scratch, nonzero_scratch):
    """Gershgorin's bound on ||G||_2^2 = lambda_max(G'G): max_i sum_j |(G'G)_ij|, with G'G formed from
    each row's nonzeros only (gram_scratch (n, n), nonzero_scratch (n,) int64, overwritten); return the
    bound and the multiply-accumulates spent (sum over rows of nonzeros^2)."""
    m, n = rows.shape
    gram_scratch[:, :] = 0.0
    macs = 0
    for p in range(m):
        count = 0
        for j in range(n):
            if rows[p, j] != 0.0:
                nonzero_scratch[count] = j
                count += 1
        for a in range(count):
            i = nonzero_scratch[a]
            factor = rows[p, i]
            for b in range(count):
                gram_scratch[i, nonzero_scratch[b]] += factor * rows[p, nonzero_scratch[b]]
        macs += count * count
    bound = 0.0
    for i in range(n):
        total = 0.0
        for j in range(n):
            total += abs(gram_scratch[i, j])
        bound = max(bound, total)
    return bound, macs
