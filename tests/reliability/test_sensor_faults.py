"""Sensor fault injection in the cart-pole: what each kind does to the reading, never to the plant."""

import math

import numpy as np
import pytest

from neuroctl.config import ConfigError
from neuroctl.envs.faults import FAULT_KINDS, MAX_FAULTS
from neuroctl.launchfile import load_launch, make_env

from .conftest import LQR_CONFIG, launch_text, make_cartpole

START_S, DURATION_S = 0.05, 0.03  # readings 5, 6 and 7 (one every 10 ms; reading 0 is the reset's)
FAULTY = [5, 6, 7]
ACTIONS = np.random.default_rng(0).uniform(-0.3, 0.3, 12)


def rollout(faults, seed=3, **kwargs):
    """Readings from reset(seed) through one step per action in ACTIONS, and the env."""
    env = make_cartpole(faults=faults, **kwargs)
    readings = [env.reset(seed=seed)[0]]
    for a in ACTIONS:
        readings.append(env.step(np.array([a], dtype=np.float32))[0])
    return np.array(readings, dtype=np.float64), env.unwrapped


@pytest.fixture(scope="module")
def clean():
    readings, env = rollout([])
    env.close()
    return readings


def fault(kind, sensor="theta", **keys):
    spec = {"kind": kind, "sensor": sensor, "start_s": START_S, "duration_s": DURATION_S, **keys}
    if kind == "spike":
        del spec["duration_s"]
    return spec


@pytest.mark.parametrize("kind, magnitude, expected", [
    ("nan", None, lambda clean, k: math.nan),
    ("inf", None, lambda clean, k: math.inf),
    ("stuck", 0.25, lambda clean, k: 0.25),
    ("dropout", None, lambda clean, k: clean[FAULTY[0] - 1, 1]),
    ("bias", -0.5, lambda clean, k: clean[k, 1] - 0.5),
])
def test_each_kind_changes_only_its_sensor_during_its_window(clean, kind, magnitude, expected):
    keys = {} if magnitude is None else {"magnitude": magnitude}
    readings, env = rollout([fault(kind, **keys)])
    for k in FAULTY:
        np.testing.assert_allclose(readings[k, 1], np.float32(expected(clean, k)), rtol=1e-6)
    others = np.ones(readings.shape, dtype=bool)
    others[FAULTY, 1] = False
    np.testing.assert_array_equal(readings[others], clean[others])  # the plant itself is untouched
    assert env.fault_ticks == {**dict.fromkeys(FAULT_KINDS, 0), kind: 3}
    env.close()


def test_spike_is_one_outlier(clean):
    readings, env = rollout([fault("spike", sensor="x_dot", magnitude=1e6)])
    difference = readings - clean
    assert difference[5, 2] == pytest.approx(1e6, rel=1e-6)
    difference[5, 2] = 0.0
    assert np.all(difference == 0.0) and env.fault_ticks["spike"] == 1


def test_noise_is_seeded_from_the_env_rng(clean):
    noisy = rollout([fault("noise", sensor=3, magnitude=0.1)])[0]
    again = rollout([fault("noise", sensor=3, magnitude=0.1)])[0]
    other_seed = rollout([fault("noise", sensor=3, magnitude=0.1)], seed=4)[0]
    np.testing.assert_array_equal(noisy, again)
    assert np.all(noisy[FAULTY, 3] != clean[FAULTY, 3])
    assert not np.array_equal(noisy[FAULTY, 3] - clean[FAULTY, 3], other_seed[FAULTY, 3] - clean[FAULTY, 3])


def test_termination_uses_the_true_state():
    """A pole angle stuck beyond the limit ends nothing: the true pole is still up."""
    env = make_cartpole(faults=[{"kind": "stuck", "sensor": "theta", "start_s": 0.0, "duration_s": 1.0,
                                 "magnitude": 3.0}])
    reading, _ = env.reset(seed=0)
    _, _, terminated, _, _ = env.step(np.zeros(1, dtype=np.float32))
    assert reading[1] == 3.0 and not terminated
    env.close()


def test_counts_restart_at_reset_and_a_tick_counts_once_per_kind():
    both = [fault("nan", sensor="x"), fault("nan", sensor="theta")]
    readings, env = rollout(both)
    assert np.all(np.isnan(readings[FAULTY][:, :2])) and env.fault_ticks["nan"] == 3
    env.reset(seed=0)
    assert env.fault_ticks["nan"] == 0
    env.close()


def test_short_fault_hits_one_reading_and_dropout_at_reset_keeps_the_first():
    short = {"kind": "nan", "sensor": 0, "start_s": 0.051, "duration_s": 0.001}  # between readings 5 and 6
    readings, env = rollout([short, {"kind": "dropout", "sensor": 1, "start_s": 0.0, "duration_s": 0.02}])
    assert np.isnan(readings[6, 0]) and np.count_nonzero(np.isnan(readings)) == 1
    assert readings[0, 1] == readings[1, 1] != readings[2, 1]  # readings 0 and 1 (t < 0.02 s)
    env.close()


@pytest.mark.parametrize("faults, message", [
    ({"kind": "nan"}, "faults: must be a list"),
    ([{"kind": "nann", "sensor": 0, "start_s": 0}], "faults[0].kind: must be one of nan, inf, stuck, dropout, "
                                                    "noise, spike, bias, got 'nann'"),
    ([fault("nan"), {"kind": "inf", "sensor": 0, "start_s": 0}],
     "faults[1].duration_s: missing; a 'inf' fault takes the keys kind, sensor, start_s, duration_s"),
    ([fault("nan", magnitude=1.0)], "faults[0].magnitude: not a key of a 'nan' fault"),
    ([fault("spike", magnitude=1.0) | {"duration_s": 1.0}], "faults[0].duration_s: not a key of a 'spike' fault"),
    ([fault("nan", sensor="phi")], "faults[0].sensor: must be a sensor name (x, theta, x_dot, theta_dot) or an "
                                   "index in [0, 3], got 'phi'"),
    ([fault("nan", sensor=4)], "faults[0].sensor: must be a sensor name"),
    ([fault("nan", sensor=True)], "faults[0].sensor: must be a sensor name"),
    ([fault("nan") | {"start_s": -1.0}], "faults[0].start_s: must be a time in [0, 1e+06] s, got -1.0"),
    ([fault("nan") | {"start_s": math.nan}], "faults[0].start_s: must be a time in [0, 1e+06] s, got nan"),
    ([fault("nan") | {"duration_s": 0.0}], "faults[0].duration_s: must be a duration in (0, 1e+06] s, got 0.0"),
    ([fault("noise", magnitude=-1.0)], "faults[0].magnitude: must be a standard deviation in (0, 1e+30]"),
    ([fault("bias", magnitude=math.inf)], "faults[0].magnitude: must be a finite number"),
    ([fault("bias", magnitude="big")], "faults[0].magnitude: must be a finite number"),
    ([fault("bias", magnitude=10**400)], "faults[0].magnitude: must be a finite number"),
    ([fault("nan")] * (MAX_FAULTS + 1), f"faults: must be a list of at most {MAX_FAULTS} faults"),
    ([3], "faults[0]: must be a dict"),
])
def test_invalid_faults_name_their_key_path(faults, message):
    with pytest.raises(ValueError) as error:
        make_cartpole(faults=faults)
    assert str(error.value).startswith(message)


def test_sensor_index_beyond_a_position_only_observation():
    with pytest.raises(ValueError, match=r"^faults\[0\]\.sensor: must be a sensor name \(x, theta\)"):
        make_cartpole(position_only=True, faults=[fault("nan", sensor="x_dot")])


def test_launch_file_reports_the_full_key_path(tmp_path):
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(LQR_CONFIG, kwargs="{faults: [{kind: nan, sensor: 0, start_s: 0, duration_s: 1},"
                                                   " {kind: drop, sensor: 0, start_s: 0}]}"))
    with pytest.raises(ConfigError) as error:
        make_env(load_launch(path))
    assert str(error.value).startswith(f"{path}: env.kwargs.faults[1].kind: must be one of nan, inf")


# ---- huge numbers: a ValueError naming the key path and the accepted range, never an OverflowError ----

@pytest.mark.parametrize("faults, message", [
    ([fault("nan") | {"start_s": 1e308}], "faults[0].start_s: must be a time in [0, 1e+06] s, got 1e+308"),
    ([fault("nan") | {"duration_s": 1e308}], "faults[0].duration_s: must be a duration in (0, 1e+06] s, got 1e+308"),
    ([fault("nan") | {"start_s": 1e300, "duration_s": 1e300}], "faults[0].start_s: must be a time in [0, 1e+06] s"),
    ([fault("spike", magnitude=1.0) | {"start_s": 1e7}], "faults[0].start_s: must be a time in [0, 1e+06] s"),
    ([fault("nan"), fault("inf") | {"start_s": 10**400}], "faults[1].start_s: must be a time in [0, 1e+06] s"),
    ([fault("noise", magnitude=1e308)], "faults[0].magnitude: must be a standard deviation in (0, 1e+30], got 1e+308"),
    ([fault("stuck", magnitude=-1e39)], "faults[0].magnitude: must be a finite number (the sensor's unit) in "
                                        "[-1e+30, 1e+30], got -1e+39"),
])
def test_huge_fault_times_and_magnitudes_name_their_key_path(faults, message):
    with pytest.raises(ValueError) as error:  # through gymnasium.make, as a user or a launch file builds it
        make_cartpole(faults=faults)
    assert str(error.value).startswith(message)


def test_fault_at_the_largest_times_is_accepted_and_never_acts_early():
    env = make_cartpole(faults=[fault("nan") | {"start_s": 1e6, "duration_s": 1e6}])
    assert env.unwrapped._faults.faults[0].first_tick == 10**8  # 1e6 s at 10 ms
    readings = [env.reset(seed=0)[0]] + [env.step(np.array([0.0], dtype=np.float32))[0] for _ in range(5)]
    assert np.all(np.isfinite(readings)) and env.unwrapped.fault_ticks["nan"] == 0
    env.close()


def test_launch_file_with_a_huge_fault_time_is_a_config_error(tmp_path):
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(LQR_CONFIG, kwargs="{faults: [{kind: nan, sensor: 0, start_s: 1.0e+308, "
                                                   "duration_s: 1}]}"))  # YAML 1.1 reads 1e308 as a string
    with pytest.raises(ConfigError) as error:
        make_env(load_launch(path))
    assert str(error.value) == f"{path}: env.kwargs.faults[0].start_s: must be a time in [0, 1e+06] s, got 1e+308"
