"""Properties over generated inputs (hypothesis, derandomized, bounded): finite in, finite out, for every
stage a sensor value passes through; and a generated config is either valid or one ConfigError."""

import dataclasses

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from neuroctl.config import ConfigError
from neuroctl.control.registry import CONTROLLER_KINDS, config_class, load_controller_config
from neuroctl.encoding import PoissonEncoder, PopulationEncoder, SigmaDeltaEncoder
from neuroctl.envs.faults import FAULT_KINDS, fault_keys
from neuroctl.launchfile import LaunchConfig, load_launch, make_env
from neuroctl.envs.robot import Sensor
from neuroctl.runtime.monitor import SensorMonitor

from .conftest import ENV_ID, LQR_CONFIG

PROPERTY = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
LOW, HIGH = np.array([-2.4, -0.6, -3.0]), np.array([2.4, 0.6, 3.0])


# ---- finite in, finite out ----

@pytest.fixture(scope="module")
def encoders():
    return [PopulationEncoder(LOW, HIGH, window_s=0.01, neurons_per_dimension=20, seed=1),
            SigmaDeltaEncoder(LOW, HIGH, theta=0.01),
            PoissonEncoder(LOW, HIGH, max_rate_hz=500.0, window_s=0.01, seed=2)]


@PROPERTY
@given(values=st.lists(arrays(np.float64, (3,), elements=ANY_FLOAT), min_size=1, max_size=5))
def test_encoders_give_finite_outputs_for_any_input(encoders, values):
    for encoder in encoders:
        for value in values:
            encoded = encoder.encode(value)
            assert np.all(np.isfinite(encoded)) and np.all(np.isfinite(encoder.decode(encoded)))
            assert np.all((encoder.sanitized >= LOW) & (encoder.sanitized <= HIGH))


@pytest.mark.parametrize("kind", ["spiking_state_feedback", "mpc_spiking"])
@PROPERTY
@given(observations=st.lists(arrays(np.float64, (4,), elements=ANY_FLOAT), min_size=1, max_size=5))
def test_spiking_controllers_command_finite_in_range_for_any_input(spiking_controllers, kind, observations):
    """Behind the sensor monitor, the controllers contain bad readings themselves too."""
    controller = spiking_controllers[kind]
    controller.reset(0)
    for observation in observations:
        action = controller.act(observation)
        assert np.all(np.isfinite(action)) and np.all(np.abs(action) <= 1.0)


@PROPERTY
@given(readings=st.lists(arrays(np.float64, (2,), elements=ANY_FLOAT), min_size=1, max_size=20),
       rate=st.floats(1e-3, 1e3), tolerance=st.floats(0.0, 1.0))
def test_monitor_hands_on_only_finite_in_range_values(readings, rate, tolerance):
    limits = [Sensor("bounded", "", low=-1.0, high=2.0, max_rate_per_s=rate, stale_after_s=0.05, tolerance=tolerance),
              Sensor("unbounded", "")]
    monitor = SensorMonitor(limits)
    out = np.zeros(2)
    for k, reading in enumerate(readings):
        monitor.check(reading, k * 0.01, out)
        assert np.all(np.isfinite(out)) and -1.0 <= out[0] <= 2.0
        if np.isfinite(reading[1]):
            assert out[1] == reading[1]  # nothing but finiteness is checked without limits
    assert monitor.counts.sum() <= 3 * len(readings) + 2 * len(readings)  # at most one held + stale each


# ---- generated configs: a config or one ConfigError, never another exception ----

def field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


KEYS = sorted({*field_names(LaunchConfig), "id", "kwargs", "duration_s", "mode", "seed", "overrun_policy",
               "watchdog", "spin_s", "cost_q", "cost_r", "dir", "plots", "video", "theta", "low", "high",
               "max_rate_per_s", "stale_after_s", "tolerance", "control_period_s", "max_force_n",
               "initial_theta_rad", "observation_noise_std", "position_only", "pushes", "faults", "force_n",
               *fault_keys("stuck"), *(name for kind in CONTROLLER_KINDS for name in field_names(config_class(kind)))})
WORDS = [ENV_ID, "fast", "realtime", "hold", "skip", "abort", "zero", "theta", "x", "c.yaml", *FAULT_KINDS,
         *CONTROLLER_KINDS]
SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.sampled_from([0, 1, 4, 0.01, 0.5, -1.0])
           | ANY_FLOAT | st.sampled_from(WORDS) | st.text(max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5) | st.integers(0, 3), inner,
                                        max_size=5), max_leaves=25)
DOCUMENTS = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), VALUES, max_size=6)
TEXTS = DOCUMENTS.map(lambda d: yaml.safe_dump(d, allow_unicode=True)) | st.text(max_size=200)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("generated")
    (directory / "c.yaml").write_text(LQR_CONFIG.read_text())
    return directory


@PROPERTY
@given(text=TEXTS)
def test_generated_launch_file_is_valid_or_one_config_error(workdir, text):
    path = workdir / "launch.yaml"
    path.write_text(text)
    try:
        load_launch(path)
    except ConfigError as error:
        assert "\n" not in str(error)


@PROPERTY
@given(kind=st.sampled_from(list(CONTROLLER_KINDS)) | SCALARS, document=DOCUMENTS)
def test_generated_controller_config_is_valid_or_one_config_error(workdir, kind, document):
    path = workdir / "controller.yaml"
    path.write_text(yaml.safe_dump({"kind": kind, **document}, allow_unicode=True))
    try:
        load_controller_config(path)
    except ConfigError as error:
        assert "\n" not in str(error)


@settings(PROPERTY, max_examples=25)
@given(kwargs=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), VALUES, max_size=4))
def test_generated_env_kwargs_give_an_env_or_one_config_error(workdir, kwargs):
    path = workdir / "kwargs.yaml"
    path.write_text(yaml.safe_dump({"env": {"id": ENV_ID, "kwargs": kwargs}, "controller": "c.yaml"}))
    try:
        make_env(load_launch(path)).close()
    except ConfigError as error:
        assert "\n" not in str(error)
