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
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from neuroctl.envs.bullet import BulletScene, pybullet  # imported there with its banner silenced
from neuroctl.envs.checks import MAX_TIME_S, in_range, invalid, real, ticks
from neuroctl.envs.faults import FaultInjector, parse_faults

PHYSICS_PERIOD_S = 0.001
MAX_SUBSTEPS = 20
THETA_LIMIT_RAD = 0.6
X_LIMIT_M = 2.4
INITIAL_SPREAD = 0.05  # x0 (m), x_dot0 (m/s), theta_dot0 (rad/s) are uniform in +-INITIAL_SPREAD
MAX_FORCE_LIMIT_N = 1000.0
MAX_PUSH_FORCE_N = 10_000.0  # |force_n| of a push (PyBullet stays finite far beyond: it clamps joint speeds)
MAX_NOISE_STD = 100.0  # the widest observation bound: more noise would only saturate the clipping
SLIDER_JOINT, HINGE_JOINT = 0, 1
POLE_LINK = 1  # a link's index is its parent joint's index
FINITE_DIFFERENCE_STEP = 1e-4  # state units (m, rad, m/s, rad/s) and action units

RAIL_LIMIT_M = 15.0  # the URDF's slider limit (a soft limit: the cart can overshoot it by ~0.1 m)
MAX_JOINT_SPEED = 100.0  # PyBullet clamps joint speeds (m/s, rad/s) to this by default
OBSERVATION_HIGH = np.array([RAIL_LIMIT_M, math.pi, MAX_JOINT_SPEED, MAX_JOINT_SPEED], dtype=np.float32)

FRAME_WIDTH, FRAME_HEIGHT = 320, 240
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
STALE_AFTER_S = 0.1  # a moving plant's float32 readings change every tick
NOISE_TOLERANCE = 8.0  # a change of up to this many observation noise std is always plausible


@dataclass(frozen=True)
class Push:
    """A horizontal force `force_n` (N, along +x) on the pole's centre of mass.

    It acts on the physics substeps k with `first_substep <= k < end_substep`, i.e. the substeps that
    start in [start_s, start_s + duration_s) measured from the last reset.
    """

    force_n: float
    first_substep: int
    end_substep: int


class CartPoleBalanceEnv(gymnasium.Env):
    """Keep a pole upright on a cart by pushing the cart along its rail.

    Dynamics: see the module docstring. Physics runs at a fixed period of 1 ms (`physics_period_s`);
    one `step()` is one control period (`control_period_s`, an integer number of physics substeps). The
    cart force is held constant over a control period and re-applied at every substep (PyBullet clears
    forces after each `stepSimulation`); PyBullet's default joint motors are turned off.

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
    angle sensor would). The observation is clipped to the observation space: x in [-15, 15] m (the
    rail's limits), theta in [-pi, pi], speeds in [-100, 100] (PyBullet's joint speed clamp); only noise
    or the cart overshooting the end of the rail can reach these bounds.

    Reward: +1 for every step taken while the episode is not terminated (the classic cart-pole reward:
    the step that ends in termination still earns 1, so an episode's return is its length); 0 for steps
    taken after termination without a reset.

    Termination: |theta| > 0.6 rad or |x| > 2.4 m (true state, not the noisy observation). Truncation
    comes from `max_episode_steps` in the registration (1000 steps).

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

    Sensor faults corrupt the observation after noise and clipping (a faulty reading may be NaN, inf
    or outside the observation space), never the true state. `fault_ticks[kind]` counts the readings
    each kind corrupted since the last reset. `sensor_names` names the observation's components, and
    `sensor_limits` gives per sensor the plausible readings while the task runs, for a sensor monitor
    such as `neuroctl.runtime.monitor`: |x| <= 3 m, |theta| <= 1 rad, |x_dot| <= 10 m/s, |theta_dot| <=
    20 rad/s; x and theta change at most at 10 m/s and 20 rad/s (plus 8 observation noise std); a
    reading unchanged for 0.1 s is stale.

    Timing: each `step()` writes the wall time (s) of its stages, named in `STAGE_NAMES`, into
    `stage_times_s` in place: actuate (check, clip and scale the action), physics (the substeps),
    sense (read the joints, build the observation, check termination).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 100}
    STAGE_NAMES = ("actuate", "physics", "sense")

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
    ) -> None:
        self.physics_period_s = PHYSICS_PERIOD_S
        self._n_substeps = _check_control_period(control_period_s)
        self.control_period_s = float(control_period_s)
        self.max_force_n = _check_max_force(max_force_n)
        self.initial_theta_rad = _check_initial_theta(initial_theta_rad)
        self.observation_noise_std = _check_noise(observation_noise_std)
        self.position_only = _check_position_only(position_only)
        self.pushes = _check_pushes(pushes, PHYSICS_PERIOD_S)
        self.render_mode = _check_render_mode(render_mode)
        self.metadata = {**self.metadata, "render_fps": 1.0 / self.control_period_s}

        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._n_observed = 2 if self.position_only else 4
        self._observation_high = OBSERVATION_HIGH[: self._n_observed]
        self._observation_low = -self._observation_high
        self.observation_space = spaces.Box(self._observation_low, self._observation_high, dtype=np.float32)
        self.sensor_names = SENSOR_NAMES[: self._n_observed]
        self.sensor_limits = _sensor_limits(self.sensor_names, self.observation_noise_std)
        self._faults = FaultInjector(parse_faults(faults, self.sensor_names, self.control_period_s),
                                     self._n_observed)
        self.fault_ticks = self._faults.fault_ticks

        self.nonfinite_actions = 0
        self.stage_times_s = np.zeros(len(self.STAGE_NAMES), dtype=np.float64)
        self._state = np.zeros(4)  # true [x, theta, x_dot, theta_dot] after the last reset/step
        self._substep = 0  # physics substeps since the last reset
        self._terminated = False
        self._linear_model: tuple[np.ndarray, np.ndarray] | None = None

        self._scene = BulletScene(PHYSICS_PERIOD_S)
        self._body = self._scene.load_data_urdf("cartpole.urdf")
        self._scene.disable_joint_motors(self._body, (SLIDER_JOINT, HINGE_JOINT))
        pybullet.changeVisualShape(
            self._body, POLE_LINK, rgbaColor=POLE_COLOUR_RGBA, physicsClientId=self._scene.client_id
        )
        self._view_matrix, self._projection_matrix = _camera_matrices()

    # ---- gymnasium API ----

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode from a state drawn from the seed (see the class docstring)."""
        super().reset(seed=seed)
        self._set_joint_state(self._sample_initial_state())
        self._read_joint_state(self._state)
        self._substep = 0
        self._terminated = False
        self._faults.reset()
        return self._observation(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Hold the commanded cart force for one control period; return the usual gymnasium 5-tuple."""
        t_start = perf_counter()
        force_n = self._force_from_action(action)
        t_actuated = perf_counter()
        self._advance(force_n, self._substep, with_pushes=True)
        self._substep += self._n_substeps
        t_simulated = perf_counter()
        self._read_joint_state(self._state)
        reward = 0.0 if self._terminated else 1.0
        self._terminated = self._terminated or self._failed()
        observation = self._observation()
        t_sensed = perf_counter()
        times = self.stage_times_s
        times[0] = t_actuated - t_start
        times[1] = t_simulated - t_actuated
        times[2] = t_sensed - t_simulated
        return observation, reward, self._terminated, False, {}

    def render(self) -> np.ndarray | None:
        """The current scene as uint8 (240, 320, 3) with render_mode "rgb_array", else None."""
        if self.render_mode != "rgb_array":
            return None
        return self._frame()

    def close(self) -> None:
        """Disconnect the private PyBullet server (safe to call twice)."""
        self._scene.close()

    # ---- for controllers and tools ----

    def linear_model(self) -> tuple[np.ndarray, np.ndarray]:
        """Discrete model x[k+1] = A x[k] + B a[k] of one control period about upright (x = 0, a = 0).

        x is the full state [x, theta, x_dot, theta_dot] (m, rad, m/s, rad/s), a the normalised action
        (force / max_force_n). A (4x4) and B (4x1), float64, are central finite differences of the
        simulated plant itself (pushes off), computed once per instance; the simulation's current
        state is left untouched.
        """
        if self._linear_model is None:
            with self._scene.preserved_state():
                self._linear_model = self._finite_difference_model()
        A, B = self._linear_model
        return A.copy(), B.copy()

    def render_state(self, observation_state: Any) -> np.ndarray:
        """A frame (uint8, 240x320x3) of the robot in a full state [x, theta, x_dot, theta_dot].

        For videos made from logged trajectories outside the control loop (a frame costs 10-25 ms);
        works with any render_mode and restores the simulation state afterwards.
        """
        state = np.asarray(observation_state, dtype=np.float64)
        if state.shape != (4,) or not np.all(np.isfinite(state)):
            expected = "must be 4 finite numbers [x, theta, x_dot, theta_dot]"
            raise invalid("observation_state", expected, observation_state)
        with self._scene.preserved_state():
            self._set_joint_state(state)
            return self._frame()

    # ---- internals ----

    def _force_from_action(self, action: Any) -> float:
        """Cart force in N: the action clipped to [-1, 1] times max_force_n; non-finite -> 0 (counted)."""
        if type(action) is np.ndarray and action.shape == ACTION_SHAPE and action.dtype.kind == "f":
            value = float(action[0])  # the fast path: what agents and the runtime loop pass
        else:
            value = _action_value(action)
        if not math.isfinite(value):
            self.nonfinite_actions += 1
            return 0.0
        return min(1.0, max(-1.0, value)) * self.max_force_n

    def _advance(self, force_n: float, first_substep: int, with_pushes: bool) -> None:
        """Run one control period of physics substeps holding the cart force `force_n` (N).

        The force, and any push active at a substep, is re-applied before every stepSimulation because
        PyBullet clears applied forces after each one.
        """
        client, body = self._scene.client_id, self._body
        apply_pushes = with_pushes and bool(self.pushes)
        for substep in range(first_substep, first_substep + self._n_substeps):
            pybullet.setJointMotorControl2(
                body, SLIDER_JOINT, pybullet.TORQUE_CONTROL, force=force_n, physicsClientId=client
            )
            if apply_pushes:
                self._apply_pushes(substep)
            pybullet.stepSimulation(physicsClientId=client)

    def _apply_pushes(self, substep: int) -> None:
        """Apply the sum of the pushes active at `substep` at the pole's centre of mass (world frame)."""
        force_n = sum(p.force_n for p in self.pushes if p.first_substep <= substep < p.end_substep)
        if force_n != 0.0:
            client = self._scene.client_id
            centre_of_mass = pybullet.getLinkState(self._body, POLE_LINK, physicsClientId=client)[0]
            force = (force_n, 0.0, 0.0)
            pybullet.applyExternalForce(
                self._body, POLE_LINK, force, centre_of_mass, pybullet.WORLD_FRAME, physicsClientId=client
            )

    def _read_joint_state(self, out: np.ndarray) -> None:
        """Write the true [x, theta, x_dot, theta_dot] into `out` (theta wrapped to [-pi, pi])."""
        (x, x_dot, _, _), (theta, theta_dot, _, _) = pybullet.getJointStates(
            self._body, (SLIDER_JOINT, HINGE_JOINT), physicsClientId=self._scene.client_id
        )
        out[0] = x
        out[1] = math.remainder(theta, 2.0 * math.pi)
        out[2] = x_dot
        out[3] = theta_dot

    def _failed(self) -> bool:
        """The pole fell past THETA_LIMIT_RAD or the cart left the track (true state, not observed)."""
        return bool(abs(self._state[0]) > X_LIMIT_M or abs(self._state[1]) > THETA_LIMIT_RAD)

    def _set_joint_state(self, state: np.ndarray) -> None:
        """Put the robot in the full state [x, theta, x_dot, theta_dot]."""
        client = self._scene.client_id
        pybullet.resetJointState(self._body, SLIDER_JOINT, state[0], state[2], physicsClientId=client)
        pybullet.resetJointState(self._body, HINGE_JOINT, state[1], state[3], physicsClientId=client)

    def _sample_initial_state(self) -> np.ndarray:
        """[x, theta, x_dot, theta_dot] from the env's RNG (distribution in the class docstring)."""
        rng = self.np_random
        low, high = self.initial_theta_rad
        theta = rng.uniform(low, high) * rng.choice((-1.0, 1.0))
        x, x_dot, theta_dot = rng.uniform(-INITIAL_SPREAD, INITIAL_SPREAD, size=3)
        return np.array([x, theta, x_dot, theta_dot])

    def _observation(self) -> np.ndarray:
        """The (optionally noisy, position-only, faulty) float32 observation of the current true state."""
        n = self._n_observed
        observed = self._state[:n].astype(np.float32)
        if self.observation_noise_std > 0.0:
            noisy = self._state[:n] + self.np_random.normal(0.0, self.observation_noise_std, size=n)
            noisy[1] = math.remainder(noisy[1], 2.0 * math.pi)
            observed[:] = noisy
        np.minimum(observed, self._observation_high, out=observed)  # two ufuncs: faster than np.clip
        np.maximum(observed, self._observation_low, out=observed)
        if self._faults.faults:
            self._faults.apply(observed, self.np_random)
        return observed

    def _finite_difference_model(self) -> tuple[np.ndarray, np.ndarray]:
        """Central differences of one control period about upright (the caller restores the state)."""
        h = FINITE_DIFFERENCE_STEP
        A = np.empty((4, 4))
        for i in range(4):
            step = np.zeros(4)
            step[i] = h
            A[:, i] = (self._one_period(step, 0.0) - self._one_period(-step, 0.0)) / (2.0 * h)
        B = ((self._one_period(np.zeros(4), h) - self._one_period(np.zeros(4), -h)) / (2.0 * h))[:, None]
        return A, B

    def _one_period(self, state: np.ndarray, action: float) -> np.ndarray:
        """The state one control period after `state` under a constant `action`, without pushes."""
        self._set_joint_state(state)
        self._advance(action * self.max_force_n, 0, with_pushes=False)
        after = np.empty(4)
        self._read_joint_state(after)
        return after

    def _frame(self) -> np.ndarray:
        return self._scene.render_rgb(self._view_matrix, self._projection_matrix, FRAME_WIDTH, FRAME_HEIGHT)


ACTION_SHAPE = (1,)
ACTION_EXPECTED = "must be one real number (an array of shape (1,), a scalar or a list of one number)"


def _action_value(action: Any) -> float:
    """The number in an action that is not already a float array of shape (1,): a TypeError for what is
    not a real number (strings, bools, None, complex, objects), a ValueError for a wrong size or shape
    or an integer too large for a float; each names `action`."""
    if isinstance(action, (int, float, np.integer, np.floating)) and not isinstance(action, (bool, np.bool_)):
        return _real_action(action, action)
    if isinstance(action, (bool, np.bool_, str, bytes)) or action is None:
        raise TypeError(f"action: {ACTION_EXPECTED}, got {reprlib.repr(action)}")
    try:
        array = np.asarray(action)
    except (TypeError, ValueError, OverflowError):  # ragged nesting, objects numpy cannot convert
        raise ValueError(f"action: {ACTION_EXPECTED}, got {reprlib.repr(action)}") from None
    if array.shape not in ((), ACTION_SHAPE):
        raise ValueError(f"action: {ACTION_EXPECTED}, got shape {array.shape}: {reprlib.repr(action)}")
    item = array.reshape(())[()]
    if array.dtype == object:  # a Python int beyond int64, or any other object
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return _real_action(item, action)
    elif array.dtype.kind in "iuf":
        return float(item)
    raise TypeError(f"action: {ACTION_EXPECTED}, got {reprlib.repr(action)} (dtype {array.dtype})")


def _real_action(number: Any, action: Any) -> float:
    try:
        return float(number)
    except OverflowError:  # an int beyond 1.8e308
        raise ValueError(f"action: {ACTION_EXPECTED} within the float range, got {reprlib.repr(action)}") from None


def _sensor_limits(names: Sequence[str], noise_std: float) -> dict[str, dict[str, float]]:
    """Plausible readings per sensor while the task runs (see the class docstring)."""
    return {
        name: {"low": -high, "high": high, "max_rate_per_s": rate, "stale_after_s": STALE_AFTER_S,
               "tolerance": NOISE_TOLERANCE * noise_std}
        for name, high, rate in zip(names, PLAUSIBLE_HIGH, PLAUSIBLE_RATE)
    }


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

PUSH_KEYS = ("start_s", "duration_s", "force_n")


def _check_control_period(value: Any) -> int:
    """Number of physics substeps per control period."""
    longest_s = MAX_SUBSTEPS * PHYSICS_PERIOD_S
    expected = f"must be a multiple of {PHYSICS_PERIOD_S} s in [{PHYSICS_PERIOD_S}, {longest_s}]"
    period_s = real("control_period_s", value, expected)
    if not 0.0 < period_s <= 2.0 * longest_s:  # before dividing: round() of a huge ratio overflows
        raise invalid("control_period_s", expected, value)
    n_substeps = round(period_s / PHYSICS_PERIOD_S)
    if not 1 <= n_substeps <= MAX_SUBSTEPS or abs(n_substeps * PHYSICS_PERIOD_S - period_s) > 1e-9:
        raise invalid("control_period_s", expected, value)
    return n_substeps


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


def _check_noise(value: Any) -> float:
    return in_range("observation_noise_std", value, "a standard deviation", 0.0, MAX_NOISE_STD)


def _check_position_only(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise invalid("position_only", "must be True or False", value)
    return bool(value)


def _check_pushes(value: Any, physics_period_s: float) -> tuple[Push, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise invalid("pushes", f"must be a list of dicts with keys {', '.join(PUSH_KEYS)}", value)
    return tuple(_check_push(f"pushes[{i}]", push, physics_period_s) for i, push in enumerate(value))


def _check_push(path: str, push: Any, physics_period_s: float) -> Push:
    """One push as the physics substeps it acts on (substep k covers [k, k + 1) physics periods)."""
    if not isinstance(push, Mapping) or set(push) != set(PUSH_KEYS):
        raise invalid(path, f"must be a dict with exactly the keys {', '.join(PUSH_KEYS)}", push)
    start_s = in_range(f"{path}.start_s", push["start_s"], "a time", 0.0, MAX_TIME_S, "s")
    duration_s = in_range(f"{path}.duration_s", push["duration_s"], "a duration", physics_period_s,
                          MAX_TIME_S, "s")
    force_n = in_range(f"{path}.force_n", push["force_n"], "a force", -MAX_PUSH_FORCE_N, MAX_PUSH_FORCE_N, "N")
    first = ticks(start_s, physics_period_s)  # the first substep starting at or after start_s
    end = ticks(start_s + duration_s, physics_period_s)
    return Push(force_n=force_n, first_substep=first, end_substep=end)


def _check_render_mode(value: Any) -> str | None:
    if value is not None and value != "rgb_array":
        raise invalid("render_mode", "must be None or 'rgb_array'", value)
    return value
