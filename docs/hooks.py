"""MkDocs hook: the configuration reference, generated from the config dataclasses at build time.

`docs/reference/configuration.md` holds markers `<!-- config: launch -->`, `<!-- config: controllers -->`
and `<!-- config: bench -->`; `on_page_markdown` replaces each with tables made from the dataclasses that
`neuroctl.config.parse` validates against (launch files: `neuroctl.launchfile.LaunchConfig`; controller
configs: every kind of `neuroctl.control.registry.CONTROLLER_KINDS`; bench suites:
`neuroctl.bench.suite.SUITE_KINDS`). Type, range and default come from the fields and their
`range_field` metadata, the unit from the metadata's `unit` or the key's SI suffix (`_s`, `_hz`, ...),
the description from the metadata's `doc` or the field's attribute docstring. So the page cannot drift
from the code.

`python docs/hooks.py` prints the generated markdown.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import textwrap
import types
import typing
from typing import Any, Literal

MARKER = re.compile(r"<!--\s*config:\s*(\w+)\s*-->")

UNIT_SUFFIXES = [  # longest first
    ("_rad_s2", "rad/s²"), ("_rad_s", "rad/s"), ("_per_s", "1/s"), ("_hz", "Hz"), ("_us", "µs"),
    ("_nm", "N·m"), ("_rad", "rad"), ("_s", "s"), ("_n", "N"), ("_m", "m"), ("_j", "J"),
]

NOTES = {
    ("launch", "env.kwargs"): "the environment's keyword arguments (see [Environments](environments.md))",
    ("launch", "controller"): "controller config file, relative to the launch file",
    ("launch", "outputs.dir"): "run directory (default `runs/<launch file name>`)",
    ("launch", "outputs.plots"): "write the four PNG plots",
    ("launch", "outputs.video"): "render a video (`.mp4` or `.gif`) after the run, relative to the run directory",
    ("launch", "run.mode"): "`realtime` paces ticks to the wall clock, `fast` runs flat out",
    ("launch", "run.overrun_policy"): "what a missed deadline does (realtime mode)",
    ("launch", "run.watchdog"): "a non-finite or out-of-range command is replaced by zero or the last good one",
    ("launch", "env.id"): "a registered gymnasium id, or `module:Id` for an environment of your own",
    ("launch", "sensors"): "per sensor (name or index): overrides of the sensor monitor's limits",
    ("launch", "env.model.linearise"): "linearise the environment about its state after reset",
}

NOTES_BY_NAME = {
    "neurons_per_dimension": "LIF neurons per state component",
    "max_rates_hz": "range the neurons' maximum firing rates are drawn from",
    "intercepts": "range the neurons' intercepts (of e . x / radius) are drawn from",
    "tau_rc_s": "membrane time constant",
    "tau_ref_s": "refractory period",
    "tau_syn_s": "synaptic time constant",
    "dt_s": "time step",
    "first_seed": "seed of the first episode; the others follow",
    "create_venv": "create the venv if it is missing",
    "spiking_profile": "hardware profile (`configs/hardware/`) the spiking controller is priced on",
    "dense_profiles": "hardware profiles the dense twin is priced on",
    "controllers": "controller configs, relative to the suite file",
    "targets": "speedups the suite checks",
    "networks": "the networks timed",
    "neurons": "network size",
    "connectivity": "probability of each synapse",
}
"""Descriptions of keys whose field has no `doc` (by key name, after NOTES by full key)."""

NOTES.update({
    ("launch", "run.duration_s"): "simulated time of the run (the records of a run may take at most 2 GiB: "
                                  "a longer run is refused before it starts)",
    ("launch", "run.seed"): "seed of the initial state, the noise and the network",
    ("launch", "sensors.<name>.tolerance"): "a change up to this is always plausible",
    ("controller", "state_input"): "`sigma_delta`: readings straight to the sensor neurons; `population`: "
                                   "through LIF populations first",
    ("controller", "seed"): "seed of the network's random draws",
    ("bench", "seed"): "seed of the episodes or the network",
    ("bench", "duration_s"): "simulated time of each episode",
    ("model", "model.A"): "state matrix (n x n), one control period",
    ("model", "model.B"): "input matrix (n x m), action units",
    ("model", "model.dt_s"): "the control period the model is for",
})


# ----------------------------------------------------------------------------------------------------
# one field -> one row


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return inner[0], type(None) in args
    return hint, False


def _plural(text: str) -> str:
    first, _, rest = text.partition(" ")
    return (first if first.endswith("s") else first + "s") + (" " + rest if rest else "")


def type_name(hint: Any) -> str:
    hint, optional = _strip_optional(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        text = "one of " + ", ".join(f"`{a}`" for a in args)
    elif origin in (list, tuple):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            text = f"list of {len(args)} {_plural(type_name(args[0]))}"
        elif typing.get_origin(args[0]) is Literal:
            text = "list, each " + type_name(args[0])
        else:
            text = f"list of {_plural(type_name(args[0]))}"
    elif origin is dict or hint is dict:
        text = f"mapping of name to {type_name(args[1])}" if args else "mapping"
    elif dataclasses.is_dataclass(hint):
        text = "mapping"
    else:
        text = {float: "number", int: "integer", bool: "boolean", str: "string"}.get(hint, str(hint))
    return text + (" or null" if optional else "")


def unit_of(name: str, meta: typing.Mapping[str, Any]) -> str:
    if "unit" in meta:
        return meta["unit"]
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, int) and abs(value) >= 10**6:
        for base in (2, 10):
            power = round(__import__("math").log(abs(value) + 1, base))
            for p in (power, power - 1, power + 1):
                if base**p - abs(value) in (0, 1):
                    return f"{base}^{p}" + ("-1" if base**p - abs(value) == 1 else "")
        return f"{value:,}".replace(",", "_")
    return repr(value)


def range_of(hint: Any, meta: typing.Mapping[str, Any]) -> str:
    low, high = meta.get("min"), meta.get("max")
    parts = []
    if low is not None and high is not None:
        parts.append(f"{'(' if meta.get('min_exclusive') else '['}{_number(low)}, {_number(high)}]")
    elif low is not None:
        parts.append(f"{'>' if meta.get('min_exclusive') else '>='} {_number(low)}")
    elif high is not None:
        parts.append(f"<= {_number(high)}")
    if meta.get("allow_infinite"):
        parts.append("`.inf` allowed")
    if "length" in meta:
        parts.append(f"{meta['length']} items")
    if "max_length" in meta:
        parts.append(f"at most {_number(meta['max_length'])} items")
    inner, _ = _strip_optional(hint)
    if low is not None and typing.get_origin(inner) in (list, tuple):
        parts[0] = "each " + parts[0]
    return ", ".join(parts)


def yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        if len(value) > 4 and len(set(map(repr, value))) < len(value):
            runs, previous, count = [], object(), 0
            for item in list(value) + [object()]:
                if item == previous:
                    count += 1
                    continue
                if count:
                    runs.append(yaml_value(previous) + (f" ×{count}" if count > 1 else ""))
                previous, count = item, 1
            return "[" + ", ".join(runs) + "]"
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in value.items()) + "}"
    if dataclasses.is_dataclass(value):
        return "{" + ", ".join(f"{f.name}: {yaml_value(getattr(value, f.name))}"
                               for f in dataclasses.fields(value)) + "}"
    if isinstance(value, (int, float)):
        return _number(value)
    return str(value)


def attribute_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (a string right after a field) of `cls` and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _nested_class(hint: Any) -> tuple[type | None, str]:
    """The dataclass a field holds and how its keys continue: '.', '.<name>.', '[].'."""
    hint, _ = _strip_optional(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return hint, "."
    if origin is dict and args and dataclasses.is_dataclass(args[1]):
        return args[1], ".<name>."
    if origin is list and args and dataclasses.is_dataclass(args[0]):
        return args[0], "[]."
    return None, ""


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def rows(cls: type, table: str, prefix: str = "", instance: Any = None) -> list[list[str]]:
    """One row per key of `cls` (nested sections expanded), defaults taken from `instance` if given."""
    out = []
    hints = _hints(cls)
    docs = attribute_docs(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key = prefix + f.name
        hint = hints[f.name]
        default = getattr(instance, f.name) if instance is not None else _default(f)
        nested, joiner = _nested_class(hint)
        doc = (f.metadata.get("doc") or docs.get(f.name) or NOTES.get((table, key))
               or NOTES.get((table, f.name)) or NOTES_BY_NAME.get(f.name, ""))
        if nested is not None and joiner == ".":
            section_doc = doc or " ".join(_class_doc(nested).split())
            if len(section_doc) > 200:  # a long class docstring: its first sentence (the API page has the rest)
                section_doc = section_doc.split(". ")[0].rstrip(".") + "."
            if default is None:
                out.append([f"`{key}`", type_name(hint), "", "", "null (section absent)", section_doc])
                out += rows(nested, table, key + ".")
            else:
                sub = None if default is dataclasses.MISSING else default
                if default is dataclasses.MISSING:
                    out.append([f"`{key}`", "mapping", "", "", "**required**", section_doc])
                out += rows(nested, table, key + ".", sub)
            continue
        shown = "**required**" if default is dataclasses.MISSING else yaml_value(default)
        out.append([f"`{key}`", type_name(hint), unit_of(f.name, f.metadata),
                    range_of(hint, f.metadata), f"`{shown}`" if shown != "**required**" else shown, doc])
        if nested is not None:
            out += rows(nested, table, key + joiner)
    return out


def markdown_table(body: list[list[str]]) -> str:
    header = ["key", "type", "unit", "range", "default", "description"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in body:
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |")
    return "\n".join(lines)


def _class_doc(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    if doc.startswith(cls.__name__ + "("):  # dataclass's generated signature
        return ""
    return doc


# ----------------------------------------------------------------------------------------------------
# the three sections


def launch_reference() -> str:
    from neuroctl.launchfile import LaunchConfig
    parts = ["Top-level sections: " + ", ".join(f"`{f.name}`" for f in dataclasses.fields(LaunchConfig)) + ".",
             "", markdown_table(rows(LaunchConfig, "launch"))]
    return "\n".join(parts)


def controllers_reference() -> str:
    from neuroctl.control.registry import CONTROLLER_KINDS, ModelSection, config_class
    parts = ["Every controller config has `kind` (one of " + ", ".join(f"`{k}`" for k in CONTROLLER_KINDS)
             + ") and may have a `model` section (the plant model for an environment without "
             "`linear_model()`; its sizes and `dt_s` are checked against the environment):", "",
             markdown_table(rows(ModelSection, "model", "model.")), ""]
    for kind, (module, class_name, config_name) in CONTROLLER_KINDS.items():
        cls = config_class(kind)
        parts += [f"### `{kind}`", "",
                  f"Controller `{module}.{class_name}`, config `{module}.{config_name}`.", ""]
        doc = _class_doc(cls)
        if doc:
            parts += [doc, ""]
        parts += [markdown_table(rows(cls, "controller")), ""]
    return "\n".join(parts)


def bench_reference() -> str:
    from neuroctl.bench.suite import SUITE_KINDS
    parts = ["A suite file has `kind` (one of " + ", ".join(f"`{k}`" for k in SUITE_KINDS)
             + ") and that kind's keys; paths are relative to the suite file.", ""]
    for kind, (module, class_name) in SUITE_KINDS.items():
        cls = getattr(importlib.import_module(module), class_name)
        parts += [f"### `{kind}`", "", f"Config `{module}.{class_name}`.", ""]
        doc = _class_doc(cls)
        if doc:
            parts += [doc, ""]
        parts += [markdown_table(rows(cls, "bench")), ""]
    return "\n".join(parts)


def _flag_row(action) -> list[str]:
    import argparse
    if action.option_strings:
        name = ", ".join(f"`{o}`" for o in action.option_strings)
        if action.nargs != 0:
            value = action.metavar or (" \\| ".join(action.choices) if action.choices else action.dest.upper())
            name += f" `{value}`".replace("|", "\\|")
    else:
        name = f"`{action.metavar or action.dest.upper()}`"
    notes = []
    if action.required and action.option_strings:
        notes.append("required")
    if isinstance(action, argparse._AppendAction) and "repeatable" not in (action.help or ""):
        notes.append("repeatable")
    if action.choices and action.option_strings:
        notes.append("one of " + ", ".join(f"`{c}`" for c in action.choices))
    text = (action.help or "").replace("|", "\\|").replace("<", "&lt;")
    return [name, text + (f" ({'; '.join(notes)})" if notes else "")]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("." if text else "")


def cli_reference() -> str:
    """Every command of `neuroctl.cli.build_parser()` with its arguments, description and examples."""
    import argparse
    from neuroctl import cli
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in subparsers._choices_actions}
    parts = []
    for name, sub in subparsers.choices.items():
        actions = [a for a in sub._actions if not isinstance(a, argparse._HelpAction)]
        usage = " ".join(sub.format_usage().split()).removeprefix("usage: ")
        parts += [f"## `neuroctl {name}`", "", _sentence(helps.get(name) or ""), "",
                  "```text", usage, "```", ""]
        if actions:
            parts += ["| argument | meaning |", "|---|---|"]
            parts += ["| " + " | ".join(_flag_row(a)) + " |" for a in actions]
            parts.append("")
        if sub.epilog:
            parts += ["```text", sub.epilog, "```", ""]
    codes = [(0, "success")] + sorted(
        (value, name) for name, value in vars(cli).items() if name.startswith("EXIT_") and isinstance(value, int))
    meanings = {"EXIT_RESULTS_ELSEWHERE": "the run finished but its results could not be written where asked: "
                                          "they went to a new private directory under the system's temporary "
                                          "directory (one line says which)",
                "EXIT_USAGE": "a mistake in a config file or on the command line: one line "
                              "`error: <file>: <key.path>: <what is wrong, what is expected>`, never a traceback",
                "EXIT_SIGINT": "stopped by SIGINT (Ctrl-C); results written so far are complete and marked "
                               "`interrupted: true`",
                "EXIT_SIGTERM": "stopped by SIGTERM; as for SIGINT"}
    parts += ["## Exit codes", "", "| code | constant in `neuroctl.cli` | meaning |", "|---|---|---|"]
    for value, name in codes:
        constant = f"`{name}`" if name.startswith("EXIT_") else ""
        parts.append(f"| {value} | {constant} | {meanings.get(name, name)} |")
    return "\n".join(parts)


SECTIONS = {"cli": cli_reference, "launch": launch_reference, "controllers": controllers_reference, "bench": bench_reference}


def expand(markdown: str) -> str:
    return MARKER.sub(lambda m: SECTIONS[m.group(1)](), markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER.search(markdown):
        return expand(markdown)
    return markdown


if __name__ == "__main__":
    print(expand("<!-- config: cli -->\n## Launch files\n<!-- config: launch -->\n## Controllers\n<!-- config: controllers -->\n"
                 "## Bench\n<!-- config: bench -->"))
