"""`neuroctl/CartPoleBalance-v0`: balance PyBullet's cart-pole (`pybullet_data/cartpole.urdf`) upright.

The plant as PyBullet simulates it: a 1 kg cart on a rail along x (prismatic joint, limits +-15 m) and a
0.1 kg, 1 m pole hinged on the cart (about the y axis), centre of mass 0.5 m up the pole. PyBullet takes
the pole's inertia from its collision box (0.00835 kg m^2 about the centre of mass, not the URDF's 1.0)
and damps every link with coefficient 0.04; gravity is 9.81 m/s^2. Linearised about upright, with u the
cart force in N:  x'' ~= 0.976 u - 0.717 theta,  theta'' ~= 15.78 theta - 1.46 u  (unstable pole at
3.97 rad/s). Use `linear_model()` rather than these rounded figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuroctl.envs.bullet import pybullet  # imported there with its banner silenced
from neuroctl.envs.bullet_native import NativeJoints
from neuroctl.envs.bullet_robot import FRAME_HEIGHT, FRAME_WIDTH, BulletRobotEnv, PushSite, check_noise_std
from neuroctl.envs.checks import invalid, real
from neuroctl.envs.robot import Actuator, Sensor, Task

PHYSICS_PERIOD_S = 0.001
MAX_SUBSTEPS = 20
THETA_LIMIT_RAD = 0.6
X_LIMIT_M = 2.4
INITIAL_SPREAD = 0.05  # x0 (m), x_dot0 (m/s), theta_dot0 (rad/s) are uniform in +-INITIAL_SPREAD
MAX_FORCE_LIMIT_N = 1000.0
SLIDER_JOINT, HINGE_JOINT = 0, 1
POLE_LINK = 1  # a link's index is its parent joint's index

EPISODE_STEPS = 1000  # the default episode: 1000 control periods (10 s at the default 10 ms)

CAMERA_HEIGHT_M = 0.45  # the camera looks along +y at this height, so +x is to the right in a frame
CAMERA_FOV_DEG = 45.0  # vertical field of view
CAMERA_HALF_WIDTH_M = 3.1  # x in +-3.1 m is visible; the pole's tip at the termination limits: +-2.96 m
CAMERA_DISTANCE_M = (
    CAMERA_HALF_WIDTH_M * FRAME_HEIGHT / FRAME_WIDTH / math.tan(math.radians(CAMERA_FOV_DEG / 2))
)
POLE_COLOUR_RGBA = (0.85, 0.33, 0.1, 1.0)  # the URDF's white pole is hard to see on a white background

SENSOR_NAMES = ("x", "theta", "x_dot", "theta_dot")
PLAUSIBLE_HIGH = (3.0, 1.0, 10.0, 20.0)  # |reading| while the task runs (it ends at 2.4 m and 0.6 rad)
PLAUSIBLE_RATE = (10.0, 20.0, math.inf, math.inf)  # positions move at most at the plausible speeds
# Observation bounds: what the task allows (the episode ends at |x| > 2.4 m, |theta| > 0.6 rad; episodes
# under control stay within about 1 m and 4 m/s), the plausible readings with a margin, so that
# normalising wrappers see a useful range. Readings beyond them (noise, the step that terminates, a
# plant driven on after termination) are clipped; the sensor monitor uses `sensors`, not these.
OBSERVATION_HIGH = np.array(PLAUSIBLE_HIGH, dtype=np.float32)
STALE_AFTER_S = 0.1  # a moving plant's float32 readings change every tick
NOISE_TOLERANCE = 8.0  # a change of up to this many observation noise std is always plausible


TASK = Task(cost_q=(1.0, 10.0, 0.1, 0.1), cost_r=(1.0,), error_names=SENSOR_NAMES,
            metric_names=("time_balanced_s", "max_abs_theta_rad", "rms_x_m"),
            description="balance the pole upright with the cart near x = 0",
            units={"time_balanced_s": "s", "max_abs_theta_rad": "rad", "rms_x_m": "m"})


class CartPoleBalanceEnv(BulletRobotEnv):
    """Keep a pole upright on a cart by pushing the cart along its rail.

    A `BulletRobotEnv` (the robot contract of `neuroctl.envs.robot`). Dynamics: see the module
    docstring. Physics runs at a fixed period of 1 ms (`physics_period_s`); one `step()` is one control
    period (`control_period_s`, an integer number of physics substeps). The cart force is held constant
    over a control period and re-applied at every substep (PyBullet clears forces after each
    `stepSimulation`); PyBullet's default joint motors are turned off.

    Action: Box([-1], [1]), float32. The cart force is `action * max_force_n` N; a positive action pushes
    the cart towards +x. Out-of-range actions are clipped to [-1, 1]. A non-finite action is replaced by
    0 (no force) and counted in `nonfinite_actions` (a count over the env's lifetime, never reset): a
    controller's NaN fails safe rather than ending the run. A real number given as a scalar or a list of
    one is accepted too; anything else raises, naming `action`: a TypeError for a string, a bool, None
    or a complex number, a ValueError for another size or shape or an integer beyond the float range.

    Observation: float32 `[x, theta, x_dot, theta_dot]` (m, rad, m/s, rad/s), or `[x, theta]` with
    `position_only=True`. theta is the pole angle from upright, positive when the pole leans towards +x,
    wrapped to [-pi, pi]. With `observation_noise_std > 0`, Gaussian noise of that standard deviation (in
    each component's own unit) from the env's RNG is added, and the noisy theta is wrapped again (as an
    angle sensor would). The observation is clipped to the observation space: x in [-3, 3] m, theta in
    [-1, 1] rad, x_dot in [-10, 10] m/s, theta_dot in [-20, 20] rad/s (the plausible readings below:
    the task ends at 2.4 m and 0.6 rad, and a balanced pole stays within about 1 m and 4 m/s); only noise
    or a plant beyond the task's limits can reach these bounds.

    Reward: +1 for every step taken while the episode is not terminated (the classic cart-pole reward:
    the step that ends in termination still earns 1, so an episode's return is its length); 0 for steps
    taken after termination without a reset. With `reward="task_cost"`: minus the task cost of the step
    (`info["task_cost"]`, below), what `neuroctl eval` scores.

    Termination: |theta| > 0.6 rad or |x| > 2.4 m (true state, not the noisy observation); `end_reason`
    "theta_limit" or "x_limit" (theta first when both). Truncation: the env truncates itself after
    `episode_s` (default: 1000 control periods, 10 s at 10 ms; the id registers no TimeLimit), with
    `end_reason` "time_limit" and `is_success` True (still balanced); a termination has `is_success`
    False.

    info (every step): `state` (the true [x, theta, x_dot, theta_dot]), `command` (the cart force
    applied, N), `task_cost` (e'Qe + a'Ra of the true state before the step and the applied action,
    weights as in `task`); on the last step of an episode `is_success` and `end_reason`.

    For learners: `episode_s` fixes the episode in seconds, so returns compare across control periods;
    `reward="task_cost"` optimises the eval cost. At a 10 ms period a pole's time constant (0.25 s) is
    25 steps and an episode 1000: use a discount of 0.995-0.999 (SAC, PPO); the default 0.99 looks only
    ~1 s ahead. The observation bounds above suit normalising wrappers (gymnasium's
    RescaleObservation, SB3's VecNormalize). See examples/rl_cartpole.py (PPO and SAC).

    Initial state, drawn from the reset seed: |theta0| uniform in `initial_theta_rad` with a random sign;
    x0 (m), x_dot0 (m/s) and theta_dot0 (rad/s) each uniform in [-0.05, 0.05].

    Keyword arguments:
        control_period_s: seconds per `step()`, a multiple of 0.001 s in [0.001, 0.02]. Default 0.01.
        max_force_n: cart force in N at action 1, in (0, 1000]. Default 10.0.
        initial_theta_rad: (low, high) range of |theta0| in rad, 0 <= low <= high < 0.6.
            Default (0.0, 0.1).
        observation_noise_std: standard deviation of the observation noise, in [0, 100]. Default 0.0.
        position_only: observe [x, theta] only. Default False.
        pushes: disturbances, a list of dicts {start_s, duration_s, force_n}: a horizontal force of
            force_n N on the pole's centre of mass (0.5 m up the pole) during [start_s, start_s +
            duration_s) after each reset; start_s in [0, 1e6] s, duration_s in [0.001, 1e6] s,
            |force_n| <= 1e4 N. Default none.
        faults: sensor faults, a list of dicts {kind, sensor, start_s, duration_s, magnitude} (see
            `neuroctl.envs.faults`; sensor: x, theta, x_dot, theta_dot or an index). Default none.
        render_mode: None or "rgb_array" (320x240 frames from PyBullet's TinyRenderer).
        episode_s: episode length in s, in (0, 1e6]; None (default): 1000 control periods.
        reward: "default" (+1 per step balanced) or "task_cost" (minus the step's task cost).

    Sensor faults corrupt the observation after noise and clipping (a faulty reading may be NaN, inf
    or outside the observation space), never the true state. `fault_ticks[kind]` counts the readings
    each kind corrupted since the last reset. `sensors` name the observation's components and give the
    plausible readings while the task runs, for a sensor monitor such as `neuroctl.runtime.monitor`:
    |x| <= 3 m, |theta| <= 1 rad, |x_dot| <= 10 m/s, |theta_dot| <= 20 rad/s; x and theta change at
    most at 10 m/s and 20 rad/s (plus 8 observation noise std); a reading unchanged for 0.1 s is stale.

    Task (`task`): keep the state at the origin; the tracking error is the observation itself (the
    reference is 0), weighted by cost_q = (1, 10, 0.1, 0.1) and the action by cost_r = (1,). Task
    metrics of an episode (`task_metrics`): `time_balanced_s` (until termination or the end),
    `max_abs_theta_rad` and `rms_x_m` (over the observed ticks).

    Timing: each `step()` writes the wall time (s) of its stages, named in `STAGE_NAMES`, into
    `stage_times_s` in place: actuate (check, clip and scale the action), physics (the substeps),
    sense (read the joints, build the observation, check termination).
    """

    push_description = "push on the pole"

    def __init__(
        self,
        control_period_s: float = 0.01,
        max_force_n: float = 10.0,
        initial_theta_rad: Sequence[float] = (0.0, 0.1),
        observation_noise_std: float = 0.0,
        position_only: bool = False,
        pushes: Sequence[Mapping[str, float]] = (),
        faults: Sequence[Mapping[str, Any]] = (),
        render_mode: str | None = None,
        episode_s: float | None = None,
        reward: str = "default",
    ) -> None:
        self.max_force_n = _check_max_force(max_force_n)
        self.initial_theta_rad = _check_initial_theta(initial_theta_rad)
        self.position_only = _check_position_only(position_only)
        noise_std = check_noise_std(observation_noise_std)
        n_observed = 2 if self.position_only else 4
        high = OBSERVATION_HIGH[:n_observed]
        super().__init__(
            physics_period_s=PHYSICS_PERIOD_S, control_period_s=control_period_s, max_substeps=MAX_SUBSTEPS,
            sensors=_sensors(n_observed, noise_std), actuators=(Actuator("cart_force", "N", self.max_force_n, "cart force"),),
            state_names=SENSOR_NAMES, observation_low=-high, observation_high=high,
            observation_noise_std=noise_std, pushes=pushes, faults=faults, render_mode=render_mode,
            default_episode_steps=EPISODE_STEPS, episode_s=episode_s, reward=reward)
        self.task = TASK
        self._body = self.scene.load_data_urdf("cartpole.urdf")
        self.push_site = PushSite(self._body, POLE_LINK, (1.0, 0.0, 0.0))  # along +x at the pole's centre of mass
        self.scene.disable_joint_motors(self._body, (SLIDER_JOINT, HINGE_JOINT))
        self.native_joints = NativeJoints(self._body, torque_joints=(SLIDER_JOINT,),
                                          state_joints=(SLIDER_JOINT, HINGE_JOINT), wrapped=(False, True),
                                          termination_limits=(X_LIMIT_M, THETA_LIMIT_RAD, math.inf, math.inf))
        pybullet.changeVisualShape(
            self._body, POLE_LINK, rgbaColor=POLE_COLOUR_RGBA, physicsClientId=self.scene.client_id
        )
        self._view_matrix, self._projection_matrix = _camera_matrices()

    # ---- the task ----

    def reference(self, out: np.ndarray) -> None:
        """The set point: the origin (upright, cart at x = 0, at rest)."""
        out.fill(0.0)

    def tracking_error(self, observation: np.ndarray, out: np.ndarray) -> None:
        """The observation itself: the reference is the origin."""
        out[:] = observation

    def task_metrics(self, trajectory: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """time_balanced_s, max_abs_theta_rad, rms_x_m of a logged episode (observations as sensed)."""
        observation = trajectory["controller_observation"]
        ticks = len(observation)
        return {"time_balanced_s": ticks * self.control_period_s,
                "max_abs_theta_rad": float(np.max(np.abs(observation[:, 1]))) if ticks else None,
                "rms_x_m": float(np.sqrt(np.mean(observation[:, 0] ** 2))) if ticks else None}

    def state_of_observation(self, observation: np.ndarray) -> np.ndarray:
        """The full state a frame shows: the observation, with zero speeds when it is position only."""
        if observation.shape == (2,):
            return np.concatenate([observation, np.zeros(2)])
        return observation

    # ---- hooks of BulletRobotEnv ----

    def _apply_command(self, command: np.ndarray) -> None:
        pybullet.setJointMotorControl2(
            self._body, SLIDER_JOINT, pybullet.TORQUE_CONTROL, force=command.item(0), physicsClientId=self.scene.client_id
        )

    def _read_state(self, out: np.ndarray) -> None:
        """Write the true [x, theta, x_dot, theta_dot] into `out` (theta wrapped to [-pi, pi])."""
        (x, x_dot, _, _), (theta, theta_dot, _, _) = pybullet.getJointStates(
            self._body, (SLIDER_JOINT, HINGE_JOINT), self.scene.client_id  # positional: no keyword dict
        )
        out[0] = x
        out[1] = math.remainder(theta, 2.0 * math.pi)
        out[2] = x_dot
        out[3] = theta_dot

    def _set_state(self, state: np.ndarray) -> None:
        """Put the robot in the full state [x, theta, x_dot, theta_dot]."""
        client = self.scene.client_id
        pybullet.resetJointState(self._body, SLIDER_JOINT, state[0], state[2], physicsClientId=client)
        pybullet.resetJointState(self._body, HINGE_JOINT, state[1], state[3], physicsClientId=client)

    def _observe(self, state: np.ndarray, out: np.ndarray) -> None:
        out[...] = state if out.shape == state.shape else state[: out.shape[0]]  # [...]: no view of out

    def _sample_initial_state(self) -> np.ndarray:
        """[x, theta, x_dot, theta_dot] from the env's RNG (distribution in the class docstring)."""
        rng = self.np_random
        low, high = self.initial_theta_rad
        theta = rng.uniform(low, high) * rng.choice((-1.0, 1.0))
        x, x_dot, theta_dot = rng.uniform(-INITIAL_SPREAD, INITIAL_SPREAD, size=3)
        return np.array([x, theta, x_dot, theta_dot])

    def _after_step(self) -> tuple[float, bool]:
        """+1 unless already terminated; terminated when the pole fell past THETA_LIMIT_RAD or the cart
        left the track (true state, not observed)."""
        reward = 0.0 if self.terminated else 1.0
        return reward, bool(abs(self.state[0]) > X_LIMIT_M or abs(self.state[1]) > THETA_LIMIT_RAD)

    def _end_reason(self) -> str:
        return "theta_limit" if abs(self.state[1]) > THETA_LIMIT_RAD else "x_limit"

    def _state_error(self, state: np.ndarray, out: np.ndarray) -> None:
        """The full true state (position-only observation or not): the reference is the origin."""
        out[...] = state

    def _camera(self) -> tuple[Any, Any]:
        return self._view_matrix, self._projection_matrix


def _sensors(n_observed: int, noise_std: float) -> tuple[Sensor, ...]:
    """Plausible readings per sensor while the task runs (see the class docstring)."""
    units = ("m", "rad", "m/s", "rad/s")
    descriptions = ("cart position x", "pole angle θ", "cart velocity ẋ", "pole angular velocity θ̇")
    return tuple(Sensor(name, unit, low=-high, high=high, max_rate_per_s=rate, stale_after_s=STALE_AFTER_S,
                        tolerance=NOISE_TOLERANCE * noise_std, periodic=name == "theta", description=description)
                 for name, unit, high, rate, description
                 in zip(SENSOR_NAMES[:n_observed], units, PLAUSIBLE_HIGH, PLAUSIBLE_RATE, descriptions))


def _camera_matrices() -> tuple[Any, Any]:
    """A side view (looking along +y) of the rail between x = -3.1 and 3.1 m, the cart and the pole."""
    view = pybullet.computeViewMatrix(
        cameraEyePosition=(0.0, -CAMERA_DISTANCE_M, CAMERA_HEIGHT_M),
        cameraTargetPosition=(0.0, 0.0, CAMERA_HEIGHT_M),
        cameraUpVector=(0.0, 0.0, 1.0),
    )
    projection = pybullet.computeProjectionMatrixFOV(
        fov=CAMERA_FOV_DEG, aspect=FRAME_WIDTH / FRAME_HEIGHT, nearVal=0.1, farVal=20.0
    )
    return view, projection


# ---- keyword argument checks: each raises ValueError("<kwarg>: <what is expected>, got <value>") ----


def _check_max_force(value: Any) -> float:
    expected = f"must be a force in N in (0, {MAX_FORCE_LIMIT_N:g}]"
    force_n = real("max_force_n", value, expected)
    if not 0.0 < force_n <= MAX_FORCE_LIMIT_N:
        raise invalid("max_force_n", expected, value)
    return force_n


def _check_initial_theta(value: Any) -> tuple[float, float]:
    expected = f"must be (low, high) in rad with 0 <= low <= high < {THETA_LIMIT_RAD}"
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise invalid("initial_theta_rad", expected, value)
    low, high = (real("initial_theta_rad", v, expected) for v in value)
    if not 0.0 <= low <= high < THETA_LIMIT_RAD:
        raise invalid("initial_theta_rad", expected, value)
    return low, high


def _check_position_only(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise invalid("position_only", "must be True or False", value)
    return bool(value)
