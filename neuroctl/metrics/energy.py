"""Energy, delay and energy-delay product (EDP) per control tick, from activity counts.

energy per tick = sum over the operations the controller executes (`charged_counts`: events for a
spiking network, multiply-accumulates otherwise) of (count per tick x energy per operation), with the
per-operation energies of a hardware profile (`configs/hardware/*.yaml`, each constant with its source).
Delay per tick is measured (the controller's wall time on this machine) for hardware whose code runs
here, and modelled for hardware we do not have:
    delay = sum over kinds of (count x time per operation) / parallel_cores + barrier_s x timesteps.
EDP = energy x delay. Every figure carries whether it is measured or modelled.

Non-spiking work a controller does beside its network on a conventional processor (`cpu_macs`: a
computed-torque controller's mass matrix, inverse dynamics and torque map) is charged apart, on the
`cpu` profile's cost per multiply-accumulate, whatever hardware the network is priced on: the `host`
entry, and each profile's `energy_with_host_j`.

Online learning (`weight_updates`: PES decoder updates) is charged on the network's hardware, whatever
kind of controller made them: a profile without a cost for weight updates reports such a run as not
applicable there.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from neuroctl.config import load_yaml, parse, range_field
from neuroctl.configs import CONFIG_DIR
from neuroctl.activity import PRICED_FIELDS

HARDWARE_DIR = CONFIG_DIR / "hardware"
HOST_PROFILE = "cpu"
"""The profile that prices `cpu_macs`, the non-spiking work beside the network."""
EVENT_COUNTS = ("spikes", "synaptic_events", "neuron_updates")
MAC_COUNTS = ("dense_macs",)
LEARNING_COUNTS = ("weight_updates",)


@dataclass(frozen=True)
class OperationCost:
    energy_j: float = range_field(min=0.0, max=1.0)
    source: str = ""
    time_s: float | None = range_field(None, min=0.0, max=1.0)


@dataclass(frozen=True)
class HardwareProfile:
    """Per-operation costs of one kind of hardware; a kind left out (null) cannot run there."""

    name: str
    description: str
    delay: Literal["measured", "modelled"]
    spikes: OperationCost | None = None
    synaptic_events: OperationCost | None = None
    neuron_updates: OperationCost | None = None
    dense_macs: OperationCost | None = None
    weight_updates: OperationCost | None = None
    parallel_cores: int = range_field(1, min=1, max=1_000_000)
    barrier_s: float = range_field(0.0, min=0.0, max=1.0)
    barrier_source: str = ""

    def __post_init__(self) -> None:
        if self.delay == "modelled":
            for kind in PRICED_FIELDS:
                cost = getattr(self, kind)
                if cost is not None and cost.time_s is None:
                    raise ValueError(f"{kind}: a profile with a modelled delay needs time_s for every operation")


def load_profile(path: str | Path) -> HardwareProfile:
    """The profile in `path`, parsed once per version of the file (its times, size and inode): an eval
    prices every episode on every profile, and parsing the YAML each time was 17% of a cart-pole eval."""
    resolved = Path(path).resolve()
    status = resolved.stat()
    return _parsed_profile(str(resolved), (status.st_mtime_ns, status.st_ctime_ns, status.st_size, status.st_ino))


@functools.lru_cache(maxsize=64)
def _parsed_profile(path: str, version: tuple[int, int, int, int]) -> HardwareProfile:
    return parse(HardwareProfile, load_yaml(path), path)


def shipped_profiles() -> list[HardwareProfile]:
    """Every profile in configs/hardware, sorted by name."""
    return [load_profile(path) for path in sorted(HARDWARE_DIR.glob("*.yaml"))]


def tick_energy(profile: HardwareProfile, counts_per_tick: dict[str, float], measured_delay_s: float,
                timesteps_per_tick: int = 1) -> dict[str, Any]:
    """Energy, delay and EDP of one tick on `profile`, or why the workload cannot run there."""
    energy = 0.0
    modelled_time = 0.0
    for kind in PRICED_FIELDS:
        count = counts_per_tick.get(kind, 0.0)
        cost = getattr(profile, kind)
        if count and cost is None:
            return {"applicable": False, "reason": f"{profile.name} has no cost for {kind}"}
        if cost is not None:
            energy += count * cost.energy_j
            modelled_time += count * (cost.time_s or 0.0)
    if profile.delay == "measured":
        delay = measured_delay_s
    else:
        delay = modelled_time / profile.parallel_cores + profile.barrier_s * timesteps_per_tick
    return {
        "applicable": True,
        "energy_j": energy,
        "energy_basis": "modelled",
        "delay_s": delay,
        "delay_basis": profile.delay,
        "edp_js": energy * delay,
        "source": profile.description,
    }


def charged_counts(activity_per_tick: dict[str, float]) -> dict[str, float]:
    """The operations a controller executes, which its energy is charged for: a network that updates
    neurons executes its events (its dense-equivalent MACs are only the comparison it reports); anything
    else executes its multiply-accumulates. Weight updates (online learning) are executed either way:
    charged when there are any."""
    kinds = EVENT_COUNTS if activity_per_tick.get("neuron_updates", 0.0) > 0.0 else MAC_COUNTS
    kinds += tuple(kind for kind in LEARNING_COUNTS if activity_per_tick.get(kind, 0.0) > 0.0)
    return {kind: activity_per_tick.get(kind, 0.0) for kind in kinds}


def energy_section(activity_per_tick: dict[str, float], measured_delay_s: float, timesteps_per_tick: int = 1,
                   profiles: list[HardwareProfile] | None = None) -> dict[str, Any]:
    """The `energy` section of metrics.json: one entry per hardware profile, charging `charged_counts`."""
    profiles = shipped_profiles() if profiles is None else profiles
    counts = charged_counts(activity_per_tick)
    entries = {p.name: tick_energy(p, counts, measured_delay_s, timesteps_per_tick) for p in profiles}
    section: dict[str, Any] = {"charged_counts_per_tick": counts, "profiles": entries}
    host_macs = activity_per_tick.get("cpu_macs", 0.0)
    if host_macs:
        host = load_profile(HARDWARE_DIR / f"{HOST_PROFILE}.yaml").dense_macs
        host_energy_j = host_macs * host.energy_j
        section["host"] = {"cpu_macs_per_tick": host_macs, "profile": HOST_PROFILE, "energy_j": host_energy_j,
                           "energy_basis": "modelled", "source": host.source}
        for entry in entries.values():
            if entry["applicable"]:
                entry["energy_with_host_j"] = entry["energy_j"] + host_energy_j
    return section

