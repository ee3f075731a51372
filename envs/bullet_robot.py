"""`BulletRobotEnv`: the base class of the neuroctl PyBullet robots (in the spirit of gymnasium's `MujocoEnv`).

It owns what every robot shares, so that a robot file holds only its scene, its state, its task and its
camera: a private physics server (`BulletScene`), the physics period and the substeps of one control
period (`do_simulation`), the normalised action (checked, clipped to [-1, 1], scaled per actuator; a
non-finite action applies no command and is counted), the observation pipeline (Gaussian noise from the
env's RNG, angles wrapped again, clipping to the observation space, sensor faults), pushes (a force
schedule the robot applies where it says), stage timing, get/set/save/restore of the state, frames of a
logged observation, and the linearisation of one control period about any operating point by central
finite differences of the simulated plant itself.

A robot subclass calls `super().__init__(...)` with its sensors and actuators, loads its bodies into
`self.scene`, and implements the hooks:

    _apply_command(command)          the command (actuator units) into PyBullet before each stepSimulation
                                     call (`do_simulation`: one call a period, or one a substep)
    _read_state(out)                 the true state (model coordinates) into `out`
    _set_state(state)                put the simulation in `state`
    _observe(state, out)             the noise-free float64 observation of `state` into `out`
    _sample_initial_state()          the episode's first state, from `self.np_random`
    _after_step()                    (reward, terminated) once the state after a step has been read
    _camera()                        (view, projection) matrices of the frames
    state_of_observation(obs)        the state a frame of a logged observation shows
    _end_reason()                    why the episode terminated (optional: "terminated")
    _is_success()                    whether an ending episode succeeded (optional: not terminated)
    _state_error(state, out)         the task's tracking error of the true state (optional: the
                                     `tracking_error` of the noise-free observation)

A robot whose state is joint positions and velocities and whose commands are joint torques may declare
`native_joints` (`neuroctl.envs.bullet_native.NativeJoints`, once its bodies are loaded): a control period
with no push acting is then one compiled call of PyBullet's C API (`joint_robot_period`: command, task
cost, physics, joint states, observation), the same calls and results as the Python path without its
Python (where the C API cannot be reached, `native_api()` None, the Python path runs).

A robot that takes pushes says where they act: the class attribute `push_description` (None, the
default: it takes none, and a `pushes` kwarg is refused) and, once its bodies are loaded, `push_site`
(a `PushSite`: the link and the world direction of the force).

Episodes, info, rewards (every robot):
- The env truncates itself after `episode_s` seconds (None: the robot's default number of control
  periods, its registration's episode), so that `gymnasium.make` adds no TimeLimit (the ids register
  `max_episode_steps=None`); a `max_episode_steps` given to `make` still adds one, and the earlier limit
  ends the episode. Stepping on after the end (no reset) keeps returning the same flags.
- `info` of every step: `state` (the true state, model coordinates), `command` (what was applied, in
  actuator units: the clipped action times each limit; zeros for a non-finite action), `task_cost` (the
  task's cost of the step, e'Qe + a'Ra on the tracking error of the true state before the step and the
  applied normalised action: what `neuroctl eval` sums, up to observation noise and faults). On the
  step that ends an episode: `is_success` (gymnasium's convention) and `end_reason` (why: the robot's
  termination reason, or "time_limit").
- `reward="task_cost"` makes the reward minus `task_cost`, so that a learner optimises what eval scores;
  "default" keeps the robot's own reward.
- `step` returns a fresh observation and info (an agent may keep them); `step_into(action, out)` is the
  same step writing the observation into the caller's buffer, without info and without allocating: the
  neuroctl loop's path (`neuroctl.runtime.robots.stepper`).
- Pickling or deep-copying an env gives an independent working copy: a fresh PyBullet server, the env
  rebuilt from its constructor arguments, then its state, episode clock, RNG and counters restored. An
  env collected without `close()` disconnects its server.
"""

from __future__ import annotations

import math
import reprlib
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Iterator

import gymnasium
import numpy as np
from gymnasium import spaces

from neuroctl.envs.bullet import BulletScene, pybullet
from neuroctl.envs.bullet_native import (JointRobotArrays, NativeJoints, joint_robot_arrays, joint_robot_period,
                                         native_api, native_client)
from neuroctl.envs.checks import MAX_TIME_S, in_range, invalid, real, ticks
from neuroctl.envs.faults import FaultInjector, parse_faults
from neuroctl.envs.kernels import bounded_observation, command_and_cost
from neuroctl.envs.robot import Actuator, PlantModel, Sensor
from neuroctl.network.jit import entry_point

MAX_NOISE_STD = 100.0  # the widest observation bound: more noise would only saturate the clipping
MAX_PUSH_FORCE_N = 10_000.0  # |force_n| of a push (PyBullet stays finite far beyond: it clamps joint speeds)
FINITE_DIFFERENCE_STEP = 1e-4  # state units and action units
FRAME_WIDTH, FRAME_HEIGHT = 320, 240
PUSH_KEYS = ("start_s", "duration_s", "force_n")
REWARDS = ("default", "task_cost")


@dataclass(frozen=True)
class PushSite:
    """Where a robot's pushes act: a force of the push's `force_n` along the unit world `direction`, on
    `link` of `body`, applied at the link's centre of mass (or at its frame origin, `at_frame_origin`:
    for a massless link such as a grasp point)."""

    body: int
    link: int
    direction: tuple[float, float, float]
    at_frame_origin: bool = False


@dataclass(frozen=True)
class Push:
    """A force of `force_n` N (along the robot's push direction) on the physics substeps k with
    `first_substep <= k < end_substep`, i.e. those that start in [start_s, start_s + duration_s) after
    the last reset."""

    force_n: float
    first_substep: int
    end_substep: int


class BulletRobotEnv(gymnasium.Env):
    """A PyBullet robot as a gymnasium environment; see the module docstring for what a subclass adds.

    Keyword arguments shared by every robot (each checked, a ValueError naming it otherwise):
        control_period_s: seconds per `step()`, a multiple of the physics period, at most
            `max_substeps` physics periods.
        observation_noise_std: standard deviation of Gaussian observation noise, each component in its
            own unit, in [0, 100]. Default 0.
        pushes: a list of dicts {start_s, duration_s, force_n}: a force of force_n N where the robot
            applies pushes, during [start_s, start_s + duration_s) after each reset; start_s in [0, 1e6]
            s, duration_s in [one physics period, 1e6] s, |force_n| <= 1e4 N. Default none.
        faults: sensor faults, a list of dicts {kind, sensor, start_s, duration_s, magnitude} (see
            `neuroctl.envs.faults`; sensor: a sensor name or an index). Default none.
        render_mode: None or "rgb_array" (320x240 frames from PyBullet's TinyRenderer).
        episode_s: episode length in seconds of simulated time, in (0, 1e6]: the env truncates itself
            at the first step ending at or after it. None (default): `default_episode_steps` control
            periods.
        reward: "default" (the robot's own reward) or "task_cost" (minus the task cost of the step).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> "BulletRobotEnv":
        """Record the constructor arguments: pickling rebuilds the env from them (see `__getstate__`)."""
        self = super().__new__(cls)
        self._constructor_arguments = (args, dict(kwargs))
        return self

    metadata = {"render_modes": ["rgb_array"], "render_fps": 100}
    STAGE_NAMES = ("actuate", "physics", "sense")
    push_description: str | None = None
    push_site: PushSite | None = None
    command_held_over_substeps = True
    """False for a robot whose `_apply_command` depends on the state within a control period (the arm's
    joint friction): then every substep is a stepSimulation call of its own."""
    native_joints: NativeJoints | None = None
    """Set by a robot that steps natively (module docstring)."""

    def __init__(self, *, physics_period_s: float, control_period_s: float, max_substeps: int,
                 sensors: Sequence[Sensor], actuators: Sequence[Actuator], state_names: Sequence[str],
                 observation_low: np.ndarray, observation_high: np.ndarray,
                 observation_noise_std: float = 0.0, pushes: Sequence[Mapping[str, float]] = (),
                 faults: Sequence[Mapping[str, Any]] = (), render_mode: str | None = None,
                 default_episode_steps: int = 1000, episode_s: float | None = None,
                 reward: str = "default") -> None:
        self.physics_period_s = physics_period_s
        self.n_substeps = _check_control_period(control_period_s, physics_period_s, max_substeps)
        self.control_period_s = float(control_period_s)
        self.observation_noise_std = check_noise_std(observation_noise_std)
        self.pushes = _check_pushes(pushes, physics_period_s)
        if self.pushes and self.push_description is None:
            raise invalid("pushes", f"must be empty: {type(self).__name__} takes no pushes", pushes)
        self.render_mode = _check_render_mode(render_mode)
        self.metadata = {**self.metadata, "render_fps": 1.0 / self.control_period_s}
        self.episode_steps = _check_episode(episode_s, self.control_period_s, default_episode_steps)
        self.episode_s = self.episode_steps * self.control_period_s
        self.reward_kind = _check_reward(reward)

        self.sensors = tuple(sensors)
        self.actuators = tuple(actuators)
        self.state_names = tuple(state_names)
        self.sensor_names = tuple(s.name for s in self.sensors)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(len(self.actuators),), dtype=np.float32)
        self._observation_low = np.asarray(observation_low, dtype=np.float32)
        self._observation_high = np.asarray(observation_high, dtype=np.float32)
        self.observation_space = spaces.Box(self._observation_low, self._observation_high, dtype=np.float32)
        self._command_scale = np.array([a.limit for a in self.actuators], dtype=np.float64)
        self._wrapped = tuple(i for i, sensor in enumerate(self.sensors) if sensor.periodic)
        self._faults = FaultInjector(parse_faults(faults, self.sensor_names, self.control_period_s),
                                     len(self.sensors))
        self.fault_ticks = self._faults.fault_ticks

        self.nonfinite_actions = 0
        self.stage_times_s = np.zeros(len(self.STAGE_NAMES), dtype=np.float64)
        self.state = np.zeros(len(self.state_names))  # true state after the last reset/step
        self.substep = 0  # physics substeps since the last reset
        self.terminated = False
        self.steps = 0  # control periods since the last reset
        self.end_reason: str | None = None  # why the episode ended (None while it runs)
        self._cost_weights: tuple[np.ndarray, np.ndarray] | None = None  # (cost_q, cost_r): `_task_weights`
        self._error = np.zeros(0)
        self._action = np.zeros(len(self.actuators))
        self._command = np.zeros(len(self.actuators))
        self._clean = np.zeros(len(self.sensors))
        self._noise = np.zeros(len(self.sensors))
        self._observed = np.zeros(len(self.sensors), dtype=np.float32)
        self.last_task_cost = 0.0  # of the last step (info["task_cost"])
        self._linear_models: dict[bytes, PlantModel] = {}
        self.scene = BulletScene(physics_period_s)
        self._one_call = self.n_substeps > 1 and self.scene.steps_exactly(self.n_substeps)
        self._native: JointRobotArrays | None | bool = None  # None: not built yet; False: not available
        self._native_out: np.ndarray | None = None  # the observation buffer `_native_period` is typed for
        self._native_action: np.ndarray = self._action  # the action array passed as is (the loop's, once seen)
        self._native_period: Any = None
        self._native_observes = False  # whether `_native_period` writes the observation (no noise, no faults)
        self._step_observation = np.empty(len(self.sensors), dtype=np.float32)  # `step`'s, copied out

    # ---- gymnasium API ----

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode from a state drawn from the seed."""
        super().reset(seed=seed)
        self._set_state(self._sample_initial_state())
        self._read_state(self.state)
        self.substep = 0
        self.steps = 0
        self.terminated = False
        self.end_reason = None
        self._faults.reset()
        return self._observation(np.empty(len(self.sensors), dtype=np.float32)), {"state": self.state.copy()}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Hold the commanded action for one control period; return the usual gymnasium 5-tuple, the
        observation and info fresh (the caller may keep them; info: see the module docstring)."""
        reward, terminated, truncated = self.step_into(action, self._step_observation)
        observation = self._step_observation.copy()
        info = {"state": self.state.copy(), "command": self._command.copy(), "task_cost": self.last_task_cost}
        if terminated or truncated:
            info["is_success"] = self._is_success()
            info["end_reason"] = self.end_reason
        return observation, reward, terminated, truncated, info

    def step_into(self, action: Any, observation_out: np.ndarray) -> tuple[float, bool, bool]:
        """`step` without allocating, for a loop that owns its buffers: the observation into
        `observation_out` (a float array of the observation's size; its float32 values, exactly, in a
        float64 one) and no info (`state`, `last_task_cost` and `end_reason` hold what it would say
        until the next step); returns (reward, terminated, truncated). Stage times: actuate (the
        action's check, clip and scale, the step's task cost), physics (the substeps), sense (the
        state, reward, termination and observation; natively: the state and observation)."""
        native = self._native if self._native is not None else self._build_native()
        if native and (not self.pushes or _no_push_acts(self.pushes, self.substep, self.substep + self.n_substeps)):
            return self._native_step(native, action, observation_out)
        t_start = perf_counter()
        self.last_task_cost = self._actuate(action)  # of the state before the step, as eval scores a tick
        t_actuated = perf_counter()
        self.do_simulation(self._command, self.substep, with_pushes=True)
        self.substep += self.n_substeps
        self.steps += 1
        t_simulated = perf_counter()
        self._read_state(self.state)
        reward, terminated, truncated = self._end_of_step(*self._after_step(), observation_out)
        t_sensed = perf_counter()
        times = self.stage_times_s
        times[0] = t_actuated - t_start
        times[1] = t_simulated - t_actuated
        times[2] = t_sensed - t_simulated
        return reward, terminated, truncated

    def _native_step(self, native: JointRobotArrays, action: Any, observation_out: np.ndarray
                     ) -> tuple[float, bool, bool]:
        """`step_into` as one compiled call (`joint_robot_period`) and the episode's bookkeeping."""
        if action is not self._native_action:
            action = self._native_argument(action)
        if observation_out is not self._native_out:
            if observation_out.shape != self._observed.shape:
                raise ValueError(f"observation_out: expected shape {self._observed.shape}, got {observation_out.shape}")
            self._native_out = observation_out
            self._native_period = entry_point(joint_robot_period, native, self._action, observation_out)
        if self._one_call:
            self.scene.set_substeps_per_call(self.n_substeps)
        finite, self.last_task_cost, read, terminated = self._native_period(native, action, observation_out)
        if not read:
            raise RuntimeError(f"{type(self).__name__}: the physics server did not report the joint states")
        if not finite:
            self.nonfinite_actions += 1
        self.substep += self.n_substeps
        self.steps += 1
        return self._end_of_step(0.0 if self.terminated else 1.0, terminated,  # NativeJoints' reward
                                 None if self._native_observes else observation_out)

    def _native_argument(self, action: Any) -> np.ndarray:
        """The array to pass the action in: itself when it is a float64 array of the action's size (the
        loop's: passed as is from then on), else its values copied into `_action` (checked)."""
        n = len(self.actuators)
        if type(action) is np.ndarray and action.shape == (n,) and action.dtype == np.float64 \
                and action.flags.c_contiguous:
            self._native_action = action
            return action
        self._set_action(action)
        return self._action

    def _end_of_step(self, reward: float, terminated: bool, observation_out: np.ndarray | None
                     ) -> tuple[float, bool, bool]:
        """The episode's bookkeeping once the state after a step is read (`reward`, `terminated`: the
        robot's), and the observation into `observation_out` (None: already there); returns (reward,
        terminated, truncated)."""
        if terminated and not self.terminated:
            self.end_reason = self._end_reason()
        self.terminated = self.terminated or terminated
        truncated = not self.terminated and self.steps >= self.episode_steps
        if truncated and self.end_reason is None:
            self.end_reason = "time_limit"
        if self.reward_kind == "task_cost":
            reward = -self.last_task_cost
        if observation_out is not None:
            self._observation(observation_out)
        return reward, self.terminated, truncated

    def _build_native(self) -> JointRobotArrays | bool:
        """The arrays of the native step (class docstring), or False when the robot declares none or the
        C API cannot be reached."""
        joints = self.native_joints
        held = self.n_substeps == 1 or (self._one_call and self.command_held_over_substeps)  # one call a period
        api = native_api() if joints is not None and held and self.scene.connected else None
        client = None if api is None else native_client(api, self.scene.client_id, joints.body)
        if client is None:
            self._native = False
            return False
        if self._cost_weights is None:
            self._cost_weights = self._task_weights()
        cost_q, cost_r = self._cost_weights
        self._native_observes = self.observation_noise_std == 0.0 and not self._faults.faults
        self._native = joint_robot_arrays(
            api, client, self.scene.client_id, joints, scale=self._command_scale, command=self._command,
            error=self._error, cost_q=cost_q, cost_r=cost_r, state=self.state, low=self._observation_low,
            high=self._observation_high, observed=self._observed,
            observe=self._native_observes, stage_times=self.stage_times_s)
        return self._native

    # ---- pickling: a working copy with its own physics server ----

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the PyBullet server: `__setstate__` rebuilds one from the constructor
        arguments, then restores this state (true state, episode clock, RNG, counters, faults)."""
        state = self.__dict__.copy()
        del state["scene"]
        state.update(_native=None, _native_out=None, _native_period=None)  # bound to the server: rebuilt
        state["_native_action"] = state["_action"]  # not the caller's array
        state["_linear_models"] = {}  # a cache: rebuilt on demand
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        args, kwargs = state["_constructor_arguments"]
        fresh = type(self)(*args, **kwargs)
        self.__dict__.update(fresh.__dict__)  # the new server and everything bound to it
        fresh.__dict__.clear()  # the server now belongs to this env alone
        self.__dict__.update(state)
        self._set_state(self.state)
        self._read_state(self.state)

    def render(self) -> np.ndarray | None:
        """The current scene as uint8 (240, 320, 3) with render_mode "rgb_array", else None."""
        if self.render_mode != "rgb_array":
            return None
        return self._frame()

    def close(self) -> None:
        """Disconnect the private PyBullet server (safe to call twice); a step after it is PyBullet's
        error, not a native call on the freed client."""
        self._native, self._native_out, self._native_period = None, None, None
        self.scene.close()

    # ---- simulation ----

    def do_simulation(self, command: np.ndarray, first_substep: int, with_pushes: bool) -> None:
        """Run one control period of physics substeps holding `command` (actuator units).

        PyBullet clears applied torques and forces after each stepSimulation call, so a call holds
        what was applied before it. The period is one call of all its substeps (`BulletScene.step`)
        when nothing changes within it: the robot's command is constant over the period
        (`command_held_over_substeps`) and no push acts in it (a push's force and point follow the body
        substep by substep); otherwise each substep is a call of its own, the command and the pushes
        active at that substep applied before it.
        """
        n, end = self.n_substeps, first_substep + self.n_substeps
        pushes = self.pushes if with_pushes else ()
        if self._one_call and self.command_held_over_substeps and _no_push_acts(pushes, first_substep, end):
            self._apply_command(command)
            self.scene.step(n)
            return
        substep = first_substep
        while substep < end:  # not a for over range(): no range object and iterator per step
            self._apply_command(command)
            self._apply_pushes(pushes, substep)
            self.scene.step(1)
            substep += 1

    def _apply_pushes(self, pushes: tuple[Push, ...], substep: int) -> None:
        """The sum of the `pushes` active at `substep`, if any."""
        if pushes:
            force_n = 0.0
            for push in pushes:
                if push.first_substep <= substep < push.end_substep:
                    force_n += push.force_n
            if force_n != 0.0:
                self._apply_push(force_n, self.scene.client_id)

    def _apply_push(self, force_n: float, client: int) -> None:
        """`force_n` N along `push_site.direction` at its link (world frame)."""
        site = self.push_site
        link_state = pybullet.getLinkState(site.body, site.link, physicsClientId=client)
        point = link_state[4] if site.at_frame_origin else link_state[0]
        force = (force_n * site.direction[0], force_n * site.direction[1], force_n * site.direction[2])
        pybullet.applyExternalForce(site.body, site.link, force, point, pybullet.WORLD_FRAME, physicsClientId=client)

    def get_state(self) -> np.ndarray:
        """A copy of the true state."""
        return self.state.copy()

    def set_state(self, state: np.ndarray) -> None:
        """Put the robot in `state` (model coordinates; checked)."""
        state = self._checked_state(state, "state")
        self._set_state(state)
        self._read_state(self.state)

    @contextmanager
    def saved_state(self) -> Iterator[None]:
        """Run the `with` block, then put the simulation back exactly as it was (PyBullet save/restore)."""
        with self.scene.preserved_state():
            yield

    def linear_model(self, x_op: np.ndarray | None = None, a_op: np.ndarray | None = None) -> PlantModel:
        """Discrete model of one control period about (x_op, a_op) (the robot's default operating point
        where None): A = d x[k+1] / d x[k], B = d x[k+1] / d a[k], central finite differences of the
        simulated plant itself (pushes off), step FINITE_DIFFERENCE_STEP; cached per operating point.
        The simulation's current state is left untouched."""
        default_x, default_a = self.operating_point()
        x_op = default_x if x_op is None else self._checked_state(x_op, "x_op")
        a_op = default_a if a_op is None else self._checked_action(a_op, "a_op")
        key = x_op.tobytes() + a_op.tobytes()
        if key not in self._linear_models:
            with self.saved_state():
                A, B = self._finite_differences(x_op, a_op)
            self._linear_models[key] = PlantModel(A=A, B=B, dt_s=self.control_period_s, x_op=x_op.copy(),
                                                  a_op=a_op.copy(), state_names=self.state_names)
        model = self._linear_models[key]
        return PlantModel(A=model.A.copy(), B=model.B.copy(), dt_s=model.dt_s, x_op=model.x_op.copy(),
                          a_op=model.a_op.copy(), state_names=model.state_names)

    def operating_point(self) -> tuple[np.ndarray, np.ndarray]:
        """The default (x_op, a_op) of `linear_model`: the zero state and action unless a robot says."""
        return np.zeros(len(self.state_names)), np.zeros(len(self.actuators))

    @property
    def push_intervals_s(self) -> tuple[tuple[float, float, float], ...]:
        """(start_s, end_s, force_n) of each push: the substeps it acts on, in seconds after a reset."""
        period = self.physics_period_s
        return tuple((p.first_substep * period, p.end_substep * period, p.force_n) for p in self.pushes)

    def render_observation(self, observation: Any) -> np.ndarray:
        """A frame (uint8, 240x320x3) of the robot as a logged observation shows it (any render_mode;
        the simulation state is restored afterwards). For videos made outside the control loop."""
        state = self.state_of_observation(np.asarray(observation, dtype=np.float64))
        state = self._checked_state(state, "observation")
        with self.saved_state():
            self._set_state(state)
            return self._frame()

    # ---- internals ----

    def _actuate(self, action: Any) -> float:
        """The command (actuator units) into `_command`: the action clipped to [-1, 1] times each
        actuator's limit, a non-finite action no command (zeros, counted in `nonfinite_actions`); returns
        the step's task cost e'Qe + a'Ra (the task's tracking error of the true state now, the normalised
        command; 0 without a task). The array work is one compiled call."""
        self._set_action(action)
        if self._cost_weights is None:
            self._cost_weights = self._task_weights()
        cost_q, cost_r = self._cost_weights
        if cost_q.shape[0]:  # a task: its tracking error (none: no state weights, no error)
            self._state_error(self.state, self._error)
        finite, cost = command_and_cost(self._action, self._command_scale, self._command, self._error, cost_q, cost_r)
        if not finite:
            self.nonfinite_actions += 1
        return cost

    def _set_action(self, action: Any) -> None:
        """The action's values into `_action` (checked: see `action_expectation`)."""
        n = len(self.actuators)
        if type(action) is np.ndarray and action.shape == (n,) and action.dtype.kind == "f":
            self._action[...] = action  # the fast path (agents', the loop's); [...]: no view, unlike [:]
        else:
            self._action[:] = _action_values(action, n)

    def _task_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(cost_q, cost_r) of the robot's task (without one: no state weights, zero action weights), with
        `_error` sized for its tracking error."""
        task = getattr(self, "task", None)
        if task is None:
            cost_q, cost_r = np.zeros(0), np.zeros(len(self.actuators))
        else:
            cost_q, cost_r = np.asarray(task.cost_q, dtype=np.float64), np.asarray(task.cost_r, dtype=np.float64)
        self._error = np.zeros(cost_q.shape[0])
        return cost_q, cost_r

    def _observation(self, out: np.ndarray) -> np.ndarray:
        """The (optionally noisy, faulty) float32 observation of the current true state into `out` (any
        float dtype), returned."""
        clean = self._clean
        self._observe(self.state, clean)
        if self.observation_noise_std > 0.0:
            noise = self._noise
            self.np_random.standard_normal(out=noise)  # the draws of normal(0, std): std times these
            noise *= self.observation_noise_std
            clean += noise
            for i in self._wrapped:
                clean[i] = math.remainder(clean[i], 2.0 * math.pi)
        observed = self._observed
        bounded_observation(clean, self._observation_low, self._observation_high, observed, out)
        if self._faults.faults:
            self._faults.apply(observed, self.np_random)
            out[...] = observed
        return out

    def _finite_differences(self, x_op: np.ndarray, a_op: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = FINITE_DIFFERENCE_STEP
        n, m = len(self.state_names), len(self.actuators)
        A = np.empty((n, n))
        for i in range(n):
            step = np.zeros(n)
            step[i] = h
            A[:, i] = (self._one_period(x_op + step, a_op) - self._one_period(x_op - step, a_op)) / (2.0 * h)
        B = np.empty((n, m))
        for j in range(m):
            step = np.zeros(m)
            step[j] = h
            B[:, j] = (self._one_period(x_op, a_op + step) - self._one_period(x_op, a_op - step)) / (2.0 * h)
        return A, B

    def _one_period(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        """The state one control period after `state` under a constant normalised `action`, no pushes."""
        self._set_state(state)
        self.do_simulation(action * self._command_scale, 0, with_pushes=False)
        after = np.empty(len(self.state_names))
        self._read_state(after)
        return after

    def _checked_state(self, state: Any, name: str) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (len(self.state_names),) or not np.all(np.isfinite(state)):
            expected = f"must be {len(self.state_names)} finite numbers [{', '.join(self.state_names)}]"
            raise invalid(name, expected, state)
        return state

    def _checked_action(self, action: Any, name: str) -> np.ndarray:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (len(self.actuators),) or not np.all(np.isfinite(action)):
            raise invalid(name, f"must be {len(self.actuators)} finite numbers", action)
        return action

    def _frame(self) -> np.ndarray:
        view, projection = self._camera()
        return self.scene.render_rgb(view, projection, FRAME_WIDTH, FRAME_HEIGHT)

    # ---- hooks ----

    @abstractmethod
    def _apply_command(self, command: np.ndarray) -> None: ...

    @abstractmethod
    def _read_state(self, out: np.ndarray) -> None: ...

    @abstractmethod
    def _set_state(self, state: np.ndarray) -> None: ...

    @abstractmethod
    def _observe(self, state: np.ndarray, out: np.ndarray) -> None: ...

    @abstractmethod
    def _sample_initial_state(self) -> np.ndarray: ...

    @abstractmethod
    def _after_step(self) -> tuple[float, bool]: ...

    @abstractmethod
    def _camera(self) -> tuple[Any, Any]: ...

    @abstractmethod
    def state_of_observation(self, observation: np.ndarray) -> np.ndarray: ...

    def _end_reason(self) -> str:
        """Why the episode terminated, e.g. "theta_limit" (called once, when it does)."""
        return "terminated"

    def _is_success(self) -> bool:
        """Whether the episode that ends now succeeded: by default, it did not terminate."""
        return not self.terminated

    def _state_error(self, state: np.ndarray, out: np.ndarray) -> None:
        """The task's tracking error of the true `state` (the current one) into `out`: by default the
        robot's `tracking_error` of the noise-free observation."""
        self._observe(state, self._clean)
        self.tracking_error(self._clean, out)  # type: ignore[attr-defined]  (a TaskRobot's)


def check_noise_std(value: Any) -> float:
    """The `observation_noise_std` keyword argument, checked."""
    return in_range("observation_noise_std", value, "a standard deviation", 0.0, MAX_NOISE_STD)


def action_expectation(n: int) -> str:
    return ("must be one real number (an array of shape (1,), a scalar or a list of one number)" if n == 1
            else f"must be {n} real numbers (an array of shape ({n},) or a list of {n} numbers)")


def _action_values(action: Any, n: int) -> np.ndarray:
    """The numbers in an action that is not already a float array of shape (n,): a TypeError for what is
    not real numbers (strings, bools, None, complex, objects), a ValueError for a wrong size or shape or
    an integer too large for a float; each names `action`."""
    expected = action_expectation(n)
    if isinstance(action, (bool, np.bool_, str, bytes)) or action is None:
        raise TypeError(f"action: {expected}, got {reprlib.repr(action)}")
    if isinstance(action, (int, float, np.integer, np.floating)):
        if n != 1:
            raise ValueError(f"action: {expected}, got one number {reprlib.repr(action)}")
        return np.array([_real_action(action, action, expected)])
    try:
        array = np.asarray(action)
    except (TypeError, ValueError, OverflowError):  # ragged nesting, objects numpy cannot convert
        raise ValueError(f"action: {expected}, got {reprlib.repr(action)}") from None
    if array.shape not in (((), (1,)) if n == 1 else ((n,),)):
        raise ValueError(f"action: {expected}, got shape {array.shape}: {reprlib.repr(action)}")
    flat = array.reshape(-1)
    if array.dtype == object:  # Python ints beyond int64, or any other object
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
            return np.array([_real_action(v, action, expected) for v in flat])
    elif array.dtype.kind in "iuf":
        return flat.astype(np.float64)
    raise TypeError(f"action: {expected}, got {reprlib.repr(action)} (dtype {array.dtype})")


def _real_action(number: Any, action: Any, expected: str) -> float:
    try:
        return float(number)
    except OverflowError:  # an int beyond 1.8e308
        raise ValueError(f"action: {expected} within the float range, got {reprlib.repr(action)}") from None


# ---- keyword argument checks: each raises ValueError("<kwarg>: <what is expected>, got <value>") ----


def _no_push_acts(pushes: tuple[Push, ...], first_substep: int, end_substep: int) -> bool:
    """Whether no push acts on any of the substeps [first_substep, end_substep)."""
    for push in pushes:
        if push.first_substep < end_substep and first_substep < push.end_substep:
            return False
    return True


def _check_control_period(value: Any, physics_period_s: float, max_substeps: int) -> int:
    """Number of physics substeps per control period."""
    longest_s = max_substeps * physics_period_s
    expected = f"must be a multiple of {physics_period_s} s in [{physics_period_s}, {longest_s:g}]"
    period_s = real("control_period_s", value, expected)
    if not 0.0 < period_s <= 2.0 * longest_s:  # before dividing: round() of a huge ratio overflows
        raise invalid("control_period_s", expected, value)
    n_substeps = round(period_s / physics_period_s)
    if not 1 <= n_substeps <= max_substeps or abs(n_substeps * physics_period_s - period_s) > 1e-9:
        raise invalid("control_period_s", expected, value)
    return n_substeps


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


def _check_episode(value: Any, control_period_s: float, default_steps: int) -> int:
    """The episode's length in control periods: `episode_s` rounded up to whole periods."""
    if value is None:
        return default_steps
    episode_s = in_range("episode_s", value, "a duration", 0.0, MAX_TIME_S, "s", open_low=True)
    return max(1, ticks(episode_s, control_period_s))


def _check_reward(value: Any) -> str:
    if not isinstance(value, str) or value not in REWARDS:
        raise invalid("reward", f"must be one of {', '.join(map(repr, REWARDS))}", value)
    return value


def _check_render_mode(value: Any) -> str | None:
    if value is not None and value != "rgb_array":
        raise invalid("render_mode", "must be None or 'rgb_array'", value)
    return value
