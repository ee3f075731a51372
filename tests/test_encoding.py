"""Encoders: decode tolerances, clamping, non-finite input, sizes and dtypes."""

import numpy as np
import pytest

from neuroctl.encoding import PoissonEncoder, PopulationEncoder, SigmaDeltaEncoder, sanitize

LOW = np.array([-1.0, 0.0, -3.0])
HIGH = np.array([1.0, 10.0, 3.0])
SPAN = HIGH - LOW


def encoders():
    return [
        PopulationEncoder(LOW, HIGH, window_s=0.1, neurons_per_dimension=50, seed=1),
        SigmaDeltaEncoder(LOW, HIGH, theta=0.01 * SPAN),
        PoissonEncoder(LOW, HIGH, max_rate_hz=1000.0, window_s=0.1, seed=2),
    ]


def test_sanitize_clamps_and_holds_the_last_good_value():
    last_good, out = np.zeros(4), np.zeros(4)
    low, high = np.full(4, -1.0), np.full(4, 1.0)
    assert sanitize(np.array([0.5, 3.0, -7.0, 0.2]), low, high, last_good, out) == 0
    assert out.tolist() == last_good.tolist() == [0.5, 1.0, -1.0, 0.2]
    assert sanitize(np.array([np.nan, np.inf, -np.inf, 0.1]), low, high, last_good, out) == 3
    assert out.tolist() == [0.5, 1.0, -1.0, 0.1]
    assert sanitize(np.array([np.nan, 0.0, 0.0, 0.0]), low, high, last_good, last_good) == 1  # in place
    assert last_good.tolist() == [0.5, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("encoder", encoders(), ids=lambda e: type(e).__name__)
def test_fixed_size_dtype_and_nonfinite_input_never_passes(encoder):
    out = encoder.encode(np.array([0.3, 4.0, -1.0]))
    assert out.shape == (encoder.n_outputs,) and out.dtype == encoder.dtype
    assert encoder.encode(np.array([0.3, 4.0, -1.0]), out=out) is out
    encoder.reset()
    out = encoder.encode(np.array([np.nan, np.inf, -np.inf]))  # nothing good yet: the midpoints
    assert encoder.last_nonfinite == 3 and np.all(np.isfinite(out))
    np.testing.assert_array_equal(encoder.sanitized, (LOW + HIGH) / 2.0)
    encoder.encode(np.array([0.5, 1e9, np.nan]))  # clamped, held
    np.testing.assert_array_equal(encoder.sanitized, [0.5, 10.0, 0.0])
    assert encoder.last_nonfinite == 1 and encoder.nonfinite_count == 4
    assert np.all(np.isfinite(encoder.decode(out)))
    with pytest.raises(ValueError, match="shape"):
        encoder.encode(np.zeros(2))
    with pytest.raises(ValueError, match="out"):
        encoder.encode(np.zeros(3), out=np.zeros(encoder.n_outputs, dtype=np.int8))


def test_population_decodes_constant_inputs_within_2_percent_of_the_range():
    """50 neurons per dimension, 0.1 s windows, over the whole range, from the first window on."""
    encoder = PopulationEncoder(LOW, HIGH, window_s=0.1, neurons_per_dimension=50, seed=1)
    assert encoder.n_outputs == 150
    worst = np.zeros(3)
    for values in np.linspace(LOW, HIGH, 11):
        encoder.reset()
        for _ in range(3):
            error = np.abs(encoder.decode(encoder.encode(values)) - values) / SPAN
            worst = np.maximum(worst, error)
    assert np.all(worst <= 0.02), worst


def test_population_clamps_out_of_range_values():
    encoder = PopulationEncoder(LOW, HIGH, window_s=0.1, seed=1)
    decoded = encoder.decode(encoder.encode(np.array([5.0, -20.0, 3.5])))
    assert np.all(np.abs(decoded - [1.0, 0.0, 3.0]) <= 0.02 * SPAN)


def test_sigma_delta_reconstruction_is_within_theta_at_every_step_and_silent_when_still():
    rng = np.random.default_rng(0)
    theta = 0.01 * SPAN
    encoder = SigmaDeltaEncoder(LOW, HIGH, theta=theta)
    moving = np.cumsum(rng.normal(0.0, 0.02 * SPAN, (500, 3)), axis=0)  # a random walk, out of range at times
    still = np.repeat(moving[-1:], 200, axis=0)
    events = 0
    for step, values in enumerate(np.concatenate([moving, still])):
        decoded = encoder.decode(encoder.encode(values))
        assert np.all(np.abs(decoded - np.clip(values, LOW, HIGH)) <= theta)
        events += encoder.last_event_count
        if step > len(moving):
            assert encoder.last_event_count == 0
    assert 0 < events < 3 * len(moving)


def test_sigma_delta_events_are_the_graded_change():
    encoder = SigmaDeltaEncoder([0.0], [1.0], theta=0.1)  # reference starts at 0.5
    assert encoder.encode(np.array([0.55])).tolist() == [0.0]
    np.testing.assert_allclose(encoder.encode(np.array([0.8])), [0.3])
    assert encoder.encode(np.array([0.75])).tolist() == [0.0]


def test_poisson_decode_is_unbiased_within_its_statistical_bound():
    """2000 windows of 0.1 s at up to 1000 Hz: every decode within 4.5 sigma, the mean within 4 sigma/sqrt(N)."""
    encoder = PoissonEncoder(LOW, HIGH, max_rate_hz=1000.0, window_s=0.1, seed=2)
    values = np.array([-0.5, 9.0, 0.0])
    fraction = (values - LOW) / SPAN
    sigma = SPAN * np.sqrt(fraction / encoder.max_count)
    decoded = np.array([encoder.decode(encoder.encode(values)) for _ in range(2000)])
    assert np.all(np.abs(decoded - values) <= 4.5 * sigma)
    assert np.all(np.abs(decoded.mean(axis=0) - values) <= 4.0 * sigma / np.sqrt(2000))
    np.testing.assert_allclose(decoded.std(axis=0), sigma, rtol=0.1)


def test_poisson_is_seeded_and_clamps():
    a = PoissonEncoder(LOW, HIGH, max_rate_hz=500.0, window_s=0.02, seed=3)
    b = PoissonEncoder(LOW, HIGH, max_rate_hz=500.0, window_s=0.02, seed=3)
    values = np.array([0.0, 5.0, 2.0])
    first = [a.encode(values) for _ in range(5)]
    np.testing.assert_array_equal(first, [b.encode(values) for _ in range(5)])
    a.reset()
    np.testing.assert_array_equal(first, [a.encode(values) for _ in range(5)])
    assert a.encode(np.array([-9.0, -1.0, -3.0])).tolist() == [0, 0, 0]  # clamped to low: 0 Hz


@pytest.mark.parametrize(
    "make",
    [lambda: SigmaDeltaEncoder([0.0], [1.0], theta=0.0), lambda: PoissonEncoder([1.0], [0.0], 10.0, 0.1),
     lambda: PopulationEncoder([0.0], [1.0], window_s=0.0105), lambda: SigmaDeltaEncoder([0.0], [np.inf], 0.1)],
)
def test_bad_parameters_are_rejected(make):
    with pytest.raises(ValueError):
        make()


def test_poisson_counts_that_would_wrap_int32_are_refused():
    with pytest.raises(ValueError, match=r"max_rate_hz \* window_s must be at most 1e\+09 spikes"):
        PoissonEncoder(np.zeros(2), np.ones(2), max_rate_hz=1e9, window_s=10.0)
    assert PoissonEncoder(np.zeros(2), np.ones(2), max_rate_hz=1e8, window_s=10.0).max_count == 1e9


@pytest.mark.parametrize("theta", [[0.1, 0.1], [[0.1, 0.1, 0.1]], np.full(4, 0.1)])
def test_sigma_delta_theta_of_the_wrong_length_names_theta(theta):
    with pytest.raises(ValueError, match=r"theta must be one number or 3 \(one per dimension\)"):
        SigmaDeltaEncoder(np.zeros(3), np.ones(3), theta)
