"""Gymnasium wrappers: spikes in front of any environment, and any neuroctl controller as a policy.

    env = SpikeEncodingObservation(gymnasium.make("neuroctl/CartPoleBalance-v0"), "sigma_delta", theta=0.01)
    policy = ControllerPolicy(env, "configs/controllers/cartpole_mpc.yaml")
    action = policy(observation)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import gymnasium
import numpy as np

from neuroctl.config import ConfigError
from neuroctl.control.base import Controller, LinearModel
from neuroctl.control.registry import build_controller, load_controller_config, load_model_section
from neuroctl.encoding import Encoder, PoissonEncoder, PopulationEncoder, SigmaDeltaEncoder

ENCODERS = ("population", "sigma_delta", "poisson")


def _observation_range(env: gymnasium.Env, low: Any, high: Any) -> tuple[np.ndarray, np.ndarray]:
    space = env.observation_space
    if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"observation space must be a 1-D Box, got {space}")
    low = np.asarray(space.low if low is None else low, dtype=np.float64)
    high = np.asarray(space.high if high is None else high, dtype=np.float64)
    low, high = np.broadcast_to(low, space.shape).copy(), np.broadcast_to(high, space.shape).copy()
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError("the observation space is unbounded: give the encoded range as low= and high=")
    return low, high


def _control_period(env: gymnasium.Env) -> float | None:
    unwrapped = env.unwrapped
    return getattr(unwrapped, "control_period_s", getattr(unwrapped, "dt", None))


class SpikeEncodingObservation(gymnasium.ObservationWrapper):
    """Observations as the output of a neuroctl encoder, over the range [low, high] per dimension.

    - `population`: spike counts (int32) of LIF neurons tuned over the range, per window;
    - `poisson`: Poisson spike counts (int32) per dimension, per window;
    - `sigma_delta`: graded events (float64, the change of the value) when it moved by more than theta.
    The window defaults to the environment's control period. Out-of-range values are clamped and
    non-finite ones held at the last good value (counted in `encoder.nonfinite_count`).
    """

    def __init__(self, env: gymnasium.Env, encoder: str = "population", low: Any = None, high: Any = None,
                 window_s: float | None = None, seed: int = 0, **parameters: Any) -> None:
        super().__init__(env)
        if encoder not in ENCODERS:
            raise ValueError(f"encoder: expected one of {', '.join(ENCODERS)}, got {encoder!r}")
        low, high = _observation_range(env, low, high)
        window_s = window_s or _control_period(env)
        if encoder != "sigma_delta" and window_s is None:
            raise ValueError("window_s: the environment has no control period; give the encoding window")
        self.encoder = self._make_encoder(encoder, low, high, window_s, seed, parameters)
        self.observation_space = self._space(encoder, low, high, window_s)
        self._episode_seeds = np.random.default_rng(seed)

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
            return gymnasium.spaces.Box(-span, span, (n,), np.float64)
        if kind == "population":  # at most one spike per neuron per substep
            most = int(round(window_s / self.encoder.network.built.dt_s))
            return gymnasium.spaces.Box(0, most, (n,), np.int32)
        return gymnasium.spaces.Box(0, np.iinfo(np.int32).max, (n,), np.int32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """A seed re-seeds the encoder too; without one the encoder gets the next seed of its own
        sequence, so that every episode has fresh (but reproducible) spike noise."""
        if seed is not None:
            self._episode_seeds = np.random.default_rng(seed)
        self.encoder.reset(int(self._episode_seeds.integers(2**31)))
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return self.encoder.encode(observation)


class ControllerPolicy:
    """A neuroctl controller acting in any gymnasium environment with a continuous Box action.

    The linear model comes from the controller config's `model` section (A, B, dt_s) when it has one,
    else from the environment's `linear_model()`. `state_of` maps an observation to the model's
    state when they differ (for example Pendulum-v1's [cos, sin, theta_dot] -> [theta, theta_dot]).
    """

    def __init__(self, env: gymnasium.Env, controller_config: str | Path,
                 state_of: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if not isinstance(env.action_space, gymnasium.spaces.Box):
            raise ValueError(f"action space must be a continuous Box, got {env.action_space}")
        kind, config = load_controller_config(controller_config)
        model = self._model(env, controller_config)
        self.state_of = state_of
        self.controller: Controller = build_controller(kind, config, model, model.n_states, controller_config)
        self.controller.warmup()
        self._state = np.zeros(model.n_states)

    @staticmethod
    def _model(env: gymnasium.Env, path: str | Path) -> LinearModel:
        space = env.action_space
        model = load_model_section(path, space.low, space.high)
        if model is not None:
            return model
        if not hasattr(env.unwrapped, "linear_model"):
            raise ConfigError(path, "model", "the environment has no linear_model(); give A, B and dt_s here")
        from neuroctl.launchfile import linear_model_of

        return linear_model_of(env)

    def reset(self, seed: int = 0) -> None:
        self.controller.reset(seed)

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """The action for this observation (a new float32 array, within the action space)."""
        self._state[:] = observation if self.state_of is None else self.state_of(observation)
        return np.asarray(self.controller.act(self._state), dtype=np.float32)
