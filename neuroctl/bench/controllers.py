"""Controllers suite: every controller on the same seeded cart-pole episodes, side by side.

Episodes are interleaved (seed 0: controller A, B, C, ...; seed 1: A, B, C, ...) in fast mode. Reported
per controller: controller latency per tick (p50/p99/max/mean of all ticks of all episodes), whole-tick
latency by stage, activity per tick, task success and cost, and energy, delay and EDP per tick under
every hardware profile (`neuroctl.metrics.energy`).

Energy is charged for the work a controller does: a spiking controller (one that updates neurons) is
charged its spikes, synaptic events and neuron updates; a non-spiking one its multiply-accumulates. The
dense-equivalent MACs a spiking controller also reports are a comparison figure, not work it does, so
they are not charged to it (metrics.json's `energy` section charges every count it is given).

Then a kernel-only timing: `act(observation)` in a tight loop over the observations of a recorded
episode, controller after controller, round after round; each call timed on its own.

Then the loop's two control paths (`loop_paths`, issue 13): every controller's episodes at 1 kHz in fast
mode through the compiled tick and through the Python path (`act`), interleaved (round r: controller A
compiled, A Python, B compiled, ...). Reported per controller and path (p50 over all ticks, us): the tick,
the control stage, the environment's stages, and the loop's own overhead, the tick minus all stages
(what the loop does between and around them); and per round the compiled path's p50 over the Python
path's. A controller without a compiled tick runs the Python path both times.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuroctl.activity import COUNTER_FIELDS
from neuroctl.bench.episodes import PooledRuns
from neuroctl.bench.suite import SuiteContext, SuiteResult
from neuroctl.bench.tables import energy as fmt_energy
from neuroctl.bench.tables import Table, number
from neuroctl.bench.timing import paired_ratio, stats
from neuroctl.config import ConfigError, range_field
from neuroctl.control.base import Controller
from neuroctl.control.registry import build_controller, builds_from_robot
from neuroctl.launchfile import Launch, linear_model_of, load_launch, loop_settings, make_env, recorder_for
from neuroctl.metrics.energy import charged_counts, shipped_profiles, tick_energy
from neuroctl.run import LaunchRunner, run_launch, with_seed
from neuroctl.runtime.loop import run_episode


CONTROLLERS = ["../controllers/cartpole_balance.yaml", "../controllers/cartpole_mpc.yaml",
               "../controllers/cartpole_mpc_dense.yaml", "../controllers/cartpole_mpc_exact.yaml",
               "../controllers/cartpole_lqr.yaml"]


@dataclass(frozen=True)
class EDPComparison:
    """The headline: the spiking controller's EDP on an event-driven profile vs its dense twin's."""

    spiking: str = range_field("../controllers/cartpole_mpc.yaml", doc="one of `controllers`")
    spiking_profile: str = "loihi"
    dense: str = range_field("../controllers/cartpole_mpc_dense.yaml", doc="one of `controllers`")
    dense_profiles: list[str] = range_field(["cpu", "cmos45nm"])


@dataclass(frozen=True)
class TickTiming:
    """`act` in a tight loop; the first controller is the one the others are compared with."""

    controllers: list[str] = range_field(CONTROLLERS[1:4], max_length=100)
    ticks: int = range_field(1000, min=1, max=1_000_000, doc="recorded observations replayed per round")
    target_us: float = range_field(10.0, min=0.0, min_exclusive=True, doc="p50 target of the first controller")


@dataclass(frozen=True)
class LoopPaths:
    """The compiled control tick against the Python path, episode by episode (module docstring)."""

    launch: str | None = range_field(None, doc="environment and control period of the episodes; null: not run")
    duration_s: float = range_field(2.0, min=0.0, min_exclusive=True, max=3600.0, doc="simulated s per episode")
    overhead_target_us: float = range_field(5.0, min=0.0, min_exclusive=True,
                                            doc="target: the loop's own overhead p50 (compiled path)")


@dataclass(frozen=True)
class ControllersSuite:
    repeat: int = range_field(5, min=1, max=10_000, doc="seeded episodes per controller; rounds of tick timing")
    launch: str = range_field("../../launch/cartpole_mpc.yaml", doc="environment, period and task of every episode")
    first_seed: int = range_field(0, min=0, max=2**32 - 1)
    duration_s: float = range_field(10.0, min=0.0, min_exclusive=True, max=86_400.0)
    controllers: list[str] = range_field(CONTROLLERS, max_length=100)
    deadline_fraction: float = range_field(0.25, min=0.0, min_exclusive=True, max=1.0,
                                           doc="controller p99 target, as a fraction of the control period")
    edp: EDPComparison = range_field(EDPComparison())
    tick_timing: TickTiming = range_field(TickTiming())
    loop_paths: LoopPaths = range_field(LoopPaths())


def run(config: ControllersSuite, context: SuiteContext) -> SuiteResult:
    launch_path = context.existing_file(config.launch, "launch")
    paths = [context.existing_file(p, f"controllers[{i}]") for i, p in enumerate(config.controllers)]
    launches = {path: load_launch(launch_path, path, duration_s=config.duration_s, mode="fast")
                for path in paths}
    names = {path: path.stem for path in paths}
    spiking, dense = (_member(context, config, value, key) for value, key in
                      ((config.edp.spiking, "edp.spiking"), (config.edp.dense, "edp.dense")))
    timed = [_member(context, config, p, f"tick_timing.controllers[{i}]")
             for i, p in enumerate(config.tick_timing.controllers)]

    pooled = _episodes(launches, names, config, context)
    period_s = pooled[paths[0]].metrics[0]["control_period_s"]
    summaries = {names[p]: _summary(launches[p], pooled[p], period_s, config.deadline_fraction) for p in paths}
    headline = _headline(summaries[names[spiking]], summaries[names[dense]], config.edp)
    timing = _tick_timing([launches[p] for p in timed], config.tick_timing, config.repeat, config.first_seed,
                          context)
    paths_data = None
    if config.loop_paths.launch is not None:
        loop_launch = context.existing_file(config.loop_paths.launch, "loop_paths.launch")
        paths_data = _loop_paths({names[p]: load_launch(loop_launch, p, duration_s=config.loop_paths.duration_s,
                                                        mode="fast") for p in paths}, config, context)
    data = {"launch": str(launch_path), "control_period_s": period_s,
            "seeds": list(range(config.first_seed, config.first_seed + config.repeat)),
            "controllers": summaries, "edp_headline": headline, "tick_timing": timing, "loop_paths": paths_data}
    return SuiteResult(data, _tables(data, config))


def _member(context: SuiteContext, config: ControllersSuite, value: str, key: str) -> Path:
    """A controller path named outside `controllers`, which must be one of them."""
    path = context.resolve(value)
    if path not in {context.resolve(p) for p in config.controllers}:
        raise ConfigError(context.path, key, f"{value!r} is not one of `controllers`")
    return path


def _episodes(launches: dict[Path, Launch], names: dict[Path, str], config: ControllersSuite,
              context: SuiteContext) -> dict[Path, PooledRuns]:
    pooled = {path: PooledRuns() for path in launches}
    with contextlib.ExitStack() as stack:
        runners = {path: stack.enter_context(LaunchRunner(launch)) for path, launch in launches.items()}
        for r in range(config.repeat):
            seed = config.first_seed + r
            for path, runner in runners.items():
                context.progress(f"episode {r + 1}/{config.repeat} (seed {seed}): {names[path]}")
                pooled[path].add(runner.run(seed))
    return pooled


def _summary(launch: Launch, runs: PooledRuns, period_s: float, deadline_fraction: float) -> dict[str, Any]:
    activity = runs.activity_per_tick()
    controller = stats(runs.controller_us())
    counts = charged_counts(activity)
    delay_s = controller["mean"] * 1e-6
    energy = {profile.name: tick_energy(profile, counts, delay_s, runs.timesteps_per_tick)
              for profile in shipped_profiles()}
    return {
        "kind": launch.controller_kind,
        "config": str(launch.controller_path),
        "episodes": len(runs.metrics),
        "successes": sum(m["task"]["success"] for m in runs.metrics),
        "cost_mean": float(np.mean([m["task"]["cost"] for m in runs.metrics])),
        "ticks": int(sum(m["ticks"] for m in runs.metrics)),
        "latency_us": {
            "controller": controller,
            "tick": stats(runs.tick_us()),
            "stages": {name: stats(runs.stage_us(name)) for name in runs.stage_names},
        },
        "controller_p99_within_fraction": controller["p99"] * 1e-6 < deadline_fraction * period_s,
        "activity_per_tick": activity,
        "charged_counts_per_tick": counts,
        "energy_per_tick": energy,
        "host_energy_per_tick_j": _host_energy_j(runs.metrics),
    }


def _host_energy_j(metrics: list[dict[str, Any]]) -> float | None:
    """Mean modelled energy per tick of the non-spiking host work beside the network (metrics.json's
    `energy.host`, e.g. the arm's computed torque on the cpu profile), or None where there is none."""
    hosts = [m.get("energy", {}).get("host") for m in metrics]
    values = [h["energy_j"] for h in hosts if h]
    return float(np.mean(values)) if values else None


def _headline(spiking: dict[str, Any], dense: dict[str, Any], edp: EDPComparison) -> dict[str, Any]:
    """EDP of the dense twin on each conventional profile over the spiking controller's on its profile."""
    base = spiking["energy_per_tick"][edp.spiking_profile]
    entry: dict[str, Any] = {
        "spiking": {"config": spiking["config"], "profile": edp.spiking_profile,
                    "counts_per_tick": spiking["charged_counts_per_tick"], **base},
        "dense": {},
    }
    for name in edp.dense_profiles:
        figures = dense["energy_per_tick"][name]
        ratio = figures["edp_js"] / base["edp_js"] if figures.get("applicable") and base.get("applicable") else None
        entry["dense"][name] = {"config": dense["config"], "counts_per_tick": dense["charged_counts_per_tick"],
                                **figures, "edp_ratio_dense_over_spiking": ratio}
    return entry


def _tick_timing(launches: list[Launch], settings: TickTiming, rounds: int, seed: int,
                 context: SuiteContext) -> dict[str, Any]:
    """Each controller's `act` timed call by call on the observations of the first one's episode."""
    arrays = run_launch(with_seed(launches[0], seed)).recorder.arrays()
    recorded = arrays["observation"]
    observations = np.resize(recorded, (settings.ticks, recorded.shape[1]))
    references = arrays.get("reference")
    if references is not None:  # NaN where the loop did not call the controller: zero there
        references = np.resize(np.nan_to_num(references, nan=0.0), (settings.ticks, references.shape[1]))
    with contextlib.ExitStack() as envs:
        controllers = {launch.controller_path.stem: _build(launch, envs) for launch in launches}
        samples: dict[str, list[np.ndarray]] = {name: [] for name in controllers}
        for r in range(rounds):
            context.progress(f"tick timing round {r + 1}/{rounds}")
            for name, controller in controllers.items():
                samples[name].append(_time_calls(controller, observations, seed, references))
    first = next(iter(controllers))
    medians = {name: np.array([np.median(s) for s in rows]) for name, rows in samples.items()}
    return {
        "observations": int(settings.ticks),
        "recorded_from": first,
        "per_tick_us": {name: stats(np.concatenate(rows) * 1e6) for name, rows in samples.items()},
        "ratio_to_first": {name: paired_ratio(medians[name], medians[first]) for name in controllers
                           if name != first},
        "target": {"controller": first, "p50_at_most_us": settings.target_us,
                   "met": bool(np.median(np.concatenate(samples[first])) * 1e6 <= settings.target_us)},
    }


LOOP_PATHS = {"compiled": True, "python": False}


def _loop_paths(launches: dict[str, Launch], config: ControllersSuite, context: SuiteContext) -> dict[str, Any]:
    """Each controller's episodes through both control paths, interleaved (module docstring)."""
    medians: dict[tuple[str, str], list[dict[str, float]]] = {}
    with contextlib.ExitStack() as stack:
        runners = {name: stack.enter_context(LaunchRunner(launch)) for name, launch in launches.items()}
        for r in range(config.repeat):
            seed = config.first_seed + r
            context.progress(f"loop paths round {r + 1}/{config.repeat} (seed {seed})")
            for name, runner in runners.items():
                for path, compiled in LOOP_PATHS.items():
                    medians.setdefault((name, path), []).append(_path_episode(runner, seed, compiled))
    out: dict[str, Any] = {"period_s": next(iter(launches.values())).config.env.kwargs.get("control_period_s"),
                           "rounds": config.repeat, "overhead_target_us": config.loop_paths.overhead_target_us,
                           "controllers": {}}
    for name, runner in runners.items():
        entry = {"compiled_tick": runner.controller.compiled_arrays() is not None}
        for path in LOOP_PATHS:
            rounds = medians[(name, path)]
            entry[path] = {key: float(np.median([m[key] for m in rounds])) for key in rounds[0]}
            entry[path]["overhead_us_range"] = [min(m["overhead_us"] for m in rounds),
                                                max(m["overhead_us"] for m in rounds)]
        for key in ("control_us", "overhead_us", "tick_us"):
            entry[f"{key.removesuffix('_us')}_ratio_compiled_over_python"] = paired_ratio(
                np.array([m[key] for m in medians[(name, "compiled")]]),
                np.array([m[key] for m in medians[(name, "python")]]))
        entry["overhead_target_met"] = entry["compiled"]["overhead_us"] <= config.loop_paths.overhead_target_us
        out["controllers"][name] = entry
    return out


def _path_episode(runner: LaunchRunner, seed: int, compiled: bool) -> dict[str, float]:
    """One episode through the compiled tick or the Python path: p50s over its ticks, us."""
    launch = with_seed(runner.launch, seed)
    settings = dataclasses.replace(loop_settings(launch, runner.env), compiled_tick=compiled)
    recorder = recorder_for(launch, runner.env, runner.controller, settings.n_ticks)
    run_episode(runner.env, runner.controller, settings, recorder)
    records = recorder.arrays()
    tick, stages = records["tick_s"] * 1e6, records["stage_s"] * 1e6
    figures = {"tick_us": tick, "control_us": stages[:, 0], "environment_us": stages[:, 1:].sum(axis=1),
               "overhead_us": tick - stages.sum(axis=1)}
    figures.update({f"{stage}_us": stages[:, i] for i, stage in enumerate(recorder.stage_names) if i > 0})
    if "physics_us" in figures:  # issue 13's wider overhead: everything but the physics and the control stage
        figures["beyond_physics_and_control_us"] = tick - figures["physics_us"] - figures["control_us"]
    return {key: float(np.median(values)) for key, values in figures.items()}


def _build(launch: Launch, envs: contextlib.ExitStack) -> Controller:
    """The launch's controller, warmed up; its environment stays open in `envs` (a computed-torque
    controller calls the robot's rigid-body model every tick)."""
    env = envs.enter_context(make_env(launch))
    kind = launch.controller_kind
    model = None if builds_from_robot(kind) else linear_model_of(env)
    controller = build_controller(kind, launch.controller_config, model, env.observation_space.shape[0],
                                  launch.controller_path, env.unwrapped)
    controller.warmup()
    return controller


def _time_calls(controller: Controller, observations: np.ndarray, seed: int,
                references: np.ndarray | None = None) -> np.ndarray:
    """`act(observation, reference)` call by call; the references recorded with the observations (zeros
    where none were recorded or their size does not fit this controller)."""
    controller.reset(seed)
    times = np.empty(len(observations))
    clock = time.perf_counter
    if references is None or references.shape[1] != controller.reference_size:
        references = np.zeros((len(observations), controller.reference_size))
    for k, (observation, reference) in enumerate(zip(observations, references)):
        start = clock()
        controller.act(observation, reference)
        times[k] = clock() - start
    return times


def _tables(data: dict[str, Any], config: ControllersSuite) -> list[Table]:
    summaries = data["controllers"]
    period_ms = 1e3 * data["control_period_s"]
    stage_names = list(next(iter(summaries.values()))["latency_us"]["stages"])
    latency = Table(f"Controller latency per tick (measured, us; {len(data['seeds'])} seeded episodes each, "
                    f"control period {period_ms:g} ms)",
                    ["controller", "kind", "p50", "p99", "max", "mean", f"p99 < {config.deadline_fraction:g} period",
                     "success", "task cost (mean)"])
    stages = Table("Whole tick by stage (measured, us, p50 / p99)", ["controller", *stage_names, "tick p50", "tick p99",
                                                                     "tick max"])
    activity = Table("Activity per controller tick (counted)",
                     ["controller", *COUNTER_FIELDS, "charged for energy"])
    hosted = any(s.get("host_energy_per_tick_j") for s in summaries.values())
    energy = Table("Energy, delay and EDP per tick (energy MODELLED; delay measured here or MODELLED as stated)",
                   ["controller", "profile", "energy", "delay us", "delay", "EDP J s"]
                   + (["host CPU energy", "energy with host"] if hosted else []))
    for name, s in summaries.items():
        c = s["latency_us"]["controller"]
        latency.add(name, s["kind"], c["p50"], c["p99"], c["max"], c["mean"], s["controller_p99_within_fraction"],
                    f"{s['successes']}/{s['episodes']}", s["cost_mean"])
        st, tick = s["latency_us"]["stages"], s["latency_us"]["tick"]
        stages.add(name, *(f"{number(st[n]['p50'])} / {number(st[n]['p99'])}" for n in stage_names),
                   tick["p50"], tick["p99"], tick["max"])
        activity.add(name, *(s["activity_per_tick"][f] for f in COUNTER_FIELDS),
                     ", ".join(s["charged_counts_per_tick"]))
        host_j = s.get("host_energy_per_tick_j")
        for profile, e in s["energy_per_tick"].items():
            extra = ([fmt_energy(host_j), fmt_energy(e["energy_j"] + host_j) if host_j and e["applicable"]
                      else "-"] if hosted else [])
            if e["applicable"]:
                energy.add(name, profile, fmt_energy(e["energy_j"]), e["delay_s"] * 1e6, e["delay_basis"],
                           f"{e['edp_js']:.3g}", *extra)
            else:
                energy.add(name, profile, "n/a", "n/a", "-", f"n/a: {e['reason']}", *extra)
    activity.notes.append("dense_macs of a spiking controller: what its dense twin multiplies per tick, for "
                          "comparison only; a spiking controller is charged its events, a dense one its MACs")
    energy.notes.append("delay 'measured' = mean controller latency on this CPU (a stand-in for the GPU "
                        "profile); 'modelled' = counts x per-operation times of the profile")
    if hosted:
        energy.notes.append("host CPU: the non-spiking work beside the network (computed torque's rigid-body "
                            "model), MODELLED on the cpu profile (metrics.json energy.host)")
    paths = [] if data["loop_paths"] is None else [_paths_table(data["loop_paths"])]
    return [_headline_table(data["edp_headline"], summaries), latency, stages, activity, energy,
            _tick_table(data["tick_timing"]), *paths]


CLASSICAL_KINDS = ("lqr",)
"""Controllers shown beside the headline comparison: what a classical controller costs for the task."""


def _headline_table(headline: dict[str, Any], summaries: dict[str, Any] | None = None) -> Table:
    """Like for like first: the spiking network on its neuromorphic profile against its dense twin on the
    45 nm CMOS profile; then the classical controllers (LQR) on the same profiles; then the dense twin on
    the CPU and GPU profiles as context."""
    spiking = headline["spiking"]
    table = Table("Headline: spiking MPC EDP vs its dense twin, and LQR for the same task (MODELLED energy)",
                  ["controller", "profile", "counts per tick", "energy", "delay us", "delay", "EDP J s",
                   "EDP / spiking EDP"])

    def add(entry: dict[str, Any], profile: str, ratio: float | None, config: str) -> None:
        counts = ", ".join(f"{k} {number(v)}" for k, v in entry["counts_per_tick"].items())
        if entry["applicable"]:
            table.add(Path(config).stem, profile, counts, fmt_energy(entry["energy_j"]), entry["delay_s"] * 1e6,
                      entry["delay_basis"], f"{entry['edp_js']:.3g}", ratio)
        else:
            table.add(Path(config).stem, profile, counts, "n/a", "n/a", "-", f"n/a: {entry['reason']}", None)

    dense = headline["dense"]
    like = [p for p in dense if p == "cmos45nm"]
    context = [p for p in dense if p not in like]
    add(spiking, spiking["profile"], None, spiking["config"])
    for profile in like:
        add(dense[profile], profile, dense[profile]["edp_ratio_dense_over_spiking"], dense[profile]["config"])
    for s in (summaries or {}).values():
        if s["kind"] in CLASSICAL_KINDS:
            for profile in like or context[:1]:
                e = s["energy_per_tick"].get(profile)
                if e is not None:
                    ratio = e["edp_js"] / spiking["edp_js"] if e.get("applicable") and spiking.get("applicable") \
                        else None
                    add({**e, "counts_per_tick": s["charged_counts_per_tick"]}, profile, ratio, s["config"])
    for profile in context:
        add(dense[profile], profile, dense[profile]["edp_ratio_dense_over_spiking"], dense[profile]["config"])
    table.notes.append("like for like first (spiking on the neuromorphic profile, its dense twin on 45 nm CMOS), "
                       "then a classical controller on the same CMOS profile, then the CPU/GPU profiles as "
                       "context; the ratio column is that row's EDP over the spiking network's")
    return table


def _tick_table(timing: dict[str, Any]) -> Table:
    table = Table(f"Kernel-only tick: act() in a tight loop on {timing['observations']} recorded observations "
                  "(measured, us)", ["controller", "p50", "p99", "max", "mean", "time / first's (p50 of rounds)"])
    for name, t in timing["per_tick_us"].items():
        ratio = timing["ratio_to_first"].get(name)
        table.add(name, t["p50"], t["p99"], t["max"], t["mean"], ratio["p50"] if ratio else "1 (reference)")
    target = timing["target"]
    table.notes.append(f"target: {target['controller']} p50 <= {target['p50_at_most_us']:g} us: "
                       f"{'met' if target['met'] else 'NOT met'}")
    return table




def _paths_table(paths: dict[str, Any]) -> Table:
    first = next(iter(paths["controllers"].values()))
    wider = "beyond_physics_and_control_us" in first["compiled"]
    stage_keys = [key for key in first["compiled"] if key.endswith("_us") and key not in
                  ("tick_us", "control_us", "environment_us", "overhead_us", "beyond_physics_and_control_us")]
    table = Table(f"Control paths: compiled tick vs Python path (measured, us, p50; control period "
                  f"{1e3 * paths['period_s']:g} ms, fast mode, median over {paths['rounds']} interleaved rounds)",
                  ["controller", "path", "tick", "control", *(k.removesuffix("_us") for k in stage_keys),
                   "loop overhead (min-max)", *(["tick - physics - control"] if wider else []),
                   "compiled / python: control", "overhead", "tick"])
    for name, entry in paths["controllers"].items():
        for path in LOOP_PATHS:
            figures = entry[path]
            low, high = figures["overhead_us_range"]
            ratios = ([f"{entry[f'{k}_ratio_compiled_over_python']['p50']:.2f}" for k in ("control", "overhead", "tick")]
                      if path == "compiled" else ["", "", ""])
            label = path if entry["compiled_tick"] or path == "python" else "compiled (none: python)"
            table.add(name, label, figures["tick_us"], figures["control_us"], *(figures[k] for k in stage_keys),
                      f"{number(figures['overhead_us'])} ({number(low)}-{number(high)})",
                      *([figures["beyond_physics_and_control_us"]] if wider else []), *ratios)
    table.notes.append("loop overhead = tick minus all its stages (control and the environment's); the "
                       "environment's own Python work is in its stages (actuate, sense)")
    table.notes.append(f"target: loop overhead p50 <= {paths['overhead_target_us']:g} us on the compiled path: "
                       + ", ".join(f"{name} {'met' if e['overhead_target_met'] else 'NOT met'}"
                                   for name, e in paths["controllers"].items() if e["compiled_tick"]))
    if wider:
        table.notes.append(f"tick - physics - control: everything of a tick but the physics and the controller "
                           f"(the environment's actuate and sense included; issue 13's target at most "
                           f"{paths['overhead_target_us']:g} us on the compiled path)")
    return table
