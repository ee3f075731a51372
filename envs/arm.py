"""`neuroctl/ArmReach-v0`: reach a seeded sequence of targets with the Franka Panda (`pybullet_data`).

The plant as PyBullet simulates it: `franka_panda/panda.urdf`, base fixed at the origin, 7 revolute arm
joints driven by torques (torque limits from the URDF: 87 N m for joints 1-4, 12 N m for joints 5-7),
the two finger joints locked open (a position motor holds each at 0.04 m, its upper limit; they are
not actuated). Gravity 9.81 m/s^2 along -z, physics period 1 ms. What PyBullet really simulates:

- inertias come from the collision meshes, not the URDF's placeholder 0.1 kg m^2 (the masses are the
  URDF's, 18.5 kg in all); the rigid-body model (`mass_matrix`, `bias_torques`) uses the same numbers;
- the URDF has no joint damping or friction (PyBullet reads 0 for both); PyBullet would add link
  damping of 0.04 (linear and angular, velocity-proportional plus quadratic) to every link, which takes
  about 10 % of the kinetic energy per second at 0.5 rad/s. This env sets it to 0, so that the plant is
  exactly the rigid-body model `M(q) qdd + h(q, qd) = tau` (plus the joint limits, which PyBullet
  enforces as constraints, and its 100 rad/s joint speed clamp). Zero torque then means free fall;
- no self-collision and nothing to collide with: the floor drawn in frames is visual only, and so is
  the target sphere.

Optional plant changes the rigid-body model does not know (kwargs `payload_kg`, `payload_offset_m`,
`joint_friction_nm`, `joint_viscous_nms`): a payload rigidly held at the end effector (the URDF's
`panda_grasptarget` link gets its mass, its centre of mass and its inertia, loaded from an edited copy of
the URDF, so PyBullet simulates it as part of the last link: exact rigid attachment, no constraint
softness) and joint friction torques added to the command at every physics substep.

The end effector is the URDF's `panda_grasptarget` link: the point between the fingertips, 0.105 m
beyond the flange (`panda_link8`, where the hand sits) along the hand's axis, 0.212 m from the origin
of link 7.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree

import numpy as np

from neuroctl.envs.bullet import STANDARD_GRAVITY_M_S2, BulletScene, pybullet, pybullet_data  # pybullet's banner silenced there
from neuroctl.envs.bullet_robot import FRAME_HEIGHT, FRAME_WIDTH, BulletRobotEnv, PushSite, check_noise_std
from neuroctl.envs.checks import in_range, invalid, real, ticks
from neuroctl.envs.robot import Actuator, PlantModel, Sensor, Task

PHYSICS_PERIOD_S = 0.001
MAX_SUBSTEPS = 10
URDF = "franka_panda/panda.urdf"
ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
EE_LINK = 11  # panda_grasptarget (a link's index is its parent joint's index)
N_JOINTS = len(ARM_JOINTS)
FINGER_OPENING_M = 0.04  # each finger, its upper limit
FINGER_FORCE_N = 100.0  # the locking motor's maximum force (5x the URDF's effort: it never gives)
READY_POSE_RAD = np.array([0.0, -math.pi / 4, 0.0, -3 * math.pi / 4, 0.0, math.pi / 2, math.pi / 4])
MAX_JOINT_SPEED = 100.0  # PyBullet's joint speed clamp (rad/s)

# An unknown payload at the end effector and joint friction: the plant's, never the model's.
MAX_PAYLOAD_KG = 5.0  # the Panda's rated payload is 3 kg
MAX_PAYLOAD_OFFSET_M = 0.2  # |each component| of the payload's centre of mass from the end-effector point
PAYLOAD_RADIUS_M = 0.04  # the payload's inertia is a solid sphere's of this radius about its centre
MAX_FRICTION_NM = 10.0  # Coulomb friction per joint
MAX_VISCOUS_NMS = 10.0  # viscous friction per joint (N m s/rad)
COULOMB_SMOOTHING_RAD_S = 0.01  # Coulomb friction is -f tanh(qd / this): torque control cannot stick
MAX_LAPS = 1000

# Targets: drawn in front of the robot, then checked reachable by inverse kinematics.
SAMPLE_RADIUS_M = (0.3, 0.7)  # horizontal distance from the base's axis
SAMPLE_AZIMUTH_RAD = (-math.pi / 3, math.pi / 3)  # about +x
SAMPLE_HEIGHT_M = (0.1, 0.7)  # above the table (z = 0, the base's mounting plane)
MIN_TARGET_SPACING_M = 0.15  # a drawn target closer than this to an earlier one is drawn again
TARGET_LOW = np.array([-0.8, -0.8, 0.05])  # explicit targets must lie in this box (and be reachable)
TARGET_HIGH = np.array([0.8, 0.8, 1.0])
IK_TOLERANCE_M = 1e-3  # an IK solution must put the end effector this close to its target
IK_CONVERGED_M = 1e-5  # the damped least squares iteration stops here
IK_ITERATIONS = 200
IK_DAMPING = 0.02  # lambda of the damped least squares step (m)
IK_NULL_GAIN = 0.1  # pull towards the ready pose in the Jacobian's null space, per iteration
IK_LIMIT_MARGIN_RAD = 0.05  # IK solutions stay this far inside the joint limits
MAX_DRAWS = 1000  # draws per target before giving up (never seen: 0-2 redraws are typical)
REACHED_M = 0.01  # "within 1 cm"

MAX_TARGETS = 1000
EPISODE_STEPS = 12000  # the default episode: 6 targets x 2 s at the default 1 ms control period
MAX_HOLD_S = 1000.0
MAX_INITIAL_SPREAD_RAD = 0.5

# Plausible readings while the task runs (sensor monitor) and observation bounds.
JOINT_LIMIT_TOLERANCE_RAD = 0.05  # PyBullet's limits are constraints: a joint may overshoot a little
OBSERVED_JOINT_MARGIN_RAD = 0.2
SPEED_FACTOR = 4.0  # plausible |qd| is this many times the URDF's velocity limit (torque control does
# not enforce those limits; a reading beyond this is far outside any reaching motion)
EE_SPEED_M_S = 10.0
EE_LOW = np.array([-1.2, -1.2, -0.8])  # the reach of the end effector: 1.0 m around the shoulder
EE_HIGH = np.array([1.2, 1.2, 1.45])
NOISE_TOLERANCE = 8.0  # a change of up to this many observation noise std is always plausible

OBS_Q, OBS_QD, OBS_EE, OBS_TARGET = slice(0, 7), slice(7, 14), slice(14, 17), slice(17, 20)
JOINT_NAMES = tuple(f"panda_joint{i}" for i in range(1, 8))
STATE_NAMES = tuple(f"q{i}" for i in range(1, 8)) + tuple(f"qd{i}" for i in range(1, 8))
SENSOR_NAMES = STATE_NAMES + ("ee_x", "ee_y", "ee_z", "target_x", "target_y", "target_z")

TASK = Task(
    cost_q=(1000.0, 1000.0, 1000.0), cost_r=(1.0,) * N_JOINTS,
    error_names=("ee_x_error", "ee_y_error", "ee_z_error"),
    metric_names=("final_distance_m", "time_to_reach_s", "max_torque_fraction", "rms_torque_fraction",
                  "path_length_m", "targets_reached"),
    description="bring the end effector to each target in turn and hold it there",
    units={"final_distance_m": "m", "time_to_reach_s": "s", "max_torque_fraction": "",
           "rms_torque_fraction": "", "path_length_m": "m", "targets_reached": ""})

CAMERA_TARGET = (0.3, 0.0, 0.45)
CAMERA_DISTANCE_M = 1.7
CAMERA_YAW_DEG, CAMERA_PITCH_DEG = 55.0, -20.0
CAMERA_FOV_DEG = 45.0
TARGET_RADIUS_M = 0.025
TARGET_RGBA = (0.9, 0.1, 0.1, 1.0)
FLOOR_RGBA = (0.55, 0.55, 0.6, 1.0)
ARM_RGBA = (0.95, 0.6, 0.2, 1.0)  # links 2, 4 and 6 in orange, the rest the URDF's white


class ArmReachEnv(BulletRobotEnv):
    """Bring the Panda's end effector to a sequence of targets, each held for `target_hold_s`.

    A `BulletRobotEnv` (the robot contract of `neuroctl.envs.robot`) and a `RigidBodyRobot`. The plant:
    see the module docstring. One `step()` is one control period (`control_period_s`, 1-10 physics
    substeps of 1 ms); the torques are held over it and re-applied at every substep.

    Action: Box(-1, 1, (7,)), float32: joint i's torque is `action[i] * joint_torque_limits_nm[i]`
    (87, 87, 87, 87, 12, 12, 12 N m, the URDF's efforts), clipped to [-1, 1]; a non-finite action applies
    no torque and is counted in `nonfinite_actions`.

    Observation (float32, 20): q (7, rad), qd (7, rad/s), the end effector's position (3, m, world frame:
    the point between the fingertips, link `panda_grasptarget`), the current target (3, m). Noise
    (`observation_noise_std`, every component, the target's too) and faults as in `BulletRobotEnv`.
    Bounds: q within the joint limits +-0.2 rad, qd within +-100 rad/s (PyBullet's clamp), the end
    effector within its reach box [-1.2, 1.2] x [-1.2, 1.2] x [-0.8, 1.45] m, the target within the
    target box [-0.8, 0.8] x [-0.8, 0.8] x [0.05, 1.0] m. Plausible readings (`sensors`): q within the
    joint limits +-0.05 rad moving at most 4x the URDF's velocity limit (8.7 rad/s for joints 1-4,
    10.4 for 5-7), |qd| below that too, the end effector in its box moving at most 10 m/s, the target
    in its box (it jumps: no rate check); no stale check (a still arm and a held target are normal).

    Episode: `n_targets` targets, each shown for `target_hold_s`, the sequence visited `laps` times
    (window w = lap * n_targets + i shows target i during [w * target_hold_s, (w + 1) * target_hold_s)
    after the reset; the last one stays after that), so its natural length is
    laps * n_targets * target_hold_s (12 s by default: `max_episode_steps` is 12000, the natural length
    at the default 1 ms control period; with laps > 1 the default episode is the natural length). Targets are drawn from the reset's seed:
    horizontal distance 0.3-0.7 m from the base's axis, azimuth within +-60 degrees of +x, height
    0.1-0.7 m, at least 0.15 m from every earlier target of the episode (else drawn again; counted in
    `spacing_redraws`), and reachable: damped least-squares inverse kinematics from the ready pose
    (pulled towards it in the null space, joints kept 0.05 rad inside their limits) must put the end
    effector within 1 mm of the target by forward kinematics (else drawn again; counted in
    `target_redraws`). The joint solution q* of each target is kept (`target_joint_positions`).
    `targets` fixes the targets instead (the same every episode, checked at construction).
    Initial state: the ready pose (0, -pi/4, 0, -3pi/4, 0, pi/2, pi/4) plus a uniform perturbation of
    +-`initial_spread_rad` per joint, at rest.

    Reward: minus the distance (m) from the end effector to the current target (true state); with
    `reward="task_cost"` minus the task cost of the step (`info["task_cost"]`). Termination: only a
    non-finite state (which PyBullet has not been seen to produce; `end_reason` "nonfinite_state").
    Truncation: the env truncates itself after `episode_s` (default 12000 control periods, the natural
    length at 1 ms; the id registers no TimeLimit), `end_reason` "time_limit". info: `state`,
    `command` (N m), `task_cost` as in `BulletRobotEnv`, `target_index` and `distance_m` (to the current
    target, true state) every step; at the end `is_success`: the end effector within 1 cm of the
    current target.

    Task (`task`): the tracking error is the end effector's position minus the target (3, m, from the
    observation), weighted by cost_q = 1000 each (1 cm of error costs 0.1 per tick), the normalised
    torques by cost_r = 1. `reference(out)` is the joint-space set point [q* of the current target, 0].
    Task metrics (`task_metrics`): per target window, the distance at its last tick and the first time
    (from the window's start) the distance is within 1 cm; reported as medians over the windows
    (`final_distance_m`, `time_to_reach_s`: a window that never gets within 1 cm counts as infinitely
    slow, and the median is None when that is the median), with the lists per window under
    `final_distance_per_target_m` and `time_to_reach_per_target_s` (None: never); `targets_reached`
    (windows ending within 1 cm), `max_torque_fraction` and `rms_torque_fraction` (max and root mean
    square of |action| over the episode and the joints, clipped to 1 as applied; a non-finite action
    counts as 0, as the env applies no torque for it), `path_length_m` (the end effector's path over the
    episode, as observed).

    Rigid-body model (`RigidBodyRobot`): `mass_matrix` and `bias_torques` of the nominal arm from
    PyBullet's model of the same URDF (fingers locked), no payload and no friction, whatever the plant
    carries: with a payload the model lives in a second PyBullet server holding the nominal arm (never
    stepped), so M(q) and h(q, qd) stay the nominal arm's while the simulated plant carries the payload.
    `payload_gravity_torques(q, mass_kg, offset_m, out)` gives J(q)^T m g of a point mass at an offset
    from the end effector (the simulator's Jacobian of the nominal model), the torque that holds such a
    payload still: a controller that "knows the payload" adds it. `linear_model()` defaults to the ready pose at rest with the
    gravity-compensating torque, an equilibrium.

    Pushes: a horizontal force along world +y (sideways to the reach) at the end effector.

    Keyword arguments:
        control_period_s: seconds per `step()`, a multiple of 0.001 s in [0.001, 0.01]. Default 0.001.
        n_targets: targets per episode, an integer in [1, 1000]. Default 6 (or len(targets)).
        target_hold_s: seconds each target is shown, a multiple of 0.001 s in [0.001, 1000].
            Default 2.0.
        targets: None (draw them from the seed) or a list of [x, y, z] (m, world frame) in the target
            box, each reachable; a ValueError naming targets[i] otherwise. Default None.
        initial_spread_rad: the initial joint perturbation's half width, in [0, 0.5] rad. Default 0.1.
        laps: how many times the target sequence is visited, in order, an integer in [1, 1000].
            Default 1.
        payload_kg: a payload held at the end effector, unknown to the rigid-body model, in [0, 5] kg
            (the Panda's rated payload is 3 kg). Default 0.
        payload_offset_m: its centre of mass from the end-effector point in the end effector's frame
            (the hand's axes: z along the fingers), [x, y, z] each in [-0.2, 0.2] m. Default [0, 0, 0].
            Its inertia: a solid sphere of radius 0.04 m about that point.
        joint_friction_nm: Coulomb friction per joint, -f tanh(qd / 0.01 rad/s) (smoothed: a torque
            cannot make a joint stick), N m in [0, 10], one number for every joint or 7. Default 0.
        joint_viscous_nms: viscous friction per joint, -b qd, N m s/rad in [0, 10], one number or 7.
            Default 0. Friction torques are added to the command at every physics substep (beyond the
            torque limits: they are the plant's) and are unknown to the model.
        observation_noise_std, pushes, faults, render_mode, episode_s, reward: as in `BulletRobotEnv`.
    """

    push_description = "push on the end effector (+y)"

    def __init__(
        self,
        control_period_s: float = 0.001,
        n_targets: int | None = None,
        target_hold_s: float = 2.0,
        targets: Sequence[Sequence[float]] | None = None,
        initial_spread_rad: float = 0.1,
        laps: int = 1,
        payload_kg: float = 0.0,
        payload_offset_m: Sequence[float] = (0.0, 0.0, 0.0),
        joint_friction_nm: float | Sequence[float] = 0.0,
        joint_viscous_nms: float | Sequence[float] = 0.0,
        observation_noise_std: float = 0.0,
        pushes: Sequence[Mapping[str, float]] = (),
        faults: Sequence[Mapping[str, Any]] = (),
        render_mode: str | None = None,
        episode_s: float | None = None,
        reward: str = "default",
    ) -> None:
        explicit = _check_targets(targets)
        self.n_targets = _check_n_targets(n_targets, explicit)
        self.target_hold_s = _check_hold(target_hold_s)
        self.initial_spread_rad = in_range("initial_spread_rad", initial_spread_rad, "a half width", 0.0,
                                           MAX_INITIAL_SPREAD_RAD, "rad")
        self.laps = _check_laps(laps)
        self.payload_kg = in_range("payload_kg", payload_kg, "a mass", 0.0, MAX_PAYLOAD_KG, "kg")
        self.payload_offset_m = _check_offset(payload_offset_m)
        self.joint_friction_nm = _check_per_joint("joint_friction_nm", joint_friction_nm, MAX_FRICTION_NM, "N m")
        self.joint_viscous_nms = _check_per_joint("joint_viscous_nms", joint_viscous_nms, MAX_VISCOUS_NMS,
                                                  "N m s/rad")
        self._friction = bool(np.any(self.joint_friction_nm) or np.any(self.joint_viscous_nms))
        self.command_held_over_substeps = not self._friction  # friction follows the joint speeds
        noise_std = check_noise_std(observation_noise_std)
        natural_steps = ticks(self.laps * self.n_targets * self.target_hold_s, control_period_s) \
            if self.laps > 1 and isinstance(control_period_s, (int, float)) and control_period_s > 0 else EPISODE_STEPS
        limits = _urdf_joint_limits()
        self.joint_lower_rad, self.joint_upper_rad, self.joint_torque_limits_nm, self.joint_speed_limits = limits
        self.joint_names = JOINT_NAMES
        low = np.concatenate([self.joint_lower_rad - OBSERVED_JOINT_MARGIN_RAD, np.full(N_JOINTS, -MAX_JOINT_SPEED),
                              EE_LOW, TARGET_LOW])
        high = np.concatenate([self.joint_upper_rad + OBSERVED_JOINT_MARGIN_RAD, np.full(N_JOINTS, MAX_JOINT_SPEED),
                               EE_HIGH, TARGET_HIGH])
        actuators = tuple(Actuator(f"tau{i + 1}", "N m", float(limit), f"joint {i + 1} torque")
                          for i, limit in enumerate(self.joint_torque_limits_nm))
        super().__init__(
            physics_period_s=PHYSICS_PERIOD_S, control_period_s=control_period_s, max_substeps=MAX_SUBSTEPS,
            sensors=self._sensors(noise_std), actuators=actuators, state_names=STATE_NAMES,
            observation_low=low, observation_high=high, observation_noise_std=noise_std, pushes=pushes,
            faults=faults, render_mode=render_mode, default_episode_steps=natural_steps,
            episode_s=episode_s, reward=reward)
        self.task = TASK
        self._substeps_per_target = ticks(self.target_hold_s, PHYSICS_PERIOD_S)
        self.target_redraws = 0  # of the last reset: drawn targets IK could not reach
        self.spacing_redraws = 0  # of the last reset: drawn targets too close to an earlier one

        client = self.scene.client_id
        if self.payload_kg > 0.0:
            self._body = _load_with_payload(client, self.payload_kg, self.payload_offset_m)
            self._model_scene: BulletScene | None = BulletScene(PHYSICS_PERIOD_S)  # the nominal arm, never stepped
            self._model_body = self._model_scene.load_data_urdf(URDF)
            self._model_client = self._model_scene.client_id
        else:
            self._body = self.scene.load_data_urdf(URDF)
            self._model_scene = None
            self._model_body, self._model_client = self._body, client
        self.push_site = PushSite(self._body, EE_LINK, (0.0, 1.0, 0.0), at_frame_origin=True)  # +y at the grasp point
        for link in range(-1, pybullet.getNumJoints(self._body, physicsClientId=client)):
            pybullet.changeDynamics(self._body, link, linearDamping=0.0, angularDamping=0.0,
                                    physicsClientId=client)
        self._joint_torques = np.zeros(N_JOINTS)  # the command plus friction, per substep
        self._loaded_models: dict[tuple[float, ...], int | None] = {}  # payload_torques' bodies
        self.scene.disable_joint_motors(self._body, ARM_JOINTS)
        pybullet.setJointMotorControlArray(
            self._body, FINGER_JOINTS, pybullet.POSITION_CONTROL, targetPositions=[FINGER_OPENING_M] * 2,
            forces=[FINGER_FORCE_N] * 2, physicsClientId=client)
        for link in (1, 3, 5):
            pybullet.changeVisualShape(self._body, link, rgbaColor=ARM_RGBA, physicsClientId=client)
        self._target_body = _visual_body(pybullet.GEOM_SPHERE, TARGET_RGBA, client, radius=TARGET_RADIUS_M)
        _visual_body(pybullet.GEOM_BOX, FLOOR_RGBA, client, halfExtents=(1.2, 1.2, 0.005),
                     position=(0.2, 0.0, -0.005))
        self._view_matrix, self._projection_matrix = _camera_matrices()

        # Buffers of the hot path (PyBullet wants all 9 movable joints: 7 arm joints and 2 fingers).
        self._q9 = [0.0] * N_JOINTS + [FINGER_OPENING_M] * 2
        self._qd9 = [0.0] * 9
        self._zeros9 = [0.0] * 9
        self._ee: tuple[float, ...] = (0.0, 0.0, 0.0)  # the end effector of the true state (`state`)
        self._finite = True  # whether the true state is finite
        self._gravity = np.empty(N_JOINTS)
        self._placed_index = -1  # the target the sphere shows

        self._explicit_targets = explicit
        if explicit is not None:
            solutions = []
            for i, target in enumerate(explicit):
                q = self._solve_ik(target)
                if q is None:
                    raise invalid(f"targets[{i}]", "must be reachable (inverse kinematics finds no joint "
                                  f"positions within the joint limits putting the end effector within "
                                  f"{IK_TOLERANCE_M * 1e3:g} mm of it)", list(target))
                solutions.append(q)
            self._targets = explicit.copy()
            self._target_q = np.array(solutions)
        else:
            self._targets = np.zeros((self.n_targets, 3))
            self._target_q = np.tile(READY_POSE_RAD, (self.n_targets, 1))
        self._target_points = [tuple(t) for t in self._targets.tolist()]
        self._place_target(self._targets[0])

    # ---- the task ----

    @property
    def targets(self) -> np.ndarray:
        """The episode's targets (n_targets, 3), m, world frame (a copy)."""
        return self._targets.copy()

    @property
    def target_joint_positions(self) -> np.ndarray:
        """The IK joint solution q* of each target (n_targets, 7), rad (a copy)."""
        return self._target_q.copy()

    @property
    def window_index(self) -> int:
        """The target window of the latest observation, 0 .. laps * n_targets - 1 (lap * n_targets + i)."""
        return min(self.substep // self._substeps_per_target, self.laps * self.n_targets - 1)

    @property
    def target_index(self) -> int:
        """The index of the target shown in the latest observation."""
        return self.window_index % self.n_targets

    @property
    def lap_index(self) -> int:
        """The lap of the latest observation, 0 .. laps - 1."""
        return self.window_index // self.n_targets

    def reference(self, out: np.ndarray) -> None:
        """The joint-space set point [q* of the current target (7), zeros (7)]."""
        out[:N_JOINTS] = self._target_q[self.target_index]
        out[N_JOINTS:] = 0.0

    def tracking_error(self, observation: np.ndarray, out: np.ndarray) -> None:
        """End-effector position minus target (3, m), from the observation alone."""
        np.subtract(observation[OBS_EE], observation[OBS_TARGET], out=out)

    def task_metrics(self, trajectory: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Figures of a logged episode (see the class docstring), from `controller_observation`,
        `time_s` and `action`. A target window is the ticks whose time falls in it (the last window
        takes every tick after its start)."""
        observation = np.asarray(trajectory["controller_observation"], dtype=np.float64)
        time_s = np.asarray(trajectory["time_s"], dtype=np.float64)
        action = np.asarray(trajectory["action"], dtype=np.float64)
        if len(observation) == 0:
            return {"final_distance_m": None, "time_to_reach_s": None, "max_torque_fraction": None,
                    "rms_torque_fraction": None, "path_length_m": None, "targets_reached": 0,
                    "final_distance_per_target_m": [], "time_to_reach_per_target_s": []}
        distance = np.linalg.norm(observation[:, OBS_EE] - observation[:, OBS_TARGET], axis=1)
        window = np.minimum(np.floor(time_s / self.target_hold_s + 1e-9).astype(np.int64),
                            self.laps * self.n_targets - 1)
        finals: list[float | None] = []
        reach_times: list[float | None] = []
        for i in range(int(window.max()) + 1):
            ticks_in = np.flatnonzero(window == i)
            if len(ticks_in) == 0:
                continue
            final = float(distance[ticks_in[-1]])
            finals.append(final if math.isfinite(final) else None)
            within = ticks_in[distance[ticks_in] <= REACHED_M]
            reach_times.append(round(float(time_s[within[0]] - i * self.target_hold_s), 9) if len(within) else None)
        final_values = [math.inf if f is None else f for f in finals]
        reach_values = [math.inf if t is None else t for t in reach_times]
        applied = np.minimum(np.abs(np.nan_to_num(action, nan=0.0)), 1.0)  # as the env applies it
        max_action = float(np.max(applied)) if applied.size else math.nan
        path = np.linalg.norm(np.diff(observation[:, OBS_EE], axis=0), axis=1)
        return {
            "final_distance_m": _finite_or_none(float(np.median(final_values))),
            "time_to_reach_s": _finite_or_none(float(np.median(reach_values))),
            "max_torque_fraction": _finite_or_none(max_action),
            "rms_torque_fraction": _finite_or_none(float(np.sqrt(np.mean(applied**2)))),
            "path_length_m": _finite_or_none(float(np.sum(path))),
            "targets_reached": sum(1 for f in finals if f is not None and f <= REACHED_M),
            "final_distance_per_target_m": finals,
            "time_to_reach_per_target_s": reach_times,
        }

    def state_of_observation(self, observation: np.ndarray) -> np.ndarray:
        """The state [q, qd] a frame shows: the observation's first 14 components."""
        return observation[: 2 * N_JOINTS]

    def render_observation(self, observation: Any) -> np.ndarray:
        """A frame of the arm and of the target as the observation shows them."""
        observation = np.asarray(observation, dtype=np.float64)
        if observation.shape != (len(self.sensors),) or not np.all(np.isfinite(observation[OBS_TARGET])):
            raise invalid("observation", f"must be {len(self.sensors)} numbers with a finite target", observation)
        self._place_target(observation[OBS_TARGET])
        try:
            return super().render_observation(observation)
        finally:
            self._place_target(self._targets[self.target_index])

    # ---- the rigid-body model (RigidBodyRobot) ----

    def joint_state(self, observation: np.ndarray, q_out: np.ndarray, qd_out: np.ndarray) -> None:
        """q and qd from an observation (components 0-6 and 7-13)."""
        q_out[:] = observation[OBS_Q]
        qd_out[:] = observation[OBS_QD]

    def mass_matrix(self, q: np.ndarray, out: np.ndarray) -> None:
        """M(q) (7x7, kg m^2) of the nominal arm (no payload), fingers locked, into `out` (PyBullet's
        model)."""
        q9 = self._q9
        q9[:N_JOINTS] = q.tolist()
        matrix = pybullet.calculateMassMatrix(self._model_body, q9, physicsClientId=self._model_client)
        for i in range(N_JOINTS):
            out[i] = matrix[i][:N_JOINTS]

    def bias_torques(self, q: np.ndarray, qd: np.ndarray, out: np.ndarray) -> None:
        """h(q, qd) (7, N m): gravity, Coriolis and centrifugal torques of the nominal arm (inverse
        dynamics at zero acceleration), into `out`."""
        q9, qd9 = self._q9, self._qd9
        q9[:N_JOINTS] = q.tolist()
        qd9[:N_JOINTS] = qd.tolist()
        torques = pybullet.calculateInverseDynamics(self._model_body, q9, qd9, self._zeros9,
                                                    physicsClientId=self._model_client)
        out[:] = torques[:N_JOINTS]

    def payload_gravity_torques(self, q: np.ndarray, mass_kg: float, offset_m: Sequence[float],
                                out: np.ndarray) -> None:
        """J(q)^T m g (7, N m) into `out`: the joint torques that hold a point mass `mass_kg` at `offset_m`
        (end-effector frame) from the end effector still against gravity, at joint positions q (the
        nominal model's Jacobian of that point; what the plant's payload adds to h(q, 0))."""
        q9 = self._q9
        q9[:N_JOINTS] = q.tolist()
        linear = pybullet.calculateJacobian(self._model_body, EE_LINK, [float(v) for v in offset_m], q9,
                                            self._zeros9, self._zeros9, physicsClientId=self._model_client)[0]
        weight = mass_kg * STANDARD_GRAVITY_M_S2
        out[:] = [weight * linear[2][i] for i in range(N_JOINTS)]  # J^T (0, 0, m g)

    def payload_torques(self, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray, mass_kg: float,
                        offset_m: Sequence[float], out: np.ndarray) -> None:
        """What a payload of `mass_kg` at `offset_m` (end-effector frame; the env's payload model: a solid
        sphere of radius 0.04 m) adds to the inverse dynamics at (q, qd, qdd), 7 N m, into `out`: the
        loaded arm's ID minus the nominal arm's (PyBullet's model of each, never stepped). For a
        controller that knows the payload (its inertia as well as its weight)."""
        key = (float(mass_kg), *(float(v) for v in offset_m))
        if self._model_scene is None:
            self._model_scene = BulletScene(PHYSICS_PERIOD_S)
            self._model_client = self._model_scene.client_id
            self._model_body = self._model_scene.load_data_urdf(URDF)
        loaded = self._loaded_models.get(key)
        if loaded is None:
            loaded = _load_with_payload(self._model_client, key[0], np.array(key[1:])) if key[0] > 0 else None
            self._loaded_models[key] = loaded
        if loaded is None:
            out[:] = 0.0
            return
        q9, qd9, qdd9 = list(self._q9), list(self._qd9), [0.0] * 9
        q9[:N_JOINTS], qd9[:N_JOINTS], qdd9[:N_JOINTS] = q.tolist(), qd.tolist(), qdd.tolist()
        client = self._model_client
        with_payload = pybullet.calculateInverseDynamics(loaded, q9, qd9, qdd9, physicsClientId=client)
        nominal = pybullet.calculateInverseDynamics(self._model_body, q9, qd9, qdd9, physicsClientId=client)
        out[:] = [with_payload[i] - nominal[i] for i in range(N_JOINTS)]

    def close(self) -> None:
        """Disconnect the PyBullet servers (the plant's and the nominal model's; safe to call twice)."""
        super().close()
        if getattr(self, "_model_scene", None) is not None:
            self._model_scene.close()

    def operating_point(self) -> tuple[np.ndarray, np.ndarray]:
        """The ready pose at rest, with the normalised torque that holds it against gravity."""
        x_op = np.concatenate([READY_POSE_RAD, np.zeros(N_JOINTS)])
        self.bias_torques(READY_POSE_RAD, np.zeros(N_JOINTS), self._gravity)
        return x_op, self._gravity / self.joint_torque_limits_nm

    def linear_model(self, x_op: np.ndarray | None = None, a_op: np.ndarray | None = None) -> PlantModel:
        """The discrete model of one control period about (x_op, a_op), state [q (7), qd (7)], by finite
        differences of the simulated plant (`BulletRobotEnv.linear_model`); default operating point:
        `operating_point()`."""
        return super().linear_model(x_op, a_op)

    # ---- hooks of BulletRobotEnv ----

    def _apply_command(self, command: np.ndarray) -> None:
        """The command, plus the joint friction torques of the current joint speeds when there is friction."""
        client = self.scene.client_id
        if self._friction:
            qd = np.array([joint[1] for joint in pybullet.getJointStates(self._body, ARM_JOINTS,
                                                                         physicsClientId=client)])
            torques = self._joint_torques
            np.multiply(self.joint_viscous_nms, qd, out=torques)
            torques += self.joint_friction_nm * np.tanh(qd / COULOMB_SMOOTHING_RAD_S)
            np.subtract(command, torques, out=torques)
            command = torques
        pybullet.setJointMotorControlArray(self._body, ARM_JOINTS, pybullet.TORQUE_CONTROL, forces=command,
                                           physicsClientId=client)

    def _read_state(self, out: np.ndarray) -> None:
        """[q, qd] into `out`; for the true state (`out is self.state`) the end effector too."""
        client = self.scene.client_id
        joints = pybullet.getJointStates(self._body, ARM_JOINTS, physicsClientId=client)
        values = [joint[0] for joint in joints] + [joint[1] for joint in joints]
        out[:] = values
        if out is self.state:
            self._ee = pybullet.getLinkState(self._body, EE_LINK, computeForwardKinematics=1,
                                             physicsClientId=client)[4]
            self._finite = math.isfinite(sum(values))  # inf - inf is NaN: any non-finite value shows

    def _set_state(self, state: np.ndarray) -> None:
        client = self.scene.client_id
        for i, joint in enumerate(ARM_JOINTS):
            pybullet.resetJointState(self._body, joint, state[i], state[N_JOINTS + i], physicsClientId=client)
        for joint in FINGER_JOINTS:
            pybullet.resetJointState(self._body, joint, FINGER_OPENING_M, 0.0, physicsClientId=client)

    def _observe(self, state: np.ndarray, out: np.ndarray) -> None:
        out[: 2 * N_JOINTS] = state
        out[OBS_EE] = self._ee
        index = self.target_index
        out[OBS_TARGET] = self._targets[index]
        if index != self._placed_index:
            self._place_target(self._targets[index])
            self._placed_index = index

    def _sample_initial_state(self) -> np.ndarray:
        """Draw the episode's targets (unless fixed) and the initial pose from the env's RNG."""
        rng = self.np_random
        if self._explicit_targets is None:
            self._draw_targets(rng)
        self._placed_index = -1
        q0 = READY_POSE_RAD + rng.uniform(-self.initial_spread_rad, self.initial_spread_rad, size=N_JOINTS)
        return np.concatenate([q0, np.zeros(N_JOINTS)])

    def _after_step(self) -> tuple[float, bool]:
        """Minus the distance (m) from the end effector to the current target; terminated only when the
        state is not finite."""
        distance = math.dist(self._ee, self._target_points[self.target_index])
        finite = self._finite and math.isfinite(distance)
        return (-distance if finite else 0.0), not finite

    def _camera(self) -> tuple[Any, Any]:
        return self._view_matrix, self._projection_matrix

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = super().step(action)
        index = self.target_index
        info["target_index"] = index
        info["lap_index"] = self.lap_index
        info["distance_m"] = math.dist(self._ee, self._target_points[index])
        return observation, reward, terminated, truncated, info

    def _end_reason(self) -> str:
        return "nonfinite_state"

    def _is_success(self) -> bool:
        """The end effector within 1 cm of the current target (true state) when the episode ends."""
        return not self.terminated and math.dist(self._ee, self._target_points[self.target_index]) <= REACHED_M

    def __getstate__(self) -> dict[str, Any]:
        """As `BulletRobotEnv`'s, without the nominal model's server either (the copy builds its own)."""
        state = super().__getstate__()
        state.pop("_model_scene", None)
        state.pop("_model_client", None)
        state.pop("_model_body", None)
        state.pop("_loaded_models", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._placed_index = -1  # the new server's target sphere: placed at the next observation
        self._place_target(self._targets[self.target_index])

    # ---- targets ----

    def _draw_targets(self, rng: np.random.Generator) -> None:
        """The episode's targets and their IK solutions (see the class docstring)."""
        self.target_redraws = self.spacing_redraws = 0
        for i in range(self.n_targets):
            for _ in range(MAX_DRAWS):
                radius = rng.uniform(*SAMPLE_RADIUS_M)
                azimuth = rng.uniform(*SAMPLE_AZIMUTH_RAD)
                target = np.array([radius * math.cos(azimuth), radius * math.sin(azimuth),
                                   rng.uniform(*SAMPLE_HEIGHT_M)])
                if i and np.min(np.linalg.norm(self._targets[:i] - target, axis=1)) < MIN_TARGET_SPACING_M:
                    self.spacing_redraws += 1
                    continue
                q = self._solve_ik(target)
                if q is None:
                    self.target_redraws += 1
                    continue
                self._targets[i] = target
                self._target_q[i] = q
                break
            else:  # pragma: no cover - the sampling region is reachable almost everywhere
                raise RuntimeError(f"no reachable target found in {MAX_DRAWS} draws")
        self._target_points = [tuple(t) for t in self._targets.tolist()]

    def _solve_ik(self, target: np.ndarray) -> np.ndarray | None:
        """Joint positions putting the end effector on `target` (within IK_TOLERANCE_M by forward
        kinematics, joints IK_LIMIT_MARGIN_RAD inside their limits), or None. Damped least squares on
        PyBullet's Jacobian from the ready pose, pulled towards it in the null space. Moves the arm:
        call it only where the state is set afterwards."""
        client = self.scene.client_id
        low = self.joint_lower_rad + IK_LIMIT_MARGIN_RAD
        high = self.joint_upper_rad - IK_LIMIT_MARGIN_RAD
        q = READY_POSE_RAD.copy()
        q9 = list(self._q9)
        damping = IK_DAMPING ** 2 * np.eye(3)
        error = np.full(3, math.inf)
        for _ in range(IK_ITERATIONS + 1):
            for i, joint in enumerate(ARM_JOINTS):
                pybullet.resetJointState(self._body, joint, q[i], 0.0, physicsClientId=client)
            ee = pybullet.getLinkState(self._body, EE_LINK, computeForwardKinematics=1, physicsClientId=client)[4]
            error = target - np.array(ee)
            if np.linalg.norm(error) < IK_CONVERGED_M:
                break
            q9[:N_JOINTS] = q.tolist()
            jacobian = np.array(pybullet.calculateJacobian(self._body, EE_LINK, (0.0, 0.0, 0.0), q9, self._zeros9,
                                                           self._zeros9, physicsClientId=client)[0])[:, :N_JOINTS]
            gram = jacobian @ jacobian.T
            step = jacobian.T @ np.linalg.solve(gram + damping, error)
            pull = IK_NULL_GAIN * (READY_POSE_RAD - q)  # projected on the null space: no task motion
            step += pull - jacobian.T @ np.linalg.solve(gram + 1e-12 * np.eye(3), jacobian @ pull)
            q = np.clip(q + step, low, high)
        return q if np.linalg.norm(error) <= IK_TOLERANCE_M else None

    def _place_target(self, target: np.ndarray) -> None:
        pybullet.resetBasePositionAndOrientation(self._target_body, target.tolist(), (0.0, 0.0, 0.0, 1.0),
                                                 physicsClientId=self.scene.client_id)

    def _sensors(self, noise_std: float) -> tuple[Sensor, ...]:
        """Plausible readings per sensor while the task runs (see the class docstring)."""
        tolerance = NOISE_TOLERANCE * noise_std
        sensors = []
        speeds = SPEED_FACTOR * self.joint_speed_limits
        for i in range(N_JOINTS):
            sensors.append(Sensor(STATE_NAMES[i], "rad", low=self.joint_lower_rad[i] - JOINT_LIMIT_TOLERANCE_RAD,
                                  high=self.joint_upper_rad[i] + JOINT_LIMIT_TOLERANCE_RAD,
                                  max_rate_per_s=speeds[i], tolerance=tolerance,
                                  description=f"joint {i + 1} position"))
        for i in range(N_JOINTS):
            sensors.append(Sensor(STATE_NAMES[N_JOINTS + i], "rad/s", low=-speeds[i], high=speeds[i],
                                  tolerance=tolerance, description=f"joint {i + 1} velocity"))
        for axis, name in enumerate("xyz"):
            sensors.append(Sensor(f"ee_{name}", "m", low=EE_LOW[axis], high=EE_HIGH[axis],
                                  max_rate_per_s=EE_SPEED_M_S, tolerance=tolerance,
                                  description=f"end effector {name}"))
        for axis, name in enumerate("xyz"):
            sensors.append(Sensor(f"target_{name}", "m", low=TARGET_LOW[axis], high=TARGET_HIGH[axis],
                                  tolerance=tolerance, description=f"target {name}"))
        return tuple(sensors)


def _load_with_payload(client: int, mass_kg: float, offset_m: np.ndarray) -> int:
    """The Panda with a payload: the URDF's `panda_grasptarget` link (massless there) given the payload's
    mass, its centre of mass at `offset_m` in the link's frame and a solid sphere's inertia, loaded from an
    edited copy of the URDF (mesh paths made absolute; the copy is deleted once loaded)."""
    directory = os.path.join(pybullet_data.getDataPath(), os.path.dirname(URDF))
    with open(os.path.join(pybullet_data.getDataPath(), URDF)) as file:
        text = file.read()
    pattern = re.compile(r'(<link name="panda_grasptarget">\s*<inertial>\s*)<origin rpy="0 0 0" xyz="0 0 0"/>'
                         r'\s*<mass value="0.0"/>')
    if pattern.search(text) is None:  # pragma: no cover - pybullet_data's URDF has been the same for years
        raise RuntimeError(f"{URDF}: panda_grasptarget's inertial element is not the expected massless one")
    x, y, z = (repr(float(v)) for v in offset_m)
    text = pattern.sub(lambda m: f'{m.group(1)}<origin rpy="0 0 0" xyz="{x} {y} {z}"/><mass value="{mass_kg!r}"/>',
                       text)
    text = text.replace('filename="package://', f'filename="{directory}{os.sep}')
    handle, path = tempfile.mkstemp(suffix=".urdf", prefix="neuroctl_panda_payload_")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        body = pybullet.loadURDF(path, useFixedBase=True, physicsClientId=client)
    finally:
        os.unlink(path)
    inertia = 0.4 * mass_kg * PAYLOAD_RADIUS_M**2
    pybullet.changeDynamics(body, EE_LINK, localInertiaDiagonal=[inertia] * 3, physicsClientId=client)
    return body


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _urdf_joint_limits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, effort, velocity) limits of the 7 arm joints, read from the URDF itself."""
    root = ElementTree.parse(os.path.join(pybullet_data.getDataPath(), URDF)).getroot()
    joints = {joint.get("name"): joint.find("limit") for joint in root.iter("joint")}
    rows = [[float(joints[name].get(key)) for name in JOINT_NAMES] for key in ("lower", "upper", "effort", "velocity")]
    return tuple(np.array(row) for row in rows)  # type: ignore[return-value]


def _visual_body(shape: int, rgba: tuple[float, ...], client: int, position=(0.0, 0.0, 0.0), **size: Any) -> int:
    """A static, visual-only body (no collision shape, no mass)."""
    visual = pybullet.createVisualShape(shape, rgbaColor=rgba, physicsClientId=client, **size)
    return pybullet.createMultiBody(baseMass=0.0, baseCollisionShapeIndex=-1, baseVisualShapeIndex=visual,
                                    basePosition=position, physicsClientId=client)


def _camera_matrices() -> tuple[Any, Any]:
    """A view from the front right, above, of the whole arm and the target region."""
    view = pybullet.computeViewMatrixFromYawPitchRoll(
        cameraTargetPosition=CAMERA_TARGET, distance=CAMERA_DISTANCE_M, yaw=CAMERA_YAW_DEG,
        pitch=CAMERA_PITCH_DEG, roll=0.0, upAxisIndex=2)
    projection = pybullet.computeProjectionMatrixFOV(
        fov=CAMERA_FOV_DEG, aspect=FRAME_WIDTH / FRAME_HEIGHT, nearVal=0.1, farVal=10.0)
    return view, projection


# ---- keyword argument checks: each raises ValueError("<kwarg>: <what is expected>, got <value>") ----


def _check_targets(value: Any) -> np.ndarray | None:
    """None, or the explicit targets (n, 3) each inside the target box (reachability: later)."""
    if value is None:
        return None
    expected = f"must be None or a list of 1 to {MAX_TARGETS} [x, y, z] points in m"
    listed = isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    if not (listed or (isinstance(value, np.ndarray) and value.ndim == 2)) or not 1 <= len(value) <= MAX_TARGETS:
        raise invalid("targets", expected, value)
    box = (f"must be [x, y, z] in m inside the target box x, y in [{TARGET_LOW[0]:g}, {TARGET_HIGH[0]:g}], "
           f"z in [{TARGET_LOW[2]:g}, {TARGET_HIGH[2]:g}]")
    points = np.empty((len(value), 3))
    for i, point in enumerate(value):
        name = f"targets[{i}]"
        if isinstance(point, (str, bytes, Mapping)) or not isinstance(point, (Sequence, np.ndarray)) or len(point) != 3:
            raise invalid(name, box, point)
        points[i] = [real(name, v, box) for v in point]
        if np.any(points[i] < TARGET_LOW) or np.any(points[i] > TARGET_HIGH):
            raise invalid(name, box, point)
    return points


def _check_n_targets(value: Any, explicit: np.ndarray | None) -> int:
    expected = f"must be an integer in [1, {MAX_TARGETS}]"
    if value is None:
        return 6 if explicit is None else len(explicit)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_TARGETS:
        raise invalid("n_targets", expected, value)
    if explicit is not None and value != len(explicit):
        raise invalid("n_targets", f"must be None or len(targets) = {len(explicit)} when targets are given", value)
    return int(value)


def _check_laps(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_LAPS:
        raise invalid("laps", f"must be an integer in [1, {MAX_LAPS}]", value)
    return int(value)


def _check_offset(value: Any) -> np.ndarray:
    expected = (f"must be [x, y, z] in m (end-effector frame), each in [-{MAX_PAYLOAD_OFFSET_M:g}, "
                f"{MAX_PAYLOAD_OFFSET_M:g}]")
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != 3:
        raise invalid("payload_offset_m", expected, value)
    offset = np.array([real("payload_offset_m", v, expected) for v in value])
    if np.any(np.abs(offset) > MAX_PAYLOAD_OFFSET_M):
        raise invalid("payload_offset_m", expected, value)
    return offset


def _check_per_joint(name: str, value: Any, high: float, unit: str) -> np.ndarray:
    """One number for every joint, or one per joint, each in [0, high]."""
    expected = f"must be a number or {N_JOINTS} numbers, each in [0, {high:g}] {unit}"
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, (str, bytes)):
        if len(value) != N_JOINTS:
            raise invalid(name, expected, value)
        values = np.array([real(name, v, expected) for v in value])
    else:
        values = np.full(N_JOINTS, real(name, value, expected))
    if np.any(values < 0.0) or np.any(values > high):
        raise invalid(name, expected, value)
    return values


def _check_hold(value: Any) -> float:
    expected = f"must be a multiple of {PHYSICS_PERIOD_S} s in [{PHYSICS_PERIOD_S}, {MAX_HOLD_S:g}]"
    hold_s = in_range("target_hold_s", value, "a multiple of 0.001 s", PHYSICS_PERIOD_S, MAX_HOLD_S, "s")
    if abs(round(hold_s / PHYSICS_PERIOD_S) * PHYSICS_PERIOD_S - hold_s) > 1e-9:
        raise invalid("target_hold_s", expected, value)
    return hold_s
