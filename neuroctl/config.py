"""Strict YAML configs: read with `yaml.safe_load`, validated into frozen dataclasses.

A config dataclass declares its keys as typed fields; ranges live in field metadata
(`min`, `max`, `min_exclusive`, `max_length`, `allow_infinite`). Anything else is an error that names
the file and the key path: unknown keys (with a did-you-mean), missing keys, wrong types, NaN or
infinite numbers (unless `allow_infinite`), out-of-range values (integers outside int64 even where a
field sets no range) and oversized lists. A mapping field `dict[str, X]` validates each value as an X
under its name. A config never executes code.

The document itself is bounded before anything is built from it: at most `MAX_CONFIG_BYTES`, at most
`MAX_CONFIG_NODES` values once its aliases are expanded (a 1 KB document of nested aliases would
otherwise expand to billions), no recursive alias, no key twice in one mapping. Values quoted in
error messages are shortened (`shown`), and a message is at most `MAX_MESSAGE_CHARS` long.
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import math
import os
import re
import reprlib
import stat
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

T = TypeVar("T")

MAX_CONFIG_BYTES = 1_000_000
MAX_CONFIG_NODES = 1_000_000
"""Values (scalars, lists, mappings) a document may hold once its aliases are expanded."""
MAX_LIST_LENGTH = 10_000
MAX_MESSAGE_CHARS = 500
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


class ConfigError(ValueError):
    """A user mistake in a config or on the command line: `<where>: <key.path>: <what is expected>`."""

    def __init__(self, where: str | Path, key: str, message: str) -> None:
        self.where = _bounded(_printable(str(where)))
        self.key = _bounded(_printable(key))
        self.message = _bounded(_printable(message))
        text = f"{self.where}: {self.key}: {self.message}" if key else f"{self.where}: {self.message}"
        super().__init__(text)


def _printable(text: str) -> str:
    """`text` on one line: non-printable characters (newlines, tabs, NUL, ...) escaped as in Python."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 3] + "..."


_SHORT_REPR = reprlib.Repr()
(_SHORT_REPR.maxlevel, _SHORT_REPR.maxdict, _SHORT_REPR.maxlist, _SHORT_REPR.maxtuple, _SHORT_REPR.maxset,
 _SHORT_REPR.maxstring, _SHORT_REPR.maxlong, _SHORT_REPR.maxother) = (2, 4, 6, 6, 6, 60, 40, 60)


MAX_SHOWN_CHARS = 80


def shown(value: Any) -> str:
    """`repr(value)` shortened for an error message: bounded in depth, items and length, whatever the
    value holds (never the full repr of a large or deeply shared structure)."""
    try:
        text = _SHORT_REPR.repr(value)
    except ValueError:  # an integer of more digits than Python converts to text
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS - 3] + "..."


class _Loader(yaml.SafeLoader):
    """`yaml.SafeLoader` that also reads `1e308` and `-2E-3` as numbers (YAML 1.2; YAML 1.1, which
    PyYAML follows, wants a dot in the mantissa and would read them as strings)."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))


def _check_document(node: yaml.Node, where: Path) -> None:
    """Refuse a composed document with a duplicate key, a recursive alias, or more than
    MAX_CONFIG_NODES values once aliases are expanded (counted without expanding them)."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node, path: str) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in in_progress:
            raise ConfigError(where, path, "recursive alias: a value that contains itself")
        in_progress.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            lines: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    key = key_node.value
                    line = key_node.start_mark.line + 1
                    if key in lines:
                        raise ConfigError(where, _join(path, key), f"duplicate key (lines {lines[key]} and "
                                          f"{line}); a key may appear once in a mapping")
                    lines[key] = line
                    child = _join(path, key)
                else:
                    child = path
                total += size(key_node, child) + size(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item, f"{path}[{i}]") for i, item in enumerate(node.value))
        in_progress.discard(id(node))
        sizes[id(node)] = total
        if total > MAX_CONFIG_NODES:
            raise ConfigError(where, path, f"document too large: more than {MAX_CONFIG_NODES} values once "
                              "its aliases are expanded")
        return total

    size(node, "")


def _safe_load(text: str, where: Path) -> Any:
    """`yaml.safe_load` after `_check_document` on the composed document."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_document(node, where)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold one mapping; any problem is a ConfigError naming the file."""
    path = Path(path)
    raw = read_config_bytes(path)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(path, "", f"file is larger than {MAX_CONFIG_BYTES} bytes, the most a config may be")
    if b"\x00" in raw:
        raise ConfigError(path, "", "binary file; expected YAML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text; expected YAML") from None
    try:
        data = _safe_load(text, path)
    except ConfigError:
        raise
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


def read_config_bytes(path: Path) -> bytes:
    """The bytes of the regular file `path` (at most MAX_CONFIG_BYTES + 1 of them read); a missing,
    unreadable or special file, or a path the system refuses (NUL, symlink loop, a name too long), is a
    ConfigError naming the path."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    except ValueError:
        raise ConfigError(path, "", "the path contains a NUL byte") from None
    except OSError as exc:
        raise ConfigError(path, "", _os_problem(exc)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(path, "", "not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(path, "", _os_problem(exc)) from None


def file_problem(path: Path) -> str | None:
    """Why `path` is not a regular file one could read (a few words), or None if it is one."""
    try:
        mode = os.stat(path).st_mode
    except ValueError:
        return "the path contains a NUL byte"
    except OSError as exc:
        return _os_problem(exc)
    return None if stat.S_ISREG(mode) else "not a regular file"


def _os_problem(exc: OSError) -> str:
    """What an OSError on a path means for the user, in a few words."""
    known = {errno.ENOENT: "no such file", errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
             errno.ENAMETOOLONG: "file name too long", errno.EACCES: "permission denied",
             errno.EISDIR: "not a regular file", errno.ENOTDIR: "a component of the path is not a directory"}
    return known.get(exc.errno, exc.strerror or type(exc).__name__)


def parse(cls: type[T], data: Any, where: str | Path, key_path: str = "") -> T:
    """Validate `data` against dataclass `cls`, recursively; raise ConfigError on the first problem."""
    if not isinstance(data, dict):
        raise ConfigError(where, key_path, f"expected a mapping, got {_type_name(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key in data:
        if not isinstance(key, str) or key not in fields:
            name = key if isinstance(key, str) else shown(key)
            raise ConfigError(where, _join(key_path, name), f"unknown key{did_you_mean(key, fields)}")
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
            raise ConfigError(where, path, f"expected one of {', '.join(map(repr, args))}, got {shown(value)}"
                              f"{did_you_mean(value, [str(a) for a in args], list_choices=False)}")
        return value
    if origin in (list, tuple):
        return _convert_sequence(hint, value, where, path, meta)
    if origin is dict or hint is dict:
        return _convert_mapping(hint, value, where, path)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, where, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(where, path, f"expected true or false, got {_type_name(value)} {shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(where, path, f"expected an integer, got {_type_name(value)} {shown(value)}")
        if not INT64_MIN <= value <= INT64_MAX:
            raise ConfigError(where, path, f"expected an integer in [-2**63, 2**63), got {shown(value)}")
        return _check_range(value, where, path, meta)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(where, path, f"expected a number, got {_type_name(value)} {shown(value)}")
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
            raise ConfigError(where, path, f"expected a string, got {_type_name(value)} {shown(value)}")
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
            raise ConfigError(where, _join(path, shown(key)), f"expected a name as key, got {_type_name(key)}")
        out[key] = _convert(args[1], item, where, _join(path, key), {})
    return out


def _convert_sequence(hint: Any, value: Any, where: str | Path, path: str, meta: typing.Mapping[str, Any]):
    if not isinstance(value, list):
        raise ConfigError(where, path, f"expected a list, got {_type_name(value)} {shown(value)}")
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


def did_you_mean(key: Any, choices: typing.Iterable[str], list_choices: bool = True) -> str:
    """The end of a message about an unknown `key`: a did-you-mean, else the list of `choices` (nothing
    when not `list_choices`: the message lists them already)."""
    close = difflib.get_close_matches(key if isinstance(key, str) else shown(key), list(choices), n=1,
                                      cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; expected one of: {', '.join(sorted(choices))}" if list_choices else ""


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
