"""summary.json and summary.md of a sweep: per configuration (controller and setting), what its trials gave.

Per configuration: `trials`, `failed` (trials that failed twice), `successes`, `success_rate` with its
Wilson 95% interval, `mean_cost` over the successful episodes (a failed episode, shorter and so
cheaper, never lowers it), the median of each task metric (of a yes/no metric such as `fell`, the
fraction of trials where it held), the median controller latency p50 and p99 (us), and the mean
modelled energy per tick per hardware profile (J).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from neuroctl.evaluate import wilson_interval


def summarize(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for line in sorted(lines, key=lambda l: (l["controller"], _order(l["setting"]), l["seed"])):
        groups.setdefault(line["config_id"], []).append(line)
    return [_configuration(group) for group in groups.values()]


def _order(setting: dict[str, Any]) -> tuple:
    """Settings in the order of their values (numbers as numbers, 5 before 10), key by key."""
    return tuple((key, (0, value, "") if isinstance(value, (int, float)) else (1, 0.0, str(value)))
                 for key, value in sorted(setting.items()))


def _median(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.median(finite)) if finite else None


def _configuration(group: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [line for line in group if line["status"] == "ok"]
    successes = [line for line in ok if line["success"]]
    low, high = wilson_interval(len(successes), len(ok)) if ok else (None, None)
    metrics = sorted({name for line in ok for name, value in line["task_metrics"].items()
                      if isinstance(value, (int, float)) and not isinstance(value, bool)})
    flags = sorted({name for line in ok for name, value in line["task_metrics"].items() if isinstance(value, bool)})
    profiles = sorted({name for line in ok for name in line["energy_j_per_tick"]})
    energy = {}
    for name in profiles:
        values = [line["energy_j_per_tick"][name] for line in ok if line["energy_j_per_tick"].get(name) is not None]
        energy[name] = float(np.mean(values)) if values else None
    return {
        "config_id": group[0]["config_id"], "controller": group[0]["controller"], "setting": group[0]["setting"],
        "trials": len(group), "failed": len(group) - len(ok), "successes": len(successes),
        "success_rate": len(successes) / len(ok) if ok else None, "success_ci95": [low, high],
        "mean_cost": float(np.mean([line["cost"] for line in successes])) if successes else None,
        "task_metrics": {**{name: _median([line["task_metrics"].get(name) for line in ok]) for name in metrics},
                         **{name: float(np.mean([bool(line["task_metrics"].get(name)) for line in ok]))
                            for name in flags}},
        "latency_us": {"p50": _median([line["latency_us"]["p50"] for line in ok]),
                       "p99": _median([line["latency_us"]["p99"] for line in ok])},
        "energy_j_per_tick": energy,
    }


def markdown(sweep: str, configurations: list[dict[str, Any]], interrupted: bool) -> str:
    """The summary as a markdown table (one row per configuration)."""
    keys = sorted({key for c in configurations for key in c["setting"]})
    profiles = sorted({name for c in configurations for name in c["energy_j_per_tick"]})
    header = ["controller", *keys, "success (95% CI)", "cost over successes", "controller p50 us",
              *[f"{p} J/tick" for p in profiles], "failed"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for c in configurations:
        low, high = c["success_ci95"]
        success = "-" if low is None else f"{c['successes']}/{c['trials'] - c['failed']} ({100 * low:.0f}-{100 * high:.0f}%)"
        cells = [c["controller"].rsplit("/", 1)[-1], *[_cell(c["setting"].get(k)) for k in keys], success,
                 _cell(c["mean_cost"]), _cell(c["latency_us"]["p50"]),
                 *[_cell(c["energy_j_per_tick"].get(p)) for p in profiles], str(c["failed"])]
        rows.append("| " + " | ".join(cells) + " |")
    note = "\n\n(interrupted: these are the trials finished before the signal; `--resume` runs the rest)" \
        if interrupted else ""
    return f"# Sweep {sweep}\n\n" + "\n".join(rows) + note + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
