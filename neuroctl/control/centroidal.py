"""Single-rigid-body (centroidal) model of a legged robot and its condensed convex-MPC QP.

The structure of the MIT Cheetah 3 convex MPC (Di Carlo, Wensing, Katz, Powell and Kim, IROS 2018),
as used by google-research/motion_imitation's `mpc_controller`. The robot is one rigid body of mass m
and body-frame inertia I_b (about its centre of mass, taken at the base origin), pushed by the ground
reaction forces f_i (N, world frame) at its feet, r_i (m, world frame) the foot positions relative to
the centre of mass. State x (13): [roll, pitch, yaw (rad), p (m, world), w (rad/s, world), v (m/s,
world), g] with g = -9.81 m/s^2 held constant (so that gravity enters the linear dynamics):

    Theta' = Rz(yaw)^T w        (roll and pitch small: Euler rates from the world angular velocity)
    p'     = v
    w'     = I_w^-1 sum_i r_i x f_i,    I_w = Rz(yaw) I_b Rz(yaw)^T   (w x I w neglected)
    v'     = sum_i f_i / m + [0, 0, g]

linearised about the commanded motion: yaw from the reference, the r_i of the foot plan at each step.
A_c is nilpotent (A_c^3 = 0: g -> v -> p, w -> Theta), so the zero-order-hold discretisation over a
step dt is exact in closed form: A = I + A_c dt + A_c^2 dt^2 / 2, B = B_c dt + A_c B_c dt^2 / 2
(A_c^2 B_c = 0 since B_c drives only w and v).

Over a horizon of N steps x[k+1] = A_k x[k] + B_k u[k], with u[k] the 3 force components of every foot
(3 n_feet), X = Phi x0 + Gamma U (condensing). The QP, in the shared `InequalityQP` form:

    min 1/2 U' H U + q' U,   H = Gamma' Q Gamma + alpha I,   q = Gamma' Q (Phi x0 - X_ref) - alpha U_nom
    s.t. lower <= U <= upper     (0 <= fz <= fz_max for a stance foot; every component 0 for a swing foot;
                                  |fx|, |fy| <= mu fz_max),
         G U <= 0                (friction pyramids: +-fx - mu fz <= 0, +-fy - mu fz <= 0 per foot and step)

(the cost is sum_k (x_k - x_ref,k)' Q (x_k - x_ref,k) + alpha |u_k - u_nom,k|^2, k = 1..N, halved, with
u_nom,k the weight shared by the stance feet of step k, m g / n_stance each in z: the force cost does not
fight the support of the weight, so that alpha can be large enough to condition the QP for first-order
solvers; motion_imitation penalises |u_k|^2 with alpha = 1e-5). The size of
U is fixed (swing feet are bounded to zero, not removed), so the sparsity of H and G never changes and a
solver keeps its factorisation structure and its warm start from one replan to the next.
"""

from __future__ import annotations

import math

import numpy as np

from neuroctl.network.jit import cached_njit

STATE_SIZE = 13
FORCE_SIZE = 3
GRAVITY_MPS2 = 9.81
ROLL, PITCH, YAW, PX, PY, PZ, WX, WY, WZ, VX, VY, VZ, GRAVITY = range(STATE_SIZE)
PYRAMID_ROWS = 4
"""Friction-pyramid rows per foot and step: fx - mu fz, -fx - mu fz, fy - mu fz, -fy - mu fz (<= 0)."""


def yaw_rotation(yaw_rad: float, out: np.ndarray) -> np.ndarray:
    """Rz(yaw) (3x3) into `out`: the rotation about the world z axis by `yaw_rad`."""
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    out[:] = ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))
    return out


def euler_zyx_rotation(roll_rad: float, pitch_rad: float, yaw_rad: float) -> np.ndarray:
    """R = Rz(yaw) Ry(pitch) Rx(roll): base frame -> world frame (ZYX Euler angles)."""
    cr, sr = math.cos(roll_rad), math.sin(roll_rad)
    cp, sp = math.cos(pitch_rad), math.sin(pitch_rad)
    cy, sy = math.cos(yaw_rad), math.sin(yaw_rad)
    return np.array(((cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr),
                     (sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr),
                     (-sp, cp * sr, cp * cr)))


def skew(r: np.ndarray, out: np.ndarray) -> np.ndarray:
    """[r]x (3x3) into `out`: [r]x f = r x f."""
    out[:] = ((0.0, -r[2], r[1]), (r[2], 0.0, -r[0]), (-r[1], r[0], 0.0))
    return out


def continuous_dynamics(yaw_rad: float, mass_kg: float, inverse_inertia_body: np.ndarray, foot_offsets_m: np.ndarray,
                        a_out: np.ndarray, b_out: np.ndarray) -> None:
    """A_c (13x13) and B_c (13 x 3 n_feet) of the module docstring's linearised dynamics, into the outputs.

    `inverse_inertia_body` I_b^-1 (3x3, 1/(kg m^2)); `foot_offsets_m` (n_feet, 3): r_i, each foot relative
    to the centre of mass, world frame (m)."""
    rz = yaw_rotation(yaw_rad, np.empty((3, 3)))
    inverse_world = rz @ inverse_inertia_body @ rz.T
    a_out[:] = 0.0
    a_out[ROLL:YAW + 1, WX:WZ + 1] = rz.T
    a_out[PX:PZ + 1, VX:VZ + 1] = np.eye(3)
    a_out[VZ, GRAVITY] = 1.0
    b_out[:] = 0.0
    cross = np.empty((3, 3))
    for i, r in enumerate(foot_offsets_m):
        columns = slice(FORCE_SIZE * i, FORCE_SIZE * (i + 1))
        b_out[WX:WZ + 1, columns] = inverse_world @ skew(r, cross)
        b_out[VX:VZ + 1, columns] = np.eye(3) / mass_kg


def discretise(a_c: np.ndarray, b_c: np.ndarray, step_s: float, a_out: np.ndarray, b_out: np.ndarray) -> None:
    """Exact zero-order hold over `step_s` for the nilpotent A_c of this model (A_c^3 = 0, A_c^2 B_c = 0):
    A = I + A_c T + A_c^2 T^2 / 2, B = B_c T + A_c B_c T^2 / 2."""
    a_out[:] = np.eye(a_c.shape[0]) + a_c * step_s + (a_c @ a_c) * (0.5 * step_s * step_s)
    b_out[:] = b_c * step_s + (a_c @ b_c) * (0.5 * step_s * step_s)


def friction_pyramid(friction_coefficient: float, n_feet: int, horizon: int) -> np.ndarray:
    """G of the friction pyramids, (PYRAMID_ROWS n_feet N) x (3 n_feet N): G U <= 0 means |fx|, |fy| <= mu fz
    for every foot and step (rows in the order of PYRAMID_ROWS, foot by foot, step by step)."""
    n_forces = FORCE_SIZE * n_feet * horizon
    g = np.zeros((PYRAMID_ROWS * n_feet * horizon, n_forces))
    mu = friction_coefficient
    pattern = np.array(((1.0, 0.0, -mu), (-1.0, 0.0, -mu), (0.0, 1.0, -mu), (0.0, -1.0, -mu)))
    for foot_step in range(n_feet * horizon):
        g[PYRAMID_ROWS * foot_step:PYRAMID_ROWS * (foot_step + 1),
          FORCE_SIZE * foot_step:FORCE_SIZE * (foot_step + 1)] = pattern
    return g


def force_bounds(contacts: np.ndarray, friction_coefficient: float, max_normal_force_n: float,
                 min_normal_force_n: float, lower_out: np.ndarray, upper_out: np.ndarray) -> None:
    """Box bounds on U from the contact schedule `contacts` (N, n_feet; nonzero = stance): a stance foot
    min_normal_force_n <= fz <= max_normal_force_n and |fx|, |fy| <= mu max_normal_force_n (the pyramid
    rows tighten them to mu fz), a swing foot every component 0."""
    stance = (np.asarray(contacts) != 0).reshape(-1)
    lateral = friction_coefficient * max_normal_force_n
    lower = lower_out.reshape(-1, FORCE_SIZE)
    upper = upper_out.reshape(-1, FORCE_SIZE)
    lower[:, 0:2] = np.where(stance, -lateral, 0.0)[:, None]
    upper[:, 0:2] = np.where(stance, lateral, 0.0)[:, None]
    lower[:, 2] = np.where(stance, min_normal_force_n, 0.0)
    upper[:, 2] = np.where(stance, max_normal_force_n, 0.0)


def condensing_macs(horizon: int, n_forces: int, weighted_states: int = STATE_SIZE) -> int:
    """Multiply-accumulates of one `condense` call (the QP's construction, not its solve), counted from its
    loops: per step I_w^-1 (81), per foot M_i and Rz' M_i (45); Phi (n^3 per step after the first),
    Gamma's recursion (k m n^2 at step k), Phi x0 (N n^2), q (the non-zero rows of each column of Gamma
    among the `weighted_states` of non-zero weight per step) and H (two per term over those rows of each
    pair of columns, the lower triangle). An upper bound: the kernel skips A's zero entries in the
    recursions (A is the identity plus 13 entries)."""
    n, m, N = STATE_SIZE, n_forces, horizon
    feet = n_forces // FORCE_SIZE
    model = N * (81 + 45 * feet)
    recursion = (N - 1) * n**3 + sum(k * m * n * n for k in range(N))
    rows_below = [(N - column // m) * weighted_states for column in range(N * m)]
    gradient = N * n * n + sum(rows_below)
    hessian = sum(2 * rows_below[row] for column in range(N * m) for row in range(column, N * m))
    return model + recursion + gradient + hessian


@cached_njit
def condense(yaw_rad, foot_offsets_m, mass_kg, inverse_inertia_body, step_s, weights, force_weight, x0, x_ref,
             a_out, b_out, phi, gamma, hessian, linear, free_response, transposed, weighted):
    """The condensed QP of the module docstring in one compiled call, no allocation.

    Per step k (yaw `yaw_rad[k]`, foot offsets `foot_offsets_m[k]` (n_feet, 3)) the exact discrete model
    in closed form (`discretise(continuous_dynamics(...))`): A = I + dt (Theta <- Rz' w, p <- v, vz <- g)
    + dt^2/2 (pz <- g); B's columns of foot i: w rows dt M_i, v rows dt/m I, Theta rows dt^2/2 Rz' M_i,
    p rows dt^2/(2m) I, with M_i = I_w^-1 [r_i]x. Then Phi[k] = A_k Phi[k-1], Gamma[k, j] = A_k Gamma[k-1, j]
    (j < k), Gamma[k, k] = B_k; H = Gamma' W Gamma + alpha I summed over the blocks Gamma[k, j] that are
    not zero (k >= j) and mirrored; q = Gamma' W (Phi x0 - X_ref), both over the states of non-zero
    weight only. Scratch: `free_response` (N * 13), `transposed` and `weighted` (Gamma' and (W Gamma)'
    on those states' rows, compacted, for contiguous inner loops)."""
    horizon, n_feet = foot_offsets_m.shape[0], foot_offsets_m.shape[1]
    n = a_out.shape[1]
    m = 3 * n_feet
    half = 0.5 * step_s * step_s
    rz = np.empty((3, 3))
    inverse_world = np.empty((3, 3))
    lever = np.empty((3, 3))
    for k in range(horizon):
        c, s = math.cos(yaw_rad[k]), math.sin(yaw_rad[k])
        rz[0, 0], rz[0, 1], rz[0, 2] = c, -s, 0.0
        rz[1, 0], rz[1, 1], rz[1, 2] = s, c, 0.0
        rz[2, 0], rz[2, 1], rz[2, 2] = 0.0, 0.0, 1.0
        for i in range(3):
            for j in range(3):
                total = 0.0
                for a in range(3):
                    for b in range(3):
                        total += rz[i, a] * inverse_inertia_body[a, b] * rz[j, b]
                inverse_world[i, j] = total
        a = a_out[k]
        a[:, :] = 0.0
        for i in range(n):
            a[i, i] = 1.0
        for i in range(3):
            for j in range(3):
                a[ROLL + i, WX + j] = rz[j, i] * step_s
            a[PX + i, VX + i] = step_s
        a[VZ, GRAVITY] = step_s
        a[PZ, GRAVITY] = half
        b = b_out[k]
        b[:, :] = 0.0
        for foot in range(n_feet):
            r = foot_offsets_m[k, foot]
            for i in range(3):  # M = I_w^-1 [r]x, column by column: [r]x e_j = r x e_j
                lever[i, 0] = inverse_world[i, 1] * r[2] - inverse_world[i, 2] * r[1]
                lever[i, 1] = inverse_world[i, 2] * r[0] - inverse_world[i, 0] * r[2]
                lever[i, 2] = inverse_world[i, 0] * r[1] - inverse_world[i, 1] * r[0]
            column = 3 * foot
            for i in range(3):
                for j in range(3):
                    b[WX + i, column + j] = step_s * lever[i, j]
                    total = 0.0
                    for l in range(3):
                        total += rz[l, i] * lever[l, j]
                    b[ROLL + i, column + j] = half * total
                b[VX + i, column + i] = step_s / mass_kg
                b[PX + i, column + i] = half / mass_kg
    gamma[:, :] = 0.0
    for k in range(horizon):
        rows = k * n
        for i in range(n):
            for j in range(n):
                phi[rows + i, j] = a_out[0, i, j] if k == 0 else 0.0
            for j in range(m):
                gamma[rows + i, k * m + j] = b_out[k, i, j]
            if k:
                for l in range(n):
                    factor = a_out[k, i, l]
                    if factor != 0.0:
                        for j in range(n):
                            phi[rows + i, j] += factor * phi[rows - n + l, j]
                        for j in range(k * m):
                            gamma[rows + i, j] += factor * gamma[rows - n + l, j]
    size = horizon * m
    active = 0  # the rows of X with a non-zero weight, compacted (the others add exact zeros to q and H)
    for i in range(horizon * n):
        total = 0.0
        for j in range(n):
            total += phi[i, j] * x0[j]
        free_response[i] = (total - x_ref[i // n, i % n]) * weights[i % n]
        if weights[i % n] != 0.0:
            free_response[active] = free_response[i]
            for j in range(size):
                transposed[j, active] = gamma[i, j]
                weighted[j, active] = gamma[i, j] * weights[i % n]
            active += 1
    _weighted_products(transposed, weighted, free_response, active, active // horizon, m, force_weight,
                       linear, hessian)


@cached_njit(reassociate=True)
def _weighted_products(transposed, weighted, free_response, active, per_step, m, force_weight, linear, hessian):
    """q = Gamma' W r and H = Gamma' W Gamma + alpha I from the compacted rows of `condense` (the first
    `active` columns of `transposed` and `weighted`, `per_step` of them per step; r = `free_response`):
    the lower triangle, mirrored, skipping Gamma's zero blocks above the diagonal block of each column.
    Sums reassociated (SIMD): most of a build's time, latency-bound one add after another otherwise."""
    size = linear.shape[0]
    for col in range(size):
        first = (col // m) * per_step  # Gamma's rows above block col // m are zero in this column
        linear[col] = _dot(transposed[col, first:active], free_response[first:active])
        for row in range(col, size):
            first = (row // m) * per_step
            total = _dot(transposed[row, first:active], weighted[col, first:active])
            hessian[row, col] = total
            hessian[col, row] = total
        hessian[col, col] += force_weight


@cached_njit(inline=True)
def _dot(a, b):
    """a'b of two equal 1-D slices (a loop from 0 over slices: SIMD, where a loop from a variable start
    over the whole rows ran three times slower)."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total

class CentroidalMPC:
    """The condensed QP of the module docstring, rebuilt in place at every replan.

    Built once from the body (`mass_kg`, `inertia_body_kgm2` 3x3 body frame about the CoM), the horizon
    (`horizon` steps of `step_s` s), the diagonal state weights `state_weights` (13, on x - x_ref),
    `force_weight` alpha (per N^2), the friction coefficient and the normal-force bounds (N). `build`
    fills `H`, `q`, `lower`, `upper` (G = `G`, h = `h` = 0 are fixed) and `Phi`, `Gamma` for the
    predicted states X = Phi x0 + Gamma U (`predict`).
    """

    def __init__(self, mass_kg: float, inertia_body_kgm2: np.ndarray, n_feet: int, horizon: int, step_s: float,
                 state_weights: np.ndarray, force_weight: float, friction_coefficient: float,
                 max_normal_force_n: float, min_normal_force_n: float = 0.0) -> None:
        self.mass_kg = float(mass_kg)
        self.inertia_body_kgm2 = np.asarray(inertia_body_kgm2, dtype=np.float64).reshape(3, 3)
        self._inverse_inertia = np.linalg.inv(self.inertia_body_kgm2)
        self.n_feet, self.horizon, self.step_s = n_feet, horizon, float(step_s)
        self.n_forces = FORCE_SIZE * n_feet
        self.n_decisions = self.n_forces * horizon
        self.state_weights = np.asarray(state_weights, dtype=np.float64)
        if self.state_weights.shape != (STATE_SIZE,):
            raise ValueError(f"state_weights: expected {STATE_SIZE} values, got {self.state_weights.size}")
        self.force_weight = float(force_weight)
        self.friction_coefficient = float(friction_coefficient)
        self.max_normal_force_n, self.min_normal_force_n = float(max_normal_force_n), float(min_normal_force_n)
        n, m, N = STATE_SIZE, self.n_forces, horizon
        self.G = friction_pyramid(self.friction_coefficient, n_feet, horizon)
        self.h = np.zeros(self.G.shape[0])
        self.H = np.zeros((N * m, N * m))
        self.q = np.zeros(N * m)
        self.lower = np.zeros(N * m)
        self.upper = np.zeros(N * m)
        self.Phi = np.zeros((N * n, n))
        self.Gamma = np.zeros((N * n, N * m))
        self.A = np.zeros((N, n, n))
        self.B = np.zeros((N, n, m))
        self._yaw = np.zeros(N)
        self._free = np.zeros(N * n)
        self._transposed, self._weighted = np.zeros((N * m, N * n)), np.zeros((N * m, N * n))
        self.macs_per_build = condensing_macs(N, m, int(np.count_nonzero(self.state_weights)))

    def build(self, x0: np.ndarray, x_ref: np.ndarray, foot_offsets_m: np.ndarray, contacts: np.ndarray) -> None:
        """Fill the QP for the initial state `x0` (13), the reference `x_ref` (N, 13; rows for x_1..x_N), the
        foot offsets r_i (N, n_feet, 3; world frame, from the CoM during each step) and the contact schedule
        `contacts` (N, n_feet) of the steps' forces u[0..N-1]. Step k is linearised about the reference yaw
        at its start (x0's for k = 0, x_ref[k-1]'s after)."""
        N = self.horizon
        self._yaw[0] = x0[YAW]
        self._yaw[1:] = x_ref[:-1, YAW]
        condense(self._yaw, np.ascontiguousarray(foot_offsets_m, dtype=np.float64), self.mass_kg,
                 self._inverse_inertia, self.step_s, self.state_weights, self.force_weight,
                 np.ascontiguousarray(x0, dtype=np.float64), np.ascontiguousarray(x_ref, dtype=np.float64),
                 self.A, self.B, self.Phi, self.Gamma, self.H, self.q, self._free, self._transposed, self._weighted)
        stance = np.asarray(contacts, dtype=np.float64) != 0.0
        share = self.mass_kg * GRAVITY_MPS2 / np.maximum(stance.sum(axis=1), 1)
        self.q.reshape(N, self.n_feet, FORCE_SIZE)[:, :, 2] -= self.force_weight * stance * share[:, None]
        force_bounds(contacts, self.friction_coefficient, self.max_normal_force_n, self.min_normal_force_n,
                     self.lower, self.upper)

    def predict(self, x0: np.ndarray, forces: np.ndarray) -> np.ndarray:
        """The predicted states x_1..x_N (N, 13) of the last build's model under the forces U."""
        return (self.Phi @ x0 + self.Gamma @ forces).reshape(self.horizon, STATE_SIZE)
