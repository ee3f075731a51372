"""What the runtime knows of an environment: its robot contract (`neuroctl.envs.robot`), with defaults for
the parts a user's own environment leaves out.

`describe(env)` is the one place that reads an environment's declarations; the loop, the sensor monitor,
launch files, eval, plots and video take the `RobotDescription` it returns. The defaults:

- control period: `control_period_s`, else gymnasium's `dt` (MuJoCo environments have it);
- sensors: one per observation component, named `obs[i]`, no unit, plausible within the observation
  space's bounds (no rate or stale check);
- actuators: one per action component, named `act[i]`, no unit, limit the larger bound of the action
  space (the command is the action itself: `command_scales` 1, where a declared robot's are its
  actuators' limits on a normalised action);
- stages: `control`, then the environment's own `STAGE_NAMES`, else one `env_step`;
- task: none (the launch file's `task` weights on the observation and action, no task metrics).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import gymnasium
import numpy as np

from neuroctl.envs.robot import (Actuator, DeclaredRobot, FaultyRobot, LinearisableRobot, PlantModel,
                                 PushedRobot, RenderableRobot, Robot, Sensor, Task, TaskRobot, TimedRobot)

CONTROL_STAGE = "control"
ENV_STEP_STAGE = "env_step"


@runtime_checkable
class _TimestepEnv(Protocol):
    """gymnasium's MuJoCo environments: `dt`, the simulated time of one step, in s."""

    dt: float


@dataclass(frozen=True)
class RobotDescription:
    """An environment as the runtime sees it (see the module docstring for the defaults)."""

    control_period_s: float
    sensors: tuple[Sensor, ...]
    actuators: tuple[Actuator, ...]
    stage_names: tuple[str, ...]
    task: Task | None
    linearisable: bool
    renderable: bool
    observation_noise_std: float
    push_intervals_s: tuple[tuple[float, float, float], ...]
    push_description: str
    command_scales: tuple[float, ...] = ()
    """Per actuator, the command per action unit: the actuator's limit for a declared robot (its action
    is normalised to [-1, 1]), 1 for the default actuators (the action is the command)."""

    @property
    def sensor_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sensors)


class NotARobot(ValueError):
    """The environment cannot be driven by the neuroctl loop: `str()` says what it lacks."""


def describe(env: gymnasium.Env) -> RobotDescription:
    """The environment's `RobotDescription`; NotARobot if it has no 1-D Box spaces or no control period."""
    unwrapped = env.unwrapped
    for space in (env.observation_space, env.action_space):
        if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
            raise NotARobot(f"1-D Box observation and action spaces (it has {space})")
    period = control_period_of(env)
    if period is None:
        raise NotARobot("a control period (control_period_s, or gymnasium's dt)")
    if not 0.0 < period < float("inf"):
        raise NotARobot(f"a positive control period (it says {period} s)")
    declared = isinstance(unwrapped, DeclaredRobot)
    pushed = isinstance(unwrapped, PushedRobot)
    stages = tuple(unwrapped.STAGE_NAMES) if isinstance(unwrapped, TimedRobot) else (ENV_STEP_STAGE,)
    actuators = tuple(unwrapped.actuators) if declared else _default_actuators(env.action_space)
    return RobotDescription(
        control_period_s=period,
        sensors=tuple(unwrapped.sensors) if declared else _default_sensors(env.observation_space),
        actuators=actuators,
        stage_names=(CONTROL_STAGE, *stages),
        task=unwrapped.task if isinstance(unwrapped, TaskRobot) else None,
        linearisable=isinstance(unwrapped, LinearisableRobot),
        renderable=isinstance(unwrapped, RenderableRobot),
        observation_noise_std=float(unwrapped.observation_noise_std) if declared else 0.0,
        push_intervals_s=tuple(unwrapped.push_intervals_s) if pushed else (),
        push_description=(unwrapped.push_description or "") if pushed else "",
        command_scales=tuple(a.limit if declared else 1.0 for a in actuators))


def control_period_of(env: gymnasium.Env) -> float | None:
    """The environment's control period in s (`control_period_s`, else gymnasium's `dt`), or None."""
    unwrapped = env.unwrapped
    if isinstance(unwrapped, Robot):
        return float(unwrapped.control_period_s)
    if isinstance(unwrapped, _TimestepEnv):
        return float(unwrapped.dt)
    return None


def linearisable(env: gymnasium.Env) -> bool:
    """Whether the environment offers `linear_model()` (`LinearisableRobot`)."""
    return isinstance(env.unwrapped, LinearisableRobot)


def timed(env: gymnasium.Env) -> np.ndarray | None:
    """The environment's per-stage wall times of its last step (`TimedRobot.stage_times_s`), or None."""
    unwrapped = env.unwrapped
    return unwrapped.stage_times_s if isinstance(unwrapped, TimedRobot) else None


@runtime_checkable
class InPlaceStepper(Protocol):
    """An environment that can step into its caller's buffer (`BulletRobotEnv.step_into`): the
    observation written into `observation_out`, no info; returns (reward, terminated, truncated)."""

    def step_into(self, action: np.ndarray, observation_out: np.ndarray) -> tuple[float, bool, bool]: ...


def stepper(env: gymnasium.Env) -> Callable[[np.ndarray, np.ndarray], tuple[float, bool, bool]]:
    """`step(action, observation_out) -> (reward, terminated, truncated)` for the loop: the environment's
    own `step_into` when it has one (no allocation; a wrapper hides it, so a wrapped environment is
    stepped through its wrappers), else its gymnasium `step` with the observation copied into
    `observation_out`."""
    if isinstance(env, InPlaceStepper):
        return env.step_into

    def step(action: np.ndarray, observation_out: np.ndarray) -> tuple[float, bool, bool]:
        observation, reward, terminated, truncated, _ = env.step(action)
        observation_out[...] = observation
        return reward, terminated, truncated

    return step


def fault_ticks(env: gymnasium.Env) -> dict[str, int]:
    """The environment's injected-fault counts since reset (`FaultyRobot.fault_ticks`), or none."""
    unwrapped = env.unwrapped
    return dict(unwrapped.fault_ticks) if isinstance(unwrapped, FaultyRobot) else {}


def _default_sensors(space: gymnasium.spaces.Box) -> tuple[Sensor, ...]:
    low = np.asarray(space.low, dtype=np.float64)
    high = np.asarray(space.high, dtype=np.float64)
    return tuple(Sensor(f"obs[{i}]", "", low=float(lo), high=float(hi))
                 for i, (lo, hi) in enumerate(zip(low, high)))


def _default_actuators(space: gymnasium.spaces.Box) -> tuple[Actuator, ...]:
    bound = np.maximum(np.abs(space.low), np.abs(space.high)).astype(np.float64)
    return tuple(Actuator(f"act[{i}]", "", float(limit)) for i, limit in enumerate(bound))


@runtime_checkable
class StateSettableEnv(Protocol):
    """gymnasium's MuJoCo environments (`MujocoEnv`): the simulator's state as one vector
    (`state_vector()`, qpos then qvel), a way to set it (`set_state(qpos, qvel)`) and the initial joint
    positions (`init_qpos`, which gives qpos's length)."""

    init_qpos: np.ndarray

    def state_vector(self) -> np.ndarray: ...

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None: ...


def finite_difference_model(env: gymnasium.Env, seed: int, state_step: float = 1e-6,
                            action_step: float = 1e-6) -> PlantModel:
    """The discrete model of one step of an environment that can set its state (`StateSettableEnv`),
    by central differences about the state after `reset(seed=seed)` with zero action:

        x[k+1] - x_op = A (x[k] - x_op) + B u[k],    y = y_op + C (x - x_op)

    with x = `state_vector()`, u in action units, y the observation. When the observation is the state
    vector, C and y_op are None; otherwise C = (dy[k+1]/dx[k]) A^-1, from the observations the perturbed
    steps return (A is invertible for a physics step): the observation's Jacobian at the state one step
after x_op (close to it for a state near equilibrium), and y_op the observation after the reset.
    Each of the 2 (n_x + n_u) perturbed steps starts from `reset(seed=seed)` and `set_state`; the
    environment is left in a perturbed state (a run resets it). The drift x[k+1] - x_op at zero action is
    not part of the model: the operating point should be near an equilibrium (the upright pendulum).
    TypeError if the environment cannot set its state.
    """
    unwrapped = env.unwrapped
    if not isinstance(unwrapped, StateSettableEnv):
        raise TypeError(f"{type(unwrapped).__name__} cannot set its state (state_vector() and "
                        "set_state(qpos, qvel), as gymnasium's MuJoCo environments have)")
    y_op = np.asarray(env.reset(seed=seed)[0], dtype=np.float64).reshape(-1)
    x_op = np.array(unwrapped.state_vector(), dtype=np.float64)
    nq, nx = np.size(unwrapped.init_qpos), x_op.size
    nu = env.action_space.shape[0]
    observed_state = y_op.shape == x_op.shape and np.allclose(y_op, x_op)

    def step(x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        env.reset(seed=seed)
        unwrapped.set_state(x[:nq].copy(), x[nq:].copy())
        observation = unwrapped.step(u.astype(env.action_space.dtype))[0]
        return np.array(unwrapped.state_vector(), dtype=np.float64), np.asarray(observation, dtype=np.float64)

    zero = np.zeros(nu)
    a, b, dy_dx = np.zeros((nx, nx)), np.zeros((nx, nu)), np.zeros((y_op.size, nx))
    for i in range(nx):
        dx = np.zeros(nx)
        dx[i] = state_step
        (x_plus, y_plus), (x_minus, y_minus) = step(x_op + dx, zero), step(x_op - dx, zero)
        a[:, i] = (x_plus - x_minus) / (2 * state_step)
        dy_dx[:, i] = (y_plus - y_minus) / (2 * state_step)
    for j in range(nu):
        du = np.zeros(nu)
        du[j] = action_step
        b[:, j] = (step(x_op, du)[0] - step(x_op, -du)[0]) / (2 * action_step)
    c = None if observed_state else dy_dx @ np.linalg.inv(a)
    return PlantModel(A=a, B=b, dt_s=float(control_period_of(env)), x_op=x_op, a_op=zero,
                      state_names=tuple(f"state[{i}]" for i in range(nx)), C=c,
                      y_op=None if observed_state else y_op)
