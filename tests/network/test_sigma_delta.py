"""Sigma-delta neurons and dense connections: kernel against numpy reference, and what the events carry."""

import numpy as np
import pytest

from neuroctl.network.dense import deliver_dense, deliver_dense_reference, dense_product, fixed_point
from neuroctl.network.sigma_delta import sigma_delta_fires, sigma_delta_step, sigma_delta_step_reference


def test_a_neuron_fires_only_beyond_its_threshold():
    assert sigma_delta_fires(1.25, 1.0, 0.2) and sigma_delta_fires(0.75, 1.0, 0.2)
    assert not sigma_delta_fires(1.1, 1.0, 0.2)
    assert not sigma_delta_fires(1.0, 1.0, 0.0)  # no change: silent even at theta = 0
    assert not sigma_delta_fires(float("nan"), 1.0, 0.2)  # a non-finite value never fires


def test_layer_step_equals_the_numpy_reference_over_a_random_walk():
    rng = np.random.default_rng(5)
    n = 40
    thresholds = rng.uniform(0.0, 0.3, n)
    sent = np.zeros(n)
    reference_sent = sent.copy()
    events = np.zeros(n)
    values = np.zeros(n)
    total = 0
    for _ in range(200):
        values = values + 0.1 * rng.standard_normal(n)
        count = sigma_delta_step(values, sent, thresholds, events)
        expected_events, reference_sent = sigma_delta_step_reference(values, reference_sent, thresholds)
        np.testing.assert_array_equal(events, expected_events)
        np.testing.assert_array_equal(sent, reference_sent)
        assert count == np.count_nonzero(expected_events)
        assert np.all(np.abs(values - sent) <= thresholds)  # the receivers' copy is within theta
        total += count
    assert 0.2 * 200 * n < total < 200 * n  # sparse: fewer events than steps x neurons, but not silent


def test_receivers_that_add_every_event_hold_the_dense_product_of_the_sent_values():
    rng = np.random.default_rng(6)
    n_pre, n_post = 12, 30
    weights_by_pre = rng.standard_normal((n_pre, n_post))
    weights_by_post = np.ascontiguousarray(weights_by_pre.T)
    thresholds = np.full(n_pre, 0.05)
    sent, events = np.zeros(n_pre), np.zeros(n_pre)
    accumulators = np.zeros(n_post)
    reference = accumulators.copy()
    values = np.zeros(n_pre)
    for _ in range(100):
        values = values + 0.05 * rng.standard_normal(n_pre)
        sigma_delta_step(values, sent, thresholds, events)
        for j in np.flatnonzero(events):
            deliver_dense(weights_by_pre, j, events[j], accumulators)
        reference = deliver_dense_reference(weights_by_pre, events, reference)
        np.testing.assert_allclose(accumulators, reference, rtol=0, atol=1e-12)
    product = np.zeros(n_post)
    dense_product(weights_by_post, sent, product)
    np.testing.assert_allclose(accumulators, product, rtol=0, atol=1e-12)
    np.testing.assert_allclose(product, weights_by_post @ sent, rtol=0, atol=1e-12)


def test_dense_product_adds_to_its_output():
    weights = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = np.array([10.0, 20.0, 30.0])
    dense_product(weights, np.array([1.0, -1.0]), out)
    np.testing.assert_array_equal(out, [9.0, 19.0, 29.0])


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_an_infinite_value_fires_once_and_the_layer_reports_it(bad):
    """The layer itself does not sanitize (encoders and the gradient network do, before it): an infinite
    value is an event like any other, so the caller must bound its inputs."""
    sent, events = np.zeros(2), np.zeros(2)
    assert sigma_delta_step(np.array([bad, 0.0]), sent, np.full(2, 0.1), events) == 1
    assert events[0] == bad and events[1] == 0.0


def test_fixed_point_weights_lie_on_a_grid_of_the_requested_bits():
    rng = np.random.default_rng(7)
    root = rng.standard_normal((12, 12))
    weights = root + root.T
    for bits in (4, 8, 16):
        quantised = fixed_point(weights, bits)
        scale = np.abs(weights).max() / (2 ** (bits - 1) - 1)
        integers = quantised / scale
        np.testing.assert_allclose(integers, np.round(integers), atol=1e-9)
        assert np.abs(integers).max() == pytest.approx(2 ** (bits - 1) - 1)  # the largest weight: the full range
        assert np.abs(quantised - weights).max() <= scale / 2 + 1e-15
        np.testing.assert_array_equal(quantised, quantised.T)  # a symmetric matrix stays symmetric
    with pytest.raises(ValueError, match="bits: expected 2..32"):
        fixed_point(weights, 1)
