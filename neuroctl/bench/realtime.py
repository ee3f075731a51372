"""Realtime suite: closed loops paced to the wall clock, one run per control period and realtime variant,
interleaved.

Each run is the suite's launch file in realtime mode with the environment's `control_period_s` set to
one of `periods_s` and, for each of `settings` (none: the launch file's own), that `run.realtime`
section in place of the launch file's (e.g. without and with CPU affinity, SCHED_FIFO and locked
memory). Reported per period and variant: deadline misses, miss rate and the misses by cause (the
loop's own compute, a stalled process, lateness carried from an earlier overrun: `neuroctl.runtime.loop`),
the time the host took from the vCPUs during the runs, what the operating system granted of the
settings, lateness of tick starts behind their release times (p50/p99/max), controller and whole-tick
latency, the CPU time the loop used per second of wall time, and the load average around the run: on
a shared machine other processes' load shows up here as misses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from neuroctl.bench.episodes import PooledRuns
from neuroctl.bench.machine import load_average
from neuroctl.bench.suite import SuiteContext, SuiteResult
from neuroctl.bench.tables import Table
from neuroctl.bench.timing import stats
from neuroctl.config import range_field
from neuroctl.launchfile import Launch, RealtimeSection, load_launch
from neuroctl.runtime.loop import MISS_CAUSES
from neuroctl.runtime.realtime import realtime_summary
from neuroctl.run import run_launch


@dataclass(frozen=True)
class RealtimeSuite:
    repeat: int = range_field(1, min=1, max=10_000, doc="runs per period, interleaved across periods")
    launch: str = range_field("../../launch/cartpole_realtime.yaml", doc="environment, controller and task")
    periods_s: list[float] = range_field([0.001, 0.002], min=0.001, max=0.02, doc="control periods, s")
    duration_s: float = range_field(60.0, min=0.0, min_exclusive=True, max=86_400.0, doc="wall time per run")
    seed: int = range_field(0, min=0, max=2**32 - 1)
    settings: dict[str, RealtimeSection] = range_field(
        {}, doc="run.realtime variants by name, each run at every period in place of the launch file's own")
    max_miss_rate: float = range_field(0.001, min=0.0, max=1.0, doc="target: misses / ticks at every period")
    deadline_fraction: float = range_field(0.25, min=0.0, min_exclusive=True, max=1.0,
                                           doc="target: controller p99 below this fraction of the period")


def run(config: RealtimeSuite, context: SuiteContext) -> SuiteResult:
    base = load_launch(context.existing_file(config.launch, "launch"), duration_s=config.duration_s,
                       mode="realtime", seed=config.seed)
    variants = config.settings or {"launch file": base.config.run.realtime}
    launches = {(period, name): _with(base, period, realtime) for period in config.periods_s
                for name, realtime in variants.items()}
    pooled = {key: PooledRuns() for key in launches}
    loads: dict[tuple[float, str], list[list[float]]] = {key: [] for key in launches}
    for r in range(config.repeat):
        for (period, name), launch in launches.items():
            context.progress(f"run {r + 1}/{config.repeat}: {1 / period:g} Hz, {name}, for {config.duration_s:g} s")
            before = load_average()
            pooled[period, name].add(run_launch(launch))
            loads[period, name].append([before, load_average()])
    summaries = [_summary(period, name, pooled[period, name], loads[period, name], config)
                 for period, name in launches]
    data = {"launch": str(base.path), "controller": base.controller_kind, "periods": summaries}
    return SuiteResult(data, [_table(summaries, config)])


def _with(launch: Launch, period_s: float, realtime: RealtimeSection) -> Launch:
    """`launch` at control period `period_s` with `realtime` as its run.realtime section."""
    env = dataclasses.replace(launch.config.env, kwargs={**launch.config.env.kwargs, "control_period_s": period_s})
    run = dataclasses.replace(launch.config.run, realtime=realtime)
    return dataclasses.replace(launch, config=dataclasses.replace(launch.config, env=env, run=run))


def _summary(period_s: float, variant: str, runs: PooledRuns, loads: list[list[list[float]]],
             config: RealtimeSuite) -> dict[str, Any]:
    ticks = sum(m["ticks"] for m in runs.metrics)
    misses = sum(m["deadline"]["misses"] for m in runs.metrics)
    steals = [m["deadline"]["host_steal_s"] for m in runs.metrics]
    cpu_s = sum(m["deadline"]["cpu_time_s"] for m in runs.metrics)
    wall_s = sum(m["deadline"]["wall_time_s"] for m in runs.metrics)
    controller = stats(runs.controller_us())
    miss_rate = misses / ticks
    return {
        "period_s": period_s,
        "rate_hz": 1.0 / period_s,
        "settings": variant,
        "realtime_applied": [m["realtime"] for m in runs.metrics],
        "runs": len(runs.metrics),
        "ticks": ticks,
        "completed": all(m["task"]["success"] for m in runs.metrics),
        "misses": misses,
        "miss_rate": miss_rate,
        "misses_by_cause": {cause: sum(m["deadline"]["misses_by_cause"][cause] for m in runs.metrics)
                            for cause in MISS_CAUSES},
        "host_steal_s": None if None in steals else sum(steals),
        "lateness_us": stats(runs.lateness_us()),
        "controller_us": controller,
        "tick_us": stats(runs.tick_us()),
        "cpu_time_s": cpu_s,
        "wall_time_s": wall_s,
        "cpu_per_wall": cpu_s / wall_s,
        "load_average_before_after": loads,
        "targets": {
            "miss_rate_at_most": config.max_miss_rate,
            "miss_rate_met": miss_rate <= config.max_miss_rate,
            "no_compute_miss": all(m["deadline"]["misses_by_cause"]["compute"] == 0 for m in runs.metrics),
            "controller_p99_below_us": config.deadline_fraction * period_s * 1e6,
            "controller_p99_met": controller["p99"] < config.deadline_fraction * period_s * 1e6,
        },
    }


def _table(summaries: list[dict[str, Any]], config: RealtimeSuite) -> Table:
    table = Table(f"Paced to the wall clock (measured), {config.duration_s:g} s per run",
                  ["rate", "run.realtime", "ticks", "misses", "miss rate", f"<= {100 * config.max_miss_rate:g}%",
                   " / ".join(MISS_CAUSES), "host took ms", "late p50 us", "late p99 us", "late max us",
                   "controller p99 us", f"< {config.deadline_fraction:g} period", "tick p99 us", "CPU s / wall s",
                   "load 1 min before -> after", "balanced"])
    for s in summaries:
        lateness, t = s["lateness_us"], s["targets"]
        load = ", ".join(f"{before[0]:.2f} -> {after[0]:.2f}" for before, after in s["load_average_before_after"])
        causes = " / ".join(str(s["misses_by_cause"][cause]) for cause in MISS_CAUSES)
        steal = "-" if s["host_steal_s"] is None else f"{1e3 * s['host_steal_s']:.0f}"
        table.add(f"{s['rate_hz']:g} Hz", s["settings"], s["ticks"], s["misses"], f"{100 * s['miss_rate']:.3f}%",
                  t["miss_rate_met"], causes, steal, lateness["p50"], lateness["p99"], lateness["max"],
                  s["controller_us"]["p99"], t["controller_p99_met"], s["tick_us"]["p99"], s["cpu_per_wall"], load,
                  s["completed"])
    table.notes.append("a miss: a tick that ended after the next release time; lateness: how far behind its "
                       "release time a tick started; causes (`neuroctl.runtime.loop`): compute, the loop's own "
                       "work ran past the deadline; stalled, the process was not running for the overrun; "
                       "carried, lateness inherited from an earlier overrun; host took: the hypervisor's steal "
                       "time from all vCPUs during the runs")
    for s in summaries:
        for report in s["realtime_applied"][:1]:
            if report:
                table.notes.append(f"{s['rate_hz']:g} Hz, {s['settings']}: {realtime_summary(report)}")
    return table
