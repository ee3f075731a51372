"""Sensor values -> spikes, each encoder with a decode back.

Every encoder maps a vector of `n_dimensions` sensor values with a known range [low, high] (per
dimension, in the sensor's units) to a fixed-size output (`n_outputs` values of `dtype`):

- `PopulationEncoder`: NEF population coding: a population of LIF neurons per dimension, tuned over the
  range; output = spike counts per neuron over a window; decode = least-squares decoders x rates.
- `SigmaDeltaEncoder`: send-on-delta: one sigma-delta neuron per dimension (`neuroctl.network.sigma_delta`),
  a graded event (the change) whenever the value moved by more than theta from the last value sent;
  decode = running sum of the events.
- `PoissonEncoder`: rate coding: Poisson spike counts per dimension over a window, rate linear in the
  value over [0, max_rate_hz]; decode = counts / (max_rate_hz * window) mapped back to the range.

All first `sanitize` the input: values are clamped to [low, high] and a non-finite value (NaN, +-inf)
is replaced by the last good value of its dimension (the range midpoint before any), so no NaN ever
reaches a network; `last_nonfinite` and `nonfinite_count` count the replaced values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from neuroctl.network import NetworkDescription, SpikingNetwork, build
from neuroctl.network.jit import cached_njit
from neuroctl.network.sigma_delta import sigma_delta_step


@cached_njit
def sanitize(values: np.ndarray, low: np.ndarray, high: np.ndarray, last_good: np.ndarray, out: np.ndarray) -> int:
    """out = values clamped to [low, high], a non-finite value replaced by its `last_good` value; finite
    values update `last_good` (both in place; they may be the same array). Return the number of
    non-finite values."""
    flagged = 0
    for i in range(values.shape[0]):
        value = values[i]
        if np.isfinite(value):
            last_good[i] = min(max(value, low[i]), high[i])
        else:
            flagged += 1
        out[i] = last_good[i]
    return flagged


@cached_njit
def poisson_counts(rng: np.random.Generator, fractions: np.ndarray, max_count: float, out: np.ndarray) -> None:
    """out[i] ~ Poisson(fractions[i] * max_count), drawn from `rng` (advancing its state)."""
    for i in range(fractions.shape[0]):
        out[i] = rng.poisson(fractions[i] * max_count)


def _window_substeps(window_s: float, dt_s: float) -> int:
    """The number of substeps of dt_s in window_s, which must be a positive multiple of dt_s."""
    n = round(window_s / dt_s)
    if n < 1 or abs(n * dt_s - window_s) > 1e-9 * window_s:
        raise ValueError(f"window_s ({window_s!r}) must be a positive multiple of dt_s ({dt_s!r})")
    return n


class Encoder(ABC):
    """Sanitize, then encode into `n_outputs` values of `dtype`; `decode` estimates the values back."""

    dtype: np.dtype

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        self.low = np.atleast_1d(np.asarray(low, dtype=np.float64)).copy()
        self.high = np.atleast_1d(np.asarray(high, dtype=np.float64)).copy()
        if self.low.shape != self.high.shape or self.low.ndim != 1:
            raise ValueError("low and high must be scalars or vectors of the same length")
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)) and np.all(self.low < self.high)):
            raise ValueError("the range must be finite with low < high in every dimension")
        self.midpoint = (self.low + self.high) / 2.0
        self.span = self.high - self.low
        self.last_good = self.midpoint.copy()
        self.sanitized = self.midpoint.copy()  # the last sanitized input
        self.last_nonfinite = 0
        self.nonfinite_count = 0

    @property
    def n_dimensions(self) -> int:
        return self.low.shape[0]

    @property
    @abstractmethod
    def n_outputs(self) -> int:
        """Length of the encoded output."""

    def reset(self, seed: int | None = None) -> None:
        """Forget the past input (last good values back to the midpoint, counts to 0) and the encoder's
        state; a random encoder redraws from `seed` (its constructor's seed when None)."""
        self.last_good[:] = self.midpoint
        self.sanitized[:] = self.midpoint
        self.last_nonfinite = 0
        self.nonfinite_count = 0
        self._reset(seed)

    def encode(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Encode `values` (n_dimensions,) into `out` (n_outputs,) of `dtype`, a new array when None."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.n_dimensions,):
            raise ValueError(f"values must have shape ({self.n_dimensions},), got {values.shape}")
        self.last_nonfinite = sanitize(values, self.low, self.high, self.last_good, self.sanitized)
        self.nonfinite_count += self.last_nonfinite
        if out is None:
            out = np.zeros(self.n_outputs, dtype=self.dtype)
        elif out.shape != (self.n_outputs,) or out.dtype != self.dtype:
            raise ValueError(f"out must be {self.dtype} with shape ({self.n_outputs},)")
        self._encode(self.sanitized, out)
        return out

    @abstractmethod
    def decode(self, encoded: np.ndarray) -> np.ndarray:
        """Estimate of the (sanitized) values from an encoded output, shape (n_dimensions,)."""

    @abstractmethod
    def _encode(self, values: np.ndarray, out: np.ndarray) -> None: ...

    @abstractmethod
    def _reset(self, seed: int | None) -> None: ...


class PopulationEncoder(Encoder):
    """NEF population coding: `neurons_per_dimension` LIF neurons per dimension, tuned over [low, high].

    Each dimension's value drives a 1-D ensemble of radius (high - low) / 2 centred on the midpoint
    (J = gain * e * (value - midpoint) / radius + bias, e = +-1); `encode` simulates `window_s` of
    spiking (substeps of `dt_s`, the neurons' state carried over from window to window) and returns the
    spike count of every neuron (int32, dimension after dimension). `decode` = midpoint + decoders @
    (counts / window_s), decoders solved by regularised least squares on the tuning curves.
    """

    dtype = np.dtype(np.int32)

    def __init__(
        self,
        low: np.ndarray,
        high: np.ndarray,
        window_s: float,
        neurons_per_dimension: int = 50,
        dt_s: float = 0.001,
        max_rates_hz: tuple[float, float] = (100.0, 200.0),
        intercepts: tuple[float, float] = (-0.95, 0.95),
        tau_rc_s: float = 0.02,
        tau_ref_s: float = 0.002,
        seed: int = 0,
    ) -> None:
        super().__init__(low, high)
        self.window_s = window_s
        self._substeps = _window_substeps(window_s, dt_s)
        self.seed = seed
        description = NetworkDescription()
        for radius in self.span / 2.0:
            ensemble = description.ensemble(
                neurons_per_dimension, 1, radius=radius, max_rates_hz=max_rates_hz, intercepts=intercepts,
                tau_rc_s=tau_rc_s, tau_ref_s=tau_ref_s,
            )
            description.input(ensemble)
            description.output(ensemble)
        self.network = SpikingNetwork(build(description, dt_s, seed))
        self.decoders = self.network.built.decoder_matrix().toarray()  # (n_dimensions, n_outputs)
        self._centred = np.zeros(self.n_dimensions)
        self._raster = self.network.new_raster(self._substeps)
        self._reset(None)

    @property
    def n_outputs(self) -> int:
        return self.network.neuron_count

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        return self.midpoint + self.decoders @ (np.asarray(encoded, dtype=np.float64) / self.window_s)

    def _encode(self, values: np.ndarray, out: np.ndarray) -> None:
        np.subtract(values, self.midpoint, out=self._centred)
        self.network.step(self._centred, self._substeps, self._raster)
        self._raster.sum(axis=0, dtype=self.dtype, out=out)

    def _reset(self, seed: int | None) -> None:
        """Random initial voltages (from `seed`, else the constructor's): the neurons start out of phase."""
        self.network.reset(self.seed if seed is None else seed)


class SigmaDeltaEncoder(Encoder):
    """Send-on-delta coding: per dimension, a graded event carrying the change (float64, in the sensor's
    units) whenever the value moved by more than `theta` from the last sent reference, 0 otherwise.

    The reference (the neurons' last sent values) starts at the midpoint and becomes the value at each
    event, so `decode` (the midpoint plus the sum of the events since reset) equals it up to rounding:
    within theta of the sanitized value at every step. A still sensor sends nothing.
    """

    dtype = np.dtype(np.float64)

    def __init__(self, low: np.ndarray, high: np.ndarray, theta: float | np.ndarray) -> None:
        super().__init__(low, high)
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim > 1 or theta.size not in (1, self.n_dimensions):
            raise ValueError(f"theta must be one number or {self.n_dimensions} (one per dimension), "
                             f"got shape {theta.shape}")
        self.theta = np.broadcast_to(theta, self.low.shape).copy()
        if not np.all(np.isfinite(self.theta) & (self.theta > 0.0)):
            raise ValueError(f"theta must be > 0 and finite, got {theta!r}")
        self.reference = self.midpoint.copy()
        self.decoded = self.midpoint.copy()
        self.last_event_count = 0

    @property
    def n_outputs(self) -> int:
        return self.n_dimensions

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        """Accumulate the events into the running estimate and return a copy of it."""
        self.decoded += encoded
        return self.decoded.copy()

    def _encode(self, values: np.ndarray, out: np.ndarray) -> None:
        self.last_event_count = sigma_delta_step(values, self.reference, self.theta, out)

    def _reset(self, seed: int | None) -> None:
        self.reference[:] = self.midpoint
        self.decoded[:] = self.midpoint
        self.last_event_count = 0


MAX_POISSON_COUNT = 1e9
"""The largest expected count `max_rate_hz * window_s`: counts are int32, and 2.1e9 is 35,000 standard
deviations above it."""


class PoissonEncoder(Encoder):
    """Rate coding: per dimension, a Poisson spike count (int32) over `window_s` at a rate linear in the
    value, 0 Hz at `low` to `max_rate_hz` at `high`, drawn from a generator seeded with `seed`.

    `decode` = low + (high - low) * counts / (max_rate_hz * window_s): unbiased, with a standard deviation
    of (high - low) * sqrt(fraction / (max_rate_hz * window_s)) for a value at `fraction` of the range.
    """

    dtype = np.dtype(np.int32)

    def __init__(self, low: np.ndarray, high: np.ndarray, max_rate_hz: float, window_s: float, seed: int = 0) -> None:
        super().__init__(low, high)
        if not (np.isfinite(max_rate_hz) and max_rate_hz > 0.0 and np.isfinite(window_s) and window_s > 0.0):
            raise ValueError("max_rate_hz and window_s must be > 0 and finite")
        if max_rate_hz * window_s > MAX_POISSON_COUNT:
            raise ValueError(f"max_rate_hz * window_s must be at most {MAX_POISSON_COUNT:g} spikes (int32 counts), "
                             f"got {max_rate_hz * window_s:g}")
        self.max_rate_hz = max_rate_hz
        self.window_s = window_s
        self.seed = seed
        self._fractions = np.zeros(self.n_dimensions)
        self._rng = np.random.default_rng(seed)

    @property
    def n_outputs(self) -> int:
        return self.n_dimensions

    @property
    def max_count(self) -> float:
        """Expected count at `high`: max_rate_hz * window_s."""
        return self.max_rate_hz * self.window_s

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        return self.low + self.span * (np.asarray(encoded, dtype=np.float64) / self.max_count)

    def _encode(self, values: np.ndarray, out: np.ndarray) -> None:
        np.subtract(values, self.low, out=self._fractions)
        self._fractions /= self.span
        poisson_counts(self._rng, self._fractions, self.max_count, out)

    def _reset(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(self.seed if seed is None else seed)
