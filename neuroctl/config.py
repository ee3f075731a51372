"""Strict YAML configs: read with `yaml.safe_load`, validated into frozen dataclasses.

A config dataclass declares its keys as typed fields; ranges live in field metadata
(`min`, `max`, `min_exclusive`, `max_length`, `allow_infinite`). Anything else is an error that names
the file and the key path: unknown keys (with a did-you-mean), missing keys, wrong types, NaN or
infinite numbers (unless `allow_infinite`), out-of-range values and oversized lists. A mapping field
`dict[str, X]` validates each value as an X under its name. A config never executes code.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

T = TypeVar("T")

MAX_CONFIG_BYTES = 1_000_000
MAX_LIST_LENGTH = 10_000


class ConfigError(ValueError):
    """A user mistake in a config or on the command line: `<where>: <key.path>: <what is expected>`."""

    def __init__(self, where: str | Path, key: str, message: str) -> None:
        self.where = _printable(str(where))
        self.key = _printable(key)
        self.message = _printable(message)
        text = f"{self.where}: {self.key}: {self.message}" if key else f"{self.where}: {self.message}"
        super().__init__(text)


def _printable(text: str) -> str:
    """`text` on one line: non-printable characters (newlines, tabs, NUL, ...) escaped as in Python."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold one mapping; any problem is a ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "", "no such file" if not path.exists() else "not a regular file")
    raw = path.read_bytes()
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(path, "", f"file is {len(raw)} bytes; a config is at most {MAX_CONFIG_BYTES}")
    if b"\x00" in raw:
        raise ConfigError(path, "", "binary file; expected YAML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text; expected YAML") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, "", f"{where}invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(path, "", "invalid YAML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ConfigError(path, "", f"invalid YAML: {exc}") from None
    if data is None:
        raise ConfigError(path, "", "empty file; expected a mapping of keys to values")
    if not isinstance(data, dict):
        raise ConfigError(path, "", f"expected a mapping of keys to values, got a {_type_name(data)}")
    return data


def parse(cls: type[T], data: Any, where: str | Path, key_path: str = "") -> T:
    """Validate `data` against dataclass `cls`, recursively; raise ConfigError on the first problem."""
    if not isinstance(data, dict):
        raise ConfigError(where, key_path, f"expected a mapping, got {_type_name(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key in data:
        if not isinstance(key, str) or key not in fields:
            raise ConfigError(where, _join(key_path, str(key)), f"unknown key{did_you_mean(key, fields)}")
    values = {}
    for name, field in fields.items():
        path = _join(key_path, name)
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(where, path, f"missing; expected {_describe(hints[name])}")
            continue
        values[name] = _convert(hints[name], data[name], where, path, field.metadata)
    try:
        return cls(**values)
    except ValueError as exc:
        key, _, message = str(exc).partition(": ")
        if message and key in fields:
            raise ConfigError(where, _join(key_path, key), message) from None
        raise ConfigError(where, key_path, str(exc)) from None


def _convert(hint: Any, value: Any, where: str | Path, path: str, meta: typing.Mapping[str, Any]) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where, path, meta)
    if origin is Literal:
        if value not in args:
            raise ConfigError(where, path, f"expected one of {', '.join(map(repr, args))}, got {value!r}"
                              f"{did_you_mean(value, [str(a) for a in args])}")
        return value
    if origin in (list, tuple):
        return _convert_sequence(hint, value, where, path, meta)
    if origin is dict or hint is dict:
        return _convert_mapping(hint, value, where, path)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, where, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(where, path, f"expected true or false, got {_type_name(value)} {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(where, path, f"expected an integer, got {_type_name(value)} {value!r}")
        return _check_range(value, where, path, meta)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(where, path, f"expected a number, got {_type_name(value)} {value!r}")
        try:
            number = float(value)
        except OverflowError:
            raise ConfigError(where, path, f"expected a number of magnitude <= {sys.float_info.max:.3g}, "
                              f"got an integer of {value.bit_length()} bits") from None
        if math.isnan(number) or (math.isinf(number) and not meta.get("allow_infinite")):
            raise ConfigError(where, path, f"expected a finite number, got {value}")
        return _check_range(number, where, path, meta)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(where, path, f"expected a string, got {_type_name(value)} {value!r}")
        return value
    raise TypeError(f"config field {path} has an unsupported type {hint!r}")


def _convert_mapping(hint: Any, value: Any, where: str | Path, path: str) -> dict:
    """A mapping; for `dict[str, X]`, string keys and each value converted as an X."""
    if not isinstance(value, dict):
        raise ConfigError(where, path, f"expected a mapping, got {_type_name(value)}")
    args = typing.get_args(hint)
    if not args:
        return dict(value)
    out = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ConfigError(where, _join(path, str(key)), f"expected a name as key, got {_type_name(key)}")
        out[key] = _convert(args[1], item, where, _join(path, key), {})
    return out


def _convert_sequence(hint: Any, value: Any, where: str | Path, path: str, meta: typing.Mapping[str, Any]):
    if not isinstance(value, list):
        raise ConfigError(where, path, f"expected a list, got {_type_name(value)} {value!r}")
    max_length = meta.get("max_length", MAX_LIST_LENGTH)
    if len(value) > max_length:
        raise ConfigError(where, path, f"list of {len(value)} items; at most {max_length} allowed")
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            raise ConfigError(where, path, f"expected a list of {len(args)} items, got {len(value)}")
        item_hints = list(args)
    else:
        item_hints = [args[0]] * len(value)
    if "length" in meta and len(value) != meta["length"]:
        raise ConfigError(where, path, f"expected a list of {meta['length']} items, got {len(value)}")
    items = [_convert(h, v, where, f"{path}[{i}]", meta) for i, (h, v) in enumerate(zip(item_hints, value))]
    return tuple(items) if origin is tuple else items


def _check_range(value: float, where: str | Path, path: str, meta: typing.Mapping[str, Any]):
    low, high = meta.get("min"), meta.get("max")
    if low is not None and (value < low or (meta.get("min_exclusive") and value == low)):
        relation = ">" if meta.get("min_exclusive") else ">="
        raise ConfigError(where, path, f"expected a value {relation} {low}{_and_max(high)}, got {value}")
    if high is not None and value > high:
        raise ConfigError(where, path, f"expected a value <= {high}, got {value}")
    return value


def _and_max(high: float | None) -> str:
    return f" and <= {high}" if high is not None else ""


def did_you_mean(key: Any, choices: typing.Iterable[str]) -> str:
    """The end of a message about an unknown `key`: a did-you-mean, else the list of `choices`."""
    close = difflib.get_close_matches(str(key), list(choices), n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; expected one of: {', '.join(sorted(choices))}"


def _describe(hint: Any) -> str:
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    if origin in (list, tuple):
        return "a list"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, "a value")


def _type_name(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def range_field(default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A dataclass field with validation metadata (`min`, `max`, `min_exclusive`, `length`,
    `max_length`, `allow_infinite`, `doc`)."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
