"""The strict config loader: every mistake is one ConfigError naming the file and the key path."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from neuroctl.config import ConfigError, load_yaml, parse, range_field


@dataclass(frozen=True)
class Inner:
    tau_s: float = range_field(0.01, min=0.0, min_exclusive=True, max=1.0)


@dataclass(frozen=True)
class Outer:
    name: str
    neurons: int = range_field(100, min=1, max=100_000)
    mode: Literal["fast", "realtime"] = "fast"
    weights: list[float] = range_field([1.0, 2.0], min=0.0)
    inner: Inner = field(default_factory=Inner)
    flag: bool = False


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def error_of(tmp_path, text) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        parse(Outer, load_yaml(path), path)
    return str(info.value)


def test_valid_config_parses_with_defaults(tmp_path):
    path = write(tmp_path, "name: a\nneurons: 50\ninner: {tau_s: 0.02}\nweights: [0.5, 0]\n")
    config = parse(Outer, load_yaml(path), path)
    assert config == Outer(name="a", neurons=50, inner=Inner(0.02), weights=[0.5, 0.0])


@pytest.mark.parametrize("text, expected", [
    ("name: a\nneuron: 5\n", "neuron: unknown key; did you mean 'neurons'?"),
    ("name: a\nneurons: five\n", "neurons: expected an integer, got string 'five'"),
    ("name: a\nneurons: 1000000000\n", "neurons: expected a value <= 100000, got 1000000000"),
    ("name: a\nneurons: true\n", "neurons: expected an integer, got boolean True"),
    ("name: a\ninner: {tau_s: .nan}\n", "inner.tau_s: expected a finite number, got nan"),
    ("name: a\ninner: {tau_s: -0.1}\n", "inner.tau_s: expected a value > 0.0 and <= 1.0, got -0.1"),
    ("name: a\ninner: {tau_s: 0}\n", "inner.tau_s: expected a value > 0.0 and <= 1.0, got 0.0"),
    ("name: a\nmode: fastest\n", "mode: expected one of 'fast', 'realtime', got 'fastest'; did you mean 'fast'?"),
    ("name: a\nweights: [1, -2]\n", "weights[1]: expected a value >= 0.0, got -2.0"),
    ("name: a\nweights: 3\n", "weights: expected a list, got integer 3"),
    ("neurons: 5\n", "name: missing; expected a string"),
    ("name: a\ninner: 3\n", "inner: expected a mapping, got integer"),
])
def test_mistakes_name_the_key(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert message == f"{tmp_path / 'c.yaml'}: {expected}"
    assert "\n" not in message


@pytest.mark.parametrize("text, expected", [
    ("", "empty file"),
    ("- 1\n- 2\n", "expected a mapping of keys to values, got a list"),
    ("name: [unclosed\n", "invalid YAML"),
    (b"\x00\x01\x02binary", "binary file"),
    (b"\xff\xfe name: a", "not UTF-8 text"),
    ("!!python/object/apply:os.system ['echo hacked']\n", "invalid YAML"),
])
def test_unreadable_documents_are_rejected(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert expected in str(info.value)
    assert str(info.value).startswith(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_yaml(tmp_path / "absent.yaml")


@dataclass(frozen=True)
class Limits:
    high: float | None = range_field(None, allow_infinite=True)


@dataclass(frozen=True)
class WithMapping:
    sensors: dict[str, Limits] = field(default_factory=dict)


def test_typed_mapping_values_are_validated_under_their_name(tmp_path):
    path = write(tmp_path, "sensors: {theta: {high: .inf}, x: {high: 2}}\n")
    assert parse(WithMapping, load_yaml(path), path) == WithMapping({"theta": Limits(float("inf")), "x": Limits(2.0)})
    for text, expected in [("sensors: {theta: {high: .nan}}\n", "sensors.theta.high: expected a finite number"),
                           ("sensors: {theta: {hi: 1}}\n", "sensors.theta.hi: unknown key; did you mean 'high'?"),
                           ("sensors: {3: {high: 1}}\n", "sensors.3: expected a name as key, got integer"),
                           ("sensors: [theta]\n", "sensors: expected a mapping, got list")]:
        path = write(tmp_path, text)
        with pytest.raises(ConfigError, match=f"^{path}: {expected}"):
            parse(WithMapping, load_yaml(path), path)


def test_integer_beyond_the_float_range_for_a_number(tmp_path):
    assert error_of(tmp_path, "name: a\ninner: {tau_s: 1" + "0" * 400 + "}\n").endswith(
        "inner.tau_s: expected a number of magnitude <= 1.8e+308, got an integer of 1329 bits")


def test_messages_stay_on_one_line_whatever_the_keys(tmp_path):
    message = error_of(tmp_path, 'name: a\n"bad\\nkey\\t": 1\n')
    assert "\n" not in message and message.endswith("bad\\nkey\\t: unknown key; expected one of: flag, inner, "
                                                    "mode, name, neurons, weights")


def test_exponent_floats_without_a_dot_are_numbers(tmp_path):
    """YAML 1.2 numbers: `1e308` is a float, not the string YAML 1.1 would make of it; quoted stays text."""
    path = tmp_path / "c.yaml"
    path.write_text("a: 1e308\nb: -2E-3\nc: 12\nd: '1e3'\ne: 1e\n")
    assert load_yaml(path) == {"a": 1e308, "b": -0.002, "c": 12, "d": "1e3", "e": "1e"}


def test_a_wrong_choice_lists_the_choices_once(tmp_path):
    """A value outside a Literal's choices: the choices once, and a did-you-mean only when one is close."""
    from neuroctl.config import ConfigError
    from neuroctl.control.registry import load_controller_config

    path = tmp_path / "c.yaml"
    path.write_text("kind: quadruped_mpc\nsolver: gurobi\n")
    with pytest.raises(ConfigError) as far:
        load_controller_config(path)
    assert str(far.value).count("expected one of") == 1 and str(far.value).endswith("got 'gurobi'")
    path.write_text("kind: quadruped_mpc\nsolver: osq\n")
    with pytest.raises(ConfigError, match="got 'osq'; did you mean 'osqp'\\?$"):
        load_controller_config(path)
