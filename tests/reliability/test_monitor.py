"""The sensor monitor: every check, what the controller gets instead, and the limits' sources."""

import math

import gymnasium
import numpy as np
import pytest

from neuroctl.config import ConfigError
from neuroctl.envs.robot import Sensor
from neuroctl.launchfile import load_launch, make_env, sensors_of
from neuroctl.runtime.monitor import SensorMonitor
from neuroctl.runtime.robots import describe

from .conftest import LQR_CONFIG, launch_text, make_cartpole

PERIOD_S = 0.01


def sensor(**kwargs) -> Sensor:
    """A sensor "s" with the given plausible readings."""
    return Sensor("s", "", **kwargs)


def monitored(limits: Sensor, readings):
    """What a one-sensor monitor hands on for each reading (one per period), and its counts."""
    monitor = SensorMonitor([limits])
    monitor.warmup()
    out = np.zeros(1)
    handed = []
    for k, value in enumerate(readings):
        monitor.check(np.array([value], dtype=np.float64), k * PERIOD_S, out)
        handed.append(out[0])
    summary = monitor.summary()
    return handed, {check: summary[check] for check in ("nonfinite", "out_of_range", "rate", "stale")}


def test_nonfinite_readings_are_replaced_by_the_last_accepted_one():
    handed, counts = monitored(sensor(), [0.5, math.nan, math.inf, -math.inf, 0.7])
    assert handed == [0.5, 0.5, 0.5, 0.5, 0.7]
    assert counts == {"nonfinite": 3, "out_of_range": 0, "rate": 0, "stale": 0}


def test_before_any_plausible_reading_the_middle_of_the_range():
    assert monitored(sensor(low=1.0, high=3.0), [math.nan, 7.0])[0] == [2.0, 2.0]
    assert monitored(sensor(low=1.0), [math.nan])[0] == [1.0]  # 0 clipped into [1, inf]
    assert monitored(sensor(), [math.nan])[0] == [0.0]


def test_out_of_range_readings_are_held():
    handed, counts = monitored(sensor(low=-1.0, high=1.0), [0.2, 1.5, -1.01, 1.0])
    assert handed == [0.2, 0.2, 0.2, 1.0] and counts["out_of_range"] == 2


def test_rate_check_allows_what_the_time_since_the_accepted_value_allows():
    """At 10 units/s a reading may move 0.1 per 10 ms period (plus the tolerance of 0.01)."""
    limits = sensor(max_rate_per_s=10.0, tolerance=0.01)
    handed, counts = monitored(limits, [0.0, 0.105, 0.5, 0.5, 0.5, 0.5, 0.5])
    # 0.5 is 0.395 from the accepted 0.105: too fast after 1, 2 and 3 periods (0.11, 0.21, 0.31), not 4 (0.41)
    assert handed == [0.0, 0.105, 0.105, 0.105, 0.105, 0.5, 0.5]
    assert counts["rate"] == 3


def test_rate_allowance_grows_over_a_gap_of_unusable_readings():
    limits = sensor(max_rate_per_s=10.0)
    handed, counts = monitored(limits, [0.0, math.nan, math.nan, math.nan, 0.35])
    assert handed[-1] == 0.35 and counts == {"nonfinite": 3, "out_of_range": 0, "rate": 0, "stale": 0}


def test_stale_counts_readings_unchanged_for_longer_than_allowed_and_hands_them_on():
    readings = [0.1, 0.2] + [0.3] * 8 + [0.4]  # 0.3 first read at 20 ms, unchanged until 90 ms
    handed, counts = monitored(sensor(stale_after_s=0.045), readings)
    assert handed == readings
    assert counts["stale"] == 3  # at 70, 80 and 90 ms (more than 45 ms after 20 ms)


def test_infinite_limits_check_only_finiteness():
    handed, counts = monitored(sensor(), [1e30, -1e30, 1e30] + [5.0] * 50)
    assert handed[:3] == [1e30, -1e30, 1e30] and counts["nonfinite"] == counts["stale"] == 0


def test_summary_by_sensor():
    monitor = SensorMonitor([Sensor("a", ""), Sensor("b", "", high=1.0)])
    monitor.check(np.array([math.nan, 2.0]), 0.0, np.zeros(2))
    summary = monitor.summary()
    assert summary["nonfinite"] == summary["out_of_range"] == 1
    assert summary["by_sensor"]["a"]["nonfinite"] == 1 and summary["by_sensor"]["b"]["out_of_range"] == 1
    monitor.reset()
    assert monitor.summary()["nonfinite"] == 0


def test_cartpole_defaults_and_generic_environments():
    env = make_cartpole(observation_noise_std=0.01)
    limits = {sensor.name: sensor for sensor in describe(env).sensors}
    assert limits["theta"] == Sensor("theta", "rad", low=-1.0, high=1.0, max_rate_per_s=20.0, stale_after_s=0.1,
                                     periodic=True, description="pole angle θ",
                                           tolerance=0.08)
    assert limits["theta_dot"].max_rate_per_s == math.inf
    env.close()
    pendulum = gymnasium.make("Pendulum-v1")
    assert describe(pendulum).sensor_names == ("obs[0]", "obs[1]", "obs[2]")
    assert describe(pendulum).sensors[2] == Sensor("obs[2]", "", low=-8.0, high=8.0)
    pendulum.close()


def limits_from_launch(tmp_path, sensors):
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(LQR_CONFIG, extra=f"sensors: {sensors}\n"))
    launch = load_launch(path)
    env = make_env(launch)
    try:
        return {sensor.name: sensor for sensor in sensors_of(launch, env)}
    finally:
        env.close()


def test_launch_file_overrides_per_key_and_inf_switches_a_check_off(tmp_path):
    sensors = limits_from_launch(tmp_path, "{theta: {high: 0.8, max_rate_per_s: .inf}, x_dot: {low: -.inf}}")
    theta, x = sensors["theta"], sensors["x"]
    assert (theta.low, theta.high, theta.max_rate_per_s, theta.stale_after_s) == (-1.0, 0.8, math.inf, 0.1)
    assert sensors["x_dot"].low == -math.inf and sensors["x_dot"].high == 10.0
    assert (x.low, x.high, x.max_rate_per_s, x.stale_after_s) == (-3.0, 3.0, 10.0, 0.1)


@pytest.mark.parametrize("sensors, message", [
    ("{thta: {high: 1.0}}", "sensors.thta: unknown sensor; did you mean 'theta'?"),
    ("{theta: {high: -2.0}}", "sensors.theta: expected low < high, got low -1.0 and high -2.0"),
    ("{theta: {high: .nan}}", "sensors.theta.high: expected a finite number, got nan"),
    ("{theta: {max_rate_per_s: 0}}", "sensors.theta.max_rate_per_s: expected a value > 0.0, got 0.0"),
    ("{theta: {tolerance: .inf}}", "sensors.theta.tolerance: expected a finite number, got inf"),
    ("{theta: {highest: 1}}", "sensors.theta.highest: unknown key; did you mean 'high'?"),
    ("{theta: 3}", "sensors.theta: expected a mapping, got integer"),
    ("{1: {high: 1}}", "sensors.1: expected a name as key, got integer"),
])
def test_bad_sensor_sections(tmp_path, sensors, message):
    with pytest.raises(ConfigError) as error:
        limits_from_launch(tmp_path, sensors)
    assert str(error.value) == f"{tmp_path / 'launch.yaml'}: {message}"


def test_a_sensor_stuck_at_nan_is_stale_as_well_as_nonfinite():
    """Ten NaN readings 10 ms apart with stale_after 0.035 s: stale from the fifth (0.04 s after the first)."""
    handed, counts = monitored(sensor(stale_after_s=0.035), [0.3] + [math.nan] * 10)
    assert handed == [0.3] * 11
    assert counts == {"nonfinite": 10, "out_of_range": 0, "rate": 0, "stale": 6}
