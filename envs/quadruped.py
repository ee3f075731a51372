"""`neuroctl/QuadrupedTrot-v0`: the Unitree A1 (`pybullet_data/a1/a1.urdf`) following a commanded base velocity.

The plant as PyBullet simulates it:

- a floating base (the URDF's `trunk`) and 12 revolute joints, in the URDF's order FR, FL, RR, RL (front
  right, front left, rear right, rear left), each leg `<leg>_hip_joint` (abduction, about the trunk's x),
  `<leg>_upper_joint` (hip flexion, about y) and `<leg>_lower_joint` (knee, about y); PyBullet joint
  indices 1, 3, 4 / 6, 8, 9 / 11, 13, 14 / 16, 18, 19 (the others are fixed joints: the IMU, the
  shoulders, the toes). The feet are the toe links `FR_toe`, `FL_toe`, `RR_toe`, `RL_toe` (collision
  spheres of radius 0.02 m, 0.2 m beyond the knee);
- the URDF's torque limits, read with getJointInfo: 20 N m for the hip (abduction) joints, 55 N m for the
  upper (thigh) and lower (knee) joints. The URDF's joint position limits (hip +-0.80 rad, thigh
  [-1.05, 4.19] rad, knee [-2.70, -0.92] rad) are enforced by PyBullet as constraints;
- the URDF's masses (12.458 kg in all) and inertias (loaded with URDF_USE_INERTIA_FROM_FILE: PyBullet
  would otherwise compute them from the collision boxes); no joint damping or friction (the URDF has
  none) and PyBullet's default link damping (0.04) set to 0, so that the plant is the rigid-body model;
  no self-collision;
- a flat floor (`plane.urdf`) with Coulomb friction `friction` (default 0.9) between the toes and the
  floor: Bullet multiplies the two bodies' coefficients, so the floor has 1.0 and the toes `friction`;
- gravity 9.81 m/s^2 along -z, physics period 1 ms.

Frames: the base frame is the URDF's trunk frame (its origin is the trunk's geometric centre, 0.013 m
behind the trunk's own centre of mass, which is where PyBullet puts the base; this env converts). Foot
positions and Jacobians are in the base frame relative to its origin; velocities in the world frame.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree

import numpy as np

from neuroctl.envs.bullet import STANDARD_GRAVITY_M_S2, BulletScene, pybullet, pybullet_data  # pybullet's banner silenced there
from neuroctl.envs.bullet_robot import FRAME_HEIGHT, FRAME_WIDTH, BulletRobotEnv, check_noise_std
from neuroctl.envs.checks import in_range, invalid, real
from neuroctl.envs.robot import Actuator, Sensor, Task
from neuroctl.network.jit import cached_njit

PHYSICS_PERIOD_S = 0.001
MAX_SUBSTEPS = 10
URDF = "a1/a1.urdf"
FLOOR_URDF = "plane.urdf"
FOOT_NAMES = ("FR", "FL", "RR", "RL")
JOINT_KINDS = ("hip", "upper", "lower")
JOINT_NAMES = tuple(f"{leg}_{kind}_joint" for leg in FOOT_NAMES for kind in JOINT_KINDS)
N_JOINTS = len(JOINT_NAMES)
JOINT_AXES = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 1.0, 0.0))  # hip, upper, lower (the URDF's, checked)
NOMINAL_JOINT_POSITIONS = np.array([0.0, 0.9, -1.8] * 4)  # per leg (hip, thigh, knee), rad: the standing
# pose of motion_imitation's A1 (INIT_MOTOR_ANGLES, github.com/google-research/motion_imitation)
TOE_RADIUS_M = 0.02  # the toes' collision spheres
FRICTION = 0.9
MAX_FRICTION = 2.0
INITIAL_CLEARANCE_M = 0.001  # the lowest toe starts this far above the floor
MAX_INITIAL_SPREAD_RAD = 0.2
MAX_JOINT_SPEED = 100.0  # PyBullet's joint speed clamp (rad/s)

# The task: a seeded sequence of commanded base velocities [vx (m/s), vy (m/s), yaw rate (rad/s)].
COMMAND_LIMITS = np.array([2.0, 1.0, 2.0])  # |each component| of any command
COMMAND_LOW = (0.0, -0.2, -0.5)
COMMAND_HIGH = (0.6, 0.2, 0.5)
MAX_SEGMENT_S = 1e6
EPISODE_STEPS = 10000  # the default episode: 10 s at the default 1 ms control period (4 segments of 2.5 s)
FALL_HEIGHT_M = 0.15  # the base origin below this height: fallen (it stands at 0.27 m)
FALL_TILT_RAD = 0.8  # |roll| or |pitch| beyond this: fallen
DISTANCE_SAMPLE_S = 0.1  # distance_m is the path of the base sampled this often (trot sway and noise out)
MIN_COT_DISTANCE_M = 0.01  # below this distance the cost of transport is None

OBS_BASE, OBS_Q, OBS_QD, OBS_COMMAND = slice(0, 12), slice(12, 24), slice(24, 36), slice(36, 39)
BASE_NAMES = ("roll", "pitch", "yaw", "px", "py", "pz", "wx", "wy", "wz", "vx", "vy", "vz")
STATE_NAMES = BASE_NAMES + tuple(f"q_{name}" for name in JOINT_NAMES) + tuple(f"qd_{name}" for name in JOINT_NAMES)
COMMAND_NAMES = ("command_vx", "command_vy", "command_yaw_rate")
N_STATE = len(STATE_NAMES)

# Observation bounds and plausible readings (sensor monitor).
POSITION_BOUND_M = 1e4
HEIGHT_BOUNDS_M = (-1.0, 5.0)
ANGULAR_SPEED_BOUND = 50.0  # rad/s
LINEAR_SPEED_BOUND = 20.0  # m/s
JOINT_MARGIN_RAD = 0.2
JOINT_LIMIT_TOLERANCE_RAD = 0.05
NOISE_TOLERANCE = 8.0  # a change of up to this many observation noise std is always plausible

TASK = Task(
    cost_q=(10.0, 10.0, 1.0), cost_r=(0.001,) * N_JOINTS,
    error_names=("vx_error", "vy_error", "yaw_rate_error"),
    metric_names=("velocity_error_mps", "yaw_rate_error_radps", "fell", "distance_m", "cost_of_transport",
                  "mean_forward_speed_mps"),
    description="trot at the commanded forward and lateral speed and yaw rate without falling",
    units={"velocity_error_mps": "m/s", "yaw_rate_error_radps": "rad/s", "fell": "", "distance_m": "m",
           "cost_of_transport": "", "mean_forward_speed_mps": "m/s"})

CAMERA_DISTANCE_M = 1.1
CAMERA_YAW_DEG, CAMERA_PITCH_DEG = 40.0, -25.0
CAMERA_FOV_DEG = 50.0


class QuadrupedTrotEnv(BulletRobotEnv):
    """Make the A1 walk at a commanded base velocity (forward, lateral, yaw rate) without falling.

    A `BulletRobotEnv` (the robot contract of `neuroctl.envs.robot`) and a `LeggedRobot`. The plant: see
    the module docstring. One `step()` is one control period (`control_period_s`, 1-10 physics substeps
    of 1 ms); the torques are held over it and re-applied at every substep (PyBullet's default velocity
    motors are off).

    Action: Box(-1, 1, (12,)), float32, joint order `joint_names` (FR, FL, RR, RL; hip, upper, lower):
    torque `action[i] * joint_torque_limits_nm[i]` (20, 55, 55 N m per leg), clipped to [-1, 1]; a
    non-finite action applies no torque and is counted in `nonfinite_actions`.

    Observation (float32, 39): the base [roll, pitch, yaw (rad, ZYX Euler of the trunk frame), px, py, pz
    (m, world, the trunk frame's origin), wx, wy, wz (rad/s, world), vx, vy, vz (m/s, world, of the
    origin)], q (12, rad), qd (12, rad/s) and the current command [vx (m/s, forward in the heading
    frame), vy (m/s, to the left), yaw rate (rad/s)]. Noise and faults as in `BulletRobotEnv` (on every
    component). Bounds: angles +-pi (pitch +-pi/2), px, py +-1e4 m, pz [-1, 5] m, angular speeds +-50
    rad/s, linear +-20 m/s, q within the joint limits +-0.2 rad, qd +-100 rad/s (PyBullet's clamp), the
    command within +-(2 m/s, 1 m/s, 2 rad/s). Plausible readings (`sensors`): the same bounds, q within
    the joint limits +-0.05 rad, roll, pitch, position and q changing at most at the bound speeds (yaw,
    which wraps at +-pi, velocities and the command, which jumps, unchecked); no stale check.
    The state (model coordinates, `state`) is the observation's first 36 components without noise.

    Commands: the episode is cut into segments of `command_segment_s` (default 2.5 s); each segment's
    command is drawn uniformly in [command_low, command_high] (default vx in [0, 0.6] m/s, vy in
    [-0.2, 0.2] m/s, yaw rate in [-0.5, 0.5] rad/s) from the reset's seed (a generator of its own, so
    observation noise does not change the sequence); `command` fixes it instead (e.g. [0.5, 0, 0]).
    During the first `command_ramp_s` (default 1 s) the command is scaled by t / command_ramp_s (a ramp
    from standing). `commands` holds the segments drawn so far (more are drawn as the episode reaches
    them).

    Initial state, from the reset's seed: the standing pose (hip 0, thigh 0.9, knee -1.8 rad) plus a
    uniform perturbation of +-`initial_spread_rad` (default 0.03) per joint and of roll, pitch and yaw,
    at rest, at the height that puts the lowest toe 1 mm above the floor, at the origin.

    Reward: +1 per step while not fallen minus the planar velocity error (m/s, true state, heading
    frame); with `reward="task_cost"` minus the task cost of the step. Termination: a fall, when the base
    origin is lower than 0.15 m (it stands at 0.27 m) or |roll| or |pitch| exceeds 0.8 rad (true state;
    `end_reason` "fell"), or a non-finite state ("nonfinite_state"). Truncation: after `episode_s`
    (default 10000 control periods, 10 s at 1 ms), `end_reason` "time_limit", `is_success` True.
    info: `state`, `command` (N m), `task_cost` as in `BulletRobotEnv`.

    Task (`task`): the tracking error is [vx, vy, yaw rate] of the base minus the command, vx and vy in
    the heading frame (the world velocity rotated by -yaw), weighted by cost_q = (10, 10, 1), the
    normalised torques by cost_r = 0.001 each. `reference(out)` is the command (3). Task metrics
    (`task_metrics`, from the logged observations and actions): `velocity_error_mps` (RMS over the ticks
    of the planar velocity error's norm), `yaw_rate_error_radps` (RMS), `fell` (the episode ended by a
    fall, or a logged observation is beyond the fall limits), `distance_m` (the horizontal path of the
    base sampled every 0.1 s), `cost_of_transport` (sum over ticks and joints of |tau qd| dt divided by
    m g distance_m: the mechanical work of the joints, positive and negative alike, per weight and
    distance; None below 1 cm of distance) and `mean_forward_speed_mps` (of the heading frame).

    Legged robot (`LeggedRobot`): `body_mass_kg` 12.458 kg (the URDF's masses); `body_inertia_kgm2` the
    whole robot's inertia about its centre of mass at the standing pose in the base frame (every link's
    mass and inertia placed by PyBullet's forward kinematics; checked against PyBullet's floating-base
    mass matrix): about [[0.143, 0, -0.010], [0, 0.389, 0], [-0.010, 0, 0.421]] kg m^2; `com_offset_m`
    (an addition to the protocol) that centre of mass in the base frame, about (-0.006, 0.001, -0.019) m;
    `hip_offsets_m` the hip (abduction) joints, (+-0.183, -+0.047, 0) m; `nominal_joint_positions` the
    standing pose; `standing_height_m` 0.2686 m, the base origin's height at the standing pose with the
    toes on the floor (a joint PD with kp 60 N m/rad holds it at about 0.256 m); `joint_lower_rad`,
    `joint_upper_rad` the joint limits. `leg_kinematics` is analytic (the URDF's offsets, a numba
    kernel): a pure function of the joint angles, matching PyBullet's forward kinematics and
    calculateJacobian. `foot_contacts` asks PyBullet for toe-floor contacts now.

    Pushes: a horizontal force on the trunk's centre of mass, to the trunk's left (the heading frame's
    +y at each physics substep). Frames: 320x240 from TinyRenderer, a camera 1.1 m from the trunk
    following it (aimed at the trunk's centre of mass).

    Keyword arguments:
        control_period_s: seconds per `step()`, a multiple of 0.001 s in [0.001, 0.01]. Default 0.001.
        command: None (the seeded sequence) or a fixed [vx, vy, yaw_rate] within +-(2, 1, 2). Default None.
        command_low, command_high: the sequence's ranges, [vx, vy, yaw_rate] each within +-(2, 1, 2),
            low <= high. Defaults (0, -0.2, -0.5) and (0.6, 0.2, 0.5).
        command_segment_s: seconds per command segment, in (0, 1e6]. Default 2.5.
        command_ramp_s: the initial ramp's duration, in [0, 1e6] s (0: none). Default 1.0.
        friction: the toe-floor Coulomb friction coefficient, in (0, 2]. Default 0.9.
        initial_spread_rad: the initial perturbation's half width, in [0, 0.2] rad. Default 0.03.
        observation_noise_std, pushes, faults, render_mode, episode_s, reward: as in `BulletRobotEnv`.
    """

    push_description = "push on the trunk (horizontal, to its left)"

    def __init__(
        self,
        control_period_s: float = 0.001,
        command: Sequence[float] | None = None,
        command_low: Sequence[float] = COMMAND_LOW,
        command_high: Sequence[float] = COMMAND_HIGH,
        command_segment_s: float = 2.5,
        command_ramp_s: float = 1.0,
        friction: float = FRICTION,
        initial_spread_rad: float = 0.03,
        observation_noise_std: float = 0.0,
        pushes: Sequence[Mapping[str, float]] = (),
        faults: Sequence[Mapping[str, Any]] = (),
        render_mode: str | None = None,
        episode_s: float | None = None,
        reward: str = "default",
    ) -> None:
        self.fixed_command = None if command is None else _check_command("command", command)
        self.command_low = _check_command("command_low", command_low)
        self.command_high = _check_command("command_high", command_high)
        if np.any(self.command_low > self.command_high):
            raise invalid("command_high", "must be >= command_low in every component", list(command_high))
        self.command_segment_s = in_range("command_segment_s", command_segment_s, "a duration", 0.0, MAX_SEGMENT_S,
                                          "s", open_low=True)
        self.command_ramp_s = in_range("command_ramp_s", command_ramp_s, "a duration", 0.0, MAX_SEGMENT_S, "s")
        self.friction = in_range("friction", friction, "a friction coefficient", 0.0, MAX_FRICTION, open_low=True)
        self.initial_spread_rad = in_range("initial_spread_rad", initial_spread_rad, "a half width", 0.0,
                                           MAX_INITIAL_SPREAD_RAD, "rad")
        noise_std = check_noise_std(observation_noise_std)
        geometry = _urdf_leg_geometry()
        self.joint_names = JOINT_NAMES
        self.foot_names = FOOT_NAMES
        self.nominal_joint_positions = NOMINAL_JOINT_POSITIONS.copy()
        self.hip_offsets_m = geometry[0].copy()
        self._geometry = geometry  # hip, shoulder, thigh, calf offsets (4, 3) each, m

        self.joint_lower_rad, self.joint_upper_rad, self.joint_torque_limits_nm = _urdf_joint_limits()
        actuators = tuple(Actuator(f"tau_{name}", "N m", float(limit), f"{name.replace('_', ' ')} torque")
                          for name, limit in zip(JOINT_NAMES, self.joint_torque_limits_nm))
        low, high = self._observation_bounds()
        super().__init__(
            physics_period_s=PHYSICS_PERIOD_S, control_period_s=control_period_s, max_substeps=MAX_SUBSTEPS,
            sensors=self._sensors(low, high, noise_std), actuators=actuators, state_names=STATE_NAMES,
            observation_low=low, observation_high=high, observation_noise_std=noise_std, pushes=pushes,
            faults=faults, render_mode=render_mode, default_episode_steps=EPISODE_STEPS, episode_s=episode_s,
            reward=reward)
        client = self.scene.client_id
        self._floor, self._body = _load_scene(client)
        index = _joint_indices(self._body, client)
        self._joints = [index[name] for name in JOINT_NAMES]
        self._toes = [index[f"{leg}_toe_fixed"] for leg in FOOT_NAMES]  # a link's index is its parent joint's
        pybullet.changeDynamics(self._floor, -1, lateralFriction=1.0, physicsClientId=client)
        for link in range(-1, pybullet.getNumJoints(self._body, physicsClientId=client)):
            pybullet.changeDynamics(self._body, link, linearDamping=0.0, angularDamping=0.0, physicsClientId=client)
        for toe in self._toes:
            pybullet.changeDynamics(self._body, toe, lateralFriction=self.friction, physicsClientId=client)
        self.scene.disable_joint_motors(self._body, self._joints)
        base = pybullet.getDynamicsInfo(self._body, -1, physicsClientId=client)
        self._base_com_offset = np.array(base[3])  # the trunk's centre of mass in the trunk frame
        self._base_in_trunk = (tuple(base[3]), tuple(base[4]))  # PyBullet's base frame in the trunk frame
        self._trunk_in_base = pybullet.invertTransform(*self._base_in_trunk)
        self.body_mass_kg = float(sum(pybullet.getDynamicsInfo(self._body, link, physicsClientId=client)[0]
                                      for link in range(-1, pybullet.getNumJoints(self._body, physicsClientId=client))))
        self.standing_height_m = self._standing_height()
        self.com_offset_m, self.body_inertia_kgm2 = self._standing_inertia()

        self.task = TASK
        self._feet = np.zeros((4, 3))
        self._jacobians = np.zeros((4, 3, 3))
        self._command_now = np.zeros(3)
        self._command_substep = -1  # the substep `_command_now` belongs to
        self._velocity_error = np.zeros(3)
        self._finite = True  # whether the true state is finite
        self._command_rng = np.random.default_rng(0)
        self._segments: list[np.ndarray] = []

    # ---- the legged robot (LeggedRobot) ----

    def base_state(self, observation: np.ndarray, out: np.ndarray) -> None:
        """[roll, pitch, yaw, px, py, pz, wx, wy, wz, vx, vy, vz] (rad, m, rad/s, m/s; world frame) of an
        observation into `out` (12)."""
        out[:] = observation[OBS_BASE]

    def joint_state(self, observation: np.ndarray, q_out: np.ndarray, qd_out: np.ndarray) -> None:
        """q (12, rad) and qd (12, rad/s) of an observation, in `joint_names` order."""
        q_out[:] = observation[OBS_Q]
        qd_out[:] = observation[OBS_QD]

    def leg_kinematics(self, q: np.ndarray, foot_positions_out: np.ndarray, jacobians_out: np.ndarray) -> None:
        """Each foot's (toe centre's) position in the base frame relative to its origin (4, 3, m) and its
        Jacobian with respect to the leg's (hip, upper, lower) angles (4, 3, 3, m/rad), at joint angles q
        (12): foot = hip + Rx(q_hip) (shoulder + Ry(q_upper) (thigh + Ry(q_lower) calf)), the offsets
        from the URDF's joint origins (hip (+-0.183, +-0.047, 0), shoulder (0, +-0.08505, 0), thigh and
        calf (0, 0, -0.2) m)."""
        hip, shoulder, thigh, calf = self._geometry
        _leg_kinematics(np.asarray(q, dtype=np.float64), hip, shoulder, thigh, calf, foot_positions_out,
                        jacobians_out)

    def command(self, out: np.ndarray) -> None:
        """The commanded base velocity now [vx (m/s, forward), vy (m/s, left), yaw rate (rad/s)] (3)."""
        out[:] = self._command_at(self.substep)

    def foot_contacts(self, out: np.ndarray) -> None:
        """1.0 for each foot (FR, FL, RR, RL) whose toe touches the floor now (PyBullet's contacts), else 0."""
        client = self.scene.client_id
        for i, toe in enumerate(self._toes):
            touching = pybullet.getContactPoints(self._body, self._floor, linkIndexA=toe, physicsClientId=client)
            out[i] = 1.0 if touching else 0.0

    @property
    def commands(self) -> np.ndarray:
        """The command of each segment drawn so far this episode (n, 3), before the ramp (a copy)."""
        return np.array(self._segments).reshape(-1, 3)

    # ---- the task ----

    def reference(self, out: np.ndarray) -> None:
        """The set point: the command now (`command`)."""
        self.command(out)

    def tracking_error(self, observation: np.ndarray, out: np.ndarray) -> None:
        """[vx, vy, yaw rate] minus the observed command, vx and vy in the heading frame."""
        _velocity_error(observation, observation[OBS_COMMAND], out)

    def task_metrics(self, trajectory: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Figures of a logged episode (see the class docstring), from `controller_observation`, `time_s`
        and `action`."""
        observation = np.asarray(trajectory["controller_observation"], dtype=np.float64)
        time_s = np.asarray(trajectory["time_s"], dtype=np.float64)
        action = np.asarray(trajectory["action"], dtype=np.float64)
        n = len(observation)
        fell = bool(n and self.end_reason == "fell" and n == self.steps) or bool(n and np.any(
            (observation[:, 5] < FALL_HEIGHT_M) | (np.abs(observation[:, 0]) > FALL_TILT_RAD)
            | (np.abs(observation[:, 1]) > FALL_TILT_RAD)))
        if n == 0:
            return {name: None for name in TASK.metric_names} | {"fell": fell}
        yaw, vx, vy = observation[:, 2], observation[:, 9], observation[:, 10]
        forward = np.cos(yaw) * vx + np.sin(yaw) * vy
        lateral = -np.sin(yaw) * vx + np.cos(yaw) * vy
        planar_error = np.hypot(forward - observation[:, 36], lateral - observation[:, 37])
        yaw_rate_error = observation[:, 8] - observation[:, 38]
        every = max(1, round(DISTANCE_SAMPLE_S / self.control_period_s))
        samples = observation[list(range(0, n, every)) + ([n - 1] if (n - 1) % every else []), 3:5]
        distance = float(np.sum(np.linalg.norm(np.diff(samples, axis=0), axis=1)))
        dt = np.diff(time_s, append=time_s[-1] + self.control_period_s)  # each tick's duration
        torque = np.clip(np.nan_to_num(action, nan=0.0), -1.0, 1.0) * self.joint_torque_limits_nm
        work = float(np.sum(np.abs(torque * observation[:, OBS_QD]) * dt[:, None]))
        cot = work / (self.body_mass_kg * STANDARD_GRAVITY_M_S2 * distance) if distance >= MIN_COT_DISTANCE_M else None
        return {"velocity_error_mps": _finite_or_none(float(np.sqrt(np.mean(planar_error**2)))),
                "yaw_rate_error_radps": _finite_or_none(float(np.sqrt(np.mean(yaw_rate_error**2)))),
                "fell": fell, "distance_m": _finite_or_none(distance),
                "cost_of_transport": None if cot is None else _finite_or_none(cot),
                "mean_forward_speed_mps": _finite_or_none(float(np.mean(forward)))}

    def state_of_observation(self, observation: np.ndarray) -> np.ndarray:
        """The state a frame shows: the observation's first 36 components."""
        return observation[:N_STATE]

    def operating_point(self) -> tuple[np.ndarray, np.ndarray]:
        """The standing pose at rest at the standing height, zero torque (not an equilibrium: a legged
        robot's model belongs to its controller, e.g. centroidal dynamics)."""
        x_op = np.zeros(N_STATE)
        x_op[5] = self.standing_height_m
        x_op[OBS_Q] = NOMINAL_JOINT_POSITIONS
        return x_op, np.zeros(N_JOINTS)

    # ---- hooks of BulletRobotEnv ----

    def _apply_command(self, command: np.ndarray) -> None:
        pybullet.setJointMotorControlArray(self._body, self._joints, pybullet.TORQUE_CONTROL, forces=command,
                                           physicsClientId=self.scene.client_id)

    def _apply_push(self, force_n: float, client: int) -> None:
        """`force_n` N, horizontal, to the trunk's left (the heading frame's +y), at the trunk's centre of mass."""
        position, orientation = pybullet.getBasePositionAndOrientation(self._body, physicsClientId=client)
        x, y, z, w = orientation  # the heading of the trunk's x axis, from the quaternion
        heading = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        force = (-force_n * math.sin(heading), force_n * math.cos(heading), 0.0)
        pybullet.applyExternalForce(self._body, -1, force, position, pybullet.WORLD_FRAME, physicsClientId=client)

    def _read_state(self, out: np.ndarray) -> None:
        """The true state (see the class docstring) into `out`: PyBullet's base (the trunk's centre of mass
        and principal axes) moved to the trunk frame, v_origin = v_com - w x (com - origin)."""
        client = self.scene.client_id
        com, orientation = pybullet.getBasePositionAndOrientation(self._body, physicsClientId=client)
        (vx, vy, vz), (wx, wy, wz) = pybullet.getBaseVelocity(self._body, physicsClientId=client)
        origin, trunk = pybullet.multiplyTransforms(com, orientation, *self._trunk_in_base)
        dx, dy, dz = com[0] - origin[0], com[1] - origin[1], com[2] - origin[2]
        joints = pybullet.getJointStates(self._body, self._joints, physicsClientId=client)
        values = [*pybullet.getEulerFromQuaternion(trunk), *origin, wx, wy, wz,
                  vx - (wy * dz - wz * dy), vy - (wz * dx - wx * dz), vz - (wx * dy - wy * dx),
                  *[joint[0] for joint in joints], *[joint[1] for joint in joints]]
        out[:] = values
        if out is self.state:
            self._finite = math.isfinite(sum(values))  # inf - inf is NaN: any non-finite value shows

    def _set_state(self, state: np.ndarray) -> None:
        client = self.scene.client_id
        trunk = pybullet.getQuaternionFromEuler(state[0:3].tolist())
        com, orientation = pybullet.multiplyTransforms(state[3:6].tolist(), trunk, *self._base_in_trunk)
        rotation = np.array(pybullet.getMatrixFromQuaternion(trunk)).reshape(3, 3)
        omega = state[6:9]
        v_com = state[9:12] + np.cross(omega, rotation @ self._base_com_offset)
        pybullet.resetBasePositionAndOrientation(self._body, com, orientation, physicsClientId=client)
        pybullet.resetBaseVelocity(self._body, v_com.tolist(), omega.tolist(), physicsClientId=client)
        for i, joint in enumerate(self._joints):
            pybullet.resetJointState(self._body, joint, state[12 + i], state[24 + i], physicsClientId=client)

    def _observe(self, state: np.ndarray, out: np.ndarray) -> None:
        out[:N_STATE] = state
        out[OBS_COMMAND] = self._command_at(self.substep)

    def _sample_initial_state(self) -> np.ndarray:
        """The episode's command generator and the initial state (see the class docstring)."""
        rng = self.np_random
        self._command_rng = np.random.default_rng(int(rng.integers(2**63)))
        self._segments = []
        self._command_substep = -1
        spread = self.initial_spread_rad
        state = np.zeros(N_STATE)
        state[0:3] = rng.uniform(-spread, spread, size=3)
        state[OBS_Q] = NOMINAL_JOINT_POSITIONS + rng.uniform(-spread, spread, size=N_JOINTS)
        state[OBS_Q] = np.clip(state[OBS_Q], self.joint_lower_rad, self.joint_upper_rad)
        rotation = np.array(pybullet.getMatrixFromQuaternion(pybullet.getQuaternionFromEuler(state[0:3].tolist())))
        self.leg_kinematics(state[OBS_Q], self._feet, self._jacobians)
        lowest = np.min(self._feet @ rotation.reshape(3, 3)[2])  # the toes' heights relative to the origin
        state[5] = TOE_RADIUS_M + INITIAL_CLEARANCE_M - lowest
        return state

    def _after_step(self) -> tuple[float, bool]:
        """+1 minus the planar velocity error (m/s) unless fallen; terminated by a fall or a non-finite state."""
        state = self.state
        if not self._finite:
            return 0.0, True
        fallen = state[5] < FALL_HEIGHT_M or abs(state[0]) > FALL_TILT_RAD or abs(state[1]) > FALL_TILT_RAD
        if fallen or self.terminated:
            return 0.0, bool(fallen)
        self._state_error(state, self._velocity_error)
        return 1.0 - math.hypot(self._velocity_error[0], self._velocity_error[1]), False

    def _end_reason(self) -> str:
        return "fell" if self._finite else "nonfinite_state"

    def _state_error(self, state: np.ndarray, out: np.ndarray) -> None:
        """The tracking error of the true state (as `tracking_error` of its noise-free observation)."""
        _velocity_error(state, self._command_at(self.substep), out)

    def _camera(self) -> tuple[Any, Any]:
        """A camera following the trunk (aimed at its centre of mass), 1.1 m away, yaw 40 and pitch -25 degrees."""
        position = pybullet.getBasePositionAndOrientation(self._body, physicsClientId=self.scene.client_id)[0]
        view = pybullet.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=position, distance=CAMERA_DISTANCE_M, yaw=CAMERA_YAW_DEG, pitch=CAMERA_PITCH_DEG,
            roll=0.0, upAxisIndex=2)
        projection = pybullet.computeProjectionMatrixFOV(
            fov=CAMERA_FOV_DEG, aspect=FRAME_WIDTH / FRAME_HEIGHT, nearVal=0.05, farVal=20.0)
        return view, projection

    # ---- internals ----

    def _command_at(self, substep: int) -> np.ndarray:
        """The command of the physics substep `substep` after the reset (the segment's, ramped); computed
        once per substep (the buffer it returns holds it until the next)."""
        command = self._command_now
        if substep == self._command_substep:
            return command
        time_s = substep * PHYSICS_PERIOD_S
        segment = int(time_s / self.command_segment_s + 1e-9)
        while len(self._segments) <= segment:
            self._segments.append(self.fixed_command if self.fixed_command is not None
                                  else self._command_rng.uniform(self.command_low, self.command_high))
        command[:] = self._segments[segment]
        if time_s < self.command_ramp_s:
            command *= time_s / self.command_ramp_s
        self._command_substep = substep
        return command

    def _standing_height(self) -> float:
        """The base origin's height at the standing pose, level, with the lowest toe sphere on the floor."""
        feet, jacobians = np.zeros((4, 3)), np.zeros((4, 3, 3))
        self.leg_kinematics(NOMINAL_JOINT_POSITIONS, feet, jacobians)
        return float(TOE_RADIUS_M - np.min(feet[:, 2]))

    def _standing_inertia(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole robot's centre of mass (base frame, m) and inertia about it (base frame, kg m^2) at
        the standing pose: every link's mass and principal inertia placed by PyBullet's forward kinematics
        (base level at the origin), sum_i R_i diag(I_i) R_i' + m_i (|r_i - c|^2 E - (r_i - c)(r_i - c)')."""
        client = self.scene.client_id
        with self.saved_state():
            state = np.zeros(N_STATE)
            state[OBS_Q] = NOMINAL_JOINT_POSITIONS
            self._set_state(state)
            masses, positions, inertias = [], [], []
            for link in range(-1, pybullet.getNumJoints(self._body, physicsClientId=client)):
                info = pybullet.getDynamicsInfo(self._body, link, physicsClientId=client)
                if link == -1:
                    position, orientation = pybullet.getBasePositionAndOrientation(self._body, physicsClientId=client)
                else:
                    position, orientation = pybullet.getLinkState(self._body, link, computeForwardKinematics=1,
                                                                  physicsClientId=client)[:2]
                rotation = np.array(pybullet.getMatrixFromQuaternion(orientation)).reshape(3, 3)
                masses.append(info[0])
                positions.append(position)
                inertias.append(rotation @ np.diag(info[2]) @ rotation.T)
        masses_kg, positions_m = np.array(masses), np.array(positions)
        com = masses_kg @ positions_m / masses_kg.sum()
        inertia = np.zeros((3, 3))
        for mass, position, link_inertia in zip(masses_kg, positions_m, inertias):
            r = position - com
            inertia += link_inertia + mass * (r @ r * np.eye(3) - np.outer(r, r))
        return com, 0.5 * (inertia + inertia.T)

    def _observation_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of the observation (see the class docstring)."""
        low = np.concatenate([[-math.pi, -math.pi / 2, -math.pi, -POSITION_BOUND_M, -POSITION_BOUND_M,
                               HEIGHT_BOUNDS_M[0]], [-ANGULAR_SPEED_BOUND] * 3, [-LINEAR_SPEED_BOUND] * 3,
                              self.joint_lower_rad - JOINT_MARGIN_RAD, [-MAX_JOINT_SPEED] * N_JOINTS, -COMMAND_LIMITS])
        high = np.concatenate([[math.pi, math.pi / 2, math.pi, POSITION_BOUND_M, POSITION_BOUND_M,
                                HEIGHT_BOUNDS_M[1]], [ANGULAR_SPEED_BOUND] * 3, [LINEAR_SPEED_BOUND] * 3,
                               self.joint_upper_rad + JOINT_MARGIN_RAD, [MAX_JOINT_SPEED] * N_JOINTS, COMMAND_LIMITS])
        return low, high

    def _sensors(self, low: np.ndarray, high: np.ndarray, noise_std: float) -> tuple[Sensor, ...]:
        """Plausible readings per sensor while the task runs (see the class docstring)."""
        tolerance = NOISE_TOLERANCE * noise_std
        units = ("rad",) * 3 + ("m",) * 3 + ("rad/s",) * 3 + ("m/s",) * 3
        # no rate check on yaw: it wraps from pi to -pi while turning (the monitor knows no periodic readings)
        rates = (ANGULAR_SPEED_BOUND, ANGULAR_SPEED_BOUND, math.inf) + (LINEAR_SPEED_BOUND,) * 3 + (math.inf,) * 6
        descriptions = ("base roll", "base pitch", "base yaw", "base x", "base y", "base height",
                        "base angular velocity x", "base angular velocity y", "base angular velocity z",
                        "base velocity x", "base velocity y", "base velocity z")
        sensors = [Sensor(name, unit, low=low[i], high=high[i], max_rate_per_s=rates[i], tolerance=tolerance,
                          periodic=name in ("roll", "yaw"), description=descriptions[i])
                   for i, (name, unit) in enumerate(zip(BASE_NAMES, units))]
        for i, name in enumerate(JOINT_NAMES):
            sensors.append(Sensor(f"q_{name}", "rad", low=self.joint_lower_rad[i] - JOINT_LIMIT_TOLERANCE_RAD,
                                  high=self.joint_upper_rad[i] + JOINT_LIMIT_TOLERANCE_RAD,
                                  max_rate_per_s=MAX_JOINT_SPEED, tolerance=tolerance,
                                  description=f"{name.replace('_', ' ')} position"))
        for name in JOINT_NAMES:
            sensors.append(Sensor(f"qd_{name}", "rad/s", low=-MAX_JOINT_SPEED, high=MAX_JOINT_SPEED,
                                  tolerance=tolerance, description=f"{name.replace('_', ' ')} velocity"))
        for i, (name, unit) in enumerate(zip(COMMAND_NAMES, ("m/s", "m/s", "rad/s"))):
            sensors.append(Sensor(name, unit, low=-COMMAND_LIMITS[i], high=COMMAND_LIMITS[i], tolerance=tolerance,
                                  description=name.replace("_", " ")))
        return tuple(sensors)


@cached_njit
def _leg_kinematics(q, hip, shoulder, thigh, calf, feet, jacobians):
    """Toe positions (4, 3) and d(toe)/d(leg angles) (4, 3, 3) in the base frame: for leg i,
    toe = hip + Rx(q0) (shoulder + Ry(q1) (thigh + Ry(q2) calf)); columns Rx(q0) (e_x x w),
    Rx(q0) (e_y x Ry(q1) b), Rx(q0) Ry(q1) (e_y x Ry(q2) calf) with w, b the partial sums."""
    for leg in range(4):
        c0, s0 = math.cos(q[3 * leg]), math.sin(q[3 * leg])
        c1, s1 = math.cos(q[3 * leg + 1]), math.sin(q[3 * leg + 1])
        c2, s2 = math.cos(q[3 * leg + 2]), math.sin(q[3 * leg + 2])
        # a = Ry(q2) calf
        ax = c2 * calf[leg, 0] + s2 * calf[leg, 2]
        ay = calf[leg, 1]
        az = -s2 * calf[leg, 0] + c2 * calf[leg, 2]
        # b = thigh + a; c = Ry(q1) b; w = shoulder + c
        bx, by, bz = thigh[leg, 0] + ax, thigh[leg, 1] + ay, thigh[leg, 2] + az
        cx, cy, cz = c1 * bx + s1 * bz, by, -s1 * bx + c1 * bz
        wx, wy, wz = shoulder[leg, 0] + cx, shoulder[leg, 1] + cy, shoulder[leg, 2] + cz
        feet[leg, 0] = hip[leg, 0] + wx
        feet[leg, 1] = hip[leg, 1] + c0 * wy - s0 * wz
        feet[leg, 2] = hip[leg, 2] + s0 * wy + c0 * wz
        # column 0: Rx(q0) (e_x x w) = Rx(q0) (0, -wz, wy)
        jacobians[leg, 0, 0] = 0.0
        jacobians[leg, 1, 0] = -c0 * wz - s0 * wy
        jacobians[leg, 2, 0] = -s0 * wz + c0 * wy
        # column 1: Rx(q0) (e_y x c) = Rx(q0) (cz, 0, -cx)
        jacobians[leg, 0, 1] = cz
        jacobians[leg, 1, 1] = s0 * cx
        jacobians[leg, 2, 1] = -c0 * cx
        # column 2: Rx(q0) Ry(q1) (e_y x a) = Rx(q0) Ry(q1) (az, 0, -ax)
        dx, dz = c1 * az - s1 * ax, -s1 * az - c1 * ax
        jacobians[leg, 0, 2] = dx
        jacobians[leg, 1, 2] = -s0 * dz
        jacobians[leg, 2, 2] = c0 * dz


def _load_scene(client: int) -> tuple[int, int]:
    """Load the floor and the A1 (floating base, the URDF's inertias) into the server `client`."""
    data = pybullet_data.getDataPath()
    floor = pybullet.loadURDF(os.path.join(data, FLOOR_URDF), physicsClientId=client)
    body = pybullet.loadURDF(os.path.join(data, URDF), useFixedBase=False, flags=pybullet.URDF_USE_INERTIA_FROM_FILE,
                             physicsClientId=client)
    return floor, body


def _joint_indices(body: int, client: int) -> dict[str, int]:
    """PyBullet's joint index of every joint of `body`, by the URDF's name."""
    return {pybullet.getJointInfo(body, j, physicsClientId=client)[1].decode(): j
            for j in range(pybullet.getNumJoints(body, physicsClientId=client))}


def _urdf_joint_limits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, torque) limits of the 12 joints in `JOINT_NAMES` order, as PyBullet reads the URDF
    (getJointInfo, in a short-lived server of its own: the env's is made by the base class, which needs
    the actuators first)."""
    scene = BulletScene(PHYSICS_PERIOD_S)
    try:
        _, body = _load_scene(scene.client_id)
        index = _joint_indices(body, scene.client_id)
        infos = [pybullet.getJointInfo(body, index[name], physicsClientId=scene.client_id) for name in JOINT_NAMES]
    finally:
        scene.close()
    return tuple(np.array([info[k] for info in infos]) for k in (8, 9, 10))  # type: ignore[return-value]


def _urdf_leg_geometry() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per leg (FR, FL, RR, RL), from the URDF's joint origins (m): the hip joint in the trunk frame, the
    upper joint in the hip frame, the lower joint in the upper frame and the toe in the lower frame.
    The joints' axes and origins' rotations are checked to be what `_leg_kinematics` assumes."""
    root = ElementTree.parse(os.path.join(pybullet_data.getDataPath(), URDF)).getroot()
    joints = {joint.get("name"): joint for joint in root.iter("joint") if joint.find("origin") is not None}
    offsets = np.zeros((4, 4, 3))
    for leg_index, leg in enumerate(FOOT_NAMES):
        names = [f"{leg}_{kind}_joint" for kind in JOINT_KINDS] + [f"{leg}_toe_fixed"]
        for k, name in enumerate(names):
            origin = joints[name].find("origin")
            if any(float(v) != 0.0 for v in origin.get("rpy", "0 0 0").split()):
                raise RuntimeError(f"{URDF}: {name} has a rotated origin; the leg kinematics assume none")
            if k < 3 and tuple(float(v) for v in joints[name].find("axis").get("xyz").split()) != JOINT_AXES[k]:
                raise RuntimeError(f"{URDF}: {name}'s axis is not {JOINT_AXES[k]}")
            offsets[k, leg_index] = [float(v) for v in origin.get("xyz").split()]
    return offsets[0], offsets[1], offsets[2], offsets[3]


def _velocity_error(base: np.ndarray, command: np.ndarray, out: np.ndarray) -> None:
    """[vx, vy, yaw rate] of a base state (or observation) minus `command`: the world velocity rotated
    by -yaw into the heading frame, the world yaw rate."""
    yaw, vx, vy = float(base[2]), float(base[9]), float(base[10])
    cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
    out[0] = cos_yaw * vx + sin_yaw * vy - command[0]
    out[1] = -sin_yaw * vx + cos_yaw * vy - command[1]
    out[2] = base[8] - command[2]


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ---- keyword argument checks: each raises ValueError("<kwarg>: <what is expected>, got <value>") ----


def _check_command(name: str, value: Any) -> np.ndarray:
    """[vx, vy, yaw_rate] within +-COMMAND_LIMITS."""
    vx, vy, wz = COMMAND_LIMITS
    expected = (f"must be [vx, vy, yaw_rate] with |vx| <= {vx:g} m/s, |vy| <= {vy:g} m/s, "
                f"|yaw_rate| <= {wz:g} rad/s")
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != 3:
        raise invalid(name, expected, value)
    command = np.array([real(name, v, expected) for v in value])
    if np.any(np.abs(command) > COMMAND_LIMITS):
        raise invalid(name, expected, value)
    return command
