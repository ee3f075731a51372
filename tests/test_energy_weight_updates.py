"""Weight updates (online learning) in the energy model: priced where a profile has a figure, charged
whenever a controller made any, not applicable (with a reason) where a profile has none."""

import dataclasses

import pytest

from neuroctl.activity import COUNTER_FIELDS, PRICED_FIELDS
from neuroctl.metrics.energy import charged_counts, energy_section, shipped_profiles, tick_energy

SPIKING = {"spikes": 10.0, "synaptic_events": 0.0, "neuron_updates": 10_000.0, "dense_macs": 9_000.0}


def test_weight_updates_are_a_priced_counter():
    assert "weight_updates" in COUNTER_FIELDS and "weight_updates" in PRICED_FIELDS
    assert COUNTER_FIELDS.index("cpu_macs") == 4  # appended after cpu_macs: no earlier column moved


def test_every_shipped_profile_prices_weight_updates_with_a_source():
    for profile in shipped_profiles():
        assert profile.weight_updates is not None, profile.name
        assert profile.weight_updates.source, profile.name
    by_name = {p.name: p for p in shipped_profiles()}
    assert by_name["loihi"].weight_updates.energy_j == pytest.approx(120e-12)
    assert by_name["loihi"].weight_updates.time_s == pytest.approx(6.1e-9)
    for name in ("cmos45nm", "cpu", "gpu"):  # one multiply-accumulate, priced as a dense MAC
        assert by_name[name].weight_updates.energy_j == by_name[name].dense_macs.energy_j


def test_charged_only_when_there_are_any():
    assert "weight_updates" not in charged_counts({**SPIKING, "weight_updates": 0.0})
    assert charged_counts({**SPIKING, "weight_updates": 70_000.0})["weight_updates"] == 70_000.0
    assert charged_counts({"dense_macs": 4.0, "weight_updates": 7.0}) == {"dense_macs": 4.0, "weight_updates": 7.0}


def test_energy_of_a_learning_tick():
    profiles = {p.name: p for p in shipped_profiles()}
    learning = energy_section({**SPIKING, "weight_updates": 70_000.0}, 1e-4)["profiles"]
    still = energy_section(SPIKING, 1e-4)["profiles"]
    for name, profile in profiles.items():
        added = learning[name]["energy_j"] - still[name]["energy_j"]
        assert added == pytest.approx(70_000.0 * profile.weight_updates.energy_j, rel=1e-9), name
    assert learning["loihi"]["delay_s"] - still["loihi"]["delay_s"] == pytest.approx(70_000.0 * 6.1e-9, rel=1e-9)


def test_a_profile_without_a_figure_says_not_applicable():
    cpu = next(p for p in shipped_profiles() if p.name == "cpu")
    without = dataclasses.replace(cpu, weight_updates=None)
    assert tick_energy(without, {"neuron_updates": 5.0}, 1e-4)["applicable"]
    entry = tick_energy(without, {"neuron_updates": 5.0, "weight_updates": 7.0}, 1e-4)
    assert entry == {"applicable": False, "reason": "cpu has no cost for weight_updates"}
