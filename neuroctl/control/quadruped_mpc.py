"""Convex MPC for a trotting quadruped: ground reaction forces planned on the centroidal model.

The structure of the MIT Cheetah 3 convex MPC (Di Carlo et al., IROS 2018) and of
google-research/motion_imitation's `mpc_controller` (whose A1 figures are the defaults here: horizon 10
x 25 ms, force weight 1e-5, a trot of diagonal pairs with a duty factor of 0.6, Raibert footholds with
a gain of 0.03 s; its state weights changed, see `STATE_WEIGHTS`), written for a `neuroctl.envs.robot.LeggedRobot`.

One control tick (every `control_period_s`, 1 ms for the A1):
1. read the base state (12) and the joints (q, qd) from the observation, foot positions and leg
   Jacobians in the base frame (`leg_kinematics`); the command [vx, vy, yaw rate] is the tick's reference.
   The clock is the robot's (`steps` control periods since its reset), so that the gait and the plan stay
   in phase with the plant when the loop steps it without calling the controller (realtime overruns).
   The model's position is the centre of mass's (the base origin plus R `com_offset_m`), its velocity
   the base origin's (the difference, w x R c, is neglected).
2. every `replan_period_s` (rounded to whole ticks): the MPC (`neuroctl.control.centroidal`): the
   reference over the horizon from the command (yaw and position integrated, standing height, zero roll
   and pitch, w = (0, 0, yaw rate), v = Rz(yaw) (vx, vy, 0)), the contact schedule from the gait clock,
   the lever arms of the feet (stance feet where they stand; feet landing within the horizon at their
   Raibert footholds), the condensed QP, solved by the configured solver (`solver`: osqp, daqp,
   pipg_spiking, pipg_dense; `neuroctl.control.qp_solvers`) warm started from the last plan shifted by
   one step. A solve whose status is not an answer (infeasible, failed, a non-finite u) keeps the last
   plan (shifted by the time since it was made), or before any plan the standing forces m g / n on the
   stance feet; `failed_solves` counts those. With `solve_ticks` S > 1 (PIPG only) the QP is built on
   the replan tick and the network's iterations run on the S ticks after it (each call resuming the
   last one's iteration, `PIPGSolver.resume`; `first_chunk_iterations` on the first of them, which
   also loads the new weights, the rest shared evenly: `chunk_iterations`); the plan is adopted on the
   last of them with its time origin at the replan tick, so a tick carries a share of a replan instead
   of all of it, and the plan is S control periods older when it is first applied. Steps 3-5 run in
   one compiled call (`neuroctl.control.legs.leg_torques`), the lever arms in another (`lever_arms`).
3. stance feet: tau_leg = -J' R' f (R the base orientation, f the plan's force of this tick's step).
   A foot the gait puts in stance whose plan step has no force (it lands between the plan's step
   midpoints) is held at its foothold by the swing PD until the next replan.
4. swing feet: a task-space PD in the base frame, tau_leg = J' (Kp (p* - p) + Kd (v* - J qd)), towards
   the swing trajectory from the lift-off position to the Raibert foothold (`neuroctl.control.gait`).
5. tau clipped to the joints' limits; the action is tau / limit.

What spikes: only the QP solve, and only with `solver: pipg_spiking` (the PIPG network's gradient and
constraint neurons, `neuroctl.network.pipg`; its events counted in `activity` as the network reports
them, DENSE_MACS its dense twin's). With `preconditioner: whitening` the network solves the whitened QP
(`neuroctl.control.whitening`): the Cholesky factorisation that makes its Hessian the identity, and the
transforms in and out, run on the host (CPU_MACS), and they are most of the arithmetic of a solve.
Nothing else spikes: the centroidal model, its condensing, the gait
clock, footholds, swing trajectories, kinematics and torque maps run on a conventional CPU whatever the
solver, and are charged every tick as CPU_MACS (`tick_macs`, plus `CentroidalMPC.macs_per_build` on a
replan tick): counts of the products each step forms, estimates where marked. The classical solvers
(OSQP, DAQP) report no counts (their work is their measured solve time, `solve_times_s`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from neuroctl.config import range_field
from neuroctl.control.base import CPU_MACS, Controller, robot_observation_size
from neuroctl.control.centroidal import (FORCE_SIZE, GRAVITY, GRAVITY_MPS2, PX, PY, PZ, STATE_SIZE, VX, VY, WZ,
                                         YAW, CentroidalMPC, euler_zyx_rotation)
from neuroctl.control.gait import GaitClock, planar_rotation
from neuroctl.control.legs import leg_torques, lever_arms
from neuroctl.control.qp_solvers import (STATUS_MAX_ITERATIONS, STATUS_SOLVED, STATUS_SOLVED_INACCURATE,
                                         InequalityQP, make_qp_solver)
from neuroctl.control.whitening import Whitening

ANSWER_STATUSES = (STATUS_SOLVED, STATUS_SOLVED_INACCURATE, STATUS_MAX_ITERATIONS)
"""Statuses whose u is used: converged, or an iterative solver's answer after its iteration budget."""
STATE_WEIGHTS = (20.0, 20.0, 1.0, 0.0, 0.0, 20.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
"""Q's diagonal on roll, pitch, yaw, p, w, v (gravity unweighted). motion_imitation's `_MPC_WEIGHTS` are
(5, 5, 0.2, 0, 0, 10, 0, 0, 1, 1, 1, 0): on this A1 in PyBullet, replanning at 100 Hz, they let roll and
pitch drift to 0.1-0.15 rad within 3 s; weighting w and vz and four times the angles keeps them within
0.05 rad (measured, seed 0, 0.5 m/s)."""
KINEMATICS_MACS_PER_LEG = 60
"""Estimate: a leg's forward kinematics and 3x3 Jacobian (three rotations and their derivatives)."""


def tick_macs(n_feet: int) -> int:
    """CPU multiply-accumulates of one tick outside the MPC build: R from the Euler angles (12), the legs'
    kinematics (`KINEMATICS_MACS_PER_LEG`, an estimate), per foot R'f and J'(R'f) (18) or the swing PD
    (J qd, the PD, J'F: 9 + 6 + 9), whichever is larger, and the torque map (2 per joint)."""
    return 12 + n_feet * (KINEMATICS_MACS_PER_LEG + 24 + 2 * FORCE_SIZE)


def reference_macs(horizon: int, n_feet: int) -> int:
    """CPU multiply-accumulates of a replan's reference, schedule and lever arms (an estimate: a few per
    state and foot of every step)."""
    return horizon * (STATE_SIZE + 12 * n_feet)


def chunk_iterations(iterations: int, ticks: int, first: int | None = None) -> list[int]:
    """`iterations` shared by `ticks` calls: `first` on the first (None: an even share) and the rest as
    evenly as whole numbers allow, the earlier calls taking the remainder."""
    if first is None or ticks == 1:
        chunk, extra = divmod(iterations, ticks)
        return [chunk + (1 if k < extra else 0) for k in range(ticks)]
    return [first] + chunk_iterations(iterations - first, ticks - 1)


@dataclass(frozen=True)
class OSQPSection:
    """OSQP's tolerances (its defaults) and iteration cap, for `solver: osqp`."""

    eps_abs: float = range_field(1e-3, min=0.0, min_exclusive=True, max=1.0, doc="absolute tolerance")
    eps_rel: float = range_field(1e-3, min=0.0, max=1.0, doc="relative tolerance")
    max_iter: int = range_field(4000, min=1, max=1_000_000, doc="ADMM iterations allowed per solve")


@dataclass(frozen=True)
class PIPGSection:
    """The PIPG network's settings, for `solver: pipg_spiking | pipg_dense` (see `PIPGSolver`)."""

    iterations: int = range_field(200, min=1, max=100_000, doc="PIPG iterations per solve")
    threshold: float = range_field(0.002, min=0.0, max=1e3, doc="gradient neurons' event threshold, in the "
                                   "solver's variables (N; whitened units with preconditioner whitening)")
    tolerance: float = range_field(0.0, min=0.0, max=1e3, doc="early stop, solver's units (0: all iterations)")
    dual_ratio: float | None = range_field(None, min=0.0, min_exclusive=True, max=1e6,
                                           doc="beta / alpha (null: the solver's balanced steps)")
    momentum: Literal["nesterov", "none"] = "nesterov"
    """Nesterov momentum on the gradient neurons (the solver's), or none (PIPG as published)."""
    scaling: bool = True
    """The solver's diagonal scaling (Jacobi on the variables, unit rows), done on the host per solve."""
    power_iterations: int = range_field(0, min=0, max=1000, doc="power steps per replan for the steps' "
                                        "spectrum, warm started (0: exact eigenvalues every replan)")


@dataclass(frozen=True)
class QuadrupedMPCConfig:
    """The trot controller (see the module docstring); SI units."""

    solver: Literal["osqp", "daqp", "pipg_spiking", "pipg_dense"] = "osqp"
    """The QP solver (`neuroctl.control.qp_solvers.make_qp_solver`); only pipg_spiking spikes."""
    preconditioner: Literal["none", "whitening"] = "none"
    """whitening: the solver gets the QP in coordinates where H = I (`neuroctl.control.whitening`; the
    Cholesky factorisation and the transforms run on the host, charged as CPU_MACS)."""
    osqp: OSQPSection = field(default_factory=OSQPSection)
    pipg: PIPGSection = field(default_factory=PIPGSection)
    horizon: int = range_field(10, min=2, max=100, doc="MPC horizon N in steps")
    step_s: float = range_field(0.025, min=0.005, max=0.1, doc="MPC step")
    replan_period_s: float = range_field(0.01, min=0.001, max=0.1,
                                         doc="time between replans (rounded to whole control periods)")
    solve_ticks: int = range_field(1, min=1, max=100, doc="control ticks a PIPG solve is spread over (1: the "
                                   "replan tick; more: the ticks after it, fewer than the ticks between replans)")
    first_chunk_iterations: int | None = range_field(None, min=1, max=100_000, doc="PIPG iterations on the first "
                                                     "tick of a spread solve, the one that also loads the new "
                                                     "weights and steps (null: an even share); the rest are "
                                                     "shared evenly by the other ticks")
    state_weights: tuple[float, ...] = range_field(STATE_WEIGHTS, length=12, min=0.0, max=1e6,
                                                   doc="Q's diagonal on roll, pitch, yaw, p, w, v")
    force_weight: float = range_field(1e-5, min=0.0, min_exclusive=True, max=1e3, doc="alpha, per N^2")
    friction_coefficient: float = range_field(0.6, min=0.0, min_exclusive=True, max=2.0,
                                              doc="mu of the planned friction pyramids")
    max_normal_force_n: float = range_field(150.0, min=0.0, min_exclusive=True, max=1e4, doc="fz_max per foot")
    min_normal_force_n: float = range_field(0.0, min=0.0, max=1e4, doc="fz_min per stance foot")
    gait_period_s: float = range_field(0.36, min=0.1, max=2.0, doc="trot period T")
    duty_factor: float = range_field(0.6, min=0.3, max=0.9, doc="stance fraction of the period")
    stand_s: float = range_field(0.0, min=0.0, max=60.0, doc="all feet in stance for this long after reset")
    swing_height_m: float = range_field(0.08, min=0.0, max=0.3, doc="swing apex above the higher end")
    foothold_gain_s: float = range_field(0.03, min=0.0, max=1.0, doc="Raibert gain k on v - v*")
    touchdown_depth_m: float = range_field(0.01, min=0.0, max=0.1,
                                           doc="swing targets this far below the standing foot height")
    swing_stiffness_n_per_m: tuple[float, ...] = range_field((700.0, 700.0, 700.0), length=3, min=0.0, max=1e5,
                                                             doc="Kp per base axis")
    swing_damping_n_s_per_m: tuple[float, ...] = range_field((20.0, 20.0, 20.0), length=3, min=0.0, max=1e4,
                                                             doc="Kd per base axis")
    record_qps: bool = False
    """Keep a copy of every replan's QP in `recorded_qps` (for the QP benchmark)."""

    def __post_init__(self) -> None:
        if self.min_normal_force_n > self.max_normal_force_n:
            raise ValueError(f"min_normal_force_n: expected at most max_normal_force_n "
                             f"({self.max_normal_force_n:g} N), got {self.min_normal_force_n:g}")
        if self.replan_period_s > self.step_s * self.horizon:
            raise ValueError("replan_period_s: expected at most the horizon (horizon x step_s)")
        if self.solve_ticks > 1 and not self.solver.startswith("pipg"):
            raise ValueError(f"solve_ticks: expected 1 for solver {self.solver} (only PIPG's iterations can be "
                             f"spread over ticks), got {self.solve_ticks}")
        if self.solve_ticks > self.pipg.iterations:
            raise ValueError(f"solve_ticks: expected at most pipg.iterations ({self.pipg.iterations}), "
                             f"got {self.solve_ticks}")
        if self.first_chunk_iterations is not None:
            if self.solve_ticks == 1:
                raise ValueError("first_chunk_iterations: expected null with solve_ticks 1 (nothing is spread)")
            most = self.pipg.iterations - (self.solve_ticks - 1)
            if self.first_chunk_iterations > most:
                raise ValueError(f"first_chunk_iterations: expected at most pipg.iterations - (solve_ticks - 1) "
                                 f"= {most} (every tick runs at least one), got {self.first_chunk_iterations}")


class QuadrupedMPCController(Controller):
    """The trot under convex MPC (module docstring). Built `Class(config, model, observation_size, robot)`
    from a LeggedRobot (`model` unused). The reference is the command [vx, vy, yaw rate] (3).

    After `act`: `torque_nm` (12), `forces_n` (n_feet, 3; this tick's stance forces, world frame),
    `stance` (n_feet; 1.0 in stance by the gait), `last_solution` the last plan U (N * 3 n_feet),
    `solve_times_s` (the solver's) and `solve_iterations` per replan (since reset), `replan_times_s` (wall
    time of the whole replan: reference, condensing, whitening, solve), `failed_solves`, `solves`,
    `status_counts`, `mpc` the CentroidalMPC (its QP of the last replan), `recorded_qps`.

    Each `reset` makes a fresh solver (no warm start or factorisation carried across episodes); a
    spiking PIPG solver with a spectrum tracker starts it from the standing QP's spectrum, computed
    once when the controller is built (`_standing_spectrum`), so a rebuilt and a reused controller give
    the same episodes.
    """

    requires_legged_robot = True

    def __init__(self, config: QuadrupedMPCConfig, model, observation_size: int, robot) -> None:
        super().__init__()
        self.config = config
        self.robot = robot
        self._observation_size = robot_observation_size(robot, observation_size)
        self.n_joints = len(robot.joint_names)
        self.n_feet = len(robot.foot_names)
        if self.n_joints != FORCE_SIZE * self.n_feet:
            raise ValueError(f"kind: expected 3 joints per leg, got {self.n_joints} joints for {self.n_feet} feet")
        self.limits_nm = np.asarray(robot.joint_torque_limits_nm, dtype=np.float64).copy()
        self.period_s = float(robot.control_period_s)
        self.replan_ticks = max(1, int(round(config.replan_period_s / self.period_s)))
        if config.solve_ticks > 1 and config.solve_ticks >= self.replan_ticks:
            raise ValueError(f"solve_ticks: expected fewer than the {self.replan_ticks} control ticks between "
                             f"replans, got {config.solve_ticks}")
        self.chunk_iterations = chunk_iterations(config.pipg.iterations, config.solve_ticks,
                                                 config.first_chunk_iterations)
        """PIPG iterations run on each tick of a spread solve (`solve_ticks` > 1)."""
        self.mass_kg = float(robot.body_mass_kg)
        self.com_offset_m = np.asarray(robot.com_offset_m, dtype=np.float64).reshape(3)
        self.standing_com_height_m = float(robot.standing_height_m) + float(self.com_offset_m[2])
        standing_feet = np.zeros((self.n_feet, 3))
        robot.leg_kinematics(np.asarray(robot.nominal_joint_positions, dtype=np.float64), standing_feet,
                             np.zeros((self.n_feet, 3, 3)))
        self.standing_foot_z_m = float(np.mean(standing_feet[:, 2]))
        """The feet's height in the base frame at the standing pose (m, negative)."""
        self.hips_m = np.zeros((self.n_feet, 3))
        """Raibert's reference points: the hips' x (`hip_offsets_m`) and the standing feet's y (the hip
        joints are 8.5 cm inside the feet: stepping under them narrows the stance)."""
        self.hips_m[:, 0] = np.asarray(robot.hip_offsets_m, dtype=np.float64).reshape(self.n_feet, 3)[:, 0]
        self.hips_m[:, 1] = standing_feet[:, 1]
        weights = np.zeros(STATE_SIZE)
        weights[:12] = config.state_weights
        self.mpc = CentroidalMPC(self.mass_kg, robot.body_inertia_kgm2, self.n_feet, config.horizon, config.step_s,
                                 weights, config.force_weight, config.friction_coefficient,
                                 config.max_normal_force_n, config.min_normal_force_n)
        self.qp = InequalityQP(self.mpc.H, self.mpc.q, self.mpc.lower, self.mpc.upper, self.mpc.G, self.mpc.h)
        self.gait = GaitClock(config.gait_period_s, config.duty_factor)
        self.whitening = Whitening() if config.preconditioner == "whitening" else None
        self._recovered = np.zeros(self.mpc.n_decisions)
        self._kp = np.asarray(config.swing_stiffness_n_per_m, dtype=np.float64)
        self._kd = np.asarray(config.swing_damping_n_s_per_m, dtype=np.float64)
        self._tick_macs = tick_macs(self.n_feet)
        self._replan_macs = self.mpc.macs_per_build + reference_macs(config.horizon, self.n_feet)
        n, feet, horizon = self.n_joints, self.n_feet, config.horizon
        self.base, self.q, self.qd = np.zeros(12), np.zeros(n), np.zeros(n)
        self.rotation, self.com_m = np.eye(3), np.zeros(3)
        self.feet_m, self.jacobians = np.zeros((feet, 3)), np.zeros((feet, 3, 3))
        self.torque_nm, self.forces_n = np.zeros(n), np.zeros((feet, 3))
        self.stance, self._previous_stance = np.zeros(feet), np.zeros(feet)
        self._progress, self._touchdown = np.zeros(feet), np.zeros(feet)
        self._liftoff_m = np.zeros((feet, 3))
        self._scratch = np.zeros((4, 3))
        self._heading_velocity = np.zeros(2)
        self._foothold_height_m = self.standing_foot_z_m - config.touchdown_depth_m
        self._x0, self._x_ref = np.zeros(STATE_SIZE), np.zeros((horizon, STATE_SIZE))
        self._offsets_m, self._contacts = np.zeros((horizon, feet, 3)), np.zeros((horizon, feet))
        self._feet_world_m = np.zeros((feet, 3))
        self._centres_m = np.zeros((horizon, 3))
        self._planar = np.zeros(3)
        self._held = np.zeros(observation_size)
        self._finite = np.zeros(observation_size, dtype=bool)
        self._action = np.zeros(n)
        self._command = np.zeros(3)
        self.last_solution = np.zeros(horizon * FORCE_SIZE * feet)
        self._warm = np.zeros_like(self.last_solution)
        self.recorded_qps: list[InequalityQP] = []
        self._spectrum_seed: tuple[np.ndarray, float] | None = None
        self.reset(0)
        self._spectrum_seed = self._standing_spectrum()
        self.reset(0)

    def _make_solver(self):
        config = self.config
        if config.solver == "osqp":
            section = config.osqp
            return make_qp_solver("osqp", eps_abs=section.eps_abs, eps_rel=section.eps_rel, max_iter=section.max_iter)
        if config.solver == "daqp":
            return make_qp_solver("daqp")
        section = config.pipg
        return make_qp_solver(config.solver, iterations=section.iterations, threshold=section.threshold,
                              tolerance=section.tolerance, dual_ratio=section.dual_ratio,
                              momentum=section.momentum, scaling=section.scaling,
                              power_iterations=section.power_iterations)

    @property
    def observation_size(self) -> int:
        return self._observation_size

    @property
    def reference_size(self) -> int:
        return 3

    def reset(self, seed: int) -> None:
        self.plan_tick = 0
        self.replan_tick = 0
        self.has_plan = False
        self.solves = 0
        self.failed_solves = 0
        self.status_counts: dict[str, int] = {}
        self.solve_times_s: list[float] = []
        self.replan_times_s: list[float] = []
        self.solve_iterations: list[int] = []
        self.recorded_qps.clear()
        self._chunks_done = 0
        self._solving = False
        self._solve_time_s = self._replan_time_s = 0.0
        self.last_solution[:] = 0.0
        self._held[:] = 0.0
        self._previous_stance[:] = 1.0
        self.activity[:] = 0
        self.solver = self._make_solver()  # a fresh solver: no warm start or factorisation from the last episode
        if self._spectrum_seed is not None:
            self.solver.spectrum.seed(*self._spectrum_seed)

    def _standing_spectrum(self) -> tuple[np.ndarray, float] | None:
        """The PIPG tracker's spectrum (`SpectrumTracker.state`) after the standing QP (the base at the
        standing height, at rest), or None without a tracker. Each episode's solver starts from it: its
        first QP, standing, then costs 4 power steps instead of the exact eigenvalues and vectors (3.2 ms
        on the first weight-load tick, a miss at 2 ms ticks)."""
        if getattr(self.solver, "spectrum", None) is None:
            return None
        self._solve_standing(0.0)
        return self.solver.spectrum.state()

    def warmup(self) -> None:
        """Compile and run the solver on two standing QPs (the base at the standing height, then 1 cm
        higher: new weights, so a solver's path for changed weights runs too), then one tick (`act`:
        the per-foot kernels)."""
        self.reset(0)
        for height_m in (0.0, 0.01):
            self._solve_standing(height_m)
        self.act(np.zeros(self.observation_size))
        self.reset(0)

    def _solve_standing(self, height_m: float) -> None:
        """Replan and solve, all iterations, for the robot at rest with the base `height_m` above the
        standing height (a zero observation)."""
        self._read(np.zeros(self.observation_size))
        self.com_m[2] = self.standing_com_height_m + height_m
        self._replan(self._command)
        while self._solving:
            self._solve_step()

    @property
    def tick(self) -> int:
        """The robot's control periods since its reset (`steps`): the controller's clock, which keeps pace
        with the plant when the loop steps it without calling the controller (realtime overruns)."""
        return int(self.robot.steps)

    def gait_time_s(self) -> float:
        """Seconds of gait since the stand (negative while standing)."""
        return self.tick * self.period_s - self.config.stand_s

    def stance_at(self, time_s: float, out: np.ndarray) -> np.ndarray:
        if time_s < 0.0:
            out[:] = 1.0
            return out
        return self.gait.stance(time_s, out)

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Returns a reused array (tau / limit): copy it to keep it past the next tick."""
        command = self._command
        command[:] = 0.0 if reference is None else reference[:3]
        self._read(observation)
        time_s = self.gait_time_s()
        self.stance_at(time_s, self.stance)
        self.activity[:] = 0
        if self._solving:
            self._solve_step()
        elif not self.solves or self.tick - self.replan_tick >= self.replan_ticks:
            self._replan(command)
        self._stance_forces()
        if time_s >= 0.0:
            self.gait.swing_progress(time_s, self._progress)
        config, gait = self.config, self.gait
        leg_torques(self.stance, self.forces_n, self.rotation, self.jacobians, self.qd, self.feet_m,
                    self._previous_stance, self._liftoff_m, self._progress, self.hips_m, self._planar_velocity(),
                    float(self.base[WZ]), command, gait.stance_duration_s, gait.swing_duration_s,
                    config.foothold_gain_s, self._foothold_height_m, config.swing_height_m, self._kp, self._kd,
                    self.limits_nm, self._scratch, self.torque_nm, self._action)
        self.activity[CPU_MACS] += self._tick_macs
        return self._action

    def _read(self, observation: np.ndarray) -> None:
        """Base state, joints and leg kinematics from the observation (non-finite readings held)."""
        np.copyto(self._held, observation, where=np.isfinite(observation, out=self._finite))
        self.robot.base_state(self._held, self.base)
        self.robot.joint_state(self._held, self.q, self.qd)
        self.robot.leg_kinematics(self.q, self.feet_m, self.jacobians)
        self.rotation[:] = euler_zyx_rotation(self.base[0], self.base[1], self.base[2])
        np.matmul(self.rotation, self.com_offset_m, out=self.com_m)
        self.com_m += self.base[PX:PZ + 1]

    def _planar_velocity(self) -> np.ndarray:
        """The base's planar velocity (vx, vy) in the heading frame (world velocity rotated by -yaw), in a
        reused array."""
        c, s = math.cos(self.base[YAW]), math.sin(self.base[YAW])
        vx, vy = self.base[VX], self.base[VY]
        self._heading_velocity[0], self._heading_velocity[1] = c * vx + s * vy, -s * vx + c * vy
        return self._heading_velocity

    def _stance_forces(self) -> None:
        """This tick's forces: the plan's step for the time since it was made, zero for swing feet."""
        step = min(int((self.tick - self.plan_tick) * self.period_s / self.config.step_s), self.config.horizon - 1)
        forces = self.last_solution.reshape(self.config.horizon, self.n_feet, FORCE_SIZE)[step]
        np.multiply(forces, self.stance[:, None], out=self.forces_n)

    def _replan(self, command: np.ndarray) -> None:
        """Build the QP at the measured state (module docstring, step 2) and solve it now
        (`solve_ticks` 1) or start a solve spread over the next ticks."""
        started_s = time.perf_counter()
        self.replan_tick = self.tick
        config, mpc = self.config, self.mpc
        x0 = self._x0
        x0[:12] = self.base
        x0[PX:PZ + 1] = self.com_m
        x0[GRAVITY] = -GRAVITY_MPS2
        self._reference(command)
        time_s = self.gait_time_s()
        for k in range(config.horizon):
            self.stance_at(time_s + (k + 0.5) * config.step_s, self._contacts[k])
        self._lever_arms(command, time_s)
        mpc.build(x0, self._x_ref, self._offsets_m, self._contacts)
        self._warm_start()
        self.activity[CPU_MACS] += self._replan_macs
        if config.record_qps:
            self.recorded_qps.append(InequalityQP(mpc.H.copy(), mpc.q.copy(), mpc.lower.copy(), mpc.upper.copy(),
                                                  mpc.G, mpc.h))
        self._solving, self._chunks_done, self._solve_time_s = True, 0, 0.0
        self._replan_time_s = time.perf_counter() - started_s
        if config.solve_ticks == 1:
            self._solve_step()
        elif not self.has_plan:
            self._standing_plan()

    def _solve_step(self) -> None:
        """One tick's share of the solve (all of it with `solve_ticks` 1); the last share adopts the answer
        as the plan made at the replan tick, or keeps the last plan if it is not an answer."""
        started_s = time.perf_counter()
        spread = self.config.solve_ticks > 1
        iterations = self.chunk_iterations[self._chunks_done]
        first = self._chunks_done == 0
        if first and self.whitening is not None:
            self._solver_qp, self._solver_start = self.whitening.whiten(self.qp, self._warm)
            self.activity[CPU_MACS] += self.whitening.macs
        elif first:
            self._solver_qp, self._solver_start = self.qp, self._warm
        if first:
            result = self.solver.solve(self._solver_qp, self._solver_start, iterations) if spread \
                else self.solver.solve(self._solver_qp, self._solver_start)
        else:
            result = self.solver.resume(self._solver_qp, iterations)
        self._chunks_done += 1
        self.activity += result.activity
        self._solve_time_s += result.solve_time_s
        done = self._chunks_done == self.config.solve_ticks or result.status != STATUS_MAX_ITERATIONS
        if done:
            self._adopt(result)
        self._replan_time_s += time.perf_counter() - started_s
        if done:
            self.replan_times_s.append(self._replan_time_s)

    def _adopt(self, result) -> None:
        """The solve's answer becomes the plan (its time origin the replan tick), unless it is none."""
        mpc = self.mpc
        self._solving = False
        solution = result.u if self.whitening is None else self.whitening.recover(result.u, self._recovered)
        self.solves += 1
        self.status_counts[result.status] = self.status_counts.get(result.status, 0) + 1
        self.solve_times_s.append(self._solve_time_s)
        self.solve_iterations.append(sum(self.chunk_iterations[:self._chunks_done - 1]) + result.iterations)
        if result.status in ANSWER_STATUSES and np.all(np.isfinite(solution)):
            np.clip(solution, mpc.lower, mpc.upper, out=self.last_solution)
            self.plan_tick = self.replan_tick
            self.has_plan = True
        else:
            self.failed_solves += 1
            if not self.has_plan:
                self._standing_plan()

    def _standing_plan(self) -> None:
        """m g / n on the n stance feet of every step, as the plan (the safe command before any plan)."""
        forces = self.last_solution.reshape(self.config.horizon, self.n_feet, FORCE_SIZE)
        forces[:] = 0.0
        n_stance = np.maximum(self._contacts.sum(axis=1), 1.0)
        forces[:, :, 2] = self._contacts * (self.mass_kg * GRAVITY_MPS2 / n_stance)[:, None]
        self.plan_tick = self.replan_tick
        self.has_plan = True

    def _warm_start(self) -> None:
        """The last plan shifted by the steps from its time origin to the replan's (the last step repeated)."""
        size = FORCE_SIZE * self.n_feet
        shift = min(int(round((self.replan_tick - self.plan_tick) * self.period_s / self.config.step_s)),
                    self.config.horizon - 1) if self.has_plan else 0
        kept = self.last_solution.size - shift * size
        self._warm[:kept] = self.last_solution[shift * size:]
        for k in range(kept, self._warm.size, size):
            self._warm[k:k + size] = self.last_solution[-size:]

    def _reference(self, command: np.ndarray) -> None:
        """x_ref over the horizon: yaw and position integrated from the command (midpoint yaw), standing
        height, zero roll and pitch, w = (0, 0, yaw rate), v = Rz(yaw) (vx, vy, 0), gravity."""
        step = self.config.step_s
        yaw, x, y = float(self.base[YAW]), float(self.com_m[0]), float(self.com_m[1])
        velocity = self._planar
        for k in range(self.config.horizon):
            row = self._x_ref[k]
            planar_rotation(yaw + 0.5 * step * command[2], command, velocity)
            x += step * velocity[0]
            y += step * velocity[1]
            yaw += step * command[2]
            row[:] = 0.0
            row[YAW], row[PX], row[PY], row[PZ] = yaw, x, y, self.standing_com_height_m
            row[WZ] = command[2]
            planar_rotation(yaw, command, velocity)
            row[VX], row[VY] = velocity[0], velocity[1]
            row[GRAVITY] = -GRAVITY_MPS2

    def _lever_arms(self, command: np.ndarray, time_s: float) -> None:
        """r_i at every step: a foot standing now and through step k stays where it stands (world); a foot
        that lands before step k stands at its Raibert foothold placed from the reference pose at its
        touchdown; r = foot - p_ref(step k) (p_ref(0) = the measured centre of mass): `lever_arms`."""
        centres = self._centres_m  # p_ref(step k): the measured centre of mass, then the reference's
        centres[0] = self.com_m
        centres[1:] = self._x_ref[:-1, PX:PZ + 1]
        np.matmul(self.feet_m, self.rotation.T, out=self._feet_world_m)
        self._feet_world_m += self.base[PX:PZ + 1]
        step = self.config.step_s
        if time_s >= 0.0:
            self.gait.time_to_touchdown(time_s, self._touchdown)
        else:
            self._touchdown[:] = -time_s + self.gait.time_to_touchdown(0.0, self._touchdown)
        gait, config = self.gait, self.config
        lever_arms(self.stance, self._contacts, self._touchdown, step, self._x_ref, centres, self._feet_world_m,
                   float(self.com_offset_m[2]), self.hips_m, self._planar_velocity(), float(self.base[WZ]), command,
                   gait.stance_duration_s, config.foothold_gain_s, self._foothold_height_m, self._scratch[:3],
                   self._offsets_m)
