"""Gymnasium wrappers: spikes in front of any environment, and any neuroctl controller as a policy.

    env = SpikeEncodingObservation(gymnasium.make("neuroctl/CartPoleBalance-v0"), "sigma_delta", theta=0.01)
    policy = ControllerPolicy(env, "configs/controllers/cartpole_mpc.yaml")
    action = policy(observation)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import gymnasium
import numpy as np

from neuroctl.config import ConfigError
from neuroctl.control.base import Controller, LinearModel
from neuroctl.control.registry import build_controller, load_controller_config, parse_model_section
from neuroctl.encoding import MAX_POISSON_COUNT, Encoder, PoissonEncoder, PopulationEncoder, SigmaDeltaEncoder
from neuroctl.runtime.robots import control_period_of, linearisable

ENCODERS = ("population", "sigma_delta", "poisson")
ENCODER_PARAMETERS = {"population": ("neurons_per_dimension", "dt_s", "max_rates_hz", "intercepts", "tau_rc_s",
                                     "tau_ref_s"),
                      "sigma_delta": ("theta",), "poisson": ("max_rate_hz",)}
DEFAULT_THETA_FRACTION = 0.01
"""Sigma-delta default: theta is 1 % of each dimension's range (high - low)."""
DEFAULT_MAX_RATE_HZ = 1000.0
"""Poisson default: 1 kHz at `high` (10 expected spikes in a 10 ms window)."""
POISSON_SIGMAS = 10.0
"""Poisson counts are clipped at lambda + 10 sqrt(lambda) + 10 (lambda = max_rate_hz * window_s), a
count a Poisson variable exceeds with probability below 1e-15: the space's bound is finite and honest."""
MAX_WINDOW_S = 10.0  # an encoding window; the population encoder allocates (window / dt_s) x neurons


def _observation_range(env: gymnasium.Env, low: Any, high: Any) -> tuple[np.ndarray, np.ndarray]:
    space = env.observation_space
    if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"env: the observation space must be a 1-D Box, got {space}")
    low = _bound("low", low, space.low, space.shape[0])
    high = _bound("high", high, space.high, space.shape[0])
    for i in np.flatnonzero(~(low < high)):
        raise ValueError(f"low, high: low must be below high in every dimension, got low[{i}] = "
                         f"{float(low[i])!r} >= high[{i}] = {float(high[i])!r}")
    return low, high


def _bound(name: str, value: Any, default: np.ndarray, n: int) -> np.ndarray:
    """`low` or `high` as n finite floats: the space's own bound when None, else a number or n numbers."""
    if value is None:
        bound = np.asarray(default, dtype=np.float64).copy()
        if not np.all(np.isfinite(bound)):
            raise ValueError(f"{name}: the observation space is unbounded: give the encoded range as low= and "
                             f"high=, got the space's {name} {bound.tolist()}")
        return bound
    bound = _per_dimension(name, value, n, "a real number")
    for i in np.flatnonzero(~np.isfinite(bound)):
        raise ValueError(f"{name}: must be finite in every dimension, got {name}[{i}] = {float(bound[i])!r}")
    return bound


def _theta(value: Any, n: int) -> np.ndarray:
    """The sigma-delta threshold: a number or n numbers, each finite and > 0."""
    theta = _per_dimension("theta", value, n, "a number > 0")
    for i in np.flatnonzero(~(np.isfinite(theta) & (theta > 0.0))):
        raise ValueError(f"theta: must be finite and > 0 in every dimension, got theta[{i}] = {float(theta[i])!r}")
    return theta


def _per_dimension(name: str, value: Any, n: int, what: str) -> np.ndarray:
    """`value`, a real number or n of them, as n float64: a TypeError naming `name` for what is not real
    numbers, a ValueError for another length or an integer beyond the float range."""
    expected = f"must be {what} or {n} of them (one per observation dimension)"
    array = None if isinstance(value, (str, bytes)) else np.asarray(value)
    if array is None or array.dtype.kind not in "iufO" or (array.dtype == object and not _all_real(array)):
        raise TypeError(f"{name}: {expected}, got {value!r}")
    try:
        numbers = array.astype(np.float64)
    except OverflowError:  # a Python int beyond the float range
        raise ValueError(f"{name}: {expected}, within the float range, got {value!r}") from None
    if numbers.ndim == 0:
        return np.full(n, float(numbers))
    if numbers.shape != (n,):
        raise ValueError(f"{name}: {expected}, got shape {numbers.shape}: {value!r}")
    return numbers


def _all_real(array: np.ndarray) -> bool:
    return all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))
               for x in array.flat)


def _positive(name: str, value: Any, most: float, unit: str) -> float:
    """A finite real number in (0, most]; a TypeError or ValueError naming `name` otherwise."""
    expected = (f"must be a finite number > 0 {unit}" if most == math.inf
                else f"must be a number in (0, {most:g}] {unit}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: {expected}, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not (0.0 < number <= most and math.isfinite(number)):  # NaN fails too
        raise ValueError(f"{name}: {expected}, got {value!r}")
    return number


class SpikeEncodingObservation(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """Observations as the output of a neuroctl encoder, over the range [low, high] per dimension.

    - `population`: spike counts (int32) of LIF neurons tuned over the range, per window;
    - `poisson`: Poisson spike counts (int32) per dimension, per window;
    - `sigma_delta`: graded events (float64, the change of the value) when it moved by more than theta.
    The window defaults to the environment's control period. Out-of-range values are clamped and
    non-finite ones held at the last good value (counted in `encoder.nonfinite_count`).

    Arguments are checked here, each error naming its argument: `low`, `high` (and `theta`) a number
    or one per observation dimension, finite, low < high; `window_s` in (0, 10] s (None: the control
    period); Poisson `max_rate_hz * window_s` at most 1e9 spikes, so that the int32 counts never wrap.
    An encoder parameter the encoder does not take is a ValueError naming it and listing those it takes.

    Defaults: sigma-delta `theta` = 1 % of each dimension's range; Poisson `max_rate_hz` = 1000 Hz.
    Poisson counts are clipped at lambda + 10 sqrt(lambda) + 10 (lambda = max_rate_hz * window_s, the
    expected count at `high`; exceeded with probability below 1e-15), the space's finite bound.
    `reconstruct=True` (sigma-delta only) appends the decoded value (the running sum of the events, within
    theta of the clamped observation) to the events, so that a memoryless policy sees the state: the
    observation is then [events (n), reconstructed values (n)].

    The wrapper records its constructor arguments (`gymnasium.utils.RecordConstructorArgs`), so it
    pickles and passes `check_env` with the env it wraps.
    """

    def __init__(self, env: gymnasium.Env, encoder: str = "population", low: Any = None, high: Any = None,
                 window_s: float | None = None, seed: int = 0, reconstruct: bool = False,
                 **parameters: Any) -> None:
        gymnasium.utils.RecordConstructorArgs.__init__(self, encoder=encoder, low=low, high=high, window_s=window_s,
                                                       seed=seed, reconstruct=reconstruct, **parameters)
        super().__init__(env)
        if not isinstance(encoder, str) or encoder not in ENCODERS:
            raise ValueError(f"encoder: expected one of {', '.join(ENCODERS)}, got {encoder!r}")
        for name in parameters:
            if name not in ENCODER_PARAMETERS[encoder]:
                raise ValueError(f"{name}: not a parameter of the {encoder} encoder; it takes "
                                 f"{', '.join(ENCODER_PARAMETERS[encoder])} (and low, high, window_s, seed"
                                 f"{', reconstruct' if encoder == 'sigma_delta' else ''})")
        if not isinstance(reconstruct, (bool, np.bool_)):
            raise ValueError(f"reconstruct: must be True or False, got {reconstruct!r}")
        if reconstruct and encoder != "sigma_delta":
            raise ValueError(f"reconstruct: only the sigma_delta encoder reconstructs the value, got encoder "
                             f"{encoder!r}")
        self.reconstruct = bool(reconstruct)
        low, high = _observation_range(env, low, high)
        window_s = self._window(encoder, window_s, control_period_of(env))
        if encoder == "sigma_delta" and "theta" not in parameters:
            parameters = {**parameters, "theta": DEFAULT_THETA_FRACTION * (high - low)}
        if encoder == "poisson" and "max_rate_hz" not in parameters:
            parameters = {**parameters, "max_rate_hz": DEFAULT_MAX_RATE_HZ}
        if encoder == "sigma_delta" and "theta" in parameters:
            parameters = {**parameters, "theta": _theta(parameters["theta"], low.shape[0])}
        if encoder == "poisson" and "max_rate_hz" in parameters:
            rate = _positive("max_rate_hz", parameters["max_rate_hz"], math.inf, "in Hz")
            if rate * window_s > MAX_POISSON_COUNT:
                raise ValueError(f"max_rate_hz: times window_s must be at most {MAX_POISSON_COUNT:g} spikes (the "
                                 f"counts are int32), got {rate!r} Hz x {window_s!r} s = {rate * window_s:g}")
            parameters = {**parameters, "max_rate_hz": rate}
        self.encoder = self._make_encoder(encoder, low, high, window_s, seed, parameters)
        self.observation_space = self._space(encoder, low, high, window_s)
        self._count_bound = None
        if encoder == "poisson":
            self._count_bound = int(self.observation_space.high[0])
        self._episode_seeds = np.random.default_rng(seed)

    @staticmethod
    def _window(encoder: str, window_s: Any, control_period_s: Any) -> float | None:
        """The encoding window: `window_s` if given (never replaced), else the env's control period."""
        if window_s is not None:
            return _positive("window_s", window_s, MAX_WINDOW_S, "s")
        if control_period_s is None:
            if encoder == "sigma_delta":
                return None
            raise ValueError("window_s: the environment has no control period; give the encoding window")
        try:
            return _positive("window_s", control_period_s, MAX_WINDOW_S, "s")
        except (TypeError, ValueError) as error:
            raise ValueError(f"window_s: not given, and the environment's control period is no window: "
                             f"{str(error).partition(': ')[2]}") from None

    @staticmethod
    def _make_encoder(kind: str, low: np.ndarray, high: np.ndarray, window_s: float | None, seed: int,
                      parameters: dict[str, Any]) -> Encoder:
        if kind == "population":
            return PopulationEncoder(low, high, window_s, seed=seed, **parameters)
        if kind == "poisson":
            return PoissonEncoder(low, high, window_s=window_s, seed=seed, **parameters)
        return SigmaDeltaEncoder(low, high, **parameters)

    def _space(self, kind: str, low: np.ndarray, high: np.ndarray, window_s: float | None) -> gymnasium.Space:
        n = self.encoder.n_outputs
        if kind == "sigma_delta":
            span = high - low
            if self.reconstruct:
                return gymnasium.spaces.Box(np.concatenate([-span, low]), np.concatenate([span, high]), (2 * n,),
                                            np.float64)
            return gymnasium.spaces.Box(-span, span, (n,), np.float64)
        if kind == "population":  # at most one spike per neuron per substep
            most = int(round(window_s / self.encoder.network.built.dt_s))
            return gymnasium.spaces.Box(0, most, (n,), np.int32)
        expected = self.encoder.max_rate_hz * window_s
        bound = min(math.ceil(expected + POISSON_SIGMAS * math.sqrt(expected) + POISSON_SIGMAS),
                    np.iinfo(np.int32).max)
        return gymnasium.spaces.Box(0, bound, (n,), np.int32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """A seed re-seeds the encoder too; without one the encoder gets the next seed of its own
        sequence, so that every episode has fresh (but reproducible) spike noise."""
        if seed is not None:
            self._episode_seeds = np.random.default_rng(seed)
        self.encoder.reset(int(self._episode_seeds.integers(2**31)))
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        encoded = self.encoder.encode(observation)
        if self.reconstruct:
            return np.concatenate([encoded, self.encoder.reference])
        if self._count_bound is not None:
            np.minimum(encoded, self._count_bound, out=encoded)
        return encoded


class ControllerPolicy:
    """A neuroctl controller acting in any gymnasium environment with a continuous Box action.

    The linear model comes from the controller config's `model` section (A, B, dt_s) when it has one,
    else from the environment's `linear_model()`. `state_of` maps an observation to the model's
    state when they differ (for example Pendulum-v1's [cos, sin, theta_dot] -> [theta, theta_dot]).

    `controller_config`: a controller config file's path, a dict of its contents ({"kind": "lqr",
    "q": [...], ...}, an optional "model" section too), or a config object (e.g. `LQRConfig(...)`,
    the kind found from its class; the model then comes from the environment).
    """

    def __init__(self, env: gymnasium.Env, controller_config: str | Path | dict | Any,
                 state_of: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if not isinstance(env.action_space, gymnasium.spaces.Box):
            raise ValueError(f"env: the action space must be a continuous Box, got {env.action_space}")
        if state_of is not None and not callable(state_of):
            raise TypeError(f"state_of: must be a function from an observation to the model's state, got "
                            f"{state_of!r}")
        kind, config, model_data, where = _controller_config(controller_config)
        model, source = self._model(env, model_data, where)
        if state_of is None:
            _check_observation_is_state(env, model, source)
        self.state_of = state_of
        self.controller: Controller = build_controller(kind, config, model, model.n_states, where, env.unwrapped)
        self.controller.warmup()
        self._state = np.zeros(model.n_states)
        # the set point each call: a TaskRobot's reference(out), else zeros
        self._reference = np.zeros(self.controller.reference_size)
        from neuroctl.envs.robot import TaskRobot

        self._task = env.unwrapped if isinstance(env.unwrapped, TaskRobot) else None

    @staticmethod
    def _model(env: gymnasium.Env, model_data: Any, where: str | Path) -> tuple[LinearModel, str]:
        """The linear model, and where it came from (for messages)."""
        space = env.action_space
        if model_data is not None:
            section = parse_model_section(model_data, where)
            if len(section.B[0]) != space.shape[0]:
                raise ConfigError(where, "model.B", f"expected {space.shape[0]} columns (one per action), got "
                                  f"{len(section.B[0])}")
            model = LinearModel(A=np.asarray(section.A, dtype=np.float64), B=np.asarray(section.B, dtype=np.float64),
                                dt=section.dt_s, u_low=np.asarray(space.low, dtype=np.float64),
                                u_high=np.asarray(space.high, dtype=np.float64))
            return model, f"the model section of {where}"
        if not linearisable(env):
            raise ConfigError(where, "model", "the environment has no linear_model(); give A, B and dt_s here")
        from neuroctl.launchfile import linear_model_of

        return linear_model_of(env), "the environment's linear_model()"

    def reset(self, seed: int = 0) -> None:
        self.controller.reset(seed)

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """The action for this observation (a new float32 array, within the action space)."""
        state = observation if self.state_of is None else self.state_of(observation)
        if np.shape(state) != self._state.shape:  # assigning it would broadcast a scalar silently
            source = "observation" if self.state_of is None else "state_of(observation)"
            raise ValueError(f"{source}: must have the model's state shape {self._state.shape}, got shape "
                             f"{np.shape(state)}")
        self._state[:] = state
        if self._task is not None:
            self._task.reference(self._reference)
        return np.asarray(self.controller.act(self._state, self._reference), dtype=np.float32)


def _controller_config(spec: Any) -> tuple[str, Any, Any, str | Path]:
    """(kind, config, model section data or None, where for messages) from a path, a dict or a config."""
    import dataclasses

    from neuroctl.config import load_yaml, parse
    from neuroctl.control.registry import CONTROLLER_KINDS, MODEL_KEY, config_class

    if isinstance(spec, (str, Path)):
        kind, config = load_controller_config(spec)
        return kind, config, load_yaml(spec).get(MODEL_KEY), spec
    if isinstance(spec, dict):
        where = "controller_config"
        data = dict(spec)
        model_data = data.pop(MODEL_KEY, None)
        kind = data.pop("kind", None)
        if not isinstance(kind, str) or kind not in CONTROLLER_KINDS:
            raise ConfigError(where, "kind", f"{'missing' if kind is None else f'unknown controller kind {kind!r}'}"
                              f"; expected one of: {', '.join(CONTROLLER_KINDS)}")
        return kind, parse(config_class(kind), data, where), model_data, where
    if dataclasses.is_dataclass(spec) and not isinstance(spec, type):
        for kind in CONTROLLER_KINDS:
            if type(spec) is config_class(kind):
                return kind, spec, None, type(spec).__name__
    raise TypeError(f"controller_config: must be a config file's path, a dict with a kind, or a controller "
                    f"config object, got {spec!r}")


def _check_observation_is_state(env: gymnasium.Env, model: LinearModel, source: str) -> None:
    """Without `state_of` the observation is fed to the controller as the model's state: same size."""
    space = env.observation_space
    shape = getattr(space, "shape", None)
    if isinstance(space, gymnasium.spaces.Box) and shape == (model.n_states,):
        return
    raise ValueError(f"env: its observation space {space} is not the state of the controller's model "
                     f"({model.n_states} states, from {source}); give state_of= to map an observation to "
                     f"the state")
