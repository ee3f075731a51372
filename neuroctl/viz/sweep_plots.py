"""A sweep's plots (matplotlib, Agg), from its summary's configurations:

- `sweep_<key>.png` for each varied parameter: success rate, cost over the successes, controller
  latency p50 and modelled energy per tick against the parameter's value, one line per controller and
  setting of the other parameters;
- `sweep_pareto.png`: each configuration's modelled energy per tick (on the first hardware profile that
  prices every configuration) against its mean cost, the Pareto front (no other configuration is both
  cheaper in energy and in cost) drawn through the points on it. Configurations without a success
  have no cost and are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = (("success_rate", "success rate"), ("mean_cost", "cost over successes"),
          ("latency_p50", "controller p50 (us)"), ("energy", "energy per tick (J, modelled)"))


def _value(configuration: dict[str, Any], panel: str, profile: str | None) -> float | None:
    if panel == "latency_p50":
        return configuration["latency_us"]["p50"]
    if panel == "energy":
        return configuration["energy_j_per_tick"].get(profile) if profile else None
    return configuration[panel]


def common_profile(configurations: list[dict[str, Any]]) -> str | None:
    """The first hardware profile (by name) that prices every configuration, else None."""
    names = sorted({name for c in configurations for name in c["energy_j_per_tick"]})
    for name in names:
        if all(c["energy_j_per_tick"].get(name) is not None for c in configurations):
            return name
    return None


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points (energy, cost) no other point beats in both (ties kept), by energy."""
    front = [i for i, (e, c) in enumerate(points)
             if not any((e2 <= e and c2 <= c) and (e2 < e or c2 < c) for e2, c2 in points)]
    return sorted(front, key=lambda i: points[i])


def write_sweep_plots(out_dir: Path, configurations: list[dict[str, Any]], title: str) -> list[Path]:
    """Write the plots (module docstring) into `out_dir`; return their paths."""
    profile = common_profile(configurations)
    keys = sorted({key for c in configurations for key in c["setting"]})
    written = []
    for key in keys:
        figure, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.6), constrained_layout=True)
        lines: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
        for c in configurations:
            if key not in c["setting"]:
                continue
            others = ", ".join(f"{k}={v}" for k, v in sorted(c["setting"].items()) if k != key)
            label = Path(c["controller"]).stem + (f" ({others})" if others else "")
            lines.setdefault(label, []).append((c["setting"][key], c))
        for axis, (panel, name) in zip(axes, PANELS):
            for label, points in lines.items():
                points.sort(key=lambda p: p[0])
                xs = [x for x, c in points if _value(c, panel, profile) is not None]
                ys = [_value(c, panel, profile) for x, c in points if _value(c, panel, profile) is not None]
                if xs:
                    axis.plot(xs, ys, marker="o", label=label)
            axis.set_xlabel(key)
            axis.set_title(name + (f", {profile}" if panel == "energy" and profile else ""), fontsize=9)
            axis.grid(alpha=0.3)
        axes[0].legend(fontsize=7)
        figure.suptitle(f"{title}: against {key}", fontsize=10)
        path = out_dir / f"sweep_{key.replace('.', '_')}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path)
    costed = [c for c in configurations if c["mean_cost"] is not None and profile is not None]
    if costed:
        points = [(c["energy_j_per_tick"][profile], c["mean_cost"]) for c in costed]
        front = pareto_front(points)
        figure, axis = plt.subplots(figsize=(6.5, 4.5), constrained_layout=True)
        for controller in sorted({c["controller"] for c in costed}):
            mine = [p for c, p in zip(costed, points) if c["controller"] == controller]
            axis.scatter([e for e, _ in mine], [c for _, c in mine], label=Path(controller).stem, alpha=0.7)
        axis.plot([points[i][0] for i in front], [points[i][1] for i in front], color="black", lw=1,
                  label="Pareto front")
        axis.set_xscale("log")
        axis.set_xlabel(f"energy per tick, J (modelled, {profile})")
        axis.set_ylabel("mean cost over successes")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
        axis.set_title(f"{title}: energy against cost", fontsize=10)
        path = out_dir / "sweep_pareto.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path)
    return written
