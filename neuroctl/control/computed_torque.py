"""Computed torque: a torque-controlled arm's joints made double integrators, planned by PD or MPC.

The structure of the adaptive arm-control literature (an "analytic" inverse-dynamics controller around a
joint-space planner): the robot's rigid-body model (`neuroctl.envs.robot.RigidBodyRobot`, the
simulator's own mass matrix and inverse dynamics) turns the joints into double integrators,

    tau = M(q) qdd + h(q, qd)   =>   q'' = qdd   (exactly, as far as the model is the plant's),

so that a planner only has to choose joint accelerations qdd on the fixed linear model
x = [q, qd] (2n states), input v = qdd / a (n inputs, |v| <= 1), exact zero-order-hold discretisation
over a plan step T:  q+ = q + T qd + T^2/2 a v,  qd+ = qd + T a v.  It tracks the reference [q*, 0]
(the robot's `reference(out)`: q* from inverse kinematics of the current target, which is the robot's
work, not the controller's). Every set point [q*, 0] is an equilibrium of this model with v = 0, so the
MPC's QP is the regulator's QP at x0 = x - x_ref.

One tick, and what is spiking:
1. q, qd from the observation (`joint_state`; non-finite readings held at their last value): not spiking.
2. the planner, qdd (n):
   - `computed_torque_pd`: qdd = clip(Kp (q* - q) - Kd qd, -a, a), Kp = w^2, Kd = 2 w (critically
     damped): not spiking; 2n multiply-accumulates, counted as DENSE_MACS.
   - `computed_torque_mpc_exact`: the QP solved to convergence (`neuroctl.control.mpc`): not spiking.
   - `computed_torque_mpc_spiking`: the sigma-delta gradient network (`neuroctl.control.spiking_mpc`):
     SPIKING; its events are counted as for the cart-pole, DENSE_MACS is its dense twin's work (a
     comparison figure).
   - `computed_torque_mpc_dense`: the dense twin of that network: not spiking.
3. M(q) (`mass_matrix`, the composite-rigid-body algorithm) and h(q, qd) (`bias_torques`, recursive
   Newton-Euler with qdd = 0) from the simulator, tau = M qdd + h (plus the term of `_add_torques`, a
   hook the adaptive and known-payload controllers of `neuroctl.control.adaptive` fill; nothing here)
   clipped to the torque limits, action
   tau / limit: not spiking, executed on a conventional processor whatever the planner. Charged as
   CPU_MACS every tick: `DYNAMICS_MACS` below (estimates for the rigid-body algorithms, exact for the
   torque map).

The plan step (`computed_torque.planning_step_s`, default 30 ms) is coarser than the control period
(1 ms for the arm): a horizon of 0.6 s at 1 ms would be 600 steps, 4200 decision values, whose Hessian
alone is 141 MB and whose iterations could not run in a millisecond; at 30 ms it is 20 steps, 140
values. Move-blocking: each plan value is a constant acceleration held for one plan step; the plan is
recomputed every control tick from the current state (so feedback runs at the control rate), and its
warm start is shifted by one plan step every T / control period ticks (between shifts it starts from
the last plan as it is).

Acceleration bounds (`acceleration_bounds`): for every joint i and every state in the workspace,
|tau_i| <= sum_j |M_ij(q)| a_j + |h_i(q, qd)|. Over `bound_samples` states drawn uniformly from the
workspace box (`workspace_low_rad`..`workspace_high_rad` within the joint ranges, which are the
observation space's or the sensors' plausible limits on q, else +-pi; the whole joint ranges where the
box is not given: for the Panda that leaves almost no headroom at the shoulder, whose gravity torque
stretched out nearly reaches its limit, so the arm configs give the box of the reaching task's IK
solutions with a margin) and joint speeds
|qd| <= `joint_speed_rad_s`, take Mmax_ij = max |M_ij| and hmax_i = max |h_i|; with the headroom
s_i = margin limit_i - hmax_i (> 0 required), every joint gets the same bound
a = min(min_i s_i / sum_k Mmax_ik, `max_acceleration_rad_s2`) (every joint's acceleration loads every
joint's torque through M's off-diagonal terms; for the Panda the shoulder row binds: about 23 N m of
headroom over a row sum of 6.6 kg m^2; per-joint bounds scaled by each joint's own headroom were
tried and gave the shoulder a third of that). Then sum_j Mmax_ij a + hmax_i <= margin limit_i for every i:
within the sampled workspace the torques
never saturate; `torque_margin` < 1 covers the states between samples (and the clip stays as a guard).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from neuroctl.config import range_field
from neuroctl.control.base import (ACTIVITY_FIELDS, CPU_MACS, DENSE_MACS, Controller, LinearModel,
                                   robot_observation_size)
from neuroctl.control.linear import model_from_continuous
from neuroctl.control.mpc import ConstrainedMPCController, ExactMPCConfig, ExactMPCController
from neuroctl.control.qp_solvers import DAQPSolver, DensePIPGSolver, OSQPSolver, SpikingPIPGSolver
from neuroctl.control.spiking_mpc import (DenseMPCConfig, DenseMPCController, SpikingMPCConfig,
                                          SpikingMPCController)


def rnea_multiplies(n: int) -> int:
    """Multiplications of the recursive Newton-Euler algorithm for n revolute joints, 150 n - 48 (Luh,
    Walker and Paul 1980, as compared by Hollerbach 1980; with about as many additions): an estimate of
    the inverse dynamics h(q, qd) = ID(q, qd, 0). Charged as one multiply-accumulate each."""
    return 150 * n - 48


def crba_multiplies(n: int) -> int:
    """An estimate of the composite-rigid-body algorithm's multiplications for M(q), 10 n^2 + 22 n (its
    O(n^2) term for a serial chain, after Featherstone, Rigid Body Dynamics Algorithms, 2008, ch. 6; the
    exact count depends on the implementation, and the simulator's is not instrumented)."""
    return 10 * n * n + 22 * n


def dynamics_macs(n: int) -> int:
    """CPU multiply-accumulates of one tick's non-spiking part: M(q), h(q, qd), tau = M qdd + h (n^2 + n)
    and the torque map tau / limit with its clip (n)."""
    return crba_multiplies(n) + rnea_multiplies(n) + n * n + 2 * n


@dataclass(frozen=True)
class ComputedTorqueSection:
    """The computed-torque part shared by the arm's controllers: the planning model and its bounds."""

    planning_step_s: float = range_field(0.03, min=0.0, min_exclusive=True, max=1.0,
                                         doc="plan step T (rounded to whole control periods)")
    joint_speed_rad_s: float = range_field(2.0, min=0.0, max=100.0,
                                           doc="joint speeds the acceleration bounds allow for")
    torque_margin: float = range_field(0.8, min=0.0, min_exclusive=True, max=1.0,
                                       doc="fraction of each torque limit the bounds may use")
    max_acceleration_rad_s2: float = range_field(30.0, min=0.0, min_exclusive=True, max=1e4,
                                                 doc="cap on every joint's acceleration bound")
    bound_samples: int = range_field(2000, min=1, max=1_000_000, doc="workspace states sampled for the bounds")
    workspace_low_rad: tuple[float, ...] = range_field((), doc="joint positions sampled from here (one per "
                                                       "joint; empty: the joint ranges)")
    workspace_high_rad: tuple[float, ...] = range_field((), doc="... up to here (one per joint; empty: the "
                                                        "joint ranges)")
    seed: int = range_field(0, min=0, max=2**32 - 1, doc="seed of the workspace samples")


def _section_field():
    return field(default_factory=ComputedTorqueSection)


@dataclass(frozen=True)
class JointLimitsSection:
    """State bounds on the MPC's plan (off by default): for k = 1..N, every joint position within the
    robot's joint limits less `position_margin_rad` and every joint speed within `speed_rad_s`, as rows
    G U <= h(x0, x_ref) beside the acceleration box (`neuroctl.control.qp.state_bound_constraints`)."""

    enabled: bool = False
    position_margin_rad: float = range_field(0.0, min=0.0, max=0.5, doc="kept inside each joint limit, rad")
    speed_rad_s: float | None = range_field(
        None, min=0.0, min_exclusive=True, max=100.0,
        doc="bound on every joint speed, rad/s; null: computed_torque.joint_speed_rad_s (the speeds the "
            "acceleration bounds allow for)")


def _limits_field():
    return field(default_factory=JointLimitsSection)


ARM_Q = (100.0,) * 7 + (1.0,) * 7
ARM_R = (1.0,) * 7


def _arm_q():
    return range_field(ARM_Q, min=0.0, doc="diagonal of Q on [q - q*, qd], one entry >= 0 per state")


def _arm_r():
    return range_field(ARM_R, min=0.0, min_exclusive=True, doc="diagonal of R on v = qdd / a, one per joint")


def _arm_horizon():
    return range_field(20, min=1, max=1000, doc="prediction horizon N in plan steps")


@dataclass(frozen=True)
class ComputedTorquePDConfig:
    """The analytic baseline: critically damped PD on the joint accelerations, clipped to the bounds."""

    natural_frequency_rad_s: float = range_field(10.0, min=0.0, min_exclusive=True, max=1000.0,
                                                 doc="w: Kp = w^2, Kd = 2 w")
    computed_torque: ComputedTorqueSection = _section_field()


@dataclass(frozen=True)
class ComputedTorqueExactMPCConfig(ExactMPCConfig):
    """Exact MPC on the joint double integrators (see the module docstring). `qp_solver`: restarted FISTA
    (`fista`, box only) or, with or without `joint_limits`, DAQP or OSQP (eps_abs = eps_rel = 1e-6,
    polished)."""

    q: tuple[float, ...] = _arm_q()
    r: tuple[float, ...] = _arm_r()
    horizon: int = _arm_horizon()
    qp_solver: Literal["fista", "daqp", "osqp"] = range_field(
        "fista", doc="fista (box only), daqp or osqp (box and joint limits)")
    joint_limits: JointLimitsSection = _limits_field()
    computed_torque: ComputedTorqueSection = _section_field()


@dataclass(frozen=True)
class ComputedTorqueDenseMPCConfig(DenseMPCConfig):
    """The dense twin of the spiking planner on the joint double integrators."""

    q: tuple[float, ...] = _arm_q()
    r: tuple[float, ...] = _arm_r()
    horizon: int = _arm_horizon()
    iterations: int = range_field(10, min=1, max=10_000, doc="iterations K per tick")
    joint_limits: JointLimitsSection = _limits_field()
    computed_torque: ComputedTorqueSection = _section_field()


@dataclass(frozen=True)
class ComputedTorqueSpikingMPCConfig(SpikingMPCConfig):
    """The spiking planner (sigma-delta gradient network) on the joint double integrators; with
    `joint_limits` enabled, the spiking PIPG network (gradient and constraint neurons, K = `iterations`
    per tick, event threshold `theta_neuron`, `momentum`; `neuroctl.network.pipg`) in its place
    (`formulation` is then unused: PIPG works on the primal QP)."""

    q: tuple[float, ...] = _arm_q()
    r: tuple[float, ...] = _arm_r()
    horizon: int = _arm_horizon()
    iterations: int = range_field(10, min=1, max=10_000, doc="iterations K per tick")
    joint_limits: JointLimitsSection = _limits_field()
    computed_torque: ComputedTorqueSection = _section_field()


def joint_ranges(robot) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of each joint position: the observation space's bounds, tightened by the sensors'
    plausible limits where the robot declares them, +-pi where neither is finite."""
    space = robot.observation_space
    low = np.asarray(space.low, dtype=np.float64).copy()
    high = np.asarray(space.high, dtype=np.float64).copy()
    for i, sensor in enumerate(getattr(robot, "sensors", ())[: low.size]):
        low[i], high[i] = max(low[i], sensor.low), min(high[i], sensor.high)
    n = len(robot.joint_names)
    q_low, q_high, scratch = np.zeros(n), np.zeros(n), np.zeros(n)
    robot.joint_state(low, q_low, scratch)
    robot.joint_state(high, q_high, scratch)
    q_low = np.where(np.isfinite(q_low), q_low, -np.pi)
    q_high = np.where(np.isfinite(q_high), q_high, np.pi)
    return q_low, q_high


def acceleration_bounds(robot, section: ComputedTorqueSection) -> np.ndarray:
    """Per-joint acceleration bounds a (rad/s^2) that keep M(q) qdd + h within margin x the torque limits
    over the sampled workspace (the module docstring says how). ValueError naming `computed_torque` if
    gravity and velocity torques alone leave no headroom."""
    n = len(robot.joint_names)
    limits = np.asarray(robot.joint_torque_limits_nm, dtype=np.float64)
    q_low, q_high = joint_ranges(robot)
    for key, values, pick in (("workspace_low_rad", section.workspace_low_rad, np.maximum),
                              ("workspace_high_rad", section.workspace_high_rad, np.minimum)):
        if values:
            if len(values) != n:
                raise ValueError(f"computed_torque.{key}: expected {n} values (one per joint), got {len(values)}")
            bound = pick(q_low if pick is np.maximum else q_high, np.asarray(values, dtype=np.float64))
            if pick is np.maximum:
                q_low = bound
            else:
                q_high = bound
    if np.any(q_low > q_high):
        raise ValueError("computed_torque.workspace_low_rad: expected low <= high within the joint ranges")
    rng = np.random.default_rng(section.seed)
    mass_max, bias_max = np.zeros((n, n)), np.zeros(n)
    mass, bias = np.zeros((n, n)), np.zeros(n)
    for _ in range(section.bound_samples):
        q = rng.uniform(q_low, q_high)
        qd = rng.uniform(-section.joint_speed_rad_s, section.joint_speed_rad_s, n)
        robot.mass_matrix(q, mass)
        robot.bias_torques(q, qd, bias)
        np.maximum(mass_max, np.abs(mass), out=mass_max)
        np.maximum(bias_max, np.abs(bias), out=bias_max)
    headroom = section.torque_margin * limits - bias_max
    if np.any(headroom <= 0.0):
        joint = int(np.argmin(headroom))
        raise ValueError(f"computed_torque: joint {joint}'s gravity and velocity torques reach {bias_max[joint]:.3g}"
                         f" N m of its {section.torque_margin:g} x {limits[joint]:.3g} N m; expected a lower "
                         f"joint_speed_rad_s or a larger torque_margin")
    common = float(np.min(headroom / mass_max.sum(axis=1)))
    return np.full(n, min(common, section.max_acceleration_rad_s2))


def joint_state_bounds(robot, limits: JointLimitsSection, section: ComputedTorqueSection) -> tuple[np.ndarray, np.ndarray]:
    """(x_low, x_high) on x = [q, qd] (2n): the robot's joint limits (`joint_lower_rad`,
    `joint_upper_rad`, from its URDF) less the margin, and +-the speed bound. ValueError naming
    `joint_limits` when the margin leaves a joint no range."""
    lower = np.asarray(robot.joint_lower_rad, dtype=np.float64) + limits.position_margin_rad
    upper = np.asarray(robot.joint_upper_rad, dtype=np.float64) - limits.position_margin_rad
    if np.any(lower >= upper):
        raise ValueError(f"joint_limits.position_margin_rad: {limits.position_margin_rad:g} leaves a joint no range")
    speed = section.joint_speed_rad_s if limits.speed_rad_s is None else limits.speed_rad_s
    speeds = np.full(lower.size, float(speed))
    return np.concatenate((lower, -speeds)), np.concatenate((upper, speeds))


def joint_double_integrators(bounds: np.ndarray, step_s: float) -> LinearModel:
    """x = [q, qd] (2n), v = qdd / bounds (n, |v| <= 1), held for `step_s`: exact discretisation."""
    n = bounds.size
    a_c = np.zeros((2 * n, 2 * n))
    a_c[:n, n:] = np.eye(n)
    b_c = np.zeros((2 * n, n))
    b_c[n:] = np.diag(bounds)
    return model_from_continuous(a_c, b_c, step_s, -np.ones(n), np.ones(n))


class ComputedTorqueController(Controller):
    """tau = M(q) qdd + h(q, qd) around a joint-acceleration planner (see the module docstring).

    Built as `Class(config, model, observation_size, robot)`: `model` is not used (the planning model is
    the joints' double integrators), `robot` the environment's RigidBodyRobot. Attributes:
    `acceleration_bounds` a (n,), `joint_model` the planning LinearModel, `planning_step_s`, `torque_nm`
    the last tick's torques (after the clip), `qdd` its accelerations.
    """

    requires_rigid_body = True

    def __init__(self, config, model: LinearModel | None, observation_size: int, robot) -> None:
        super().__init__()
        self.config = config
        self.robot = robot
        self._observation_size = robot_observation_size(robot, observation_size)
        n = len(robot.joint_names)
        self.n_joints = n
        self.limits_nm = np.asarray(robot.joint_torque_limits_nm, dtype=np.float64).copy()
        section: ComputedTorqueSection = config.computed_torque
        period = float(robot.control_period_s)
        self.ticks_per_step = max(1, int(round(section.planning_step_s / period)))
        self.planning_step_s = self.ticks_per_step * period
        self.acceleration_bounds = acceleration_bounds(robot, section)
        self.joint_model = joint_double_integrators(self.acceleration_bounds, self.planning_step_s)
        self.q, self.qd, self.qdd = np.zeros(n), np.zeros(n), np.zeros(n)
        self.state = np.zeros(2 * n)
        self.mass = np.zeros((n, n))
        self.bias = np.zeros(n)
        self.torque_nm = np.zeros(n)
        self._held = np.zeros(observation_size)
        self._finite = np.zeros(observation_size, dtype=bool)
        self._action = np.zeros(n)
        self._cpu_macs = dynamics_macs(n)
        self._planning_cpu_macs = 0  # the planner's own host work this tick, set by `_plan`

    @property
    def observation_size(self) -> int:
        return self._observation_size

    @property
    def reference_size(self) -> int:
        return 2 * self.n_joints

    def reset(self, seed: int) -> None:
        self._held[:] = 0.0
        self.activity[:] = 0

    def joint_state_of(self, observation: np.ndarray) -> np.ndarray:
        """[q, qd] (a reused array) from the observation, non-finite readings held at their last value."""
        np.copyto(self._held, observation, where=np.isfinite(observation, out=self._finite))
        self.robot.joint_state(self._held, self.q, self.qd)
        self.state[: self.n_joints] = self.q
        self.state[self.n_joints:] = self.qd
        return self.state

    @abstractmethod
    def _plan(self, state: np.ndarray, reference: np.ndarray | None) -> None:
        """Set `qdd` and the planner's part of `activity`."""

    @abstractmethod
    def _planner_rehearsal_arrays(self) -> tuple[np.ndarray, ...] | None:
        """The arrays `_plan` writes (`Controller.rehearsal_arrays`), or None where not declared."""

    def rehearsal_arrays(self) -> tuple[np.ndarray, ...] | None:
        planner = self._planner_rehearsal_arrays()
        if planner is None:
            return None
        return (self.q, self.qd, self.qdd, self.state, self.mass, self.bias, self.torque_nm, self._held,
                self._action, self.activity, *planner)

    def _add_torques(self, reference: np.ndarray | None, torque_nm: np.ndarray) -> None:
        """Hook: add a term to tau = M(q) qdd + h(q, qd) in place, before the clip (an adaptive or a
        known-payload term, `neuroctl.control.adaptive`); this tick's q, qd, qdd, mass and bias are set.
        Adds nothing here."""

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Returns a reused array (tau / limit): copy it to keep it past the next tick."""
        self._plan(self.joint_state_of(observation), reference)
        self.robot.mass_matrix(self.q, self.mass)
        self.robot.bias_torques(self.q, self.qd, self.bias)
        np.matmul(self.mass, self.qdd, out=self.torque_nm)
        self.torque_nm += self.bias
        self._add_torques(reference, self.torque_nm)
        np.clip(self.torque_nm, -self.limits_nm, self.limits_nm, out=self.torque_nm)
        np.divide(self.torque_nm, self.limits_nm, out=self._action)
        self.activity[CPU_MACS] = self._cpu_macs + self._planning_cpu_macs
        return self._action


class ComputedTorquePDController(ComputedTorqueController):
    """The analytic baseline: qdd = clip(w^2 (q* - q) - 2 w qd, -a, a); nothing in it spikes."""

    def __init__(self, config: ComputedTorquePDConfig, model, observation_size: int, robot) -> None:
        super().__init__(config, model, observation_size, robot)
        w = config.natural_frequency_rad_s
        self.kp, self.kd = w * w, 2.0 * w
        self._zero = np.zeros(2 * self.n_joints)
        self._error = np.zeros(self.n_joints)

    def _plan(self, state: np.ndarray, reference: np.ndarray | None) -> None:
        n = self.n_joints
        reference = self._zero if reference is None else reference
        np.subtract(reference[:n], self.q, out=self._error)
        self._error *= self.kp
        np.multiply(self.qd - reference[n:], self.kd, out=self.qdd)
        np.subtract(self._error, self.qdd, out=self.qdd)
        np.clip(self.qdd, -self.acceleration_bounds, self.acceleration_bounds, out=self.qdd)
        self.activity[: len(ACTIVITY_FIELDS)] = 0
        self.activity[DENSE_MACS] = 2 * n

    def _planner_rehearsal_arrays(self) -> tuple[np.ndarray, ...]:
        return (self._error,)


class _PlannedComputedTorque(ComputedTorqueController):
    """An MPC planner from `neuroctl.control` on the joint double integrators; its plan, QP and (for the
    spiking one) spike raster are exposed as the planner's: `last_solution` (N*n values of v = qdd / a),
    `predicted_states` (N+1, 2n), `qp_problem`, `qp_initial_state(observation, reference)`. With
    `joint_limits` enabled the planner is a `ConstrainedMPCController` on the joints' state bounds
    (`joint_state_bounds`) with the solver of `_limited_solver`; its host work (the QP's linear terms)
    is added to CPU_MACS."""

    planner_class: type

    def __init__(self, config, model, observation_size: int, robot) -> None:
        super().__init__(config, model, observation_size, robot)
        n = self.n_joints
        limited = self._limited_solver(config)
        if limited is None:
            self.planner = self.planner_class(config, self.joint_model, 2 * n)
        else:
            solver, exact = limited
            if config.joint_limits.enabled:
                x_low, x_high = joint_state_bounds(robot, config.joint_limits, config.computed_torque)
            else:
                x_low, x_high = np.full(2 * n, -np.inf), np.full(2 * n, np.inf)
            self.planner = ConstrainedMPCController(config, self.joint_model, 2 * n, x_low, x_high, solver, exact)
        self.planner.shift_every = self.ticks_per_step
        self.qp_problem = self.planner.qp_problem
        self.last_solution = self.planner.last_solution
        self.predicted_states = self.planner.predicted_states
        self.solves_exactly = self.planner.solves_exactly

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.planner.reset(seed)

    def qp_initial_state(self, observation: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        return self.planner.qp_initial_state(self.joint_state_of(observation), reference)

    def _limited_solver(self, config) -> tuple | None:
        """(QP solver, solves exactly) for a `ConstrainedMPCController` planner, or None for `planner_class`."""
        return None

    def _plan(self, state: np.ndarray, reference: np.ndarray | None) -> None:
        v = self.planner.act(state, reference)
        np.multiply(v, self.acceleration_bounds, out=self.qdd)
        self.activity[:] = self.planner.activity
        self._planning_cpu_macs = int(self.planner.activity[CPU_MACS])

    def _planner_rehearsal_arrays(self) -> tuple[np.ndarray, ...] | None:
        return self.planner.rehearsal_arrays()


class ComputedTorqueExactMPCController(_PlannedComputedTorque):
    """Exact MPC plans the accelerations; nothing in it spikes. With `qp_solver` daqp or osqp (needed for
    `joint_limits`) the QP goes to that solver."""

    planner_class = ExactMPCController

    def _limited_solver(self, config) -> tuple | None:
        if config.qp_solver == "fista":
            if config.joint_limits.enabled:
                raise ValueError("qp_solver: fista solves the box only; expected daqp or osqp with joint_limits")
            return None
        solver = DAQPSolver() if config.qp_solver == "daqp" else OSQPSolver(eps_abs=1e-6, eps_rel=1e-6, polishing=True)
        return solver, True


class ComputedTorqueDenseMPCController(_PlannedComputedTorque):
    """The dense twin of the spiking planner plans the accelerations; nothing in it spikes. With
    `joint_limits`: the dense PIPG twin."""

    planner_class = DenseMPCController

    def _limited_solver(self, config) -> tuple | None:
        if not config.joint_limits.enabled:
            return None
        return DensePIPGSolver(iterations=config.iterations, momentum=config.momentum), False


class ComputedTorqueSpikingMPCController(_PlannedComputedTorque):
    """The spiking MPC (sigma-delta gradient and sensor neurons) plans the accelerations: that part
    spikes; the joint-state read-out, M(q), h(q, qd) and the torque map do not (CPU_MACS). With
    `joint_limits`: the spiking PIPG network (gradient and constraint neurons) plans; the QP's linear
    terms q = F x0 and h(x0, x_ref) are then computed on the host (CPU_MACS), not by sensor neurons."""

    planner_class = SpikingMPCController
    _pipg: SpikingPIPGSolver | None = None  # the PIPG network, with joint limits

    def __init__(self, config, model, observation_size: int, robot) -> None:
        super().__init__(config, model, observation_size, robot)
        if self._pipg is not None:  # the raster exists before the first tick
            self._pipg.size_for(self.qp_problem.n_decisions, self.planner.constraints.n_rows)

    def _limited_solver(self, config) -> tuple | None:
        if not config.joint_limits.enabled:
            return None
        if config.state_input != "sigma_delta" or config.weight_bits is not None:
            raise ValueError("joint_limits: the PIPG planner takes the state directly in float64; expected "
                             "state_input: sigma_delta and weight_bits: null")
        self._pipg = SpikingPIPGSolver(iterations=config.iterations, threshold=config.theta_neuron,
                                       momentum=config.momentum)
        return self._pipg, False

    @property
    def spike_raster(self) -> np.ndarray:
        """The planner's last tick's events: the sigma-delta gradient network's, or with joint limits
        PIPG's (K + 1 rounds; gradient neurons, then constraint neurons)."""
        if self._pipg is not None:
            return self._pipg.raster
        return self.planner.spike_raster

    @property
    def spike_raster_groups(self) -> tuple[tuple[str, int, int], ...]:
        if self._pipg is not None:
            n, m = self.qp_problem.n_decisions, self.planner.constraints.n_rows
            return ("gradient neurons (one per plan value)", 0, n), ("constraint neurons (one per row)", n, n + m)
        return self.planner.spike_raster_groups
