"""Kernel suite: how fast neuroctl's kernel steps a recurrent LIF network, against Nengo, Brian2, numpy.

For each network size every simulator is started on the same `KernelWorkload`, then sampled in turn
(neuroctl, nengo, brian2 targets, numpy, neuroctl, ...) for `repeat` rounds of `steps` steps each.
Reported per simulator: seconds per step (p50/p99/max/mean over the rounds), neuron updates/s and
synaptic events/s (at the rate that simulator measured), build and compile times; per peer, the speedup
of neuroctl round by round (peer's time / neuroctl's time), and whether the suite's targets are met.

`nengo_models`: small Nengo models (communication channel, squaring, integrator, PES adaptive population;
`NENGO_MODELS`) built
once by Nengo and converted with `neuroctl.network.from_nengo` (the same built parameters), then stepped
by Nengo's reference simulator and by the kernel, interleaved round by round, at the suite's dt. A
neuroctl sample includes tabulating the input node's f(t) for its steps (Nengo evaluates it in its step).
BLAS is held to one thread (threadpoolctl) in this process and in Brian2's: the loop runs on one core.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from neuroctl.bench.brian2_peer import Brian2Simulator
from neuroctl.bench.brian2_venv import ensure_venv
from neuroctl.bench.nengo_peer import NengoSimulator
from neuroctl.bench.simulators import Simulator, Unavailable, start_neuroctl, start_numpy
from neuroctl.bench.suite import SuiteContext, SuiteResult
from neuroctl.bench.tables import Table
from neuroctl.bench.timing import interleave, paired_ratio, stats
from neuroctl.bench.floor import step_floor
from neuroctl.bench.workload import KernelWorkload, NeuronModel, StepCounts, make_workload
from neuroctl.config import range_field

NengoModelName = Literal["communication_channel", "squaring", "integrator", "pes_adaptive_population"]

Peer = Literal["nengo", "brian2", "numpy"]
Brian2Target = Literal["cython", "cpp_standalone", "numpy"]


@dataclass(frozen=True)
class NetworkSpec:
    neurons: int = range_field(min=1, max=100_000)
    connectivity: float = range_field(min=0.0, min_exclusive=True, max=1.0, doc="probability of each synapse")
    steps: int = range_field(1000, min=1, max=10_000_000, doc="simulated steps per timed sample")


@dataclass(frozen=True)
class Brian2Settings:
    targets: list[Brian2Target] = range_field(["cython", "cpp_standalone"], doc="code-generation targets to try")
    venv: str = range_field("~/.cache/neuroctl/bench-venvs/brian2", doc="Brian2's own venv (created if missing)")
    create_venv: bool = True
    requirements: list[str] = range_field(["brian2", "numpy<2.4", "cython"], doc="pip requirements of the venv")
    timeout_s: float = range_field(1800.0, min=1.0, max=86_400.0, doc="for venv creation and each runner answer")


@dataclass(frozen=True)
class SpeedupTarget:
    neurons: int = range_field(min=1)
    connectivity: float = range_field(min=0.0, min_exclusive=True, max=1.0)
    peer: Peer = range_field(doc="nengo, brian2 (its fastest target) or numpy")
    min_speedup: float = range_field(min=0.0, min_exclusive=True, doc="peer's time per step / neuroctl's")


@dataclass(frozen=True)
class NengoModelSpec:
    model: NengoModelName = range_field(doc="a model of NENGO_MODELS, imported with from_nengo")
    steps: int = range_field(1000, min=1, max=10_000_000, doc="simulated steps per timed sample")
    min_speedup: float = range_field(20.0, min=0.0, min_exclusive=True, doc="Nengo's time per step / neuroctl's")


@dataclass(frozen=True)
class KernelSuite:
    repeat: int = range_field(10, min=1, max=100_000, doc="interleaved rounds (samples per simulator)")
    networks: list[NetworkSpec] = range_field([NetworkSpec(1000, 0.1)])
    peers: list[Peer] = range_field(["nengo", "brian2", "numpy"], doc="simulators compared with neuroctl")
    warmup_steps: int = range_field(200, min=1, max=10_000_000, doc="untimed steps after the build")
    rate_steps: int = range_field(500, min=1, max=10_000_000, doc="steps the firing rate is counted over")
    seed: int = range_field(0, min=0, max=2**32 - 1)
    dt_s: float = range_field(0.001, min=1e-6, max=0.01)
    tau_rc_s: float = range_field(0.02, min=0.0, min_exclusive=True, max=1.0)
    tau_ref_s: float = range_field(0.002, min=0.0, max=0.1)
    tau_syn_s: float = range_field(0.005, min=0.0, min_exclusive=True, max=1.0)
    brian2: Brian2Settings = range_field(Brian2Settings())
    targets: list[SpeedupTarget] = range_field([])
    nengo_models: list[NengoModelSpec] = range_field([], doc="Nengo models imported with from_nengo")


def run(config: KernelSuite, context: SuiteContext) -> SuiteResult:
    model = NeuronModel(config.dt_s, config.tau_rc_s, config.tau_ref_s, config.tau_syn_s)
    networks: list[dict[str, Any]] = []
    machine: dict[str, Any] = {}
    with _single_blas_thread() as blas_threads, tempfile.TemporaryDirectory(prefix="neuroctl-bench-") as tmp:
        machine["blas_threads"] = blas_threads
        brian2_python = _brian2_python(config, context, machine) if "brian2" in config.peers else None
        for spec in config.networks:
            context.progress(f"{spec.neurons} neurons, {spec.connectivity:g}: drawing and building the network")
            workload = make_workload(spec.neurons, spec.connectivity, model,
                                     StepCounts(spec.steps, config.warmup_steps, config.rate_steps), config.seed)
            starters = _starters(config, workload, brian2_python, Path(tmp))
            networks.append(_measure(workload, starters, config.repeat, context.progress))
        models = [_measure_nengo_model(spec, config, context.progress) for spec in config.nengo_models]
    targets = [_evaluate(target, networks) for target in config.targets]
    tables = _tables(networks, targets) + ([_model_table(models)] if models else [])
    return SuiteResult({"networks": networks, "targets": targets, "nengo_models": models}, tables, machine)


def _communication_channel(nengo, n: int = 100):
    with nengo.Network(seed=0) as net:
        u = nengo.Node(lambda t: math.sin(2 * math.pi * t))
        a, b = nengo.Ensemble(n, 1), nengo.Ensemble(n, 1)
        nengo.Connection(u, a)
        nengo.Connection(a, b)
        nengo.Probe(b, synapse=0.01)
    return net


def _squaring(nengo, n: int = 100):
    with nengo.Network(seed=1) as net:
        u = nengo.Node(lambda t: math.sin(2 * math.pi * t))
        a, b = nengo.Ensemble(n, 1), nengo.Ensemble(n, 1)
        nengo.Connection(u, a)
        nengo.Connection(a, b, function=lambda x: x**2)
        nengo.Probe(b, synapse=0.01)
    return net


def _integrator(nengo, n: int = 200, tau_s: float = 0.1):
    with nengo.Network(seed=2) as net:
        u = nengo.Node(lambda t: 0.8 * 2 * math.pi * math.cos(2 * math.pi * t))
        a = nengo.Ensemble(n, 1)
        nengo.Connection(u, a, transform=tau_s, synapse=tau_s)
        nengo.Connection(a, a, synapse=tau_s)
        nengo.Probe(a, synapse=0.01)
    return net


def _pes_adaptive_population(nengo, n: int = 1000):
    with nengo.Network(seed=3) as net:
        u = nengo.Node(lambda t: math.sin(2 * math.pi * t))
        a = nengo.Ensemble(n, 1)
        nengo.Connection(u, a)
        out = nengo.Node(size_in=1)
        learned = nengo.Connection(a, out, function=lambda x: 0, learning_rule_type=nengo.PES(1e-4))
        error = nengo.Node(lambda t: math.cos(3 * t))  # the error is an input, as the adaptive controllers'
        nengo.Connection(error, learned.learning_rule)
        nengo.Probe(out)
    return net


NENGO_MODELS: dict[str, Callable[[Any], Any]] = {
    "communication_channel": _communication_channel,  # sin(2 pi t) -> 100 LIF -> 100 LIF, 1-D
    "squaring": _squaring,  # the same, b represents a**2
    "integrator": _integrator,  # 200 LIF, recurrent (tau 0.1 s) integrating 0.8 2 pi cos(2 pi t)
    "pes_adaptive_population": _pes_adaptive_population,  # 1000 LIF, a decoded output learning with PES
}
"""name -> function(nengo module) -> nengo.Network, the models of `nengo_models` (seeded)."""


def _measure_nengo_model(spec: NengoModelSpec, config: KernelSuite, progress: Callable[[str], None]) -> dict[str, Any]:
    """Nengo's reference simulator and the imported model, interleaved for `repeat` rounds."""
    result: dict[str, Any] = {"model": spec.model, "steps_per_sample": spec.steps, "min_speedup": spec.min_speedup}
    try:
        import nengo
    except ImportError as exc:
        return {**result, "unavailable": f"nengo is not installed ({exc}); pip install -e '.[bench]'"}
    from neuroctl.network import from_nengo

    progress(f"nengo model {spec.model}: building")
    network = NENGO_MODELS[spec.model](nengo)
    started = time.perf_counter()
    simulator = nengo.Simulator(network, dt=config.dt_s, progress_bar=False)
    nengo_build_s = time.perf_counter() - started
    try:
        started = time.perf_counter()
        imported = from_nengo(simulator)
        import_s = time.perf_counter() - started
        out = imported.new_output(spec.steps)
        started = time.perf_counter()
        imported.run_table(imported.input_table(1), imported.new_output(1))
        compile_s = time.perf_counter() - started
        simulator.run_steps(config.warmup_steps)
        imported.run(config.warmup_steps - 1)

        def step_neuroctl() -> float:
            begun = time.perf_counter()
            imported.run_table(imported.input_table(spec.steps), out)
            return (time.perf_counter() - begun) / spec.steps

        def step_nengo() -> float:
            begun = time.perf_counter()
            simulator.run_steps(spec.steps)
            return (time.perf_counter() - begun) / spec.steps

        samples = interleave({"neuroctl": step_neuroctl, "nengo": step_nengo}, config.repeat,
                             lambda r: progress(f"nengo model {spec.model}: round {r + 1}/{config.repeat}"))
    finally:
        simulator.close()
    ratio = paired_ratio(samples["nengo"], samples["neuroctl"])
    return {**result, "neurons": imported.built.n_neurons, "synapses": imported.built.n_synapses,
            "neuroctl_per_step_us": stats(samples["neuroctl"] * 1e6), "nengo_per_step_us": stats(samples["nengo"] * 1e6),
            "speedup_of_neuroctl": ratio, "met": ratio["p50"] >= spec.min_speedup,
            "nengo_build_s": nengo_build_s, "import_s": import_s, "compile_s": compile_s,
            "nengo": f"nengo {nengo.__version__} reference simulator"}


def _model_table(models: list[dict[str, Any]]) -> Table:
    table = Table("Nengo models imported with from_nengo (Nengo's time per step / neuroctl's, paired round by round)",
                  ["model", "neurons", "synapses", "neuroctl p50 us", "nengo p50 us", "speedup p50", "min",
                   "at least", "met"])
    for m in models:
        if "unavailable" in m:
            table.add(m["model"], "-", "-", "-", "-", "-", "-", m["min_speedup"], m["unavailable"])
            continue
        r = m["speedup_of_neuroctl"]
        table.add(m["model"], m["neurons"], m["synapses"], m["neuroctl_per_step_us"]["p50"],
                  m["nengo_per_step_us"]["p50"], r["p50"], r["min"], m["min_speedup"], m["met"])
    table.notes.append("neuroctl: from_nengo's compiled loop, one kernel substep per Nengo step, the input node's "
                       "f(t) tabulated inside the timed sample; same dt, same built parameters")
    return table


@contextlib.contextmanager
def _single_blas_thread():
    """Hold BLAS (numpy's, scipy's) to one thread; yields a description of what was done."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield "1 (threadpoolctl)"


def _brian2_python(config: KernelSuite, context: SuiteContext, machine: dict[str, Any]) -> Path | str:
    """The Brian2 venv's Python, or the reason there is none (recorded in the machine block too)."""
    settings = config.brian2
    directory = context.resolve(settings.venv)
    try:
        versions = ensure_venv(directory, settings.requirements, settings.create_venv, settings.timeout_s,
                               context.progress)
    except Unavailable as exc:
        machine["brian2_venv"] = f"unavailable: {exc}"
        return str(exc)
    machine["brian2_venv"] = {"path": str(directory), **versions}
    return directory / "bin" / "python"


def _starters(config: KernelSuite, workload: KernelWorkload, brian2_python: Path | str | None,
              tmp: Path) -> dict[str, Callable[[], Simulator]]:
    """label -> function starting that simulator on `workload` (neuroctl first)."""
    starters: dict[str, Callable[[], Simulator]] = {"neuroctl": lambda: start_neuroctl(workload)}
    for peer in config.peers:
        if peer == "nengo":
            starters["nengo"] = lambda: NengoSimulator(workload)
        elif peer == "numpy":
            starters["numpy"] = lambda: start_numpy(workload)
        else:
            for target in config.brian2.targets:
                starters[f"brian2 {target}"] = _brian2_starter(config, workload, brian2_python, target, tmp)
    return starters


def _brian2_starter(config: KernelSuite, workload: KernelWorkload, python: Path | str | None, target: str,
                    tmp: Path) -> Callable[[], Simulator]:
    def start() -> Simulator:
        if not isinstance(python, Path):
            raise Unavailable(f"no Brian2 venv: {python}")
        npz = tmp / f"network-{workload.neurons}-{workload.connectivity:g}.npz"
        if not npz.exists():
            workload.save_npz(npz)
        project_dir = python.parent.parent.parent / "brian2-projects" / f"{workload.neurons}-{workload.connectivity:g}"
        return Brian2Simulator(workload, python, target, npz, project_dir, config.brian2.timeout_s)
    return start


def _measure(workload: KernelWorkload, starters: dict[str, Callable[[], Simulator]], rounds: int,
             progress: Callable[[str], None]) -> dict[str, Any]:
    """Start every simulator, sample them interleaved, and summarise; peers that fail are unavailable."""
    simulators: list[Simulator] = []
    unavailable: dict[str, str] = {}
    try:
        for label, start in starters.items():
            progress(f"{workload.label}: starting {label}")
            try:
                simulators.append(start())
            except Unavailable as exc:
                unavailable[label] = str(exc)
        samples = interleave({s.label: s.run for s in simulators}, rounds,
                             lambda r: progress(f"{workload.label}: round {r + 1}/{rounds}"))
    finally:
        for simulator in simulators:
            simulator.close()
    rows = [_row(workload, s, samples[s.label]) for s in simulators]
    fastest: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r["per_step_us"]["p50"], reverse=True):
        fastest[row["peer"]] = row["label"]
    base = samples["neuroctl"]
    speedups = {s.label: {"peer": s.peer, "fastest_of_peer": fastest[s.peer] == s.label,
                          **paired_ratio(samples[s.label], base)}
                for s in simulators if s.peer != "neuroctl"}
    return {"neurons": workload.neurons, "connectivity": workload.connectivity, "synapses": workload.synapses,
            "steps_per_sample": workload.counts.steps, "simulators": rows,
            "speedup_of_neuroctl": speedups, "unavailable": unavailable,
            "floor": _floor(workload, next(r for r in rows if r["label"] == "neuroctl"), progress)}


def _floor(workload: KernelWorkload, neuroctl: dict[str, Any], progress: Callable[[str], None]) -> dict[str, Any]:
    """neuroctl's step time against the machine's floor for it (`neuroctl.bench.floor`), at its own rate."""
    progress(f"{workload.label}: the step's floor (read bandwidth, neuron update)")
    spikes_per_step = neuroctl["rate_hz"] * workload.neurons * workload.model.dt_s
    floor = step_floor(workload.built, spikes_per_step)
    measured = neuroctl["per_step_us"]["p50"]
    return {**floor, "spikes_per_step": spikes_per_step, "neuroctl_us": measured,
            "ratio_to_floor": measured / floor["floor_us"]}


def _row(workload: KernelWorkload, simulator: Simulator, per_step_s) -> dict[str, Any]:
    per_step = stats(per_step_s * 1e6)
    seconds = per_step["p50"] * 1e-6
    return {
        "label": simulator.label,
        "peer": simulator.peer,
        "target": simulator.target,
        "per_step_us": per_step,
        "neuron_updates_per_s": workload.neurons / seconds,
        "synaptic_events_per_s": workload.synaptic_events_per_step(simulator.rate_hz) / seconds,
        "rate_hz": simulator.rate_hz,
        "build_s": simulator.build_s,
        "compile_s": simulator.compile_s,
    }


def _evaluate(target: SpeedupTarget, networks: list[dict[str, Any]]) -> dict[str, Any]:
    """The speedup of neuroctl over the peer's fastest target (lowest p50 per step) on the target's network."""
    result: dict[str, Any] = {"neurons": target.neurons, "connectivity": target.connectivity, "peer": target.peer,
                              "min_speedup": target.min_speedup, "speedup": None, "against": None, "met": None}
    for network in networks:
        if network["neurons"] == target.neurons and network["connectivity"] == target.connectivity:
            for label, ratio in network["speedup_of_neuroctl"].items():
                if ratio["peer"] == target.peer and ratio["fastest_of_peer"]:
                    result.update(speedup=ratio["p50"], against=label, met=ratio["p50"] >= target.min_speedup)
    return result


def _network_label(network: dict[str, Any]) -> str:
    return f"{network['neurons']:,} n, {100 * network['connectivity']:g}%"


def _tables(networks: list[dict[str, Any]], targets: list[dict[str, Any]]) -> list[Table]:
    steps = Table("Network step time (measured)",
                  ["network", "simulator", "per step p50 us", "p99", "max", "mean", "neuron updates/s",
                   "synaptic events/s", "rate Hz", "build s", "compile s", "how it runs"])
    speedups = Table("Speedup of neuroctl (peer's time per step / neuroctl's, paired round by round)",
                     ["network", "vs", "speedup p50", "min", "max", "rounds", "peer's fastest"])
    missing = Table("Unavailable simulators", ["network", "simulator", "reason"])
    for network in networks:
        label = _network_label(network)
        for row in network["simulators"]:
            t = row["per_step_us"]
            steps.add(label, row["label"], t["p50"], t["p99"], t["max"], t["mean"], row["neuron_updates_per_s"],
                      row["synaptic_events_per_s"], row["rate_hz"], row["build_s"], row["compile_s"], row["target"])
        for vs, ratio in network["speedup_of_neuroctl"].items():
            speedups.add(label, vs, ratio["p50"], ratio["min"], ratio["max"], ratio["rounds"], ratio["fastest_of_peer"])
        for simulator, reason in network["unavailable"].items():
            missing.add(label, simulator, reason)
    steps.notes += [
        "per step: one sample is `steps` steps run back to back (neuroctl: one kernel call; Brian2: its own "
        "timer of the main loop); p50/p99/max/mean over the interleaved rounds",
        "synaptic events/s: spikes x mean fan-out per second of compute, at the rate that simulator measured; "
        "compile s: numba's first call (compile or on-disk cache load), Brian2's code generation and build",
    ]
    floors = Table("The kernel against its floor (measured here; neuroctl.bench.floor)",
                   ["network", "spikes/step", "bytes/synapse", "read GB/s", "neuron update ns", "rows us",
                    "neurons us", "floor us", "neuroctl p50 us", "neuroctl / floor"])
    for network in networks:
        f = network["floor"]
        floors.add(_network_label(network), f["spikes_per_step"], f["bytes_per_synapse"], f["read_bandwidth_gb_s"],
                   f["neuron_update_ns"], f["synapse_rows_us"], f["neuron_updates_us"], f["floor_us"],
                   f["neuroctl_us"], f["ratio_to_floor"])
    floors.notes += [
        "floor per step = spikes x mean fan-out x bytes per synapse / read bandwidth (streaming an array as "
        "large as the synapse arrays) + neurons x one neuron update (the kernel's branch-free pass, no "
        "spikes); the postsynaptic writes are not in it, so it is a lower bound",
    ]
    result = [steps, speedups, floors]
    if targets:
        goals = Table("Targets", ["network", "neuroctl vs", "at least", "measured", "against", "met"])
        for t in targets:
            goals.add(_network_label(t), t["peer"], t["min_speedup"], t["speedup"], t["against"] or "-",
                      "not measured" if t["met"] is None else t["met"])
        result.append(goals)
    if missing.rows:
        result.append(missing)
    return result
